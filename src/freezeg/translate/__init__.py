"""Pseudo image-to-image translation: project with the source generator, render with the target.

An input (image, latent file or video) is inverted with the *source* generator (freezeg.inversion)
and its latent rendered with the *fine-tuned target* generator, optionally with the later
layers' latents taken from a style source (layer mixing). Translation is only as good as the
inversion, so every output comes with its reconstruction and fidelity numbers, and poor
inversions are flagged on the summary page.

One module per concern:
    inputs     what to process: images, latent files, videos; fitting images to the model
    render     latents -> images, panels, flicker, mixing grids
    style      layer mixing (--mix-from, style seeds/images/latents)
    frames     videos, frame by frame with warm starts
    faces      --align faces (one input per aligned face) and --paste-back
    records    an output folder's layout and fidelity.json (what makes runs resumable)
    summary    summary.html
    tuning     pivotal tuning inside a run (reuse or tune, records)
    run        FolderTranslation, which ties them together for the CLI
"""

from .faces import ALIGNED, PASTED, PhotoFace, expand_faces, paste_faces
from .frames import fit_frames, mean_fidelity, project_frames
from .inputs import LATENT_SUFFIXES, InputItem, Inputs, collect_inputs, fit_to_model, input_kind, read_target
from .records import (
    DEFAULT_POOR_PSNR,
    FIDELITY_FILE,
    LATENTS,
    PANELS,
    RECONSTRUCTIONS,
    TRANSLATED,
    OutputLayout,
    RunRecords,
    RunReport,
    read_records,
)
from .render import RENDER_BATCH, flicker, mix_grid, panel, render
from .run import FolderTranslation
from .style import StyleMix, layer_index, mix_styles, project_style_image, seed_style
from .summary import SUMMARY_FILE, write_summary

__all__ = [
    "ALIGNED", "PASTED", "PhotoFace", "expand_faces", "paste_faces",
    "DEFAULT_POOR_PSNR", "FIDELITY_FILE", "LATENTS", "LATENT_SUFFIXES", "PANELS", "RECONSTRUCTIONS", "RENDER_BATCH",
    "SUMMARY_FILE", "TRANSLATED", "FolderTranslation", "InputItem", "Inputs", "OutputLayout", "RunRecords",
    "RunReport", "StyleMix", "collect_inputs", "fit_frames", "fit_to_model", "flicker", "input_kind", "layer_index",
    "mean_fidelity", "mix_grid", "mix_styles", "panel", "project_frames", "project_style_image", "read_records",
    "read_target", "render", "seed_style", "write_summary",
]
