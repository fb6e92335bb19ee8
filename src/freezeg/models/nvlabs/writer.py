"""Write NVlabs-layout network pickles from state dicts, without NVlabs' code.

Emits exactly the record layout that NVlabs' training loop pickles (`torch_utils.persistence`
records whose state holds `_parameters`, `_buffers`, `_modules` and the attributes each
class sets, `dnnlib.util.EasyDict` constructor arguments, tensors pickled by torch as
`_rebuild_parameter` / `_rebuild_tensor_v2` / `torch.storage._load_from_bytes`), for the two
layouts in use: stylegan2-ada-pytorch's `training/networks.py` and the stylegan3
repository's `training/networks_stylegan2.py`.

The records carry a short note instead of NVlabs' source code, so NVlabs' own loader (which
executes `module_src`) cannot rebuild them; they exist for our reader: the test fixtures, the
`convert_pkl_256` benchmark, and tests of what the reader refuses.
"""

from __future__ import annotations

import io
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...utils.files import atomic_path
from ..networks import ModelConfig
from .records import EasyDict, PersistentRecord, module_state

REPOSITORIES = {  # repository -> the file its StyleGAN2 classes live in
    "stylegan2-ada-pytorch": "training/networks.py",
    "stylegan3": "training/networks_stylegan2.py",
}
BUFFER_NAMES = ("resample_filter", "noise_const", "w_avg", "p")  # everything else is a parameter (p: AugmentPipe's)
LRELU_GAIN = np.sqrt(2)  # NVlabs keeps activation gains as numpy float64


