"""What a training checkpoint holds besides the weights: rosinality's `args` and freezeg's metadata.

The layout is rosinality's train format (g, d, g_ema, g_optim, d_optim, args, ada_aug_p) plus
a `freezeg` dict, so rosinality's scripts read our files and `--resume` finds everything that
carries over from one iteration to the next.
"""

from __future__ import annotations

from ..models.networks import ModelConfig
from .augment import AdaptiveAugment
from .batches import RNG_SCHEME
from .options import TrainOptions
from .recovery import NonFiniteGuard

OPTIMIZER_LAYOUT = "all parameters in named_parameters order (rosinality)"


def checkpoint_args(options: TrainOptions, config: ModelConfig) -> dict:
    """The run's options with the model's actual config (a fine-tune's comes from its source).

    rosinality spells the latent width `latent`; both names are given.
    """
    model = config.to_dict()
    return {**options.to_dict(), **model, "latent": model["style_dim"]}


def train_state(mean_path_length: float, guard: NonFiniteGuard, best_swd: float | None,
                augment: AdaptiveAugment | None) -> dict:
    """The loop's bookkeeping that a resumed run continues with (checkpoint meta "train_state")."""
    return {
        "mean_path_length": mean_path_length,
        "lr_scale": guard.lr_scale,
        "recoveries": guard.recoveries,
        "best_swd": best_swd,
        "augment": augment.get_extra_state() if augment is not None else None,
    }


def checkpoint_meta(options: TrainOptions, step: int, dataset_fingerprint: str, dataset_images: int,
                    world_size: int, state: dict, precision: str) -> dict:
    """freezeg's metadata of a training checkpoint at `step` (docs/formats.md lists every key)."""
    return {
        "step": step,
        "kimg": step * options.batch / 1000,
        "freeze": options.freeze.to_dict(),
        "source": options.source,
        "dataset": {"path": options.data, "fingerprint": dataset_fingerprint, "images": dataset_images},
        "world_size": world_size,
        "rng": RNG_SCHEME,
        "optimizer_layout": OPTIMIZER_LAYOUT,
        "precision": precision,  # what the networks computed in ('bf16' or 'fp32'); weights are float32
        "train_state": state,
    }
