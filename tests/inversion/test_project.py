"""GAN inversion: recovery of generated images, the schedule actually applied, batch independence,
and latent files that load back or fail with one clear line."""

import pytest
import torch

from freezeg import Generator, ModelConfig
from freezeg.inversion.distances import make_distance
from freezeg.inversion.latents import Latent, latent_stats, load_latent, save_latent
from freezeg.inversion.projector import noise_regularization
from freezeg.inversion.recipes import project_images
from freezeg.inversion.stylegan2 import ProjectionOptions, Projector, learning_rate
from helpers import generated, trained_like


def test_learning_rate_warms_up_holds_and_ramps_down():
    lr = [learning_rate(t / 100, 0.1) for t in range(101)]
    assert lr[0] == 0 and lr[5] == pytest.approx(0.1) and lr[50] == pytest.approx(0.1) and lr[100] == pytest.approx(0)
    assert lr[1] < lr[3] < lr[5]  # linear warm-up over the first 5%
    assert all(a >= b for a, b in zip(lr[75:], lr[76:]))  # cosine ramp-down over the last 25%
    assert lr[90] == pytest.approx(0.1 * (0.5 - 0.5 * torch.cos(torch.tensor(0.4 * torch.pi)).item()))


def test_projector_applies_the_schedule(tiny_config):
    g = Generator(tiny_config).eval()
    proj = Projector(g, generated(g, [1]), make_distance("default"), ProjectionOptions(steps=20, lr=0.2))
    seen = []
    for _ in range(20):
        proj.step()
        seen.append(proj.lr)
    assert seen == pytest.approx([learning_rate(i / 20, 0.2) for i in range(20)])
    assert seen[0] == 0 and max(seen) == pytest.approx(0.2) and seen[-1] < 0.02


def test_projection_recovers_a_generated_image(tiny_config):
    """Done-when: W+ and noise maps, 300 steps: every image comes back at >= 30 dB PSNR."""
    g = trained_like(tiny_config)
    targets = generated(g, [1, 3, 5])
    before = {k: v.clone() for k, v in g.state_dict().items()}
    options = ProjectionOptions(space="w+", steps=300, optimize_noise=True)
    latents, recon = project_images(g, targets, make_distance("default"), options, batch=3, progress=False)
    psnrs = [lat.fidelity["psnr"] for lat in latents]
    assert min(psnrs) >= 30, psnrs
    assert recon.shape == targets.shape
    assert all(lat.fidelity["ssim"] > 0.95 and lat.space == "w+" and lat.meta["steps"] == 300 for lat in latents)
    # The generator is only read: no gradients stored, no weights changed.
    assert all(p.grad is None for p in g.parameters())
    assert all(torch.equal(v, before[k]) for k, v in g.state_dict().items())


def test_images_in_one_batch_are_optimised_independently(tiny_config):
    g = trained_like(tiny_config)
    targets = generated(g, [2, 4])
    # Without random draws (no latent perturbation, stored noise) a batch of two must give each
    # image exactly what projecting it alone gives.
    options = ProjectionOptions(space="w+", steps=15, latent_noise=0.0, optimize_noise=False)
    stats = latent_stats(g)
    d = make_distance("default")
    both, _ = Projector(g, targets, d, options, stats=stats).run(False).result()
    alone, _ = Projector(g, targets[1:], d, options, stats=stats).run(False).result()
    assert torch.allclose(both[1].ws, alone[0].ws, atol=1e-4)
    assert both[1].fidelity["psnr"] == pytest.approx(alone[0].fidelity["psnr"], abs=1e-2)


def test_w_space_keeps_one_latent_for_all_layers(tiny_config):
    g = Generator(tiny_config).eval()
    latents, _ = project_images(g, generated(g, [0]), make_distance("default"), ProjectionOptions(space="w", steps=5),
                                progress=False)
    ws = latents[0].ws
    assert ws.shape == (g.num_ws, g.style_dim) and torch.equal(ws, ws[:1].expand_as(ws))


