"""The build, in order. This is the one place where the stage order is written:

    config -> discover -> parse -> data -> assemble -> markdown -> templates (+ asset
    extraction and write-behind output, per worker) -> static files -> site-wide outputs

Each stage is timed (`bengal build --stats`). Template rendering runs in a fork-based process
pool on a GIL build of CPython (threads on a free-threaded one); the parent stops oneTBB's
worker threads before forking (shared/NOTES.md, "fork() and threads"), and every worker opens
its own native writer. Pages are dealt to workers round-robin in output-path order, and a
page's HTML depends only on the site model, so the output is the same for any worker count.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import os
import posixpath
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bengal_native
from bengal import cache
from bengal.config import load_config
from bengal.discover import INPUT_DIRS, THEME_DIR, SourceTree, discover
from bengal.errors import BengalError, BuildError, ConfigError, ContentError, TemplateError
from bengal.frontmatter import parse as parse_front_matter
from bengal.frontmatter import split_raw, yaml_error
from bengal.model import Page, Site
from bengal.store import Store, StoreDamaged, db_path

if TYPE_CHECKING:
    from bengal import incremental
    from bengal.assemble import Assembly, ParsedSource
    from bengal.render import Templates

# bengal.render (Jinja2) is imported when a build renders, not by a build with nothing to do.

STATE_DIR = ".bengal"


@dataclass
class BuildOptions:
    drafts: bool | None = None
    baseurl: str | None = None
    output: Path | None = None
    clean: bool = False
    strict: bool = False
    workers: int | None = None
    progress: Callable[[str, int, int], None] | None = None  # (stage, done, total)
    # Where caches, the build lock and the asset map live (default: SITE/.bengal). The dev
    # server keeps its own, so serving never invalidates the caches of `bengal build`.
    state_dir: Path | None = None
    # Receives what a successful build leaves in memory (WarmState), for the next build in
    # this process; the dev server's WarmBuilder sets it.
    keep_warm: Callable[[WarmState], None] | None = None
    # Build the site model even when nothing changed (the dev server needs it in memory).
    skip_noop: bool = False
    # The cache as the last build in this process left it (its snapshots describe the store in
    # .bengal; what it holds beyond them is newer): used instead of reading .bengal when the
    # cache key matches.
    prev_cache: incremental.Cache | None = None


@dataclass
class Message:
    file: str
    line: int
    text: str

    def __str__(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}: {self.text}"
        if self.file:
            return f"{self.file}: {self.text}"
        return self.text


@dataclass
class BuildResult:
    output_dir: Path
    pages: int = 0  # HTML documents written (pages, lists, pagers, terms)
    files: int = 0  # every file written or kept (HTML, feeds, static, assets)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds (wall)
    cpu: dict[str, float] = field(default_factory=dict)  # stage -> seconds summed over workers
    workers: int = 1
    written: int = 0
    skipped_identical: int = 0
    noop: bool = False  # nothing had changed since the last successful build
    rebuild_reason: str = ""
    incremental: bool = False  # the build reused the cache of an earlier one
    warm: bool = False  # rebuilt from the site model of the last build in this process
    express: bool = False  # body edits rendered from the recorded site model (bengal.express)
    rendered: int = 0  # HTML documents rendered by this build (the rest were kept)
    reused: int = 0  # HTML documents kept from the last build (their inputs did not change)
    markdown_rendered: int = 0  # Markdown bodies rendered (the rest came from the cache)
    files_read: int = 0  # Markdown files read (the rest were restored from the cache)
    taxonomy_reindexed: int = 0  # pages whose terms the taxonomy index took again
    model_kept: int = 0  # records of the recorded site model kept from the last build
    removed: int = 0  # stale outputs deleted
    changes: dict[str, str] = field(default_factory=dict)  # content path -> change class
    explain: list[str] = field(default_factory=list)
    explain_outputs: dict[str, str] = field(default_factory=dict)  # output -> why rendered
    started: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


@contextmanager
def _stage(
    result: BuildResult, name: str, progress: Callable[[str, int, int], None] | None = None
) -> Iterator[None]:
    if progress is not None:
        progress(name, 0, 0)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        result.timings[name] = result.timings.get(name, 0.0) + time.perf_counter() - t0


# ---- parse ----------------------------------------------------------------------------------


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


def _body_reader(base: str, rel: str) -> Callable[[], str]:
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
    src = ParsedSource(rel, entry.parsed[1], None, entry.parsed[2], _body_reader(base, rel))
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


# ---- assets and static files ----------------------------------------------------------------


@dataclass
class AssetPlan:
    """assets/ (theme + site) -> output paths, fingerprinted when configured."""

    sources: dict[str, Path] = field(default_factory=dict)  # assets-relative -> file
    outputs: dict[str, str] = field(default_factory=dict)  # assets-relative -> output path


def plan_assets(root: Path, tree: SourceTree, fingerprint: bool) -> AssetPlan:
    from bengal.discover import walk

    plan = AssetPlan()
    for rel in walk(THEME_DIR / "assets"):
        plan.sources[rel] = THEME_DIR / "assets" / rel
    for rel in tree.assets:  # the site's own assets override the theme's
        plan.sources[rel] = root / "assets" / rel
    for rel, path in sorted(plan.sources.items()):
        out = f"assets/{rel}"
        if fingerprint:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            stem, dot, ext = out.rpartition(".")
            out = f"{stem}.{digest}.{ext}" if dot and "/" not in ext else f"{out}.{digest}"
        plan.outputs[rel] = out
    return plan


def ref_helper(index: Callable[[], Any]) -> Callable[[str], str]:
    """The ref() template helper: the URL of a page by xref key, like [[key]] or [[key#anchor]]
    (`index` gives the cross-reference index, made on first use if it must be)."""

    def ref(key: str) -> str:
        path, _, anchor = key.partition("#")
        hit = index().lookup(path) if path else None
        if hit is None:
            raise TemplateError(f"ref({key!r}): no page answers to {path!r}")
        url = str(hit[0])
        return f"{url}#{bengal_native.slugify(anchor)}" if anchor else url

    return ref


def asset_url_helper(plan: AssetPlan, baseurl: str) -> Callable[[str], str]:
    """The asset_url() template helper: an assets/ file's output URL (fingerprinted if so
    configured), under the site's base path."""
    base_path = baseurl.split("://", 1)[-1].partition("/")[2]

    def asset_url(rel: str) -> str:
        out = plan.outputs.get(rel.lstrip("/"))
        if out is None:
            raise TemplateError(f"asset_url({rel!r}): no such file under assets/")
        return "/" + (base_path + out if base_path else out)

    return asset_url


_COPY_COUNTER = itertools.count()


def copy_file(src: Path, dst: Path, racy_ns: int) -> bool:
    """Copy unless dst already has src's size and mtime; atomic (temp + rename). True if copied.
    A source modified at or after `racy_ns` (a clock tick before the build's scan, as
    incremental.RACY_NS for sources) is "racy": see below."""
    try:
        s = src.stat()
        d = dst.stat()
        if s.st_size == d.st_size and s.st_mtime_ns == d.st_mtime_ns:
            return False
    except FileNotFoundError:
        pass
    dst.parent.mkdir(parents=True, exist_ok=True)
    # Short and unique (not the file's own name: a 250-byte name plus a prefix is too long).
    tmp = dst.with_name(f"{TEMP_PREFIX}{os.getpid()}.c{next(_COPY_COUNTER)}.tmp")
    try:
        shutil.copyfile(src, tmp)
        shutil.copystat(src, tmp)
        st = os.stat(src)
        if st.st_mtime_ns >= racy_ns:
            # Modified within a clock tick of the scan (or since): a same-size rewrite could keep
            # this mtime. The copy gets a different one, so that the next build compares again.
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns - 1))
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    return True


