"""`python -m freezeg` (also what `torchrun -m freezeg` runs)."""

import sys

from .cli import main

sys.exit(main())