def test_noise_penalty_is_per_sample_and_small_for_white_noise():
    torch.manual_seed(0)
    white = [torch.randn(2, 1, 64, 64)]
    smooth = [torch.nn.functional.avg_pool2d(torch.randn(2, 1, 66, 66), 3, stride=1)]
    assert noise_regularization(white).shape == (2,)
    assert (noise_regularization(smooth) > 20 * noise_regularization(white)).all()


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="--space"):
        ProjectionOptions(space="z")
    with pytest.raises(ValueError, match="--steps"):
        ProjectionOptions(steps=-1)


# ------------------------------------------------------------------ latent files
def test_latent_file_round_trip(tmp_path, tiny_config):
    g = Generator(tiny_config)
    noise = [torch.randn(1, 1, r, r) for r in g.noise_resolutions()]
    lat = Latent(ws=torch.randn(g.num_ws, g.style_dim), noise=noise, space="w+",
                 fidelity={"psnr": 31.5, "ssim": 0.9, "distance": 0.01, "loss": "default"}, meta={"steps": 7})
    path = save_latent(tmp_path / "a.pt", lat, source="src.pt", generator=g)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "freezeg-latent" and raw["ws"].shape == (g.num_ws, g.style_dim)
    assert raw["source"] == {"path": "src.pt", "config": {"size": 16, "style_dim": 16, "num_ws": 6, "n_mlp": 2}}
    back = load_latent(path, g)
    assert torch.equal(back.ws, lat.ws) and all(torch.equal(a, b) for a, b in zip(back.noise, noise))
    assert back.space == "w+" and back.fidelity["psnr"] == 31.5 and back.meta["steps"] == 7


def test_bare_w_tensor_is_broadcast(tmp_path, tiny_config):
    g = Generator(tiny_config)
    torch.save(torch.randn(1, g.style_dim), tmp_path / "w.pt")
    lat = load_latent(tmp_path / "w.pt", g)
    assert lat.ws.shape == (g.num_ws, g.style_dim) and lat.space == "w" and lat.noise is None


def test_wrong_latent_files_name_the_file_and_the_problem(tmp_path, tiny_config):
    g = Generator(tiny_config)
    torch.save({"ws": torch.randn(4, 8)}, tmp_path / "shape.pt")
    with pytest.raises(ValueError, match=r"shape\.pt: latent ws has shape \(4, 8\); this 16px generator needs \(6, 16\)"):
        load_latent(tmp_path / "shape.pt", g)
    other = Generator(ModelConfig(size=8, style_dim=16, n_mlp=2, channels={4: 8, 8: 8}))
    save_latent(tmp_path / "other.pt", Latent(ws=torch.zeros(other.num_ws, 16), noise=None), generator=other)
    with pytest.raises(ValueError, match=r"other\.pt: made with a 8px generator \(style_dim 16\), not this 16px one"):
        load_latent(tmp_path / "other.pt", g)
    torch.save({"ws": torch.zeros(g.num_ws, 16), "noise": [torch.zeros(1, 1, 4, 4)]}, tmp_path / "noise.pt")
    with pytest.raises(ValueError, match=r"noise\.pt: 'noise' must be a list of 5 maps"):
        load_latent(tmp_path / "noise.pt", g)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=r"junk\.pt: not a readable latent file"):
        load_latent(tmp_path / "junk.pt", g)
    torch.save({"ws": torch.full((g.num_ws, 16), float("nan"))}, tmp_path / "nan.pt")
    with pytest.raises(ValueError, match=r"nan\.pt: latent holds NaN"):
        load_latent(tmp_path / "nan.pt", g)
    with pytest.raises(ValueError, match=r"missing\.pt: no such latent file"):
        load_latent(tmp_path / "missing.pt", g)


def test_noise_penalty_is_the_squared_autocorrelation_at_every_scale():
    # A checkerboard is perfectly anti-correlated with its 1-pixel shifts: penalty 2 per scale...
    board = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2 * 2.0 - 1
    assert noise_regularization([board[None, None]]).item() == pytest.approx(2.0)
    # ...and a constant map is perfectly correlated: (mean of 1)^2 twice per scale, 3 scales at 32px.
    assert noise_regularization([torch.ones(1, 1, 32, 32)]).item() == pytest.approx(6.0)
