"""`freezeg train` (StyleGAN2 from scratch) and `freezeg finetune` (with frozen layers).

Both also run under `torchrun --nproc_per_node N -m freezeg train|finetune ...`.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import fields

from ..models.networks import ModelConfig
from ..train import distributed as ddp
from ..train.loop import Trainer
from ..train.options import TrainOptions, parse_channels
from ..train.recovery import TrainingDiverged
from ..train.run import RunFolder
from ..train.signals import StopRequested
from ..utils.devices import resolve_device
from .common import add_common, add_precision_argument
from .inspect import add_freeze_options, freeze_spec_from_args

log = logging.getLogger("freezeg")

EXIT_STOPPED = 130
_DEFAULTS = {f.name: f.default for f in fields(TrainOptions) if not callable(f.default)}
# Options a resumed run may change; everything else comes from the run's run.json.
ARCHITECTURE_FLAGS = ("size", "style_dim", "n_mlp", "channel_multiplier")  # `freezeg train` only
RESUMABLE = ("steps", "device", "precision", "ckpt_every", "sample_every", "log_every", "keep", "nan_patience", "eval_images")


def _add_training_options(p: argparse.ArgumentParser) -> None:
    """Flags shared by train and finetune; defaults are None so a resume can tell what was given."""
    p.add_argument("--out", required=True, help="run folder, e.g. runs/NAME (checkpoints, samples, logs)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start over in a folder that holds a run")
    add_training_groups(p)


def add_training_groups(p: argparse.ArgumentParser) -> None:
    """Schedule, regularisation, augmentation and bookkeeping flags (train, finetune, sweep); defaults None."""
    g = p.add_argument_group("schedule")
    g.add_argument("--steps", type=int, help=f"total iterations (default {_DEFAULTS['steps']})")
    g.add_argument("--batch", type=int, help=f"global batch size, split over processes (default {_DEFAULTS['batch']})")
    g.add_argument("--lr", type=float, help=f"Adam learning rate (default {_DEFAULTS['lr']})")
    g = p.add_argument_group("regularisation")
    g.add_argument("--r1", dest="r1_gamma", type=float, help=f"R1 gamma (default {_DEFAULTS['r1_gamma']})")
    g.add_argument("--d-reg-every", type=int, help=f"lazy R1 interval, 0 = off (default {_DEFAULTS['d_reg_every']})")
    g.add_argument("--path-reg", dest="path_weight", type=float, help=f"path-length weight (default {_DEFAULTS['path_weight']})")
    g.add_argument("--g-reg-every", type=int, help=f"lazy path-length interval, 0 = off (default {_DEFAULTS['g_reg_every']})")
    g.add_argument("--mixing", type=float, help=f"style-mixing probability (default {_DEFAULTS['mixing']})")
    g.add_argument("--ema-kimg", type=float, help=f"g_ema half-life in thousands of images (default {_DEFAULTS['ema_kimg']})")
    g.add_argument("--ema-rampup", type=float, help=f"g_ema ramp-up fraction (default {_DEFAULTS['ema_rampup']})")
    g = p.add_argument_group("augmentation")
    g.add_argument("--augment", help="ada (adaptive), fixed:P, or none (default ada)")
    g.add_argument("--ada-target", type=float, help=f"ADA target for E[sign(D(real))] (default {_DEFAULTS['ada_target']})")
    g.add_argument("--ada-kimg", type=float, help=f"thousands of images for p to move by 1 (default {_DEFAULTS['ada_kimg']})")
    g.add_argument("--xflip", action="store_true", default=None, help="also train on mirrored images")
    g = p.add_argument_group("bookkeeping")
    g.add_argument("--seed", type=int, help="random seed (default 0)")
    g.add_argument("--deterministic", action="store_true", default=None,
                   help="deterministic algorithms (a resumed run then reproduces an uninterrupted one)")
    g.add_argument("--ckpt-every", type=int, help=f"checkpoint interval in iterations (default {_DEFAULTS['ckpt_every']})")
    g.add_argument("--keep", type=int, help=f"periodic checkpoints kept (default {_DEFAULTS['keep']})")
    g.add_argument("--eval-images", type=int,
                   help=f"images for the SWD score at each checkpoint that picks best.pt; 0 = off (default {_DEFAULTS['eval_images']})")
    g.add_argument("--sample-every", type=int, help=f"sample-grid interval (default {_DEFAULTS['sample_every']})")
    g.add_argument("--sample-seeds", type=int, help=f"latents in each sample grid (default {_DEFAULTS['sample_seeds']})")
    g.add_argument("--log-every", type=int, help=f"log interval (default {_DEFAULTS['log_every']})")
    g.add_argument("--nan-patience", type=int,
                   help=f"non-finite iterations in a row before reloading the last checkpoint (default {_DEFAULTS['nan_patience']})")
    add_precision_argument(g)
    g.add_argument("--cache-dir", help="where decoded datasets are cached (default runs/cache)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a StyleGAN2 from scratch",
                       description="Train a StyleGAN2 (config F) on an image folder, zip or prepared dataset.")
    p.add_argument("data", nargs="?", help="image folder, zip or prepared dataset (optional with --resume)")
    p.add_argument("--size", type=int, help="resolution in pixels (power of two, 8..1024)")
    p.add_argument("--style-dim", type=int, help="dimension of z and w (default 512)")
    p.add_argument("--n-mlp", type=int, help="mapping layers (default 8)")
    p.add_argument("--channel-multiplier", type=int, help="channel multiplier (default 2)")
    p.add_argument("--channels", help="per-resolution channels, e.g. 4:64,8:64,16:32,32:32")
    _add_training_options(p)
    add_common(p)
    p.set_defaults(func=run_train, finetune=False)

    p = sub.add_parser("finetune", help="fine-tune a pretrained generator with frozen layers",
                       description="Fine-tune a checkpoint (rosinality or freezeg) on a target domain while "
                                   "chosen layers stay frozen (FreezeG, FreezeD, mapping, style affines).")
    p.add_argument("data", nargs="?", help="target-domain images (optional with --resume)")
    p.add_argument("--from", dest="source", help="checkpoint to fine-tune (rosinality train/convert format or ours)")
    p.add_argument("--size", type=int, help="must match the checkpoint when given")
    add_freeze_options(p)
    _add_training_options(p)
    add_common(p)
    p.set_defaults(func=run_train, finetune=True)


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    """TrainOptions from the command line, or from the run folder's run.json with --resume."""
    given = given_options(args)
    architecture = {} if args.finetune else architecture_flags(args, given)
    if args.resume and args.data is not None and not RunFolder(args.out).has_run():
        # Killed before run.json was written (or never started): the same command starts it.
        log.info("%s: no run to resume yet; starting it", args.out)
        args.resume = False
    if args.resume:
        stored = TrainOptions.from_dict(RunFolder(args.out).read_options())
        if args.data is not None and args.data != stored.data:
            raise ValueError(f"{args.out}: the run trains on {stored.data}; resume it without DATA or with the same")
        ignored = [k for k in given if k not in RESUMABLE and k != "data" and given[k] != getattr(stored, k)]
        ignored += [k for k, v in architecture.items() if not _same_architecture(stored.model, k, v)]
        if ignored:
            log.warning("resuming with the run's own settings; ignoring --%s",
                        ", --".join(sorted(k.replace("_", "-") for k in ignored)))
        for k in RESUMABLE:
            if k in given:
                setattr(stored, k, given[k])
        stored.out = args.out
        return stored
    if args.data is None:
        raise ValueError("give the training images (DATA), or --resume an existing run")
    if args.finetune:
        if not args.source:
            raise ValueError("finetune needs --from CKPT (the pretrained checkpoint)")
        given["freeze"] = freeze_spec_from_args(args)
    else:
        if "size" not in architecture:
            raise ValueError("training from scratch needs --size (the model's resolution)")
        given["model"] = ModelConfig(**architecture)
    return TrainOptions(out=args.out, **given)


