"""PSNR, SSIM and MS-SSIM: known values, limits and gradients, at test-sized images too."""

import math

import pytest
import torch

from freezeg.metrics.fidelity import ms_ssim, ms_ssim_scales, psnr, ssim


def test_psnr_of_a_known_error():
    x = torch.zeros(2, 3, 16, 16)
    y = x + torch.tensor([0.1, 0.2]).view(2, 1, 1, 1)
    # [-1, 1] images: peak-to-peak 2, so PSNR = 10 log10(4 / mse).
    assert psnr(x, y).tolist() == pytest.approx([10 * math.log10(4 / 0.01), 10 * math.log10(4 / 0.04)], rel=1e-5)
    assert psnr(x, x)[0] > 100


def test_ssim_of_flat_images_is_the_luminance_term():
    a, b = torch.full((1, 3, 16, 16), 0.5), torch.zeros(1, 3, 16, 16)
    c1 = (0.01 * 2) ** 2
    assert ssim(a, b).item() == pytest.approx(c1 / (0.25 + c1), rel=1e-4)
    assert ssim(a, a).item() == pytest.approx(1.0, abs=1e-6)


def test_ssim_and_ms_ssim_fall_with_noise_and_keep_samples_apart():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    noisy = x + torch.tensor([0.0, 0.1, 0.4]).view(3, 1, 1, 1) * torch.randn_like(x)
    s, m = ssim(noisy, x), ms_ssim(noisy, x)
    assert s[0] == pytest.approx(1) and s[0] > s[1] > s[2]
    assert m[0] == pytest.approx(1) and m[0] > m[1] > m[2] >= 0
    assert ms_ssim(noisy[1:2], x[1:2]).item() == pytest.approx(m[1].item(), rel=1e-5)


@pytest.mark.parametrize("side,scales", [(8, 1), (16, 2), (32, 3), (64, 4), (256, 5), (1024, 5)])
def test_ms_ssim_uses_the_scales_that_fit(side, scales):
    assert ms_ssim_scales(side) == scales


def test_ms_ssim_gradient_is_finite_at_8px():
    torch.manual_seed(0)
    x = (torch.rand(2, 3, 8, 8) * 2 - 1).requires_grad_(True)
    y = -x.detach()  # anti-correlated: the contrast terms are negative and get clamped
    (1 - ms_ssim(x, y)).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_mismatched_shapes_are_rejected():
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 16, 16))
