"""Delta assembly: a front matter edit of a regular page applied to the assembled site model in
time proportional to what it touches -- the command line's recorded model and the dev server's
model in memory alike (both through bengal.edits.Records).

    a page's new front matter + the last build's records
        -> read_meta: the edit (new front matter, title, source entry)
        -> apply: the page updated; its place in its section (neighbours, the section page's
           list), in the site's date order (the home page's list) and in its terms' lists;
           the cross-reference index patched for a new title
        -> Delta: the objects touched and the records to write (bengal.edits takes the touched
           objects' fingerprints again and renders what read the ones that changed)

What this path takes: an edit of the title, date, lastmod, weight, description, summary,
taxonomy terms or other params of a regular page (not an _index.md), with the same draft
state, slug, url, aliases, id, type, template, toc and cascade, and no menu entries (they show
its title and weight); terms that keep their names (a term is named as its first page writes
it) -- new terms and terms left without pages too -- in a taxonomy whose terms share no URL
slug when a term's first page changes; a date that leaves the site's build date as it was;
term pages that keep their number of pagers. Anything else raises Fallback and the ordinary
build assembles the site.

The orders are the assembler's (bengal.assemble.sort_key and date_key: unique keys, so a list
sorted but for one page is put right by taking it out and bisecting it back in); the taxonomy
index's member lists keep the site's date order (bengal.taxonomy). The cross-reference index
is a function of its list of entries: the page's entries are changed in place (the title tier
is the last) and the index made again from the list, as the assembler would make it; the
ambiguity of the old and the new title is decided again from the tiers (the assembler's rule:
titles over stems and slugs).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bengal import incremental
from bengal.assemble import (
    base_path_of,
    date_key,
    first_heading,
    page_rel_url,
    page_title,
    section_rel_url,
    set_url,
    sort_key,
    term_page,
    urlize,
    with_cascade,
)
from bengal.errors import ContentError
from bengal.frontmatter import FrontMatter, normalise, split_raw
from bengal.frontmatter import parse as parse_front_matter
from bengal.model import Page, Section, Term
from bengal.recorded import Xrefs, key_of
from bengal.taxonomy import SEP, contribution

if TYPE_CHECKING:
    from bengal.model import Site

# Front matter fields an edit on this path may change (the rest decide URLs, drafts, menus,
# the index's ids and what is cascaded: those take the ordinary build).
MAY_CHANGE = frozenset(
    {"title", "date", "lastmod", "weight", "description", "summary", "terms", "params", "raw"}
)


# Front matter fields that move a page (its URL, whether it is one): an edit of them takes the
# page out of the site and puts it back as a new page (remove, then add).
MOVES = frozenset({"slug", "url", "draft"})


class Fallback(Exception):
    """Not an edit delta assembly takes (bengal.edits.Fallback is this class)."""


class ModelRecords(Protocol):
    """The last build's model as delta assembly reads it (bengal.edits.Records is one)."""

    site: Site
    warnings: list[str]  # the site's warnings as the last build reported them
    per_page: int  # list pages' pagination

    def source(self, rel: str) -> incremental.SourceEntry | None: ...
    def page(self, rel: str) -> Page | None: ...  # the page made from a source
    def page_at(self, url: str) -> Page | None: ...
    def fact(self, key: str) -> bytes | None: ...
    # The taxonomy index's records, the cross-reference index's entries, which [[paths]]
    # sources use, the files the last build put in the output.
    def tax_page(self, rel: str) -> Any: ...
    def tax_term(self, key: str) -> tuple[str, ...] | None: ...
    def xrefs(self) -> Xrefs: ...
    def xref_user_paths(self) -> Iterable[str]: ...
    def xref_users(self, path: str) -> Iterable[str]: ...
    def ref_args(self) -> Iterable[str]: ...  # what templates called ref() with
    def in_manifest(self, path: str) -> bool: ...

    pretty_urls: bool  # the configuration's (a new page's URL) ...
    drafts: bool  # ... and whether drafts are built
    menu_refs: list[str]  # the pages the configuration's menus name (cross-reference keys)

    # A page placed in the site or taken out: the lookups by source and URL answer so.
    def placed(self, page: Page) -> None: ...
    def unplaced(self, page: Page) -> None: ...


@dataclass
class Meta:
    """A front matter edit as read: what the page becomes."""

    fm: FrontMatter
    title: str
    body_line: int
    moves: bool = False  # a field of MOVES changed: the page is removed and added again


