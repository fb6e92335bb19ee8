"""Generator and discriminator: rosinality numerics, layer semantics, key layout, bad input."""

import json

import pytest
import torch

from freezeg import Discriminator, Generator, ModelConfig
from freezeg.models.checkpoint import infer_discriminator_config
from freezeg.models.layers import ModulatedConv2d
from freezeg.models.networks import stddev_group_size
from helpers import REFERENCE, load_ref

TOL = 1e-4


def set_modconv_mode(g, mode):
    for m in g.modules():
        if isinstance(m, ModulatedConv2d):
            m.mode = mode


@pytest.fixture(params=["auto", "grouped", "scaled", "matmul"])
def g_any_mode(request, ref_g):
    """The reference generator with each modulated-conv implementation (matmul: toRGB only)."""
    if request.param == "matmul":
        for m in ref_g.modules():
            if isinstance(m, ModulatedConv2d):
                m.mode = "matmul" if m.kernel_size == 1 else "scaled"
    else:
        set_modconv_mode(ref_g, request.param)
    return ref_g


@torch.no_grad()
def test_forward_matches_rosinality_and_reports_the_ws_used(g_any_mode):
    v = load_ref("g_forward")
    img, ws = g_any_mode(v["z"], noise=v["noise"], return_ws=True)
    assert img.shape == (3, 3, 32, 32)
    assert (img - v["image"]).abs().max() <= TOL
    assert (ws - v["latents"]).abs().max() <= TOL


@torch.no_grad()
def test_per_sample_noise_matches_rosinality(g_any_mode):
    v = load_ref("g_forward_batch_noise")
    assert (g_any_mode(v["z"], noise=v["noise"]) - v["image"]).abs().max() <= TOL


@torch.no_grad()
def test_const_noise_mode_uses_stored_buffers(g_any_mode):
    v = load_ref("g_forward_const_noise")
    assert (g_any_mode(v["z"], noise_mode="const") - v["image"]).abs().max() <= TOL


@torch.no_grad()
def test_truncation_matches_rosinality(g_any_mode):
    v = load_ref("g_truncation")
    w_avg = g_any_mode.mapping(v["z_avg"]).mean(0, keepdim=True)
    assert (w_avg - v["w_avg"]).abs().max() <= TOL
    img = g_any_mode(v["z"], truncation=v["truncation"], truncation_w=v["w_avg"], noise=v["noise"])
    assert (img - v["image"]).abs().max() <= TOL


@torch.no_grad()
def test_stored_average_is_used_when_no_truncation_w_given(ref_g):
    v = load_ref("g_truncation")
    ref_g.w_avg = v["w_avg"].clone()
    img = ref_g(v["z"], truncation=v["truncation"], noise=v["noise"])
    assert (img - v["image"]).abs().max() <= TOL


@torch.no_grad()
def test_style_mixing_matches_rosinality(g_any_mode):
    v = load_ref("g_mixing")
    img, ws = g_any_mode(v["z1"], mix_z=v["z2"], mix_index=v["inject_index"], noise=v["noise"], return_ws=True)
    assert (ws - v["latents"]).abs().max() <= TOL
    assert (img - v["image"]).abs().max() <= TOL


@torch.no_grad()
def test_wplus_synthesis_matches_rosinality(g_any_mode):
    v = load_ref("g_wplus")
    assert (g_any_mode.synthesis(v["wplus"], noise=v["noise"]) - v["image"]).abs().max() <= TOL


@torch.no_grad()
def test_mapping_then_synthesis_equals_forward(ref_g):
    v = load_ref("g_forward")
    ws = ref_g.mapping(v["z"])[:, None].repeat(1, ref_g.num_ws, 1)
    assert torch.allclose(ref_g.synthesis(ws, noise=v["noise"]), ref_g(v["z"], noise=v["noise"]), atol=1e-6)


@torch.no_grad()
def test_noise_modes(ref_g):
    z = torch.randn(2, 32)
    assert torch.equal(ref_g(z, noise_mode="const"), ref_g(z, noise_mode="const"))
    assert not torch.equal(ref_g(z, noise_mode="random"), ref_g(z, noise_mode="random"))
    zeros = [torch.zeros(1, 1, r, r) for r in ref_g.noise_resolutions()]
    assert torch.allclose(ref_g(z, noise_mode="none"), ref_g(z, noise=zeros))


