"""Incremental builds: the cache kept in the store (bengal.store) and the decision what to
rebuild.

The contract is that an incremental build writes exactly what a clean build would. It is kept
by recording, not by guessing:

* Sources. Every Markdown file's (mtime_ns, size, content digest), its parsed front matter (or
  the error it gave) and its rendered Markdown's facts (the HTML's digest, TOC, anchors, words,
  summary, warnings, cross-references; not the HTML, which an unchanged page renders again if an
  output shows it). A file whose stat changed is read and hashed; equal digests mean unchanged.
  Unchanged pages are restored without reading their files; their body is read, and their HTML
  rendered again, when first used. Directory mtimes are never used as a shortcut: editing a
  file in place does not change its directory's mtime (shared/NOTES.md), so every file is stat()ed.
* Cross-references. A cached rendering stays valid only while every [[target]] it contains
  resolves to the same (URL, title) in the new cross-reference index.
* Reads. While a template renders an output, the Jinja2 environment records every attribute it
  reads from a Page, Section, Term, Site or menu item, as "object key | group" (a page's groups
  are "meta", "body" and "summary"), plus every template it loads or tries, and every call of
  ref() and asset_url() with its result. After the site model is assembled, every object's
  groups are fingerprinted; an output is rendered again when a group it read changed, a
  template it used changed (or a template it looked for appeared), a helper call now answers
  differently, its own page changed, it is new, or its file is missing or was modified.
* Configuration, build options and the bengal version are part of the cache key: a change means
  a full build, which says so.

The store checks every record it reads: a damaged or foreign database is answered with a
warning and a full build.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from bengal import __version__
from bengal.model import MenuItem, Page, Section, Site, Term
from bengal.store import RECORDS, Store, StoreDamaged

# Files modified this close to a build's scan are re-hashed by the next build (see save()).
RACY_NS = 100_000_000


# ---- what is cached per source and per output ------------------------------------------------


class MdFacts(NamedTuple):
    """A page's Markdown rendering, minus its HTML (`html_hash` is its digest: what the outputs
    that show it compare; the HTML is rendered again when needed). Cache records are named
    tuples: immutable, so an entry kept from the last build stays the very object that was
    loaded (save() relies on that)."""

    html_hash: bytes
    h1_cut: int  # len("<h1...</h1>\n") when the HTML opens with an h1, else -1
    toc: list[tuple[int, str, str]]
    images: list[str]
    words: int
    first_paragraph: str  # its first words, as summaries show them (render.first_words)
    more_full: str | None  # plain text before <!--more--> (None: no marker)
    more_cut: str | None  # the same with the opening h1 removed
    warnings: list[tuple[int, str]]
    xrefs: list[tuple[str, bool, str, int]]  # target, resolved, url, line
    # Digest of XrefIndex.lookup() of every xref path when rendered (None: no index lookups)
    lookups: bytes | None


class SourceEntry(NamedTuple):
    stat: tuple[int, int]  # mtime_ns, size
    digest: bytes
    parsed: tuple[Any, ...]  # ("ok", raw front matter, body line) | ("err", reason, line)
    heading: str | None = None
    md: MdFacts | None = None
    fm_digest: bytes = b""  # of the front matter's text (its parsed form is `parsed`)


class OutputRecord(NamedTuple):
    page: str  # key of the page it shows
    templates: tuple[str, ...]
    deps: frozenset[str]  # "key|group" read while rendering
    calls: tuple[tuple[str, str, str], ...]  # (helper, argument, result)
    assets: list[tuple[str, bool]]
    warnings: tuple[str, ...]


def _source_plain(e: SourceEntry) -> tuple[Any, ...]:
    return (*e[:4], None if e.md is None else tuple(e.md), e.fm_digest)


def _source_entry(t: tuple[Any, ...]) -> SourceEntry:
    stat, digest, parsed, heading, md, fm_digest = t
    return SourceEntry(stat, digest, parsed, heading, None if md is None else MdFacts._make(md),
                       fm_digest)  # fmt: skip


def _output_plain(r: OutputRecord) -> tuple[Any, ...]:
    # (A tuple, not the frozenset: marshal sorts a set's members to store it.)
    return (r.page, r.templates, tuple(r.deps), r.calls, r.assets, r.warnings)


def _output_record(t: tuple[Any, ...]) -> OutputRecord:
    page, templates, deps, calls, assets, warnings = t
    return OutputRecord(page, templates, frozenset(deps), calls, assets, warnings)


# How the store keeps these records: as plain tuples (bengal.store.RECORDS).
RECORDS["sources"] = (_source_plain, _source_entry)
RECORDS["outputs"] = (_output_plain, _output_record)

# The maps of a Cache that are tables of their own in the store, loaded whole by a build.
LOADED = ("sources", "outputs", "facts", "out_stats", "tax_pages", "tax_terms")
# Entries kept from the last build are the same objects (changed ones are new objects)
BY_IDENTITY = ("sources", "outputs", "tax_pages", "tax_terms")


@dataclass
class Cache:
    config_key: str
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    facts: dict[str, bytes] = field(default_factory=dict)  # "key|group" -> fingerprint
    outputs: dict[str, OutputRecord] = field(default_factory=dict)  # HTML outputs
    templates: dict[str, bytes | None] = field(default_factory=dict)  # name -> file digest
    manifest: list[str] = field(default_factory=list)  # every file the build put in the output
    out_stats: dict[str, tuple[int, int]] = field(default_factory=dict)
    sitewide: list[str] = field(default_factory=list)
    xref_digest: bytes = b""  # the cross-reference index every cached rendering is valid for
    asset_warnings: dict[str, list[str]] = field(default_factory=dict)  # output -> findings
    # What the recorded site model (the store's model table, bengal.express) is valid for;
    # b"" when there is none.
    model_fp: bytes = b""
    # The taxonomy index (bengal.taxonomy): page source -> what it contributes, and
    # "plural\0term" -> its pages' sources in list order.
    tax_pages: dict[str, Any] = field(default_factory=dict)
    tax_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    bengal: str = __version__
    # Not stored: the LOADED maps as the store holds them (shallow copies), so that save()
    # writes only the records a build changed.
    stored: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def top(self) -> dict[str, Any]:
        """The fields stored in the meta table (the maps are tables of their own)."""
        d = {k: v for k, v in self.__dict__.items() if k not in LOADED and k != "stored"}
        d["manifest"] = "\0".join(self.manifest)
        return d

    @classmethod
    def from_top(cls, d: dict[str, Any]) -> Cache:
        d = dict(d)
        joined = d.get("manifest", "")
        d["manifest"] = joined.split("\0") if isinstance(joined, str) and joined else []
        return cls(**d)


def config_key(config_source: bytes, options: dict[str, Any]) -> str:
    """The cache key: the bytes of bengal.toml the build's configuration was parsed from (not
    the file read again: an edit in between would file this build's output under the new
    configuration), the build options and bengal's version."""
    h = hashlib.blake2b(digest_size=16)
    h.update(config_source)
    h.update(repr(sorted(options.items())).encode())  # includes bengal.cache.code_key()
    h.update(__version__.encode())
    return h.hexdigest()


