"""`python -m freezeg` (also what `torchrun -m freezeg` runs)."""

import os
import sys

from .cli import main

code = main()
if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    # A torchrun worker has left its process group (destroy_process_group ran) and written its
    # files. Interpreter teardown can still abort it now and then with "terminate called without
    # an active exception" from a gloo thread (seen about 1 run in 25 on a loaded 2-core machine),
    # which torchrun reports as a failed job. Nothing is left to clean up, so skip the teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
