"""The command line's fast path for body edits: a `bengal build` after edits that change only
the Markdown bodies of existing pages renders the affected outputs from the site model the last
build recorded, without assembling the site or loading the whole cache.

Why it exists: an ordinary incremental build rebuilds the site model from the cache (every
page restored, sections, terms, menus, fingerprints of everything) and loads every cache table
before it can decide that one page changed -- ~1 s on a 10k-page site, for one page. Here:

* The store's model table holds one record per page, section and term, plus the site's own
  fields. A record is a tuple in the order of its class's field list below (one list for
  writing and reading); fields naming other objects hold their keys. Objects are made empty
  and filled from their records when first read (bengal.model, "objects loaded on first
  use"), so rendering one page reads its own record, its section's, its neighbours' -- not
  10,000. The last ordinary build writes the records whose objects changed (their
  fingerprints: every fact but bodies and summaries).
* The store's reverse index (rdeps: page key -> its outputs, "key|body" and "key|summary" ->
  the outputs that read them) names the outputs to render; only the records of what changed
  are read and written again.

The path is taken only when it provably gives what the ordinary build would: the change check
found nothing but content Markdown files with new stamps (no file added or removed, no output
touched, no template, data, static or config change), each edited file has the same front matter
text, body line and first heading (so the same title), the same cross-references and heading
ids, no Markdown warnings before or after, and the page's fingerprints other than its body and
summary are the recorded ones. Anything else -- or anything unexpected on the way, such as a
damaged record -- returns None and the ordinary build runs: before an output is written, or, for
what only rendering shows (a template error or warning), after, with the outputs' stamps taken
again so that the ordinary build renders them again.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bengal import __version__, helpers, incremental, publish, workers
from bengal.errors import ContentError
from bengal.model import MenuItem, Page, Section, Site, Term
from bengal.store import Store, StoreDamaged

if TYPE_CHECKING:
    from bengal.cache import NoopCheck
    from bengal.context import BuildOptions, BuildResult

# At most this many edited files take the fast path (a bigger change is no longer "one edit").
MAX_EDITS = 8


class Fallback(Exception):
    """The fast path cannot be taken; the ordinary build runs."""


class LoadedDamaged(StoreDamaged):
    """Damage to a table the ordinary build loads whole (bengal.incremental.LOADED): reported
    by that load, which rebuilds everything."""


# ---- the recorded model: what a record holds ---------------------------------------------------
#
# One list of field names per class, used both to write a record and to read it back. Fields
# that name other model objects are written as keys (_ENCODE) and read back as lazily loaded
# objects (Model._DECODE); every other field is stored as it is. A new plain field of Page is
# one more name here.

PAGE_FIELDS = (
    "source", "kind", "fm", "body_line", "title", "url", "permalink", "output_path",
    "bundle_dir", "taxonomy", "section", "prev", "next", "terms", "term", "list_pages",
)  # fmt: skip
SECTION_FIELDS = ("path", "title", "parent", "index", "pages", "subsections", "cascade")
TERM_FIELDS = ("taxonomy", "name", "slug", "url", "pages")
SITE_FIELDS = (
    "title", "baseurl", "language", "description", "author", "params", "data", "build_date",
    "home",
)  # fmt: skip


def _key_or_none(p: Page | None) -> str | None:
    return None if p is None else incremental.page_key(p)


def _path_or_none(sec: Section | None) -> str | None:
    return None if sec is None else sec.path


def _menu_item(it: MenuItem) -> tuple[Any, ...]:
    return (
        it.name, it.url, it.weight, it.identifier, it.parent,
        [_menu_item(c) for c in it.children], _key_or_none(it.page),
    )  # fmt: skip


def _plist(pages: list[Page]) -> list[str]:
    return [incremental.page_key(x) for x in pages]


_ENCODE: dict[type, dict[str, Callable[[Any], Any]]] = {
    Page: {
        "section": _path_or_none,
        "prev": _key_or_none,
        "next": _key_or_none,
        "terms": lambda terms: [(t, [x.slug for x in v]) for t, v in terms.items()],
        "term": lambda t: None if t is None else (t.taxonomy, t.slug),
        "list_pages": _plist,
    },
    Section: {
        "parent": _path_or_none,
        "index": _key_or_none,
        "pages": _plist,
        "subsections": lambda subs: [x.path for x in subs],
    },
    Term: {"pages": _plist},
    Site: {"home": _path_or_none},
}
_FIELDS: dict[type, tuple[str, ...]] = {
    Page: PAGE_FIELDS, Section: SECTION_FIELDS, Term: TERM_FIELDS, Site: SITE_FIELDS,
}  # fmt: skip


def record_of(obj: Any) -> tuple[Any, ...]:
    """The model record of a Page, Section, Term or Site (see the field lists)."""
    cls = type(obj)
    enc = _ENCODE[cls]
    return tuple(
        enc[name](getattr(obj, name)) if name in enc else getattr(obj, name)
        for name in _FIELDS[cls]
    )


# ---- the recorded model: writing ----------------------------------------------------------------


def model_items(
    site: Site, xref_added: list[tuple[str, str, str]], facts: dict[str, bytes]
) -> Iterator[tuple[str, bytes, Callable[[], Any]]]:
    """Every object of the assembled model as (key, what its record is made from, a maker of
    its record).

    "What its record is made from" is the fingerprints of the object's own groups (a page's
    meta and nav, a section's or term's meta and list), which cover every field of its record:
    equal ones mean an equal record, so save_model keeps the stored record. b"" for the
    site-wide records: always made."""
    for p in site.pages:
        k = incremental.page_key(p)
        yield k, _made_of(facts, k), functools.partial(record_of, p)
    for path, sec in site.sections.items():
        k = "s:" + path
        yield k, _made_of(facts, k), functools.partial(record_of, sec)
    for tax, by_slug in site.taxonomies.items():
        for slug, t in by_slug.items():
            k = f"t:{tax}/{slug}"
            yield k, _made_of(facts, k), functools.partial(record_of, t)
    pk = incremental.page_key
    site_wide: dict[str, Callable[[], Any]] = {
        "site": functools.partial(record_of, site),
        "site.pages": lambda: _plist(site.pages),
        "site.regular_pages": lambda: _plist(site.regular_pages),
        "site.sections": lambda: list(site.sections),
        "site.page_by_path": lambda: [(k, pk(v)) for k, v in site.page_by_path.items()],
        "site.page_by_output": lambda: [(k, pk(v)) for k, v in site.page_by_output.items()],
        "site.taxonomies": lambda: [(t, list(v)) for t, v in site.taxonomies.items()],
        "site.menus": lambda: [
            (n, [_menu_item(i) for i in items]) for n, items in site.menus.items()
        ],
        "xref.added": lambda: xref_added,
    }
    for k, make in site_wide.items():
        yield k, b"", make


def _made_of(facts: dict[str, bytes], key: str) -> bytes:
    second = "|nav" if key.startswith("p:") else "|list"
    fa, fb = facts.get(key + "|meta"), facts.get(key + second)
    return fa + fb if fa and fb else b""


def model_records(site: Site, xref_added: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Every object of the assembled model as its record (objects named by their keys)."""
    return {k: make() for k, _, make in model_items(site, xref_added, {})}


