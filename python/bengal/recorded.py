"""The recorded site model: one record per page, section and term, plus the site's own fields,
in the store's model table -- what lets a build that changes little render from the model the
last build assembled instead of assembling the site again (bengal.express).

    assembled Site (the last ordinary build) -> model records (save_model)
    model records -> Page, Section, Term and Site objects made on first use (Model)

A record is a tuple in the order of its class's field list below (one list for writing and
reading); fields naming other objects hold their keys. Objects are made empty and filled from
their records when first read (bengal.model, "objects loaded on first use"), so rendering one
page reads its own record, its section's, its neighbours' -- not 10,000. The ordinary build
writes the records whose objects changed (their fingerprints: every fact but bodies and
summaries).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from bengal import incremental
from bengal.model import MenuItem, Page, Section, Site, Term
from bengal.outputs import Entry, entries_of
from bengal.store import Store, StoreDamaged


class Reader(Protocol):
    def get(self, kind: str, key: str) -> Any: ...


@dataclass
class Xrefs:
    """The cross-reference index as assembled: its entries (what XrefIndex.add_many took) and
    its ambiguous keys (folded key -> the sources answering to it)."""

    added: list[tuple[str, str, str]]
    ambiguous: dict[str, list[str]]
    # where its content paths end and its stems-and-slugs and titles tiers begin
    tiers: tuple[int, int, int] = (0, 0, 0)


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


def key_of(p: Page) -> str:
    """A page's key, without loading a page made from its record (Model keeps the key until
    then): writing a record of a list must not load every page in it."""
    k: str | None = p.__dict__.get("_key")
    return k if k is not None else incremental.page_key(p)


def _key_or_none(p: Page | None) -> str | None:
    return None if p is None else key_of(p)


def _path_or_none(sec: Section | None) -> str | None:
    return None if sec is None else sec.path


def _menu_item(it: MenuItem) -> tuple[Any, ...]:
    return (
        it.name, it.url, it.weight, it.identifier, it.parent,
        [_menu_item(c) for c in it.children], _key_or_none(it.page),
    )  # fmt: skip


def _plist(pages: list[Page]) -> list[str]:
    return [key_of(x) for x in pages]


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
    site: Site, xrefs: Xrefs, facts: dict[str, bytes]
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
        # (The Markdown stage's page_at: the last page with a URL.)
        "site.page_by_url": lambda: [(p.url, pk(p)) for p in site.pages],
        "xref.added": lambda: xrefs.added,
        "xref.ambiguous": lambda: sorted(xrefs.ambiguous.items()),
        "xref.tiers": lambda: xrefs.tiers,
    }
    for k, make in site_wide.items():
        yield k, b"", make


def _made_of(facts: dict[str, bytes], key: str) -> bytes:
    second = "|nav" if key.startswith("p:") else "|list"
    fa, fb = facts.get(key + "|meta"), facts.get(key + second)
    return fa + fb if fa and fb else b""


def model_records(site: Site, xrefs: Xrefs) -> dict[str, Any]:
    """Every object of the assembled model as its record (objects named by their keys)."""
    return {k: make() for k, _, make in model_items(site, xrefs, {})}


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
    xrefs: Xrefs,
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
    for k, made_of, make in model_items(site, xrefs, cache.facts):
        keys.add(k)
        if old is not None and made_of and _made_of(old, k) == made_of:
            kept += 1
            continue
        puts.append((k, make()))
    store.put_many("model", puts)
    if old is not None:
        store.delete_many("model", {k[:-5] for k in old if k.endswith("|meta")} - keys)
    return kept


# ---- the site-wide entries ----------------------------------------------------------------------


def load_entries(store: Store) -> dict[str, Entry]:
    """The entries table: page key -> Entry (bengal.outputs registers its record type)."""
    entries: dict[str, Entry] = store.read_all("entries")
    return entries


def save_entries(
    store: Store,
    site: Site | None,
    entries: dict[str, Entry] | None,
    fresh: bool,
    delta: dict[str, Entry | None] | None = None,
) -> None:
    """Bring the entries table up to date (inside the build's transaction). `entries`: every
    page's, as this build made them (None: this build made no site-wide file -- nothing they
    show changed -- so the stored ones stand, unless there are none); `delta`: what changed in
    them since the stored ones (None: written whole). `site` None: the dev server's build,
    which keeps them in memory and records no model: none are left. `fresh`: the table holds
    nothing of the last build."""
    if site is None:
        store.clear("entries")
        return
    if delta is not None and not fresh:
        store.put_many("entries", [(k, e) for k, e in delta.items() if e is not None])
        store.delete_many("entries", [k for k, e in delta.items() if e is None])
        return
    if entries is None:
        if not fresh and store.keys_exist("entries"):
            return
        entries = entries_of(site)
    store.clear("entries")
    store.put_many("entries", list(entries.items()))


# ---- the recorded model: reading ----------------------------------------------------------------


class Model:
    """The recorded model, objects made on first use (one object per key)."""

    def __init__(self, reads: Reader, base: str, md_apply: Callable[[Page], None] | None = None):
        self.reads = reads
        self.objects: dict[str, Any] = {}
        self._loader = self._fill
        self.base = base  # content directory (body loaders)
        self.md_apply = md_apply  # set by the fast path
        self._home: str | None = None
        self._by_url: dict[str, str] | None = None
        self._index: Any = None
        self._ambiguous: dict[str, list[str]] | None = None

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
        """The recorded cross-reference index, made on first use (once per model: ref() in
        templates and the Markdown context of body edits share it)."""
        if self._index is None:
            import bengal_native

            self._index = bengal_native.XrefIndex()
            self._index.add_many(self.record("xref.added"))
        return self._index

    def ambiguous(self) -> dict[str, list[str]]:
        if self._ambiguous is None:
            self._ambiguous = dict(self.record("xref.ambiguous"))
        return self._ambiguous

    def page_at(self, url: str) -> Page | None:
        """The page with this URL (the last one, as the Markdown stage's lookup)."""
        by_url = self._by_url
        if by_url is None:
            by_url = self._by_url = dict(self.record("site.page_by_url"))
        return self.page(by_url.get(url))
