"""What a build is given and what it returns: BuildOptions, BuildResult (with its messages and
stage timings) and WarmState (what a build leaves in memory for the dev server's next one).
Data only: nothing here reads or writes files."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bengal.discover import SourceTree
from bengal.incremental import REF_KEY, anchor_targets, template_key, xref_keys
from bengal.model import Page, Site
from bengal.store import Store

if TYPE_CHECKING:
    from bengal import incremental
    from bengal.outputs import Entry
    from bengal.render import Templates


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
    # Trust no output's stamps: every output is rendered (Markdown from the cache) and compared
    # with the file on disk, static files byte for byte; only what differs is written.
    verify: bool = False
    # The cache as the last build in this process left it (its snapshots describe the store in
    # .bengal; what it holds beyond them is newer): used instead of reading .bengal when the
    # cache key matches.
    prev_cache: incremental.Cache | None = None
    # The site-wide entries that go with prev_cache (bengal.outputs; the store keeps none for
    # the dev server's builds).
    prev_entries: dict[str, Entry] | None = None


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
    copied: int = 0  # static files, assets and resources copied (the rest were in place)
    changes: dict[str, str] = field(default_factory=dict)  # content path -> change class
    # The change set (bengal.changes) as "path (kind, how)"; empty when it was not complete.
    inputs_changed: list[str] = field(default_factory=list)
    explain: list[str] = field(default_factory=list)
    explain_outputs: dict[str, str] = field(default_factory=dict)  # output -> why rendered
    started: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors


@contextmanager
def stage(
    result: BuildResult, name: str, progress: Callable[[str, int, int], None] | None = None
) -> Iterator[None]:
    if progress is not None:
        progress(name, 0, 0)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        result.timings[name] = result.timings.get(name, 0.0) + time.perf_counter() - t0


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
    warnings: list[str]  # the site's, as the build reported them (bengal.edits replaces some)
    templates: Templates | None = None
    dirty: bool = False  # changed since the cache files were written
    # Built on first use: page key -> its outputs, "key|group" and "tpl:" + template name ->
    # the outputs that read it.
    owners: dict[str, set[str]] | None = None
    readers: dict[str, set[str]] | None = None
    by_source: dict[str, Page] | None = None
    linkers: dict[str, set[str]] | None = None  # page URL -> sources with [[it#anchor]]
    by_url: dict[str, Page] | None = None
    # Every page's entry in the site-wide files (bengal.outputs), made on first use when the
    # build did not make them.
    entries: dict[str, Entry] | None = None
    # The cross-reference index's entries as assembled (bengal.delta patches them).
    xref_added: list[tuple[str, str, str]] = field(default_factory=list)
    xref_tiers: tuple[int, int, int] = (0, 0, 0)
    taxonomies: dict[str, str] = field(default_factory=dict)  # the configuration's
    per_page: int = 10
    xref_users: dict[str, set[str]] | None = None  # [[path]] -> sources using it
    pretty_urls: bool = True  # the configuration's
    drafts: bool = False  # ... (drafts are built)
    workers: int = 1  # the processes its build rendered with (bengal.workers.worker_count)
    menu_refs: list[str] = field(default_factory=list)  # the pages its menus name

    def index(self) -> None:
        if self.owners is not None:
            return
        linkers: dict[str, set[str]] = {}
        for rel, entry in self.cache.sources.items():
            if entry.md is not None:
                for url in anchor_targets(entry.md.xrefs):
                    linkers.setdefault(url, set()).add(rel)
        self.linkers = linkers
        users: dict[str, set[str]] = {}
        for rel, entry in self.cache.sources.items():
            for path in xref_keys(entry):
                users.setdefault(path, set()).add(rel)
        self.xref_users = users
        owners: dict[str, set[str]] = {}
        readers: dict[str, set[str]] = {}
        for path, rec in self.cache.outputs.items():
            owners.setdefault(rec.page, set()).add(path)
            for d in _read_keys(rec):
                readers.setdefault(d, set()).add(path)
        self.owners, self.readers = owners, readers
        self.by_source = {p.source: p for p in self.site.pages if p.source}
        self.by_url = {p.url: p for p in self.site.pages}

    def site_entries(self) -> dict[str, Entry]:
        """Every page's site-wide entry, made from the site model when the build made none (ask
        before an edit changes a page: they are the recorded ones)."""
        if self.entries is None:
            from bengal.outputs import entries_of

            self.entries = entries_of(self.site)
        return self.entries

    def replace_record(self, path: str, rec: incremental.OutputRecord | None) -> None:
        assert self.owners is not None and self.readers is not None
        old = self.cache.outputs.pop(path, None)
        if old is not None:
            self.owners.get(old.page, set()).discard(path)
            for d in _read_keys(old):
                self.readers.get(d, set()).discard(path)
        if rec is not None:
            self.cache.outputs[path] = rec
            self.owners.setdefault(rec.page, set()).add(path)
            for d in _read_keys(rec):
                self.readers.setdefault(d, set()).add(path)

    def close(self) -> None:
        self.store.close()


def _read_keys(rec: incremental.OutputRecord) -> list[str]:
    """What the dev server's reverse index files an output under (every group it read, unlike
    the store's: bengal.incremental.contributions), with its templates and ref() calls."""
    return [
        *rec.deps,
        *[template_key(t) for t in rec.templates],
        *[REF_KEY + arg for name, arg, _ in rec.calls if name == "ref"],
    ]
