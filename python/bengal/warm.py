"""The dev server's builder: rebuilds from the site model the last build left in memory
(WarmState), writing the store only when the server is idle.

    watcher events + WarmState -> the outputs the edits affect (or an ordinary build)
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bengal import cache
from bengal.build import build
from bengal.config import load_config
from bengal.context import BuildOptions, BuildResult, Message, WarmState, anchor_targets
from bengal.model import Page
from bengal.publish import begin_writing, check_local_assets, end_writing, write_sitewide
from bengal.workers import FORK_STATE, no_cyclic_gc, run_chunks

if TYPE_CHECKING:
    from bengal import incremental


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
                with no_cyclic_gc():
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
            for url in anchor_targets(entry.md.xrefs):
                w.linkers.get(url, set()).discard(rel)
            for url in anchor_targets(f.xrefs):
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
        FORK_STATE.clear()
        FORK_STATE.update(jobs=jobs, out_dir=w.out_dir, templates_factory=lambda: templates)
        begin_writing(w.store, w.state_dir, w.out_dir)
        try:
            shard = run_chunks(1, None)[0]
        finally:
            FORK_STATE.clear()
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
