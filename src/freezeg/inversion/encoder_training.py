"""Self-supervised training of an encoder for a source generator (`freezeg encoder train`).

Each step samples latents the way projections of real images look (mapped w, style-mixed
with a second w, plus a small per-layer jitter: W+ near W), renders them with the source
generator and fresh random noise, augments the images (sub-pixel shift, blur, contrast and
brightness jitter, pixel noise; nothing that changes what the latent should be beyond what
the eye forgives) and trains the encoder on two terms:
- the latent error, squared, in units of w's per-coordinate variance;
- the rendering of the predicted latent (with the predicted noise maps, when it predicts
  them, else the generator's stored maps) against the clean image: L1 + MSE, weighted by
  `image_loss`.
With real images of the source domain (`--images`, e.g. the source's training set), part of
every batch is real: those images have no true latent, so they train the rendering term only
(as pSp and e4e train on real photos). This narrows the gap between what the generator makes
and what users bring.

Progress is saved into the encoder file every `save_every` steps (weights, Adam state, step,
random state), so a killed run resumes with `--resume`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..data.dataset import ImageDataset
from ..models.networks import Generator
from ..utils import faults
from ..utils.files import WriteFailed
from ..utils.precision import autocast
from .encoder import (
    Encoder,
    EncoderConfig,
    describe_generator,
    generator_identity,
    read_encoder_file,
    save_encoder,
    standardise,
)
from .latents import latent_stats

log = logging.getLogger("freezeg")


@dataclass
class EncoderTrainingOptions:
    """How an encoder is trained."""

    steps: int = 3000  # optimisation steps
    batch: int = 32  # rendered images per step
    lr: float = 1e-3  # Adam learning rate (cosine decay to 5% over the steps)
    width: int = 32  # encoder channels at full resolution
    noise: bool = False  # also predict the noise maps
    image_loss: float = 1.0  # weight of the rendered-prediction loss
    mixing: float = 0.5  # share of samples whose later layers take a second w
    jitter: float = 0.1  # per-layer latent jitter, as a share of w's per-coordinate spread
    save_every: int = 250  # save progress every N steps
    real_share: float = 0.5  # share of each batch taken from real images, when they are given
    seed: int = 0  # sampled latents, augmentation and initial weights
    precision: str = "fp32"  # 'bf16': generator and encoder under bfloat16 autocast (resolved; see utils.precision)

    def __post_init__(self):
        for name in ("steps", "batch", "width", "save_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.image_loss < 0:
            raise ValueError("--lr must be positive and --image-loss >= 0")
        if not 0 <= self.real_share < 1:
            raise ValueError(f"--real-share must be in [0, 1), got {self.real_share}")


def sample_latents(g: Generator, batch: int, mixing: float, jitter: float, spread: float, gen: torch.Generator) -> torch.Tensor:
    """Training latents [B, num_ws, D]: mapped w, style-mixed with a second w, plus per-layer jitter."""
    device = next(g.parameters()).device
    z = torch.randn(2, batch, g.style_dim, generator=gen).to(device)
    with torch.no_grad():
        w1, w2 = g.mapping(z[0]), g.mapping(z[1])
    ws = w1[:, None, :].expand(-1, g.num_ws, -1).clone()
    cut = torch.randint(1, g.num_ws, (batch,), generator=gen)
    mixed = torch.rand(batch, generator=gen) < mixing
    for i in range(batch):
        if mixed[i]:
            ws[i, cut[i]:] = w2[i]
    return ws + jitter * spread * torch.randn(ws.shape, generator=gen).to(device)


def augment(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mild, content-keeping augmentation [B, 3, S, S]: sub-pixel shift, blur, contrast/brightness, noise."""
    b = images.shape[0]
    device = images.device
    rand = lambda *shape: torch.rand(*shape, generator=gen).to(device)  # noqa: E731
    # Sub-pixel shift of up to half a pixel (bilinear resampling softens the image a little too).
    theta = torch.zeros(b, 2, 3, device=device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = (rand(b, 2) - 0.5) / images.shape[-1]
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    x = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    # Blur half of the images with a small binomial kernel.
    kernel = torch.tensor([1.0, 2.0, 1.0], device=device)
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(3, 1, 3, 3)
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), kernel, groups=3)
    x = torch.where((rand(b, 1, 1, 1) < 0.5), blurred, x)
    contrast = 1 + 0.1 * (rand(b, 1, 1, 1) * 2 - 1)
    brightness = 0.05 * (rand(b, 1, 1, 1) * 2 - 1)
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - mean) * contrast + mean + brightness
    return x + 0.02 * rand(b, 1, 1, 1) * torch.randn(x.shape, generator=gen).to(device)


def _lr(step: int, steps: int, peak: float) -> float:
    t = step / max(steps, 1)
    return peak * (0.05 + 0.95 * 0.5 * (1 + torch.cos(torch.tensor(t * torch.pi)).item()))