def test_modulated_conv_modes_agree_in_gradients(ref_g):
    v = load_ref("g_forward")
    grads = {}
    for mode in ("grouped", "scaled", "matmul", "auto"):
        if mode == "matmul":
            for m in ref_g.modules():
                if isinstance(m, ModulatedConv2d):
                    m.mode = "matmul" if m.kernel_size == 1 else "grouped"
        else:
            set_modconv_mode(ref_g, mode)
        ref_g.zero_grad()
        ws = ref_g.mapping(v["z"])[:, None].repeat(1, ref_g.num_ws, 1).detach().requires_grad_()
        ref_g.synthesis(ws, noise=v["noise"]).square().sum().backward()
        grads[mode] = (ws.grad.clone(), ref_g.convs[0].conv.weight.grad.clone(), ref_g.to_rgbs[1].conv.weight.grad.clone())
    for mode in ("scaled", "matmul", "auto"):
        for a, b in zip(grads["grouped"], grads[mode]):
            assert (a - b).abs().max() <= 1e-5 * a.abs().max()  # float32 round-off relative to the scale


def test_batch_of_one_matches_rosinality_values_and_batched_gradients(ref_g):
    """Batch 1 (projection) takes the plain-convolution path: same image, same gradients."""
    v = load_ref("g_forward")
    ws = ref_g.mapping(v["z"][:1])[:, None].repeat(1, ref_g.num_ws, 1).detach().requires_grad_()
    img = ref_g.synthesis(ws, noise=v["noise"])
    assert (img - v["image"][:1]).abs().max() <= TOL
    (grad_auto,) = torch.autograd.grad(img.square().sum(), ws)
    set_modconv_mode(ref_g, "scaled")
    (grad_scaled,) = torch.autograd.grad(ref_g.synthesis(ws, noise=v["noise"]).square().sum(), ws)
    assert (grad_auto - grad_scaled).abs().max() <= 1e-5 * grad_scaled.abs().max()


def test_matmul_mode_is_only_for_1x1_kernels(ref_g):
    conv = ref_g.convs[0].conv
    conv.mode = "matmul"
    with pytest.raises(ValueError, match="1x1 kernel"):
        conv(torch.randn(1, 64, 4, 4), torch.randn(1, 32))


@torch.no_grad()
def test_outputs_are_contiguous_nchw(ref_g, ref_d):
    """Feature maps may run channels_last inside; images and logits come out in the usual layout."""
    img = ref_g(torch.randn(2, 32))
    assert img.is_contiguous()
    assert ref_d(img).is_contiguous()


@torch.no_grad()
def test_layer_latent_indices_follow_rosinality(ref_g):
    """Changing ws[:, i] changes exactly the layers the README assigns to index i."""
    blocks = ref_g.blocks()
    assert [b.resolution for b in blocks] == [4, 8, 16, 32]
    assert [(lay.w_index, lay.noise_index) for b in blocks for lay in b.layers] == [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6)]
    assert [b.to_rgb_w_index for b in blocks] == [1, 3, 5, 7]
    assert ref_g.noise_resolutions() == [4, 8, 8, 16, 16, 32, 32]


@torch.no_grad()
def test_discriminator_matches_rosinality(ref_d):
    v = load_ref("d_forward")
    assert (ref_d(v["x4"]) - v["out4"]).abs().max() <= TOL
    assert (ref_d(v["x3"]) - v["out3"]).abs().max() <= TOL


@pytest.mark.parametrize(
    "batch,group", [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 3), (7, 7), (8, 4), (9, 3), (10, 2), (12, 4), (25, 5)]
)
def test_stddev_group_rule(batch, group):
    assert stddev_group_size(batch) == group


@torch.no_grad()
def test_discriminator_handles_any_batch_size(ref_d):
    x = torch.randn(7, 3, 32, 32)
    out = ref_d(x)
    assert out.shape == (7, 1) and torch.isfinite(out).all()
    # Batch 6 uses groups of 3 (samples b, b+2, b+4): the first half alone, a batch of 3, agrees.
    x6 = torch.randn(6, 3, 32, 32)
    grouped = ref_d(x6)
    assert torch.allclose(grouped[0::2], ref_d(x6[0::2]), atol=1e-5)


def spec():
    return json.loads((REFERENCE / "model_spec.json").read_text())


@pytest.mark.parametrize(
    "name,config",
    [
        ("G_256_512_8_cm2", ModelConfig(256)),
        ("G_1024_512_8_cm2", ModelConfig(1024)),
        ("G_64_512_8_cm1", ModelConfig(64, channel_multiplier=1)),
    ],
)
def test_generator_keys_and_shapes_equal_rosinality(name, config):
    expected = spec()[name]
    g = Generator(config)
    sd = g.state_dict()
    assert list(sd) == list(expected["state_dict"])
    assert {k: list(v.shape) for k, v in sd.items()} == expected["state_dict"]
    assert sum(p.numel() for p in g.parameters()) == expected["num_parameters"]
    assert len(sd) == expected["num_keys"]


