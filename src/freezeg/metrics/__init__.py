"""Metrics: realism (FID/KID/SWD), structure preservation, inversion fidelity, perceptual networks."""