# The reverse index of `outputs` (the store's rdeps table, never held whole in a Cache): page
# key -> its outputs, and "key|group" -> the outputs that read it, for the groups an edit the
# fast path takes can change (bodies, summaries; what delta assembly changes: a page's meta and
# nav, a section's or term's list, the site's lists of pages and terms -- not a section's or
# term's meta, which nearly every output reads: 9 of the 21 MB such an index takes at 10k
# pages). The fast path (bengal.express) reads the few entries it needs instead of every record.
RDEP_GROUPS = (
    "|body", "|summary", "|nav", "|list", "|regular_pages", "|pages", "|taxonomies",
    "|page_by_output", "|page_by_path",
)  # fmt: skip


def filed(dep: str, _memo: dict[str, bool] = {}) -> bool:  # noqa: B006 (a cache)
    """Whether the reverse index files the outputs that read `dep` (asked ~30 times per output:
    remembered per key). A pager's fingerprint is never read: its page's outputs show it."""
    hit = _memo.get(dep)
    if hit is None:
        hit = _memo[dep] = dep.endswith(RDEP_GROUPS) or (
            dep.startswith("p:") and (dep.endswith("|meta") or "|pager" in dep)
        )
    return hit


def group_name(fact: str) -> str:
    """ "p:x|pager3" -> "nav" (a pager's slice of its list); "p:x|meta" -> "meta"."""
    g = fact.rpartition("|")[2]
    return "nav" if g.startswith("pager") else g


