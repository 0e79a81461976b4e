"""``python -m bengal`` runs the command-line interface."""

from __future__ import annotations

from bengal.cli import run

run()
