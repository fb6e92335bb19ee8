"""FID, KID and SWD against closed forms and known behaviour."""

import math

import numpy as np
import pytest
import torch

from freezeg.data.synthetic import make_images
from freezeg.metrics.realism import (
    batches_of,
    feature_statistics,
    fid,
    frechet_distance,
    image_set_statistics,
    kid,
    laplacian_pyramid,
    pyr_down,
    pyr_up,
    realism,
    swd,
    swd_resolutions,
)
from freezeg.utils.media import from_uint8


def _random_covariance(d, rng):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


# ---------------------------------------------------------------------------------- FID


def test_frechet_distance_of_2x2_gaussians_matches_closed_form():
    # For 2x2 M = S1 S2 (eigenvalues l1, l2 >= 0): tr M^(1/2) = sqrt(l1) + sqrt(l2) = sqrt(tr M + 2 sqrt(det M)).
    s1 = np.array([[2.0, 0.6], [0.6, 1.0]])
    s2 = np.array([[0.5, -0.2], [-0.2, 1.5]])  # does not commute with s1
    m1, m2 = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    prod = s1 @ s2
    trace_sqrt = math.sqrt(np.trace(prod) + 2 * math.sqrt(np.linalg.det(prod)))
    expected = np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
    assert frechet_distance(*map(torch.tensor, (m1, s1, m2, s2))) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_in_64_dimensions_matches_eigenvalues_of_the_product():
    rng = np.random.default_rng(0)
    s1, s2 = _random_covariance(64, rng), _random_covariance(64, rng)
    m1, m2 = rng.standard_normal(64), rng.standard_normal(64)
    trace_sqrt = np.sqrt(np.linalg.eigvals(s1 @ s2).real.clip(min=0)).sum()  # S1 S2 has real eigenvalues >= 0
    expected = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2) - 2 * trace_sqrt
    assert frechet_distance(*map(torch.tensor, (m1, s1, m2, s2))) == pytest.approx(expected, rel=1e-9)
    # equal covariances: only the means count (pytorch-fid's own test)
    assert frechet_distance(*map(torch.tensor, (m1, s1, m2, s1))) == pytest.approx(np.sum((m1 - m2) ** 2), rel=1e-9)


def test_fid_of_samples_converges_to_the_gaussians_distance():
    rng = np.random.default_rng(1)
    s1, s2 = _random_covariance(3, rng), _random_covariance(3, rng)
    m1, m2 = np.zeros(3), np.array([0.5, 0.0, -0.5])
    a = rng.multivariate_normal(m1, s1, size=40000)
    b = rng.multivariate_normal(m2, s2, size=40000)
    exact = frechet_distance(*map(torch.tensor, (m1, s1, m2, s2)))
    assert fid(a, b) == pytest.approx(exact, rel=0.05)
    assert fid(a, a) == pytest.approx(0.0, abs=1e-9)
    mu, sigma = feature_statistics(a)
    assert mu.dtype == torch.float64 and torch.allclose(sigma, torch.from_numpy(np.cov(a, rowvar=False)))


# ---------------------------------------------------------------------------------- KID


def _k(x, y):
    return (np.dot(x, y) / len(x) + 1) ** 3


