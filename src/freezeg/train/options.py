"""Every setting of a training or fine-tuning run, with StyleGAN2's defaults.

Defaults follow Karras et al. 2020 (config F) as rosinality's train.py uses them: Adam lr
0.002 with betas (0, 0.99), R1 gamma 10 every 16 D steps, path-length weight 2 every 4 G
steps, style mixing 0.9; the EMA half-life and ramp-up follow NVlabs' StyleGAN2-ADA.
A run stores its options in run.json, so `--resume` continues with exactly these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

from ..models.freeze import FreezeSpec
from ..models.networks import ModelConfig
from ..utils.precision import PRECISIONS


@dataclass
class TrainOptions:
    """Settings of one run (from scratch when `source` is None, else fine-tuning `source`)."""

    data: str  # image folder, zip or prepared dataset
    out: str  # run folder
    source: str | None = None  # checkpoint to fine-tune
    # The architecture of a run from scratch; a fine-tune takes its source's (model stays None)
    model: ModelConfig | None = None
    size: int | None = None  # fine-tuning only: the resolution the source must have (None: any)
    # What trains
    freeze: FreezeSpec = field(default_factory=FreezeSpec)
    # Schedule
    steps: int = 10000  # total iterations (one D step + one G step each)
    batch: int = 16  # global batch size, split over the processes
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    # Regularisation
    r1_gamma: float = 10.0
    d_reg_every: int = 16  # lazy R1 interval (0: no R1)
    path_weight: float = 2.0
    g_reg_every: int = 4  # lazy path-length interval (0: no path-length regularisation)
    path_batch_shrink: int = 2
    path_decay: float = 0.01
    mixing: float = 0.9  # style-mixing probability
    # EMA of G
    ema_kimg: float = 10.0  # half-life of g_ema in thousands of images
    ema_rampup: float | None = 0.05  # half-life at most this fraction of the images seen (None: off)
    # Augmentation
    augment: str = "ada"  # ada | fixed:P | none
    ada_target: float = 0.6
    ada_kimg: float = 500.0  # thousands of images over which ADA's p can move by 1
    xflip: bool = False  # dataset x-flips
    # Bookkeeping
    seed: int = 0
    deterministic: bool = False
    ckpt_every: int = 1000
    sample_every: int = 500
    log_every: int = 50
    keep: int = 3  # periodic checkpoints kept (plus best.pt)
    eval_images: int = 1000  # SWD of g_ema vs the data at each checkpoint, for best.pt (0: off)
    sample_seeds: int = 16  # fixed latents in sample grids
    nan_patience: int = 3  # consecutive non-finite steps before reloading the last checkpoint
    precision: str = "auto"  # auto | bf16 | fp32 (freezeg.utils.precision); the resolved one is in checkpoints
    device: str = "auto"
    cache_dir: str | None = None

    def validate(self) -> None:
        """Raise ValueError for settings that cannot work (before anything is built)."""
        positive = {"steps": self.steps, "batch": self.batch, "ckpt_every": self.ckpt_every,
                    "sample_every": self.sample_every, "log_every": self.log_every, "keep": self.keep,
                    "nan_patience": self.nan_patience, "path_batch_shrink": self.path_batch_shrink}
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        for name in ("d_reg_every", "g_reg_every", "sample_seeds", "eval_images"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"--lr must be a positive number, got {self.lr}")
        if not 0.0 <= self.mixing <= 1.0:
            raise ValueError(f"--mixing must be a probability in [0, 1], got {self.mixing}")
        if self.ema_kimg < 0 or (self.ema_rampup is not None and self.ema_rampup <= 0):
            raise ValueError("--ema-kimg must be >= 0 and --ema-rampup > 0")
        if self.r1_gamma < 0 or self.path_weight < 0:
            raise ValueError("--r1 and --path-reg weights must be >= 0")
        if self.source is None and self.model is None:
            raise ValueError("training from scratch needs --size (the model's resolution)")
        if self.source is not None and self.model is not None:
            raise ValueError("a fine-tune takes its architecture from the source checkpoint; give no model")
        if self.model is not None and self.size is not None and self.size != self.model.size:
            raise ValueError(f"--size {self.size} differs from the model's {self.model.size}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def resolution(self) -> int | None:
        """The model's resolution when known before the source is read."""
        return self.model.size if self.model is not None else self.size

    def to_dict(self) -> dict:
        """run.json's flat layout: the model's keys (size, style_dim, ...) beside the options."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        d["freeze"] = self.freeze.to_dict()
        d["betas"] = list(self.betas)
        if self.model is not None:
            d.update(self.model.to_dict())
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainOptions":
        d = dict(d)
        if "precision" not in d:  # run.json before --precision: `amp` (bf16) or float32
            d["precision"] = "bf16" if d.get("amp") else "fp32"
        # Runs from scratch keep their architecture in the flat keys; a fine-tune's are ignored
        # (older run.json files wrote the unused defaults there).
        model = ModelConfig.from_dict(d) if d.get("source") is None and d.get("size") is not None else None
        known = {f.name for f in fields(cls)} - {"model"}
        d = {k: v for k, v in d.items() if k in known}
        if model is not None:
            d["size"] = None
        d["freeze"] = FreezeSpec.from_dict(d.get("freeze"))
        if d.get("betas") is not None:
            d["betas"] = tuple(float(b) for b in d["betas"])
        return cls(model=model, **d)


def parse_channels(text: str | None) -> dict[int, int] | None:
    """'4:64,8:64,16:32' -> {4: 64, 8: 64, 16: 32} (per-resolution channel counts)."""
    if text is None or not str(text).strip():
        return None
    table = {}
    for part in str(text).split(","):
        try:
            res, ch = part.split(":")
            table[int(res)] = int(ch)
        except ValueError:
            raise ValueError(f"--channels: cannot read {part.strip()!r} (use RES:CHANNELS pairs, e.g. 4:64,8:64,16:32)") from None
    return table
