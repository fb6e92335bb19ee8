"""FIR up/down-sampling and bias+activation against rosinality's outputs and a naive reference."""

import pytest
import torch
import torch.nn.functional as F

from conftest import load_ref
from freezeg.ops import bias_leaky_relu, make_kernel, upfirdn2d


@pytest.mark.parametrize("name", ["upsample", "downsample", "blur", "blur_up_conv"])
def test_upfirdn2d_matches_rosinality(name):
    v = load_ref("ops")[name]
    out = upfirdn2d(v["x"], v["kernel"], up=v["up"], down=v["down"], pad=v["pad"])
    assert out.shape == v["out"].shape
    assert (out - v["out"]).abs().max() <= 1e-5


def test_fused_leaky_relu_matches_rosinality():
    v = load_ref("ops")["fused_leaky_relu"]
    assert (bias_leaky_relu(v["x"], v["bias"]) - v["out"]).abs().max() <= 1e-6


def naive_upfirdn2d(x, k, up, down, pad0, pad1):
    """Textbook definition: zero insertion, zero padding, full 2-D convolution, decimation."""
    n, c, h, w = x.shape
    z = torch.zeros(n, c, h * up, w * up, dtype=x.dtype)
    z[:, :, ::up, ::up] = x
    z = F.pad(z, [pad0, pad1, pad0, pad1])
    kh, kw = k.shape
    out_h, out_w = z.shape[2] - kh + 1, z.shape[3] - kw + 1
    out = torch.zeros(n, c, out_h, out_w, dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += k[kh - 1 - i, kw - 1 - j] * z[:, :, i : i + out_h, j : j + out_w]
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize("up,down,pad", [(2, 1, (2, 1)), (2, 1, (0, 0)), (1, 2, (1, 1)), (1, 1, (3, 0)), (2, 2, (1, 2)), (4, 1, (3, 2))])
def test_upfirdn2d_matches_textbook_definition(up, down, pad):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, 7, dtype=torch.float64)
    k = torch.rand(4, 5, dtype=torch.float64)  # asymmetric kernel: catches flips and offsets
    ours = upfirdn2d(x, k, up=up, down=down, pad=pad)
    ref = naive_upfirdn2d(x, k, up, down, *pad)
    assert ours.shape == ref.shape
    assert torch.allclose(ours, ref, atol=1e-12)


def test_upfirdn2d_is_differentiable():
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    k = make_kernel([1, 3, 3, 1]).double()
    assert torch.autograd.gradcheck(lambda t: upfirdn2d(t, k, up=2, pad=(2, 1)), (x,))
    assert torch.autograd.gradcheck(lambda t: upfirdn2d(t, k, down=2, pad=(1, 1)), (x,))


def test_make_kernel_is_normalised_outer_product():
    k = make_kernel([1, 3, 3, 1], gain=4)
    assert k.shape == (4, 4)
    assert torch.isclose(k.sum(), torch.tensor(4.0))
    assert torch.allclose(k, torch.outer(k[0], k[:, 0]) / k[0, 0])


def test_upfirdn2d_rejects_bad_shapes():
    with pytest.raises(ValueError, match="N, C, H, W"):
        upfirdn2d(torch.zeros(3, 8, 8), make_kernel([1, 1]))
    with pytest.raises(ValueError, match="too small"):
        upfirdn2d(torch.zeros(1, 1, 1, 1), make_kernel([1, 3, 3, 1]), pad=(0, 0))
