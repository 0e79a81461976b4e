"""`bengal new site`, `bengal clean`, `--version`, `--stats`, `--profile-out`."""

from __future__ import annotations

import contextlib
import io
import pstats
from pathlib import Path

from bengal.cli import main
from site_checks import check_links


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_new_site_builds_at_once(tmp_path: Path) -> None:
    target = tmp_path / "my-blog"
    code, out, _ = call("new", "site", str(target))
    assert code == 0 and "bengal build" in out
    code, out, err = call("build", str(target), "--strict", "--workers", "1")
    assert code == 0, err
    assert err == ""
    public = target / "public"
    assert (public / "posts/hello-world/index.html").is_file()
    assert (public / "tags/welcome/index.html").is_file()
    check_links(public)
    # Refuses to overwrite a non-empty directory.
    assert call("new", "site", str(target))[0] == 2


def test_clean_removes_output_and_caches(tmp_path: Path) -> None:
    target = tmp_path / "site"
    call("new", "site", str(target))
    assert call("build", str(target), "--workers", "1")[0] == 0
    assert (target / "public").exists() and (target / ".bengal").exists()
    code, out, _ = call("clean", str(target))
    assert code == 0 and "removed" in out
    assert not (target / "public").exists() and not (target / ".bengal").exists()
    assert call("clean", str(target))[1].strip() == "nothing to clean"


def test_stats_and_profile(tmp_path: Path) -> None:
    target = tmp_path / "site"
    call("new", "site", str(target))
    prof = tmp_path / "build.prof"
    code, out, _ = call(
        "build", str(target), "--stats", "--workers", "1", "--profile-out", str(prof)
    )
    assert code == 0
    for stage in ("discover", "parse", "assemble", "markdown", "render+write", "site-wide"):
        assert stage in out
    stats = pstats.Stats(str(prof))
    assert stats.total_calls > 0  # type: ignore[attr-defined]


def test_quiet_prints_nothing_on_success(tmp_path: Path) -> None:
    target = tmp_path / "site"
    call("new", "site", str(target))
    code, out, err = call("build", str(target), "-q", "--workers", "1")
    assert code == 0 and out == "" and err == ""
