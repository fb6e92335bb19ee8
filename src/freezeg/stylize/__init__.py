"""Few-shot stylization: a target generator from 1 to 10 pictures of a style (`freezeg stylize`)."""

from .fewshot import StyleLoss, StylizeOptions, stylize_generator
from .run import stylize_run

__all__ = ["StyleLoss", "StylizeOptions", "stylize_generator", "stylize_run"]