@dataclass
class Delta:
    """What the edits touched (already changed on the model objects) and the records of the
    store that change with them (written by bengal.edits.finish)."""

    pages: dict[str, Page] = field(default_factory=dict)  # key -> page whose meta/nav may differ
    sections: dict[str, Section] = field(default_factory=dict)  # path -> order changed
    terms: dict[str, Term] = field(default_factory=dict)  # key -> members changed
    regular_pages: bool = False  # the site's date order changed
    tax_pages: dict[str, Any] = field(default_factory=dict)
    tax_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    xrefs: Xrefs | None = None  # the cross-reference index's entries, when they changed
    was: Xrefs | None = None  # ... and as they were
    index: Any = None  # the index made from them
    rerender: set[str] = field(default_factory=set)  # sources whose [[links]] now differ
    refs: set[str] = field(default_factory=set)  # ref() arguments that may answer otherwise
    new_outputs: dict[str, Page] = field(default_factory=dict)  # output path -> its new page
    gone: dict[str, Page] = field(default_factory=dict)  # key -> a page that is no more
    # key -> a page taken out and put back as a new page under the same key (its source moved:
    # a new slug, say): its outputs go, the new page's come
    moved: dict[str, Page] = field(default_factory=dict)
    gone_terms: dict[str, Term] = field(default_factory=dict)  # key -> a term that is no more
    new_pagers: dict[str, tuple[Page, int]] = field(default_factory=dict)  # path -> (page, n)
    gone_pagers: dict[str, tuple[str, int]] = field(default_factory=dict)  # path -> (key, n)
    site_lists: bool = False  # the site's pages, their outputs and its terms changed
    by_path: bool = False  # ... and its pages by source
    removed_sources: list[str] = field(default_factory=list)  # content files gone ...
    removed_pages: list[tuple[Page, Any]] = field(default_factory=list)  # ... their renderings


def _loaded(obj: Any, name: str) -> Any:
    """`obj` whole before it is changed (a recorded object fills itself on first read and
    would overwrite what was set before)."""
    getattr(obj, name)
    return obj


def _parse(
    data: bytes, rel: str, cascade: dict[str, Any], taxonomies: dict[str, str]
) -> tuple[FrontMatter, dict[str, Any], str, int, bytes]:
    """Content file `rel` as the parse stage and the assembler read it: (front matter, raw
    front matter, body, body line, digest of the front matter's text); Fallback when it does not
    decode or parse (the ordinary build says what is wrong)."""
    try:
        text = data.decode("utf-8")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        parser, raw_fm, body, body_line = split_raw(text, rel)
        raw = parse_front_matter(raw_fm, parser, rel) if parser else {}
        fm = normalise(with_cascade(raw, cascade), rel, taxonomies)
    except (UnicodeDecodeError, ContentError):
        raise Fallback(f"content/{rel}: its front matter does not parse") from None
    fm_digest = hashlib.blake2b(
        f"{parser}\0{raw_fm}".encode("utf-8", "surrogatepass"), digest_size=16
    ).digest()
    return fm, raw, body, body_line, fm_digest


def read_meta(
    data: bytes,
    rel: str,
    entry: incremental.SourceEntry,
    page: Page,
    site_title: str,
    taxonomies: dict[str, str],
) -> tuple[Meta, incremental.SourceEntry, str]:
    """The edit of content file `rel` whose bytes are now `data`, if this path takes it (see
    the module); with the source entry the ordinary build would record for it (stamp and
    digest the caller's) and the body."""
    _loaded(page, "source")
    if page.kind != "page" or rel.rpartition("/")[2].startswith("_index."):
        raise Fallback(f"content/{rel} is a section page")
    section = page.section
    assert section is not None
    fm, raw, body, body_line, fm_digest = _parse(data, rel, section.cascade, taxonomies)
    old = page.fm
    changed = {name for name, value in vars(fm).items() if getattr(old, name) != value}
    fixed = sorted(changed - MAY_CHANGE - MOVES)
    if fixed:
        raise Fallback(f"content/{rel}: {fixed[0]} changed")
    if old.menu:
        raise Fallback(f"content/{rel}: its menu entries show its title and weight")
    heading = "" if fm.title else (first_heading(body) or "")
    title = page_title(fm, lambda: heading, rel, site_title)
    if old.aliases and title != page.title:
        raise Fallback(f"content/{rel}: its aliases' redirect pages show its title")
    new = entry._replace(
        parsed=("ok", raw, body_line), heading=None if fm.title else heading, fm_digest=fm_digest
    )
    return Meta(fm, title, body_line, bool(changed & MOVES)), new, body


