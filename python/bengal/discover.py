"""Site directory -> SourceTree: every input file, found with one walk per input directory.

Hidden files and directories (".git", ".DS_Store") and editor leftovers ("x~", "#x#", ".x.swp")
are ignored. Paths are POSIX-style and relative to their input directory; lists are sorted so
every later stage sees the same order on every machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

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


def walk(base: Path) -> list[str]:
    """Relative POSIX paths of all regular files below `base` (sorted; symlinked files are
    followed, symlinked directories are not, so a link loop cannot hang the build)."""
    out: list[str] = []
    if not base.is_dir():
        return out
    stack = [("", str(base))]
    while stack:
        rel, path = stack.pop()
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        for entry in entries:
            if _ignored(entry.name):
                continue
            child_rel = f"{rel}{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((child_rel + "/", entry.path))
                elif entry.is_file():
                    out.append(child_rel)
            except OSError:
                continue
    out.sort()
    return out


def discover(root: Path) -> SourceTree:
    tree = SourceTree(root=root)
    for rel in walk(root / "content"):
        if rel.lower().endswith(MARKDOWN_EXTS):
            tree.content.append(rel)
        else:
            tree.content_files.append(rel)
    tree.static = walk(root / "static")
    tree.assets = walk(root / "assets")
    tree.data = [p for p in walk(root / "data") if p.lower().endswith(DATA_EXTS)]
    tree.templates = walk(root / "templates")
    return tree