def load(store: Store, key: str) -> tuple[Cache | None, str, str]:
    """(cache or None, why not usable, warning to show). A missing cache is no warning."""
    try:
        top = store.get("meta", "cache")
    except StoreDamaged as exc:
        return None, "cache damaged", f"{store.path}: {exc}; rebuilding everything"
    if top is None:
        return None, "no build cache", ""
    # A cache written by another bengal may have another shape: only its list of written files
    # is used (to remove stale outputs), read defensively.
    if not isinstance(top, dict):
        return None, "cache damaged", f"{store.path}: unexpected contents; rebuilding everything"
    why = ""
    if top.get("bengal") != __version__:
        why = f"bengal version changed ({top.get('bengal', '?')} -> {__version__})"
    elif top.get("config_key") != key:
        why = "configuration, build options or bengal itself changed"
    if why:
        joined = top.get("manifest")
        manifest = joined.split("\0") if isinstance(joined, str) and joined else []
        return Cache(config_key="", manifest=manifest), why, ""
    try:
        cache = Cache.from_top(top)
        for kind in LOADED:
            loaded = store.read_all(kind)
            setattr(cache, kind, loaded)
            cache.stored[kind] = dict(loaded)
    except StoreDamaged as exc:
        return None, "cache damaged", f"{store.path}: {exc}; rebuilding everything"
    except (KeyError, TypeError, AttributeError):
        return None, "cache damaged", f"{store.path}: unexpected contents; rebuilding everything"
    return cache, "", ""


def save(store: Store, cache: Cache, previous: Cache | None, index: Any = None) -> None:
    """Write `cache` into the store (inside the caller's transaction). Only what differs from
    `previous` -- the cache the store held, as loaded or as last saved -- is written: a record
    kept from the last build is the very object loaded (BY_IDENTITY) or an equal value. With no
    `previous`, every table is written from scratch. `index` (the cross-reference index) gives
    the stored answers of renderings made by this build (xref_answers)."""
    stored = previous.stored if previous is not None else {}
    fresh = previous is None or not stored
    if fresh:
        for kind in (*LOADED, "rdeps", *SOURCE_INDEXES, "answers"):
            store.clear(kind)
    _save_reverse_index(store, cache, stored.get("outputs") if not fresh else None)
    _save_source_indexes(store, cache, stored.get("sources") if not fresh else None)
    _save_answers(store, cache, stored.get("sources") if not fresh else None, index)
    for kind in LOADED:
        now: dict[str, Any] = getattr(cache, kind)
        old: dict[str, Any] = {} if fresh else stored.get(kind, {})
        if kind in BY_IDENTITY:
            changed = [(k, v) for k, v in now.items() if old.get(k) is not v]
        else:
            changed = [(k, v) for k, v in now.items() if old.get(k, _ABSENT) != v]
        store.put_many(kind, changed)
        store.delete_many(kind, [k for k in old if k not in now])
    store.put("meta", "cache", cache.top())


def saved(cache: Cache) -> None:
    """`cache` is what the store holds now (after the commit of save()): a later save in this
    process (the dev server's) writes only what changed since."""
    cache.stored = {kind: dict(getattr(cache, kind)) for kind in LOADED}


_ABSENT = object()


def template_key(name: str) -> str:
    """The reverse index's key for the outputs that used a template."""
    return "tpl:" + name


# The reverse index's keys of the outputs whose templates called ref(argument): "ref:" + it.
REF_KEY = "ref:"


def contributions(rec: OutputRecord) -> list[str]:
    """The rdeps keys an output is filed under: its page, the bodies and summaries it read,
    the templates it used ("tpl:" + name), the ref() calls they made (REF_KEY + argument:
    what they answer changes with the cross-reference index: bengal.delta)."""
    return [
        rec.page,
        *[d for d in rec.deps if filed(d)],
        *[template_key(t) for t in rec.templates],
        *[REF_KEY + arg for name, arg, _ in rec.calls if name == "ref"],
    ]


def _save_reverse_index(
    store: Store, cache: Cache, old_outputs: dict[str, OutputRecord] | None
) -> None:
    """The rdeps table for cache.outputs: updated where records changed since `old_outputs`
    (only the keys they contribute to are read and written), or made from scratch."""
    outputs = cache.outputs
    if old_outputs is None:
        rows: dict[str, list[str]] = {}
        for path, rec in outputs.items():
            for k in contributions(rec):
                hit = rows.get(k)
                if hit is None:
                    rows[k] = [path]
                else:
                    hit.append(path)
        store.put_many("rdeps", [(k, tuple(sorted(v))) for k, v in rows.items()])
        return
    adds: dict[str, set[str]] = {}
    drops: dict[str, set[str]] = {}
    for path, rec in outputs.items():
        was = old_outputs.get(path)
        if was is rec:
            continue
        now = set(contributions(rec))
        before = set(contributions(was)) if was is not None else set()
        for k in now - before:
            adds.setdefault(k, set()).add(path)
        for k in before - now:
            drops.setdefault(k, set()).add(path)
    for path, was in old_outputs.items():
        if path not in outputs:
            for k in contributions(was):
                drops.setdefault(k, set()).add(path)
    _update_sets(store, "rdeps", adds, drops)


