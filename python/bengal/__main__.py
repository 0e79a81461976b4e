"""``python -m bengal`` runs the command-line interface."""

from __future__ import annotations

import sys

from bengal.cli import main

sys.exit(main())
