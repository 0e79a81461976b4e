"""The command line's way with body edits: a `bengal build` after edits that change only the
Markdown bodies of existing pages renders the affected outputs from the site model the last
build recorded (bengal.recorded), without assembling the site or loading the whole cache.

    change check (only content Markdown files with new stamps) + the store
        -> bengal.edits, with the store's records read one at a time (StoredRecords)
        -> the changed records and the state, in one transaction

Why: an ordinary incremental build restores the whole site model and loads every cache table
before it can decide that one page changed -- ~1 s on a 10k-page site, for one page. Here the
store's reverse index (rdeps: page key -> its outputs, "key|body" and "key|summary" -> the
outputs that read them) names the outputs to render; only the records of what changed are
read and written again.

The rules -- what a body edit may change, what is rendered again, how warnings are kept -- are
bengal.edits', the same as the dev server's. This module adds what the command line needs
besides: the change check found nothing but content Markdown files with new stamps (no file
added or removed, no output touched, no template, data, static or config change) and the
recorded model is the one the cache describes. Anything else -- or anything unexpected on the
way, such as a damaged record -- returns None and the ordinary build runs: before an output is
written, or after, with the outputs' stamps taken again so that the ordinary build renders them
again.
"""

from __future__ import annotations

import bisect
import functools
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bengal import __version__, delta, edits, helpers, incremental, workers
from bengal.edits import Fallback
from bengal.errors import ContentError
from bengal.model import Page, Site
from bengal.publish import Publisher
from bengal.recorded import Model, Xrefs, key_of, load_entries
from bengal.store import Store, StoreDamaged

if TYPE_CHECKING:
    from bengal.cache import NoopCheck
    from bengal.changes import Candidates, ChangeSet
    from bengal.context import BuildOptions, BuildResult
    from bengal.delta import Delta
    from bengal.discover import SourceTree
    from bengal.outputs import Entry
    from bengal.render import MarkdownContext


class LoadedDamaged(StoreDamaged):
    """Damage to a table the ordinary build loads whole (bengal.incremental.LOADED): reported
    by that load, which rebuilds everything."""


# ---- the store, read and written one record at a time ------------------------------------------


class Reads:
    """The store as the last build left it, read record by record as entries are needed; the
    records this build changes, kept until save()."""

    def __init__(self, store: Store):
        self.store = store
        self.changed: dict[tuple[str, str], Any] = {}  # (table, key) -> value (None: delete)
        # Damage met (noted here too: one met inside a template render comes out of it as a
        # template error, not as itself).
        self.damaged: list[str] = []

    def get(self, kind: str, key: str) -> Any:
        hit = self.changed.get((kind, key), _UNSET)
        if hit is not _UNSET:
            return hit
        try:
            return self.store.get(kind, key)
        except StoreDamaged as exc:
            # Damage to a table the ordinary build loads is reported by that load (once).
            if kind in incremental.LOADED:
                raise LoadedDamaged(str(exc)) from None
            self.damaged.append(str(exc))
            raise

    def put(self, kind: str, key: str, value: Any) -> None:
        self.changed[(kind, key)] = value

    def save(self) -> None:
        """The changed records (inside the caller's transaction)."""
        puts: dict[str, list[tuple[str, Any]]] = {}
        drops: dict[str, list[str]] = {}
        for (kind, key), value in self.changed.items():
            if value is None:
                drops.setdefault(kind, []).append(key)
            else:
                puts.setdefault(kind, []).append((key, value))
        for kind, items in puts.items():
            self.store.put_many(kind, items)
        for kind, keys in drops.items():
            self.store.delete_many(kind, keys)


_UNSET = object()


# ---- the fast path ----------------------------------------------------------------------------


