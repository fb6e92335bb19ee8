"""ADA: differentiable per-image augmentations and the adaptive probability p."""

import io

import pytest
import torch

from freezeg import Generator
from freezeg.train.augment import TRANSFORMS, XINT_MAX, AdaptiveAugment, parse_augment


def _images(b=16, size=16, seed=0, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, 3, size, size, generator=g) * 2 - 1).to(dtype)


def _only(name: str, p: float = 1.0) -> AdaptiveAugment:
    return AdaptiveAugment(p=p, transforms=[name])


def _luma(x):
    return x.mean(-3, keepdim=True)  # the mean of R, G, B (for one image or a batch)


def test_p_zero_is_the_identity():
    x = _images()
    assert AdaptiveAugment(p=0.0)(x) is x
    assert parse_augment("ada")(x) is x


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_and_device_are_kept(dtype):
    x = _images(4, 8, dtype=dtype)
    y = AdaptiveAugment(p=1.0)(x)
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    assert torch.isfinite(y).all()


def test_gradients_flow_to_the_input_and_to_the_generator(tiny_config):
    x = _images(4, 16).requires_grad_(True)
    weights = torch.randn(4, 3, 16, 16)
    (AdaptiveAugment(p=1.0)(x) * weights).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0

    g = Generator(tiny_config)
    torch.manual_seed(0)
    fakes = g(torch.randn(2, tiny_config.style_dim))
    AdaptiveAugment(p=1.0)(fakes).square().mean().backward()
    grads = [p.grad for p in g.parameters() if p.grad is not None]
    assert grads and sum(float(gr.abs().sum()) for gr in grads) > 0


def test_xflip_mirrors_some_images_and_keeps_the_rest():
    x = _images(32)
    torch.manual_seed(0)
    y = _only("xflip")(x)
    same = [(a - b).abs().max() < 1e-5 for a, b in zip(y, x)]
    mirrored = [(a - b.flip(2)).abs().max() < 1e-5 for a, b in zip(y, x)]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 4 < sum(mirrored) < 28


def test_rotate90_gives_quarter_turns():
    x = _images(32)
    torch.manual_seed(0)
    y = _only("rotate90")(x)
    turns = []
    for a, b in zip(y, x):
        k = [k for k in range(4) if (a - torch.rot90(b, k, (1, 2))).abs().max() < 1e-5]
        assert len(k) == 1
        turns.append(k[0])
    assert len(set(turns)) == 4


def test_integer_translation_shifts_by_whole_pixels_within_an_eighth():
    size, limit = 16, round(XINT_MAX * 16)
    x = _images(16, size)
    torch.manual_seed(0)
    y = _only("xint")(x)
    shifts = []
    for a, b in zip(y, x):
        inner = slice(limit, size - limit)
        found = [
            (dx, dy)
            for dx in range(-limit, limit + 1)
            for dy in range(-limit, limit + 1)
            if (a[:, inner, inner] - torch.roll(b, (dy, dx), (1, 2))[:, inner, inner]).abs().max() < 1e-5
        ]
        assert found, "not a whole-pixel shift"
        shifts.append(found[0])
    assert len(set(shifts)) > 3


@pytest.mark.parametrize("name", ["scale", "rotate", "aniso", "xfrac"])
def test_general_geometric_transforms_change_images_within_their_value_range(name):
    x = _images(16)
    torch.manual_seed(0)
    y = _only(name)(x)
    changed = (y - x).flatten(1).abs().max(1).values > 1e-3
    assert changed.sum() >= 12  # p = 1: all but near-identity draws
    # Bilinear interpolation of mirrored pixels never leaves the input's range.
    assert y.min() >= x.min() - 1e-5 and y.max() <= x.max() + 1e-5


def test_brightness_adds_one_constant_per_image():
    x = _images(16)
    torch.manual_seed(0)
    d = _only("brightness")(x) - x
    per_image = d.flatten(1)
    assert (per_image - per_image[:, :1]).abs().max() < 1e-5
    assert 0.05 < per_image[:, 0].std() < 0.5  # std 0.2


def test_contrast_scales_each_image_about_zero():
    x = _images(16)
    torch.manual_seed(0)
    ratio = (_only("contrast")(x) / x).flatten(1)
    assert (ratio - ratio[:, :1]).abs().max() < 1e-3 and (ratio > 0).all()
    assert ratio[:, 0].log2().std() > 0.2