def given_options(args: argparse.Namespace) -> dict:
    """The TrainOptions fields given on the command line (model, freeze and out are built apart)."""
    return {f.name: getattr(args, f.name) for f in fields(TrainOptions)
            if f.name not in ("model", "freeze", "out") and getattr(args, f.name, None) is not None}


def architecture_flags(args: argparse.Namespace, given: dict) -> dict:
    """`freezeg train`'s model flags that were given, as ModelConfig fields (--size leaves `given`)."""
    flags = {k: getattr(args, k) for k in ARCHITECTURE_FLAGS if getattr(args, k, None) is not None}
    given.pop("size", None)
    if args.channels is not None:
        flags["channels"] = parse_channels(args.channels)
    return flags


def _same_architecture(model: ModelConfig | None, flag: str, value) -> bool:
    if model is None:
        return False
    if flag == "channels":  # a partial table matches when each resolution it names agrees
        table = model.channel_table()
        return all(table.get(res) == ch for res, ch in (value or {}).items())
    return getattr(model, flag) == value


def run_train(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    info = ddp.init_from_env(resolve_device(options.device).type)
    if not info.is_main:
        logging.getLogger("freezeg").setLevel(logging.WARNING)
    try:
        trainer = Trainer(options, resume=args.resume, overwrite=args.overwrite, info=info)
        step = trainer.train()
    except StopRequested as e:
        if info.is_main:
            log.warning("%s", e)
        return EXIT_STOPPED
    except TrainingDiverged as e:
        log.error("freezeg: error: %s", e)
        return 1
    finally:
        ddp.shutdown()
    if info.is_main:
        log.info("done: %d iterations; checkpoints in %s", step, trainer.run.checkpoints)
    return 0
