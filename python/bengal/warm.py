"""The dev server's builder: rebuilds from the site model the last build left in memory
(WarmState), writing the store only when the server is idle.

    watcher events + WarmState -> the outputs the edits affect (or an ordinary build)
"""

from __future__ import annotations

import bisect
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bengal.build import build
from bengal.config import load_config
from bengal.context import BuildOptions, BuildResult, WarmState
from bengal.model import Page
from bengal.outputs import Entry
from bengal.publish import Publisher
from bengal.workers import no_cyclic_gc

if TYPE_CHECKING:
    from bengal import incremental
    from bengal.delta import Delta
    from bengal.recorded import Xrefs
    from bengal.render import MarkdownContext


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
            opts.prev_entries = self.warm.entries
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
                incremental.clear_pending(w.store)  # (the manifest lists the outputs created)
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
            w.site_entries()
            if w.templates is None:
                w.templates = w.templates_factory()

    def close(self) -> None:
        self._drop()

    def _body_edits(self, w: WarmState, changed: list[str]) -> BuildResult | None:
        """Body edits from the warm model (bengal.edits); None when the change is not one."""
        from bengal import edits as E
        from bengal import incremental

        t0 = time.perf_counter()
        scan_ns = time.time_ns()
        from bengal.changes import from_paths

        changes = from_paths(w.root, changed, w.tree)
        if not changes.changes:
            return None
        cands = changes.edit_candidates()
        if cands is None:
            return None
        w.index()
        records = WarmRecords(w)
        stat, racy = _stat_in(w.root), scan_ns - incremental.RACY_NS
        try:
            todo, same, moved = E.read_edits(w.root, cands.content, records, stat, racy)
            gone = E.read_removed(cands.removed, records) + E.moved_pages(moved, records)
            todo += E.read_added(w.root, cands.added, records, stat, racy, gone, moved, same)
            edited = E.read_templates(w.root, cands.templates, records)
        except E.Fallback:
            return None
        result = BuildResult(output_dir=w.out_dir, started=t0, warm=True)
        result.rebuild_reason = "changed: " + ", ".join(changes.paths())
        result.inputs_changed = [str(c) for c in changes.changes]
        if not todo and not edited and not gone:
            for rel, entry in same.items():
                records.put_source(rel, entry)
            w.dirty = w.dirty or bool(same)
            result.noop = True
            result.incremental = True
            result.files_read = len(same)
            result.warnings = list(w.warnings)  # the site's, as a no-op build says them
            result.timings["total"] = time.perf_counter() - t0
            return result
        try:
            out = E.plan(records, todo, False, edited, gone)
        except E.Fallback:
            # The ordinary build from the in-memory cache (untouched so far) assembles the
            # site model again: the pages given new renderings here are dropped with this one.
            return None
        result.timings["markdown+plan"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        if w.templates is None or out.templates:
            # (Its environment does not look at template files again: auto_reload is off.)
            w.templates = w.templates_factory()
        w.dirty = True
        try:
            publisher = Publisher(w.out_dir, w.store, w.state_dir, result)
            shard = E.render(out, w.templates, publisher, w.workers)
        except E.Fallback:
            # Outputs were written; the in-memory cache still has the stamps from before them,
            # so the ordinary build renders them again (and reports what rendering said).
            return None
        with w.store.transaction():
            publisher.end()
        result.timings["render+write"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        E.finish(records, out, shard, same, publisher)
        content = w.tree.content  # (what the watcher's next paths are told apart by)
        for path in cands.removed:
            content.remove(path[len("content/") :])
        for path in cands.added:
            bisect.insort(content, path[len("content/") :])
        result.timings["site-wide"] = time.perf_counter() - t2
        result.pages = len(w.cache.outputs)
        result.reused = result.pages - result.rendered
        result.files = len(w.cache.manifest)
        if result.errors:
            self._drop()  # the next build starts from the files, like any build after errors
        result.timings["total"] = time.perf_counter() - t0
        return result


def _stat_in(root: Path) -> Callable[[str], tuple[int, int]]:
    def stat(path: str) -> tuple[int, int]:
        st = os.stat(root / path)
        return (st.st_mtime_ns, st.st_size)

    return stat


class WarmRecords:
    """The dev server's records for bengal.edits: the last build's cache and site model, in
    memory (WarmState; written to the store when the server is idle)."""

    def __init__(self, w: WarmState) -> None:
        assert w.by_source is not None and w.by_url is not None
        self.w = w
        self.site = w.site
        self.taxonomies = w.taxonomies
        self.per_page = w.per_page
        self._manifest_set: set[str] | None = None
        self.pretty_urls = w.pretty_urls
        self.drafts = w.drafts
        self.menu_refs = w.menu_refs
        w.site_entries()  # (before an edit changes a page)

    @property
    def warnings(self) -> list[str]:
        return self.w.warnings

    @warnings.setter
    def warnings(self, value: list[str]) -> None:
        self.w.warnings = value

    def source(self, rel: str) -> incremental.SourceEntry | None:
        return self.w.cache.sources.get(rel)

    def page(self, rel: str) -> Page | None:
        assert self.w.by_source is not None
        return self.w.by_source.get(rel)

    def page_at(self, url: str) -> Page | None:
        assert self.w.by_url is not None
        return self.w.by_url.get(url)

    def placed(self, page: Page) -> None:
        assert self.w.by_source is not None and self.w.by_url is not None
        self.w.by_source[page.source] = page
        self.w.by_url[page.url] = page

    def unplaced(self, page: Page) -> None:
        assert self.w.by_source is not None and self.w.by_url is not None
        self.w.by_source.pop(page.source, None)
        if self.w.by_url.get(page.url) is page:
            del self.w.by_url[page.url]

    def fact(self, key: str) -> bytes | None:
        return self.w.cache.facts.get(key)

    def readers(self, key: str) -> set[str]:
        index = self.w.owners if key.startswith("p:") and "|" not in key else self.w.readers
        assert index is not None
        return index.get(key, set())

    def linkers(self, url: str) -> set[str]:
        assert self.w.linkers is not None
        return self.w.linkers.get(url, set())

    def output(self, path: str) -> incremental.OutputRecord | None:
        return self.w.cache.outputs.get(path)

    def job(self, path: str) -> tuple[Page, int] | None:
        return self.w.jobs.get(path)

    def asset_warnings(self, path: str) -> list[str]:
        return self.w.cache.asset_warnings.get(path, [])

    def entries(self) -> dict[str, Entry]:
        return self.w.site_entries()

    def tax_page(self, rel: str) -> Any:
        return self.w.cache.tax_pages.get(rel)

    def tax_term(self, key: str) -> tuple[str, ...] | None:
        return self.w.cache.tax_terms.get(key)

    def xrefs(self) -> Xrefs:
        from bengal.recorded import Xrefs

        return Xrefs(self.w.xref_added, self.w.md.ambiguous, self.w.xref_tiers)

    def xref_user_paths(self) -> list[str]:
        assert self.w.xref_users is not None
        return sorted(self.w.xref_users)

    def xref_users(self, path: str) -> set[str]:
        assert self.w.xref_users is not None
        return self.w.xref_users.get(path, set())

    def ref_args(self) -> list[str]:
        from bengal.incremental import REF_KEY

        assert self.w.readers is not None
        return [k[len(REF_KEY) :] for k, v in self.w.readers.items() if k.startswith(REF_KEY) and v]

    def set_index(self, index: Any, ambiguous: dict[str, list[str]]) -> None:
        # (A fallback after this drops the warm state: the ordinary build assembles anew.)
        self.w.md.index = index
        self.w.md.ambiguous = ambiguous

    def put_source(self, rel: str, entry: incremental.SourceEntry) -> None:
        from bengal.incremental import xref_keys

        was = self.w.cache.sources.get(rel)
        self.w.cache.sources[rel] = entry
        users = self.w.xref_users
        if users is not None:
            before, now = xref_keys(was), xref_keys(entry)
            for path in before - now:
                users.get(path, set()).discard(rel)
            for path in now - before:
                users.setdefault(path, set()).add(rel)

    def drop_source(self, rel: str) -> None:
        from bengal.incremental import anchor_targets, xref_keys

        was = self.w.cache.sources.pop(rel, None)
        assert self.w.xref_users is not None and self.w.linkers is not None
        for path in xref_keys(was):
            self.w.xref_users.get(path, set()).discard(rel)
        if was is not None and was.md is not None:
            for url in anchor_targets(was.md.xrefs):
                self.w.linkers.get(url, set()).discard(rel)

    def put_delta(self, d: Delta, facts: dict[str, bytes]) -> None:
        """The taxonomy and cross-reference records of a delta (its objects are the model in
        memory, changed already; the dev server records no model)."""
        from bengal.assemble import xref_digest
        from bengal.delta import dropped

        w = self.w
        cache = w.cache
        assert w.by_url is not None
        for rel, contrib in d.tax_pages.items():
            if contrib is None:
                cache.tax_pages.pop(rel, None)
            else:
                cache.tax_pages[rel] = contrib
        for key, members in d.tax_terms.items():
            if members:
                cache.tax_terms[key] = members
            else:
                cache.tax_terms.pop(key, None)
        if d.xrefs is not None:
            w.xref_added = d.xrefs.added
            w.xref_tiers = d.xrefs.tiers
            cache.xref_digest = xref_digest(d.xrefs.added)
        for key in dropped(d):
            cache.facts.pop(key, None)
        for page in d.gone.values():
            if w.by_url.get(page.url) is page:
                del w.by_url[page.url]
        new = {path: (page, 1) for path, page in d.new_outputs.items()}
        for page, _ in new.values():
            w.by_url[page.url] = page
        for path, job in {**new, **d.new_pagers}.items():
            w.jobs[path] = job
            if path not in self._manifest():
                bisect.insort(cache.manifest, path)
                self._manifest().add(path)

    def _manifest(self) -> set[str]:
        if self._manifest_set is None:
            self._manifest_set = set(self.w.cache.manifest)
        return self._manifest_set

    def in_manifest(self, path: str) -> bool:
        return path in self._manifest()

    def drop_output(self, path: str) -> None:
        w = self.w
        w.replace_record(path, None)
        w.cache.out_stats.pop(path, None)
        w.jobs.pop(path, None)
        if path in self._manifest():
            w.cache.manifest.remove(path)
            self._manifest().discard(path)

    def put_fact(self, key: str, value: bytes) -> None:
        self.w.cache.facts[key] = value

    def put_output(self, path: str, rec: incremental.OutputRecord) -> None:
        self.w.replace_record(path, rec)

    def put_asset_warnings(self, path: str, found: list[str]) -> None:
        if found:
            self.w.cache.asset_warnings[path] = found
        else:
            self.w.cache.asset_warnings.pop(path, None)

    def put_out_stats(self, stamps: dict[str, list[int]]) -> None:
        self.w.cache.out_stats.update({k: (v[0], v[1]) for k, v in stamps.items()})

    def context(self, rels: list[str] | None) -> MarkdownContext:
        ctx: MarkdownContext = self.w.md  # the site's whole index
        return ctx

    def templates(self) -> dict[str, bytes | None]:
        return self.w.cache.templates

    def put_template(self, name: str, digest: bytes | None) -> None:
        self.w.cache.templates[name] = digest

    def put_sitewide(self, came: list[str], went: list[str]) -> None:
        cache = self.w.cache
        cache.sitewide = sorted({*cache.sitewide, *came} - set(went))
        for path in came:
            if path not in self._manifest():
                bisect.insort(cache.manifest, path)
                self._manifest().add(path)
        for path in went:
            if path in self._manifest():
                cache.manifest.remove(path)
                self._manifest().discard(path)
            cache.out_stats.pop(path, None)

    def put_entries(self, changed: dict[str, Entry | None]) -> None:
        entries = self.entries()
        for k, e in changed.items():
            if e is None:
                entries.pop(k, None)
            else:
                entries[k] = e

    def put_linkers(self, rel: str, before: set[str], now: set[str]) -> None:
        assert self.w.linkers is not None
        for url in before - now:
            self.w.linkers.get(url, set()).discard(rel)
        for url in now - before:
            self.w.linkers.setdefault(url, set()).add(rel)
