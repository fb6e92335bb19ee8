"""What a sweep runs: freeze settings, shared training options, what to measure, and the
checks that refuse bad input before any training starts.

A setting is one (--freeze-g N, --freeze-d K, --coarse-rgb) triple; a sweep is the grid of the
levels given.
Level 0 freezes nothing (freeze.FreezeSpec), so `--freeze-g 0` is the full fine-tune every
other setting is compared with. Every setting trains with the same options (budget, batch,
seed, augmentation): only what is frozen differs.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.dataset import open_dataset
from ..data.images import ImageReadError
from ..inversion.pipeline import Inversion
from ..inversion.recipes import recipe_of
from ..models.checkpoint import load_checkpoint
from ..models.freeze import FreezeSpec
from ..models.networks import ModelConfig
from ..train.options import TrainOptions
from ..translate import collect_inputs, read_target
from ..utils.ranges import int_range

PLAN_FILE = "plan.json"
MIN_REALISM_IMAGES = 10  # fewer real images than this make realism statistics meaningless
DEFAULT_REALISM_IMAGES = 1000  # images per set for realism, when DATA holds that many
FID_MIN_IMAGES = 2048  # FID's covariance is singular below the feature dimension (2048)
# Options that may differ between runs of one sweep without changing its results.
_BOOKKEEPING = ("out", "freeze", "device", "cache_dir", "ckpt_every", "sample_every", "log_every", "keep",
                "nan_patience")


def parse_levels(text: str, flag: str) -> list[int]:
    """'0,1,2' or '0-3' -> [0, 1, 2(, 3)]: distinct freeze levels in the order given."""
    levels: list[int] = []
    for part in str(text).split(","):
        bounds = int_range(part)
        if bounds is None or bounds[1] < bounds[0]:
            raise ValueError(f"{flag} {text}: cannot read {part.strip()!r} (use levels like 0,1,2,3 or 0-3)")
        levels += [v for v in range(bounds[0], bounds[1] + 1) if v not in levels]
    return levels


@dataclass(frozen=True)
class Setting:
    """One cell of the sweep: a FreezeG level, an optional FreezeD level (0: nothing frozen) and
    whether the frozen G blocks' toRGB layers train."""

    g: int  # --freeze-g: train only the top g blocks of G (0: all of G trains)
    d: int | None = None  # --freeze-d: train only the last d blocks of D and its head (None/0: all of D)
    rgb: bool = False  # --coarse-rgb train: the frozen G blocks' toRGB layers train too

    @property
    def label(self) -> str:
        """Its name in tables and its folder name: g2, g2-d1 when --freeze-d was given, g2-rgb
        (g2-d1-rgb) when the frozen blocks' toRGB trains."""
        return f"g{self.g}" + ("" if self.d is None else f"-d{self.d}") + ("-rgb" if self.rgb else "")

    @property
    def spec(self) -> FreezeSpec:
        return FreezeSpec(g_top_blocks=self.g, d_last_blocks=self.d, coarse_rgb=self.rgb)

    def frozen_blocks(self, config: ModelConfig) -> tuple[int, int]:
        """(frozen G blocks, frozen D blocks): what "more frozen" means when recommending."""
        n_g, n_d = len(config.resolutions), len(config.resolutions) - 1
        return (n_g - self.g if self.g else 0), (n_d - self.d if self.d else 0)

    def describe(self, config: ModelConfig) -> tuple[str, str]:
        """What trains, in resolutions: ('16-32px', '8-16px + head') for g2-d2 of a 32px model."""
        res = config.resolutions
        g = "all + mapping" if not self.g else _span(res[-self.g :]) + (" + toRGB below" if self.rgb else "")
        d_blocks = list(reversed(res[1:]))  # D's blocks below the head, from full resolution down
        d = "all" if not self.d else f"{_span(d_blocks[-self.d :])} + head"
        return g, d


def _span(resolutions: list[int]) -> str:
    lo, hi = min(resolutions), max(resolutions)
    return f"{lo}px" if lo == hi else f"{lo}-{hi}px"