def model_fingerprint(facts: dict[str, bytes], xref_digest: bytes) -> bytes:
    """What the recorded model is valid for: every fact but bodies and summaries (which it
    does not hold; a page's record comes from its front matter, place and title) and the
    cross-reference index. (A page's body line follows from its front matter text, which its
    meta fact covers.)"""
    h = hashlib.blake2b(digest_size=16)
    h.update(xref_digest)
    for k in sorted(facts):
        if not k.endswith(("|body", "|summary")):
            h.update(k.encode("utf-8", "surrogatepass"))
            h.update(facts[k])
    return h.digest()


def save_model(
    store: Store,
    site: Site | None,
    xref_added: list[tuple[str, str, str]],
    cache: incremental.Cache,
    base: incremental.Cache | None,
) -> int:
    """Write the model table for `site` (inside the build's transaction); returns how many
    records were kept as stored. `base` is the cache the store held (None: written from
    scratch): a record whose fingerprints are the same there is the stored one. `site` None
    (the dev server, which keeps its model in memory) leaves no model."""
    if site is None:
        if base is None or base.model_fp:
            store.clear("model")
        return 0
    old = base.facts if base is not None and base.model_fp else None
    if old is None:
        store.clear("model")
    elif base is not None and base.model_fp == cache.model_fp:
        return sum(1 for k in old if k.endswith("|meta"))  # nothing in the model changed
    puts: list[tuple[str, Any]] = []
    keys: set[str] = set()
    kept = 0
    for k, made_of, make in model_items(site, xref_added, cache.facts):
        keys.add(k)
        if old is not None and made_of and _made_of(old, k) == made_of:
            kept += 1
            continue
        puts.append((k, make()))
    store.put_many("model", puts)
    if old is not None:
        store.delete_many("model", {k[:-5] for k in old if k.endswith("|meta")} - keys)
    return kept


