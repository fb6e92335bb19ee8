"""Freeze specs: which blocks of G and D train, by resolution."""

import pytest

from freezeg.models.freeze import (
    FreezeSpec,
    apply_discriminator_freeze,
    apply_generator_freeze,
    freeze_plan,
    parse_layer_range,
    style_affines,
)


def trainable_names(module):
    return {n for n, p in module.named_parameters() if p.requires_grad}


def test_freeze_g_trains_only_top_blocks(ref_g):
    apply_generator_freeze(ref_g, FreezeSpec(g_top_blocks=2))
    names = trainable_names(ref_g)
    # Top two blocks (16px and 32px): convs 2-5 and to_rgbs 1-2 (note: 'convs.1' is frozen).
    assert names == {n for n, _ in ref_g.named_parameters() if n.startswith(("convs.2.", "convs.3.", "convs.4.", "convs.5.", "to_rgbs.1.", "to_rgbs.2."))}
    assert not any(n.startswith(("style.", "input.", "conv1.", "to_rgb1.", "convs.0.", "convs.1.", "to_rgbs.0.")) for n in names)


def test_coarse_rgb_trains_the_frozen_blocks_torgb_and_nothing_else_of_them(ref_g):
    spec = FreezeSpec(g_top_blocks=2, coarse_rgb=True)
    assert spec.describe() == "G: top 2 blocks train (and the frozen blocks' toRGB)"
    apply_generator_freeze(ref_g, spec)
    top = ("convs.2.", "convs.3.", "convs.4.", "convs.5.", "to_rgbs.1.", "to_rgbs.2.")
    assert trainable_names(ref_g) == {n for n, _ in ref_g.named_parameters() if n.startswith(top + ("to_rgb1.", "to_rgbs.0."))}
    assert FreezeSpec.from_args(2, None, False, None, True) == spec
    assert FreezeSpec.from_args(2, None, False, None, False) == FreezeSpec(g_top_blocks=2)
    # Specs recorded before the field existed read as frozen toRGB.
    assert FreezeSpec.from_dict({"g_top_blocks": 2}).coarse_rgb is False


def test_freeze_g_zero_is_a_full_fine_tune_and_all_blocks_keep_the_mapping_frozen(ref_g):
    spec = FreezeSpec(g_top_blocks=0)
    assert spec == FreezeSpec() and not spec.freezes_anything and spec.describe() == "nothing frozen"
    apply_generator_freeze(ref_g, spec)
    assert trainable_names(ref_g) == {n for n, _ in ref_g.named_parameters()}
    apply_generator_freeze(ref_g, FreezeSpec(g_top_blocks=4))
    assert trainable_names(ref_g) == {n for n, _ in ref_g.named_parameters() if not n.startswith("style.")}


def test_freeze_mapping_only(ref_g):
    apply_generator_freeze(ref_g, FreezeSpec(mapping=True))
    assert trainable_names(ref_g) == {n for n, _ in ref_g.named_parameters() if not n.startswith("style.")}


def test_freeze_styles_freezes_the_affines_that_read_those_layers(ref_g):
    # ws[3] is read by the 8px toRGB and the 16px up-conv (they share an index).
    assert {id(m) for m in style_affines(ref_g, 3)} == {id(ref_g.convs[2].conv.modulation), id(ref_g.to_rgbs[0].conv.modulation)}
    apply_generator_freeze(ref_g, FreezeSpec(styles=(0, 1)))
    frozen = {n for n, p in ref_g.named_parameters() if not p.requires_grad}
    assert frozen == {
        "conv1.conv.modulation.weight", "conv1.conv.modulation.bias",
        "to_rgb1.conv.modulation.weight", "to_rgb1.conv.modulation.bias",
        "convs.0.conv.modulation.weight", "convs.0.conv.modulation.bias",
    }


def test_freeze_d_trains_last_blocks_and_head(ref_d):
    apply_discriminator_freeze(ref_d, FreezeSpec(d_last_blocks=1))
    names = trainable_names(ref_d)
    assert names == {n for n, _ in ref_d.named_parameters() if n.startswith(("convs.3.", "final_conv.", "final_linear."))}
    apply_discriminator_freeze(ref_d, FreezeSpec(d_last_blocks=0))  # 0: nothing frozen
    assert trainable_names(ref_d) == {n for n, _ in ref_d.named_parameters()}


def test_plan_totals_match_the_models(ref_g, ref_d):
    rows = freeze_plan(ref_g, ref_d, FreezeSpec(g_top_blocks=1, d_last_blocks=2))
    g_rows = [r for r in rows if r.network == "G"]
    assert sum(r.params for r in g_rows) == sum(p.numel() for p in ref_g.parameters())
    assert [r.name for r in g_rows] == ["mapping", "b4", "b8", "b16", "b32"]
    assert [r.state for r in g_rows] == ["frozen", "frozen", "frozen", "frozen", "trained"]
    d_rows = [r for r in rows if r.network == "D"]
    assert [r.name for r in d_rows] == ["b32", "b16", "b8", "head"]
    assert [r.state for r in d_rows] == ["frozen", "trained", "trained", "trained"]


@pytest.mark.parametrize(
    "spec,match",
    [
        (FreezeSpec(g_top_blocks=5), "has 4 resolution blocks"),
        (FreezeSpec(g_top_blocks=-1), "has 4 resolution blocks"),
        (FreezeSpec(d_last_blocks=4), "has 3 blocks"),
        (FreezeSpec(styles=(2, 8)), "0-7"),
    ],
)
def test_levels_beyond_the_model_are_errors(ref_g, spec, match):
    with pytest.raises(ValueError, match=match):
        spec.validate(ref_g.config)


def test_layer_range_parsing():
    assert parse_layer_range("3-7") == (3, 7)
    assert parse_layer_range("5") == (5, 5)
    assert parse_layer_range(None) is None
    with pytest.raises(ValueError):
        parse_layer_range("7-3")
    with pytest.raises(ValueError):
        parse_layer_range("a-b")


def test_spec_round_trips_through_dict():
    spec = FreezeSpec(2, 3, True, (0, 4))
    assert FreezeSpec.from_dict(spec.to_dict()) == spec
    spec = FreezeSpec(2, coarse_rgb=True)
    assert FreezeSpec.from_dict(spec.to_dict()) == spec
