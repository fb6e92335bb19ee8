"""Closed latent loops: slerp keeps Gaussian norms, the path passes through every key and loops."""

import pytest
import torch

from freezeg.generate.interpolation import lerp, loop_path, slerp


def test_slerp_endpoints_and_norm():
    torch.manual_seed(0)
    a, b = torch.randn(512), torch.randn(512)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a, b, 0.5)
    # Orthogonal-ish Gaussian vectors: lerp shrinks the midpoint by ~sqrt(2), slerp does not.
    assert mid.norm() > 0.95 * min(a.norm(), b.norm())
    assert lerp(a, b, 0.5).norm() < 0.8 * min(a.norm(), b.norm())


def test_slerp_of_parallel_vectors_is_finite():
    a = torch.ones(8)
    assert torch.isfinite(slerp(a, 2 * a, 0.3)).all()


@pytest.mark.parametrize("spherical", [True, False])
def test_loop_passes_through_keys_and_closes(spherical):
    keys = torch.randn(3, 16)
    path = loop_path(keys, 30, spherical)
    assert path.shape == (30, 16)
    for i in range(3):
        assert torch.allclose(path[10 * i], keys[i], atol=1e-5)
    # The step from the last frame back to the first is like any other step (a true loop).
    steps = (path.roll(-1, 0) - path).norm(dim=1)
    assert steps[-1] < 2 * steps[:-1].median()


def test_loop_of_wplus_keys_and_bad_frames():
    keys = torch.randn(2, 6, 8)
    assert loop_path(keys, 5, False).shape == (5, 6, 8)
    assert torch.equal(loop_path(keys[:1], 4, False)[3], keys[0])
    with pytest.raises(ValueError):
        loop_path(keys, 0, False)