# ---- the recorded model: reading ----------------------------------------------------------------


class Model:
    """The recorded model, objects made on first use (one object per key)."""

    def __init__(self, reads: Reads, base: str, md_apply: Callable[[Page], None] | None = None):
        self.reads = reads
        self.objects: dict[str, Any] = {}
        self._loader = self._fill
        self.base = base  # content directory (body loaders)
        self.md_apply = md_apply  # set by the fast path
        self._home: str | None = None

    def record(self, key: str) -> Any:
        rec = self.reads.get("model", key)
        if rec is None:
            raise StoreDamaged(f"table model: no record {key!r}")
        return rec

    def _lazy(self, cls: type, key: str) -> Any:
        obj = self.objects.get(key)
        if obj is None:
            obj = object.__new__(cls)
            d: dict[str, Any] = obj.__dict__
            d["_lazy"] = self._loader
            d["_key"] = key
            self.objects[key] = obj
        return obj

    def pages(self, keys: list[str]) -> list[Page]:
        """Page objects for `keys` (the inner loop of every list: inlined)."""
        objs = self.objects
        new = object.__new__
        loader = self._loader
        out = []
        for k in keys:
            o = objs.get(k)
            if o is None:
                o = new(Page)
                d = o.__dict__
                d["_lazy"] = loader
                d["_key"] = k
                objs[k] = o
            out.append(o)
        return out

    def page(self, key: str | None) -> Page | None:
        return None if key is None else self._lazy(Page, key)

    def section(self, path: str | None) -> Section | None:
        return None if path is None else self._lazy(Section, "s:" + path)

    def term(self, tax: str, slug: str) -> Term:
        t: Term = self._lazy(Term, f"t:{tax}/{slug}")
        return t

    # The inverse of _ENCODE: field -> (model, stored value) -> object(s).
    _DECODE: dict[type, dict[str, Callable[[Model, Any], Any]]] = {
        Page: {
            "section": lambda m, v: m.section(v),
            "prev": lambda m, v: m.page(v),
            "next": lambda m, v: m.page(v),
            "terms": lambda m, v: {t: [m.term(t, s) for s in slugs] for t, slugs in v},
            "term": lambda m, v: None if v is None else m.term(*v),
            "list_pages": lambda m, v: m.pages(v),
        },
        Section: {
            "parent": lambda m, v: m.section(v),
            "index": lambda m, v: m.page(v),
            "pages": lambda m, v: m.pages(v),
            "subsections": lambda m, v: [m.section(x) for x in v],
        },
        Term: {"pages": lambda m, v: m.pages(v)},
    }

    def _fill(self, obj: Any, name: str) -> bool:
        d = obj.__dict__
        rec = self.record(d.pop("_key"))
        cls = type(obj)
        names = _FIELDS.get(cls)
        if names is None or cls is Site or len(rec) != len(names):
            raise StoreDamaged(f"table model: not a record of a {cls.__name__}")
        d.update(zip(names, rec, strict=True))
        for fname, dec in self._DECODE[cls].items():
            d[fname] = dec(self, d[fname])
        if cls is Page:
            from markupsafe import Markup

            d.update(
                _body=None, _body_loader=None, _content=None, _content_loader=None,
                _md_apply=None, _toc=[], _anchors=[], _images=[], _word_count=0,
                _summary=Markup(""),
            )  # fmt: skip
            if d["source"]:
                from bengal.sources import body_reader

                d["_body_loader"] = body_reader(self.base, d["source"])
                d["_md_apply"] = self.md_apply
        return True

    def site(self) -> Site:
        site = object.__new__(Site)
        rec = self.record("site")
        if len(rec) != len(SITE_FIELDS):
            raise StoreDamaged("table model: not a record of the site")
        fields = dict(zip(SITE_FIELDS, rec, strict=True))
        self._home = fields.pop("home")
        site.__dict__.update(fields, _lazy=self._fill_site)
        return site

    def _menu(self, t: tuple[Any, ...]) -> MenuItem:
        name, url, weight, ident, parent, children, page = t
        return MenuItem(name, url, weight, ident, parent, [self._menu(c) for c in children],
                        self.page(page))  # fmt: skip

    def _fill_site(self, site: Site, name: str) -> bool:
        """One field of the site at a time: site.title must not cost a list of every page."""
        d = site.__dict__
        if name == "home":
            d["home"] = self.section(self._home)
        elif name in ("pages", "regular_pages"):
            d[name] = self.pages(self.record("site." + name))
        elif name == "sections":
            d[name] = {p: self._lazy(Section, "s:" + p) for p in self.record("site.sections")}
        elif name in ("page_by_path", "page_by_output"):
            d[name] = {k: self._lazy(Page, v) for k, v in self.record("site." + name)}
        elif name == "taxonomies":
            d[name] = {t: {s: self.term(t, s) for s in slugs}
                       for t, slugs in self.record("site.taxonomies")}  # fmt: skip
        elif name == "menus":
            d[name] = {n: [self._menu(i) for i in items] for n, items in self.record("site.menus")}
        return all(
            f in d
            for f in ("home", "pages", "regular_pages", "sections", "page_by_path",
                      "page_by_output", "taxonomies", "menus")
        )  # fmt: skip

    def xref_index(self) -> Any:
        import bengal_native

        index = bengal_native.XrefIndex()
        index.add_many(self.record("xref.added"))
        return index


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
    out_dir: Path,
    store: Store,
    state_options: dict[str, Any],
    check: NoopCheck,
    scan_ns: int,
    result: BuildResult,
) -> BuildResult | None:
    """The build, when it is body edits only (see the module); None: take the ordinary build.
    Nothing is written before the decision is made."""
    if opts.clean or opts.skip_noop or opts.prev_cache is not None or opts.keep_warm is not None:
        return None
    state = check.state
    if state is None or check.racy_unknown or check.outputs_seen is None:
        return None
    if check.outputs_seen[1] != state["outputs"][1] or state.get("bad_names") != sorted(
        check.bad_names
    ):
        return None
    before: dict[str, list[int]] = state.get("inputs", {})
    now = check.inputs
    if before.keys() != now.keys():
        return None
    from bengal.discover import MARKDOWN_EXTS

    # (A racy file whose contents changed under unchanged stamps is an edit like any other.)
    changed = sorted({*(k for k, v in now.items() if before[k] != v), *check.racy_changed})
    if not changed or len(changed) > MAX_EDITS:
        return None
    if not all(k.startswith("content/") and k.endswith(MARKDOWN_EXTS) for k in changed):
        return None
    run = _Run(root, config, out_dir, store, state_options, check, scan_ns, result, state)
    try:
        fast = _express(run, [k[len("content/") :] for k in changed])
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
            f"{store.path}: {run.damaged[0]}; the cache is repaired by this build"
        )
    return fast