def read_new(
    data: bytes, rel: str, stamp: tuple[int, int], digest: bytes, records: ModelRecords,
    taxonomies: dict[str, str],
) -> tuple[Page | None, incremental.SourceEntry, str]:  # fmt: skip
    """A new content file `rel` (bytes `data`) as the page it makes, not yet placed in the
    site (add does that), if this path takes it: a regular page in a section that exists (see
    the module) -- None for a draft the site does not build; with its source entry and body."""
    site = records.site
    d, _, name = rel.rpartition("/")
    stem = name.rsplit(".", 1)[0]
    if stem in ("_index", "index"):
        raise Fallback(f"content/{rel} makes a section or a leaf bundle")
    section = site.sections.get(d)  # (a directory inside a leaf bundle is no section)
    if section is None:
        raise Fallback(f"content/{rel} is not in a section the last build had")
    fm, raw, body, body_line, fm_digest = _parse(data, rel, section.cascade, taxonomies)
    heading = "" if fm.title else (first_heading(body) or "")
    entry = incremental.SourceEntry(
        stamp, digest, ("ok", raw, body_line), None if fm.title else heading, None, fm_digest
    )
    if fm.draft and not records.drafts:
        return None, entry._replace(heading=None), body  # (a source, no page)
    for what, value in (("aliases", fm.aliases), ("menu", fm.menu), ("id", fm.id)):
        if value:
            raise Fallback(f"content/{rel}: a new page with {what}")
    page = Page(source=rel, kind="page", fm=fm, _body=body, body_line=body_line)
    page.section = section
    page.title = page_title(fm, lambda: heading, rel, site.title)
    rel_url = page_rel_url(page, d, stem, section_rel_url, records.pretty_urls)
    set_url(page, rel_url, base_path_of(site.baseurl), site.baseurl)
    return page, entry, body


def apply(records: ModelRecords, page: Page, meta: Meta, delta: Delta) -> None:
    """Change `page` as `meta` says, and everything its place decides (see the module)."""
    site = records.site
    old_fm, old_title = page.fm, page.title
    _check_build_date(site.build_date, old_fm, meta.fm, page.source)
    if meta.title != old_title:
        _retitle(records, page, old_title, meta.title, delta)
    was_sort, was_date = sort_key(page), date_key(page)
    page.fm, page.title, page.body_line = meta.fm, meta.title, meta.body_line
    delta.pages[key_of(page)] = page
    if sort_key(page) != was_sort:
        _reorder_section(page, delta)
    if date_key(page) != was_date:
        new = _moved(site.regular_pages, page, date_key)
        if new is not None:
            site.regular_pages = new
            home = site.home
            assert home is not None and home.index is not None
            _loaded(home.index, "source").list_pages = new
            delta.pages[key_of(home.index)] = home.index
            delta.regular_pages = True
    _reterm(records, page, delta)


def add(records: ModelRecords, page: Page, delta: Delta) -> None:
    """A new page (read_new) placed in the site: in its section's order and the site's date
    order, its terms, the site's lists of pages and the cross-reference index."""
    site = records.site
    rel = page.source
    if records.page_at(page.url) is not None or records.in_manifest(page.output_path):
        raise Fallback(f"content/{rel}: {page.output_path} is another page's or file's")
    _check_build_date(site.build_date, None, page.fm, rel)
    key = key_of(page)
    sec = page.section
    assert sec is not None
    _loaded(sec, "path")
    new = list(sec.pages)
    j = bisect.bisect_left(new, sort_key(page), key=sort_key)
    new.insert(j, page)
    _join(new[j - 1] if j > 0 else None, page, delta)
    _join(page, new[j + 1] if j + 1 < len(new) else None, delta)
    _relist(records, sec, new, delta)
    regular = list(site.regular_pages)
    bisect.insort(regular, page, key=date_key)
    _set_regular(records, regular, delta)
    pages = site.pages
    j = bisect.bisect_left(pages, page.output_path, key=lambda p: p.output_path)
    site.pages = [*pages[:j], page, *pages[j:]]
    # (In the assembler's order: content pages by source, then generated ones.)
    items = list(site.page_by_output.items())
    k = next((n for n, (_, v) in enumerate(items) if _after(key_of(v), rel)), len(items))
    site.page_by_output = dict([*items[:k], (page.output_path, page), *items[k:]])
    site.page_by_path = dict(sorted({**site.page_by_path, rel: page}.items()))
    records.placed(page)
    delta.pages[key] = page
    if key in delta.gone:
        delta.moved[key] = delta.gone.pop(key)
    delta.new_outputs[page.output_path] = page
    delta.site_lists = delta.by_path = True
    _reterm(records, page, delta, was=(None, ()))
    _index_page(records, page, delta, adding=True)


