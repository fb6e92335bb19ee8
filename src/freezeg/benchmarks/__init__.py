"""`freezeg bench`: timed workloads of every layer (median seconds), compared side by side as ratios.

`bench-inversion`'s harness lives with what it measures, in freezeg.inversion.harness.
"""