def copy_files(
    root: Path, tree: SourceTree, site: Site, plan: AssetPlan, out: Path, racy_ns: int
) -> tuple[list[str], list[str]]:
    """static/, assets/ and content resources -> output. Returns (output paths, errors)."""
    errors: list[str] = []
    done: list[str] = []
    for src, dst in copy_jobs(root, tree, site, plan):
        try:
            copy_file(src, out / dst, racy_ns)
            done.append(dst)
        except OSError as exc:
            errors.append(f"{src}: cannot copy to {dst}: {exc.strerror or exc}")
    return done, errors


def copy_jobs(root: Path, tree: SourceTree, site: Site, plan: AssetPlan) -> list[tuple[Path, str]]:
    """(source file, output path) of every file copied as it is."""
    jobs: list[tuple[Path, str]] = []
    for rel in tree.static:
        jobs.append((root / "static" / rel, rel))
    for rel, src in sorted(plan.sources.items()):
        jobs.append((src, plan.outputs[rel]))
    # Files beside Markdown under content/: a leaf bundle's resources go next to its page,
    # others keep their path below the section's URL.
    bundles = {p.bundle_dir: p for p in site.pages if p.bundle_dir}
    for rel in tree.content_files:
        d = rel.rpartition("/")[0]
        owner = None
        probe = d
        while probe:
            if probe in bundles:
                owner = bundles[probe]
                break
            probe = probe.rpartition("/")[0]
        if owner is not None:
            base = owner.output_path.rpartition("/")[0]
            assert owner.bundle_dir is not None
            sub = rel[len(owner.bundle_dir) + 1 :]
            jobs.append((root / "content" / rel, f"{base}/{sub}" if base else sub))
        else:
            sec = site.sections.get(d)
            if sec is not None and sec.index is not None:
                base = sec.index.output_path.rpartition("/")[0]
                name = rel.rpartition("/")[2]
                jobs.append((root / "content" / rel, f"{base}/{name}" if base else name))
            else:
                jobs.append((root / "content" / rel, rel))
    return jobs


def conflicting_stale(stale: set[str], new: set[str]) -> set[str]:
    """The stale outputs in the way of new ones: a stale file where a new output needs a
    folder (static/x.txt became static/x.txt/y.txt), or stale files inside a folder where a
    new output needs a file. They are removed before anything is written."""
    if not stale:
        return set()
    new_dirs: set[str] = set()
    for p in new:
        d = p.rpartition("/")[0]
        while d and d not in new_dirs:
            new_dirs.add(d)
            d = d.rpartition("/")[0]
    in_the_way = {p for p in stale if p in new_dirs}
    for p in stale:
        d = p.rpartition("/")[0]
        while d:
            if d in new:
                in_the_way.add(p)
                break
            d = d.rpartition("/")[0]
    return in_the_way


# ---- template workers -----------------------------------------------------------------------

_W: dict[str, Any] = {}  # the state a forked worker inherits

# What the last build in this process loaded (site model, cache maps): held until the next
# build (or the process's end) instead of being freed as the build returns. Freeing a loaded
# cache costs ~0.2 s at 10k pages, and the command line ends with os._exit, never paying it.
LAST_BUILD: list[Any] = []