@pytest.mark.parametrize("name,config", [("D_256_cm2", ModelConfig(256)), ("D_1024_cm2", ModelConfig(1024))])
def test_discriminator_keys_and_shapes_equal_rosinality(name, config):
    expected = spec()[name]
    sd = Discriminator(config).state_dict()
    assert {k: list(v.shape) for k, v in sd.items()} == expected["state_dict"]
    assert list(sd) == list(expected["state_dict"])


def test_api_attributes(ref_g):
    assert (ref_g.size, ref_g.style_dim, ref_g.num_ws, ref_g.n_mlp) == (32, 32, 8, 2)


@pytest.mark.parametrize("size", [0, 4, 12, 48, 2048, 100])
def test_bad_sizes_are_rejected(size):
    with pytest.raises(ValueError, match="power of two"):
        ModelConfig(size=size)


@pytest.mark.parametrize("channels,match", [({3: 8}, "power of two"), ({64: 8}, "larger than"), ({8: 0}, "0 channels")])
def test_bad_channel_tables_are_rejected(channels, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(size=32, channels=channels)


def test_wrong_latent_shapes_are_rejected_before_compute(ref_g):
    with pytest.raises(ValueError, match=r"z must have shape \[batch, 32\]"):
        ref_g(torch.randn(2, 31))
    with pytest.raises(ValueError, match=r"ws must have shape \[batch, 8, 32\]"):
        ref_g.synthesis(torch.randn(2, 7, 32))
    with pytest.raises(ValueError, match="noise must be a list of 7"):
        ref_g.synthesis(torch.randn(2, 8, 32), noise=[torch.zeros(1, 1, 4, 4)] * 6)
    with pytest.raises(ValueError, match=r"noise\[1\] must have shape"):
        ref_g.synthesis(torch.randn(2, 8, 32), noise=[torch.zeros(1, 1, 4, 4)] * 7)
    with pytest.raises(ValueError, match="noise_mode"):
        ref_g.synthesis(torch.randn(2, 8, 32), noise_mode="fixed")


def test_discriminator_rejects_wrong_image_size(ref_d):
    with pytest.raises(ValueError, match="32, 32"):
        ref_d(torch.randn(2, 3, 16, 16))


def test_configurable_sizes_build_and_run():
    for size in (8, 16, 64):
        c = ModelConfig(size=size, style_dim=8, n_mlp=1, channels={r: 4 for r in [4, 8, 16, 32, 64] if r <= size})
        img = Generator(c)(torch.randn(2, 8))
        assert img.shape == (2, 3, size, size)
        assert Discriminator(c)(img).shape == (2, 1)


def test_fused_discriminator_layers_equal_their_unfused_steps(ref_d):
    """ConvLayer/ResBlock fold bias, gain and 1/sqrt(2) into the conv: values and gradients agree."""
    from torch import nn

    block = ref_d.convs[1]  # ResBlock at 32px
    x = torch.randn(2, block.conv1[0].weight.shape[1], 32, 32, requires_grad=True)

    def unfused():
        seq = nn.Sequential.forward  # the layers one after another, as rosinality runs them
        return (seq(block.conv2, seq(block.conv1, x)) + seq(block.skip, x)) / 2**0.5

    outs = []
    for f in (block, unfused):
        block.zero_grad()
        y = f(x) if f is block else f()
        (gx,) = torch.autograd.grad(y.square().sum(), x, retain_graph=True)
        y.square().sum().backward()
        outs.append((y.detach(), gx, block.conv2[1].weight.grad.clone(), block.conv2[2].bias.grad.clone()))
    for a, b in zip(*outs):
        assert (a - b).abs().max() <= 1e-5 * a.abs().max()


@pytest.mark.parametrize("group,channels", [(8, 2), (None, 1), (2, 4)])
def test_minibatch_stddev_groups_and_channels(group, channels):
    """NVlabs' layer: samples b and b + N/G share a group; F channel slices give F feature maps."""
    config = ModelConfig(size=8, style_dim=8, n_mlp=1, channels={4: 8, 8: 8}, mbstd_group=group, mbstd_channels=channels)
    d = Discriminator(config)
    x = torch.randn(8, 8, 4, 4)
    g = 8 if group is None else group
    y = x.reshape(g, -1, channels, 8 // channels, 4, 4)
    y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt().mean(dim=[2, 3, 4])  # [N/G, F]
    expected = y.reshape(-1, channels, 1, 1).repeat(g, 1, 4, 4)
    assert torch.allclose(d.minibatch_stddev(x), expected, atol=1e-6)
    assert d.final_conv[0].weight.shape[1] == 8 + channels
    inferred = infer_discriminator_config(d.state_dict())
    assert inferred.mbstd_channels == channels
