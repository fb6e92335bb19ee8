"""Synthetic demo domains: same geometry, different rendering, deterministic from a seed."""

import numpy as np
import pytest

from freezeg.cli import main
from freezeg.data import open_dataset
from freezeg.data.synthetic import CREAM, DOMAINS, PAPER, make_images, object_mask, render, render_pairs, scene


def _background(colour) -> np.ndarray:
    return np.clip(colour * 255 + 0.5, 0, 255).astype(np.uint8)


def test_images_are_deterministic_and_scene_i_does_not_depend_on_n():
    for domain in DOMAINS:
        a = make_images(domain, 5, 32, seed=3)
        assert a.shape == (5, 32, 32, 3) and a.dtype == np.uint8
        assert np.array_equal(a, make_images(domain, 5, 32, seed=3))
        assert np.array_equal(a[:3], make_images(domain, 3, 32, seed=3))
        assert not np.array_equal(a, make_images(domain, 5, 32, seed=4))


def test_domains_share_the_geometry_of_a_scene():
    size = 32
    blobs, cartoon, sketch = render_pairs(12, size, seed=1, domains=("blobs", "cartoon", "sketch"))
    for i in range(12):
        mask = object_mask(scene(1, i), size)
        assert 0.04 < mask.mean() < 0.45  # clearly visible, never filling the frame
        inside = mask == 1.0
        drawn = (cartoon[i] != _background(CREAM)).any(-1)  # fill and ink outline
        iou = (drawn & (mask > 0.5)).sum() / (drawn | (mask > 0.5)).sum()
        assert iou > 0.6, f"scene {i}: cartoon covers the object with IoU {iou:.2f}"
        assert drawn[inside].all()
        sketched = (sketch[i] != _background(PAPER)).any(-1)
        assert sketched[mask > 0.5].mean() > 0.2 and sketched[mask == 0].mean() < 0.15
        # blobs: the object stands out from its backdrop where the mask says it is
        backdrop = blobs[i][mask == 0].astype(float).mean(0)
        assert np.abs(blobs[i][inside].astype(float).mean(0) - backdrop).max() > 15


def test_domains_differ_in_rendering():
    blobs, cartoon, sketch = render_pairs(8, 32, seed=2, domains=("blobs", "cartoon", "sketch"))
    corner = (slice(0, 3), slice(0, 3))
    for b, c, s in zip(blobs, cartoon, sketch):
        assert (b[0].astype(int) - b[-1].astype(int)).sum() != 0  # blobs: a graded backdrop
        assert (c[corner] == _background(CREAM)).all() and (s[corner] == _background(PAPER)).all()  # plain paper
        sat = lambda img: (img.max(-1).astype(int) - img.min(-1).astype(int)).max()
        assert sat(s) < 40 < sat(c)  # sketch is grey, cartoon colourful
    assert np.abs(blobs.astype(int) - cartoon.astype(int)).mean() > 30


def test_star_changes_the_silhouette_but_keeps_the_scene_layout():
    size = 32
    cartoon, star = render_pairs(16, size, seed=3, domains=("cartoon", "star"))
    paper = _background(CREAM)
    ys, xs = np.mgrid[:size, :size]
    for i in range(16):
        s = scene(3, i)
        drawn = (star[i] != paper).any(-1)  # fill and ink outline
        blob = (cartoon[i] != paper).any(-1)
        # Same layout: the star sits where the blob sits, and is about as big.
        assert abs(xs[drawn].mean() / size - s.cx) < 0.06 and abs(ys[drawn].mean() / size - s.cy) < 0.06
        assert 0.6 < drawn.sum() / blob.sum() < 1.4
        # Another silhouette: points reach outside the blob, valleys cut into it.
        assert (drawn & ~blob).sum() >= 10 and (blob & ~drawn).sum() >= 20
        assert (drawn & blob).sum() / (drawn | blob).sum() < 0.8
        # Same style as the cartoon: its palette colour and paper.
        assert _commonest_colour(star[i], paper) == _commonest_colour(cartoon[i], paper)


def _commonest_colour(img: np.ndarray, background: np.ndarray) -> tuple:
    fill = (img != background).any(-1) & (img.max(-1) > 100)  # neither paper nor ink
    colours, counts = np.unique(img[fill], axis=0, return_counts=True)
    return tuple(colours[counts.argmax()])


def test_unknown_domain_and_bad_counts_are_value_errors():
    with pytest.raises(ValueError, match="unknown synthetic domain 'toon'"):
        render(scene(0, 0), "toon", 32)
    with pytest.raises(ValueError, match="at least 1"):
        make_images("blobs", 0, 32)


def test_synth_cli_writes_a_prepared_dataset(tmp_path, capsys, monkeypatch):
    out = tmp_path / "cartoon"
    assert main(["synth", "--domain", "cartoon", "--n", "6", "--size", "16", "--out", str(out), "--seed", "5"]) == 0
    assert "wrote 6 cartoon images at 16px (seed 5)" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    ds = open_dataset(out, 16)
    assert np.array_equal(ds.images, make_images("cartoon", 6, 16, seed=5))
    assert len(list((out / "images").glob("*.png"))) == 6 and not (tmp_path / "runs").exists()
    assert main(["synth", "--domain", "blobs", "--n", "2", "--size", "16", "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["synth", "--domain", "blobs", "--n", "2", "--size", "16", "--out", str(tmp_path / "b.zip")]) == 0
    assert len(open_dataset(tmp_path / "b.zip", 16)) == 2