@dataclass
class ShardResult:
    pages: int = 0
    written: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    records: list[tuple[str, incremental.OutputRecord]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    # After a writer failure: every path handed to the writer (some may be on disk). Kept in
    # the manifest without a record, so they are rendered again -- or removed if stale.
    attempted: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # sources whose stored HTML was damaged


_TEMPLATES: Templates | None = None  # one environment per process, made on first use


def _render_chunk(chunk: int) -> ShardResult:
    """Render every `chunks`-th job starting at `chunk`, extract its assets and write it. Runs
    in a worker process (or in the parent for one worker) and returns only small results."""
    from bengal import incremental

    global _TEMPLATES
    from bengal.render import pager_output_path

    jobs: list[tuple[Page, int]] = _W["jobs"]
    chunks: int = _W["chunks"]
    if _TEMPLATES is None:
        _TEMPLATES = _W["templates_factory"]()
    templates = _TEMPLATES
    out_dir: Path = _W["out_dir"]
    progress: Callable[[int], None] | None = _W.get("inline_progress")
    res = ShardResult()
    t_tpl = t_assets = 0.0
    writer = bengal_native.OutputWriter(str(out_dir), max_buffer_mb=64, threads=1)
    writer_failed = False
    failed_path: str | None = None
    dep_memo: dict[tuple[int, str], str | None] = {}
    dep_of = incremental.dep_of
    try:
        for i, (page, number) in enumerate(jobs[chunk::chunks]):
            t0 = time.perf_counter()
            try:
                html, seen = templates.render_tracked(page, number)
            except TemplateError as exc:
                res.errors.append(str(exc))
                continue
            t1 = time.perf_counter()
            refs = bengal_native.extract_assets(html)
            t2 = time.perf_counter()
            t_tpl += t1 - t0
            t_assets += t2 - t1
            path = pager_output_path(page, number)
            try:
                writer.write(path, html)
            except OSError as exc:
                # The writer stops at its first failure and drops what it still had queued.
                res.errors.append(_write_error(exc))
                writer_failed = True
                failed_path = path
                break
            res.pages += 1
            own = incremental.page_key(page)
            deps = set()
            for mk, obj in seen.reads.items():
                d = dep_memo.get(mk, "?")
                if d == "?":
                    d = dep_memo[mk] = dep_of(obj, mk[1])
                if d is not None:
                    deps.add(d)
            for g in incremental.PAGE_GROUPS:  # its own page is always a dependency
                deps.discard(own + g)
            record = incremental.OutputRecord(
                page=own,
                templates=tuple(sorted(seen.templates)),
                deps=frozenset(deps),
                calls=tuple(sorted(seen.calls)),
                assets=[(r.url, r.is_external) for r in refs],
                warnings=tuple(seen.warnings),
            )
            res.records.append((path, record))
            if progress is not None and i % 64 == 63:
                progress(64)
    finally:
        t3 = time.perf_counter()
        try:
            writer.close()
        except OSError as exc:
            if not writer_failed:
                res.errors.append(_write_error(exc))
            writer_failed = True
        if writer_failed:
            # Which queued files reached the disk is unknown: record none of them as built, so
            # the next build renders them again (their old files are kept meanwhile).
            res.attempted = [p for p, _ in res.records]
            if failed_path is not None:
                res.attempted.append(failed_path)
            res.records.clear()
            res.pages = 0
        stats = writer.stats()
        res.written = int(stats["files_written"])
        res.skipped = int(stats["skipped_identical"])
        res.seconds["write (wait)"] = time.perf_counter() - t3
        res.seconds["write (busy)"] = float(stats["seconds_busy"])
    res.seconds["templates"] = t_tpl
    res.seconds["asset extraction"] = t_assets
    templates.warnings.clear()
    res.warnings.extend(incremental.DAMAGE_WARNINGS)
    incremental.DAMAGE_WARNINGS.clear()
    res.damaged.extend(incremental.DAMAGED_SOURCES)
    incremental.DAMAGED_SOURCES.clear()
    return res


# The page an old output belonged to, when the cache that said so is lost.
UNKNOWN_PAGE = "?"


def _failed(page_key: str, failed: set[str]) -> bool:
    """Whether an old output of `page_key` belongs to a source that fails now (it keeps its
    last good output). An output of an unknown page might: kept while anything fails."""
    return page_key in failed or (page_key == UNKNOWN_PAGE and bool(failed))


def _write_error(exc: OSError) -> str:
    where = exc.filename or "output"
    return (
        f"{where}: cannot write ({exc.strerror or exc}); pages not written are rendered again "
        "by the next build"
    )


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def _gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def run_chunks(
    workers: int,
    report: Callable[[int, int], None] | None,
    background: Callable[[], None] = lambda: None,
) -> list[ShardResult]:
    """Render all jobs with `workers` processes (threads on a free-threaded Python). Jobs are
    dealt round-robin into chunks; the chunk boundaries never change what a page contains.
    `background` (file copying) runs in the parent while the workers render."""
    global _TEMPLATES
    total = len(_W["jobs"])
    done = 0
    if workers <= 1:
        _W["chunks"] = 1

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if report is not None:
                report(done, total)

        _W["inline_progress"] = tick
        try:
            single = [_render_chunk(0)]
        finally:
            _TEMPLATES = None
        background()
        return single
    chunks = workers * 4
    _W["chunks"] = chunks
    results: list[ShardResult] = []
    if not _gil_enabled():
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as ex:
            futures = list(ex.map(_render_chunk, range(chunks)))
        background()
        return futures
    # No oneTBB worker thread may be alive across fork() (shared/NOTES.md).
    bengal_native.release_worker_threads()
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        # The workers exist now; a thread started in the parent from here on is never forked.
        pending = pool.imap(_render_chunk, range(chunks))
        copier = threading.Thread(target=background, name="bengal-copy")
        copier.start()
        try:
            for res in pending:
                results.append(res)
                done += res.pages
                if report is not None:
                    report(min(done, total), total)
        finally:
            copier.join()
    return results


# ---- the build ------------------------------------------------------------------------------


@contextmanager
def site_lock(root: Path, state: Path | None = None) -> Iterator[None]:
    """One build per site at a time: an exclusive flock on .bengal/build.lock. The kernel drops
    the lock when the process dies (even by kill -9), so a crashed build never blocks the next."""
    import fcntl

    state = state or root / STATE_DIR
    try:
        state.mkdir(parents=True, exist_ok=True)
        fd = os.open(state / "build.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BuildError(
            f"cannot create {state / 'build.lock'}: {exc.strerror}; {state} must be a folder "
            "bengal can write (it holds only caches: remove it if it is a file)"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "another process"
            raise BuildError(
                f"another bengal build is running on {root} (pid {holder}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def make_dir(path: Path, advice: str) -> None:
    """mkdir -p, or a BuildError naming the folder, the reason and what to do."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create {path}: {exc.strerror}; {advice}") from None


def check_output_dir(root: Path, out_dir: Path) -> None:
    """Refuse an output directory whose files would be sources (or whose removal -- --clean,
    `bengal clean` -- would delete sources): the site itself, a folder above it, or one inside
    an input folder. Raises ConfigError (the configuration or -o names it)."""
    if out_dir == root or out_dir in root.parents:
        raise ConfigError(f"output directory {out_dir} contains the site; choose another")
    for name in INPUT_DIRS:
        inputs = root / name
        if out_dir == inputs or inputs in out_dir.parents:
            raise ConfigError(
                f"output directory {out_dir} is inside the site's {name}/ folder; choose one "
                "outside content/, templates/, static/, assets/ and data/ (the default is "
                "public/)"
            )


def build(root: Path, options: BuildOptions | None = None) -> BuildResult:
    """Build the site in `root`. Raises ConfigError for configuration problems and BuildError
    when another build holds the site; everything about content and templates is collected in
    the result (errors, warnings)."""
    root = root.resolve()
    opts = options or BuildOptions()
    with site_lock(root, opts.state_dir), _no_cyclic_gc():
        return _build(root, opts)


@dataclass
class WarmState:
    """What a successful build leaves in memory for the next build in the same process (the
    dev server): the site model, the cache as saved, the open store, a warm template
    environment."""

    root: Path
    out_dir: Path
    state_dir: Path
    tree: SourceTree
    site: Site
    cache: incremental.Cache  # its snapshots describe the store in .bengal until `dirty`
    jobs: dict[str, tuple[Page, int]]  # HTML output path -> (page, pager number)
    templates_factory: Callable[[], Templates]
    store: Store
    md: Any  # bengal.render.MarkdownContext
    alias_files: dict[str, bytes]
    templates: Templates | None = None
    dirty: bool = False  # changed since the cache files were written
    # Built on first use: page key -> its outputs, "key|group" -> outputs that read it.
    owners: dict[str, set[str]] | None = None
    readers: dict[str, set[str]] | None = None
    by_source: dict[str, Page] | None = None
    linkers: dict[str, set[str]] | None = None  # page URL -> sources with [[it#anchor]]
    by_url: dict[str, Page] | None = None

    def index(self) -> None:
        if self.owners is not None:
            return
        linkers: dict[str, set[str]] = {}
        for rel, entry in self.cache.sources.items():
            if entry.md is not None:
                for url in _anchor_targets(entry.md.xrefs):
                    linkers.setdefault(url, set()).add(rel)
        self.linkers = linkers
        owners: dict[str, set[str]] = {}
        readers: dict[str, set[str]] = {}
        for path, rec in self.cache.outputs.items():
            owners.setdefault(rec.page, set()).add(path)
            for d in rec.deps:
                readers.setdefault(d, set()).add(path)
        self.owners, self.readers = owners, readers
        self.by_source = {p.source: p for p in self.site.pages if p.source}
        self.by_url = {p.url: p for p in self.site.pages}

    def replace_record(self, path: str, rec: incremental.OutputRecord | None) -> None:
        assert self.owners is not None and self.readers is not None
        old = self.cache.outputs.pop(path, None)
        if old is not None:
            for d in old.deps:
                self.readers.get(d, set()).discard(path)
        if rec is not None:
            self.cache.outputs[path] = rec
            self.owners.setdefault(rec.page, set()).add(path)
            for d in rec.deps:
                self.readers.setdefault(d, set()).add(path)

    def close(self) -> None:
        self.store.close()


def _anchor_targets(xrefs: list[tuple[str, bool, str, int]]) -> set[str]:
    """URLs of the pages whose headings these cross-references name (url#anchor)."""
    return {
        url.partition("#")[0]
        for _, resolved, url, _ in xrefs
        if resolved and "#" in url and not url.startswith("#")
    }


class WarmBuilder:
    """Builds one site again and again in one process: the dev server's builder.

    After a successful build the site model stays in memory (WarmState). A change that only
    edits the bodies of existing Markdown files -- the writer's everyday save -- is rebuilt
    from that model: the files named by the watcher are read, their front matter compared by
    digest, their Markdown rendered, and only the outputs whose recorded dependencies changed
    are rendered again with the warm template environment. Anything else (front matter,
    templates, files added or removed, configuration, a heading that gives a page its title)
    takes the ordinary incremental build, from the cache on disk.
    The in-memory cache is written to .bengal when the server is idle (flush()); until then
    the files there describe an older state, which the next build detects as changed inputs
    and outputs -- so a server killed at any moment leaves nothing a later build trusts wrongly.
    Every build uses the server's own output and state directories and the site's configured
    base path under the server's origin as baseurl."""

    def __init__(
        self,
        root: Path,
        state_dir: Path,
        output: Path,
        origin: str,
        drafts: bool | None = None,
        workers: int | None = None,
    ) -> None:
        self.root = root.resolve()
        self.state_dir = state_dir
        self.output = output
        self.origin = origin.rstrip("/")
        self.drafts = drafts
        self.workers = workers
        self.base_path = "/"
        self.warm: WarmState | None = None
        self.garbage = False  # an old site model waits for the cyclic collector

    def options(self) -> BuildOptions:
        from urllib.parse import urlsplit

        overrides: dict[str, dict[str, Any]] = {}
        if self.drafts is not None:
            overrides["build"] = {"drafts": self.drafts}
        config = load_config(self.root, overrides=overrides)
        self.base_path = urlsplit(config.baseurl).path or "/"
        return BuildOptions(
            drafts=self.drafts,
            baseurl=self.origin + self.base_path,
            output=self.output,
            workers=self.workers,
            state_dir=self.state_dir,
            keep_warm=self._keep,
            skip_noop=True,
        )

    def _keep(self, state: WarmState) -> None:
        self.warm = state

    def build(self, changed: list[str] | None = None) -> BuildResult:
        """Build after `changed` (site-relative paths; None: unknown, check everything)."""
        if changed is not None and self.warm is not None:
            try:
                with _no_cyclic_gc():
                    fast = self._body_edits(self.warm, changed)
            except Exception:
                # Half-applied in memory: forget it (never write it), and let the ordinary
                # build start from the cache files, which treat everything since as changed.
                self._discard()
                raise
            if fast is not None:
                return fast
        opts = self.options()
        if self.warm is not None:
            # The ordinary build starts from the in-memory cache (no need to write it and
            # read it back); the site model is built again.
            opts.prev_cache = self.warm.cache
            self.warm.close()
            self.warm = None
            self.garbage = True
        return build(self.root, opts)

    def _discard(self) -> None:
        """Forget the warm state without writing it."""
        if self.warm is not None:
            self.warm.close()
            self.warm = None
            self.garbage = True

    def _drop(self) -> None:
        """Forget the warm state, after writing what it changed."""
        if self.warm is None:
            return
        self.flush()
        self.warm.close()
        self.warm = None
        self.garbage = True

    def flush(self) -> None:
        """Write the in-memory cache to the store (only the records that changed)."""
        from bengal import incremental

        w = self.warm
        if w is None or not w.dirty:
            return
        try:
            with w.store.transaction():
                incremental.save(w.store, w.cache, w.cache, w.md.index)
            w.store.written()
            incremental.saved(w.cache)
        except OSError:
            # The cache on disk stays the older one; the next build treats what differs from
            # it as changed. Give up the warm state so that nothing relies on a partial save.
            w.close()
            self.warm = None
            return
        w.dirty = False

    def prepare(self) -> None:
        """Make what the first body edit would make (indexes of the dependency records, the
        template environment), so that it costs no more than the ones after it."""
        w = self.warm
        if w is not None:
            w.index()
            if w.templates is None:
                w.templates = w.templates_factory()

    def close(self) -> None:
        self._drop()

    def _body_edits(self, w: WarmState, changed: list[str]) -> BuildResult | None:
        """The fast path (see the class); None when the change is not body edits only."""
        from bengal import incremental
        from bengal.discover import MARKDOWN_EXTS
        from bengal.render import MarkdownReport

        t0 = time.perf_counter()
        scan_ns = time.time_ns()
        gone = [p for p in changed if not os.path.lexists(w.root / p)]
        if gone:
            # A path that is gone and that the last build knew neither as a file nor as a
            # folder of files (an editor's or sed's temporary file, written and renamed away)
            # changes nothing; anything else gone is for the ordinary build.
            t = w.tree
            known = {"bengal.toml"}
            for top, rels in (("content/", (*t.content, *t.content_files)), ("static/", t.static),
                              ("assets/", t.assets), ("data/", t.data),
                              ("templates/", t.templates)):  # fmt: skip
                for r in rels:
                    path = top + r
                    while path and path not in known:
                        known.add(path)
                        path = path.rpartition("/")[0]
            changed = [p for p in changed if p not in gone or p in known]
        if not changed:
            return None
        w.index()
        assert w.by_source is not None and w.owners is not None and w.readers is not None
        entries = w.cache.sources
        same_bytes: dict[str, incremental.SourceEntry] = {}
        edits: list[tuple[str, Page, incremental.SourceEntry, str]] = []
        for path in changed:
            if not path.startswith("content/") or not path.endswith(MARKDOWN_EXTS):
                return None
            rel = path[len("content/") :]
            entry = entries.get(rel)
            page = w.by_source.get(rel)
            if entry is None or page is None or entry.parsed[0] != "ok" or entry.md is None:
                return None
            try:
                st = os.stat(w.root / path)
                data = (w.root / path).read_bytes()
            except OSError:
                return None  # removed (or unreadable): the ordinary build says what to do
            stat = (st.st_mtime_ns, st.st_size)
            digest = hashlib.blake2b(data, digest_size=16).digest()
            if digest == entry.digest:
                same_bytes[rel] = entry._replace(stat=stat)
                continue
            body = incremental.edited_body(data, rel, entry)
            if body is None:
                return None
            edits.append((rel, page, entry._replace(stat=stat, digest=digest), body))
        result = BuildResult(
            output_dir=w.out_dir, started=t0, incremental=True, warm=True, workers=1
        )
        result.rebuild_reason = "changed: " + ", ".join(changed)
        result.files_read = len(same_bytes) + len(edits)
        if not edits:
            racy_ns = scan_ns - incremental.RACY_NS
            for rel, e in same_bytes.items():
                entries[rel] = e._replace(stat=(0, -1)) if e.stat[0] >= racy_ns else e
            w.dirty = w.dirty or bool(same_bytes)
            result.noop = True
            result.timings["total"] = time.perf_counter() - t0
            return result

        # Markdown, checked before anything in the model changes.
        rendered = w.md.render([body for *_, body in edits])
        fresh: list[tuple[incremental.MdFacts, str]] = [w.md.facts(res) for res in rendered]
        result.timings["markdown"] = time.perf_counter() - t0

        # From here on the model, the outputs and the cache change.
        cache.clear_state(w.store)
        w.dirty = True
        report = MarkdownReport()
        assert w.linkers is not None
        recheck: set[str] = set()  # pages whose [[x#anchor]] links must be checked again
        for (rel, page, entry, body), (f, html) in zip(edits, fresh, strict=True):
            assert entry.md is not None
            page._body, page._body_loader = body, None
            w.md.attach(page, f, html, report)
            for url in _anchor_targets(entry.md.xrefs):
                w.linkers.get(url, set()).discard(rel)
            for url in _anchor_targets(f.xrefs):
                w.linkers.setdefault(url, set()).add(rel)
            if [t[1] for t in f.toc] != [t[1] for t in entry.md.toc]:
                recheck |= w.linkers.get(page.url, set())  # its heading ids changed
            entries[rel] = entry._replace(md=f)
            result.changes[rel] = "body"
        entries.update(same_bytes)
        result.markdown_rendered = len(edits)
        by_url = w.by_url
        assert by_url is not None

        def anchors_of(hit: Page) -> set[str]:
            e = entries.get(hit.source) if hit.source else None
            return (
                {t[1] for t in e.md.toc} if e is not None and e.md is not None else set(hit.anchors)
            )

        for rel in sorted(recheck | {rel for rel, *_ in edits}):
            md = entries[rel].md
            assert md is not None
            w.md.check_xrefs(w.by_source[rel], md, by_url, anchors_of, report)
        for file, line, text in report.warnings:
            result.warnings.append(str(Message(file, line, text)))
        for file, line, text in report.broken:
            result.warnings.append(str(Message(file, line, text)))

        t1 = time.perf_counter()
        touched = {rel for rel, *_ in edits}
        md_hashes = {"p:" + rel: incremental.body_hash(entries[rel]) for rel in touched}
        digests = {rel: entries[rel].fm_digest for rel in touched}
        partial = incremental.site_facts(w.site, md_hashes, digests, only=touched)
        facts = w.cache.facts
        changed_keys = {k for k, v in partial.items() if facts.get(k) != v}
        if any(not k.endswith(("|body", "|summary")) for k in changed_keys):
            # Cannot happen for a body edit with the same front matter and title; if it does,
            # the ordinary build redoes everything from the cache files (the in-memory state
            # is half-applied: never written).
            self._discard()
            return build(self.root, self.options())
        facts.update(partial)
        paths: set[str] = set()
        for rel in touched:
            paths |= w.owners.get("p:" + rel, set())
        for k in changed_keys:
            paths |= w.readers.get(k, set())
        jobs = [w.jobs[p] for p in sorted(paths) if p in w.jobs]
        result.explain_outputs = dict.fromkeys(sorted(paths), "source changed: body")
        result.timings["plan"] = time.perf_counter() - t1

        t2 = time.perf_counter()
        if w.templates is None:
            w.templates = w.templates_factory()
        templates = w.templates
        templates.menu_cache.clear()  # a menu template may read what these edits changed
        _W.clear()
        _W.update(jobs=jobs, out_dir=w.out_dir, templates_factory=lambda: templates)
        begin_writing(w.store, w.state_dir, w.out_dir)
        try:
            shard = run_chunks(1, None)[0]
        finally:
            _W.clear()
        with w.store.transaction():
            end_writing(w.store)
        result.timings["render+write"] = time.perf_counter() - t2
        result.errors.extend(shard.errors)
        result.warnings.extend(shard.warnings)
        result.written, result.skipped_identical = shard.written, shard.skipped
        rendered_ok = {p for p, _ in shard.records}
        for path, rec in shard.records:
            w.replace_record(path, rec)
        for path in paths - rendered_ok:
            w.replace_record(path, None)  # failed: never reuse its old record
        result.rendered = len(rendered_ok)
        result.reused = len(w.cache.outputs) - result.rendered
        result.pages = len(w.cache.outputs)
        result.files = len(w.cache.manifest)

        t3 = time.perf_counter()
        written = set(rendered_ok)
        if any(k.endswith("|summary") for k in changed_keys):
            # Feeds and the search index show summaries (never bodies: bengal.outputs).
            written.update(write_sitewide(w.site, w.tree, w.out_dir, w.alias_files, result))
        found = check_local_assets(
            [
                (p, w.cache.outputs[p].assets)
                for p in sorted(rendered_ok)
                if w.cache.outputs[p].assets
            ],
            w.out_dir,
            w.site,
        )
        for p in rendered_ok:
            w.cache.asset_warnings.pop(p, None)
        w.cache.asset_warnings.update({p: v for p, v in found.items() if v})
        for p in sorted(found):
            result.warnings.extend(found[p])
        w.cache.out_stats.update(
            {k: (v[0], v[1]) for k, v in cache.stat_outputs(w.out_dir, sorted(written)).items()}
        )
        racy = scan_ns - incremental.RACY_NS
        for rel in touched | set(same_bytes):
            if entries[rel].stat[0] >= racy:
                entries[rel] = entries[rel]._replace(stat=(0, -1))
        result.timings["site-wide"] = time.perf_counter() - t3
        if result.errors:
            self._drop()  # the next build starts from the files, like any build after errors
        result.timings["total"] = time.perf_counter() - t0
        return result


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """A build allocates millions of small objects that live until it ends (the site model,
    cache records); CPython's cyclic collector would walk them over and over (measured: ~20%
    of an incremental build). Reference counting still frees everything else; cycles are
    collected once at the end."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _state_options(root: Path, opts: BuildOptions, out_dir: Path) -> dict[str, Any]:
    """Everything besides the files themselves that changes what a build produces."""
    return {
        "drafts": opts.drafts,
        "baseurl": opts.baseurl,
        "env_baseurl": os.environ.get("BENGAL_BASEURL", ""),
        "output": str(out_dir),
        "strict": opts.strict,
        "code": cache.code_key(),
    }


def _build(root: Path, opts: BuildOptions) -> BuildResult:
    overrides: dict[str, dict[str, Any]] = {}
    if opts.drafts is not None:
        overrides.setdefault("build", {})["drafts"] = opts.drafts
    if opts.baseurl:
        overrides.setdefault("site", {})["baseurl"] = opts.baseurl
    t_start = time.perf_counter()
    config = load_config(root, overrides=overrides)
    out_dir = opts.output.resolve() if opts.output else config.output_dir
    result = BuildResult(output_dir=out_dir, started=t_start)
    result.timings["config"] = time.perf_counter() - t_start
    result.warnings.extend(config.warnings)
    check_output_dir(root, out_dir)

    state_dir = opts.state_dir or root / STATE_DIR
    state_options = _state_options(root, opts, out_dir)
    scan_ns = time.time_ns()
    with _stage(result, "change check"):
        store, reset = open_store(state_dir, result)
        check = cache.check_noop(root, out_dir, store, THEME_DIR, state_options)
    if check.clean and not opts.clean and not opts.skip_noop and check.state is not None:
        summary = check.state.get("summary", {})
        result.noop = True
        result.pages = int(summary.get("pages", 0))
        result.files = int(summary.get("files", 0))
        result.workers = 0
        # (The configuration's and the scan's warnings are in the summary too: said once.)
        said = set(result.warnings)
        result.warnings.extend(w for w in summary.get("warnings", []) if w not in said)
        result.timings["total"] = time.perf_counter() - t_start
        return result
    result.rebuild_reason = check.reason
    for name in check.bad_names:
        result.warnings.append(
            f"{name}: the file name is not valid UTF-8 (shown with \ufffd); rename the file -- "
            "it is skipped, with everything below it if it is a folder"
        )
    LAST_BUILD[:] = [check, store]
    if check.state is not None:
        from bengal import express

        fast = express.try_build(
            root, opts, config, out_dir, store, state_options, check, scan_ns, result
        )
        if fast is not None:
            fast.timings["total"] = time.perf_counter() - t_start
            return fast
        result.timings.pop("markdown", None)
        result.timings.pop("plan", None)
    # From here on the recorded state no longer describes the output directory.
    inputs_before = check.inputs
    _clear_state(store, state_dir)

    from bengal import incremental
    from bengal.assemble import assemble

    with _stage(result, "load cache"):
        key = incremental.config_key(config.source, state_options)
        old: incremental.Cache | None
        if opts.prev_cache is not None and opts.prev_cache.config_key == key:
            old, why, warn = opts.prev_cache, "", ""
        else:
            old, why, warn = incremental.load(store, key)
        if warn:
            result.warnings.append(warn)
        if why == "cache damaged":
            try:
                store.replace()  # damage in its structure is not mended by writing over it
            except (OSError, StoreDamaged) as exc:
                raise BuildError(f"cannot replace the damaged {store.path}: {exc}") from None
        prev = old if old is not None and not why else None
        if opts.clean:
            prev, why = None, "--clean"
        # The fast path met damage only it reads (the model, stored answers): written again.
        repair = check.repair
        # Files the last build wrote (and any a killed build was about to write): whatever of
        # these this build does not write again is stale and removed.
        old_manifest = set(old.manifest) if old is not None else set()
        fallback_outputs: set[str] = set()
        if old is None:
            # A damaged cache: the files the last successful build recorded in its state
            # (which page each belongs to is not known: see UNKNOWN_PAGE) -- or, with the state
            # lost too, every file in the output directory (what this build does not write is
            # stale: the result is a clean build's).
            fallback_outputs = check.seen_outputs()[0]
            if not fallback_outputs and (reset or why == "cache damaged"):
                found: dict[str, list[int]] = {}
                if out_dir.is_dir():
                    bengal_native.scan_tree(str(out_dir), "", found, False)
                fallback_outputs = set(found)
            old_manifest.update(fallback_outputs)
        old_manifest.update(incremental.read_pending(store))
    result.incremental = prev is not None
    if prev is None:
        result.explain.append(f"full build: {why}")

    if opts.clean and out_dir.exists():
        with _stage(result, "clean"):
            clean_output(out_dir)
            old_manifest = set()

    with _stage(result, "discover", opts.progress):
        tree = discover(root, check.inputs)  # the files the change check just walked
    workers = opts.workers if opts.workers is not None else int(config.build["workers"])
    if workers <= 0:
        workers = _cpu_count()
    with _stage(result, "parse", opts.progress):
        loaded = load_sources(tree, workers, prev.sources if prev else None, check.inputs)
    result.errors.extend(str(e) for e in loaded.errors)
    result.files_read = loaded.read
    result.changes = dict(sorted(loaded.changes.items()))
    with _stage(result, "data", opts.progress):
        data, data_errors = load_data(root, tree)
    result.errors.extend(data_errors)

    with _stage(result, "assemble", opts.progress):
        from bengal.taxonomy import TaxonomyIndex

        asm: Assembly = assemble(
            config,
            loaded.sources,
            data,
            TaxonomyIndex(prev.tax_pages, prev.tax_terms) if prev is not None else None,
        )
    result.errors.extend(str(e) for e in asm.errors)
    result.warnings.extend(asm.warnings)
    result.taxonomy_reindexed = len(asm.taxonomy.reindexed)
    for src in loaded.sources:  # titles taken from a first heading are kept for next time
        entry = loaded.entries.get(src.rel)
        if entry is not None and src.heading is not None and entry.heading != src.heading:
            loaded.entries[src.rel] = entry._replace(heading=src.heading)

    LAST_BUILD.extend([old, loaded, asm])
    return _build_rest(
        root, opts, config, out_dir, result, state_dir, state_options, check, inputs_before,
        prev, old_manifest, tree, workers, loaded, asm, store, key, scan_ns,
        {p: r.page for p, r in old.outputs.items()}
        if old is not None
        else dict.fromkeys(fallback_outputs, UNKNOWN_PAGE),
        repair or reset,
    )  # fmt: skip


def _build_rest(
    root: Path,
    opts: BuildOptions,
    config: Any,
    out_dir: Path,
    result: BuildResult,
    state_dir: Path,
    state_options: dict[str, Any],
    check: cache.NoopCheck,
    inputs_before: dict[str, list[int]],
    prev: incremental.Cache | None,
    old_manifest: set[str],
    tree: SourceTree,
    workers: int,
    loaded: SourceLoad,
    asm: Assembly,
    store: Store,
    key: str,
    scan_ns: int,
    old_pages: dict[str, str],
    repair: bool,
) -> BuildResult:
    from bengal import incremental, outputs
    from bengal.render import Templates, pager_output_path, render_jobs, render_markdown_stage

    site = asm.site
    with _stage(result, "markdown", opts.progress):
        cached_md = {r: e.md for r, e in loaded.entries.items() if e.md is not None}
        md = render_markdown_stage(
            site,
            asm.xref_index,
            config,
            asm.ambiguous_keys,
            cached_md,
            store,
            index_unchanged=prev is not None and prev.xref_digest == asm.xref_digest,
        )
    result.markdown_rendered = len(md.rendered)
    for rel, md_facts in md.facts.items():
        entry = loaded.entries[rel]
        if entry.md is not md_facts:  # an unchanged entry stays the loaded object (not written)
            loaded.entries[rel] = entry._replace(md=md_facts)
    for file, line, text in md.warnings:
        result.warnings.append(str(Message(file, line, text)))
    for file, line, text in md.broken:
        (result.errors if opts.strict else result.warnings).append(str(Message(file, line, text)))

    fingerprint = bool(config.build["fingerprint_assets"])
    with _stage(result, "asset plan"):
        plan = plan_assets(root, tree, fingerprint)

    ref = ref_helper(lambda: asm.xref_index)
    asset_url = asset_url_helper(plan, site.baseurl)

    cache_dir = state_dir / "jinja"
    all_jobs = render_jobs(site, int(config.pagination["per_page"]))
    job_paths = [(pager_output_path(p, n), incremental.page_key(p)) for p, n in all_jobs]
    search_dirs = [d for d in (root / "templates", THEME_DIR / "templates") if d.is_dir()]
    # Every template file's digest before anything renders: what the cache records for the
    # outputs rendered now. A template edited while they render is then seen as changed by the
    # next build -- never recorded as the version they were built with.
    template_names = {
        k.partition("templates/")[2]
        for k in check.inputs
        if k.startswith(("templates/", "theme:templates/"))
    }
    templates_before = {n: incremental.template_digest(n, search_dirs) for n in template_names}

    def digest_before(name: str) -> bytes | None:
        if name in templates_before:
            return templates_before[name]
        # A name the scan does not list (an ignored name such as templates/.shared/x.html,
        # or none at all): read now.
        return incremental.template_digest(name, search_dirs)

    with _stage(result, "plan"):
        md_hashes = {"p:" + rel: incremental.body_hash(loaded.entries[rel]) for rel in md.facts}
        digests = {rel: e.fm_digest for rel, e in loaded.entries.items()}
        facts = {}
        if prev is not None and all(c == "body" for c in loaded.changes.values()):
            # Only bodies changed (or no content at all): every input of the site model but
            # those bodies is what the last build had, so only the pages whose Markdown was
            # rendered can differ -- unless a body edit changed a title taken from a first
            # heading, which shows in that page's own metadata: then everything is redone.
            touched = set(loaded.changes) | set(md.rendered)
            partial = incremental.site_facts(site, md_hashes, digests, only=touched)
            structural = [k for k in partial if k.endswith(("|meta", "|nav"))]
            if all(partial[k] == prev.facts.get(k) for k in structural):
                facts = dict(prev.facts)
                facts.update(partial)
        if not facts:
            facts = incremental.site_facts(site, md_hashes, digests)
        facts["site|robots"] = b"1" if "robots.txt" in tree.static else b"0"
        out_stats: dict[str, list[int]] = {}
        if prev is not None:
            wanted = list(prev.out_stats)
            checked, seen = check.seen_outputs()
            if checked.issuperset(wanted):  # the change check stat()ed them moments ago
                out_stats = {p: seen[p] for p in wanted if p in seen}
            else:
                out_stats = cache.stat_outputs(out_dir, wanted)
            names = {n for rec in prev.outputs.values() for n in rec.templates}
            templates_now = {n: digest_before(n) for n in names}
            helpers = {"ref": ref, "asset_url": asset_url}
            calls_now: dict[tuple[str, str], str] = {}
            for rec in prev.outputs.values():
                for name, arg, _ in rec.calls:
                    if (name, arg) not in calls_now:
                        try:
                            calls_now[(name, arg)] = helpers[name](arg)
                        except TemplateError:
                            calls_now[(name, arg)] = "\0error"
            decision = incremental.plan_outputs(
                prev, job_paths, facts, templates_now, calls_now, out_stats
            )
            jobs = [
                j
                for j, (path, _) in zip(all_jobs, job_paths, strict=True)
                if path in decision.render
            ]
            result.explain_outputs = decision.render
            changed_facts = decision.changed_deps
        else:
            jobs = all_jobs
            changed_facts = set(facts)
    result.reused = len(all_jobs) - len(jobs)
    workers = max(1, min(workers, len(jobs) // 50 or 1))
    result.workers = workers
    _W.clear()
    _W.update(
        jobs=jobs,
        out_dir=out_dir,
        templates_factory=lambda: Templates(root, site, config, cache_dir, ref, asset_url),
    )
    make_dir(out_dir, "remove what is there or choose another with -o / [build] output_dir")
    begin_writing(store, state_dir, out_dir)
    # A file that became a folder (or the reverse) since the last build: its old outputs would
    # block the new ones, so they go first (the rest of the stale outputs go at the end).
    failed_sources = {"p:" + str(e.file) for e in [*loaded.errors, *asm.errors] if e.file}
    keep = {p for p, k in old_pages.items() if _failed(k, failed_sources)}
    alias_files, alias_errors = outputs.aliases(site)
    # (Old site-wide files -- feeds, redirects -- are not kept here: one in the way of a new
    # output is stale whether or not this build rewrites the others.)
    expected = {p for p, _ in job_paths} | set(alias_files)
    stale_now = old_manifest - expected - keep
    if stale_now:
        expected.update(d for _, d in copy_jobs(root, tree, site, plan))
        stale_now -= expected
    in_the_way = conflicting_stale(stale_now, expected)
    if in_the_way:
        result.removed += remove_stale(out_dir, in_the_way)
        old_manifest -= in_the_way
    # Outputs this build may write that the last one did not: if the build is killed, the next
    # one must know to remove them should they turn out stale.
    new_paths = [p for p, _ in job_paths if p not in old_manifest]
    _store_write(incremental.write_pending, store, new_paths)
    progress = opts.progress
    if progress is not None:
        progress("rendering pages", 0, len(jobs))
    copy_outcome: dict[str, Any] = {}

    def copy_static() -> None:
        t0 = time.perf_counter()
        try:
            copy_outcome["result"] = copy_files(
                root, tree, site, plan, out_dir, scan_ns - incremental.RACY_NS
            )
        except BaseException as exc:  # reported below; never lost in the thread
            copy_outcome["error"] = exc
        copy_outcome["seconds"] = time.perf_counter() - t0

    with _stage(result, "render+write"):
        shard_results = run_chunks(
            workers,
            (lambda d, t: progress("rendering pages", d, t)) if progress else None,
            background=copy_static,
        )
    _W.clear()
    records: dict[str, incremental.OutputRecord] = {}
    if prev is not None:
        expected = {p for p, _ in job_paths}
        records = {p: r for p, r in prev.outputs.items() if p in expected}
    # One object per distinct dependency, template, helper call and asset reference: 10k output
    # records share a few hundred strings instead of holding a copy each.
    canon: dict[Any, Any] = {}

    def intern(rec: incremental.OutputRecord) -> incremental.OutputRecord:
        deps = frozenset(canon.setdefault(d, d) for d in rec.deps)
        tpls = tuple(canon.setdefault(t, t) for t in rec.templates)
        calls = tuple(canon.setdefault(c, c) for c in rec.calls)
        assets = [canon.setdefault(a, a) for a in rec.assets]
        return rec._replace(deps=deps, templates=tpls, calls=calls, assets=assets)

    for sr in shard_results:
        result.pages += sr.pages
        result.written += sr.written
        result.skipped_identical += sr.skipped
        result.errors.extend(sr.errors)
        result.warnings.extend(sr.warnings)
        for path, rec in sr.records:
            records[path] = intern(rec)
        for k, v in sr.seconds.items():
            result.cpu[k] = result.cpu.get(k, 0.0) + v
        for rel in sr.damaged:
            # Its stored rendering is damaged: the next build renders its Markdown again and
            # stores that (its facts are the same: nothing else changes).
            stale = loaded.entries.get(rel)
            if stale is not None and stale.md is not None:
                loaded.entries[rel] = stale._replace(md=None)
    rendered_ok = {path for sr in shard_results for path, _ in sr.records}
    for path in [p for p in records if p not in rendered_ok and p in result.explain_outputs]:
        del records[path]  # it failed this time: never reuse its old record
    result.rendered = result.pages
    result.pages += sum(1 for p in records if p not in rendered_ok)
    for path in sorted(records):
        for w in records[path].warnings:
            if w not in result.warnings:
                result.warnings.append(w)

    # Static files were copied by the parent while the workers rendered.
    if "error" in copy_outcome:
        raise copy_outcome["error"]
    copied, copy_errors = copy_outcome["result"]
    result.cpu["static files (in parallel)"] = copy_outcome["seconds"]
    result.errors.extend(copy_errors)

    with _stage(result, "site-wide", opts.progress):
        # Sitemap, feeds, search index and redirects read pages' metadata and summaries, never
        # their bodies (bengal.outputs).
        sitewide_dirty = (
            prev is None
            or any(not k.endswith("|body") for k in changed_facts)
            or any(
                out_stats.get(p) is None or tuple(out_stats[p]) != tuple(prev.out_stats.get(p, ()))
                for p in prev.sitewide
            )
        )
        result.errors.extend(alias_errors)
        if sitewide_dirty:
            sitewide = write_sitewide(site, tree, out_dir, alias_files, result)
        else:
            assert prev is not None
            sitewide = list(prev.sitewide)

    with _stage(result, "stale outputs"):
        manifest = set(records) | set(copied) | set(sitewide)
        manifest.update(p for sr in shard_results for p in sr.attempted)
        manifest.update(p for p, _ in job_paths if p in rendered_ok)
        # Nothing already written is lost to an error: a page whose source or template fails
        # keeps its last good output until the error is fixed.
        manifest.update(
            p for p, k in old_pages.items() if _failed(k, failed_sources) and p in old_manifest
        )
        manifest.update(p for p, _ in job_paths if p not in records and p in old_manifest)
        result.removed = remove_stale(out_dir, old_manifest - manifest)

    # After every file is in place (and stale ones are gone): feeds and sitemap are link
    # targets too. When the set of output files is the one the last build left, only the pages
    # rendered now can have new findings; the others' are those recorded last time.
    with _stage(result, "asset check"):
        same_files = prev is not None and manifest == set(prev.manifest)
        recheck = rendered_ok if same_files else set(records)
        found = check_local_assets(
            [(p, records[p].assets) for p in sorted(recheck) if p in records and records[p].assets],
            out_dir,
            site,
        )
        asset_warnings: dict[str, list[str]] = {}
        if same_files:
            assert prev is not None
            asset_warnings = {
                p: w for p, w in prev.asset_warnings.items() if p in records and p not in recheck
            }
        asset_warnings.update(found)
        for p in sorted(asset_warnings):
            result.warnings.extend(asset_warnings[p])

    result.files = result.pages + len(copied) + len(sitewide)
    with _stage(result, "save cache"):
        # Stat only what this build may have written; the rest was stat()ed while planning.
        touched = set(manifest) - out_stats.keys() if prev is not None else set(manifest)
        touched.update(rendered_ok, copied)
        if sitewide_dirty:
            touched.update(sitewide)
        out_now = {p: out_stats[p] for p in manifest if p in out_stats and p not in touched}
        out_now.update(cache.stat_outputs(out_dir, sorted(touched & manifest)))
        # A file modified within a clock tick of the scan could be modified again with the same
        # size and mtime (mtimes are coarse): such "racy" entries are hashed next time.
        racy = scan_ns - incremental.RACY_NS
        for rel, entry in loaded.entries.items():
            if entry.stat[0] >= racy:
                loaded.entries[rel] = entry._replace(stat=(0, -1))
        from bengal import express

        model_fp = (
            b""
            if opts.keep_warm is not None
            else (express.model_fingerprint(facts, asm.xref_digest))
        )
        new_cache = incremental.Cache(
            config_key=key,
            model_fp=model_fp,
            sources=loaded.entries,
            facts=facts,
            outputs=records,
            templates={
                n: digest_before(n) for n in {t for r in records.values() for t in r.templates}
            },
            manifest=sorted(manifest),
            out_stats={k: (v[0], v[1]) for k, v in out_now.items()},
            sitewide=sitewide,
            xref_digest=asm.xref_digest,
            tax_pages=asm.taxonomy.pages,
            tax_terms=asm.taxonomy.terms,
            asset_warnings={p: w for p, w in asset_warnings.items() if w},
        )
        base = None if repair else prev
        cache_saved = False
        try:
            # The cache, the recorded model and the state: one transaction (a new file, when
            # everything is written from scratch into a store this build created).
            with store.rewrite() if base is None and store.created else store.transaction():
                incremental.save(store, new_cache, base, asm.xref_index)
                # The dev server rebuilds from memory: its builds record no model.
                result.model_kept = express.save_model(
                    store, site if opts.keep_warm is None else None, asm.xref_added, new_cache,
                    base,
                )  # fmt: skip
                incremental.clear_pending(store)
                if not result.errors:
                    # Without its cache the state would describe files that no cache matches
                    # (the fast path trusts that they agree): saved together or not at all.
                    cache.save_state(
                        store,
                        state_options,
                        {
                            "pages": result.pages,
                            "files": result.files,
                            # What a build with nothing to do says again: the site's problems,
                            # not this build's repairs of its own caches (said once).
                            "warnings": [w for w in result.warnings if str(state_dir) not in w],
                        },
                        inputs_before,
                        outputs_now=out_now,
                        racy_ns=scan_ns - incremental.RACY_NS,
                        bad_names=check.bad_names,
                        digest_of=incremental.content_digests(loaded.entries.get),
                    )
                end_writing(store)
            store.written()
            incremental.saved(new_cache)
            cache_saved = True
        except OSError as exc:
            result.warnings.append(f"cannot save the build cache: {exc.strerror or exc}")
    if opts.keep_warm is not None and not result.errors and cache_saved:
        from bengal.render import MarkdownContext

        opts.keep_warm(
            WarmState(
                root=root,
                out_dir=out_dir,
                state_dir=state_dir,
                tree=tree,
                site=site,
                cache=new_cache,
                jobs=dict(zip([p for p, _ in job_paths], all_jobs, strict=True)),
                templates_factory=_templates_factory(root, site, config, cache_dir, ref, asset_url),
                store=store,
                md=MarkdownContext.of(site, asm.xref_index, config, asm.ambiguous_keys, store),
                alias_files=alias_files,
            )
        )
    result.timings["total"] = time.perf_counter() - result.started
    return result


def _templates_factory(
    root: Path, site: Site, config: Any, cache_dir: Path, ref: Any, asset_url: Any
) -> Callable[[], Templates]:
    from bengal.render import Templates

    return lambda: Templates(root, site, config, cache_dir, ref, asset_url)


def write_sitewide(
    site: Site, tree: SourceTree, out_dir: Path, alias_files: dict[str, bytes], result: BuildResult
) -> list[str]:
    """Sitemap, search index, feeds, redirects and robots.txt; returns their paths."""
    from bengal import outputs

    files: dict[str, bytes] = {
        "sitemap.xml": outputs.sitemap(site),
        "search.json": outputs.search_index(site),
    }
    files.update(outputs.feeds(site))
    files.update(alias_files)
    if "robots.txt" not in tree.static:
        files["robots.txt"] = outputs.robots(site)
    writer = bengal_native.OutputWriter(str(out_dir), max_buffer_mb=64, threads=1)
    try:
        with writer:
            for path, blob in sorted(files.items()):
                writer.write(path, blob)
    except OSError as exc:
        result.errors.append(_write_error(exc))
    st = writer.stats()
    result.written += int(st["files_written"])
    result.skipped_identical += int(st["skipped_identical"])
    return sorted(files)


UNFINISHED_MARKER = "writing"
TEMP_PREFIX = ".~bengal."  # the writer's and copy_file's temp files: .~bengal.PID.*.tmp


def open_store(state_dir: Path, result: BuildResult) -> tuple[Store, bool]:
    """(the store in `state_dir`, whether it was made anew). One that cannot be trusted is
    reported (its path and what is wrong) and replaced by an empty one: a full build."""
    try:
        return Store.open(state_dir), False
    except StoreDamaged as exc:
        result.warnings.append(f"{db_path(state_dir)}: {exc}; rebuilding everything")
    except OSError:
        pass  # in the way (a folder of that name, say): replaced, or reported below
    try:
        return Store.reset(state_dir), True
    except (OSError, StoreDamaged) as exc:
        raise BuildError(
            f"cannot create {db_path(state_dir)} ({getattr(exc, 'strerror', None) or exc}); "
            f"{state_dir} must be a folder bengal can write (it holds only caches: remove it)"
        ) from None


def _store_write(fn: Callable[..., None], store: Store, *args: Any) -> None:
    """One of the small writes a build commits before it writes outputs; a store that cannot be
    written stops the build (nothing has been written yet)."""
    try:
        fn(store, *args)
    except OSError as exc:
        raise BuildError(f"cannot write the build cache: {exc}") from None


def _clear_state(store: Store, state_dir: Path) -> None:
    _store_write(cache.clear_state, store)


def begin_writing(store: Store, state_dir: Path, out_dir: Path) -> None:
    """Mark in the store that a build writes, until end_writing() (in the transaction that saves
    the build). A build killed meanwhile leaves temp files -- .~bengal.PID.N.tmp beside the
    outputs being replaced, compiled templates' temp files beside the caches -- and the mark:
    the next build sweeps them first (so does a build whose store was lost). Only one build
    runs per site (the site lock), so none of them is being written."""
    try:
        marked = store.get("meta", UNFINISHED_MARKER) is not None
    except StoreDamaged:
        marked = True
    if marked or not store.keys("meta"):
        found: dict[str, list[int]] = {}
        bengal_native.scan_tree(str(out_dir), "", found, False)
        leftovers = [
            out_dir / rel
            for rel in found
            if rel.rpartition("/")[2].startswith(TEMP_PREFIX) and rel.endswith(".tmp")
        ]
        for pattern in (".*.tmp", ".*.tmp.*", "jinja/*.jinja.*.tmp"):
            leftovers.extend(state_dir.glob(pattern))
        for f in leftovers:
            with contextlib.suppress(OSError):
                f.unlink()
    if not marked:
        _store_write(_mark_writing, store)


def _mark_writing(store: Store) -> None:
    with store.transaction():
        store.put("meta", UNFINISHED_MARKER, 1)


def end_writing(store: Store) -> None:
    """Every temp file the build made was renamed into place or removed: drop the mark (inside
    the transaction that saves the build)."""
    store.delete_many("meta", [UNFINISHED_MARKER])


def remove_stale(out_dir: Path, paths: set[str]) -> int:
    """Delete outputs an earlier build wrote that this one does not, and directories left empty."""
    removed = 0
    dirs: set[Path] = set()
    for rel in sorted(paths):
        p = out_dir / rel
        try:
            p.unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError:
            continue
        d = p.parent
        while d != out_dir and out_dir in d.parents:
            dirs.add(d)
            d = d.parent
    for d in sorted(dirs, key=lambda x: len(x.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()  # only succeeds when empty
    return removed


def check_local_assets(
    refs: list[tuple[str, list[tuple[str, bool]]]], out_dir: Path, site: Site
) -> dict[str, list[str]]:
    """Warn about local references (images, scripts, styles) that name no output file:
    {output path: warnings}, every output of `refs` present."""
    from urllib.parse import unquote, urlparse

    base_path = urlparse(site.baseurl).path or "/"
    warnings: dict[str, list[str]] = {}
    exists_cache: dict[str, bool] = {}
    for page_path, items in sorted(refs):
        mine = warnings.setdefault(page_path, [])
        for url, external in items:
            if external:
                continue
            path = unquote(url.split("#", 1)[0].split("?", 1)[0])
            if not path:
                continue
            if path.startswith("/"):
                if not path.startswith(base_path):
                    continue
                target = path[len(base_path) :]
            else:
                target = posixpath.normpath(posixpath.join(page_path.rpartition("/")[0], path))
            if target.endswith("/") or target == "":
                target += "index.html"
            ok = exists_cache.get(target)
            if ok is None:
                ok = exists_cache[target] = (out_dir / target).is_file()
            if not ok:
                page = site.page_by_output.get(page_path)
                who = page.source if page is not None and page.source else page_path
                mine.append(f"{who}: references {url}, which is not in the output")
    return warnings


def clean_output(out_dir: Path) -> None:
    """Empty the output directory (keeping the directory itself, which a server may watch)."""
    for entry in out_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


__all__ = ["BengalError", "BuildOptions", "BuildResult", "build"]
