"""``python -m dnnstudio``: the same as the ``dnnstudio`` command."""

from __future__ import annotations

import sys

from .cli import main

# Worker processes are spawned, and a spawned child imports the parent's main module again:
# the guard keeps them from starting a second app.
if __name__ == "__main__":
    sys.exit(main())
