"""The default projection recipe (staged) and the recipe registry: starts, phases, batch
independence, warm starts and the generator left untouched."""

import pytest
import torch

from freezeg.inversion.distances import make_distance
from freezeg.inversion.latents import Latent, latent_stats
from freezeg.inversion.projector import BaseProjector
from freezeg.inversion.recipes import make_projector, recipe_of, recipe_options, warm_options
from freezeg.inversion.staged import StagedOptions, StagedProjector, best_starts, staged_learning_rate
from freezeg.inversion.stylegan2 import ProjectionOptions, Projector
from helpers import generated, trained_like


def test_best_start_is_the_candidate_that_made_the_image(tiny_config):
    g = trained_like(tiny_config)
    stats = latent_stats(g)
    noise = g.stored_noise()
    # Render candidate 3 of the candidate list (as best_starts draws it) and ask for its best start.
    from freezeg.inversion.staged import START_SEED
    z = torch.randn(7, g.style_dim, generator=torch.Generator().manual_seed(START_SEED))
    w = stats.mean + 0.7 * (g.mapping(z) - stats.mean)
    with torch.no_grad():
        image = g.synthesis(w[3:4, None].expand(1, g.num_ws, -1), noise=noise)
    start = best_starts(g, image, make_distance("default"), stats, 8, 0.7, noise)
    assert torch.allclose(start[0, 0], w[3], atol=1e-6)
    assert best_starts(g, image, make_distance("default"), stats, 1, 0.7, noise).squeeze().allclose(stats.mean[0])


def test_learning_rate_share_warms_up_and_ramps_down():
    assert staged_learning_rate(0.0, 0.02, 0.3) == 0
    assert staged_learning_rate(0.5, 0.02, 0.3) == 1
    assert staged_learning_rate(0.85, 0.02, 0.3) == pytest.approx(0.5)
    assert staged_learning_rate(1.0, 0.02, 0.3) == pytest.approx(0, abs=1e-12)


def test_w_phase_keeps_one_latent_then_offsets_and_noise_open(tiny_config):
    g = trained_like(tiny_config)
    options = StagedOptions(steps=10, w_share=0.5, noise_share=0.2, starts=2)
    proj = StagedProjector(g, generated(g, [1]), make_distance("default"), options)
    noise_before = [n.clone() for n in proj.noise]
    for _ in range(5):
        proj.step()
    ws = proj.ws()
    assert torch.equal(ws, ws[:, :1].expand_as(ws))  # W phase: every layer the same w
    assert all(torch.equal(a, b) for a, b in zip(proj.noise, noise_before))
    for _ in range(3):
        proj.step()
    assert not torch.equal(proj.ws(), proj.ws()[:, :1].expand_as(proj.ws()))  # offsets opened at 50%
    assert all(torch.equal(a, b) for a, b in zip(proj.noise, noise_before))  # noise waits for the last 20%
    proj.run(progress=False)
    assert proj.step_index == 10 and not all(torch.equal(a, b) for a, b in zip(proj.noise, noise_before))


def test_default_recipe_recovers_generated_images_and_leaves_g_alone(tiny_config):
    g = trained_like(tiny_config)
    targets = generated(g, [1, 3, 5])
    before = {k: v.clone() for k, v in g.state_dict().items()}
    proj = make_projector(g, targets, make_distance("default"), StagedOptions(steps=200)).run(progress=False)
    latents, recon = proj.result()
    psnrs = [lat.fidelity["psnr"] for lat in latents]
    assert min(psnrs) >= 30, psnrs
    assert recon.shape == targets.shape and all(lat.space == "w+" and lat.meta["steps"] == 200 for lat in latents)
    assert all(p.grad is None for p in g.parameters())
    assert all(torch.equal(v, before[k]) for k, v in g.state_dict().items())


def test_images_in_one_batch_stay_independent(tiny_config):
    g = trained_like(tiny_config)
    targets = generated(g, [2, 4])
    options, stats, d = StagedOptions(steps=12, w_share=0.25, noise_share=0.5), latent_stats(g), make_distance("default")
    both, _ = StagedProjector(g, targets, d, options, stats).run(False).result()
    alone, _ = StagedProjector(g, targets[1:], d, options, stats).run(False).result()
    assert torch.allclose(both[1].ws, alone[0].ws, atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(both[1].noise, alone[0].noise))


def test_zero_steps_and_warm_starts_keep_the_start(tiny_config):
    g = trained_like(tiny_config)
    targets = generated(g, [1])
    start = Latent(ws=torch.randn(g.num_ws, g.style_dim), noise=[torch.randn(1, 1, r, r) for r in g.noise_resolutions()])
    for options in (StagedOptions(steps=0), ProjectionOptions(steps=0, space="w+")):
        proj = make_projector(g, targets, make_distance("default"), options, init=[start])
        proj.run(progress=False)
        found, _ = proj.result()
        assert torch.allclose(found[0].ws, start.ws, atol=1e-6), recipe_of(options)
        assert all(torch.equal(a, b) for a, b in zip(found[0].noise, start.noise))
    # A warm start skips the W-only phase: W+ offsets train from the first step.
    proj = make_projector(g, targets, make_distance("default"), StagedOptions(steps=4), init=[start])
    assert proj.phase()[0]


def test_recipe_options_and_registry():
    assert isinstance(recipe_options("default", steps=7, latent_noise=0.3), StagedOptions)  # others' options ignored
    old = recipe_options("stylegan2", steps=7, space=None, lr=0.2)
    assert isinstance(old, ProjectionOptions) and old.steps == 7 and old.space == "w" and old.lr == 0.2
    assert warm_options(old, 3).latent_noise == 0 and warm_options(StagedOptions(), 3).steps == 3
    assert recipe_of(old) == "stylegan2" and recipe_of(StagedOptions()) == "default"
    with pytest.raises(ValueError, match="--recipe must be one of default, stylegan2"):
        recipe_options("magic")
    with pytest.raises(ValueError, match="--steps"):
        StagedOptions(steps=-1)
    assert issubclass(StagedProjector, BaseProjector) and issubclass(Projector, BaseProjector)


def test_free_layers_keep_the_later_layers_on_the_shared_w(tiny_config):
    g = trained_like(tiny_config)
    proj = StagedProjector(g, generated(g, [1]), make_distance("default"),
                           StagedOptions(steps=6, w_share=0.0, free_layers=2, starts=1)).run(progress=False)
    ws = proj.ws()[0]
    assert not torch.equal(ws[0], ws[1])  # the first two layers moved apart...
    assert all(torch.equal(ws[2], ws[k]) for k in range(3, g.num_ws))  # ...the rest read one w
    with pytest.raises(ValueError, match="free_layers"):
        StagedOptions(free_layers=-1)


def test_project_images_takes_either_recipe(tiny_config):
    from freezeg.inversion.recipes import project_images

    g = trained_like(tiny_config)
    targets = generated(g, [1])
    for options in (StagedOptions(steps=3, starts=2), ProjectionOptions(steps=3)):
        latents, recon = project_images(g, targets, make_distance("default"), options, progress=False)
        assert latents[0].meta["steps"] == 3 and recon.shape == targets.shape
