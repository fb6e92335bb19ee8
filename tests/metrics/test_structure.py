"""Structure preservation: geometry counts, colour, contrast and rendering style do not."""

import numpy as np
import pytest
import torch
from PIL import Image

from freezeg.data.synthetic import render_pairs
from freezeg.metrics.pairs import read_pairs
from freezeg.metrics.structure import structure_levels, structure_report, structure_similarity
from freezeg.utils.media import from_uint8


@pytest.fixture(scope="module")
def scenes():
    """16 scenes at 64px as blobs, cartoon and sketch renderings (ground-truth translations)."""
    return [from_uint8(x) for x in render_pairs(16, 64, seed=0, domains=("blobs", "cartoon", "sketch"))]


def _mismatched(x):
    return torch.roll(x, -1, dims=0)  # image i+1 in place of image i


def test_identical_recoloured_and_inverted_images_keep_their_structure(scenes):
    blobs = scenes[0]
    assert torch.allclose(structure_similarity(blobs, blobs), torch.ones(16))
    assert torch.allclose(structure_similarity(blobs, -blobs), torch.ones(16))  # reversed contrast
    assert structure_similarity(blobs, 0.3 * blobs + 0.5).min() > 0.999  # contrast and brightness
    assert structure_similarity(blobs, blobs[:, [2, 0, 1]]).mean() > 0.85  # colours permuted: luma changes


def test_translations_to_another_style_score_high_unrelated_images_low(scenes):
    blobs, cartoon, sketch = scenes
    for target in (cartoon, sketch):
        paired = structure_similarity(blobs, target)
        wrong = structure_similarity(blobs, _mismatched(target))
        assert paired.mean() > 0.65 and wrong.mean() < 0.3
        assert (paired > wrong).float().mean() > 0.9


def test_shifted_geometry_scores_low(scenes):
    blobs = scenes[0]
    shifted = torch.roll(blobs, shifts=(8, 8), dims=(2, 3))  # an eighth of the side
    assert structure_similarity(blobs, shifted).mean() < 0.35


def test_levels_follow_the_image_size_and_sizes_can_differ(scenes):
    blobs, cartoon, _ = scenes
    levels, sides = structure_levels(blobs[:2], cartoon[:2])
    assert sides == [64, 32, 16] and levels.shape == (2, 3)
    assert structure_levels(blobs[:1, :, :24, :24], cartoon[:1, :, :24, :24])[1] == [24, 16]
    big = torch.nn.functional.interpolate(cartoon[:4], scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(structure_similarity(blobs[:4], big), structure_similarity(blobs[:4], cartoon[:4]), atol=0.03)


def test_flat_images_and_bad_shapes(scenes):
    flat = torch.zeros(1, 3, 32, 32)
    assert structure_similarity(flat, flat).item() == 1.0
    assert structure_similarity(flat, scenes[0][:1, :, :32, :32]).item() == 0.0
    with pytest.raises(ValueError, match="different aspect ratios"):
        structure_similarity(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 48))
    with pytest.raises(ValueError, match="2 source images for 1"):
        structure_similarity(torch.zeros(2, 3, 32, 32), torch.zeros(1, 3, 32, 32))


def test_report_gives_per_level_means_and_a_shuffled_baseline(scenes):
    blobs, cartoon, _ = scenes
    names = [f"{i:02d}" for i in range(16)]
    report = structure_report(names, list(blobs), list(cartoon))
    assert report.mean == pytest.approx(float(structure_similarity(blobs, cartoon).mean()), rel=1e-6)
    assert report.shuffled == pytest.approx(float(structure_similarity(blobs, _mismatched(cartoon)).mean()), rel=1e-6)
    assert report.mean > report.shuffled + 0.4
    d = report.as_dict()
    assert d["pairs"] == 16 and list(d["levels"]) == ["64", "32", "16"] and list(d["per_pair"]) == names
    assert structure_report(names[:1], list(blobs[:1]), list(cartoon[:1])).shuffled is None


def _save(folder, name, array):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_pairs_are_matched_by_name_and_sources_fitted(tmp_path):
    rng = np.random.default_rng(0)
    src, out = tmp_path / "src", tmp_path / "out"
    wide = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    _save(src, "a.jpg", wide)
    _save(out, "a.png", rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    _save(src, "sub/b.png", wide[:32, :32])
    _save(out, "sub/b.png", wide[:32, :32])
    _save(src, "only-here.png", wide)
    _save(out, "extra.png", wide)
    pairs = read_pairs(src, out)
    assert pairs.names == ["a", "sub/b"] and pairs.fitted == 1
    assert pairs.sources[0].shape == (32, 32, 3) and np.array_equal(pairs.sources[1], wide[:32, :32])
    assert pairs.only_source == ["only-here"] and pairs.only_translation == ["extra"]
    (tmp_path / "none").mkdir()
    _save(tmp_path / "none", "zzz.png", wide)
    with pytest.raises(ValueError, match="no file names in common"):
        read_pairs(src, tmp_path / "none")
    with pytest.raises(ValueError, match="missing: no such folder"):
        read_pairs(src, tmp_path / "missing")