def anchor_targets(xrefs: list[tuple[str, bool, str, int]]) -> set[str]:
    """URLs of the pages whose headings these cross-references name (url#anchor)."""
    return {
        url.partition("#")[0]
        for _, resolved, url, _ in xrefs
        if resolved and "#" in url and not url.startswith("#")
    }


def _anchor_links(entry: SourceEntry | None) -> set[str]:
    return anchor_targets(entry.md.xrefs) if entry is not None and entry.md is not None else set()


def xref_paths(md: MdFacts) -> set[str]:
    """The paths a rendering's cross-references looked up ([[path#anchor]] -> path)."""
    return {x[0].split("#", 1)[0] for x in md.xrefs} - {""}


# The xref_users key of the sources without a recorded rendering (one found damaged: the next
# build renders it again): their [[paths]] are not known, so they count as using every one.
UNRENDERED = "\0unrendered"


def xref_keys(entry: SourceEntry | None) -> set[str]:
    """What a source is filed under in xref_users: the [[paths]] its rendering looked up."""
    if entry is None or entry.parsed[0] != "ok":
        return set()
    return xref_paths(entry.md) if entry.md is not None else {UNRENDERED}


# Tables that index the sources by what their renderings link to: table -> what a source
# files itself under. linkers: page URL -> the sources linking to its headings (whose warnings
# a body edit that renames a heading checks again); xref_users: [[path]] -> the sources using
# it (rendered again when what the index answers for it changes: bengal.delta).
SOURCE_INDEXES: dict[str, Callable[[SourceEntry | None], set[str]]] = {
    "linkers": _anchor_links,
    "xref_users": xref_keys,
}


def _save_source_indexes(
    store: Store, cache: Cache, old_sources: dict[str, SourceEntry] | None
) -> None:
    """The SOURCE_INDEXES tables, updated for the sources whose entries changed since
    `old_sources`, or made from scratch."""
    for table, of in SOURCE_INDEXES.items():
        if old_sources is None:
            rows: dict[str, list[str]] = {}
            for rel, entry in cache.sources.items():
                for k in of(entry):
                    rows.setdefault(k, []).append(rel)
            store.put_many(table, [(u, tuple(sorted(v))) for u, v in rows.items()])
            continue
        adds: dict[str, set[str]] = {}
        drops: dict[str, set[str]] = {}
        for rel, entry in cache.sources.items():
            was = old_sources.get(rel)
            if was is entry:
                continue
            now, before = of(entry), of(was)
            for k in now - before:
                adds.setdefault(k, set()).add(rel)
            for k in before - now:
                drops.setdefault(k, set()).add(rel)
        for rel, was in old_sources.items():
            if rel not in cache.sources:
                for k in of(was):
                    drops.setdefault(k, set()).add(rel)
        _update_sets(store, table, adds, drops)


def _update_sets(
    store: Store, table: str, adds: dict[str, set[str]], drops: dict[str, set[str]]
) -> None:
    """Records that are sorted tuples of names: `adds` and `drops` applied per key (a record
    left empty is removed)."""
    keys = sorted({*adds, *drops})
    current = store.get_many(table, keys)
    puts = []
    gone = []
    for k in keys:
        v = set(current.get(k, ())) - drops.get(k, set()) | adds.get(k, set())
        if v:
            puts.append((k, tuple(sorted(v))))
        else:
            gone.append(k)
    store.put_many(table, puts)
    store.delete_many(table, gone)


def _save_answers(
    store: Store, cache: Cache, old_sources: dict[str, SourceEntry] | None, index: Any
) -> None:
    """The answers table: for each rendering this build made, what the cross-reference index
    answers for its paths (the fast path renders an edited body with just those). One kept from
    the last build keeps its answers -- the Markdown stage keeps a rendering only while its
    lookups digest is the same under the new index, so its answers are too."""
    puts = []
    for rel, entry in cache.sources.items():
        md = entry.md
        if md is None:
            continue
        was = old_sources.get(rel) if old_sources is not None else None
        if was is not None and was.md is md:
            continue
        puts.append((rel, xref_answers(index, md) if md.xrefs and index is not None else []))
    store.put_many("answers", puts)
    if old_sources is not None:
        store.delete_many(
            "answers",
            [
                r
                for r, e in old_sources.items()
                if e.md is not None and ((now := cache.sources.get(r)) is None or now.md is None)
            ],
        )


