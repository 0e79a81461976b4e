"""Parsed sources -> Site: sections, cascade, URLs, ordering, neighbours, taxonomies, menus and
the cross-reference index. Pure computation over the model; no file I/O.

Everything that iterates is sorted, so the site model (and so the output) does not depend on
file-system order, hash seeds or worker scheduling.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import marshal
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import bengal_native
from bengal.config import Config
from bengal.errors import ContentError
from bengal.frontmatter import FrontMatter, normalise
from bengal.model import MenuItem, Page, Section, Site, Term
from bengal.taxonomy import PageTerms, TaxonomyIndex, contribution

_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class ParsedSource:
    """One Markdown file after the parse stage."""

    rel: str  # content-relative path
    raw: dict[str, Any]  # raw front matter
    body: str | None  # None: not read (restored from the incremental cache; see heading)
    body_line: int
    body_loader: Callable[[], str] | None = None
    # First level-1 heading of the body ("" when none); computed when the title is needed.
    heading: str | None = None

    def first_heading(self) -> str:
        if self.heading is None:
            self.heading = first_heading(self.load_body()) or ""
        return self.heading

    def load_body(self) -> str:
        if self.body is None:
            self.body = self.body_loader() if self.body_loader is not None else ""
        return self.body


@dataclass
class Assembly:
    site: Site
    xref_index: bengal_native.XrefIndex
    ambiguous_keys: dict[str, list[str]] = field(default_factory=dict)  # key -> sources
    errors: list[ContentError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    xref_digest: bytes = b""  # of every (key, url, title) added to xref_index, in order
    xref_added: list[tuple[str, str, str]] = field(default_factory=list)  # those, in order
    # Where in xref_added the content paths end and the tiers of stems and slugs, and of
    # titles, begin (ambiguity is decided per tier: bengal.delta decides it again for a new
    # title, a page added or removed)
    xref_tiers: tuple[int, int, int] = (0, 0, 0)
    # term -> pages, as the last build left it updated for this one's pages
    taxonomy: TaxonomyIndex = field(default_factory=TaxonomyIndex)


def humanize(name: str) -> str:
    """'getting-started' -> 'Getting started' (titles of pages and sections without one)."""
    text = re.sub(r"[-_]+", " ", name).strip()
    return text[:1].upper() + text[1:] if text else name


def urlize(segment: str) -> str:
    """A path segment for URLs: lower-case, spaces to '-', nothing a URL must escape."""
    s = bengal_native.slugify(segment.replace(".", "-"))
    return s or "-"


def first_heading(body: str) -> str | None:
    """Plain text of the first level-1 heading in Markdown source, outside code fences."""
    fence: str | None = None
    lines = body.split("\n", 400)[:400]
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if stripped.startswith("# ") or stripped == "#":
            r = bengal_native.render_markdown(stripped, xrefs=False, directives=False)
            return r.toc[0].text if r.toc and r.toc[0].text else None
        if (
            i + 1 < len(lines)
            and stripped
            and set(lines[i + 1].strip()) == {"="}
            and not line.startswith("    ")
        ):
            r = bengal_native.render_markdown(line + "\n" + lines[i + 1], xrefs=False)
            return r.toc[0].text if r.toc and r.toc[0].text else None
    return None


def base_path_of(baseurl: str) -> str:
    """The path part of the base URL, ending in "/" ("/" when it has none)."""
    base = urlparse(baseurl).path or "/"
    return base if base.endswith("/") else base + "/"


def set_url(page: Page, rel_url: str, base_path: str, baseurl: str) -> None:
    """A page's URL, permalink and output path from its site-relative URL ("/docs/x/")."""
    if not rel_url.startswith("/"):
        rel_url = "/" + rel_url
    page.url = base_path + rel_url.lstrip("/")
    page.permalink = baseurl.rstrip("/") + "/" + rel_url.lstrip("/")
    if rel_url.endswith("/"):
        page.output_path = rel_url.lstrip("/") + "index.html"
    elif rel_url.rsplit("/", 1)[-1].count(".") == 0:
        page.output_path = rel_url.lstrip("/") + "/index.html"
        page.url += "/"
        page.permalink += "/"
    else:
        page.output_path = rel_url.lstrip("/")


