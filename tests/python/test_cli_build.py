"""The `bengal` command as a subprocess: version, usage, and a build with bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bengal.cli import main
from conftest import SiteFactory


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bengal", *args], capture_output=True, text=True, check=False
    )


def test_version_and_help() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("bengal ")
    assert run_cli().returncode == 2


def test_bad_front_matter_names_file_and_line_and_rest_builds(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/good.md": "# Good\n\n[[missing-page]]\n",
            "content/bad.md": "---\ntitle: [unclosed\n---\nbody\n",
            "content/latin1.md": "caf\xe9".encode("latin-1"),
        }
    )
    out = site / "public"
    proc = run_cli("build", str(site))
    assert proc.returncode == 1
    assert "bad.md:" in proc.stderr and "invalid YAML front matter" in proc.stderr
    assert "latin1.md:1: not valid UTF-8 (byte 3)" in proc.stderr
    assert "good.md:3: unresolved cross-reference [[missing-page]]" in proc.stderr
    assert (out / "good" / "index.html").exists()
    assert not (out / "bad").exists()


def test_main_returns_2_for_missing_site(tmp_path: Path) -> None:
    assert main(["build", str(tmp_path / "nope")]) == 2