def write_pending(store: Store, paths: list[str]) -> None:
    """Outputs a build is about to create for the first time, recorded (committed) before it
    writes them: a build killed meanwhile leaves them to the next, which removes any that turn
    out stale."""
    if paths:
        with store.transaction():
            store.put_many("pending", [(p, b"") for p in paths])


def read_pending(store: Store) -> set[str]:
    try:
        return {p for p in store.keys("pending") if ".." not in p.split("/")}
    except StoreDamaged:
        return set()


def clear_pending(store: Store) -> None:
    """(Inside the build's final transaction.)"""
    store.clear("pending")


def asset_map(outputs: dict[str, OutputRecord]) -> Any:
    """The asset dependency map (page -> local assets it references, asset -> pages), made
    from the outputs' records (the store's outputs table holds each page's references)."""
    import bengal_native

    amap = bengal_native.AssetDependencyMap()
    for path, rec in sorted(outputs.items()):
        local = [url for url, external in rec.assets if not external]
        if local:
            amap.set_page_assets(path, local)
    return amap


def xref_answers(index: Any, md: MdFacts) -> list[tuple[str, str, str]]:
    """What `index` answers for each cross-reference path of a rendering (the ones it finds)."""
    out = []
    for path in sorted({x[0].split("#", 1)[0] for x in md.xrefs} - {""}):
        hit = index.lookup(path)
        if hit is not None:
            out.append((path, str(hit[0]), str(hit[1])))
    return out


# ---- keys and fingerprints ------------------------------------------------------------------

BODY_ATTRS = frozenset(
    {"content", "toc", "show_toc", "word_count", "reading_time", "anchors", "images", "body"}
)
# A page's place among others: changes when a neighbour or a listed page is added or removed.
NAV_ATTRS = frozenset({"prev", "next", "list_pages", "ancestors"})
# A section's members (the rest of a section -- title, url, parent, cascade -- is "meta").
SECTION_LIST_ATTRS = frozenset({"pages", "walk_pages"})  # its pages (and those below it)
# ... and its subsections, which change only when sections come or go ("|subs")
# A term's members; its name and URL (what every tagged page shows) are "meta".
TERM_LIST_ATTRS = frozenset({"pages", "count"})
PAGE_GROUPS = ("|meta", "|nav", "|body", "|summary")


def page_key(p: Page) -> str:
    return "p:" + p.source if p.source else "p:@" + p.output_path


def obj_key(obj: Any) -> str | None:
    cls = type(obj)
    if cls is Page:
        return page_key(obj)
    if cls is Section:
        return "s:" + str(obj.path)
    if cls is Term:
        return f"t:{obj.taxonomy}/{obj.slug}"
    return None


SITE_GROUPS = {
    "pages": "pages",
    "regular_pages": "regular_pages",
    "sections": "sections",
    "home": "sections",
    "taxonomies": "taxonomies",
    "menus": "menus",
    "data": "data",
    "page_by_path": "page_by_path",
    "get_page": "page_by_path",
    "page_by_output": "page_by_output",
    "build_date": "build_date",
}


def dep_of(obj: Any, attr: str) -> str | None:
    """The "key|group" a template reading `obj.attr` depends on (None: not a model object)."""
    cls = type(obj)
    if cls is Page:
        if attr in BODY_ATTRS:
            group = "body"
        elif attr in NAV_ATTRS:
            group = "nav"
        else:
            group = "summary" if attr == "summary" else "meta"
        return page_key(obj) + "|" + group
    if cls is Section:
        if attr == "subsections":
            return "s:" + str(obj.path) + "|subs"
        return "s:" + str(obj.path) + ("|list" if attr in SECTION_LIST_ATTRS else "|meta")
    if cls is Term:
        return f"t:{obj.taxonomy}/{obj.slug}" + ("|list" if attr in TERM_LIST_ATTRS else "|meta")
    if cls is Site:
        return "site|" + SITE_GROUPS.get(attr, "config")
    if cls is MenuItem:
        return "site|menus"
    return None


