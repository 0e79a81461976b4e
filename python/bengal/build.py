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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bengal_native
from bengal import cache
from bengal.config import load_config
from bengal.context import BuildOptions, BuildResult, Message, WarmState, stage
from bengal.discover import THEME_DIR, SourceTree, discover
from bengal.errors import BengalError, BuildError, TemplateError
from bengal.helpers import asset_url_helper, plan_assets, ref_helper
from bengal.model import Site
from bengal.publish import (
    begin_writing,
    check_local_assets,
    check_output_dir,
    clean_output,
    conflicting_stale,
    copy_files,
    copy_jobs,
    end_writing,
    make_dir,
    remove_stale,
    store_write,
    write_sitewide,
)
from bengal.sources import SourceLoad, load_data, load_sources
from bengal.store import Store, StoreDamaged, db_path
from bengal.workers import (
    FORK_STATE,
    LAST_BUILD,
    UNKNOWN_PAGE,
    cpu_count,
    failed_page,
    no_cyclic_gc,
    run_chunks,
)

if TYPE_CHECKING:
    from bengal import incremental
    from bengal.assemble import Assembly
    from bengal.render import Templates

# bengal.render (Jinja2) is imported when a build renders, not by a build with nothing to do.
STATE_DIR = ".bengal"


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
    with stage(result, "change check"):
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

    with stage(result, "load cache"):
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
        with stage(result, "clean"):
            clean_output(out_dir)
            old_manifest = set()

    with stage(result, "discover", opts.progress):
        tree = discover(root, check.inputs)  # the files the change check just walked
    workers = opts.workers if opts.workers is not None else int(config.build["workers"])
    if workers <= 0:
        workers = cpu_count()
    with stage(result, "parse", opts.progress):
        loaded = load_sources(tree, workers, prev.sources if prev else None, check.inputs)
    result.errors.extend(str(e) for e in loaded.errors)
    result.files_read = loaded.read
    result.changes = dict(sorted(loaded.changes.items()))
    with stage(result, "data", opts.progress):
        data, data_errors = load_data(root, tree)
    result.errors.extend(data_errors)

    with stage(result, "assemble", opts.progress):
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
    with stage(result, "markdown", opts.progress):
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
    with stage(result, "asset plan"):
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

    with stage(result, "plan"):
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
    FORK_STATE.clear()
    FORK_STATE.update(
        jobs=jobs,
        out_dir=out_dir,
        templates_factory=lambda: Templates(root, site, config, cache_dir, ref, asset_url),
    )
    make_dir(out_dir, "remove what is there or choose another with -o / [build] output_dir")
    begin_writing(store, state_dir, out_dir)
    # A file that became a folder (or the reverse) since the last build: its old outputs would
    # block the new ones, so they go first (the rest of the stale outputs go at the end).
    failed_sources = {"p:" + str(e.file) for e in [*loaded.errors, *asm.errors] if e.file}
    keep = {p for p, k in old_pages.items() if failed_page(k, failed_sources)}
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
    store_write(incremental.write_pending, store, new_paths)
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

    with stage(result, "render+write"):
        shard_results = run_chunks(
            workers,
            (lambda d, t: progress("rendering pages", d, t)) if progress else None,
            background=copy_static,
        )
    FORK_STATE.clear()
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

    with stage(result, "site-wide", opts.progress):
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

    with stage(result, "stale outputs"):
        manifest = set(records) | set(copied) | set(sitewide)
        manifest.update(p for sr in shard_results for p in sr.attempted)
        manifest.update(p for p, _ in job_paths if p in rendered_ok)
        # Nothing already written is lost to an error: a page whose source or template fails
        # keeps its last good output until the error is fixed.
        manifest.update(
            p for p, k in old_pages.items() if failed_page(k, failed_sources) and p in old_manifest
        )
        manifest.update(p for p, _ in job_paths if p not in records and p in old_manifest)
        result.removed = remove_stale(out_dir, old_manifest - manifest)

    # After every file is in place (and stale ones are gone): feeds and sitemap are link
    # targets too. When the set of output files is the one the last build left, only the pages
    # rendered now can have new findings; the others' are those recorded last time.
    with stage(result, "asset check"):
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
    with stage(result, "save cache"):
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
        from bengal import recorded

        model_fp = (
            b""
            if opts.keep_warm is not None
            else recorded.model_fingerprint(facts, asm.xref_digest)
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
        # What a build with nothing to do says again: the site's problems, not this build's
        # repairs of its own caches (said once).
        site_warnings = [w for w in result.warnings if str(state_dir) not in w]
        cache_saved = False
        try:
            # The cache, the recorded model and the state: one transaction (a new file, when
            # everything is written from scratch into a store this build created).
            with store.rewrite() if base is None and store.created else store.transaction():
                incremental.save(store, new_cache, base, asm.xref_index)
                # The dev server rebuilds from memory: its builds record no model.
                result.model_kept = recorded.save_model(
                    store, site if opts.keep_warm is None else None,
                    recorded.Xrefs(asm.xref_added, asm.ambiguous_keys), new_cache, base,
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
                            "warnings": site_warnings,
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
                templates_factory=templates_factory(root, site, config, cache_dir, ref, asset_url),
                store=store,
                md=MarkdownContext.of(site, asm.xref_index, config, asm.ambiguous_keys, store),
                alias_files=alias_files,
                warnings=site_warnings,
            )
        )
    result.timings["total"] = time.perf_counter() - result.started
    return result


def templates_factory(
    root: Path, site: Site, config: Any, cache_dir: Path, ref: Any, asset_url: Any
) -> Callable[[], Templates]:
    from bengal.render import Templates

    return lambda: Templates(root, site, config, cache_dir, ref, asset_url)


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


def _clear_state(store: Store, state_dir: Path) -> None:
    store_write(cache.clear_state, store)


__all__ = ["BengalError", "BuildOptions", "BuildResult", "build"]
