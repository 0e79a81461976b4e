"""A build with nothing to do says so without doing the work, and never skips a real change."""

from __future__ import annotations

import os
from pathlib import Path

from bengal.build import BuildOptions, BuildResult, build
from conftest import SiteFactory
from site_checks import tree_digest
from store_damage import db_file, flip_value, record, set_raw

SITE: dict[str, str | bytes] = {
    "bengal.toml": '[site]\ntitle = "Noop"\nbaseurl = "https://example.org/"\n',
    "content/_index.md": "---\ntitle: Home\n---\nHi.\n",
    "content/a.md": "---\ntitle: A\ntags: [x]\n---\nSee [[b]].\n",
    "content/b.md": "---\ntitle: B\n---\nSee [[missing]].\n",
    "static/s.txt": "static",
}


def run(site: Path, **kw: object) -> BuildResult:
    return build(site, BuildOptions(**{"workers": 1, **kw}))  # type: ignore[arg-type]


def test_second_build_is_a_noop_and_replays_warnings(make_site: SiteFactory) -> None:
    site = make_site(SITE)
    first = run(site)
    assert not first.noop and first.errors == []
    assert any("[[missing]]" in w for w in first.warnings)
    before = tree_digest(site / "public")
    second = run(site)
    assert second.noop and second.pages == first.pages
    assert second.warnings == first.warnings  # a no-op still tells you what is wrong
    assert tree_digest(site / "public") == before