def test_kid_of_two_point_masses_is_the_kernel_distance():
    u, v = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, 1.0])
    mean, std = kid(np.tile(u, (6, 1)), np.tile(v, (9, 1)), subsets=5, subset_size=4)
    assert mean == pytest.approx(_k(u, u) + _k(v, v) - 2 * _k(u, v), rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_kid_with_one_full_subset_is_the_unbiased_mmd_estimate():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 4)) + 0.3
    m = len(x)
    within = sum(_k(x[i], x[j]) + _k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    cross = sum(_k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    mean, _ = kid(x, y, subsets=1, subset_size=100)
    assert mean == pytest.approx(within - 2 * cross, rel=1e-10)


def test_kid_is_unbiased_where_the_plain_mmd_is_not():
    # Pairs of independent sets from one distribution: KID averages to 0; the biased
    # estimate that keeps the diagonal stays clearly positive.
    rng = np.random.default_rng(3)
    kids, biased = [], []
    for _ in range(300):
        x, y = rng.standard_normal((12, 4)), rng.standard_normal((12, 4))
        kids.append(kid(x, y, subsets=1)[0])
        kxx, kyy, kxy = ((a @ b.T / 4 + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        biased.append(kxx.mean() + kyy.mean() - 2 * kxy.mean())
    se = np.std(kids) / math.sqrt(len(kids))
    assert abs(np.mean(kids)) < 3 * se
    assert np.mean(biased) > 10 * se
    assert min(kids) < 0  # unbiased: some estimates fall below zero


def test_kid_subsets_are_seeded():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((50, 8)), rng.standard_normal((40, 8)) + 0.5
    assert kid(a, b, subsets=10, subset_size=20, seed=7) == kid(a, b, subsets=10, subset_size=20, seed=7)
    mean, std = kid(a, b, subsets=10, subset_size=20, seed=8)
    assert mean > 0 and std > 0
    with pytest.raises(ValueError, match="at least 2 images"):
        kid(a[:1], b)


# ---------------------------------------------------------------------------------- SWD


def _pyr_down_numpy(x):
    """ProGAN's pyr_down: 5x5 binomial filter with mirror borders (no repeated edge), every second pixel."""
    k = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
    p = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), mode="reflect")
    h, w = x.shape[2:]
    out = sum(k[i, j] * p[:, :, i : i + h, j : j + w] for i in range(5) for j in range(5))
    return out[:, :, ::2, ::2]


def test_pyramid_matches_progan_filter_and_reconstructs_exactly():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    assert np.allclose(pyr_down(x).numpy(), _pyr_down_numpy(x.numpy()), atol=1e-6)
    assert torch.allclose(pyr_up(torch.ones(1, 3, 8, 8)), torch.ones(1, 3, 16, 16), atol=1e-6)
    levels = laplacian_pyramid(x, 3)
    assert [tuple(level.shape[2:]) for level in levels] == [(32, 32), (16, 16), (8, 8)]
    rebuilt = levels[-1]
    for band in levels[-2::-1]:
        rebuilt = pyr_up(rebuilt) + band
    assert torch.allclose(rebuilt, x, atol=1e-5)
    assert swd_resolutions(256) == [256, 128, 64, 32, 16] and swd_resolutions(16) == [16] and swd_resolutions(12) == [12]
    with pytest.raises(ValueError, match="at least 8x8"):
        swd_resolutions(7)


def _stats(images, seed=0, batch=16):
    return image_set_statistics(batches_of(from_uint8(images), batch), seed=seed)


def _blurred(images):
    x = from_uint8(images)
    return ((pyr_up(pyr_down(x)).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


@pytest.fixture(scope="module")
def blobs():
    return make_images("blobs", 24, 32, seed=0), make_images("blobs", 24, 32, seed=1)


def test_swd_is_zero_for_one_set_small_within_a_domain_larger_across(blobs):
    a, b = blobs
    sa = _stats(a)
    same = swd(sa, _stats(a))
    assert list(same) == ["16", "32", "avg"] and all(v == 0.0 for v in same.values())
    within = swd(sa, _stats(b, seed=1))
    blurred = swd(sa, _stats(_blurred(b), seed=1))
    sketch = swd(sa, _stats(make_images("sketch", 24, 32, seed=1), seed=1))
    assert 0 < within["avg"] < blurred["avg"] and within["avg"] < sketch["avg"]
    assert blurred["32"] > 3 * within["32"]  # blurring removes the fine band
    assert sketch["avg"] > 1.5 * within["avg"]
    assert within["avg"] == pytest.approx((within["16"] + within["32"]) / 2)


def test_swd_is_deterministic_under_a_seed_and_batching(blobs):
    a, b = blobs
    sa, sb = _stats(a), _stats(b, seed=1)
    first = swd(sa, sb, seed=3)
    assert swd(_stats(a, batch=5), _stats(b, seed=1, batch=7), seed=3) == first  # batching does not matter
    assert swd(sa, sb, seed=4) != first


def test_realism_reports_swd_without_inception_and_subsamples_unequal_sets(blobs):
    a, b = blobs
    out = realism(_stats(a), _stats(b[:10], seed=1))
    assert out["images"] == {"real": 24, "fake": 10} and out["size"] == 32
    assert out["fid"] is None and out["kid"] is None and out["swd"]["avg"] > 0
    assert any("1280 patches" in n for n in out["notes"])  # 10 images x 128 patches from each set


def test_realism_with_features_gives_fid_and_kid(blobs):
    a, b = blobs

    class MeanColour(torch.nn.Module):  # a stand-in feature network: per-channel means and stds
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], 1)

    net = MeanColour()
    ra = image_set_statistics(batches_of(from_uint8(a), 8), inception=net)
    rb = image_set_statistics(batches_of(from_uint8(b), 8), inception=net, seed=1)
    out = realism(ra, rb, kid_subsets=20, kid_subset_size=16)
    fa = torch.cat([net(from_uint8(a)).detach()]).double()
    fb = torch.cat([net(from_uint8(b)).detach()]).double()
    assert out["fid"] == pytest.approx(fid(fa, fb), rel=1e-9)
    assert out["kid"]["mean"] == pytest.approx(kid(fa, fb, 20, 16)[0], rel=1e-9)
    assert out["kid"]["subset_size"] == 16 and any("biased upward" in n for n in out["notes"])


def test_swd_refuses_mixed_sizes(blobs):
    a, _ = blobs
    with pytest.raises(ValueError, match="one size"):
        swd(_stats(a), _stats(make_images("blobs", 4, 16)))
