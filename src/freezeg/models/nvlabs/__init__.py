"""NVlabs StyleGAN2 network pickles (stylegan2-ada-pytorch, the stylegan3 repository's StyleGAN2).

    unpickler.py  restricted unpickling: an allow-list, none of the pickle's code runs
    records.py    the inert records that NVlabs' torch_utils.persistence objects become
    names.py      NVlabs' parameter names and layouts against ours, in one table
    importer.py   records -> our ModelConfig and rosinality-layout state dicts (or a refusal)
    exporter.py   our state dicts -> NVlabs-named state dicts and constructor arguments
    writer.py     NVlabs-layout pickles from state dicts (fixtures, benchmarks, refusal tests)

Checkpoint loading (freezeg.models.checkpoint) uses the importer for every `.pkl`; nothing here
imports the modules above it.
"""
