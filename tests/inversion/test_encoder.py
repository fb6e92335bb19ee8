"""The encoder: shapes, self-supervised training that learns, resumption, and files that refuse
another generator's config with one line."""

import pytest
import torch

from freezeg import Generator, ModelConfig
from freezeg.inversion.encoder import Encoder, EncoderConfig, load_encoder, read_encoder_file
from freezeg.inversion.encoder_training import EncoderTrainingOptions, augment, sample_latents, train_encoder
from helpers import trained_like


def test_encoder_predicts_ws_and_noise_maps(tiny_config):
    g = Generator(tiny_config)
    enc = Encoder(EncoderConfig.for_generator(g, noise=True, width=8), w_avg=torch.ones(1, g.style_dim))
    ws, noise = enc(torch.zeros(2, 3, 16, 16))
    assert ws.shape == (2, g.num_ws, g.style_dim)
    assert [tuple(n.shape) for n in noise] == [(2, 1, r, r) for r in g.noise_resolutions()]
    guess = enc.guess(torch.zeros(2, 3, 16, 16))
    assert len(guess) == 2 and guess[0].ws.shape == (g.num_ws, g.style_dim)
    assert all(abs(float(n.std()) - 1) < 1e-3 for n in guess[0].noise if n.numel() > 1)
    plain, none = Encoder(EncoderConfig.for_generator(g, width=8))(torch.zeros(1, 3, 16, 16))
    assert none is None and plain.shape == (1, g.num_ws, g.style_dim)
    with pytest.raises(ValueError, match=r"the encoder takes images \[batch, 3, 16, 16\]"):
        enc(torch.zeros(1, 3, 8, 8))


def test_training_samples_and_augmentation_keep_shapes(tiny_config):
    g = trained_like(tiny_config)
    gen = torch.Generator().manual_seed(0)
    ws = sample_latents(g, 6, mixing=1.0, jitter=0.0, spread=1.0, gen=gen)
    assert ws.shape == (6, g.num_ws, g.style_dim)
    assert not torch.equal(ws[:, 0], ws[:, -1])  # every sample style-mixed
    ramp = torch.linspace(-0.8, 0.8, 16)
    images = (ramp[None, None, :, None] * ramp[None, None, None, :]).expand(4, 3, 16, 16)  # smooth, as renderings are
    out = augment(images, gen)
    assert out.shape == images.shape and 0 < (out - images).abs().mean() < 0.1


def test_training_saves_resumes_and_refuses_clobbering(tmp_path, tiny_config):
    g = trained_like(tiny_config)
    out = tmp_path / "enc.pt"
    options = EncoderTrainingOptions(steps=4, batch=4, width=8, save_every=2, noise=True)
    assert "4 steps" in train_encoder(g, out, options, source_path="src.pt", progress=False)
    data = read_encoder_file(out)
    assert data["step"] == 4 and data["generator"]["size"] == 16 and data["training"]["optimizer"]
    enc = load_encoder(out, g)
    assert enc.path == str(out) and enc.config.noise_resolutions == tuple(g.noise_resolutions())
    with pytest.raises(FileExistsError, match="enc.pt: already exists"):
        train_encoder(g, out, options, progress=False)
    longer = EncoderTrainingOptions(steps=6, batch=4, width=8, save_every=2, noise=True)
    assert "6 steps" in train_encoder(g, out, longer, resume=True, progress=False)
    assert read_encoder_file(out)["step"] == 6
    assert "already trained for 6 steps" in train_encoder(g, out, longer, resume=True, progress=False)
    # Killed before its first save: --resume starts from the beginning.
    assert "4 steps" in train_encoder(g, tmp_path / "none.pt", options, resume=True, progress=False)
    assert read_encoder_file(tmp_path / "none.pt")["step"] == 4


@pytest.mark.slow
def test_trained_guesses_are_closer_than_the_average_w(tmp_path, tiny_config):
    g = trained_like(tiny_config)
    train_encoder(g, tmp_path / "enc.pt", EncoderTrainingOptions(steps=80, batch=8, width=8, lr=3e-3), progress=False)
    enc = load_encoder(tmp_path / "enc.pt", g)
    ws = sample_latents(g, 16, mixing=0.0, jitter=0.0, spread=1.0, gen=torch.Generator().manual_seed(5))
    with torch.no_grad():
        guessed, _ = enc(g.synthesis(ws, noise_mode="const"))
    assert (guessed - ws).square().mean() < 0.8 * (enc.w_avg - ws).square().mean()


def test_encoder_for_another_config_is_refused_naming_both(tmp_path, tiny_config):
    g = trained_like(tiny_config)
    train_encoder(g, tmp_path / "enc.pt", EncoderTrainingOptions(steps=1, batch=2, width=8), progress=False)
    other = Generator(ModelConfig(size=8, style_dim=16, n_mlp=2, channels={4: 8, 8: 8}))
    with pytest.raises(ValueError, match=r"enc\.pt: encoder made for a 16px generator \(style_dim 16, 6 latents\), "
                                         r"not for a 8px generator \(style_dim 16, 4 latents\)"):
        load_encoder(tmp_path / "enc.pt", other)
    with pytest.raises(ValueError, match=r"enc\.pt: encoder made for .*, not for"):
        train_encoder(other, tmp_path / "enc.pt", EncoderTrainingOptions(steps=2), resume=True, progress=False)
    torch.save({"format": "something"}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match=r"x\.pt: not a freezeg encoder file"):
        load_encoder(tmp_path / "x.pt", g)


def test_real_images_join_the_batches_and_must_come_back_on_resume(tmp_path, tiny_config):
    from freezeg.data.dataset import open_dataset
    from freezeg.data.synthetic import write_domain

    g = trained_like(tiny_config)
    write_domain("blobs", 6, 16, tmp_path / "blobs")
    real = open_dataset(tmp_path / "blobs", 16)
    out = tmp_path / "enc.pt"
    options = EncoderTrainingOptions(steps=2, batch=4, width=8, real_share=0.5)
    train_encoder(g, out, options, real=real, progress=False)
    assert read_encoder_file(out)["training"]["images"] == str(real.source)
    longer = EncoderTrainingOptions(steps=3, batch=4, width=8)
    with pytest.raises(ValueError, match=r"enc\.pt: was trained with real images from .*; resume with --images too"):
        train_encoder(g, out, longer, resume=True, progress=False)
    assert "3 steps" in train_encoder(g, out, longer, real=real, resume=True, progress=False)
    with pytest.raises(ValueError, match="--real-share"):
        EncoderTrainingOptions(real_share=1.0)


def test_bf16_training_keeps_float32_weights_and_records_its_precision(tmp_path, tiny_config):
    g = trained_like(tiny_config)
    options = EncoderTrainingOptions(steps=2, batch=4, width=8, save_every=2, precision="bf16")
    train_encoder(g, tmp_path / "enc.pt", options, progress=False)
    data = read_encoder_file(tmp_path / "enc.pt")
    assert data["training"]["options"]["precision"] == "bf16"
    assert all(t.dtype == torch.float32 for t in data["state"].values() if t.is_floating_point())
    assert all(torch.isfinite(t).all() for t in data["state"].values() if t.is_floating_point())
