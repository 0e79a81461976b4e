"""Shared fixtures. tests/python is on sys.path (rootdir conftest), so helper modules such as
html_oracle import directly."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

SiteFactory = Callable[[dict[str, str | bytes]], Path]


@pytest.fixture
def make_site(tmp_path: Path) -> SiteFactory:
    """Write a site from {relative path: text or bytes} and return its directory."""

    def make(files: dict[str, str | bytes]) -> Path:
        site = tmp_path / "site"
        for rel, data in files.items():
            path = site / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                path.write_text(data, encoding="utf-8")
        (site / "content").mkdir(parents=True, exist_ok=True)
        # Files as a writer has them: saved a while ago. (A file modified within a clock tick of
        # a build is re-checked by content next time, so it never lets a build be a no-op.)
        past = time.time_ns() - 10_000_000_000
        for rel in files:
            os.utime(site / rel, ns=(past, past))
        return site

    return make