def remove(records: ModelRecords, page: Page, delta: Delta) -> None:
    """A page whose file is gone taken out of the site: its section's and the site's lists,
    its terms, the cross-reference index; its outputs are removed (bengal.edits)."""
    site = records.site
    rel = page.source
    _loaded(page, "source")
    if page.kind != "page" or page.bundle_dir is not None:
        raise Fallback(f"content/{rel} is a section page or a leaf bundle")
    for what, value in (("aliases", page.fm.aliases), ("menu entries", page.fm.menu),
                        ("an id", page.fm.id)):  # fmt: skip
        if value:
            raise Fallback(f"content/{rel}: a page with {what} goes")
    _check_build_date(site.build_date, page.fm, None, rel)
    key = key_of(page)
    sec = page.section
    assert sec is not None
    _loaded(sec, "path")
    rest = [p for p in sec.pages if p is not page]
    if not rest and not sec.subsections and not (sec.index and sec.index.source):
        raise Fallback(f"content/{rel}: its section may go with it")
    _join(page.prev, page.next, delta)
    _relist(records, sec, rest, delta)
    _set_regular(records, [p for p in site.regular_pages if p is not page], delta)
    site.pages = [p for p in site.pages if p is not page]
    site.page_by_output = {k: v for k, v in site.page_by_output.items() if v is not page}
    site.page_by_path = {k: v for k, v in site.page_by_path.items() if k != rel}
    _reterm(records, page, delta, now=(None, ()))
    _index_page(records, page, delta, adding=False)
    records.unplaced(page)
    delta.pages.pop(key, None)
    delta.gone[key] = page
    delta.removed_sources.append(rel)
    delta.site_lists = delta.by_path = True


def _after(key: str, rel: str) -> bool:
    """Whether a page with this key comes after the content page `rel` in the assembler's
    order of page_by_output (content pages by source, then generated ones)."""
    return key.startswith("p:@") or key[2:] > rel


def _relist(records: ModelRecords, sec: Section, pages: list[Page], delta: Delta) -> None:
    """A section's pages are now `pages` (its list page's too, of the same number of pagers)."""
    if sec.path and sec.index is not None:
        index = _loaded(sec.index, "source")
        _repage(records, index, len(sec.pages), len(pages), delta)
        index.list_pages = pages
        delta.pages[key_of(index)] = index
    sec.pages = pages
    s: Section | None = sec
    while s is not None:  # a section's list fingerprint covers its subsections'
        delta.sections[s.path] = s
        s = s.parent


def _set_regular(records: ModelRecords, pages: list[Page], delta: Delta) -> None:
    """The site's regular pages (in date order) are now `pages`: the home page lists them."""
    site = records.site
    home = site.home
    assert home is not None and home.index is not None
    index = _loaded(home.index, "source")
    _repage(records, index, len(site.regular_pages), len(pages), delta)
    site.regular_pages = index.list_pages = pages
    delta.pages[key_of(index)] = index
    delta.regular_pages = True


def _repage(records: ModelRecords, page: Page, before: int, now: int, delta: Delta) -> None:
    """A list page's list goes from `before` pages to `now`: the pagers it gains are new
    outputs, those it loses go."""
    per_page = records.per_page
    was, new = incremental.pagers(before, per_page), incremental.pagers(now, per_page)
    key = key_of(page)
    for n in range(was + 1, new + 1):
        path = incremental.pager_output_path(page, n)
        if delta.gone_pagers.pop(path, None) is not None:
            continue  # (it went with an edit before, and comes back)
        if records.in_manifest(path) or path in delta.new_outputs:
            raise Fallback(f"{path}, a new pager, is another page's or file's")
        delta.new_pagers[path] = (page, n)
    for n in range(new + 1, was + 1):
        path = incremental.pager_output_path(page, n)
        if delta.new_pagers.pop(path, None) is None:
            delta.gone_pagers[path] = (key, n)


def _check_build_date(
    build_date: Any, old: FrontMatter | None, new: FrontMatter | None, rel: str
) -> None:
    """The site's build date is its newest page date: an edit may move a date below it only
    (a page added or removed has no date before or after)."""
    was = old.lastmod or old.date if old is not None else None
    now = new.lastmod or new.date if new is not None else None
    if was == now:
        return
    try:
        if build_date is None or any(d is not None and d >= build_date for d in (was, now)):
            raise Fallback(f"content/{rel}: the site's build date may change")
    except TypeError:
        raise Fallback(f"content/{rel}: dates that do not compare") from None