@dataclass
class _Run:
    """What the fast path works with: the build's settings and the change check's findings."""

    root: Path
    config: Any
    out_dir: Path
    store: Store
    state_options: dict[str, Any]
    check: NoopCheck
    scan_ns: int
    result: BuildResult
    state: dict[str, Any]
    wrote: bool = False  # outputs were written (a fallback must not trust earlier stamps)
    damaged: list[str] = field(default_factory=list)  # cache damage met on the way
    top: incremental.Cache | None = None  # the cache's top-level fields, as stored
    reads: Reads | None = None


def _express(run: _Run, rels: list[str]) -> BuildResult | None:
    root, config, check, scan_ns, state = (
        run.root, run.config, run.check, run.scan_ns, run.state,
    )  # fmt: skip

    t0 = time.perf_counter()
    reads = run.reads = Reads(run.store)
    top = reads.get("meta", "cache")
    key = incremental.config_key(config.source, run.state_options)
    if (
        not isinstance(top, dict)
        or top.get("bengal") != __version__
        or top.get("config_key") != key
        or not top.get("model_fp")
    ):
        return None
    run.top = incremental.Cache.from_top(top)

    # The edited files: same front matter, body line and title; else the ordinary build.
    racy = scan_ns - incremental.RACY_NS
    warned: list[str] = list(state.get("summary", {}).get("warnings", []))
    edits: list[tuple[str, incremental.SourceEntry, str]] = []  # rel, entry (new stat), body
    for rel in rels:
        entry: incremental.SourceEntry | None = reads.get("sources", rel)
        if entry is None or entry.parsed[0] != "ok" or entry.md is None:
            return None
        st = check.inputs["content/" + rel]
        with open(root / "content" / rel, "rb") as f:
            data = f.read()
        stat = (st[0], st[1]) if st[1] == len(data) else (0, -1)
        if stat[0] >= racy:
            stat = (0, -1)  # hashed again next time (see incremental.RACY_NS)
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest == entry.digest:
            reads.put("sources", rel, entry._replace(stat=stat))
            continue
        body = incremental.edited_body(data, rel, entry)
        if body is None:
            return None
        if entry.md.warnings or any(w.startswith(rel + ":") for w in warned):
            # The site's warnings name this file (with lines an edit may move): the ordinary
            # build lists them again.
            return None
        edits.append((rel, entry._replace(stat=stat, digest=digest), body))

    run.result.timings["load cache"] = time.perf_counter() - t0
    model = Model(reads, str(root / "content"))
    site = model.site()
    workers.LAST_BUILD.extend([reads, model, site])
    return _render(run, reads, model, site, edits, t0)


