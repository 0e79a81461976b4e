"""The content model: Site, Section, Page, Term. Data only; no I/O.

Templates see these objects, so their attribute names are the template API (docs/content/
templates.md). Derived values (URLs, neighbours, terms) are filled during assembly; rendered
values (content, toc, summary) after the Markdown stage.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from bengal.frontmatter import FrontMatter


@dataclass(eq=False)
class Term:
    taxonomy: str  # plural name, e.g. "tags"
    name: str
    slug: str
    url: str = ""
    pages: list[Page] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.pages)

    def __getattr__(self, name: str) -> Any:
        return _load_lazy(self, name)


@dataclass(eq=False)
class Page:
    """A content page. kind: "page" (regular), "section", "home", "term", "terms", "404"."""

    source: str  # content-relative path ("docs/setup.md"); "" for generated pages
    kind: str
    fm: FrontMatter
    # The Markdown body and the rendered HTML are made on first use: an incremental build
    # restores unchanged pages from the store (.bengal/bengal.db) without reading their files
    # (bengal.incremental), and only outputs that show a page's content read its body and
    # render its Markdown again.
    _body: str | None = field(default=None, repr=False)
    _body_loader: Callable[[], str] | None = field(default=None, repr=False)
    body_line: int = 1
    title: str = ""
    url: str = ""  # site-relative URL path, "/docs/setup/"
    permalink: str = ""  # absolute URL with baseurl
    output_path: str = ""  # output-relative file path, "docs/setup/index.html"
    section: Section | None = None
    bundle_dir: str | None = None  # leaf bundle: content-relative directory with resources
    _content: Markup | None = field(default=None, repr=False)
    _content_loader: Callable[[], Markup] | None = field(default=None, repr=False)
    # What the Markdown stage gives a page (content above, toc, anchors, images, word count,
    # summary) is filled in on first use by `_md_apply` (bengal.render): an incremental build
    # restores 10k pages but only the ones something reads pay for it.
    _md_apply: Callable[[Page], None] | None = field(default=None, repr=False)
    _toc: list[tuple[int, str, str]] = field(default_factory=list, repr=False)
    _anchors: list[str] = field(default_factory=list, repr=False)
    _images: list[str] = field(default_factory=list, repr=False)
    _word_count: int = field(default=0, repr=False)
    _summary: Markup = field(default_factory=lambda: Markup(""), repr=False)
    prev: Page | None = None  # neighbours within the section, in the section's order
    next: Page | None = None
    terms: dict[str, list[Term]] = field(default_factory=dict)
    # for term / terms pages
    term: Term | None = None
    taxonomy: str = ""
    list_pages: list[Page] = field(default_factory=list)

    @property
    def body(self) -> str:
        if self._body is None:
            self._body = self._body_loader() if self._body_loader is not None else ""
            self._body_loader = None
        return self._body

    def _md(self) -> None:
        apply = self._md_apply
        if apply is not None:
            self._md_apply = None
            apply(self)

    @property
    def toc(self) -> list[tuple[int, str, str]]:
        if self._md_apply is not None:
            self._md()
        return self._toc

    @toc.setter
    def toc(self, value: list[tuple[int, str, str]]) -> None:
        self._toc = value

    @property
    def anchors(self) -> list[str]:
        if self._md_apply is not None:
            self._md()
        return self._anchors

    @anchors.setter
    def anchors(self, value: list[str]) -> None:
        self._anchors = value

    @property
    def images(self) -> list[str]:
        if self._md_apply is not None:
            self._md()
        return self._images

    @images.setter
    def images(self, value: list[str]) -> None:
        self._images = value

    @property
    def word_count(self) -> int:
        if self._md_apply is not None:
            self._md()
        return self._word_count

    @word_count.setter
    def word_count(self, value: int) -> None:
        self._word_count = value

    @property
    def summary(self) -> Markup:
        if self._md_apply is not None:
            self._md()
        return self._summary

    @summary.setter
    def summary(self, value: Markup) -> None:
        self._summary = value

    @property
    def content(self) -> Markup:
        if self._md_apply is not None:
            self._md()
        if self._content is None:
            loader = self._content_loader
            self._content = loader() if loader is not None else Markup("")
            self._content_loader = None
        return self._content

    @content.setter
    def content(self, value: Markup) -> None:
        self._content = value
        self._content_loader = None

    # Front matter, exposed directly for templates.
    @property
    def date(self) -> dt.datetime | None:
        return self.fm.date

    @property
    def lastmod(self) -> dt.datetime | None:
        return self.fm.lastmod or self.fm.date

    @property
    def draft(self) -> bool:
        return self.fm.draft

    @property
    def weight(self) -> int:
        return self.fm.weight

    @property
    def description(self) -> str:
        return self.fm.description or ""

    @property
    def params(self) -> dict[str, Any]:
        return self.fm.params

    @property
    def type(self) -> str:
        if self.fm.type:
            return self.fm.type
        if self.source and "/" in self.source:
            return self.source.split("/", 1)[0]
        return "page"

    @property
    def tags(self) -> list[Term]:
        return self.terms.get("tags", [])

    @property
    def categories(self) -> list[Term]:
        return self.terms.get("categories", [])

    @property
    def reading_time(self) -> int:
        return max(1, round(self.word_count / 220))

    @property
    def is_home(self) -> bool:
        return self.kind == "home"

    @property
    def is_section(self) -> bool:
        return self.kind in ("section", "home")

    @property
    def show_toc(self) -> bool:
        return self.fm.toc and len(self.toc) > 1

    @property
    def ancestors(self) -> list[Section]:
        """Sections from the home down to this page's own section (breadcrumbs)."""
        chain: list[Section] = []
        s = self.section
        while s is not None:
            chain.append(s)
            s = s.parent
        chain.reverse()
        return chain

    def __repr__(self) -> str:
        return f"<Page {self.kind} {self.source or self.url}>"

    def __getattr__(self, name: str) -> Any:
        return _load_lazy(self, name)


