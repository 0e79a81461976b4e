"""The change set (bengal.changes): the command line's scan diff and the dev server's watcher
paths classified the same way."""

from __future__ import annotations

from pathlib import Path

from bengal.cache import NoopCheck
from bengal.changes import Change, ChangeSet, from_paths, from_scan, kind_of
from bengal.discover import SourceTree


def test_kinds_of_paths() -> None:
    assert kind_of("content/a.md") == "content"
    assert kind_of("content/post/photo.png") == "content"
    assert kind_of("templates/single.html") == "template"
    assert kind_of("static/robots.txt") == "static"
    assert kind_of("assets/css/site.css") == "asset"
    assert kind_of("data/team.yaml") == "data"
    assert kind_of("bengal.toml") == "config"
    assert kind_of("theme:templates/base.html") == "theme"


def _check(before: dict[str, list[int]], now: dict[str, list[int]], **kw: object) -> NoopCheck:
    state = {"inputs": before, "outputs": ("", b"x"), "bad_names": []}
    kw.setdefault("outputs_seen", ("", b"x"))  # the outputs as the last build left them
    return NoopCheck(clean=False, reason="", inputs=now, state=state, **kw)  # type: ignore[arg-type]


def test_from_scan_lists_added_removed_and_modified() -> None:
    before = {"content/a.md": [1, 2], "content/b.md": [1, 2], "templates/x.html": [1, 2]}
    now = {"content/a.md": [5, 2], "content/c.md": [1, 2], "templates/x.html": [1, 2]}
    cs = from_scan(_check(before, now))
    assert cs.complete
    assert cs.changes == [
        Change("content/a.md", "content", "modified"),
        Change("content/b.md", "content", "removed"),
        Change("content/c.md", "content", "added"),
    ]
    assert cs.body_edit_candidates() is None  # a page added and one removed


def test_a_racy_file_with_new_contents_is_modified() -> None:
    inputs = {"content/a.md": [1, 2], "content/b.md": [1, 2]}
    cs = from_scan(_check(inputs, dict(inputs), racy_changed=["content/b.md"]))
    assert cs.body_edit_candidates() == ["content/b.md"]


def test_what_makes_a_change_set_incomplete_or_not_body_edits() -> None:
    inputs = {"content/a.md": [1, 2]}
    assert not from_scan(_check(inputs, inputs, racy_unknown=True)).complete
    no_state = NoopCheck(clean=False, reason="", inputs=inputs)
    assert (
        not from_scan(no_state).complete and from_scan(no_state).describe() == "no recorded state"
    )
    # An output touched by hand: listed, and not a body edit.
    touched = _check(inputs, {"content/a.md": [3, 2]}, outputs_seen=("", b"y"))
    assert Change("", "output", "modified") in from_scan(touched).changes
    assert from_scan(touched).body_edit_candidates() is None
    template = from_scan(_check({"templates/x.html": [1, 1]}, {"templates/x.html": [2, 1]}))
    assert template.body_edit_candidates() is None
    assert ChangeSet().body_edit_candidates() is None  # nothing changed: nothing to take


def test_from_paths_drops_vanished_temporary_files(tmp_path: Path) -> None:
    (tmp_path / "content/blog").mkdir(parents=True)
    (tmp_path / "content/blog/a.md").write_text("x")
    (tmp_path / "content/blog/new.md").write_text("x")
    tree = SourceTree(root=tmp_path, content=["blog/a.md", "blog/gone.md"])
    cs = from_paths(
        tmp_path,
        ["content/blog/a.md", "content/blog/sedX1b2", "content/blog/new.md",
         "content/blog/gone.md"],
        tree,
    )  # fmt: skip
    assert cs.changes == [
        Change("content/blog/a.md", "content", "modified"),
        Change("content/blog/gone.md", "content", "removed"),
        Change("content/blog/new.md", "content", "added"),
    ]
    only_edit = from_paths(tmp_path, ["content/blog/a.md", "content/blog/sedX1b2"], tree)
    assert only_edit.body_edit_candidates() == ["content/blog/a.md"]
    # A folder of known files moved away is one removed path.
    gone_folder = from_paths(tmp_path, ["content/docs"], SourceTree(tmp_path, ["docs/x.md"]))
    assert gone_folder.changes == [Change("content/docs", "content", "removed")]