class NetworkWriter:
    """Builds the record tree of one network from its NVlabs state dict (`sd`, names as in names.py)."""

    def __init__(self, sd: dict[str, torch.Tensor], repository: str = "stylegan2-ada-pytorch", num_fp16_res: int = 0):
        if repository not in REPOSITORIES:
            raise ValueError(f"repository must be one of {', '.join(REPOSITORIES)}, got {repository!r}")
        self.sd = dict(sd)
        self.sg3 = repository == "stylegan3"
        self.num_fp16_res = num_fp16_res  # float16 on the top N resolutions: only a flag in the records
        self.module_src = f"# {REPOSITORIES[repository]}: written by freezeg.models.nvlabs.writer (state only, no code)\n"

    def record(self, class_name: str, prefix: str, modules: dict | None = None, init: dict | None = None, **attrs) -> PersistentRecord:
        """A module record whose tensors are the state-dict entries named `prefix` + one more part."""
        params, buffers = {}, {}
        for key, t in self.sd.items():
            if key.startswith(prefix) and "." not in key[len(prefix):]:
                name = key[len(prefix):]
                if name in BUFFER_NAMES:
                    buffers[name] = t.detach().clone()
                else:
                    params[name] = torch.nn.Parameter(t.detach().clone(), requires_grad=False)
        state = module_state(params, buffers, modules, **attrs)
        state["_init_args"] = ()
        state["_init_kwargs"] = EasyDict(init or {})
        return PersistentRecord(class_name=class_name, state=state, module_src=self.module_src)

    # ------------------------------------------------------------------ layers
    def fully_connected(self, prefix: str, in_features: int, out_features: int, activation="linear", lr=1, bias_init=0):
        sizes = {"in_features": in_features, "out_features": out_features} if self.sg3 else {}
        return self.record(
            "FullyConnectedLayer", prefix, init=dict(activation=activation, lr_multiplier=lr, bias_init=bias_init),
            **sizes, activation=activation, weight_gain=np.float64(lr / np.sqrt(in_features)), bias_gain=lr,
        )

    def conv2d(self, prefix: str, in_channels: int, out_channels: int, kernel: int, down=1, bias=True, clamp=None):
        sizes = {"in_channels": in_channels, "out_channels": out_channels} if self.sg3 else {}
        activation = "lrelu" if bias else "linear"
        extra = {} if bias else {"bias": None}
        return self.record(
            "Conv2dLayer", prefix, init=dict(kernel_size=kernel, activation=activation, down=down, conv_clamp=clamp),
            **sizes, activation=activation, up=1, down=down, conv_clamp=clamp, padding=kernel // 2,
            weight_gain=np.float64(1 / np.sqrt(in_channels * kernel**2)), act_gain=LRELU_GAIN if bias else 1, **extra,
        )

    def synthesis_layer(self, prefix: str, in_ch: int, out_ch: int, w_dim: int, res: int, up: int, clamp):
        sizes = {"in_channels": in_ch, "out_channels": out_ch, "w_dim": w_dim} if self.sg3 else {}
        affine = self.fully_connected(f"{prefix}affine.", w_dim, in_ch, bias_init=1)
        return self.record(
            "SynthesisLayer", prefix, modules={"affine": affine},
            init=dict(w_dim=w_dim, resolution=res, up=up, conv_clamp=clamp),
            **sizes, resolution=res, up=up, use_noise=True, activation="lrelu", conv_clamp=clamp, padding=1,
            act_gain=LRELU_GAIN,
        )

    def to_rgb(self, prefix: str, in_ch: int, w_dim: int, clamp):
        sizes = {"in_channels": in_ch, "out_channels": 3, "w_dim": w_dim} if self.sg3 else {}
        affine = self.fully_connected(f"{prefix}affine.", w_dim, in_ch, bias_init=1)
        return self.record(
            "ToRGBLayer", prefix, modules={"affine": affine}, init=dict(w_dim=w_dim, conv_clamp=clamp),
            **sizes, conv_clamp=clamp, weight_gain=np.float64(1 / np.sqrt(in_ch)),
        )

    def uses_fp16(self, config: ModelConfig, res: int) -> bool:
        return self.num_fp16_res > 0 and res >= max(2 ** (config.log_size + 1 - self.num_fp16_res), 8)

    # ------------------------------------------------------------------ networks
    def generator(self, config: ModelConfig, c_dim: int = 0) -> PersistentRecord:
        ch, w_dim, clamp = config.channel_table(), config.style_dim, _clamp(config)
        blocks = {}
        for res in config.resolutions:
            prefix = f"synthesis.b{res}."
            in_ch = ch[res // 2] if res > 4 else 0
            modules = {}
            if in_ch:
                modules["conv0"] = self.synthesis_layer(f"{prefix}conv0.", in_ch, ch[res], w_dim, res, 2, clamp)
            modules["conv1"] = self.synthesis_layer(f"{prefix}conv1.", ch[res], ch[res], w_dim, res, 1, clamp)
            modules["torgb"] = self.to_rgb(f"{prefix}torgb.", ch[res], w_dim, clamp)
            extra = {"fused_modconv_default": "inference_only"} if self.sg3 else {}
            blocks[f"b{res}"] = self.record(
                "SynthesisBlock", prefix, modules=modules,
                init=dict(w_dim=w_dim, resolution=res, img_channels=3, is_last=res == config.size, conv_clamp=clamp),
                in_channels=in_ch, w_dim=w_dim, resolution=res, img_channels=3, is_last=res == config.size,
                architecture="skip", use_fp16=self.uses_fp16(config, res), channels_last=False, **extra,
                num_conv=1 if res == 4 else 2, num_torgb=1,
            )
        synthesis = self.record(
            "SynthesisNetwork", "synthesis.", modules=blocks, init=_channel_kwargs(config, clamp),
            w_dim=w_dim, img_resolution=config.size, img_resolution_log2=config.log_size, img_channels=3,
            **({"num_fp16_res": self.num_fp16_res} if self.sg3 else {}), block_resolutions=config.resolutions,
            num_ws=config.num_ws,
        )
        fcs = {}
        if c_dim:
            fcs["embed"] = self.fully_connected("mapping.embed.", c_dim, w_dim)
        for i in range(config.n_mlp):
            in_features = w_dim * (2 if c_dim and i == 0 else 1)
            fcs[f"fc{i}"] = self.fully_connected(f"mapping.fc{i}.", in_features, w_dim, "lrelu", config.lr_mlp)
        mapping = self.record(
            "MappingNetwork", "mapping.", modules=fcs, init=dict(num_layers=config.n_mlp, lr_multiplier=config.lr_mlp),
            z_dim=w_dim, c_dim=c_dim, w_dim=w_dim, num_ws=config.num_ws, num_layers=config.n_mlp,
            w_avg_beta=0.998 if self.sg3 else 0.995,
        )
        init = dict(z_dim=w_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=config.size, img_channels=3,
                    mapping_kwargs=EasyDict(num_layers=config.n_mlp))
        return self.record(
            "Generator", "", modules={"synthesis": synthesis, "mapping": mapping}, init=init,
            z_dim=w_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=config.size, img_channels=3, num_ws=config.num_ws,
        )

    def discriminator(self, config: ModelConfig, c_dim: int = 0) -> PersistentRecord:
        ch, clamp = config.channel_table(), _clamp(config)
        modules, layer_index = {}, 0
        for res in reversed(config.resolutions[1:]):
            prefix = f"b{res}."
            layers = {}
            if res == config.size:
                layers["fromrgb"] = self.conv2d(f"{prefix}fromrgb.", 3, ch[res], 1, clamp=clamp)
            layers["conv0"] = self.conv2d(f"{prefix}conv0.", ch[res], ch[res], 3, clamp=clamp)
            layers["conv1"] = self.conv2d(f"{prefix}conv1.", ch[res], ch[res // 2], 3, down=2, clamp=clamp)
            layers["skip"] = self.conv2d(f"{prefix}skip.", ch[res], ch[res // 2], 1, down=2, bias=False)
            modules[f"b{res}"] = self.record(
                "DiscriminatorBlock", prefix, modules=layers, init=dict(resolution=res, img_channels=3, conv_clamp=clamp),
                in_channels=0 if res == config.size else ch[res], resolution=res, img_channels=3,
                first_layer_idx=layer_index, architecture="resnet", use_fp16=self.uses_fp16(config, res), channels_last=False,
                num_layers=len(layers),
            )
            layer_index += len(layers)
        cmap_dim = ch[4] if c_dim else 0
        if c_dim:  # the label embedding network of a conditional D (its tensors only if `sd` has them)
            modules["mapping"] = self.record(
                "MappingNetwork", "mapping.", z_dim=0, c_dim=c_dim, w_dim=cmap_dim, num_ws=None, num_layers=0,
                w_avg_beta=None,
            )
        epilogue = {}
        if config.mbstd_channels:
            epilogue["mbstd"] = self.record(
                "MinibatchStdLayer", "b4.mbstd.", group_size=config.mbstd_group, num_channels=config.mbstd_channels,
                init=dict(group_size=config.mbstd_group, num_channels=config.mbstd_channels),
            )
        epilogue["conv"] = self.conv2d("b4.conv.", ch[4] + config.mbstd_channels, ch[4], 3, clamp=clamp)
        epilogue["fc"] = self.fully_connected("b4.fc.", ch[4] * 16, ch[4], "lrelu")
        epilogue["out"] = self.fully_connected("b4.out.", ch[4], cmap_dim or 1)
        modules["b4"] = self.record(
            "DiscriminatorEpilogue", "b4.", modules=epilogue,
            init=dict(cmap_dim=cmap_dim, resolution=4, mbstd_group_size=config.mbstd_group),
            in_channels=ch[4], cmap_dim=cmap_dim, resolution=4, img_channels=3, architecture="resnet",
        )
        return self.record(
            "Discriminator", "", modules=modules, init=dict(c_dim=c_dim, img_resolution=config.size, img_channels=3,
                                                            **_channel_kwargs(config, clamp)),
            c_dim=c_dim, img_resolution=config.size, img_resolution_log2=config.log_size, img_channels=3,
            block_resolutions=list(reversed(config.resolutions[1:])),
        )


def _channel_kwargs(config: ModelConfig, clamp) -> dict:
    ch = config.channel_table()
    return dict(channel_max=max(ch.values()), conv_clamp=clamp)


def _clamp(config: ModelConfig) -> float | int | None:
    """conv_clamp as NVlabs' configs spell it (256, not 256.0)."""
    c = config.conv_clamp
    return int(c) if c is not None and float(c).is_integer() else c


def snapshot(
    config: ModelConfig,
    networks: dict[str, dict[str, torch.Tensor]],  # "G", "G_ema", "D" -> NVlabs state dicts
    repository: str = "stylegan2-ada-pytorch",
    c_dim: int = 0,
    training_set_kwargs: dict | None = None,
    augment_p: float | None = None,
    num_fp16_res: int = 0,
) -> dict[str, Any]:
    """The dict NVlabs' training loop pickles: training_set_kwargs, G, D, G_ema, augment_pipe."""
    out: dict[str, Any] = {"training_set_kwargs": dict(training_set_kwargs or {"resolution": config.size})}
    for key in ("G", "D", "G_ema"):
        if key in networks:
            writer = NetworkWriter(networks[key], repository, num_fp16_res)
            out[key] = writer.discriminator(config, c_dim) if key == "D" else writer.generator(config, c_dim)
            _check_complete(out[key], networks[key], key)
    out["augment_pipe"] = None
    if augment_p is not None:  # only its probability; the augmentation settings are not ours to invent
        out["augment_pipe"] = NetworkWriter({"p": torch.tensor(float(augment_p))}, repository).record("AugmentPipe", "")
    return out


def _check_complete(rec: PersistentRecord, sd: dict, key: str) -> None:
    written, given = set(rec.tensors()), set(sd)
    if written != given:
        extra = sorted(given - written)[:3] or sorted(written - given)[:3]
        raise ValueError(f"{key}: the state dict does not match the network layout ({', '.join(extra)})")


class _Global:
    """A module-level name of someone else's code, written into the pickle by name only."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args, **kwargs):  # pickle insists that reduce functions are callable
        raise TypeError(f"{self.module}.{self.name} is only a name")


_RECONSTRUCT = _Global("torch_utils.persistence", "_reconstruct_persistent_obj")
_EASYDICT = _Global("dnnlib.util", "EasyDict")


class _RecordPickler(pickle._Pickler):  # the Python pickler: it lets save() write foreign names
    def reducer_override(self, obj):
        if isinstance(obj, PersistentRecord):
            meta = dict(type=obj.kind, version=obj.version, module_src=obj.module_src, class_name=obj.class_name,
                        state=obj.state)
            return _RECONSTRUCT, (meta,)
        if isinstance(obj, EasyDict):
            return _EASYDICT, (), None, None, iter(dict(obj).items())
        return NotImplemented

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _Global):
            memo = self.memo.get(id(obj))
            if memo is not None:
                self.write(self.get(memo[0]))
                return
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
            self.memoize(obj)
            return
        super().save(obj, save_persistent_id)


def dumps(obj: Any) -> bytes:
    """Pickle records, EasyDicts, tensors and plain values in NVlabs' layout (protocol 4)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage deprecation chatter from torch's own reducers
        _RecordPickler(buf, protocol=4).dump(obj)
    return buf.getvalue()


def write_network_pickle(path: str | Path, obj: Any) -> Path:
    """Write `obj` (e.g. a `snapshot(...)`) to `path` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(dumps(obj))
    return path

