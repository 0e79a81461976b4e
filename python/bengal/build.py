"""The build, in order. This is the one place where the stage order is written:

    change check (bengal.cache) -> [body edits only: bengal.express] -> load cache
    (bengal.incremental) -> discover -> parse + data (bengal.sources) -> assemble
    (bengal.assemble) -> markdown (bengal.render) -> plan (bengal.incremental) -> render
    (bengal.workers) -> publish: static files, site-wide outputs, stale outputs
    (bengal.publish) -> save (bengal.store)

Each stage is timed (`bengal build --stats`). The dev server's rebuilds from memory are in
bengal.warm.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bengal_native
from bengal import cache
from bengal.changes import from_scan
from bengal.config import load_config
from bengal.context import BuildOptions, BuildResult, Message, WarmState, stage
from bengal.discover import THEME_DIR, SourceTree, discover
from bengal.errors import BengalError, BuildError, TemplateError
from bengal.helpers import asset_url_helper, plan_assets, ref_helper
from bengal.model import Page, Site
from bengal.publish import (
    Publisher,
    check_local_assets,
    check_output_dir,
    conflicting_stale,
    copy_jobs,
    store_write,
)
from bengal.sources import SourceLoad, load_data, load_sources
from bengal.store import Store, StoreDamaged, db_path
from bengal.workers import (
    FORK_STATE,
    LAST_BUILD,
    UNKNOWN_PAGE,
    failed_page,
    merged,
    no_cyclic_gc,
    run_chunks,
    worker_count,
)

if TYPE_CHECKING:
    from bengal import incremental
    from bengal.assemble import Assembly
    from bengal.cache import NoopCheck
    from bengal.helpers import AssetPlan
    from bengal.outputs import Entry
    from bengal.render import MarkdownReport, Templates
    from bengal.workers import ShardResult

# bengal.render (Jinja2) is imported when a build renders, not by a build with nothing to do.
STATE_DIR = ".bengal"


@dataclass
class BuildContext:
    """What the stages of one build share (bengal.build's recipe), in the order they fill it.
    A stage reads what the stages before it left and adds its own: the fields below are
    grouped by the stage that sets them."""

    # _start: the configuration, the store, the change check
    root: Path
    opts: BuildOptions
    config: Any  # bengal.config.Config
    out_dir: Path
    result: BuildResult
    state_dir: Path
    state_options: dict[str, Any]  # what besides the files changes the output (cache key)
    store: Store
    check: NoopCheck
    scan_ns: int  # when the change check began (the racy rule's reference)
    reset: bool  # the store was made anew (found damaged or missing)
    publisher: Publisher  # every write into out_dir
    # _load_cache: the last build's cache and what it left in the output directory
    key: str = ""
    prev: incremental.Cache | None = None  # None: a full build
    repair: bool = False  # the store holds damage the fast path met: written from scratch
    old_manifest: set[str] = field(default_factory=set)
    old_pages: dict[str, str] = field(default_factory=dict)  # output -> page key
    # _read_sources
    tree: SourceTree = None  # type: ignore[assignment]
    workers: int = 1
    loaded: SourceLoad = None  # type: ignore[assignment]
    data: dict[str, Any] = field(default_factory=dict)
    # _assemble, _markdown
    asm: Assembly = None  # type: ignore[assignment]
    md: MarkdownReport = None  # type: ignore[assignment]
    # _plan
    assets: AssetPlan = None  # type: ignore[assignment]
    ref: Callable[[str], str] = None  # type: ignore[assignment]
    asset_url: Callable[[str], str] = None  # type: ignore[assignment]
    all_jobs: list[tuple[Page, int]] = field(default_factory=list)
    job_paths: list[tuple[str, str]] = field(default_factory=list)  # (output, page key)
    search_dirs: list[Path] = field(default_factory=list)
    templates_before: dict[str, bytes | None] = field(default_factory=dict)
    facts: dict[str, bytes] = field(default_factory=dict)
    out_stats: dict[str, list[int]] = field(default_factory=dict)
    jobs: list[tuple[Page, int]] = field(default_factory=list)
    changed_facts: set[str] = field(default_factory=set)
    # _render
    failed_sources: set[str] = field(default_factory=set)
    alias_files: dict[str, bytes] = field(default_factory=dict)
    shard_results: list[ShardResult] = field(default_factory=list)
    records: dict[str, incremental.OutputRecord] = field(default_factory=dict)
    rendered_ok: set[str] = field(default_factory=set)
    copied: list[str] = field(default_factory=list)
    # _publish
    sitewide_dirty: bool = True
    sitewide: list[str] = field(default_factory=list)
    entries: dict[str, Entry] | None = None  # every page's in the site-wide files (when made)
    # what changed in them since the store's (None: not made from the store's)
    entries_delta: dict[str, Entry | None] | None = None
    manifest: set[str] = field(default_factory=set)
    asset_warnings: dict[str, list[str]] = field(default_factory=dict)
    # _save
    new_cache: incremental.Cache | None = None
    site_warnings: list[str] = field(default_factory=list)
    saved: bool = False

    def digest_before(self, name: str) -> bytes | None:
        """A template's digest as it was before anything rendered."""
        if name in self.templates_before:
            return self.templates_before[name]
        from bengal import incremental

        # A name the scan does not list (an ignored name such as templates/.shared/x.html,
        # or none at all): read now.
        return incremental.template_digest(name, self.search_dirs)


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


def build(root: Path, options: BuildOptions | None = None) -> BuildResult:
    """Build the site in `root`. Raises ConfigError for configuration problems and BuildError
    when another build holds the site; everything about content and templates is collected in
    the result (errors, warnings)."""
    root = root.resolve()
    opts = options or BuildOptions()
    with site_lock(root, opts.state_dir), no_cyclic_gc():
        return _build(root, opts)


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
    """The recipe: the one place where the stages are called, in order."""
    b = _start(root, opts)
    if _nothing_to_do(b) or _body_edits(b):
        b.result.timings["total"] = time.perf_counter() - b.result.started
        return b.result
    _load_cache(b)
    _read_sources(b)
    _assemble(b)
    _markdown(b)
    _plan(b)
    _render(b)
    _publish(b)
    _save(b)
    _keep_warm(b)
    b.result.timings["total"] = time.perf_counter() - b.result.started
    return b.result


def _start(root: Path, opts: BuildOptions) -> BuildContext:
    """root + options -> the configuration, the open store and the change check."""
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
    scan_ns = time.time_ns()
    with stage(result, "change check"):
        store, reset = open_store(state_dir, result)
        if reset and (state_dir / "jinja").is_dir():
            import shutil  # before store schema 3 compiled templates had a folder of their own

            shutil.rmtree(state_dir / "jinja", ignore_errors=True)
        state_options = _state_options(root, opts, out_dir)
        check = cache.check_noop(root, out_dir, store, THEME_DIR, state_options)
    LAST_BUILD[:] = [check, store]
    return BuildContext(
        root=root, opts=opts, config=config, out_dir=out_dir, result=result,
        state_dir=state_dir, state_options=state_options, store=store, check=check,
        scan_ns=scan_ns, reset=reset, publisher=Publisher(out_dir, store, state_dir, result),
    )  # fmt: skip


def _nothing_to_do(b: BuildContext) -> bool:
    """The change check found nothing changed: the result the last build recorded."""
    check, opts, result = b.check, b.opts, b.result
    if not check.clean or opts.clean or opts.skip_noop or opts.verify or check.state is None:
        return False
    summary = check.state.get("summary", {})
    result.noop = True
    result.pages = int(summary.get("pages", 0))
    result.files = int(summary.get("files", 0))
    result.workers = 0
    # (The configuration's and the scan's warnings are in the summary too: said once.)
    said = set(result.warnings)
    result.warnings.extend(w for w in summary.get("warnings", []) if w not in said)
    return True


def _body_edits(b: BuildContext) -> bool:
    """Body edits only: done from the store's records (bengal.express, bengal.edits)."""
    check, result = b.check, b.result
    result.rebuild_reason = "--verify" if b.opts.verify and check.clean else check.reason
    for name in check.bad_names:
        result.warnings.append(
            f"{name}: the file name is not valid UTF-8 (shown with \ufffd); rename the file -- "
            "it is skipped, with everything below it if it is a folder"
        )
    changes = from_scan(check)
    result.inputs_changed = [str(c) for c in changes.changes] if changes.complete else []
    if check.state is None or b.opts.verify:
        return False
    from bengal import express

    fast = express.try_build(
        b.root, b.opts, b.config, b.publisher, b.state_options, check, b.scan_ns, result,
        changes,
    )  # fmt: skip
    if fast is not None:
        return True
    for name in ("load cache", "markdown+plan", "render+write", "site-wide", "save cache"):
        result.timings.pop(name, None)
    return False


def _load_cache(b: BuildContext) -> None:
    """The store -> the last build's cache (or why there is none) and the outputs it left."""
    from bengal import incremental

    # From here on the recorded state no longer describes the output directory.
    store_write(cache.clear_state, b.store)
    opts, result = b.opts, b.result
    with stage(result, "load cache"):
        b.key = incremental.config_key(b.config.source, b.state_options)
        old: incremental.Cache | None
        if opts.prev_cache is not None and opts.prev_cache.config_key == b.key:
            old, why, warn = opts.prev_cache, "", ""
        else:
            old, why, warn = incremental.load(b.store, b.key)
        if warn:
            result.warnings.append(warn)
        if why == "cache damaged":
            try:
                b.store.replace()  # damage in its structure is not mended by writing over it
            except (OSError, StoreDamaged) as exc:
                raise BuildError(f"cannot replace the damaged {b.store.path}: {exc}") from None
        b.prev = old if old is not None and not why else None
        if opts.clean:
            b.prev, why = None, "--clean"
        # The fast path met damage only it reads (the model, stored answers): written again.
        b.repair = b.check.repair or b.reset
        # Files the last build wrote (and any a killed build was about to write): whatever of
        # these this build does not write again is stale and removed.
        b.old_manifest = set(old.manifest) if old is not None else set()
        fallback: set[str] = set()
        if old is None:
            # A damaged cache: the files the last successful build recorded in its state
            # (which page each belongs to is not known: see UNKNOWN_PAGE) -- or, with the state
            # lost too, every file in the output directory (what this build does not write is
            # stale: the result is a clean build's).
            fallback = b.check.seen_outputs()[0]
            if not fallback and (b.reset or why == "cache damaged"):
                found: dict[str, list[int]] = {}
                if b.out_dir.is_dir():
                    bengal_native.scan_tree(str(b.out_dir), "", found, False)
                fallback = set(found)
            b.old_manifest.update(fallback)
        b.old_manifest.update(incremental.read_pending(b.store))
        b.old_pages = (
            {p: r.page for p, r in old.outputs.items()}
            if old is not None
            else dict.fromkeys(fallback, UNKNOWN_PAGE)
        )
    result.incremental = b.prev is not None
    if b.prev is None:
        result.explain.append(f"full build: {why}")
    if opts.clean and b.out_dir.exists():
        with stage(result, "clean"):
            b.publisher.clean()
            b.old_manifest = set()
    LAST_BUILD.append(old)


def _read_sources(b: BuildContext) -> None:
    """The files the change check walked -> the source tree, parsed sources, data files."""
    opts, result, config = b.opts, b.result, b.config
    with stage(result, "discover", opts.progress):
        b.tree = discover(b.root, b.check.inputs)
    b.workers = worker_count(opts.workers, config)
    with stage(result, "parse", opts.progress):
        prev_sources = b.prev.sources if b.prev else None
        b.loaded = load_sources(b.tree, b.workers, prev_sources, b.check.inputs)
    result.errors.extend(str(e) for e in b.loaded.errors)
    result.files_read = b.loaded.read
    result.changes = dict(sorted(b.loaded.changes.items()))
    with stage(result, "data", opts.progress):
        b.data, data_errors = load_data(b.root, b.tree)
    result.errors.extend(data_errors)


def _assemble(b: BuildContext) -> None:
    """Sources + data -> the site model (bengal.assemble), its taxonomy index updated."""
    from bengal.assemble import assemble
    from bengal.taxonomy import TaxonomyIndex

    result, prev, loaded = b.result, b.prev, b.loaded
    with stage(result, "assemble", b.opts.progress):
        index = TaxonomyIndex(prev.tax_pages, prev.tax_terms) if prev is not None else None
        b.asm = assemble(b.config, loaded.sources, b.data, index)
    result.errors.extend(str(e) for e in b.asm.errors)
    result.warnings.extend(b.asm.warnings)
    result.taxonomy_reindexed = len(b.asm.taxonomy.reindexed)
    for src in loaded.sources:  # titles taken from a first heading are kept for next time
        entry = loaded.entries.get(src.rel)
        if entry is not None and src.heading is not None and entry.heading != src.heading:
            loaded.entries[src.rel] = entry._replace(heading=src.heading)
    LAST_BUILD.extend([b.loaded, b.asm])


def _markdown(b: BuildContext) -> None:
    """The site model -> every page's rendering (cached ones reused), its findings reported."""
    from bengal.render import render_markdown_stage

    asm, loaded, result = b.asm, b.loaded, b.result
    with stage(result, "markdown", b.opts.progress):
        cached_md = {r: e.md for r, e in loaded.entries.items() if e.md is not None}
        b.md = render_markdown_stage(
            asm.site,
            asm.xref_index,
            b.config,
            asm.ambiguous_keys,
            cached_md,
            index_unchanged=b.prev is not None and b.prev.xref_digest == asm.xref_digest,
        )
    result.markdown_rendered = len(b.md.rendered)
    for rel, md_facts in b.md.facts.items():
        entry = loaded.entries[rel]
        if entry.md is not md_facts:  # an unchanged entry stays the loaded object (not written)
            loaded.entries[rel] = entry._replace(md=md_facts)
    for file, line, text in b.md.warnings:
        result.warnings.append(str(Message(file, line, text)))
    for file, line, text in b.md.broken:
        msg = str(Message(file, line, text))
        (result.errors if b.opts.strict else result.warnings).append(msg)


def _plan(b: BuildContext) -> None:
    """Model + renderings + the last build's records -> the outputs to render and why
    (bengal.incremental.plan_outputs), the fingerprints of everything, the asset plan."""
    from bengal import incremental
    from bengal.incremental import pager_output_path
    from bengal.render import render_jobs

    site, result = b.asm.site, b.result
    with stage(result, "asset plan"):
        b.assets = plan_assets(b.root, b.tree, bool(b.config.build["fingerprint_assets"]))
    b.ref = ref_helper(lambda: b.asm.xref_index)
    b.asset_url = asset_url_helper(b.assets, site.baseurl)
    b.all_jobs = render_jobs(site, int(b.config.pagination["per_page"]))
    b.job_paths = [(pager_output_path(p, n), incremental.page_key(p)) for p, n in b.all_jobs]
    b.search_dirs = [d for d in (b.root / "templates", THEME_DIR / "templates") if d.is_dir()]
    # Every template file's digest before anything renders: what the cache records for the
    # outputs rendered now. A template edited while they render is then seen as changed by the
    # next build -- never recorded as the version they were built with.
    names = {
        k.partition("templates/")[2]
        for k in b.check.inputs
        if k.startswith(("templates/", "theme:templates/"))
    }
    b.templates_before = {n: incremental.template_digest(n, b.search_dirs) for n in names}
    with stage(result, "plan"):
        b.facts = _facts(b)
        prev = b.prev
        if prev is None:
            b.jobs, b.changed_facts = b.all_jobs, set(b.facts)
            return
        wanted = list(prev.out_stats)
        checked, seen = b.check.seen_outputs()
        if checked.issuperset(wanted):  # the change check stat()ed them moments ago
            b.out_stats = {p: seen[p] for p in wanted if p in seen}
        else:
            b.out_stats = cache.stat_outputs(b.out_dir, wanted)
        names = {n for r in prev.outputs.values() for n in r.templates}
        templates_now = {n: b.digest_before(n) for n in names}
        pagers = {
            path: n for (path, _), (_, n) in zip(b.job_paths, b.all_jobs, strict=True) if n > 1
        }
        decision = incremental.plan_outputs(
            prev, b.job_paths, b.facts, templates_now, _helper_answers(b), b.out_stats, pagers
        )
        b.jobs = [
            j for j, (path, _) in zip(b.all_jobs, b.job_paths, strict=True)
            if path in decision.render
        ]  # fmt: skip
        if b.opts.verify:
            # Stamps are not trusted: every output is rendered and compared with its file.
            b.jobs = b.all_jobs
            for path, _ in b.job_paths:
                decision.render.setdefault(path, "--verify: compared with the file on disk")
        result.explain_outputs = decision.render
        b.changed_facts = decision.changed_deps


def _facts(b: BuildContext) -> dict[str, bytes]:
    """The fingerprint of every object's groups (bengal.incremental.site_facts)."""
    from bengal import incremental

    loaded, prev, md = b.loaded, b.prev, b.md
    md_hashes = {"p:" + rel: incremental.body_hash(loaded.entries[rel]) for rel in md.facts}
    per_page = int(b.config.pagination["per_page"])
    digests = {rel: e.fm_digest for rel, e in loaded.entries.items()}
    facts: dict[str, bytes] = {}
    if prev is not None and all(c == "body" for c in loaded.changes.values()):
        # Only bodies changed (or no content at all): every input of the site model but
        # those bodies is what the last build had, so only the pages whose Markdown was
        # rendered can differ -- unless a body edit changed a title taken from a first
        # heading, which shows in that page's own metadata: then everything is redone.
        touched = set(loaded.changes) | set(md.rendered)
        partial = incremental.site_facts(
            b.asm.site, md_hashes, digests, only=touched, per_page=per_page
        )
        structural = [k for k in partial if k.endswith(("|meta", "|nav")) or "|pager" in k]
        if all(partial[k] == prev.facts.get(k) for k in structural):
            facts = dict(prev.facts)
            facts.update(partial)
    if not facts:
        facts = incremental.site_facts(b.asm.site, md_hashes, digests, per_page=per_page)
    facts["site|robots"] = b"1" if "robots.txt" in b.tree.static else b"0"
    return facts


def _helper_answers(b: BuildContext) -> dict[tuple[str, str], str]:
    """What ref() and asset_url() answer now for every call the last build's templates made."""
    assert b.prev is not None
    helpers = {"ref": b.ref, "asset_url": b.asset_url}
    calls_now: dict[tuple[str, str], str] = {}
    for rec in b.prev.outputs.values():
        for name, arg, _ in rec.calls:
            if (name, arg) not in calls_now:
                try:
                    calls_now[(name, arg)] = helpers[name](arg)
                except TemplateError:
                    calls_now[(name, arg)] = "\0error"
    return calls_now


def _render(b: BuildContext) -> None:
    """The jobs -> outputs written by the workers (bengal.workers), static files copied
    meanwhile; their records collected."""
    from bengal import incremental, outputs
    from bengal.render import Templates

    result, store, root = b.result, b.store, b.root
    site = b.asm.site
    result.reused = len(b.all_jobs) - len(b.jobs)
    workers = max(1, min(b.workers, len(b.jobs) // 50 or 1))
    result.workers = workers
    ref, asset_url, config = b.ref, b.asset_url, b.config
    FORK_STATE.clear()
    FORK_STATE.update(
        jobs=b.jobs,
        publisher=b.publisher,
        templates_factory=lambda: Templates(root, site, config, store, ref, asset_url),
    )
    b.publisher.begin(create=True)
    # A file that became a folder (or the reverse) since the last build: its old outputs would
    # block the new ones, so they go first (the rest of the stale outputs go at the end).
    b.failed_sources = {"p:" + str(e.file) for e in [*b.loaded.errors, *b.asm.errors] if e.file}
    keep = {p for p, k in b.old_pages.items() if failed_page(k, b.failed_sources)}
    b.alias_files, alias_errors = outputs.aliases(site)
    result.errors.extend(alias_errors)
    # (Old site-wide files -- feeds, redirects -- are not kept here: one in the way of a new
    # output is stale whether or not this build rewrites the others.)
    expected = {p for p, _ in b.job_paths} | set(b.alias_files)
    stale_now = b.old_manifest - expected - keep
    if stale_now:
        expected.update(d for _, d in copy_jobs(root, b.tree, site, b.assets))
        stale_now -= expected
    in_the_way = conflicting_stale(stale_now, expected)
    if in_the_way:
        b.publisher.remove(in_the_way)
        b.old_manifest -= in_the_way
    # Outputs this build may write that the last one did not: if the build is killed, the next
    # one must know to remove them should they turn out stale.
    new_paths = [p for p, _ in b.job_paths if p not in b.old_manifest]
    store_write(incremental.write_pending, store, new_paths)
    progress = b.opts.progress
    if progress is not None:
        progress("rendering pages", 0, len(b.jobs))
    copy_outcome: dict[str, Any] = {}

    def copy_static() -> None:
        t0 = time.perf_counter()
        try:
            copy_outcome["result"] = b.publisher.copy(
                root, b.tree, site, b.assets, b.scan_ns - incremental.RACY_NS, b.opts.verify
            )
        except BaseException as exc:  # reported below; never lost in the thread
            copy_outcome["error"] = exc
        copy_outcome["seconds"] = time.perf_counter() - t0

    with stage(result, "render+write"):
        b.shard_results = run_chunks(
            workers,
            (lambda d, t: progress("rendering pages", d, t)) if progress else None,
            background=copy_static,
        )
    FORK_STATE.clear()
    _collect(b)
    # Static files were copied by the parent while the workers rendered.
    if "error" in copy_outcome:
        raise copy_outcome["error"]
    b.copied, copy_errors, result.copied = copy_outcome["result"]
    result.cpu["static files (in parallel)"] = copy_outcome["seconds"]
    result.errors.extend(copy_errors)


def _collect(b: BuildContext) -> None:
    """The workers' results -> the output records (the last build's kept for what was not
    rendered), counts, messages."""

    result, prev = b.result, b.prev
    records: dict[str, incremental.OutputRecord] = {}
    if prev is not None:
        expected = {p for p, _ in b.job_paths}
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

    sr = merged(b.shard_results)
    result.pages += sr.pages
    result.written += sr.written
    result.skipped_identical += sr.skipped
    result.errors.extend(sr.errors)
    result.warnings.extend(sr.warnings)
    for path, rec in sr.records:
        records[path] = intern(rec)
    for k, v in sr.seconds.items():
        result.cpu[k] = result.cpu.get(k, 0.0) + v
    b.rendered_ok = {path for path, _ in sr.records}
    for path in [p for p in records if p not in b.rendered_ok and p in result.explain_outputs]:
        del records[path]  # it failed this time: never reuse its old record
    result.rendered = result.pages
    result.pages += sum(1 for p in records if p not in b.rendered_ok)
    for path in sorted(records):
        for w in records[path].warnings:
            if w not in result.warnings:
                result.warnings.append(w)
    b.records = records


def _publish(b: BuildContext) -> None:
    """Site-wide outputs (when what they show changed), stale outputs removed, local links
    and assets checked (bengal.publish)."""
    result, prev, out_dir, records = b.result, b.prev, b.out_dir, b.records
    with stage(result, "site-wide", b.opts.progress):
        # Sitemap, feeds, search index and redirects read pages' metadata and summaries, never
        # their bodies (bengal.outputs).
        touched = prev is not None and any(
            b.out_stats.get(p) is None or tuple(b.out_stats[p]) != tuple(prev.out_stats.get(p, ()))
            for p in prev.sitewide
        )
        b.sitewide_dirty = (
            prev is None
            or b.opts.verify
            or touched
            or any(not k.endswith("|body") for k in b.changed_facts)
        )
        if b.sitewide_dirty:
            before = None if prev is None or touched or b.opts.verify else _stored_entries(b)
            b.sitewide, b.entries, delta = b.publisher.write_sitewide(
                b.asm.site, b.tree, b.alias_files, before, _entry_may_change(b.changed_facts)
            )
            # (What changed since the store's entries, when they are what it started from.)
            b.entries_delta = delta if before is not None and b.opts.prev_cache is None else None
        else:
            assert prev is not None
            b.sitewide = list(prev.sitewide)

    with stage(result, "stale outputs"):
        manifest = set(records) | set(b.copied) | set(b.sitewide)
        manifest.update(p for sr in b.shard_results for p in sr.attempted)
        manifest.update(p for p, _ in b.job_paths if p in b.rendered_ok)
        # Nothing already written is lost to an error: a page whose source or template fails
        # keeps its last good output until the error is fixed.
        manifest.update(
            p
            for p, k in b.old_pages.items()
            if failed_page(k, b.failed_sources) and p in b.old_manifest
        )
        manifest.update(p for p, _ in b.job_paths if p not in records and p in b.old_manifest)
        b.publisher.remove(b.old_manifest - manifest)
        b.manifest = manifest

    # After every file is in place (and stale ones are gone): feeds and sitemap are link
    # targets too. When the set of output files is the one the last build left, only the pages
    # rendered now can have new findings; the others' are those recorded last time.
    with stage(result, "asset check"):
        same_files = prev is not None and manifest == set(prev.manifest)
        recheck = b.rendered_ok if same_files else set(records)
        found = check_local_assets(
            [(p, records[p].assets) for p in sorted(recheck) if p in records and records[p].assets],
            out_dir,
            b.asm.site,
        )
        if same_files:
            assert prev is not None
            b.asset_warnings = {
                p: w for p, w in prev.asset_warnings.items() if p in records and p not in recheck
            }
        b.asset_warnings.update(found)
        for p in sorted(b.asset_warnings):
            result.warnings.extend(b.asset_warnings[p])
    result.files = result.pages + len(b.copied) + len(b.sitewide)


def _stored_entries(b: BuildContext) -> dict[str, Entry] | None:
    """The site-wide entries the last build left -- in the store, or in the dev server's memory
    with its cache (None: none, or not readable -- the files are made from every page, and the
    save writes them all again)."""
    from bengal import recorded

    if b.repair:
        return None
    if b.opts.prev_cache is not None and b.prev is b.opts.prev_cache:
        return b.opts.prev_entries  # the dev server's, in memory (the store keeps none)
    try:
        return recorded.load_entries(b.store) or None
    except StoreDamaged:
        return None


def _entry_may_change(changed: set[str]) -> Callable[[Page], bool]:
    """Whether a page's site-wide entry may differ from the last build's: it is made from the
    page's metadata and summary, its section's title and its terms' names (bengal.outputs)."""
    from bengal.incremental import page_key

    def may_change(p: Page) -> bool:
        key = page_key(p)
        if key + "|meta" in changed or key + "|summary" in changed:
            return True
        if p.section is not None and "s:" + p.section.path + "|meta" in changed:
            return True
        return any(
            f"t:{tax}/{t.slug}|meta" in changed for tax, terms in p.terms.items() for t in terms
        )

    return may_change


def _save(b: BuildContext) -> None:
    """Everything the next build needs -> the store, in one transaction: the cache, the
    recorded model, the state (bengal.incremental, bengal.recorded, bengal.cache)."""
    from bengal import incremental, recorded

    result, prev, store, loaded = b.result, b.prev, b.store, b.loaded
    with stage(result, "save cache"):
        # Stat only what this build may have written; the rest was stat()ed while planning.
        manifest, out_stats = b.manifest, b.out_stats
        touched = set(manifest) - out_stats.keys() if prev is not None else set(manifest)
        touched.update(b.rendered_ok, b.copied)
        if b.sitewide_dirty:
            touched.update(b.sitewide)
        out_now = {p: out_stats[p] for p in manifest if p in out_stats and p not in touched}
        out_now.update(cache.stat_outputs(b.out_dir, sorted(touched & manifest)))
        # A file modified within a clock tick of the scan could be modified again with the same
        # size and mtime (mtimes are coarse): such "racy" entries are hashed next time.
        racy = b.scan_ns - incremental.RACY_NS
        for rel, entry in loaded.entries.items():
            if entry.stat[0] >= racy:
                loaded.entries[rel] = entry._replace(stat=(0, -1))
        warm = b.opts.keep_warm is not None
        records = b.records
        b.new_cache = new_cache = incremental.Cache(
            config_key=b.key,
            model_fp=b"" if warm else recorded.model_fingerprint(b.facts, b.asm.xref_digest),
            sources=loaded.entries,
            facts=b.facts,
            outputs=records,
            templates={
                n: b.digest_before(n) for n in {t for r in records.values() for t in r.templates}
            },
            manifest=sorted(manifest),
            out_stats={k: (v[0], v[1]) for k, v in out_now.items()},
            sitewide=b.sitewide,
            xref_digest=b.asm.xref_digest,
            tax_pages=b.asm.taxonomy.pages,
            tax_terms=b.asm.taxonomy.terms,
            asset_warnings={p: w for p, w in b.asset_warnings.items() if w},
        )
        base = None if b.repair else prev
        # What a build with nothing to do says again: the site's problems, not this build's
        # repairs of its own caches (said once).
        b.site_warnings = [w for w in result.warnings if str(b.state_dir) not in w]
        try:
            # The cache, the recorded model and the state: one transaction (a new file, when
            # everything is written from scratch into a store this build created).
            with store.rewrite() if base is None and store.created else store.transaction():
                incremental.save(store, new_cache, base, b.asm.xref_index)
                # The dev server rebuilds from memory: its builds record no model.
                xrefs = recorded.Xrefs(b.asm.xref_added, b.asm.ambiguous_keys, b.asm.xref_tiers)
                site = None if warm else b.asm.site
                result.model_kept = recorded.save_model(store, site, xrefs, new_cache, base)
                recorded.save_entries(
                    store, site, b.entries, fresh=base is None, delta=b.entries_delta
                )
                incremental.clear_pending(store)
                if not result.errors:
                    # Without its cache the state would describe files that no cache matches
                    # (the fast path trusts that they agree): saved together or not at all.
                    summary = {
                        "pages": result.pages, "files": result.files,
                        "warnings": b.site_warnings,
                    }  # fmt: skip
                    cache.save_state(
                        store, b.state_options, summary, b.check.inputs, outputs_now=out_now,
                        racy_ns=racy, bad_names=b.check.bad_names,
                        digest_of=incremental.content_digests(loaded.entries.get),
                    )  # fmt: skip
                b.publisher.end()
            incremental.saved(new_cache)
            b.saved = True
        except OSError as exc:
            result.warnings.append(f"cannot save the build cache: {exc.strerror or exc}")


def _keep_warm(b: BuildContext) -> None:
    """For the dev server: what this build leaves in memory for its next one (WarmState)."""
    keep = b.opts.keep_warm
    if keep is None or b.result.errors or not b.saved:
        return
    from bengal.render import MarkdownContext

    asm = b.asm
    assert b.new_cache is not None
    md = MarkdownContext.of(asm.site, asm.xref_index, b.config, asm.ambiguous_keys)
    # Templates' ref() answers from the index the dev server's changes patch (md.index), not
    # from the index this build assembled.
    ref = ref_helper(lambda: md.index)
    keep(
        WarmState(
            root=b.root,
            out_dir=b.out_dir,
            state_dir=b.state_dir,
            tree=b.tree,
            site=asm.site,
            cache=b.new_cache,
            jobs=dict(zip([p for p, _ in b.job_paths], b.all_jobs, strict=True)),
            templates_factory=templates_factory(
                b.root, asm.site, b.config, b.store, ref, b.asset_url
            ),
            store=b.store,
            md=md,
            alias_files=b.alias_files,
            warnings=b.site_warnings,
            entries=b.entries,
            xref_added=asm.xref_added,
            xref_tiers=asm.xref_tiers,
            taxonomies=dict(b.config.taxonomies),
            per_page=int(b.config.pagination["per_page"]),
            pretty_urls=bool(b.config.build["pretty_urls"]),
            drafts=bool(b.config.build["drafts"]),
            workers=b.workers,
            menu_refs=[e.page for m in b.config.menus.values() for e in m if e.page],
        )
    )


def templates_factory(
    root: Path, site: Site, config: Any, store: Store, ref: Any, asset_url: Any
) -> Callable[[], Templates]:
    from bengal.render import Templates

    return lambda: Templates(root, site, config, store, ref, asset_url)


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


__all__ = ["BengalError", "BuildOptions", "BuildResult", "build"]