def settings_grid(g_levels: list[int], d_levels: list[int] | None, rgb_modes: list[bool] | None = None) -> list[Setting]:
    """Every (g, d, rgb) combination, in the order given (G levels outer). A full fine-tune of G
    (g 0) has no frozen blocks, so it appears once, without the toRGB variant."""
    modes = rgb_modes or [False]
    return [Setting(g, d, rgb) for g in g_levels for rgb in (modes if g else [False]) for d in (d_levels or [None])]


def parse_coarse_rgb(text: str) -> list[bool]:
    """'freeze', 'train' or 'freeze,train' -> [False], [True], [False, True]."""
    modes = [part.strip() for part in str(text).split(",")]
    if not modes or any(m not in ("freeze", "train") for m in modes) or len(set(modes)) != len(modes):
        raise ValueError(f"--coarse-rgb {text}: use freeze, train or freeze,train")
    return [m == "train" for m in modes]


@dataclass
class SweepPlan:
    """Everything a sweep needs; `check()` validates it against the files before training."""

    data: str  # target-domain images (what every setting fine-tunes on, and realism's reference)
    source: str  # the pretrained checkpoint every setting starts from
    out: str  # sweep folder
    settings: list[Setting]
    train: TrainOptions  # shared training options (out and freeze are set per setting)
    n: int | None = None  # images per set for realism (default: DATA's, at most 1000)
    kid_subset_size: int | None = None  # default: half of n, at most 1000
    structure_seeds: int = 64  # latents rendered by source and fine-tuned generators for structure/LPIPS
    grid_seeds: int = 8  # latents in the pairs grid
    pairs: tuple[str, str] | None = None  # (source-domain test images, their true target renderings)
    inversion: Inversion | None = None  # how --pairs images are projected (default: translate's defaults)
    tolerance: float = 0.10  # recommendation: realism within this share of the best
    inception: str | None = None  # FID Inception weights (else $FREEZEG_INCEPTION, the hub cache, or none)
    swd_only: bool = False  # skip KID/FID even when the Inception network is available (a quick sweep)
    lpips_vgg: str | None = None  # LPIPS weights (else the usual places, or none)
    lpips_lin: str | None = None

    def to_dict(self) -> dict:
        """What identifies the sweep's results: a rerun with other values is refused (plan.json)."""
        train = {k: v for k, v in self.train.to_dict().items() if k not in _BOOKKEEPING}
        return {
            "data": self.data, "source": self.source, "train": train, "n": self.n,
            "kid_subset_size": self.kid_subset_size, "structure_seeds": self.structure_seeds,
            "grid_seeds": self.grid_seeds, "pairs": list(self.pairs) if self.pairs else None,
            "projection": self.projection_record() if self.pairs else None,
        }

    def projection_record(self) -> dict:
        """The projection's options and distance (what its latents depend on)."""
        inversion = self.inversion or Inversion(distance=None)  # the default projection (distance made later)
        record = {"recipe": recipe_of(inversion.options), **dataclasses.asdict(inversion.options), "loss": inversion.loss}
        if inversion.encoder is not None:
            record["init"] = inversion.encoder.path
        return record

    def setting_options(self, setting: Setting) -> TrainOptions:
        """The training options of one setting: the shared ones, its folder and its freeze spec."""
        return dataclasses.replace(self.train, out=str(Path(self.out) / setting.label), freeze=setting.spec,
                                   source=self.source, data=self.data)


@dataclass
class CheckedPlan:
    """What the checks read, kept for the run: the model config, image counts and the paired images."""

    config: ModelConfig
    n: int  # images per set for realism
    kid_subset_size: int
    names: list[str] = field(default_factory=list)  # pair names (with --pairs)
    inputs: np.ndarray | None = None  # uint8 [P, S, S, 3] source-domain test images
    truths: np.ndarray | None = None  # uint8 [P, S, S, 3] their true target renderings
    notes: list[str] = field(default_factory=list)


