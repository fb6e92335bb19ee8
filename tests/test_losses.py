"""R1 and path-length regularisers against rosinality's values."""

import torch

from conftest import load_ref
from freezeg.train.losses import d_logistic_loss, g_nonsaturating_loss, path_length_penalty, r1_penalty


def test_r1_matches_rosinality(ref_d):
    v = load_ref("ops")["r1"]
    real = v["real"].clone().requires_grad_()
    assert abs(r1_penalty(ref_d(real), real).item() - v["penalty"].item()) <= 1e-4 * max(1, abs(v["penalty"].item()))


def test_path_length_matches_rosinality(ref_g):
    v = load_ref("ops")["path_length"]
    ws = ref_g.broadcast(ref_g.mapping(v["z"]))
    img = ref_g.synthesis(ws, noise=v["noise"])
    penalty, mean, lengths = path_length_penalty(img, ws, v["mean_path_length_in"], v["decay"], v["pl_noise"])
    assert torch.allclose(lengths, v["path_lengths"], atol=1e-4)
    assert abs(mean.item() - v["path_mean"].item()) <= 1e-4
    assert abs(penalty.item() - v["path_penalty"].item()) <= 1e-4
    assert penalty.requires_grad and not mean.requires_grad


def test_logistic_losses():
    real, fake = torch.tensor([[2.0], [0.0]]), torch.tensor([[-1.0], [1.0]])
    sp = torch.nn.functional.softplus
    assert torch.isclose(d_logistic_loss(real, fake), sp(-real).mean() + sp(fake).mean())
    assert torch.isclose(g_nonsaturating_loss(fake), sp(-fake).mean())