def test_every_kind_of_change_triggers_a_build(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site(SITE)
    run(site)

    def rebuilds(reason: str) -> None:
        r = run(site)
        assert not r.noop, f"{reason}: the build was skipped"
        assert r.rebuild_reason
        # The next build has nothing to do. (It is a no-op once the edited file is older than
        # a clock tick; right after an edit it compares contents instead, and renders nothing.)
        again = run(site)
        assert again.noop or (again.rendered == 0 and again.markdown_rendered == 0), reason
        assert again.errors == []

    (site / "content/a.md").write_text("---\ntitle: A2\n---\nEdited.\n")
    rebuilds("content edit")
    assert "A2" in (site / "public/a/index.html").read_text()
    (site / "content/c.md").write_text("---\ntitle: C\n---\nNew.\n")
    rebuilds("added page")
    (site / "templates").mkdir()
    (site / "templates/single.html").write_text(
        "{% extends 'base.html' %}{% block main %}CUSTOM {{ content }}{% endblock %}"
    )
    rebuilds("template added")
    assert "CUSTOM" in (site / "public/a/index.html").read_text()
    (site / "static/s.txt").write_text("static, edited")
    rebuilds("static edit")
    assert (site / "public/s.txt").read_text() == "static, edited"
    (site / "bengal.toml").write_text(
        '[site]\ntitle = "Renamed"\nbaseurl = "https://example.org/"\n'
    )
    rebuilds("config edit")
    os.utime(site / "content/b.md", ns=(1, 1))
    rebuilds("mtime change")


def test_damaged_output_is_restored(make_site: SiteFactory) -> None:
    site = make_site(SITE)
    run(site)
    out = site / "public"
    good = (out / "a/index.html").read_text()
    (out / "a/index.html").write_text("tampered")
    assert not run(site).noop
    assert (out / "a/index.html").read_text() == good
    (out / "b/index.html").unlink()
    assert not run(site).noop
    assert (out / "b/index.html").is_file()


def test_options_and_clean_are_respected(make_site: SiteFactory) -> None:
    site = make_site(SITE)
    run(site)
    strict = run(site, strict=True)
    assert not strict.noop and strict.errors  # the broken xref is an error now
    assert not run(site, drafts=True).noop
    assert not run(site, clean=True).noop


def test_damaged_state_means_a_full_build(make_site: SiteFactory) -> None:
    site = make_site(SITE)
    run(site)
    import marshal

    db = db_file(site)
    for garbage in (b"", b"\x00\xff", b"{", marshal.dumps({"format": "other"})):
        set_raw(db, "meta", "state", garbage)
        r = run(site)
        assert not r.noop and r.errors == []
    flip_value(db, "meta", "state")  # damaged, its checksum kept
    assert not run(site).noop
    assert run(site).noop


def test_failed_build_records_no_state(make_site: SiteFactory) -> None:
    site = make_site({**SITE, "content/bad.md": "---\ntitle: [x\n---\n"})
    assert run(site).errors
    assert record(db_file(site), "meta", "state") is None
    assert not run(site).noop


def test_a_file_changed_while_the_build_runs_is_built_next_time(make_site: SiteFactory) -> None:
    """The state records the stamps the build started from: an edit made after the scan (here
    while pages render, past the racy window) is newer than what is recorded."""
    import time

    site = make_site(SITE)
    run(site)
    # (A slug edit: the ordinary build, which renders pages.)
    (site / "content/a.md").write_text("---\ntitle: A2\nslug: a\ntags: [x]\n---\nFirst.\n")
    old = time.time() - 10  # not a racy file: the state is recorded
    os.utime(site / "content/a.md", (old, old))
    edited: list[bool] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "rendering pages" and not edited:
            time.sleep(0.15)
            (site / "content/a.md").write_text(
                "---\ntitle: A2\nslug: a\ntags: [x]\n---\nSecond edit.\n"
            )
            edited.append(True)

    r = run(site, progress=progress)
    assert edited and r.errors == []
    assert record(db_file(site), "meta", "state") is not None  # recorded, with a.md's old stamp
    time.sleep(0.15)  # past the racy window: the next build records a state
    again = run(site)
    assert not again.noop
    assert "Second edit." in (site / "public/a/index.html").read_text()
    assert run(site).noop


def test_after_a_racy_build_the_next_build_is_a_noop(make_site: SiteFactory) -> None:
    """A content file modified within a clock tick of the build is hashed by the next build's
    check, alone; same contents: a no-op all the same. The same size and mtime with other
    contents: a build, which shows the new contents."""
    site = make_site(SITE)
    run(site)
    a = site / "content/a.md"
    a.write_text("---\ntitle: A\n---\nFirst.\n")  # modified just before the build
    assert not run(site).noop
    again = run(site)
    assert again.noop, again.rebuild_reason
    st = a.stat()
    a.write_text("---\ntitle: A\n---\nOther.\n")
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    r = run(site)
    assert not r.noop and "clock tick" in r.rebuild_reason
    assert "Other." in (site / "public/a/index.html").read_text()


def test_packed_stamps_round_trip() -> None:
    from bengal.cache import pack_stamps, unpack_stamps

    stamps = {"b/index.html": [1_700_000_000_123_456_789, 10], "a.css": [5, 0], "z": [-3, 7]}
    joined, packed = pack_stamps(stamps)
    assert joined == "a.css\0b/index.html\0z" and len(packed) == 48
    assert unpack_stamps(joined, packed) == stamps
    assert pack_stamps({}) == ("", b"") and unpack_stamps("", b"") == {}


def test_native_packed_stamps_match_python(tmp_path: Path) -> None:
    """What the no-op check compares: bengal_native.stat_packed() of the recorded paths against
    pack_stamps() of what the build stat()ed -- also for names with a newline."""
    from bengal.cache import pack_stamps, stat_outputs

    import bengal_native

    (tmp_path / "a").mkdir()
    (tmp_path / "a/index.html").write_text("x")
    (tmp_path / "odd\nname.txt").write_text("yz")
    stamps = stat_outputs(tmp_path, ["a/index.html", "odd\nname.txt", "gone.html"])
    assert sorted(stamps) == ["a/index.html", "odd\nname.txt"]
    joined, packed = pack_stamps(stamps)
    assert bengal_native.stat_packed(str(tmp_path), joined) == packed
    (tmp_path / "a/index.html").write_text("changed")
    assert bengal_native.stat_packed(str(tmp_path), joined) != packed


def test_a_static_file_with_a_newline_in_its_name_allows_a_noop(make_site: SiteFactory) -> None:
    site = make_site({**SITE, "static/odd\nname.txt": "x"})
    assert run(site).errors == []
    assert run(site).noop