def check_plan(plan: SweepPlan, overwrite: bool = False) -> CheckedPlan:
    """Refuse, with one line each, what would fail or mislead later: levels that do not fit the
    model, too few images for the statistics asked for, unpaired --pairs folders, or an --out
    folder holding a different sweep. Reads no more than it must; trains nothing."""
    if not plan.settings:
        raise ValueError("give at least one --freeze-g level")
    ckpt = load_checkpoint(plan.source)
    if ckpt.config is None or not any(ckpt.has(k) for k in ("g", "g_ema")):
        raise ValueError(f"{plan.source}: holds no generator to fine-tune")
    config = ckpt.config
    for setting in plan.settings:
        setting.spec.validate(config)
    if any(s.d for s in plan.settings) and not ckpt.has("d"):
        raise ValueError(f"{plan.source}: has no discriminator, so --freeze-d has nothing pretrained to freeze")
    plan.setting_options(plan.settings[0]).validate()  # the shared options, with the source
    for name in ("structure_seeds", "grid_seeds"):
        if getattr(plan, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= plan.tolerance < 10:
        raise ValueError(f"--tolerance must be a share such as 0.1, got {plan.tolerance}")

    data = open_dataset(plan.data, config.size, cache_dir=plan.train.cache_dir)
    if plan.n is not None and plan.n > len(data):
        raise ValueError(f"{plan.data}: has {len(data)} images, fewer than the --n {plan.n} that realism should compare")
    n = plan.n if plan.n is not None else min(len(data), DEFAULT_REALISM_IMAGES)
    if n < MIN_REALISM_IMAGES:
        raise ValueError(f"{plan.data}: {n} images are too few for realism statistics (at least {MIN_REALISM_IMAGES})")
    kid_size = plan.kid_subset_size if plan.kid_subset_size is not None else min(DEFAULT_REALISM_IMAGES, max(2, n // 2))
    if not 2 <= kid_size <= n:
        raise ValueError(f"--kid-subset-size {kid_size}: must be from 2 to the {n} images compared")
    checked = CheckedPlan(config, n, kid_size)
    if plan.pairs:
        _check_pairs(plan.pairs, config.size, checked)
    _check_out(plan, overwrite)
    return checked


def _check_pairs(pairs: tuple[str, str], size: int, checked: CheckedPlan) -> None:
    """Both folders exist, hold images with exactly the same names, and every image reads."""
    found = []
    for folder in pairs:
        if not Path(folder).is_dir():
            raise ValueError(f"{folder}: no such folder (--pairs SRC_DIR TGT_DIR)")
        inputs = collect_inputs([folder], kinds=("image",))
        if not inputs.items:
            raise ValueError(f"{folder}: no images (--pairs SRC_DIR TGT_DIR)")
        found.append({item.name: item.path for item in inputs.items})
    src, tgt = found
    if set(src) != set(tgt):
        only_src, only_tgt = sorted(set(src) - set(tgt)), sorted(set(tgt) - set(src))
        parts = [f"{len(names)} only in {folder} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                 for names, folder in ((only_src, pairs[0]), (only_tgt, pairs[1])) if names]
        raise ValueError(f"--pairs {pairs[0]} {pairs[1]}: names do not match: {'; '.join(parts)}")
    checked.names = sorted(src)
    arrays = []
    for keyed in (src, tgt):
        images = []
        for name in checked.names:
            try:
                image, note = read_target(keyed[name], size)
            except ImageReadError as e:
                raise ValueError(f"{e} (--pairs images must all be readable)") from None
            if note:
                checked.notes.append(note)
            images.append(image)
        arrays.append(np.stack(images))
    checked.inputs, checked.truths = arrays


def _check_out(plan: SweepPlan, overwrite: bool) -> None:
    out = Path(plan.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    path = out / PLAN_FILE
    if overwrite or not path.exists():
        return
    try:
        before = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the plan of the sweep in this folder ({e})") from None
    now = json.loads(json.dumps(plan.to_dict()))  # the same JSON round trip the stored plan took
    changed = sorted(k for k in now if before.get(k) != now[k])
    if changed:
        detail = changed[0]
        if changed[0] == "train":
            detail = ", ".join(f"--{k.replace('_', '-')}" for k in sorted(now["train"])
                               if before["train"].get(k) != now["train"][k]) or "training options"
        raise ValueError(f"{out}: holds a sweep made with other settings ({detail}); "
                         "use another --out, or --overwrite to start over")