@dataclass(eq=False)
class Section:
    path: str  # content-relative directory, "" for the home section
    title: str = ""
    parent: Section | None = None
    index: Page | None = None  # the _index.md page (or a generated one)
    pages: list[Page] = field(default_factory=list)  # regular pages, sorted
    subsections: list[Section] = field(default_factory=list)
    cascade: dict[str, Any] = field(default_factory=dict)  # merged, nearer wins

    @property
    def url(self) -> str:
        return self.index.url if self.index else "/"

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1] if self.path else ""

    @property
    def depth(self) -> int:
        return 0 if not self.path else self.path.count("/") + 1

    def walk_pages(self) -> list[Page]:
        """Regular pages of this section and every subsection, in tree order (a section's own
        pages, then each subsection's, depth first; without recursion, for deep trees)."""
        out: list[Page] = []
        stack: list[Section] = [self]
        while stack:
            sec = stack.pop()
            out.extend(sec.pages)
            stack.extend(reversed(sec.subsections))
        return out

    def __repr__(self) -> str:
        return f"<Section {self.path or '/'}>"

    def __getattr__(self, name: str) -> Any:
        return _load_lazy(self, name)


@dataclass
class MenuItem:
    name: str
    url: str
    weight: int
    identifier: str
    parent: str = ""
    children: list[MenuItem] = field(default_factory=list)
    page: Page | None = None

    def is_active(self, page: Page) -> bool:
        """True on the item's own page and, for section links, anywhere below it."""
        if self.url == page.url:
            return True
        return self.url != "/" and page.url.startswith(self.url) and self.url.endswith("/")


@dataclass
class Site:
    title: str
    baseurl: str
    language: str
    description: str
    author: str
    params: dict[str, Any]
    data: dict[str, Any]
    home: Section | None = None
    sections: dict[str, Section] = field(default_factory=dict)  # path -> Section
    pages: list[Page] = field(default_factory=list)  # every content page (regular + sections)
    regular_pages: list[Page] = field(default_factory=list)
    page_by_path: dict[str, Page] = field(default_factory=dict)  # content path -> Page
    page_by_output: dict[str, Page] = field(default_factory=dict)  # "docs/x/index.html" -> Page
    taxonomies: dict[str, dict[str, Term]] = field(default_factory=dict)  # plural -> slug -> Term
    menus: dict[str, list[MenuItem]] = field(default_factory=dict)
    build_date: dt.datetime | None = None  # newest page date (never the wall clock)

    def get_page(self, path: str) -> Page | None:
        return self.page_by_path.get(path)

    def __getattr__(self, name: str) -> Any:
        return _load_lazy(self, name)


# ---- objects loaded on first use -------------------------------------------------------------
#
# The command line's fast path for body edits (bengal.express) renders a few outputs from the
# site model recorded by the last build, without assembling the site: its Page, Section, Term
# and Site objects are made empty, with a `_lazy` loader in their __dict__, and filled from
# their records when first read. They are the ordinary classes (templates, type checks and the
# dependency recording see no difference): the dataclass defaults are removed from the classes
# below, so that reading any field an object does not hold yet reaches __getattr__, which
# loads it. Objects made by their constructors hold every field and never get there.


def _load_lazy(obj: Any, name: str) -> Any:
    d = obj.__dict__
    loader = d.get("_lazy")
    if loader is None or name.startswith("__"):
        raise AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}")
    if loader(obj, name):  # True: the object is whole now
        d.pop("_lazy", None)
    try:
        return d[name]
    except KeyError:
        return object.__getattribute__(obj, name)


def _without_class_defaults(cls: type) -> None:
    for f in dataclasses.fields(cls):
        if f.name in cls.__dict__:
            delattr(cls, f.name)


for _cls in (Term, Page, Section, Site):
    _without_class_defaults(_cls)