def _moved(pages: list[Page], page: Page, key: Callable[[Page], Any]) -> list[Page] | None:
    """`pages` (sorted by `key` but for `page`, which it holds) sorted again; None when `page`
    keeps its place."""
    i = next(n for n, x in enumerate(pages) if x is page)
    rest = pages[:i] + pages[i + 1 :]
    j = bisect.bisect_left(rest, key(page), key=key)
    if j == i:
        return None
    rest.insert(j, page)
    return rest


def _reorder_section(page: Page, delta: Delta) -> None:
    sec = page.section
    assert sec is not None
    _loaded(sec, "path")
    new = _moved(sec.pages, page, sort_key)
    if new is None:
        return
    # Out of its old place (its neighbours join), into the new one.
    _join(page.prev, page.next, delta)
    j = next(n for n, x in enumerate(new) if x is page)
    _join(new[j - 1] if j > 0 else None, page, delta)
    _join(page, new[j + 1] if j + 1 < len(new) else None, delta)
    sec.pages = new
    if sec.path and sec.index is not None:
        _loaded(sec.index, "source").list_pages = new
        delta.pages[key_of(sec.index)] = sec.index
    s: Section | None = sec
    while s is not None:  # a section's list fingerprint covers its subsections'
        delta.sections[s.path] = s
        s = s.parent


def _join(a: Page | None, b: Page | None, delta: Delta) -> None:
    """`a` just before `b` in their section (None: the section's end)."""
    if a is not None:
        _loaded(a, "source").next = b
        delta.pages[key_of(a)] = a
    if b is not None:
        _loaded(b, "source").prev = a
        delta.pages[key_of(b)] = b


def _reterm(
    records: ModelRecords, page: Page, delta: Delta, was: Any = None, now: Any = None
) -> None:
    """The taxonomy index and the terms' lists (bengal.taxonomy, bengal.assemble). `was`: the
    page's contribution to the index before (None: as recorded); `now`: after (None: as its
    fields say; an empty one for a page that goes, whose record is then deleted)."""
    site = records.site
    rel = page.source
    plurals = list(site.taxonomies)
    date = page.fm.date
    sig = (date.timestamp() if date else None, page.title, page.fm.terms)
    old = was or delta.tax_pages.get(rel) or records.tax_page(rel)
    if old is None:
        raise Fallback(f"content/{rel} is not in the taxonomy index")
    if old[0] == sig and now is None:
        return
    new = now or contribution(sig, plurals)
    keys_now = [(pl, k) for pl, names in new[1] for k, _ in names]
    keys = dict.fromkeys([*[(pl, k) for pl, names in old[1] for k, _ in names], *keys_now])
    found: dict[tuple[str, str], Term] = {}
    for plural, terms in page.terms.items():
        for t in terms:
            found[(plural, t.name.casefold())] = t
    every: dict[str, dict[str, Term]] = {}  # plural -> key -> term (all of them: costly)

    def all_terms(plural: str) -> dict[str, Term]:
        if plural not in every:
            every[plural] = {t.name.casefold(): t for t in site.taxonomies[plural].values()}
        return every[plural]

    def term_of(plural: str, key: str) -> Term | None:
        """The term (its slug is its name's, unless names clashed: then every term is read)."""
        hit = found.get((plural, key))
        if hit is None:
            guess = site.taxonomies[plural].get(urlize(_spelling(new, plural, key) or key))
            if guess is not None and guess.name.casefold() == key:
                hit = guess
            else:
                hit = all_terms(plural).get(key)
            if hit is not None:
                found[(plural, key)] = hit
        return hit

    for plural, key in keys:
        full = plural + SEP + key
        members = delta.tax_terms[full] if full in delta.tax_terms else records.tax_term(full) or ()
        rest = [s for s in members if s != rel]
        if (plural, key) in keys_now:
            j = bisect.bisect_left(rest, date_key(page), key=lambda s: date_key(_page(records, s)))
            rest.insert(j, rel)
        delta.tax_terms[full] = tuple(rest)
        if not members:
            if (plural, key) not in keys_now:
                raise Fallback(f"content/{rel}: the taxonomy index does not list its terms")
            found[(plural, key)] = _new_term(
                records, page, plural, _spelling(new, plural, key) or key, delta
            )
            continue
        term = term_of(plural, key)
        if term is None:
            raise Fallback(f"content/{rel}: no term {key!r}")
        if not rest:
            _drop_term(records, term, rel, delta)
            continue
        if rel in (members[0], rest[0]):
            # A term is named as its first page writes it, and terms take their URL slugs in
            # the order of their first pages (bengal.taxonomy.TaxonomyIndex.named).
            first = new if rest[0] == rel else delta.tax_pages.get(rest[0])
            if _spelling(first or records.tax_page(rest[0]), plural, key) != term.name:
                raise Fallback(f"content/{rel}: the name of {plural} '{term.name}' changes")
            _no_slug_clashes(records, rel)
        _loaded(term, "slug").pages = [_page(records, s) for s in rest]
        delta.terms[f"t:{plural}/{term.slug}"] = term
        tp = _term_page(records, term)
        _repage(records, tp, len(tp.list_pages), len(rest), delta)
        tp.list_pages = term.pages
        delta.pages[key_of(tp)] = tp
    delta.tax_pages[rel] = new if now is None else None
    page.terms = {pl: [found[(pl, k)] for k, _ in names] for pl, names in new[1]}


