"""`freezeg bench`: median seconds and peak memory of the workloads that matter for speed.

Workload names are fixed: runs on the same machine (ours, rosinality/stylegan2-pytorch's)
are compared side by side as ratios. Each workload is a setup function that builds its
models and inputs once and returns a step callable; the registry below maps names to
setups, so adding a workload is one `register(...)` line.

Each workload runs in its own Python subprocess so that its peak memory is its own:
- CPU (and MPS): peak resident set size of that process minus its size just before setup,
  i.e. models, optimizer state and activations, without the interpreter and torch itself.
- CUDA: `torch.cuda.max_memory_allocated` during setup, warm-up and the timed steps.
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from ..app.studio import RenderSettings, Studio
from ..data.synthetic import write_domain
from ..inversion.distances import make_distance
from ..inversion.latents import Latent, latent_stats
from ..inversion.pipeline import Inversion
from ..inversion.pivotal import PivotalTuner, SharedBlocks, TuningOptions
from ..inversion.recipes import make_projector
from ..inversion.staged import StagedOptions
from ..inversion.stylegan2 import ProjectionOptions, Projector
from ..models.checkpoint import load_checkpoint
from ..models.convert import convert
from ..models.freeze import FreezeSpec, apply_generator_freeze, trainable_parameters
from ..models.networks import Discriminator, Generator, ModelConfig
from ..models.nvlabs.exporter import nvlabs_state_dicts
from ..models.nvlabs.writer import snapshot, write_network_pickle
from ..stylize import StyleLoss, StylizeOptions, stylize_generator
from ..train.loop import Trainer
from ..train.losses import d_logistic_loss, g_nonsaturating_loss, r1_penalty
from ..train.options import TrainOptions
from ..utils.precision import autocast, native_bf16

DEFAULT_THREADS = 2
DEFAULT_REPEAT = 5
DEFAULT_WARMUP = 1
ADAM_BETAS = (0.0, 0.99)  # StyleGAN2's Adam betas (rosinality train.py without lazy-reg scaling)
LEARNING_RATE = 0.002
R1_GAMMA = 10.0  # R1 weight (rosinality's --r1 default)
D_REG_EVERY = 16  # lazy regularisation interval (the R1 loss is scaled by it)
NOISE_REG_WEIGHT = 1e5  # projector's noise regularisation weight (rosinality projector.py)
MEMORY_METHOD = {
    "cuda": "torch.cuda.max_memory_allocated over setup, warm-up and timed steps",
    "cpu": "peak RSS of the workload's own process minus its RSS before setup",
}

Step = Callable[[], None]


@dataclass
class Workload:
    """A named benchmark: `setup(device)` builds everything and returns one step to time."""

    name: str
    setup: Callable[[torch.device], Step]
    description: str
    missing: Callable[[], str | None] | None = None  # why it cannot run here (an optional extra), or None
    flops: float | None = None  # floating-point operations per step, where known (the table shows GFLOP/s)


WORKLOADS: dict[str, Workload] = {}


def register(name: str, description: str, setup: Callable[[torch.device], Step],
             missing: Callable[[], str | None] | None = None, flops: float | None = None) -> Workload:
    """Add a workload (names are compared across implementations: never rename one). `missing`
    says what an optional workload lacks on this machine; then it is skipped with that note."""
    if name in WORKLOADS:
        raise ValueError(f"workload {name!r} is registered twice")
    WORKLOADS[name] = Workload(name, setup, description, missing, flops)
    return WORKLOADS[name]


# ---------------------------------------------------------------------------- model configs
def config_256() -> ModelConfig:
    """FFHQ-256 config F: style 512, 8 mapping layers, channel multiplier 2."""
    return ModelConfig(size=256, style_dim=512, n_mlp=8, channel_multiplier=2)


def config_64() -> ModelConfig:
    """64px with channel multiplier 1 and the default channel table."""
    return ModelConfig(size=64, style_dim=512, n_mlp=8, channel_multiplier=1)


def _models(config: ModelConfig, device: torch.device, with_d: bool = True):
    torch.manual_seed(0)
    g = Generator(config).to(device)
    d = Discriminator(config).to(device) if with_d else None
    return g, d


def _adam(params) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=LEARNING_RATE, betas=ADAM_BETAS)


# ---------------------------------------------------------------------------- step builders
def conv3x3(channels: int, side: int, batch: int, device: torch.device) -> Step:
    """One 3x3 convolution, channels in = out, channels-last, no grad: the machine's limit for
    the layers StyleGAN2 spends its time in (compare a workload's speed with it)."""
    torch.manual_seed(0)
    conv = nn.Conv2d(channels, channels, 3, padding=1).to(device, memory_format=torch.channels_last)
    conv.requires_grad_(False)
    x = torch.randn(batch, channels, side, side, device=device).to(memory_format=torch.channels_last)

    def step():
        with torch.no_grad():
            conv(x)

    return step


def generator_forward(config: ModelConfig, batch: int, device: torch.device) -> Step:
    """Mapping + synthesis with fresh noise, no autograd graph."""
    g, _ = _models(config, device, with_d=False)
    g.eval().requires_grad_(False)
    z = torch.randn(batch, config.style_dim, device=device)

    def step():
        with torch.no_grad():
            g(z)

    return step


def generator_train_step(config: ModelConfig, batch: int, device: torch.device, freeze: FreezeSpec | None = None) -> Step:
    """Non-saturating G loss through D (D frozen for this step), backward, Adam step."""
    g, d = _models(config, device)
    d.requires_grad_(False)  # the G step needs gradients through D, not for D's weights
    if freeze is not None:
        apply_generator_freeze(g, freeze)
    optim = _adam(trainable_parameters(g))
    z = torch.randn(batch, config.style_dim, device=device)

    def step():
        loss = g_nonsaturating_loss(d(g(z)))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    return step


def discriminator_step(config: ModelConfig, batch: int, device: torch.device) -> Step:
    """Logistic D loss on reals and fresh fakes (G frozen for this step), backward, Adam step."""
    g, d = _models(config, device)
    g.requires_grad_(False)
    optim = _adam(trainable_parameters(d))
    z = torch.randn(batch, config.style_dim, device=device)
    real = torch.randn(batch, 3, config.size, config.size, device=device)

    def step():
        fake = g(z)
        loss = d_logistic_loss(d(real), d(fake))
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    return step


def discriminator_r1_step(config: ModelConfig, batch: int, device: torch.device) -> Step:
    """Lazy R1 step: gamma/2 * R1 * interval on reals, backward (double backprop), Adam step."""
    _, d = _models(config, device)
    optim = _adam(trainable_parameters(d))
    real = torch.randn(batch, 3, config.size, config.size, device=device)

    def step():
        x = real.detach().requires_grad_(True)
        logits = d(x)
        # `0 * logits[0]` keeps every D output in the graph, as rosinality's train.py does.
        loss = R1_GAMMA / 2 * r1_penalty(logits, x) * D_REG_EVERY + 0 * logits[0]
        optim.zero_grad(set_to_none=True)
        loss.sum().backward()
        optim.step()

    return step


class PixelMSE(nn.Module):
    """Per-image mean squared error [B]: the distance of the `proj_step_*` workloads."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x - y).square().mean(dim=[1, 2, 3])


def projection_step(config: ModelConfig, batch: int, device: torch.device) -> Step:
    """One W+ projection step of `batch` images at once (freezeg.inversion.stylegan2.Projector): pixel MSE
    + the noise penalty, Adam on the per-layer latents and the noise maps; G gets no gradient."""
    g, _ = _models(config, device, with_d=False)
    g.eval().requires_grad_(False)
    targets = torch.rand(batch, 3, config.size, config.size, device=device) * 2 - 1
    options = ProjectionOptions(space="w+", steps=10**6, noise_regularize=NOISE_REG_WEIGHT)
    projector = Projector(g, targets, PixelMSE(), options, stats=latent_stats(g, n=1000))
    return projector.step


def config_demo_64() -> ModelConfig:
    """The demo family's model at 64px (style 64, 4 mapping layers, channels 64..16): CPU-sized."""
    return ModelConfig(size=64, style_dim=64, n_mlp=4, channels={4: 64, 8: 64, 16: 64, 32: 32, 64: 16})


def translation(config: ModelConfig, steps: int, device: torch.device) -> Step:
    """A whole translation of one image: `steps` W+ projection steps with the source G and the
    default (offline) distance, then the render with the target G."""
    source, _ = _models(config, device, with_d=False)
    target = Generator(config).to(device)
    for g in (source, target):
        g.eval().requires_grad_(False)
    image = torch.rand(1, 3, config.size, config.size, device=device) * 2 - 1
    options = ProjectionOptions(space="w+", steps=steps)
    distance, stats = make_distance("default", device=device), latent_stats(source)

    def step():
        projector = Projector(source, image, distance, options, stats=stats).run(progress=False)
        with torch.no_grad():
            target.synthesis(projector.ws(), noise=projector.noise)

    return step


def default_translation(config: ModelConfig, steps: int, device: torch.device) -> Step:
    """A whole translation of one image with the default recipe (freezeg.inversion.staged): `steps`
    steps with the source G and the default distance, then the render with the target G."""
    source, _ = _models(config, device, with_d=False)
    target = Generator(config).to(device)
    for g in (source, target):
        g.eval().requires_grad_(False)
    image = torch.rand(1, 3, config.size, config.size, device=device) * 2 - 1
    distance, stats = make_distance("default", device=device), latent_stats(source)

    def step():
        projector = make_projector(source, image, distance, StagedOptions(steps=steps), stats).run(progress=False)
        with torch.no_grad():
            target.synthesis(projector.ws(), noise=projector.noise)

    return step


def pivotal_tuning(config: ModelConfig, steps: int, shared_blocks_count: int, device: torch.device) -> Step:
    """Pivotal tuning of one image: `steps` Adam steps on the lowest `shared_blocks_count` synthesis
    blocks (those a FreezeG fine-tune shares with its source) around a fixed latent."""
    source, _ = _models(config, device, with_d=False)
    source.eval()
    blocks = source.blocks()[:shared_blocks_count]
    names = [n for n, p in source.named_parameters()
             if any(p is q for b in blocks for m in b.modules() for q in m.parameters())]
    shared = SharedBlocks([b.resolution for b in blocks], names, "bench")
    image = torch.rand(1, 3, config.size, config.size, device=device) * 2 - 1
    latent = Latent(ws=source.mean_w().expand(source.num_ws, -1).cpu(), noise=None)
    tuner = PivotalTuner(source, shared, make_distance("default", device=device), TuningOptions(steps=steps))

    def step():
        tuner.tune(latent, image)

    return step


def stylization(config: ModelConfig, references: int, device: torch.device) -> Step:
    """`freezeg stylize` without its files: project `references` pictures (default recipe, 300 steps,
    together), then 300 steps of the default few-shot fine-tune (top half trained, D-feature loss)."""
    source, d = _models(config, device)
    source.eval().requires_grad_(False)
    d.eval()
    images = torch.rand(references, 3, config.size, config.size, device=device) * 2 - 1
    inversion = Inversion(make_distance("default", device=device), batch=references)
    inversion.ensure_stats(source)
    loss = StyleLoss("d-features", d)

    def step():
        latents, _ = inversion.project(source, images, progress=False)
        ws = torch.stack([lat.ws for lat in latents]).to(device)
        stylize_generator(source, ws, images, loss, StylizeOptions())

    return step


def training_iteration(config: ModelConfig, batch: int, device: torch.device, work: Path | None = None) -> Step:
    """One full `freezeg train` iteration (D step, lazy R1, G step, lazy path length, EMA, ADA)
    on a synthetic dataset written to `work` (default: a temporary folder), as the demo trains."""
    if work is None:
        work = Path(tempfile.mkdtemp(prefix="freezeg-bench-"))
        atexit.register(shutil.rmtree, work, ignore_errors=True)  # the workload runs in its own process
    write_domain("blobs", 64, config.size, work / "data")
    options = TrainOptions(data=str(work / "data"), out=str(work / "run"), model=config, batch=batch, steps=10**9, device=str(device), augment="ada", sample_seeds=0, eval_images=0)
    trainer = Trainer(options)
    return trainer.iteration


def convert_pickle(config: ModelConfig, device: torch.device, work: Path | None = None) -> Step:
    """`freezeg convert NETWORK.pkl --out F.pt`: restricted unpickling, mapping onto our networks
    (built and loaded, so a broken file fails here), saving our checkpoint. The pickle holds G,
    G_ema and D with random weights in stylegan2-ada-pytorch's record layout, written once by
    freezeg's writer. CPU work whatever the device."""
    if work is None:
        work = Path(tempfile.mkdtemp(prefix="freezeg-bench-"))
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    g, d = _models(config, torch.device("cpu"))
    parts = {"g_ema": g.state_dict(), "g": g.state_dict(), "d": d.state_dict(), "latent_avg": torch.randn(config.style_dim)}
    pkl = write_network_pickle(work / "network.pkl", snapshot(config, nvlabs_state_dicts(config, parts), num_fp16_res=4))
    del g, d, parts

    def step():
        convert(load_checkpoint(pkl), work / "converted.pt")

    return step

def serve_rerender(config: ModelConfig, device: torch.device, change: str = "style") -> Step:
    """One render-control change in `freezeg serve`: Studio.rerender of a session's latent (source
    reconstruction + target translation, the download PNGs written), no projection. `change`:
    "style" moves the style-strength slider; "blend" moves a layer-blend slider to a value not seen
    before, so the blended generator is built afresh each step (the slow case)."""
    work = Path(tempfile.mkdtemp(prefix="freezeg-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # the workload runs in its own process
    source, _ = _models(config, device, with_d=False)
    studio = Studio(source, {"target": Generator(config).to(device)}, Inversion(PixelMSE()), work_dir=work)
    session = studio.use_seed(studio.new_session(), 0)
    blocks = len(config.resolutions)
    moves = itertools.count()

    def step():
        k = next(moves)
        if change == "blend":
            settings = RenderSettings("target", blend=(1.0,) * (blocks - 1) + (1.0 - (k % 1000 + 1) / 1001,))
        else:
            settings = RenderSettings("target", style_strength=(k % 10 + 1) / 10, style_seed=1)
        studio.rerender(session, settings)

    return step


ASTRONAUT = ("scikit-image", "skimage/data/astronaut.png")  # a real photo with one face, inside a pip wheel


def alignment_missing() -> str | None:
    """What `align_1mp` lacks here: the [align] extra, or scikit-image's photo."""
    from ..align.dlib_detector import EXTRA, LANDMARK_MODEL, MODELS
    from ..utils.packaged import package_file

    if importlib.util.find_spec("dlib") is None or package_file(MODELS, LANDMARK_MODEL) is None:
        return f"needs {EXTRA}"
    if package_file(*ASTRONAUT) is None:
        return "needs scikit-image (pip install scikit-image): its astronaut photo is the test image"
    return None


def face_alignment(side: int, crop: int, device: torch.device) -> Step:
    """Detect, landmark and FFHQ-align the face of a side x side photo: scikit-image's astronaut
    (512 px) enlarged with Lanczos, into a crop x crop aligned face (freezeg.align.find_faces)."""
    from ..align import find_faces, make_detector
    from ..data.images import read_image
    from ..utils.packaged import package_file

    photo = np.asarray(Image.fromarray(read_image(package_file(*ASTRONAUT))).resize((side, side), Image.LANCZOS))
    detector = make_detector()

    def step():
        found = find_faces(photo, "astronaut", crop, detector)
        if len(found.align(photo)) != 1:
            raise RuntimeError("align_1mp: expected to find the astronaut's face")

    return step


# ---------------------------------------------------------------------------- the registry
# Each setup is called with the device only.
register("g_fwd_256_b1", "G 256px forward, batch 1, no grad", partial(generator_forward, config_256(), 1))
register("g_fwd_256_b4", "G 256px forward, batch 4, no grad", partial(generator_forward, config_256(), 4))
register("g_train_step_256_b4", "G step 256px batch 4: G loss through D, backward, Adam",
         partial(generator_train_step, config_256(), 4))
register("g_train_step_256_b4_freeze2", "the same with only the top 2 G blocks training (FreezeG)",
         partial(generator_train_step, config_256(), 4, freeze=FreezeSpec(g_top_blocks=2)))
register("d_step_256_b4", "D step 256px batch 4: logistic loss on real and fake, backward, Adam",
         partial(discriminator_step, config_256(), 4))
register("d_r1_256_b4", "lazy R1 step 256px batch 4: R1 on reals, double backprop, Adam",
         partial(discriminator_r1_step, config_256(), 4))
register("proj_step_256_wplus", "one W+ projection step 256px: MSE + noise penalty, Adam",
         partial(projection_step, config_256(), 1))
register("proj_step_256_wplus_b8", "the same for 8 images at once (each independent)",
         partial(projection_step, config_256(), 8))
register("g_fwd_64_b8", "G 64px (channel multiplier 1) forward, batch 8, no grad", partial(generator_forward, config_64(), 8))
register("g_train_step_64_b8", "G step 64px batch 8", partial(generator_train_step, config_64(), 8))
register("d_step_64_b8", "D step 64px batch 8", partial(discriminator_step, config_64(), 8))
register("translate_64", "translate one 64px image (demo-size model): 300 W+ steps + target render",
         partial(translation, config_demo_64(), 300))
register("translate_64_default", "translate one 64px image (demo-size model): the default recipe, 300 steps + render",
         partial(default_translation, config_demo_64(), 300))
register("pivotal_tune_64", f"pivotal tuning of one 64px image (demo-size model): the default {TuningOptions.steps} "
         "steps on the 4-16px blocks", partial(pivotal_tuning, config_demo_64(), TuningOptions.steps, 3))
register("stylize_64", "freezeg stylize on the demo-size 64px model: 5 references projected (300 steps), "
         "300 few-shot steps (D-feature loss)", partial(stylization, config_demo_64(), 5))
register("train_iter_64_demo_b8", "one freezeg train iteration, demo-size 64px model, batch 8",
         partial(training_iteration, config_demo_64(), 8))
register("convert_pkl_256", "freezeg convert of an NVlabs 256px config-F pickle (G, G_ema, D; conv_clamp 256): read, map, save",
         partial(convert_pickle, ModelConfig(size=256, style_dim=512, n_mlp=8, channel_multiplier=2, conv_clamp=256)))
register("serve_rerender_64", "freezeg serve: one style-slider change re-rendered, demo-size 64px model",
         partial(serve_rerender, config_demo_64()))
register("serve_rerender_256", "freezeg serve: one style-slider change re-rendered, 256px config F",
         partial(serve_rerender, config_256()))
register("serve_reblend_256", "freezeg serve: one layer-blend slider change (new blended G + render), 256px",
         partial(serve_rerender, config_256(), change="blend"))
register("align_1mp", "find, landmark and FFHQ-align the face of a 1024x1024 photo into 256px (dlib, CPU)",
         partial(face_alignment, 1024, 256), missing=alignment_missing)
register("conv3x3_512_64_b4", "the limit: one 3x3 conv, 512 channels, 64px, batch 4 (channels-last, no grad)",
         partial(conv3x3, 512, 64, 4), flops=2 * 4 * 512 * 512 * 9 * 64 * 64)
register("conv3x3_256_64_b8", "the limit at the 64px model's widths: one 3x3 conv, 256 channels, 64px, batch 8",
         partial(conv3x3, 256, 64, 8), flops=2 * 8 * 256 * 256 * 9 * 64 * 64)


# ---------------------------------------------------------------------------- measuring
def select_workloads(only: str | list[str] | None) -> list[str]:
    """Registry names from a comma-separated `--only` value (all when None), in registry order."""
    if only is None:
        return list(WORKLOADS)
    names = [n.strip() for n in (only.split(",") if isinstance(only, str) else only) if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise ValueError(f"--only: unknown workload {', '.join(unknown)} (known: {', '.join(WORKLOADS)})")
    if not names:
        raise ValueError("--only: no workload named")
    return [n for n in WORKLOADS if n in names]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _max_rss_mb() -> float | None:
    """High-water mark of this process's resident set size in MB (None where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KB on Linux


def time_workload(name: str, device: torch.device, threads: int, repeat: int, warmup: int,
                  precision: str = "fp32") -> dict:
    """Run one workload in this process: {"times": [seconds per step], "peak_memory_mb": MB}.

    Under 'bf16' every step runs in bfloat16 autocast (weights and optimiser state stay float32)."""
    torch.set_num_threads(threads)
    torch.ones(8, 8) @ torch.ones(8, 8)  # start the thread pool before the memory baseline
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rss_before = _max_rss_mb()
    timed = WORKLOADS[name].setup(device)

    def step():
        with autocast(precision, device):
            timed()

    for _ in range(warmup):
        step()
    _synchronize(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        rss_after = _max_rss_mb()
        peak = None if rss_after is None else rss_after - rss_before
    return {"times": times, "peak_memory_mb": peak}


def run_isolated(name: str, device: torch.device, threads: int, repeat: int, warmup: int,
                 precision: str = "fp32") -> dict:
    """`time_workload` in a fresh Python process, so that its memory peak is its own."""
    request = json.dumps({"name": name, "device": str(device), "threads": threads, "repeat": repeat, "warmup": warmup,
                          "precision": precision})
    proc = subprocess.run([sys.executable, "-m", "freezeg.benchmarks.bench", request], capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"benchmark {name} failed (exit code {proc.returncode}): {detail}")
    return json.loads(lines[-1])


def cpu_model() -> str:
    """The processor's marketing name where the OS tells it, else platform's guess."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_benchmarks(
    names: list[str],
    device: torch.device,
    threads: int = DEFAULT_THREADS,
    repeat: int = DEFAULT_REPEAT,
    warmup: int = DEFAULT_WARMUP,
    precision: str = "fp32",  # 'bf16' or 'fp32' (resolved)
) -> dict:
    """Median seconds per workload, peak memory and run metadata, as `freezeg bench --json` prints."""
    if threads < 1 or repeat < 1 or warmup < 0:
        raise ValueError(f"need --threads >= 1, --repeat >= 1 and --warmup >= 0 (got {threads}, {repeat}, {warmup})")
    result: dict = {}
    memory: dict = {}
    spread: dict = {}
    skipped = {n: WORKLOADS[n].missing() for n in names if WORKLOADS[n].missing is not None}
    skipped = {n: why for n, why in skipped.items() if why}
    names = [n for n in names if n not in skipped]
    for name in tqdm(names, desc="bench", unit="workload", disable=None):
        r = run_isolated(name, device, threads, repeat, warmup, precision)
        result[name] = statistics.median(r["times"])
        spread[name] = [min(r["times"]), max(r["times"])]
        memory[name] = r["peak_memory_mb"]
    result["peak_memory_mb"] = memory
    result["meta"] = {
        "torch": torch.__version__,
        "threads": threads,
        "device": str(device),
        "repeat": repeat,
        "warmup": warmup,
        "precision": precision,
        "native_bf16": native_bf16(device),
        "cpu": cpu_model(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "min_max_seconds": spread,
        "memory_method": MEMORY_METHOD["cuda" if device.type == "cuda" else "cpu"],
        "skipped": skipped,
    }
    return result


def format_table(result: dict) -> str:
    """The readable form of `run_benchmarks`' result."""
    meta = result["meta"]
    names = [k for k in result if k not in ("peak_memory_mb", "meta")]
    lines = [
        f"torch {meta['torch']} on {meta['device']} ({meta['cpu']}), {meta['threads']} threads, "
        f"{meta.get('precision', 'fp32')}, median of {meta['repeat']} after {meta['warmup']} warm-up",
        f"{'workload':<30}{'median s':>10}{'min s':>9}{'max s':>9}{'peak MB':>10}{'GFLOP/s':>9}",
    ]
    for name in names:
        lo, hi = meta["min_max_seconds"][name]
        mem = result["peak_memory_mb"][name]
        mem_text = "-" if mem is None else f"{mem:.0f}"
        flops = WORKLOADS[name].flops if name in WORKLOADS else None
        rate = "" if flops is None else f"{flops / result[name] / 1e9:>9.0f}"
        lines.append(f"{name:<30}{result[name]:>10.4f}{lo:>9.4f}{hi:>9.4f}{mem_text:>10}{rate}")
    for name, why in meta.get("skipped", {}).items():
        lines.append(f"{name:<30}skipped: {why}")
    return "\n".join(lines)


def _worker(request: str) -> None:
    r = json.loads(request)
    out = time_workload(r["name"], torch.device(r["device"]), r["threads"], r["repeat"], r["warmup"],
                        r.get("precision", "fp32"))
    print(json.dumps(out))



def format_comparison(fp32: dict, bf16: dict) -> str:
    """Two runs of the same workloads side by side: seconds in each precision and fp32 / bf16."""
    meta = fp32["meta"]
    names = [k for k in fp32 if k not in ("peak_memory_mb", "meta") and k in bf16]
    lines = [f"torch {meta['torch']} on {meta['device']} ({meta['cpu']}), {meta['threads']} threads, "
             f"native bf16: {'yes' if bf16['meta'].get('native_bf16') else 'no'}",
             f"{'workload':<30}{'fp32 s':>10}{'bf16 s':>10}{'speed-up':>10}"]
    for name in names:
        lines.append(f"{name:<30}{fp32[name]:>10.4f}{bf16[name]:>10.4f}{fp32[name] / bf16[name]:>9.2f}x")
    return "\n".join(lines)


if __name__ == "__main__":
    _worker(sys.argv[1])
