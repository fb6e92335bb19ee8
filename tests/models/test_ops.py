"""FIR up/down-sampling and bias+activation against rosinality's outputs and a naive reference."""

import pytest
import torch
import torch.nn.functional as F

from conftest import load_ref
from freezeg.models.ops import bias_leaky_relu, conv2d, demod_noise_bias_act, make_kernel, upfirdn2d


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
    x = torch.randn(2, 3, 7, 8, dtype=torch.float64)  # non-square: catches swapped axes
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


@pytest.mark.parametrize("up,down,pad", [(2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (3, 0)), (2, 2, (1, 2)), (1, 1, (-1, 2)), (3, 2, (0, 0))])
def test_upfirdn2d_gradient_and_double_gradient_are_exact(up, down, pad):
    """The hand-written adjoint (used for R1's double backprop) against finite differences,
    with an asymmetric kernel and a non-square input so that flips and axes cannot hide."""
    torch.manual_seed(0)
    x = torch.randn(1, 1, 5, 4, dtype=torch.float64, requires_grad=True)
    k = torch.rand(4, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: upfirdn2d(t, k, up=up, down=down, pad=pad), (x,))
    assert torch.autograd.gradgradcheck(lambda t: upfirdn2d(t, k, up=up, down=down, pad=pad).square(), (x,))


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


@pytest.mark.parametrize("use_demod,noise_batch,use_bias", [(True, 3, True), (True, 1, True), (False, 1, True), (True, None, False), (False, None, False)])
def test_fused_epilogue_equals_the_separate_steps_with_gradients(use_demod, noise_batch, use_bias):
    torch.manual_seed(0)
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64).to(memory_format=torch.channels_last).requires_grad_()
    demod = torch.rand(3, 4, dtype=torch.float64, requires_grad=True) if use_demod else None
    noise = torch.randn(noise_batch, 1, 5, 5, dtype=torch.float64, requires_grad=True) if noise_batch else None
    strength = torch.randn(1, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, requires_grad=True) if use_bias else None
    inputs = [t for t in (x, demod, noise, strength, bias) if t is not None]

    def separate():
        y = x if demod is None else x * demod[:, :, None, None]
        if noise is not None:
            y = y + strength * noise
        return bias_leaky_relu(y, bias)

    fused = demod_noise_bias_act(x, demod, noise, strength, bias)
    ref = separate()
    assert torch.allclose(fused, ref, atol=1e-12)
    g = torch.randn_like(ref)
    wanted = [t for t in inputs if t is not strength or noise is not None]
    assert all(torch.allclose(a, b, atol=1e-12) for a, b in zip(
        torch.autograd.grad(fused, wanted, g), torch.autograd.grad(separate(), wanted, g)))


@pytest.mark.parametrize(
    "transposed,bias,stride,padding", [(False, True, 2, 0), (False, False, 2, 1), (True, False, 2, 0), (False, True, 1, 1), (True, False, 1, 0)]
)
def test_channels_last_conv_matches_pytorch_conv_with_gradients(transposed, bias, stride, padding):
    torch.manual_seed(0)
    x = torch.randn(2, 4, 8, 7, dtype=torch.float64).to(memory_format=torch.channels_last).requires_grad_()
    w = torch.randn(*((4, 5) if transposed else (5, 4)), 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True) if bias else None
    ref_conv = F.conv_transpose2d if transposed else F.conv2d
    ours = conv2d(x, w, b, stride, padding, transposed)
    ref = ref_conv(x, w, b, stride, padding)
    assert ours.shape == ref.shape and torch.allclose(ours, ref, atol=1e-12)
    inputs = [t for t in (x, w, b) if t is not None]
    g = torch.randn_like(ref)
    for a, r in zip(torch.autograd.grad(ours, inputs, g), torch.autograd.grad(ref, inputs, g)):
        assert torch.allclose(a, r, atol=1e-12)
    # double backprop (R1, path length) on a smaller problem: gradgradcheck costs a pass per element
    xs = x.detach()[:1, :2, :5, :6].contiguous(memory_format=torch.channels_last).requires_grad_()
    ws = (w.detach()[:2, :3] if transposed else w.detach()[:3, :2]).clone().requires_grad_()
    bs = b.detach()[:3].clone().requires_grad_() if bias else None
    f = lambda *t: conv2d(t[0], t[1], t[2] if bias else None, stride, padding, transposed).square()  # noqa: E731
    assert torch.autograd.gradgradcheck(f, tuple(t for t in (xs, ws, bs) if t is not None))