def _no_slug_clashes(records: ModelRecords, rel: str) -> None:
    """Terms take their URL slugs in the order of their first pages: with no two names sharing
    a slug (the assembler warns of each such pair), that order decides nothing."""
    if any("share the URL slug" in w for w in records.warnings):
        raise Fallback(f"content/{rel}: terms share URL slugs; their order may change")


def _term_page(records: ModelRecords, term: Term) -> Page:
    tp = records.page_at(term.url)
    if tp is None or _loaded(tp, "source").term is not term:
        raise Fallback(f"the page of {term.taxonomy} '{term.name}' is not in the records")
    return tp


def _new_term(records: ModelRecords, page: Page, plural: str, name: str, delta: Delta) -> Term:
    """A term the edited page is the first to name: the term, its page (a new output) and the
    site's lists of both."""
    site = records.site
    _no_slug_clashes(records, page.source)
    slug = urlize(name)
    terms = site.taxonomies[plural]
    if slug in terms:
        raise Fallback(f"content/{page.source}: {plural} '{name}' takes a slug in use")
    term = Term(taxonomy=plural, name=name, slug=slug, pages=[page])
    tp = term_page(term, base_path_of(site.baseurl), site.baseurl)
    if records.page_at(tp.url) is not None or records.in_manifest(tp.output_path):
        raise Fallback(f"content/{page.source}: {tp.output_path} is another page's or file's")
    if incremental.pagers(len(tp.list_pages), records.per_page) != 1:
        raise Fallback("a new term page with several pagers")
    now = site.taxonomies[plural] = dict(sorted({**terms, slug: term}.items()))
    pages = site.pages
    j = bisect.bisect_left(pages, tp.output_path, key=lambda p: p.output_path)
    site.pages = [*pages[:j], tp, *pages[j:]]
    # (In the assembler's order: after the term before it, or the taxonomy's own page.)
    slugs = list(now)
    at = slugs.index(slug)
    after = f"{urlize(plural)}/" + (f"{slugs[at - 1]}/index.html" if at else "index.html")
    items = list(site.page_by_output.items())
    k = next((n + 1 for n, (path, _) in enumerate(items) if path == after), len(items))
    site.page_by_output = dict([*items[:k], (tp.output_path, tp), *items[k:]])
    key = key_of(tp)
    delta.pages[key] = tp
    delta.terms[f"t:{plural}/{slug}"] = term
    delta.new_outputs[tp.output_path] = tp
    delta.site_lists = True
    return term


def _drop_term(records: ModelRecords, term: Term, rel: str, delta: Delta) -> None:
    """A term its last page (`rel`) left: the term, its page and output gone."""
    site = records.site
    _no_slug_clashes(records, rel)
    tp = _term_page(records, term)
    if incremental.pagers(len(tp.list_pages), records.per_page) != 1:
        raise Fallback("a term page with several pagers goes")
    site.taxonomies[term.taxonomy] = {
        s: t for s, t in site.taxonomies[term.taxonomy].items() if t is not term
    }
    site.pages = [p for p in site.pages if p is not tp]
    site.page_by_output = {k: v for k, v in site.page_by_output.items() if v is not tp}
    key = key_of(tp)
    delta.pages.pop(key, None)
    delta.gone[key] = tp
    delta.gone_terms[f"t:{term.taxonomy}/{term.slug}"] = term
    delta.terms.pop(f"t:{term.taxonomy}/{term.slug}", None)
    delta.site_lists = True


def _spelling(contrib: Any, plural: str, key: str) -> str | None:
    """How a page's contribution to the taxonomy index writes a term."""
    for pl, names in contrib[1] if contrib else ():
        if pl == plural:
            for k, name in names:
                if k == key:
                    return str(name)
    return None


def _page(records: ModelRecords, rel: str) -> Page:
    p = records.page(rel)
    if p is None:
        raise Fallback(f"content/{rel} is not in the records")
    return p