def _k(obj: Any) -> Any:
    """A value with model objects replaced by their keys, for a stable repr."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    key = obj_key(obj)
    if key is not None:
        return key
    if isinstance(obj, (list, tuple)):
        return [_k(x) for x in obj]
    if isinstance(obj, dict):
        return [(str(k), _k(v)) for k, v in obj.items()]
    if isinstance(obj, MenuItem):
        return (obj.name, obj.url, obj.weight, obj.identifier, obj.parent, _k(obj.children),
                _k(obj.page))  # fmt: skip
    return repr(obj)


def _fp(value: Any) -> bytes:
    return hashlib.blake2b(repr(value).encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _fpb(data: str) -> bytes:
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def edited_body(data: bytes, rel: str, entry: SourceEntry) -> str | None:
    """The new Markdown body of content file `rel`, when the edit that gave it the bytes `data`
    changed nothing but the body: the same front matter text and body line, and the same first
    heading when the title comes from it. None for any other change, or for a file that no
    longer decodes or splits (the ordinary build says what is wrong). Used by the fast paths
    for body edits (the dev server's WarmBuilder and bengal.express)."""
    from bengal.assemble import first_heading
    from bengal.errors import ContentError
    from bengal.frontmatter import split_raw

    try:
        text = data.decode("utf-8")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        parser, raw_fm, body, body_line = split_raw(text, rel)
    except (UnicodeDecodeError, ContentError):
        return None
    fm_digest = hashlib.blake2b(
        f"{parser}\0{raw_fm}".encode("utf-8", "surrogatepass"), digest_size=16
    ).digest()
    if fm_digest != entry.fm_digest or body_line != entry.parsed[2]:
        return None
    if entry.heading is not None and (first_heading(body) or "") != entry.heading:
        return None  # the title comes from the first heading, and that changed
    return body


def body_hash(entry: SourceEntry) -> bytes:
    """What a page's "body" group is fingerprinted from: its rendering's HTML and the file's own
    bytes (templates can show the Markdown itself, page.body, which an edit can change without
    changing the HTML: `*x*` -> `_x_`)."""
    return (entry.md.html_hash if entry.md is not None else b"") + entry.digest


def page_facts(
    p: Page,
    key: str,
    md_hash: bytes,
    fm_digest: bytes,
    cascade: Callable[[Section], str] | None = None,
    pk: Callable[[Page | None], str] | None = None,
    into: dict[str, bytes] | None = None,
    plist: Callable[[list[Page]], str] | None = None,
    per_page: int = 0,
) -> dict[str, bytes]:
    """The fingerprints of one page's groups (see site_facts), added to `into` if given; with
    `per_page`, a list page's pagers' too (pager_facts)."""
    if cascade is None:
        cascade = _cascade_repr
    if pk is None:
        pk = _key_or_none
    if plist is None:
        plist = _plist
    sec = p.section
    terms = p.terms
    term = p.term
    if p.source:
        # An _index.md inherits its parent section's cascade; other pages their section's.
        owner = sec.parent if p.kind in ("home", "section") and sec is not None else sec
        fm = fm_digest.hex() + (cascade(owner) if owner else "")
    else:
        fm = repr(vars(p.fm))  # generated pages: a default FrontMatter
    meta = "\0".join(
        (
            p.source,
            p.kind,
            p.title,
            p.url,
            p.permalink,
            p.output_path,
            "\x01" if sec is None else sec.path,
            "\x01" if p.bundle_dir is None else p.bundle_dir,
            ";".join(t + ":" + ",".join([x.slug for x in v]) for t, v in terms.items())
            if terms
            else "",
            "\x01" if term is None else term.taxonomy + "/" + term.slug,
            p.taxonomy,
            fm,
        )  # fmt: skip
    )
    nav = "\0".join(
        (
            pk(p.prev),
            pk(p.next),
            plist(p.list_pages),
            "/".join([a.path for a in p.ancestors]),
        )
    )
    # toc, anchors, words and images come from the same rendering as the HTML; the title
    # decides whether an opening "# title" is dropped.
    out = {} if into is None else into
    out[key + "|meta"] = _fpb(meta)
    out[key + "|nav"] = _fpb(nav)
    out[key + "|body"] = _fpb(md_hash.hex() + "\0" + p.title + ("\0t" if p.fm.toc else "\0"))
    out[key + "|summary"] = _fpb(str(p.summary))
    if per_page > 0 and p.kind in LIST_KINDS:
        pager_facts(p, key, per_page, plist, out)
    return out


# Pages whose outputs are paginated lists (bengal.render.paginator_for).
LIST_KINDS = frozenset({"home", "section", "term"})


def pagers(items: int, per_page: int) -> int:
    """How many pagers a list of `items` pages has (one at least)."""
    return max(1, -(-items // per_page))


def pager_output_path(page: Page, number: int) -> str:
    """The output of pager `number` of a list page ("blog/page/2/index.html")."""
    if number == 1:
        return page.output_path
    base = page.output_path
    if base.endswith("index.html"):
        base = base[: -len("index.html")]
    else:  # ugly URLs: /section.html -> /section/page/2/
        base = base.rsplit(".", 1)[0] + "/"
    return f"{base}page/{number}/index.html"


def pager_facts(
    p: Page, key: str, per_page: int, plist: Callable[[list[Page]], str], into: dict[str, bytes]
) -> None:
    """ "key|pagerN": what pager N of a list page shows of its list without reading it (the
    paginator is made outside the recording): its slice, the number of pagers and of items.
    A pager's output is rendered again when its own slice changed, not the whole list."""
    items = p.list_pages
    total = pagers(len(items), per_page)
    head = f"{total}\0{len(items)}\0"
    for n in range(1, total + 1):
        into[f"{key}|pager{n}"] = _fpb(head + plist(items[(n - 1) * per_page : n * per_page]))


def own_groups(pkey: str, n: int, listed: bool) -> tuple[str, ...]:
    """The fingerprints an output shows of its own page (pager `n` of it) without recording a
    read: its meta, its place (a list page's pager: its slice), body and summary."""
    nav = f"{pkey}|pager{n}" if listed else pkey + "|nav"
    return (pkey + "|meta", nav, pkey + "|body", pkey + "|summary")


def _plist(pages: list[Page]) -> str:
    return "\0".join([page_key(x) for x in pages])


def _cascade_repr(sec: Section) -> str:
    return repr(sec.cascade)


def _key_or_none(p: Page | None) -> str:
    return "\x01" if p is None else page_key(p)


def site_facts(
    site: Site,
    md_hashes: dict[str, bytes],
    digests: dict[str, bytes],
    only: set[str] | None = None,
    per_page: int = 0,
) -> dict[str, bytes]:
    """Fingerprint of every group of every object templates can read. Runs over the whole site
    on every incremental build, so pages are fingerprinted from strings joined in C rather than
    from reprs: a page's front matter as (its text's digest, the cascade it inherits) -- the
    inputs `normalise` makes it from (the configuration is part of the cache key) -- and its
    Markdown as the digest of its HTML.

    `only` (content paths): just those pages' groups and the site's data -- for a build whose
    content changes are all body-only, where nothing else can differ (see build.py)."""
    facts: dict[str, bytes] = {}
    # Keys and cascades are made once for the whole site -- or, for `only`, on demand (the dev
    # server fingerprints one page per save: no O(site) work).
    keys: dict[int, str] = {} if only is not None else {id(p): page_key(p) for p in site.pages}
    cascades: dict[str, str] = {}

    def cascade(sec: Section) -> str:
        c = cascades.get(sec.path)
        if c is None:
            c = cascades[sec.path] = repr(sec.cascade)
        return c

    def pk(p: Page | None) -> str:
        return "\x01" if p is None else keys.get(id(p)) or page_key(p)

    def plist(pages: list[Page]) -> str:
        return "\0".join([keys.get(id(x)) or page_key(x) for x in pages])

    for p in site.pages:
        if only is not None and p.source not in only:
            continue
        key = keys.get(id(p)) or page_key(p)
        page_facts(
            p, key, md_hashes.get(key, b""), digests.get(p.source, b""), cascade, pk, facts, plist,
            per_page,
        )  # fmt: skip
    if only is not None:
        facts["site|data"] = _fp(_k(site.data))
        return facts
    # Sections, deepest first: the fingerprint of a section's members includes its subsections'
    # (a Merkle tree), so it changes whenever membership anywhere below changes -- which is
    # what walk_pages() shows. Title, URL and cascade are separate ("meta": breadcrumbs).
    list_fp: dict[str, bytes] = {}
    for path, sec in sorted(site.sections.items(), key=lambda kv: -kv[1].depth):
        parent = None if sec.parent is None else sec.parent.path
        sec_meta = (sec.title, sec.url, parent, pk(sec.index), repr(sec.cascade))
        facts["s:" + path + "|meta"] = _fp(sec_meta)
        members = (plist(sec.pages), [(x.path, list_fp.get(x.path)) for x in sec.subsections])
        list_fp[path] = f = _fp(members)
        facts["s:" + path + "|list"] = f
        facts["s:" + path + "|subs"] = _fp([x.path for x in sec.subsections])
    for tax, by_slug in site.taxonomies.items():
        for slug, t in by_slug.items():
            facts[f"t:{tax}/{slug}|meta"] = _fp((t.name, t.url))
            facts[f"t:{tax}/{slug}|list"] = _fp(plist(t.pages))
    facts["site|pages"] = _fp(plist(site.pages))
    facts["site|regular_pages"] = _fp(plist(site.regular_pages))
    facts["site|sections"] = _fp((sorted(site.sections), _k(site.home)))
    facts["site|taxonomies"] = _fp([(t, sorted(v)) for t, v in site.taxonomies.items()])
    facts["site|menus"] = _fp(_k(site.menus))
    facts["site|data"] = _fp(_k(site.data))
    facts["site|page_by_path"] = _fp(sorted((k, page_key(v)) for k, v in site.page_by_path.items()))
    facts["site|page_by_output"] = _fp(sorted(site.page_by_output))
    facts["site|build_date"] = _fp(site.build_date)
    facts["site|config"] = b""  # configuration is part of the cache key
    return facts


def template_digest(name: str, search: list[Path]) -> bytes | None:
    """Digest of the file a template name resolves to (first search directory wins)."""
    for d in search:
        try:
            data = (d / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        return hashlib.blake2b(str(d).encode() + b"\0" + data, digest_size=16).digest()
    return None


# ---- the decision ---------------------------------------------------------------------------


@dataclass
class Plan:
    """Which HTML outputs to render, and why (for --explain)."""

    render: dict[str, str] = field(default_factory=dict)  # output path -> reason
    changed_deps: set[str] = field(default_factory=set)
    changed_templates: set[str] = field(default_factory=set)
    sources: dict[str, str] = field(default_factory=dict)  # content path -> change class


def plan_outputs(
    cache: Cache,
    jobs: list[tuple[str, str]],  # (output path, page key)
    facts: dict[str, bytes],
    template_now: dict[str, bytes | None],
    call_now: dict[tuple[str, str], str],
    out_stats: dict[str, list[int]],
    pagers: dict[str, int] | None = None,  # output path -> its pager number, when not 1
) -> Plan:
    plan = Plan()
    old = cache.facts
    changed = {k for k, v in facts.items() if old.get(k) != v}
    changed.update(k for k in old if k not in facts)
    plan.changed_deps = changed
    plan.changed_templates = {
        n for n, d in template_now.items() if cache.templates.get(n, b"?") != d
    }
    pagers = pagers or {}
    for path, pkey in jobs:
        rec = cache.outputs.get(path)
        if rec is None:
            plan.render[path] = "new output"
            continue
        recorded = cache.out_stats.get(path)
        now = out_stats.get(path)
        if now is None:
            plan.render[path] = "output file missing"
            continue
        if recorded is None or tuple(now) != tuple(recorded):
            plan.render[path] = "output file modified"
            continue
        own = own_groups(pkey, pagers.get(path, 1), pkey + "|pager1" in facts)
        why = next((g for g in own if g in changed), None)
        if why is not None:
            plan.render[path] = f"page {group_name(why)} changed"
            continue
        hit = next((t for t in rec.templates if t in plan.changed_templates), None)
        if hit is not None:
            plan.render[path] = f"template {hit} changed"
            continue
        if not changed.isdisjoint(rec.deps):
            dep = min(changed.intersection(rec.deps))
            plan.render[path] = f"reads {dep.replace('|', ' ')}, which changed"
            continue
        for name, arg, result in rec.calls:
            if call_now.get((name, arg)) != result:
                plan.render[path] = f"{name}({arg!r}) changed"
                break
    return plan


def lookups_digest(index: Any, xrefs: list[tuple[str, bool, str, int]]) -> bytes | None:
    """What every [[target]] of a page resolves to in `index`, as one digest."""
    hits = []
    for target, _resolved, _url, _line in xrefs:
        path = target.split("#", 1)[0]
        if path:
            hits.append((path, index.lookup(path)))
    return _fp(hits) if hits else None


def content_digests(
    get: Callable[[str], SourceEntry | None],
) -> Callable[[str], bytes | None]:
    """For cache.save_state: the digest of the contents a build used for an input key
    ("content/a.md": the source entry's), None for any other input."""

    def digest_of(key: str) -> bytes | None:
        if not key.startswith("content/"):
            return None
        entry = get(key[len("content/") :])
        return entry.digest if entry is not None else None

    return digest_of
