"""Images straight from generators: seeded samples, source/target pairs, interpolation loops, layer blending.

What `generate`, `pairs`, `interpolate` and `blend` do, with no projection involved.
"""
