"""Stage "render": output jobs -> rendered, written pages and their dependency records.

Template rendering runs in a fork-based process pool on a GIL build of CPython (threads on a
free-threaded one); the parent stops oneTBB's worker threads before forking (shared/NOTES.md,
"fork() and threads"), and every worker opens its own native writer (the build's
bengal.publish.Publisher gives it). Pages are dealt to workers round-robin in output-path
order, and a page's HTML depends only on the site model, so the output is the same for any
worker count. What a worker needs is left in FORK_STATE before
the fork (inherited, never pickled).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import bengal_native
from bengal.errors import TemplateError
from bengal.model import Page
from bengal.publish import Publisher, write_error

if TYPE_CHECKING:
    from bengal import incremental
    from bengal.render import Templates


FORK_STATE: dict[str, Any] = {}  # the state a forked worker inherits


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


_TEMPLATES: Templates | None = None  # one environment per process, made on first use


def _render_chunk(chunk: int) -> ShardResult:
    """Render every `chunks`-th job starting at `chunk`, extract its assets and write it. Runs
    in a worker process (or in the parent for one worker) and returns only small results."""
    from bengal import incremental

    global _TEMPLATES
    from bengal.incremental import pager_output_path

    jobs: list[tuple[Page, int]] = FORK_STATE["jobs"]
    chunks: int = FORK_STATE["chunks"]
    if _TEMPLATES is None:
        _TEMPLATES = FORK_STATE["templates_factory"]()
    templates = _TEMPLATES
    publisher: Publisher = FORK_STATE["publisher"]
    progress: Callable[[int], None] | None = FORK_STATE.get("inline_progress")
    res = ShardResult()
    t_tpl = t_assets = 0.0
    writer = publisher.page_writer()
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
                res.errors.append(write_error(exc))
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
                res.errors.append(write_error(exc))
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
    return res


# The page an old output belonged to, when the cache that said so is lost.
UNKNOWN_PAGE = "?"


def failed_page(page_key: str, failed: set[str]) -> bool:
    """Whether an old output of `page_key` belongs to a source that fails now (it keeps its
    last good output). An output of an unknown page might: kept while anything fails."""
    return page_key in failed or (page_key == UNKNOWN_PAGE and bool(failed))


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def worker_count(requested: int | None, config: Any) -> int:
    """The processes a build renders with: asked for (--workers), else the configuration's
    build.workers; 0 is one per CPU."""
    n = requested if requested is not None else int(config.build["workers"])
    return n if n > 0 else cpu_count()


def merged(shards: list[ShardResult]) -> ShardResult:
    """The workers' results as one."""
    out = ShardResult()
    for s in shards:
        out.pages += s.pages
        out.written += s.written
        out.skipped += s.skipped
        out.errors += s.errors
        out.warnings += s.warnings
        out.records += s.records
        for k, v in s.seconds.items():
            out.seconds[k] = out.seconds.get(k, 0.0) + v
        out.attempted += s.attempted
    return out


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
    total = len(FORK_STATE["jobs"])
    done = 0
    if workers <= 1:
        FORK_STATE["chunks"] = 1

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if report is not None:
                report(done, total)

        FORK_STATE["inline_progress"] = tick
        try:
            single = [_render_chunk(0)]
        finally:
            _TEMPLATES = None
        background()
        return single
    chunks = workers * 4
    FORK_STATE["chunks"] = chunks
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


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
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