def try_build(
    root: Path,
    opts: BuildOptions,
    config: Any,
    publisher: Publisher,
    state_options: dict[str, Any],
    check: NoopCheck,
    scan_ns: int,
    result: BuildResult,
    changes: ChangeSet,
) -> BuildResult | None:
    """The build, when it is body edits only (see the module); None: take the ordinary build.
    Nothing is written before the decision is made."""
    if opts.clean or opts.skip_noop or opts.verify or opts.prev_cache is not None:
        return None
    if opts.keep_warm is not None:
        return None
    state = check.state
    candidates = changes.edit_candidates()
    if state is None or candidates is None:
        return None
    run = _Run(root, config, publisher, state_options, check, scan_ns, result, state,
               workers.worker_count(opts.workers, config))  # fmt: skip
    try:
        fast = _express(run, candidates)
    except LoadedDamaged:
        fast = None  # the ordinary build's load finds it too: reported there, and rebuilt
    except StoreDamaged as exc:
        run.damaged.append(str(exc))
        fast = None
    except (Fallback, ContentError, OSError, KeyError, ValueError, TypeError, EOFError,
            pickle.UnpicklingError, AttributeError, IndexError):  # fmt: skip
        fast = None
    if fast is None and run.reads is not None:
        run.damaged.extend(d for d in run.reads.damaged if d not in run.damaged)
    if fast is None and run.wrote:
        # Outputs were written: the ordinary build must not trust the stamps taken before.
        check.outputs_seen = None
    if fast is None and run.damaged:
        # Only this path reads the recorded model and the stored answers: the ordinary build
        # writes both again (see build.py).
        check.repair = True
        result.warnings.append(
            f"{publisher.store.path}: {run.damaged[0]}; the cache is repaired by this build"
        )
    return fast


@dataclass
class _Run:
    """What the fast path works with: the build's settings and the change check's findings."""

    root: Path
    config: Any
    publisher: Publisher  # the output directory's (and the store's "writing" mark)
    state_options: dict[str, Any]
    check: NoopCheck
    scan_ns: int
    result: BuildResult
    state: dict[str, Any]
    workers: int = 1  # processes to render with (bengal.edits.render)
    wrote: bool = False  # outputs were written (a fallback must not trust earlier stamps)
    damaged: list[str] = field(default_factory=list)  # cache damage met on the way
    reads: Reads | None = None

    @property
    def store(self) -> Store:
        return self.publisher.store


