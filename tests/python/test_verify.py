"""`bengal build --verify`: outputs are found stale by their size and mtime (as git does), so a
file edited by hand with both kept is not rewritten by an ordinary build; --verify renders and
compares every output and static file and writes only those that differ."""

from __future__ import annotations

import os
from pathlib import Path

from bengal.build import BuildOptions, build
from test_incremental import BASE_SITE, age_edits, write_site


def _edit_keeping_stamps(path: Path, old: bytes, new: bytes) -> None:
    assert len(old) == len(new)
    st = path.stat()
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_verify_restores_what_stamps_cannot_see(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_site(site, {**BASE_SITE, "static/notes.txt": "static notes\n"})
    age_edits(site)
    assert build(site).errors == []
    page = site / "public/blog/two/index.html"
    static = site / "public/notes.txt"
    clean_page, clean_static = page.read_bytes(), static.read_bytes()
    _edit_keeping_stamps(page, b"<title>", b"<TITLE>")
    _edit_keeping_stamps(static, b"static", b"STATIC")
    # Stat-based detection: the same size and mtime look unchanged.
    assert build(site).noop
    assert page.read_bytes() != clean_page and static.read_bytes() != clean_static
    r = build(site, BuildOptions(verify=True))
    assert r.errors == [] and not r.noop and not r.express
    assert page.read_bytes() == clean_page and static.read_bytes() == clean_static
    # Only what differed was written: the page and the static file.
    assert r.written == 1 and r.copied == 1
    assert r.explain_outputs["blog/two/index.html"].startswith("--verify")
    again = build(site, BuildOptions(verify=True))
    assert again.written == 0 and again.copied == 0 and again.rendered == again.pages
    assert build(site).noop  # and the state it saved serves the next build


def test_verify_on_the_command_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from bengal.cli import main

    site = tmp_path / "site"
    write_site(site, BASE_SITE)
    age_edits(site)
    assert main(["build", str(site), "-q"]) == 0
    page = site / "public/blog/two/index.html"
    _edit_keeping_stamps(page, b"<title>", b"<TITLE>")
    assert main(["build", str(site), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "verify: " in out and "1 differed and were written again" in out