def section_rel_url(path: str) -> str:
    """A section's site-relative URL from its content directory ("docs/Setup" -> "/docs/setup/")."""
    return "/" + "/".join(urlize(s) for s in path.split("/")) + "/" if path else "/"


def page_rel_url(
    page: Page, d: str, stem: str, section_url: Callable[[str], str], pretty: bool
) -> str:
    """A regular page's site-relative URL: its front matter's url, else its section's URL and
    its slug (or its file's or leaf bundle's name), as a directory or an .html file."""
    fm = page.fm
    if fm.url:
        return fm.url
    if page.bundle_dir is not None:
        leaf = fm.slug or urlize(d.rpartition("/")[2])
        base = section_url(d.rpartition("/")[0])
    else:
        leaf = fm.slug or urlize(stem)
        base = section_url(d)
    return f"{base}{leaf}/" if pretty else f"{base}{leaf}.html"


def term_page(term: Term, base_path: str, baseurl: str) -> Page:
    """The generated page of a term (its URL is the term's too)."""
    tp = Page(source="", kind="term", fm=FrontMatter())
    tp.title = term.name
    tp.term = term
    tp.taxonomy = term.taxonomy
    tp.list_pages = term.pages
    set_url(tp, f"/{urlize(term.taxonomy)}/{term.slug}/", base_path, baseurl)
    term.url = tp.url
    return tp


def with_cascade(raw: dict[str, Any], inherited: dict[str, Any]) -> dict[str, Any]:
    """A page's front matter with what its section cascades to it (its own keys win)."""
    if not inherited:
        return raw
    merged = {k: v for k, v in inherited.items() if k != "cascade"}
    merged.update(raw)
    return merged


def page_title(fm: FrontMatter, heading: Callable[[], str], rel: str, site_title: str) -> str:
    """A content page's title: its front matter's, else its first heading's (asked only then),
    else its file's (or directory's) name made readable."""
    title = fm.title or heading()
    if not title:
        stem = _stem(rel)
        base = _dir(rel).rpartition("/")[2] if stem in ("_index", "index") else stem
        title = humanize(base) if base else site_title
    return title


def sort_key(p: Page) -> tuple[Any, ...]:
    """Weight (weighted pages first, ascending), then newest date, then title, then path."""
    date = p.fm.date or _EPOCH
    return (p.fm.weight == 0, p.fm.weight, -date.timestamp(), p.title.lower(), p.source)


def date_key(p: Page) -> tuple[Any, ...]:
    date = p.fm.date or _EPOCH
    return (-date.timestamp(), p.title.lower(), p.source)