def _render(
    run: _Run,
    reads: Reads,
    model: Model,
    site: Site,
    edits: list[tuple[str, incremental.SourceEntry, str]],
    t0: float,
) -> BuildResult | None:
    root, config, out_dir, check, result, top = (
        run.root, run.config, run.out_dir, run.check, run.result, run.top,
    )  # fmt: skip
    assert top is not None
    state_dir = run.store.path.parent
    import bengal_native
    from bengal import cache
    from bengal.discover import THEME_DIR, SourceTree
    from bengal.render import (
        MarkdownContext,
        MarkdownReport,
        Templates,
        pager_count,
        pager_output_path,
    )

    # The edited bodies render with an index of what the site's index answered for their
    # cross-reference paths (stored with their last rendering): the fast path requires the
    # same cross-references, and the lookups digest below confirms the answers are the same.
    answers: dict[str, list[tuple[str, str, str]]] = {}
    small_index = bengal_native.XrefIndex()
    for rel, _entry, body in edits:
        found = reads.get("answers", rel)
        if found is None:
            return None
        answers[rel] = [tuple(a) for a in found]
        if "[[" in body:
            small_index.add_many(answers[rel])
    ctx = MarkdownContext.of(site, small_index, config, {}, run.store)

    def md_apply(page: Page) -> None:
        entry = reads.get("sources", page.source)
        if entry is None or entry.md is None:
            raise Fallback(f"no rendering cached for {page.source}")
        ctx.apply(entry.md, None, page)

    model.md_apply = md_apply

    # Markdown: the same cross-references and heading ids, and no warnings.
    report = MarkdownReport()
    rendered = ctx.render([body for *_, body in edits])
    todo: list[tuple[str, incremental.SourceEntry, Page]] = []
    for (rel, entry, body), res in zip(edits, rendered, strict=True):
        f, html = ctx.facts(res)
        old = entry.md
        assert old is not None
        if f.warnings or [x[:3] for x in f.xrefs] != [x[:3] for x in old.xrefs]:
            return None
        if [t[1] for t in f.toc] != [t[1] for t in old.toc]:
            return None  # pages linking to its headings would be checked again
        if f.lookups != old.lookups:
            return None
        page = model.page("p:" + rel)
        assert page is not None
        if page.source != rel:
            return None
        page._body = body
        page._body_loader = None
        ctx.attach(page, f, html, report)
        todo.append((rel, entry._replace(md=f), page))
    if report.warnings or report.broken:
        return None
    result.timings["markdown"] = time.perf_counter() - t0 - result.timings["load cache"]

    # Fingerprints: only body and summary may differ from the recorded ones.
    t1 = time.perf_counter()
    paths: dict[str, str] = {}  # output -> why
    changed_keys: set[str] = set()
    for rel, entry, page in todo:
        pkey = "p:" + rel
        new = incremental.page_facts(page, pkey, incremental.body_hash(entry), entry.fm_digest)
        for k, v in new.items():
            old = reads.get("facts", k)
            if old == v:
                continue
            if not k.endswith(("|body", "|summary")):
                return None
            changed_keys.add(k)
            reads.put("facts", k, v)
        if any(k.startswith(pkey + "|") for k in changed_keys):
            for p in reads.get("rdeps", pkey) or ():
                paths.setdefault(p, "page body changed")
    for k in sorted(changed_keys):
        if k.endswith("|summary"):
            return None  # feeds and the search index show summaries: the ordinary build
        for p in reads.get("rdeps", k) or ():
            paths.setdefault(p, f"reads {k.replace('|', ' ')}, which changed")

    # The outputs to render, as (page, pager number); their old records.
    per_page = int(config.pagination["per_page"])
    jobs: list[tuple[Page, int]] = []
    old_records: dict[str, incremental.OutputRecord] = {}
    for path in sorted(paths):
        rec = reads.get("outputs", path)
        # (Local-asset findings for it would be said again by the ordinary build.)
        if rec is None or rec.warnings or top.asset_warnings.get(path):
            return None
        old_records[path] = rec
        page = model.page(rec.page)
        assert page is not None
        n = next(
            (n for n in range(1, pager_count(page, per_page) + 1)
             if pager_output_path(page, n) == path),
            None,
        )  # fmt: skip
        if n is None:
            return None
        jobs.append((page, n))
    result.timings["plan"] = time.perf_counter() - t1

    # Everything checked: from here on outputs and caches change.
    t2 = time.perf_counter()
    tree = SourceTree(
        root=root, assets=sorted(k[7:] for k in check.inputs if k.startswith("assets/"))
    )
    plan = helpers.plan_assets(root, tree, bool(config.build["fingerprint_assets"]))
    # ref() in templates: the recorded index, replayed on first use
    ref = helpers.ref_helper(functools.cache(model.xref_index))
    asset_url = helpers.asset_url_helper(plan, site.baseurl)
    templates = Templates(root, site, config, state_dir / "jinja", ref, asset_url)
    cache.clear_state(run.store)
    run.wrote = True
    workers.FORK_STATE.clear()
    workers.FORK_STATE.update(jobs=jobs, out_dir=out_dir, templates_factory=lambda: templates)
    publish.begin_writing(run.store, state_dir, out_dir)
    try:
        shard = workers.run_chunks(1, None)[0]
    finally:
        workers.FORK_STATE.clear()
    result.timings["render+write"] = time.perf_counter() - t2
    rendered_ok = dict(shard.records)
    if shard.errors or shard.warnings or len(rendered_ok) != len(jobs):
        return None  # the ordinary build renders these again and reports what failed
    if any(rec.warnings for rec in rendered_ok.values()):
        return None
    found = publish.check_local_assets(
        [(p, r.assets) for p, r in sorted(rendered_ok.items()) if r.assets], out_dir, site
    )
    if any(found.values()):
        return None

    # The caches: sources, facts, records, reverse index, output stamps; then the state -- in
    # one transaction.
    t3 = time.perf_counter()
    for rel, entry, _page in todo:
        reads.put("sources", rel, entry)
        reads.put("answers", rel, answers[rel])
    search_dirs = [d for d in (root / "templates", THEME_DIR / "templates") if d.is_dir()]
    for path, rec in rendered_ok.items():
        was = old_records[path]
        reads.put("outputs", path, rec)
        for name in rec.templates:
            if name not in top.templates:
                top.templates[name] = incremental.template_digest(name, search_dirs)
        for d in was.deps - rec.deps:
            if d.endswith(incremental.RDEP_GROUPS):
                kept = tuple(x for x in reads.get("rdeps", d) or () if x != path)
                reads.put("rdeps", d, kept or None)
        for d in rec.deps - was.deps:
            if d.endswith(incremental.RDEP_GROUPS):
                reads.put("rdeps", d, tuple(sorted({*(reads.get("rdeps", d) or ()), path})))
    stamps = cache.stat_outputs(out_dir, sorted(rendered_ok))
    for path in rendered_ok:
        st = stamps.get(path)
        reads.put("out_stats", path, None if st is None else (st[0], st[1]))
    assert check.outputs_seen is not None
    joined, packed = check.outputs_seen
    outputs_now = (joined, cache.patch_stamps(joined, packed, stamps))
    summary = run.state.get("summary", {})
    store = run.store
    with store.transaction():
        reads.save()
        # (The edited pages' new renderings; the ones they replace are removed by the next
        # ordinary build, which keeps only the renderings some source uses.)
        store.write_html(None)
        store.put("meta", "cache", top.top())
        cache.save_state(
            store, run.state_options, summary, check.inputs, outputs_now,
            racy_ns=run.scan_ns - incremental.RACY_NS, bad_names=check.bad_names,
            digest_of=incremental.content_digests(lambda rel: reads.get("sources", rel)),
        )  # fmt: skip
        publish.end_writing(store)
    store.written()
    result.timings["save cache"] = time.perf_counter() - t3

    result.incremental = True
    result.express = True
    result.workers = 1
    result.pages = int(summary.get("pages", 0))
    result.files = int(summary.get("files", 0))
    # (The configuration's and the scan's warnings are in the summary too: said once.)
    said = set(result.warnings)
    result.warnings.extend(w for w in summary.get("warnings", []) if w not in said)
    result.rendered = len(rendered_ok)
    result.reused = result.pages - result.rendered
    result.written, result.skipped_identical = shard.written, shard.skipped
    result.markdown_rendered = len(todo)
    result.files_read = len(todo)
    result.changes = {rel: "body" for rel, *_ in todo}
    result.explain_outputs = dict(sorted(paths.items()))
    return result
