"""Site directory -> SourceTree: every input file, found with one walk per input directory.

Hidden files and directories (".git", ".DS_Store") and editor leftovers ("x~", "#x#", ".x.swp")
are ignored. Paths are POSIX-style and relative to their input directory; lists are sorted so
every later stage sees the same order on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import bengal_native

THEME_DIR = Path(__file__).resolve().parent / "theme"  # the built-in theme
MARKDOWN_EXTS = (".md", ".markdown")
DATA_EXTS = (".yaml", ".yml", ".json", ".toml")


@dataclass
class SourceTree:
    root: Path
    content: list[str] = field(default_factory=list)  # Markdown files under content/
    content_files: list[str] = field(default_factory=list)  # other files under content/
    static: list[str] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)

    @property
    def content_dir(self) -> Path:
        return self.root / "content"


def _ignored(name: str) -> bool:
    return (
        name.startswith(".")
        or name.endswith("~")
        or (name.startswith("#") and name.endswith("#"))
        or name == "__pycache__"
    )


INPUT_DIRS = ("content", "templates", "static", "assets", "data")


def scan_tree(
    base: Path,
    prefix: str,
    out: dict[str, list[int]],
    skip_ignored: bool = True,
    bad: list[str] | None = None,
) -> None:
    """Add [mtime_ns, size] of every regular file below `base` to `out`, keyed prefix + POSIX
    relative path. Symlinked files are followed, symlinked directories are not (a link loop
    cannot hang the build). Runs over every file of a site on every build, natively
    (bengal_native.scan_tree: readdir + fstatat, ~5x a scandir loop in Python); the names it
    skips are those of `_ignored`."""
    bengal_native.scan_tree(str(base), prefix, out, skip_ignored, bad)


def scan_inputs(root: Path, bad: list[str] | None = None) -> dict[str, list[int]]:
    """Every input file of the site, keyed "content/a.md", "static/x.png", ... Names that are
    not UTF-8 are skipped (listed in `bad`)."""
    found: dict[str, list[int]] = {}
    for sub in INPUT_DIRS:
        scan_tree(root / sub, sub + "/", found, bad=bad)
    return found


def walk(base: Path) -> list[str]:
    """Relative POSIX paths of all regular files below `base`, sorted."""
    found: dict[str, list[int]] = {}
    scan_tree(base, "", found)
    return sorted(found)


def discover(root: Path, scanned: dict[str, list[int]] | None = None) -> SourceTree:
    """The site's input files, from `scanned` (scan_inputs' result, when the caller already
    walked the site) or from a fresh walk."""
    files = scanned if scanned is not None else scan_inputs(root)
    by_dir: dict[str, list[str]] = {d: [] for d in INPUT_DIRS}
    for key in sorted(files):
        d, _, rel = key.partition("/")
        if d in by_dir and rel:
            by_dir[d].append(rel)
    tree = SourceTree(root=root)
    for rel in by_dir["content"]:
        if rel.lower().endswith(MARKDOWN_EXTS):
            tree.content.append(rel)
        else:
            tree.content_files.append(rel)
    tree.static = by_dir["static"]
    tree.assets = by_dir["assets"]
    tree.data = [p for p in by_dir["data"] if p.lower().endswith(DATA_EXTS)]
    tree.templates = by_dir["templates"]
    return tree
