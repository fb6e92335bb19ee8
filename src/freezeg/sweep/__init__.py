"""`freezeg sweep`: choose the freeze level from measurements.

One fine-tune per freeze setting with the same budget and seed, each measured for realism,
structure preservation and (with paired test images) translation error against the ground
truth; then a table, files, a plot, image grids and a recommendation with its rule.
Modules: plan (settings and checks), evaluate (metrics of one generator), run (the driver),
report (recommendation and writers).
"""

from .plan import Setting, SweepPlan, check_plan, parse_levels, settings_grid
from .report import format_table, recommend
from .run import SweepResult, run_sweep

__all__ = ["Setting", "SweepPlan", "SweepResult", "check_plan", "format_table", "parse_levels", "recommend",
           "run_sweep", "settings_grid"]