def _retitle(records: ModelRecords, page: Page, old: str, new: str, delta: Delta) -> None:
    """A new title in the cross-reference index: the page's entries answer with it, its title
    entry (the last tier) is keyed by it, the ambiguity of both titles is decided again; the
    sources whose [[links]] now resolve otherwise, or use either title, are rendered again."""
    import bengal_native

    xrefs = delta.xrefs or records.xrefs()
    url = page.url
    t1 = xrefs.tiers[2]
    mine = [i for i, e in enumerate(xrefs.added) if e[1] == url]
    if not mine or mine[-1] < t1 or xrefs.added[mine[-1]][0] != old:
        raise Fallback(f"content/{page.source} is not in the cross-reference index")
    added = list(xrefs.added)
    for i in mine:
        added[i] = (added[i][0], url, new)
    added[mine[-1]] = (new, url, new)
    # Only the page's answers changed: a path answers otherwise only if it answers with the
    # page now, or would have matched its old title (a superset: a path another page's key
    # answered first is rendered again for nothing).
    old_key = bengal_native.XrefIndex()
    old_key.add(old, url, old)
    _reindex(records, xrefs, Xrefs(added, dict(xrefs.ambiguous), xrefs.tiers),
             {old.casefold(), new.casefold()}, url, old_key, delta)  # fmt: skip


def _index_page(records: ModelRecords, page: Page, delta: Delta, adding: bool) -> None:
    """A page added to the cross-reference index or removed from it: its content path, its
    stem and slug, its title, each in its tier in source order (bengal.assemble); the
    ambiguity of its keys decided again; the sources whose [[links]] now resolve otherwise, or
    use one of its keys, rendered again."""
    import bengal_native

    xrefs = delta.xrefs or records.xrefs()
    p_end, t0, t1 = xrefs.tiers
    url, rel, title = page.url, page.source, page.title
    stem = rel.rpartition("/")[2].rsplit(".", 1)[0]
    if not stem:
        raise Fallback(f"content/{rel} has no name to be found by")
    keys = [stem] + ([page.fm.slug] if page.fm.slug and page.fm.slug != stem else [])
    mine = [
        (bengal_native.XrefIndex.normalize_path(rel), url, title),
        *[(k, url, title) for k in keys],
        (title, url, title),
    ]
    added = list(xrefs.added)
    if adding:

        def source(e: tuple[str, str, str]) -> str:
            return _source_at(records, e[1])

        at = [bisect.bisect_left(added, rel, lo, hi, key=source)
              for lo, hi in ((0, p_end), (t0, t1), (t1, len(added)))]  # fmt: skip
        added[at[2] : at[2]] = mine[-1:]
        added[at[1] : at[1]] = mine[1:-1]
        added[at[0] : at[0]] = mine[:1]
        tiers = (p_end + 1, t0 + 1, t1 + 1 + len(keys))
    else:
        gone = [i for i, e in enumerate(added) if e[1] == url]
        if [added[i] for i in gone] != mine or gone[0] >= p_end or gone[1] < t0:
            raise Fallback(f"content/{rel} is not in the cross-reference index as assembled")
        for i in reversed(gone):
            del added[i]
        tiers = (p_end - 1, t0 - 1, t1 - 1 - len(keys))
    theirs = bengal_native.XrefIndex()
    theirs.add_many(mine)
    for ref in records.menu_refs:  # (the configuration's menus name pages by key)
        if theirs.lookup(ref) is not None:
            raise Fallback(f"a menu names {ref!r}, which content/{rel} answers to")
    folded = {k.casefold() for k in [*keys, title]}
    _reindex(records, xrefs, Xrefs(added, dict(xrefs.ambiguous), tiers), folded,
             url if adding else None, None if adding else theirs, delta)  # fmt: skip


def _reindex(records: ModelRecords, was: Xrefs, now: Xrefs, folded: set[str], url: str | None,
             old_keys: Any, delta: Delta) -> None:  # fmt: skip
    """The index made again from `now`'s entries; the ambiguity of the keys folding to
    `folded` decided again (as the assembler decides it: the titles tier over the stems
    tier); the sources rendered again whose [[paths]] answer with `url` now, or matched one of
    `old_keys` (an index; a superset of the paths that answered with what changed), or spell
    a key of `folded` (their ambiguity warnings may change)."""
    import bengal_native

    added, ambiguous = now.added, now.ambiguous
    _, t0, t1 = now.tiers
    for f in folded:
        titles, stems = _owners(added[t1:], f), _owners(added[t0:t1], f)
        owners = titles if len(titles) > 1 else stems if len(stems) > 1 else []
        if owners:
            ambiguous[f] = [_source_at(records, u) for u in owners]
        else:
            ambiguous.pop(f, None)
    index = bengal_native.XrefIndex()
    index.add_many(added)
    # (Sources whose rendering is not recorded may use any path.)
    delta.rerender.update(records.xref_users(incremental.UNRENDERED))

    def changed(path: str) -> bool:
        hit = index.lookup(path) if url is not None else None
        return (hit is not None and hit[0] == url) or (
            old_keys is not None and old_keys.lookup(path) is not None
        )

    for path in records.xref_user_paths():
        if changed(path) or path.strip().casefold() in folded:
            delta.rerender.update(records.xref_users(path))
    # Templates' ref() calls answer with a URL (no ambiguity warnings).
    delta.refs.update(a for a in records.ref_args() if changed(a.partition("#")[0]))
    if delta.xrefs is None:
        delta.was = was  # (the Markdown findings before: with the index and keys as they were)
    delta.xrefs = now
    delta.index = index