class Assembler:
    def __init__(
        self,
        config: Config,
        sources: list[ParsedSource],
        data: dict[str, Any],
        taxonomy: TaxonomyIndex | None = None,
    ):
        self.config = config
        self.sources = sources
        self.taxonomy = taxonomy if taxonomy is not None else TaxonomyIndex()
        self.xref_digest = b""
        self.xref_added: list[tuple[str, str, str]] = []
        self.xref_tiers = (0, 0, 0)
        self._rel_urls: dict[str, str] = {}  # content directory -> its section's URL path
        self.pretty = bool(config.build["pretty_urls"])
        baseurl = config.baseurl
        self.base_path = base_path_of(baseurl)
        self.site = Site(
            title=config.title,
            baseurl=baseurl,
            language=str(config.site["language"]),
            description=str(config.site["description"]),
            author=str(config.site["author"]),
            params=config.params,
            data=data,
        )
        self.errors: list[ContentError] = []
        self.warnings: list[str] = []

    # ---- URLs ---------------------------------------------------------------------------------

    def link(self, rel_url: str) -> str:
        """Site-relative URL ("/docs/") -> link with the base path ("/blog/docs/")."""
        return self.base_path + rel_url.lstrip("/")

    def set_url(self, page: Page, rel_url: str) -> None:
        set_url(page, rel_url, self.base_path, self.config.baseurl)

    def section_rel_url(self, path: str) -> str:
        hit = self._rel_urls.get(path)
        if hit is None:
            hit = self._rel_urls[path] = section_rel_url(path)
        return hit

    # ---- stages -------------------------------------------------------------------------------

    def run(self) -> Assembly:
        self.build_sections()
        self.build_pages()
        self.check_urls()
        self.order()
        self.build_taxonomies()
        self.add_404()
        index, ambiguous = self.build_xref_index()
        self.build_menus(index)
        site = self.site
        dates = [d for p in site.pages if (d := p.fm.lastmod or p.fm.date) is not None]
        site.build_date = max(dates) if dates else None
        return Assembly(
            site,
            index,
            ambiguous,
            self.errors,
            self.warnings,
            self.xref_digest,
            self.xref_added,
            self.xref_tiers,
            self.taxonomy,
        )

    def build_sections(self) -> None:
        """Every directory holding pages is a section; `_index.md` gives it a page of its own."""
        site = self.site
        # A directory with index.md (and no _index.md) is a leaf bundle: a page whose other
        # files are its resources. It is not a section.
        index_dirs = {_dir(s.rel) for s in self.sources if _stem(s.rel) == "_index"}
        self.bundle_dirs: set[str] = {
            _dir(s.rel)
            for s in self.sources
            if _stem(s.rel) == "index" and _dir(s.rel) and _dir(s.rel) not in index_dirs
        }
        dirs: set[str] = {""}
        for src in self.sources:
            d = _dir(src.rel)
            if self._bundle_containing(d) is not None:
                d = self._bundle_containing(d).rpartition("/")[0]  # type: ignore[union-attr]
            while True:
                dirs.add(d)
                if not d:
                    break
                d = d.rpartition("/")[0]
        for d in sorted(dirs):
            parent = None
            if d:
                pd = d.rpartition("/")[0]
                while pd not in site.sections and pd:
                    pd = pd.rpartition("/")[0]
                parent = site.sections[pd]
            sec = Section(path=d, parent=parent)
            site.sections[d] = sec
            if parent is not None:
                parent.subsections.append(sec)
        site.home = site.sections[""]

    def build_pages(self) -> None:
        site = self.site
        cfg = self.config
        by_dir_index = {_dir(s.rel): s for s in self.sources if _stem(s.rel) == "_index"}

        # Cascade, top-down: a section's own cascade over its parent's (nearer wins).
        for path in sorted(site.sections, key=lambda p: (p.count("/") if p else -1, p)):
            sec = site.sections[path]
            inherited = dict(sec.parent.cascade) if sec.parent else {}
            src = by_dir_index.get(path)
            if src is not None:
                own = src.raw.get("cascade")
                if isinstance(own, dict):
                    inherited.update(own)
            sec.cascade = inherited

        for src in self.sources:
            stem = _stem(src.rel)
            d = _dir(src.rel)
            bundle = self._bundle_containing(d)
            if bundle is not None and not (stem == "index" and d == bundle):
                self.warnings.append(
                    f"{src.rel}: Markdown inside a leaf bundle is a resource, not a page "
                    f"(the bundle's page is {bundle}/index.md)"
                )
                continue
            if stem == "_index":
                kind = "home" if d == "" else "section"
                section = site.sections[d]
                inherited = section.parent.cascade if section.parent else {}
            elif stem == "index" and d in self.bundle_dirs:
                kind = "page"
                section = site.sections[d.rpartition("/")[0]]
                inherited = section.cascade
            else:
                kind = "page"
                section = site.sections[d]
                inherited = section.cascade
            try:
                fm = normalise(with_cascade(src.raw, inherited), src.rel, cfg.taxonomies)
            except ContentError as exc:
                self.errors.append(exc)
                continue
            if fm.draft and not cfg.build["drafts"]:
                continue
            page = Page(
                source=src.rel,
                kind=kind,
                fm=fm,
                _body=src.body,
                _body_loader=src.load_body,
                body_line=src.body_line,
            )
            page.section = section
            if kind in ("home", "section"):
                section.index = page
            if stem == "index" and d in self.bundle_dirs:
                page.bundle_dir = d
            page.title = page_title(fm, src.first_heading, src.rel, cfg.title)
            self.set_page_url(page, d, stem)
            site.pages.append(page)
            if kind == "page":
                section.pages.append(page)
            site.page_by_path[src.rel] = page

        # Sections without an _index.md get a generated list page.
        for path, sec in site.sections.items():
            if sec.index is None:
                fm = FrontMatter()
                page = Page(source="", kind="home" if not path else "section", fm=fm)
                page.section = sec
                page.title = cfg.title if not path else humanize(path.rpartition("/")[2])
                self.set_url(page, self.section_rel_url(path))
                sec.index = page
                site.pages.append(page)
            sec.title = sec.index.title

    def _bundle_containing(self, d: str) -> str | None:
        """The leaf bundle directory that `d` is or lies inside, if any."""
        probe = d
        while probe:
            if probe in self.bundle_dirs:
                return probe
            probe = probe.rpartition("/")[0]
        return None

    def set_page_url(self, page: Page, d: str, stem: str) -> None:
        if page.kind in ("home", "section") and not page.fm.url:
            self.set_url(page, self.section_rel_url(d))
            return
        self.set_url(page, page_rel_url(page, d, stem, self.section_rel_url, self.pretty))

    def check_urls(self) -> None:
        """Two pages claiming one URL is an error naming both; the later one is dropped."""
        site = self.site
        kept: list[Page] = []
        for page in sorted(site.pages, key=lambda p: (p.source == "", p.source)):
            other = site.page_by_output.get(page.output_path)
            if other is not None:
                if page.source == "":
                    continue  # a generated page never displaces a real one
                self.errors.append(
                    ContentError(
                        f"URL {page.url} is claimed by both {other.source or 'a generated page'} "
                        f"and {page.source}; change the slug or url of one of them",
                        file=page.source,
                    )
                )
                continue
            site.page_by_output[page.output_path] = page
            kept.append(page)
        dropped = {id(p) for p in site.pages} - {id(p) for p in kept}
        if dropped:
            for sec in site.sections.values():
                sec.pages = [p for p in sec.pages if id(p) not in dropped]
            for path, page in list(site.page_by_path.items()):
                if id(page) in dropped:
                    del site.page_by_path[path]
        site.pages = kept

    def order(self) -> None:
        site = self.site
        for sec in site.sections.values():
            sec.pages.sort(key=sort_key)
            sec.subsections.sort(
                key=lambda s: sort_key(s.index) if s.index else (True, 0, 0, s.path)
            )
            for a, b in zip(sec.pages, sec.pages[1:], strict=False):
                a.next = b
                b.prev = a
        site.pages.sort(key=lambda p: p.output_path)
        site.regular_pages = sorted((p for p in site.pages if p.kind == "page"), key=date_key)
        home = site.home
        assert home is not None and home.index is not None
        home.index.list_pages = site.regular_pages
        for sec in site.sections.values():
            if sec.path and sec.index is not None:
                sec.index.list_pages = sec.pages

    def build_taxonomies(self) -> None:
        """Terms from the taxonomy index (bengal.taxonomy), which is brought up to date first:
        only pages whose date, title or terms changed since the last build are indexed again."""
        site = self.site
        taxonomies = sorted(self.config.taxonomies.items())
        plurals = [plural for _, plural in taxonomies]
        index = self.taxonomy

        by_source = {p.source: p for p in site.regular_pages}
        current = {
            p.source: (d.timestamp() if (d := p.fm.date) else None, p.title, p.fm.terms)
            for p in site.regular_pages
        }

        def make(source: str) -> PageTerms:
            return contribution(current[source], plurals)

        def terms_from(index: TaxonomyIndex) -> tuple[dict[str, dict[str, Term]], list[str]]:
            """(plural -> slug -> term, clash warnings); sets every page's `terms`."""
            found: dict[str, dict[str, Term]] = {plural: {} for plural in plurals}
            term_of: dict[str, dict[str, Term]] = {plural: {} for plural in plurals}  # by key
            clashes = []
            listed = 0
            for t in index.named(taxonomies, urlize):
                term = Term(taxonomy=t.plural, name=t.name, slug=t.slug)
                term.pages = [by_source[s] for s in t.sources]
                listed += len(t.sources)
                found[t.plural][t.slug] = term_of[t.plural][t.key] = term
                if t.clash:
                    clashes.append(t.clash)
            records = index.pages
            filed = 0
            for p in site.regular_pages:
                p.terms = {}
                for plural, names in records[p.source][1]:
                    of = term_of[plural]
                    p.terms[plural] = [of[key] for key, _ in names]
                    filed += len(names)
            if filed != listed:
                raise ValueError(f"pages are filed under {filed} terms, terms list {listed}")
            return found, clashes

        try:
            index.update(current, make)
            found, clashes = terms_from(index)
        except (KeyError, ValueError, StopIteration, IndexError, AttributeError, TypeError):
            # An index that does not describe the pages it lists (it passed the cache's
            # checksums, so bengal wrote it: a bug): built again from every page.
            self.warnings.append("the taxonomy index in the build cache was inconsistent; rebuilt")
            index = self.taxonomy = TaxonomyIndex()
            index.update(current, make)
            found, clashes = terms_from(index)
        self.warnings.extend(clashes)
        for singular, plural in taxonomies:
            terms = found[plural]
            base = "/" + urlize(plural) + "/"
            site.taxonomies[plural] = dict(sorted(terms.items()))
            # Generated pages: the terms index and one page per term.
            index_page = Page(source="", kind="terms", fm=FrontMatter())
            index_page.title = humanize(plural)
            index_page.taxonomy = plural
            self.set_url(index_page, base)
            site.pages.append(index_page)
            site.page_by_output[index_page.output_path] = index_page
            for term in site.taxonomies[plural].values():
                tp = term_page(term, self.base_path, self.config.baseurl)
                if tp.output_path in site.page_by_output:
                    other = site.page_by_output[tp.output_path]
                    self.errors.append(
                        ContentError(
                            f"URL {tp.url} of {singular} '{term.name}' is also the URL of "
                            f"{other.source}; rename one of them",
                            file=other.source or plural,
                        )
                    )
                    continue
                site.pages.append(tp)
                site.page_by_output[tp.output_path] = tp
        site.pages.sort(key=lambda p: p.output_path)

    def add_404(self) -> None:
        site = self.site
        page = Page(source="", kind="404", fm=FrontMatter())
        page.title = "Page not found"
        page.section = site.home
        self.set_url(page, "/404.html")
        if page.output_path not in site.page_by_output:
            site.page_by_output[page.output_path] = page
            site.pages.append(page)
            site.pages.sort(key=lambda p: p.output_path)

    def build_xref_index(self) -> tuple[bengal_native.XrefIndex, dict[str, list[str]]]:
        """Keys in priority order (first add wins): content paths, ids, stems and slugs, titles.
        A stem, slug or title shared by several pages is ambiguous: it resolves to the first in
        path order, and a reference using it is warned about (see build.py)."""
        native_index = bengal_native.XrefIndex()
        added: list[tuple[str, str, str]] = []

        class _Recording:
            """Adds to the native index, remembering every (key, url, title) in order: the index
            answers are a function of that sequence, so its digest says whether anything a
            [[reference]] can resolve to changed (incremental builds)."""

            def add(self, key: str, url: str, title: str) -> bool:
                added.append((key, url, title))
                return bool(native_index.add(key, url, title))

        index = _Recording()
        content = [p for p in self.site.pages if p.source]
        content.sort(key=lambda p: p.source)
        ambiguous: dict[str, list[str]] = {}
        for p in content:
            index.add(bengal_native.XrefIndex.normalize_path(p.source), p.url, p.title)
        paths_end = len(added)
        # Sections without an _index.md still answer to their directory path.
        for path, sec in sorted(self.site.sections.items()):
            if sec.index is not None and not sec.index.source:
                index.add(path, sec.index.url, sec.index.title)
        ids: dict[str, Page] = {}
        for p in content:
            if p.fm.id:
                if p.fm.id in ids:
                    self.errors.append(
                        ContentError(
                            f"id '{p.fm.id}' is already used by {ids[p.fm.id].source}; ids must "
                            "be unique",
                            file=p.source,
                        )
                    )
                    continue
                ids[p.fm.id] = p
                index.add(f"id:{p.fm.id}", p.url, p.title)
        tiers: list[list[tuple[str, Page]]] = [[], []]
        for p in content:
            stem = _stem(p.source)
            if stem in ("_index", "index"):
                stem = _dir(p.source).rpartition("/")[2]
            if stem:
                tiers[0].append((stem, p))
            if p.fm.slug and p.fm.slug != stem:
                tiers[0].append((p.fm.slug, p))
            tiers[1].append((p.title, p))
        starts = []
        for tier in tiers:
            starts.append(len(added))
            owners: dict[str, list[Page]] = {}
            for key, p in tier:
                folded = key.casefold()
                owners.setdefault(folded, [])
                if p not in owners[folded]:
                    owners[folded].append(p)
            for key, p in tier:
                index.add(key, p.url, p.title)
            for folded, pages in owners.items():
                if len(pages) > 1:
                    ambiguous[folded] = [q.source for q in pages]
        self.xref_digest = xref_digest(added)
        self.xref_added = added
        self.xref_tiers = (paths_end, starts[0], starts[1])
        return native_index, ambiguous

    def build_menus(self, index: bengal_native.XrefIndex) -> None:
        site = self.site
        raw: dict[str, list[MenuItem]] = {}
        for name, entries in self.config.menus.items():
            for e in entries:
                url = e.url
                page = None
                if e.page:
                    hit = index.lookup(e.page)
                    if hit is None:
                        self.errors.append(
                            ContentError(
                                f"menu.{name} entry '{e.name}': page '{e.page}' does not exist",
                                file="bengal.toml",
                            )
                        )
                        continue
                    url = hit[0]
                elif url.startswith("/"):
                    url = self.link(url)
                page = site.page_by_output.get(_output_of(url, self.base_path))
                raw.setdefault(name, []).append(
                    MenuItem(e.name, url, e.weight, e.identifier, e.parent, page=page)
                )
        for page in sorted((p for p in site.pages if p.source), key=lambda p: p.source):
            for menu_name, opts in page.fm.menu.items():
                weight = opts.get("weight", page.fm.weight)
                if not isinstance(weight, int):
                    weight = 0
                raw.setdefault(menu_name, []).append(
                    MenuItem(
                        name=str(opts.get("name") or page.title),
                        url=page.url,
                        weight=weight,
                        identifier=str(opts.get("identifier") or page.source),
                        parent=str(opts.get("parent", "")),
                        page=page,
                    )
                )
        for name, items in raw.items():
            by_id = {it.identifier: it for it in items}
            top: list[MenuItem] = []
            for it in items:
                parent = by_id.get(it.parent) if it.parent else None
                if it.parent and parent is None:
                    self.warnings.append(
                        f"menu.{name}: '{it.name}' names parent '{it.parent}', which is not an "
                        "identifier in that menu; shown at the top level"
                    )
                (parent.children if parent is not None else top).append(it)
            key = _menu_key
            top.sort(key=key)
            for it in items:
                it.children.sort(key=key)
            site.menus[name] = top


def xref_digest(added: list[tuple[str, str, str]]) -> bytes:
    """Of the cross-reference index's entries in order: its answers are a function of them.
    (marshal: one C pass, a fifth of repr's time at 60k entries; the same list, the same bytes.)"""
    return hashlib.blake2b(marshal.dumps(added), digest_size=16).digest()


def _menu_key(it: MenuItem) -> tuple[Any, ...]:
    return (it.weight, it.name.lower(), it.url)


def _output_of(url: str, base_path: str) -> str:
    path = url[len(base_path) - 1 :] if url.startswith(base_path) else url
    path = path.split("#", 1)[0]
    if path.endswith("/"):
        return path.lstrip("/") + "index.html"
    return path.lstrip("/")


def _stem(rel: str) -> str:
    return rel.rpartition("/")[2].rsplit(".", 1)[0]


def _dir(rel: str) -> str:
    return rel.rpartition("/")[0]


def assemble(
    config: Config,
    sources: list[ParsedSource],
    data: dict[str, Any],
    taxonomy: TaxonomyIndex | None = None,
) -> Assembly:
    """taxonomy: the index the last build left (None: built from every page); updated."""
    return Assembler(config, sources, data, taxonomy).run()