def test_luma_flip_negates_grey_and_keeps_colour():
    x = _images(32)
    torch.manual_seed(0)
    y = _only("lumaflip")(x)
    assert torch.allclose(y - _luma(y), x - _luma(x), atol=1e-5)
    flipped = [torch.allclose(_luma(a), -_luma(b), atol=1e-5) for a, b in zip(y, x)]
    kept = [torch.allclose(a, b, atol=1e-5) for a, b in zip(y, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and 4 < sum(flipped) < 28


def test_hue_rotation_keeps_grey_and_colourfulness():
    x = _images(16)
    torch.manual_seed(0)
    y = _only("hue")(x)
    assert torch.allclose(_luma(y), _luma(x), atol=1e-5)
    assert torch.allclose((y - _luma(y)).norm(dim=1), (x - _luma(x)).norm(dim=1), atol=1e-4)
    assert (y - x).abs().mean() > 0.1


def test_saturation_scales_colour_about_grey():
    x = _images(16)
    torch.manual_seed(0)
    y = _only("saturation")(x)
    assert torch.allclose(_luma(y), _luma(x), atol=1e-5)
    ratio = ((y - _luma(y)).norm(dim=1) / (x - _luma(x)).norm(dim=1)).flatten(1)
    assert (ratio - ratio[:, :1]).abs().max() < 1e-3 and (ratio[:, 0] - 1).abs().max() > 0.1


@pytest.mark.parametrize("name,p", [("brightness", 0.3), ("rotate", 0.5), ("xfrac", 0.2)])
def test_each_transform_applies_with_probability_p_per_image(name, p):
    x = _images(4000, 4)
    torch.manual_seed(1)
    changed = ((_only(name, p)(x) - x).flatten(1).abs().max(1).values > 1e-6).float().mean()
    assert abs(float(changed) - p) < 0.04  # rotation: two chances of 1 - sqrt(1 - p) make p


def test_seeded_runs_repeat_and_other_seeds_differ():
    x = _images()
    aug = AdaptiveAugment(p=0.7)
    torch.manual_seed(5)
    a = aug(x)
    torch.manual_seed(5)
    assert torch.equal(aug(x), a)
    torch.manual_seed(6)
    assert not torch.equal(aug(x), a)


def test_p_rises_when_d_is_overconfident_on_reals_and_falls_otherwise():
    aug = AdaptiveAugment(p=0.0, target=0.6, adjust_kimg=0.1, interval=4)  # 100 images move p by 1
    for _ in range(3):
        aug.update(torch.full((8, 1), 2.0))
    assert aug.p == 0.0 and aug.r_t is None  # only every 4th call adjusts
    aug.update(torch.full((8, 1), 2.0))
    assert aug.r_t == 1.0 and aug.p == pytest.approx(32 / 100)
    logits = torch.tensor([[1.0]] * 7 + [[-1.0]])  # r_t = 0.75 > 0.6: still up
    for _ in range(4):
        aug.update(logits)
    assert aug.r_t == pytest.approx(0.75) and aug.p == pytest.approx(64 / 100)
    for _ in range(4):
        aug.update(-torch.ones(8, 1))  # r_t = -1 < 0.6: down
    assert aug.p == pytest.approx(32 / 100)
    for _ in range(40):
        aug.update(-torch.ones(8, 1))
    assert aug.p == 0.0  # clamped
    for _ in range(40):
        aug.update(torch.ones(8, 1))
    assert aug.p == 1.0


def test_state_round_trips_through_a_weights_only_checkpoint():
    aug = AdaptiveAugment(p=0.1, adjust_kimg=0.5)
    stream = [torch.randn(6, 1) + 0.5 for _ in range(11)]
    for logits in stream[:6]:  # stop mid-interval: the accumulators must survive too
        aug.update(logits)
    buf = io.BytesIO()
    torch.save(aug.state_dict(), buf)
    buf.seek(0)
    resumed = AdaptiveAugment(adjust_kimg=0.5)
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    assert (resumed.p, resumed.r_t) == (aug.p, aug.r_t)
    for logits in stream[6:]:
        aug.update(logits)
        resumed.update(logits)
        assert resumed.p == aug.p and resumed.r_t == aug.r_t
    assert aug.p != 0.1


def test_fixed_mode_never_moves_but_still_measures():
    aug = parse_augment("fixed:0.25")
    for _ in range(40):
        aug.update(torch.ones(16, 1))
    assert aug.p == 0.25 and aug.r_t == 1.0 and not aug.adaptive


def test_parse_augment():
    ada = parse_augment("ada")
    assert isinstance(ada, AdaptiveAugment) and ada.adaptive and ada.p == 0.0 and ada.transforms == TRANSFORMS
    assert parse_augment("none") is None
    assert parse_augment(" Fixed:1 ").p == 1.0
    for bad, match in [("fixed:", "between 0 and 1"), ("fixed:1.5", "between 0 and 1"), ("fixed:x", "between 0 and 1"),
                       ("adaa", "expected ada, fixed:P"), ("", "expected ada")]:
        with pytest.raises(ValueError, match=match):
            parse_augment(bad)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="unknown augmentation 'blur'"):
        AdaptiveAugment(transforms=["blur"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        AdaptiveAugment(p=1.5)
    with pytest.raises(ValueError, match="RGB"):
        AdaptiveAugment(p=0.5)(torch.zeros(2, 1, 8, 8))


def _distributed_rank(rank: int, world: int, init_file: str, results) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    aug = AdaptiveAugment(p=0.5, adjust_kimg=1.0, interval=2)
    logits = torch.ones(4, 1) if rank == 0 else -torch.ones(4, 1)  # rank 0 sees +1, rank 1 sees -1
    for _ in range(2):
        aug.update(logits if rank == 0 else torch.cat([logits[:3], -logits[3:]]))
    results[rank] = (aug.r_t, aug.p)
    torch.distributed.destroy_process_group()


def test_distributed_ranks_share_one_statistic(tmp_path):
    import torch.multiprocessing as mp

    results = mp.Manager().dict()
    mp.spawn(_distributed_rank, args=(2, str(tmp_path / "init"), results), nprocs=2)
    # rank 0: 8 logits of +1; rank 1: 6 of -1 and 2 of +1 -> r_t = (8 - 6 + 2) / 16 = 0.25 < 0.6,
    # and p moves down by the 16 images seen on both ranks together.
    assert results[0] == results[1] == (0.25, pytest.approx(0.5 - 16 / 1000))
