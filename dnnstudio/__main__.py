"""``python -m dnnstudio``: the same as the ``dnnstudio`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