def _owners(entries: list[tuple[str, str, str]], folded: str) -> list[str]:
    """The pages (by URL, in order) a tier's entries give a key that folds to `folded`."""
    urls: list[str] = []
    for key, url, _ in entries:
        if url not in urls and key.casefold() == folded:
            urls.append(url)
    return urls


def _source_at(records: ModelRecords, url: str) -> str:
    p = records.page_at(url)
    if p is None or not p.source:
        raise Fallback(f"no content page at {url}")
    return p.source


def facts(
    records: ModelRecords, delta: Delta, entries: dict[str, incremental.SourceEntry]
) -> dict[str, bytes]:
    """The fingerprints of what the delta touched that differ from the recorded ones (pages
    whose renderings are in `entries` are fingerprinted with those)."""
    out: dict[str, bytes] = {}
    new: dict[str, bytes] = {}
    for key, p in delta.pages.items():
        if p.source:
            entry = entries.get(p.source) or records.source(p.source)
            if entry is None:
                raise Fallback(f"content/{p.source} is not in the records")
            md_hash, fm_digest = incremental.body_hash(entry), entry.fm_digest
        else:
            md_hash, fm_digest = b"", b""
        incremental.page_facts(
            p, key, md_hash, fm_digest, into=new, pk=_pk, plist=_plist, per_page=records.per_page
        )
    lists: dict[str, bytes] = {}
    for path, sec in sorted(delta.sections.items(), key=lambda kv: -kv[1].depth):
        subs = []
        for x in sec.subsections:
            f = lists.get(x.path) or records.fact("s:" + x.path + "|list")
            if f is None:
                raise Fallback(f"no fingerprint of section {x.path!r}")
            subs.append((x.path, f))
        lists[path] = new["s:" + path + "|list"] = incremental._fp((_plist(sec.pages), subs))
    for key, t in delta.terms.items():
        new[key + "|meta"] = incremental._fp((t.name, t.url))
        new[key + "|list"] = incremental._fp(_plist(t.pages))
    site = records.site
    if delta.regular_pages:
        new["site|regular_pages"] = incremental._fp(_plist(site.regular_pages))
    if delta.site_lists:  # (as incremental.site_facts makes them)
        new["site|pages"] = incremental._fp(_plist(site.pages))
        new["site|taxonomies"] = incremental._fp(
            [(t, sorted(v)) for t, v in site.taxonomies.items()]
        )
        new["site|page_by_output"] = incremental._fp(sorted(site.page_by_output))
    if delta.by_path:
        new["site|page_by_path"] = incremental._fp(
            sorted((k, key_of(v)) for k, v in site.page_by_path.items())
        )
    for k, v in new.items():
        if records.fact(k) != v:
            out[k] = v
    return out


def dropped(delta: Delta) -> list[str]:
    """The fingerprints of the objects the delta removed."""
    keys = [k + g for k in delta.gone for g in (*incremental.PAGE_GROUPS, "|pager1")]
    keys += [f"{k}|pager{n}" for k, n in delta.gone_pagers.values() if k not in delta.gone]
    return keys + [k + g for k in delta.gone_terms for g in ("|meta", "|list")]


def _pk(p: Page | None) -> str:
    return "\x01" if p is None else key_of(p)


def _plist(pages: list[Page]) -> str:
    return "\0".join([key_of(x) for x in pages])


def model_fp(before: bytes, changed: dict[str, bytes]) -> bytes:
    """What the recorded model is valid for after a delta: a value no full computation
    (bengal.recorded.model_fingerprint) gives, so that the next ordinary build compares the
    records one by one (and keeps those the delta wrote)."""
    h = hashlib.blake2b(before, digest_size=16, person=b"bengal.delta")
    for k in sorted(changed):
        h.update(k.encode("utf-8", "surrogatepass") + b"\0" + changed[k])
    return h.digest()
