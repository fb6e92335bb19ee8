"""Which parameters train: FreezeG, FreezeD, frozen mapping and frozen per-layer style affines.

- FreezeG (Lee 2020, github.com/bryandlee/FreezeG; `finetune_loc N`): only the top N
  resolution blocks of the synthesis network train (their convs, noise strengths, biases,
  style affines and toRGB); lower blocks, the constant input and the mapping network stay frozen.
- FreezeD (Mo et al. 2020, "Freeze the Discriminator"): the discriminator's high-resolution
  blocks stay frozen; the last K (lowest-resolution) blocks and the 4px head train.
- Level 0 means "freeze nothing" for both (a full fine-tune of that network). Training zero
  blocks of G would leave it unchanged, so 0 is free to mean what a sweep over levels needs:
  `--freeze-g 0,1,2` reads "full, top 1, top 2".
- Frozen mapping (`--freeze-mapping`) and frozen style affines of chosen layers (FreezeSG)
  combine with either.
- `--coarse-rgb train` lets the toRGB layers of G's frozen blocks train too. In StyleGAN2's
  skip generator a block's toRGB only adds its colours to the output image and feeds nothing
  to the blocks above, so the frozen blocks still compute the source's features (the
  geometry) while the target may recolour the low frequencies: backgrounds and flat fills,
  which the trained fine blocks can otherwise only correct by cancelling the source's colours.

Blocks are named by resolution (`Generator.blocks()`, `Discriminator.blocks()`), never by
matching parameter-name substrings (rosinality's `'convs.1'` would also match `convs.10`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

from torch import nn

from ..utils.ranges import int_range
from .networks import Discriminator, Generator, ModelConfig


@dataclass
class FreezeSpec:
    """What stays frozen during fine-tuning (None/False: everything trains)."""

    g_top_blocks: int | None = None  # FreezeG: train only the top N resolution blocks of G (0: all train)
    d_last_blocks: int | None = None  # FreezeD: train only the last K D blocks and the head (0: all train)
    mapping: bool = False  # freeze the mapping network
    styles: tuple[int, int] | None = None  # freeze style affines of w layers A..B (inclusive)
    coarse_rgb: bool = False  # the toRGB layers of G's frozen blocks train too

    def __post_init__(self):
        # Level 0 freezes nothing: the same as not giving the level at all.
        if self.g_top_blocks == 0:
            self.g_top_blocks = None
        if self.d_last_blocks == 0:
            self.d_last_blocks = None

    @classmethod
    def from_args(
        cls,
        freeze_g: int | None = None,
        freeze_d: int | None = None,
        freeze_mapping: bool = False,
        freeze_styles: str | None = None,
        coarse_rgb: bool = False,
    ) -> "FreezeSpec":
        return cls(freeze_g, freeze_d, bool(freeze_mapping), parse_layer_range(freeze_styles), bool(coarse_rgb))

    @classmethod
    def from_dict(cls, d: dict | None) -> "FreezeSpec":
        d = dict(d or {})
        if d.get("styles") is not None:
            d["styles"] = tuple(d["styles"])
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict:
        out = asdict(self)
        out["styles"] = list(self.styles) if self.styles else None
        return out

    @property
    def freezes_anything(self) -> bool:
        return any(v not in (None, False) for v in asdict(self).values())

    def validate(self, config: ModelConfig) -> None:
        """Raise ValueError when the spec does not fit a model of this config."""
        n_g = len(config.resolutions)
        n_d = len(config.resolutions) - 1
        if self.g_top_blocks is not None and not 0 <= self.g_top_blocks <= n_g:
            raise ValueError(
                f"--freeze-g {self.g_top_blocks}: a {config.size}px generator has {n_g} resolution blocks "
                f"(4..{config.size}px), so N must be from 0 (nothing frozen) to {n_g}"
            )
        if self.d_last_blocks is not None and not 0 <= self.d_last_blocks <= n_d:
            raise ValueError(
                f"--freeze-d {self.d_last_blocks}: a {config.size}px discriminator has {n_d} blocks "
                f"below the head, so K must be from 0 (nothing frozen) to {n_d}"
            )
        if self.styles is not None:
            a, b = self.styles
            if not 0 <= a <= b < config.num_ws:
                raise ValueError(f"--freeze-styles {a}-{b}: layers must lie in 0-{config.num_ws - 1} with A <= B")

    def describe(self) -> str:
        parts = []
        if self.g_top_blocks is not None:
            rgb = " (and the frozen blocks' toRGB)" if self.coarse_rgb else ""
            parts.append(f"G: top {self.g_top_blocks} blocks train{rgb}")
        if self.d_last_blocks is not None:
            parts.append(f"D: last {self.d_last_blocks} blocks + head train")
        if self.mapping:
            parts.append("mapping frozen")
        if self.styles is not None:
            parts.append(f"style affines of layers {self.styles[0]}-{self.styles[1]} frozen")
        return "; ".join(parts) or "nothing frozen"


def parse_layer_range(text: str | None) -> tuple[int, int] | None:
    """'3-7' -> (3, 7); '5' -> (5, 5); None -> None."""
    if text is None or text == "":
        return None
    bounds = int_range(str(text))
    if bounds is None:
        raise ValueError(f"layer range must look like A-B or A (w-layer indices), got {text!r}")
    a, b = bounds
    if b < a:
        raise ValueError(f"layer range {text!r}: end is before start")
    return a, b


def _set(modules: Iterable[nn.Module], trainable: bool) -> None:
    for module in modules:
        for p in module.parameters():
            p.requires_grad_(trainable)


def style_affines(g: Generator, layer: int) -> list[nn.Module]:
    """The modulation (style affine) modules that read ws[:, layer]."""
    out = []
    for block in g.blocks():
        out += [lay.module.conv.modulation for lay in block.layers if lay.w_index == layer]
        if block.to_rgb_w_index == layer:
            out.append(block.to_rgb.conv.modulation)
    return out


def apply_generator_freeze(g: Generator, spec: FreezeSpec) -> None:
    """Set requires_grad on every parameter of `g` according to `spec`."""
    spec.validate(g.config)
    _set([g], True)
    if spec.g_top_blocks is not None:
        blocks = g.blocks()
        n_frozen = len(blocks) - spec.g_top_blocks
        _set([g.style], False)
        for block in blocks[:n_frozen]:
            _set(block.feature_modules(), False)
            _set([block.to_rgb], spec.coarse_rgb)
    if spec.mapping:
        _set([g.style], False)
    if spec.styles is not None:
        for layer in range(spec.styles[0], spec.styles[1] + 1):
            _set(style_affines(g, layer), False)


def apply_discriminator_freeze(d: Discriminator, spec: FreezeSpec) -> None:
    """Set requires_grad on every parameter of `d` according to `spec`."""
    spec.validate(d.config)
    _set([d], True)
    if spec.d_last_blocks is not None:
        blocks = d.blocks()[:-1]  # the head always trains
        for block in blocks[: len(blocks) - spec.d_last_blocks]:
            _set(block.modules, False)


def trainable_parameters(module: nn.Module) -> list[nn.Parameter]:
    """Parameters that train (what optimizers get)."""
    return [p for p in module.parameters() if p.requires_grad]


@dataclass
class PlanRow:
    network: str  # "G" or "D"
    name: str  # block name, e.g. "mapping", "b64", "head"
    resolution: int | None
    params: int
    trained: int  # of which trainable

    @property
    def state(self) -> str:
        if self.trained == self.params:
            return "trained"
        if self.trained == 0:
            return "frozen"
        return f"partly frozen ({self.trained:,} trained)"


def _count(modules: Iterable[nn.Module]) -> tuple[int, int]:
    params = [p for m in modules for p in m.parameters()]
    return sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)


def freeze_plan(g: Generator, d: Discriminator | None, spec: FreezeSpec) -> list[PlanRow]:
    """Apply `spec` and list every block with its resolution, size and trained/frozen state."""
    apply_generator_freeze(g, spec)
    rows = [PlanRow("G", "mapping", None, *_count([g.style]))]
    for block in g.blocks():
        rows.append(PlanRow("G", f"b{block.resolution}", block.resolution, *_count(block.modules())))
    if d is not None:
        apply_discriminator_freeze(d, spec)
        for block in d.blocks():
            rows.append(PlanRow("D", block.name, block.resolution, *_count(block.modules)))
    return rows


def format_plan(rows: list[PlanRow], spec: FreezeSpec) -> str:
    """A plain-text table of `freeze_plan` rows with totals per network."""
    lines = [f"freeze spec: {spec.describe()}", f"{'net':<4}{'block':<10}{'res':>6}{'params':>14}  state"]
    for net in ("G", "D"):
        net_rows = [r for r in rows if r.network == net]
        for r in net_rows:
            res = f"{r.resolution}px" if r.resolution else "-"
            lines.append(f"{r.network:<4}{r.name:<10}{res:>6}{r.params:>14,}  {r.state}")
        if net_rows:
            total = sum(r.params for r in net_rows)
            trained = sum(r.trained for r in net_rows)
            lines.append(f"{net:<4}{'total':<10}{'':>6}{total:>14,}  {trained:,} trained, {total - trained:,} frozen")
    return "\n".join(lines)