def _express(run: _Run, changed: Candidates) -> BuildResult | None:
    from bengal import cache
    from bengal.render import Templates

    root, check, result, store = run.root, run.check, run.result, run.store
    t0 = time.perf_counter()
    reads = run.reads = Reads(store)
    top = reads.get("meta", "cache")
    key = incremental.config_key(run.config.source, run.state_options)
    if (
        not isinstance(top, dict)
        or top.get("bengal") != __version__
        or top.get("config_key") != key
        or not top.get("model_fp")
    ):
        return None
    records = StoredRecords(run, reads, incremental.Cache.from_top(top))
    workers.LAST_BUILD.extend([reads, records.model, records.site])
    racy = run.scan_ns - incremental.RACY_NS
    stat = records.scan_stamp
    todo, same, moved = edits.read_edits(root, changed.content, records, stat, racy)
    gone = edits.read_removed(changed.removed, records) + edits.moved_pages(moved, records)
    todo += edits.read_added(root, changed.added, records, stat, racy, gone, moved, same)
    edited = edits.read_templates(root, changed.templates, records)
    result.timings["load cache"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = edits.plan(records, todo, bool(run.state_options.get("strict")), edited, gone)
    result.timings["markdown+plan"] = time.perf_counter() - t1

    # Everything checked: from here on outputs and caches change.
    t2 = time.perf_counter()
    plan = helpers.plan_assets(root, records.tree(), bool(run.config.build["fingerprint_assets"]))
    # ref() in templates: the recorded index, replayed on first use
    ref = helpers.ref_helper(records.model.xref_index)
    asset_url = helpers.asset_url_helper(plan, records.site.baseurl)
    templates = Templates(root, records.site, run.config, store, ref, asset_url)
    run.wrote = True
    shard = edits.render(out, templates, run.publisher, run.workers)
    result.timings["render+write"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    stamps = edits.finish(records, out, shard, same, run.publisher)
    result.timings["site-wide"] = time.perf_counter() - t3

    # The caches: sources, facts, records, reverse index, output stamps; then the state -- in
    # one transaction.
    t4 = time.perf_counter()
    assert check.outputs_seen is not None
    joined, packed = check.outputs_seen
    if records.new_paths or records.removed_paths:  # (outputs came or went: packed again)
        every = cache.unpack_stamps(joined, packed)
        for path in records.removed_paths:
            every.pop(path, None)
        every.update(stamps)
        outputs_now = cache.pack_stamps(every)
    else:
        outputs_now = (joined, cache.patch_stamps(joined, packed, stamps))
    summary = dict(run.state.get("summary", {}))
    summary["warnings"] = records.warnings
    came = len(records.new_paths) - len(records.removed_paths)
    summary["pages"] = int(summary.get("pages", 0)) + came - records.sitewide_came  # (HTML)
    summary["files"] = int(summary.get("files", 0)) + came
    with store.transaction():
        reads.save()
        store.put("meta", "cache", records.top.top())
        incremental.clear_pending(store)  # (the manifest lists the outputs created)
        cache.save_state(
            store, run.state_options, summary, check.inputs, outputs_now, racy_ns=racy,
            bad_names=check.bad_names,
            digest_of=incremental.content_digests(lambda rel: reads.get("sources", rel)),
        )  # fmt: skip
        run.publisher.end()
    result.timings["save cache"] = time.perf_counter() - t4

    result.express = True
    result.pages = int(summary.get("pages", 0))
    result.files = int(summary.get("files", 0))
    result.reused = result.pages - result.rendered
    return result


def _answering(answers: list[Any]) -> Any:
    """A cross-reference index that answers just `answers` (stored (path, url, title) rows)."""
    import bengal_native

    index = bengal_native.XrefIndex()
    index.add_many([tuple(a) for a in answers])
    return index


class StoredRecords:
    """The store's records for bengal.edits, read one at a time (Reads) and kept there until
    the caller saves them; the site model recorded by the last ordinary build (Model)."""

    def __init__(self, run: _Run, reads: Reads, top: incremental.Cache) -> None:
        import bengal_native
        from bengal.render import MarkdownContext

        self.run = run
        self.reads = reads
        self.top = top
        self.model = Model(reads, str(run.root / "content"))
        self.site: Site = self.model.site()
        self.warnings: list[str] = list(run.state.get("summary", {}).get("warnings", []))
        self.search_dirs: list[Path] | None = None
        self._ctx: dict[bool, MarkdownContext] = {}
        self._index_used: Any = None
        self._index_set = False  # a delta's index: every rendering uses the whole of it
        self.taxonomies: dict[str, str] = dict(run.config.taxonomies)
        self._manifest_set: set[str] | None = None
        self.new_paths: set[str] = set()  # outputs the fast path created ...
        self.removed_paths: set[str] = set()  # ... and removed
        self.sitewide_came = 0  # site-wide files among them (feeds), came less went
        self.per_page = int(run.config.pagination["per_page"])
        self.pretty_urls = bool(run.config.build["pretty_urls"])
        self.drafts = bool(run.config.build["drafts"])
        self.menu_refs = [e.page for m in run.config.menus.values() for e in m if e.page]
        self._gone: set[str] = set()  # keys of pages taken out of the site
        # Pages' recorded renderings: rendered again, if their content is used, with an index
        # that answers what the store says the site's index answers for them.
        base = MarkdownContext.of(self.site, bengal_native.XrefIndex(), run.config, {})

        def md_apply(page: Page) -> None:
            entry = reads.get("sources", page.source)
            if entry is None or entry.md is None:
                raise Fallback(f"no rendering cached for {page.source}")
            index = functools.partial(self._answers_index, page.source) if entry.md.xrefs else None
            base.apply(entry.md, None, page, index)

        self.model.md_apply = md_apply

    def _answers_index(self, rel: str) -> Any:
        """For a recorded rendering rendered again: an index answering what the store says the
        site's index answers for its cross-references (read only when its HTML is needed); the
        whole index when there is no such record."""
        found = self.reads.get("answers", rel)
        return _answering(found) if found is not None else self.model.xref_index()

    def scan_stamp(self, path: str) -> tuple[int, int]:
        st = self.run.check.inputs[path]
        return (st[0], st[1])

    def tree(self) -> SourceTree:
        from bengal.discover import SourceTree

        inputs = self.run.check.inputs
        return SourceTree(
            root=self.run.root,
            static=sorted(k[7:] for k in inputs if k.startswith("static/")),
            assets=sorted(k[7:] for k in inputs if k.startswith("assets/")),
        )

    # -- reading

    def source(self, rel: str) -> incremental.SourceEntry | None:
        entry: incremental.SourceEntry | None = self.reads.get("sources", rel)
        return entry

    def page(self, rel: str) -> Page | None:
        key = "p:" + rel
        if key in self._gone:
            return None
        if key not in self.model.objects and self.reads.get("model", key) is None:
            return None  # a source no page is made from (a draft, say)
        return self.model.page(key)

    def page_at(self, url: str) -> Page | None:
        return self.model.page_at(url)

    def placed(self, page: Page) -> None:
        key = key_of(page)
        self._gone.discard(key)
        self.model.objects[key] = page
        self.model.page_at("")  # (the map by URL loaded, then changed)
        assert self.model._by_url is not None
        self.model._by_url[page.url] = key

    def unplaced(self, page: Page) -> None:
        self._gone.add(key_of(page))
        self.model.page_at("")
        assert self.model._by_url is not None
        self.model._by_url.pop(page.url, None)

    def fact(self, key: str) -> bytes | None:
        value: bytes | None = self.reads.get("facts", key)
        return value

    def readers(self, key: str) -> tuple[str, ...]:
        return tuple(self.reads.get("rdeps", key) or ())

    def linkers(self, url: str) -> tuple[str, ...]:
        return tuple(self.reads.get("linkers", url) or ())

    def output(self, path: str) -> incremental.OutputRecord | None:
        rec: incremental.OutputRecord | None = self.reads.get("outputs", path)
        return rec

    def job(self, path: str) -> tuple[Page, int] | None:
        from bengal.incremental import pager_output_path
        from bengal.render import pager_count

        rec = self.output(path)
        page = self.model.page(rec.page) if rec is not None else None
        if page is None:
            return None
        if path == page.output_path:
            return (page, 1)
        # "…/page/N/index.html": N, if it is one of the page's pagers
        _, sep, tail = ("/" + path).rpartition("/page/")
        digits = tail.removesuffix("/index.html")
        n = int(digits) if sep and digits.isdigit() and digits != tail else 0
        if 1 < n <= pager_count(page, self.per_page) and pager_output_path(page, n) == path:
            return (page, n)
        return None

    def asset_warnings(self, path: str) -> list[str]:
        return list(self.top.asset_warnings.get(path, []))

    def entries(self) -> dict[str, Entry]:
        entries = load_entries(self.reads.store)
        if len(entries) != len(self.model.record("site.pages")):
            raise Fallback("the store holds no site-wide entries for every page")
        for (kind, key), value in self.reads.changed.items():
            if kind == "entries":
                if value is None:
                    entries.pop(key, None)
                else:
                    entries[key] = value
        return entries

    def context(self, rels: list[str] | None) -> MarkdownContext:
        """Rendering the edited bodies: with an index of what the site's index answered for
        their cross-reference paths (stored with their last renderings; bengal.edits renders
        again with the whole recorded index when a body names a path not among them). A site
        with ambiguous keys always uses the whole index (the check for them asks it)."""
        from bengal.render import MarkdownContext

        ambiguous = self.model.ambiguous()
        if rels is None or ambiguous or self._index_set:
            ctx = self._ctx.get(True)
            if ctx is None:
                index = self.model.xref_index()
                ctx = self._ctx[True] = MarkdownContext.of(
                    self.site, index, self.run.config, ambiguous
                )
        else:
            answers = []
            for rel in rels:
                found = self.reads.get("answers", rel)
                if found is None:
                    raise Fallback(f"no stored answers for {rel}")
                answers += found
            ctx = MarkdownContext.of(self.site, _answering(answers), self.run.config, {})
        self._index_used = ctx.index
        return ctx

    # -- writing (kept in Reads until the caller saves)

    def tax_page(self, rel: str) -> Any:
        return self.reads.get("tax_pages", rel)

    def tax_term(self, key: str) -> tuple[str, ...] | None:
        members: tuple[str, ...] | None = self.reads.get("tax_terms", key)
        return members

    def xrefs(self) -> Xrefs:
        p, t0, t1 = self.model.record("xref.tiers")
        return Xrefs(list(self.model.record("xref.added")), self.model.ambiguous(), (p, t0, t1))

    def xref_user_paths(self) -> list[str]:
        keys = set(self.reads.store.keys("xref_users"))
        for (kind, key), value in self.reads.changed.items():
            if kind == "xref_users":
                (keys.add if value is not None else keys.discard)(key)
        return sorted(keys)

    def xref_users(self, path: str) -> tuple[str, ...]:
        return tuple(self.reads.get("xref_users", path) or ())

    def ref_args(self) -> list[str]:
        keys = set(self.reads.store.keys("rdeps", incremental.REF_KEY))
        for (kind, key), value in self.reads.changed.items():
            if kind == "rdeps" and key.startswith(incremental.REF_KEY):
                (keys.add if value is not None else keys.discard)(key)
        return sorted(k[len(incremental.REF_KEY) :] for k in keys)

    def set_index(self, index: Any, ambiguous: dict[str, list[str]]) -> None:
        self.model._index = index
        self.model._ambiguous = ambiguous
        self._index_set = True
        self._ctx.clear()

    def put_source(self, rel: str, entry: incremental.SourceEntry) -> None:
        was = self.source(rel)
        self.reads.put("sources", rel, entry)
        if entry.md is not None and (was is None or was.md != entry.md):
            index = self._index_used
            self.reads.put("answers", rel, incremental.xref_answers(index, entry.md)
                           if entry.md.xrefs and index is not None else [])  # fmt: skip
        before, now = incremental.xref_keys(was), incremental.xref_keys(entry)
        if before != now:
            for path in before - now:
                kept = tuple(r for r in self.xref_users(path) if r != rel)
                self.reads.put("xref_users", path, kept or None)
            for path in now - before:
                self.reads.put("xref_users", path, tuple(sorted({*self.xref_users(path), rel})))

    def drop_source(self, rel: str) -> None:
        was = self.source(rel)
        for path in incremental.xref_keys(was):
            kept = tuple(r for r in self.xref_users(path) if r != rel)
            self.reads.put("xref_users", path, kept or None)
        if was is not None and was.md is not None:
            self.put_linkers(rel, incremental.anchor_targets(was.md.xrefs), set())
        self.reads.put("sources", rel, None)
        self.reads.put("answers", rel, None)

    def put_delta(self, d: Delta, facts: dict[str, bytes]) -> None:
        """The model records of what the delta touched (bengal.recorded), its taxonomy and
        cross-reference records, and what the model is now valid for."""
        from bengal.assemble import xref_digest
        from bengal.recorded import record_of

        for key, obj in [*d.pages.items(), *[("s:" + p, s) for p, s in d.sections.items()],
                         *d.terms.items()]:  # fmt: skip
            self.reads.put("model", key, record_of(obj))
        if d.regular_pages:
            self.reads.put("model", "site.regular_pages",
                           [key_of(p) for p in self.site.regular_pages])  # fmt: skip
        if d.xrefs is not None:
            self.reads.put("model", "xref.added", d.xrefs.added)
            self.reads.put("model", "xref.ambiguous", sorted(d.xrefs.ambiguous.items()))
            self.reads.put("model", "xref.tiers", d.xrefs.tiers)
            self.top.xref_digest = xref_digest(d.xrefs.added)
        for rel, contrib in d.tax_pages.items():
            self.reads.put("tax_pages", rel, contrib)
        for key, members in d.tax_terms.items():
            self.reads.put("tax_terms", key, members or None)
        if d.site_lists:
            site = self.site
            urls = {k: u for u, k in self.model.record("site.page_by_url")}
            urls.update((key_of(p), p.url) for p in d.new_outputs.values())
            keys = [key_of(p) for p in site.pages]
            self.reads.put("model", "site.pages", keys)
            self.reads.put("model", "site.page_by_url", [(urls[k], k) for k in keys])
            self.reads.put("model", "site.page_by_output",
                           [(k, key_of(v)) for k, v in site.page_by_output.items()])  # fmt: skip
            self.reads.put("model", "site.taxonomies",
                           [(t, list(v)) for t, v in site.taxonomies.items()])  # fmt: skip
            self.model._by_url = None
        if d.by_path:
            self.reads.put("model", "site.page_by_path",
                           [(k, key_of(v)) for k, v in self.site.page_by_path.items()])  # fmt: skip
        for key in [*d.gone, *d.gone_terms]:
            self.reads.put("model", key, None)
        for key in delta.dropped(d):
            self.reads.put("facts", key, None)
        for path in [*d.new_outputs, *d.new_pagers]:
            if path not in self._manifest():
                bisect.insort(self.top.manifest, path)
                self._manifest().add(path)
            self.new_paths.add(path)
        self.top.model_fp = delta.model_fp(self.top.model_fp, facts)

    def _manifest(self) -> set[str]:
        if self._manifest_set is None:
            self._manifest_set = set(self.top.manifest)
        return self._manifest_set

    def in_manifest(self, path: str) -> bool:
        return path in self._manifest()

    def drop_output(self, path: str) -> None:
        was = self.output(path)
        self.reads.put("outputs", path, None)
        self.reads.put("out_stats", path, None)
        for d in incremental.contributions(was) if was is not None else ():
            kept = tuple(x for x in self.readers(d) if x != path)
            self.reads.put("rdeps", d, kept or None)
        if path in self._manifest():
            self.top.manifest.remove(path)
            self._manifest().discard(path)
        self.removed_paths.add(path)

    def put_fact(self, key: str, value: bytes) -> None:
        self.reads.put("facts", key, value)

    def put_output(self, path: str, rec: incremental.OutputRecord) -> None:
        from bengal.discover import THEME_DIR

        was = self.output(path)
        self.reads.put("outputs", path, rec)
        if self.search_dirs is None:
            root = self.run.root
            self.search_dirs = [d for d in (root / "templates", THEME_DIR / "templates")
                                if d.is_dir()]  # fmt: skip
        for name in rec.templates:
            if name not in self.top.templates:
                self.top.templates[name] = incremental.template_digest(name, self.search_dirs)
        old = set(incremental.contributions(was)) if was is not None else set()
        now = set(incremental.contributions(rec))
        for d in old - now:
            kept = tuple(x for x in self.readers(d) if x != path)
            self.reads.put("rdeps", d, kept or None)
        for d in now - old:
            self.reads.put("rdeps", d, tuple(sorted({*self.readers(d), path})))

    def put_asset_warnings(self, path: str, found: list[str]) -> None:
        if found:
            self.top.asset_warnings[path] = found
        else:
            self.top.asset_warnings.pop(path, None)

    def put_out_stats(self, stamps: dict[str, list[int]]) -> None:
        for path, st in stamps.items():
            self.reads.put("out_stats", path, (st[0], st[1]))

    def templates(self) -> dict[str, bytes | None]:
        return self.top.templates

    def put_template(self, name: str, digest: bytes | None) -> None:
        self.top.templates[name] = digest

    def put_sitewide(self, came: list[str], went: list[str]) -> None:
        top = self.top
        top.sitewide = sorted({*top.sitewide, *came} - set(went))
        for path in came:
            if path not in self._manifest():
                bisect.insort(top.manifest, path)
                self._manifest().add(path)
            self.new_paths.add(path)
        for path in went:
            if path in self._manifest():
                top.manifest.remove(path)
                self._manifest().discard(path)
            self.reads.put("out_stats", path, None)
            self.removed_paths.add(path)
        self.sitewide_came += len(came) - len(went)

    def put_entries(self, changed: dict[str, Entry | None]) -> None:
        for k, e in changed.items():
            self.reads.put("entries", k, e)

    def put_linkers(self, rel: str, before: set[str], now: set[str]) -> None:
        for url in before - now:
            kept = tuple(r for r in self.linkers(url) if r != rel)
            self.reads.put("linkers", url, kept or None)
        for url in now - before:
            self.reads.put("linkers", url, tuple(sorted({*self.linkers(url), rel})))