def train_encoder(
    g: Generator,
    out: str | Path,
    options: EncoderTrainingOptions,
    source_path: str | None = None,
    real: ImageDataset | None = None,  # real images of the source domain (rendering term only)
    resume: bool = False,  # continue the training saved in `out`
    overwrite: bool = False,  # replace an existing `out`
    progress: bool = True,
) -> str:
    """Train (or resume) an encoder for `g`, saving to `out`; returns a one-line report."""
    out = Path(out)
    device = next(g.parameters()).device
    g.requires_grad_(False)
    identity = generator_identity(g)
    stats = latent_stats(g)
    spread = stats.std / g.style_dim**0.5  # per-coordinate spread of w
    step = 0
    saved = None
    if out.exists():
        if resume:
            saved = read_encoder_file(out)
            made = saved.get("generator") or {}
            if any(made.get(k) != identity[k] for k in ("size", "style_dim", "num_ws")):
                raise ValueError(f"{out}: encoder made for {describe_generator(made)}, not for {describe_generator(identity)}")
            if made.get("digest") != identity["digest"]:
                raise ValueError(f"{out}: trained for another checkpoint of this config; use another --out, or --overwrite")
            before = saved.get("training") or {}
            if before.get("images") and real is None:
                raise ValueError(f"{out}: was trained with real images from {before['images']}; resume with --images too")
            kept = before.get("options") or {}
            options = EncoderTrainingOptions(**{**kept, "steps": options.steps, "save_every": options.save_every})
        elif not overwrite:
            raise FileExistsError(f"{out}: already exists (--resume continues its training, --overwrite starts over)")
    elif resume:  # killed before its first save, or never started: begin (as `train --resume` does)
        log.info("%s: nothing saved yet; training from the beginning", out)
    torch.manual_seed(options.seed)
    encoder = Encoder(EncoderConfig.for_generator(g, noise=options.noise, width=options.width), w_avg=stats.mean).to(device)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=options.lr, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(options.seed)
    if saved is not None:
        encoder.load_state_dict(saved["state"])
        training = saved.get("training") or {}
        if training.get("optimizer"):
            optimizer.load_state_dict(training["optimizer"])
        if training.get("rng") is not None:
            gen.set_state(training["rng"])
        step = int(saved.get("step", 0))
        if step >= options.steps:
            return f"{out}: already trained for {step} steps (raise --steps to continue)"
        log.info("%s: resuming at step %d of %d", out, step, options.steps)

    saved_step = step if saved is not None else None

    def save(at: int) -> None:
        nonlocal saved_step
        training = {"options": asdict(options), "optimizer": optimizer.state_dict(), "rng": gen.get_state(),
                    "source": source_path, "images": None if real is None else str(real.source)}
        try:
            save_encoder(out, encoder, identity, at, training)
        except WriteFailed as e:  # a full disk: say what a --resume continues from
            kept = (f"{out.name} keeps the save of step {saved_step}; free space and continue with --resume"
                    if saved_step is not None else "nothing saved yet; free space and run again (--resume works too)")
            raise e.with_note(kept) from None
        saved_step = at

    stored = [n.to(device) for n in g.stored_noise()]
    variance = spread**2
    n_real = round(options.batch * options.real_share) if real is not None and options.image_loss > 0 else 0
    n_fake = options.batch - n_real

    def rendering_loss(pred_ws: torch.Tensor, pred_noise: list[torch.Tensor] | None, images: torch.Tensor) -> torch.Tensor:
        maps = [standardise(n) for n in pred_noise] if pred_noise is not None else stored
        rendered = g.synthesis(pred_ws, noise=maps).float()
        return (rendered - images).abs().mean() + (rendered - images).square().mean()

    last = {}
    encoder.train()
    bar = tqdm(total=options.steps, initial=step, desc="encoder", unit="step", disable=None if progress else True)
    try:
        while step < options.steps:
            ws = sample_latents(g, n_fake, options.mixing, options.jitter, spread, gen)
            noise = [torch.randn(n_fake, 1, r, r, generator=gen).to(device) for r in g.noise_resolutions()]
            with torch.no_grad(), autocast(options.precision, device):
                clean = g.synthesis(ws, noise=noise).float()
            if n_real:
                picked = torch.randint(len(real), (n_real,), generator=gen)
                clean = torch.cat([clean, real.batch(picked, device=device)])
            with autocast(options.precision, device):  # the losses themselves are float32
                pred_ws, pred_noise = encoder(augment(clean, gen))
                pred_ws = pred_ws.float()
                image_loss = torch.zeros(())
                if options.image_loss > 0:
                    image_loss = rendering_loss(pred_ws, pred_noise, clean)
            latent_loss = (pred_ws[:n_fake] - ws).square().mean() / variance
            loss = latent_loss + options.image_loss * image_loss.float() if options.image_loss > 0 else latent_loss
            for group in optimizer.param_groups:
                group["lr"] = _lr(step, options.steps, options.lr)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            bar.update(1)
            faults.reached("step")
            last = {"latent": latent_loss.item(), "image": image_loss.item()}
            if step % 10 == 0:
                bar.set_postfix(latent=f"{last['latent']:.3f}", image=f"{last['image']:.4f}")
            if step % options.save_every == 0 or step == options.steps:
                save(step)
                log.info("step %d/%d  latent loss %.3f  image loss %.4f  (saved %s)", step, options.steps,
                         last["latent"], last["image"], out)
    except KeyboardInterrupt:
        if step > 0:
            save(step)  # Ctrl-C keeps the progress: --resume continues from here
            log.warning("%s: interrupted at step %d; saved, continue with --resume", out, step)
        raise
    finally:
        bar.close()
    return (f"wrote {out} ({step} steps; last latent loss {last.get('latent', float('nan')):.3f}, "
            f"image loss {last.get('image', float('nan')):.4f})")
