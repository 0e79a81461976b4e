"""What changed since the last build, classified once, for the command line and the dev server.

    the change check's scan against the recorded state (command line: from_scan)  \\
                                                                                    -> ChangeSet
    the watcher's paths (dev server: from_paths)                                  /

Each change is a site-relative path, its kind and how it changed ("added", "removed",
"modified"). Kinds, after Zola's: content (Markdown pages and bundle files), template, static,
asset, data, config, theme (the built-in theme's templates and assets), output (a file in the
output directory touched since the last build). A content change is told apart further -- body
or metadata, renamed -- when the sources are read: by bengal.edits for body edits, by
bengal.sources for everything else.

A ChangeSet is `complete` when it lists everything that changed. It is not when there is no
recorded state to compare with, when a file modified too close to the last scan could not be
checked (no digest recorded: see bengal.cache.racy_changes), or when the scan skipped names that
are not UTF-8 differently: then only the ordinary build, which compares everything, can tell.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bengal.cache import NoopCheck
    from bengal.discover import SourceTree

KINDS = ("content", "template", "static", "asset", "data", "config", "theme", "output")
_TOPS = {"content": "content", "templates": "template", "static": "static",
         "assets": "asset", "data": "data"}  # fmt: skip


@dataclass(frozen=True)
class Change:
    path: str  # site-relative ("content/a.md"); the theme's as "theme:templates/x.html"
    kind: str  # one of KINDS
    how: str  # "added", "removed", "modified"

    def __str__(self) -> str:
        return f"{self.path} ({self.kind}, {self.how})"


@dataclass
class Candidates:
    """A change set as bengal.edits reads it (site-relative paths)."""

    content: list[str] = field(default_factory=list)  # content files modified
    templates: list[str] = field(default_factory=list)  # templates modified
    added: list[str] = field(default_factory=list)  # content files added ...
    removed: list[str] = field(default_factory=list)  # ... and removed


@dataclass
class ChangeSet:
    changes: list[Change] = field(default_factory=list)
    complete: bool = True  # every change is listed (see the module)
    why_incomplete: str = ""

    def paths(self) -> list[str]:
        return [c.path for c in self.changes]

    def body_edit_candidates(self) -> list[str] | None:
        """The paths, when every change is a modified content file (what bengal.edits takes
        when each turns out to be a body edit of a page); None otherwise."""
        if not self.complete or not self.changes:
            return None
        if any(c.kind != "content" or c.how != "modified" for c in self.changes):
            return None
        return self.paths()

    def edit_candidates(self) -> Candidates | None:
        """The changes bengal.edits takes a look at -- when every change is a content file
        modified, added or removed, or a file of the site's templates/ modified (body and
        front matter edits, pages that come and go, templates edited in place); None
        otherwise."""
        if not self.complete or not self.changes:
            return None
        out = Candidates()
        for c in self.changes:
            if c.kind == "template" and c.how == "modified":
                out.templates.append(c.path)
            elif c.kind == "content":
                lists = {"modified": out.content, "added": out.added, "removed": out.removed}
                lists[c.how].append(c.path)
            else:
                return None
        return out

    def describe(self, limit: int = 5) -> str:
        if not self.complete:
            return self.why_incomplete
        shown = ", ".join(str(c) for c in self.changes[:limit])
        more = len(self.changes) - limit
        return shown + (f" and {more} more" if more > 0 else "")


def kind_of(path: str) -> str:
    """The kind of a site-relative input path."""
    if path.startswith("theme:"):
        return "theme"
    if path == "bengal.toml":
        return "config"
    return _TOPS.get(path.partition("/")[0], "content")


def from_scan(check: NoopCheck) -> ChangeSet:
    """The change check's scan (check.inputs) against the state the last build recorded."""
    state = check.state
    if state is None:
        return ChangeSet(complete=False, why_incomplete="no recorded state")
    if check.racy_unknown:
        return ChangeSet(complete=False, why_incomplete="a file changed during the last build")
    if state.get("bad_names") != sorted(check.bad_names):
        return ChangeSet(complete=False, why_incomplete="file names that are not UTF-8 changed")
    before: dict[str, list[int]] = state.get("inputs", {})
    now = check.inputs
    out: list[Change] = []
    racy = set(check.racy_changed)
    for path in sorted(now.keys() | before.keys()):
        if path not in before:
            out.append(Change(path, kind_of(path), "added"))
        elif path not in now:
            out.append(Change(path, kind_of(path), "removed"))
        elif before[path] != now[path] or path in racy:
            # (A racy file whose contents changed under unchanged stamps is an edit too.)
            out.append(Change(path, kind_of(path), "modified"))
    if check.outputs_seen is None or check.outputs_seen[1] != state["outputs"][1]:
        out.append(Change("", "output", "modified"))
    return ChangeSet(out)


def from_paths(root: Path, paths: list[str], tree: SourceTree) -> ChangeSet:
    """The watcher's paths (site-relative), against the source tree of the last build. A path
    that is gone and that the last build knew neither as a file nor as a folder of files (an
    editor's or sed's temporary file, written and renamed away) changes nothing."""
    known = _known_paths(tree)
    out: list[Change] = []
    for path in sorted(set(paths)):
        exists = os.path.lexists(root / path)
        if not exists and path not in known:
            continue
        how = "modified" if exists and path in known else ("added" if exists else "removed")
        out.append(Change(path, kind_of(path), how))
    return ChangeSet(out)


def _known_paths(tree: SourceTree) -> set[str]:
    """Every input file of the tree and every folder above one, site-relative."""
    known = {"bengal.toml"}
    for top, rels in (("content/", (*tree.content, *tree.content_files)),
                      ("static/", tree.static), ("assets/", tree.assets), ("data/", tree.data),
                      ("templates/", tree.templates)):  # fmt: skip
        for r in rels:
            path = top + r
            while path and path not in known:
                known.add(path)
                path = path.rpartition("/")[0]
    return known
