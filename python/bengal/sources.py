"""Stage "parse" (and "data"): the site's source files -> parsed sources.

    SourceTree + the last build's source entries -> SourceLoad (front matter parsed, bodies
    loaded lazily; unchanged files restored from their entries without being read)

Front matter is parsed in a fork-based process pool above PARALLEL_PARSE_MIN files. Data files
(data/*.yaml|json|toml) are loaded here too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bengal_native
from bengal.discover import SourceTree
from bengal.errors import ContentError
from bengal.frontmatter import parse as parse_front_matter
from bengal.frontmatter import split_raw, yaml_error

if TYPE_CHECKING:
    from bengal import incremental
    from bengal.assemble import ParsedSource


# Below this many front matter blocks, parsing in the parent beats starting processes.
PARALLEL_PARSE_MIN = 800


def _parse_chunk(items: list[tuple[str, str, str]]) -> list[tuple[Any, ...]]:
    """Worker side of the parallel front matter parse: ("ok", data) or ("err", msg, line)."""
    out: list[tuple[Any, ...]] = []
    for raw, parser, rel in items:
        try:
            out.append(("ok", parse_front_matter(raw, parser, rel)))
        except ContentError as exc:
            out.append(("err", exc.reason, exc.line))
    return out


def _parse_all(items: list[tuple[str, str, str]], workers: int) -> list[tuple[Any, ...]]:
    """YAML/TOML front matter of every page. PyYAML's constructor is Python code (~0.1 ms a
    page), so a large site parses in a fork-based pool; no native thread exists yet at this
    point, which keeps fork() safe (shared/NOTES.md)."""
    if workers <= 1 or len(items) < PARALLEL_PARSE_MIN:
        return _parse_chunk(items)
    size = max(100, len(items) // (workers * 4))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    import multiprocessing

    # The change check may have used oneTBB (bengal_native.stat_files): no worker thread may
    # be alive across fork() (shared/NOTES.md).
    bengal_native.release_worker_threads()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        parts = pool.map(_parse_chunk, chunks, chunksize=1)
    return [r for part in parts for r in part]


@dataclass
class SourceLoad:
    sources: list[ParsedSource] = field(default_factory=list)
    errors: list[ContentError] = field(default_factory=list)
    entries: dict[str, incremental.SourceEntry] = field(default_factory=dict)
    changes: dict[str, str] = field(default_factory=dict)  # content path -> change class
    read: int = 0  # files read (the others were restored from the cache)
    parsed: int = 0  # front matter blocks parsed


def parse_sources(
    tree: SourceTree, workers: int = 1
) -> tuple[list[ParsedSource], list[ContentError]]:
    loaded = load_sources(tree, workers)
    return loaded.sources, loaded.errors


def _read_body(base: str, rel: str) -> str:
    with open(os.path.join(base, rel), "rb") as f:
        text = f.read().decode("utf-8", "replace").replace("\r\n", "\n")
    return split_raw(text, rel)[2]


def body_reader(base: str, rel: str) -> Callable[[], str]:
    """The body of content file `rel`, read when first asked for (a partial, not a Path per
    page: restoring 10k pages should not cost 10k Path objects)."""
    return functools.partial(_read_body, base, rel)


def load_sources(
    tree: SourceTree,
    workers: int = 1,
    cached: dict[str, incremental.SourceEntry] | None = None,
    stats: dict[str, list[int]] | None = None,
) -> SourceLoad:
    """Every Markdown file -> ParsedSource (or an error naming the file and line). With a cache
    (incremental builds), a file whose (mtime_ns, size) is unchanged is restored without being
    read; one whose stat changed is read and hashed, and parsed only if its bytes changed."""
    from bengal import incremental
    from bengal.assemble import ParsedSource

    out = SourceLoad()
    pending: list[tuple[str, str, str, int]] = []  # rel, body, parser, body line
    fm_items: list[tuple[str, str, str]] = []
    fresh: dict[str, tuple[tuple[int, int], bytes]] = {}
    fm_digests: dict[str, bytes] = {}  # of each fresh file's front matter text
    base = tree.content_dir
    base_str = str(base)
    slot: dict[str, int] = {}  # rel -> index in out.sources (keeps tree order)
    order: list[ParsedSource | None] = []
    for rel in tree.content:
        st = stats.get("content/" + rel) if stats is not None else None
        stat = (st[0], st[1]) if st is not None else (0, -1)
        entry = cached.get(rel) if cached is not None else None
        if entry is not None and entry.stat == stat:
            _restore(out, rel, entry, base_str, order)
            continue
        try:
            data = (base / rel).read_bytes()
        except OSError as exc:
            out.errors.append(ContentError(f"cannot read: {exc.strerror}", file=rel))
            continue
        out.read += 1
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if entry is not None and entry.digest == digest:
            entry = entry._replace(stat=stat, digest=digest)
            _restore(out, rel, entry, base_str, order)
            continue
        fresh[rel] = (stat, digest)
        out.changes[rel] = "added" if entry is None else "changed"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            err = (f"not valid UTF-8 (byte {exc.start}); save the file as UTF-8", line)
            out.entries[rel] = incremental.SourceEntry(stat, digest, ("err", *err))
            out.errors.append(ContentError(err[0], file=rel, line=err[1]))
            continue
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        try:
            parser, raw_fm, body, body_line = split_raw(text, rel)
        except ContentError as exc:
            out.entries[rel] = incremental.SourceEntry(stat, digest, ("err", exc.reason, exc.line))
            out.errors.append(exc)
            continue
        pending.append((rel, body, parser or "", body_line))
        fm_digests[rel] = hashlib.blake2b(
            f"{parser}\0{raw_fm}".encode("utf-8", "surrogatepass"), digest_size=16
        ).digest()
        slot[rel] = len(order)
        order.append(None)
        if parser:
            fm_items.append((raw_fm, parser, rel))
    out.parsed = len(fm_items)
    parsed = iter(_parse_all(fm_items, workers))
    for rel, body, parser, body_line in pending:
        meta: dict[str, Any] = {}
        stat, digest = fresh[rel]
        if parser:
            outcome = next(parsed)
            if outcome[0] == "err":
                out.entries[rel] = incremental.SourceEntry(stat, digest, outcome)
                out.errors.append(ContentError(outcome[1], file=rel, line=outcome[2]))
                continue
            meta = outcome[1]
        old = cached.get(rel) if cached is not None else None
        if old is not None and old.parsed[0] == "ok":
            same = old.parsed[1] == meta and old.parsed[2] == body_line
            out.changes[rel] = "body" if same else "metadata"
        out.entries[rel] = incremental.SourceEntry(
            stat, digest, ("ok", meta, body_line), fm_digest=fm_digests[rel]
        )
        order[slot[rel]] = ParsedSource(rel, meta, body, body_line)
    out.sources = [s for s in order if s is not None]
    if cached is not None:
        present = set(tree.content)
        for rel in cached:
            if rel not in present:
                out.changes[rel] = "removed"
        # A removed file whose bytes reappear under a new name is a rename.
        gone = {cached[r].digest: r for r, c in out.changes.items() if c == "removed"}
        for rel, c in list(out.changes.items()):
            if c == "added" and out.entries[rel].digest in gone:
                out.changes[rel] = f"renamed from {gone[out.entries[rel].digest]}"
    return out


def _restore(
    out: SourceLoad,
    rel: str,
    entry: incremental.SourceEntry,
    base: str,
    order: list[ParsedSource | None],
) -> None:
    from bengal.assemble import ParsedSource

    out.entries[rel] = entry
    if entry.parsed[0] == "err":
        out.errors.append(ContentError(entry.parsed[1], file=rel, line=entry.parsed[2]))
        return
    src = ParsedSource(rel, entry.parsed[1], None, entry.parsed[2], body_reader(base, rel))
    src.heading = entry.heading
    order.append(src)


def load_data(root: Path, tree: SourceTree) -> tuple[dict[str, Any], list[str]]:
    """data/a/b.yaml -> site.data["a"]["b"]."""
    if not tree.data:
        return {}, []
    import yaml

    from bengal.config import tomllib

    data: dict[str, Any] = {}
    errors: list[str] = []
    for rel in tree.data:
        path = root / "data" / rel
        try:
            text = path.read_text(encoding="utf-8")
            if rel.endswith((".yaml", ".yml")):
                value = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
            elif rel.endswith(".json"):
                value = json.loads(text)
            else:
                value = tomllib.loads(text)
        except UnicodeDecodeError as exc:
            errors.append(f"data/{rel}: not valid UTF-8 (byte {exc.start})")
            continue
        except yaml.YAMLError as exc:
            line, reason = yaml_error(exc)
            errors.append(f"data/{rel}:{line}: cannot parse YAML: {reason}")
            continue
        except ValueError as exc:  # json.JSONDecodeError and tomllib.TOMLDecodeError
            errors.append(f"data/{rel}: cannot parse: {exc}")
            continue
        parts = rel.rsplit(".", 1)[0].split("/")
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return data, errors
