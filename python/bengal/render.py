"""Rendering: Markdown bodies -> HTML (native batch), and pages -> full HTML documents (Jinja2).

Markdown: every content page's body goes through `bengal_native.render_markdown_batch` in one
call (parallel, GIL released). Templates: a Jinja2 environment with autoescape and a bytecode
cache; the site's templates/ directory overrides the theme's.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html as html_module
import io
import posixpath
import re
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache
from markupsafe import Markup, escape

import bengal_native
from bengal.config import Config
from bengal.errors import TemplateError
from bengal.incremental import (
    LIST_KINDS,
    MdFacts,
    lookups_digest,
    pagers,
)
from bengal.model import MenuItem, Page, Section, Site, Term
from bengal.store import Store, StoreDamaged

TRACKED_TYPES = frozenset({Page, Section, Term, Site, MenuItem})

from bengal.discover import THEME_DIR  # noqa: E402 - re-exported

_MORE = "<!--more-->"
_TAGS = re.compile(r"<[^>]+>")


def plain_text(html: str) -> str:
    """Tags stripped, whitespace folded, character references decoded."""
    return html_module.unescape(" ".join(_TAGS.sub("", html).split()))


SUMMARY_WORDS = 70


@dataclass
class MarkdownReport:
    warnings: list[tuple[str, int, str]] = field(default_factory=list)  # file, line, message
    broken: list[tuple[str, int, str]] = field(default_factory=list)
    facts: dict[str, MdFacts] = field(default_factory=dict)  # content path -> rendering
    rendered: list[str] = field(default_factory=list)  # content paths rendered (not cached)


def html_digest(html: str) -> bytes:
    """A rendering's fingerprint (MdFacts.html_hash: what the outputs that show it compare)."""
    return hashlib.blake2b(html.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _facts_of(res: Any, html: str, index: Any) -> MdFacts:
    h1_cut = html.index("</h1>\n") + 6 if html.startswith("<h1") and "</h1>\n" in html else -1
    cut = html.find(_MORE)
    more_full = plain_text(html[:cut]) if cut >= 0 else None
    more_cut = None
    if h1_cut > 0:
        rest = html[h1_cut:]
        c = rest.find(_MORE)
        more_cut = plain_text(rest[:c]) if c >= 0 else None
    xrefs = [(x.target, bool(x.resolved), x.url, x.line) for x in res.xrefs]
    return MdFacts(
        html_hash=html_digest(html),
        h1_cut=h1_cut,
        toc=[(e.level, e.id, e.text) for e in res.toc],
        images=list(res.images),
        words=res.words,
        first_paragraph=first_words(res.summary),
        more_full=more_full,
        more_cut=more_cut,
        warnings=[(w.line, w.message) for w in res.warnings],
        xrefs=xrefs,
        lookups=lookups_digest(index, xrefs),
    )


def _rendered_again(again: Callable[[], str], cut: int) -> Markup:
    html = again()
    return Markup(html[cut:] if cut > 0 else html)


@dataclass
class MarkdownContext:
    """What rendering one page's Markdown needs besides the page (shared by the build's
    Markdown stage and the dev server's rebuild of single pages)."""

    index: bengal_native.XrefIndex
    ambiguous: dict[str, list[str]]
    unsafe_html: bool
    url_prefix: str
    toc_min: int
    toc_max: int

    @classmethod
    def of(
        cls,
        site: Site,
        index: bengal_native.XrefIndex,
        config: Config,
        ambiguous: dict[str, list[str]],
    ) -> MarkdownContext:
        from urllib.parse import urlparse

        base_path = urlparse(site.baseurl).path or "/"
        return cls(
            index=index,
            ambiguous=ambiguous,
            unsafe_html=bool(config.markdown["raw_html"]),
            url_prefix=base_path.rstrip("/"),
            toc_min=int(config.markdown["toc_min"]),
            toc_max=int(config.markdown["toc_depth"]),
        )

    def render(self, bodies: list[str]) -> list[Any]:
        return list(
            bengal_native.render_markdown_batch(
                bodies,
                xref_index=self.index,
                unsafe_html=self.unsafe_html,
                url_prefix=self.url_prefix,
            )
        )

    def facts(self, res: Any) -> tuple[MdFacts, str]:
        html = res.html
        return _facts_of(res, html, self.index), html

    def rerender(self, page: Page, index: Callable[[], Any] | None = None) -> Callable[[], str]:
        """`page`'s Markdown rendered again, when called: with this context's index, or with
        the one `index` gives (the fast path's: what the store says the site's index answers
        for the page's cross-references)."""

        def again() -> str:
            return str(
                bengal_native.render_markdown(
                    page.body,
                    xref_index=self.index if index is None else index(),
                    unsafe_html=self.unsafe_html,
                    url_prefix=self.url_prefix,
                ).html
            )

        return again

    def apply(
        self, f: MdFacts, fresh: str | None, page: Page, index: Callable[[], Any] | None = None
    ) -> None:
        """Give `page` what its rendering says; run on first use of any of it (Page._md).
        Without `fresh` HTML its Markdown is rendered again when its content is first used
        (with `index`: see rerender)."""
        toc = f.toc
        # A body that opens with "# <page title>" repeats the title the template shows; drop it.
        strip = f.h1_cut > 0 and bool(toc) and toc[0][0] == 1 and toc[0][2] == page.title
        if fresh is not None:
            page.content = Markup(fresh[f.h1_cut :] if strip else fresh)
        else:
            # A rendering is not stored (writing every page's HTML was most of a cold build's
            # save, and a page renders again in ~0.1 ms): one whose body did not change is
            # rendered again when its HTML is first used -- the same HTML, since the
            # cross-reference answers it depends on are checked by the planner.
            cut = f.h1_cut if strip else -1
            again = self.rerender(page, index)
            page._content_loader = functools.partial(_rendered_again, again, cut)
        page.anchors = [t[1] for t in toc]
        page.toc = [t for t in toc if self.toc_min <= t[0] <= self.toc_max]
        page.images = list(f.images)
        page.word_count = f.words
        page.summary = summarize(page, f.more_cut if strip else f.more_full, f.first_paragraph)

    def attach(
        self, page: Page, f: MdFacts, fresh: str | None, report: MarkdownReport | None
    ) -> None:
        """Set `page` up to take its rendering lazily, and report its warnings (`report` None:
        the caller took them, as bengal.edits does with page_report)."""
        page._content = None
        page._content_loader = None
        page._md_apply = functools.partial(self.apply, f, fresh)
        if report is not None:
            self.rendering_warnings(page, f, report)

    @staticmethod
    def rendering_warnings(page: Page, f: MdFacts, report: MarkdownReport) -> None:
        """The warnings of a page's rendering, at their lines in its file."""
        offset = page.body_line - 1
        for wline, message in f.warnings:
            line = wline + offset if wline else 0
            if message.startswith("unresolved cross-reference"):
                report.broken.append((page.source, line, message))
            else:
                report.warnings.append((page.source, line, message))

    def page_report(
        self,
        page: Page,
        f: MdFacts,
        page_at: Callable[[str], Page | None],
        anchors_of: Callable[[Page], set[str]],
    ) -> MarkdownReport:
        """Everything the Markdown stage says about one page (rendering_warnings, then
        check_xrefs): what a body edit replaces in the site's warnings (bengal.edits)."""
        report = MarkdownReport()
        self.rendering_warnings(page, f, report)
        self.check_xrefs(page, f, page_at, anchors_of, report)
        return report

    def check_xrefs(
        self,
        page: Page,
        f: MdFacts,
        page_at: Callable[[str], Page | None],
        anchors_of: Callable[[Page], set[str]],
        report: MarkdownReport,
    ) -> None:
        """Cross-page anchors (checkable once every page's headings are known) and ambiguous
        keys (reported where they are used)."""
        offset = page.body_line - 1
        index = self.index
        for target, resolved, target_url, xline in f.xrefs:
            if not resolved:
                continue
            if self.ambiguous:
                key = target.split("#", 1)[0].strip()
                owners = self.ambiguous.get(key.casefold())
                if owners and bengal_native.XrefIndex.normalize_path(key) not in index:
                    report.warnings.append(
                        (
                            page.source,
                            xline + offset,
                            f"[[{target}]] is ambiguous: {', '.join(owners)} all answer to "
                            f"'{key}'; it links to {owners[0]} (write the full path to choose)",
                        )
                    )
            if "#" not in target_url or target_url.startswith("#"):
                continue
            url, _, frag = target_url.partition("#")
            hit = page_at(url)
            if hit is None:
                continue
            if frag not in anchors_of(hit):
                report.broken.append(
                    (
                        page.source,
                        xline + offset,
                        f"[[{target}]]: {hit.source or hit.url} has no heading '#{frag}'",
                    )
                )


def render_markdown_stage(
    site: Site,
    index: bengal_native.XrefIndex,
    config: Config,
    ambiguous: dict[str, list[str]],
    cached: dict[str, MdFacts] | None = None,
    index_unchanged: bool = False,
) -> MarkdownReport:
    """Render every content page's Markdown, reusing `cached` renderings (incremental builds)
    whose cross-references still resolve the same way (`index_unchanged`: the index is the one
    every cached rendering was last checked against)."""
    report = MarkdownReport()
    ctx = MarkdownContext.of(site, index, config, ambiguous)
    pages = [p for p in site.pages if p.source]
    todo: list[Page] = []
    reuse: list[tuple[Page, MdFacts]] = []
    for p in pages:
        f = cached.get(p.source) if cached else None
        if f is not None and (
            index_unchanged or f.lookups is None or lookups_digest(index, f.xrefs) == f.lookups
        ):
            reuse.append((p, f))
        else:
            todo.append(p)
    results = ctx.render([p.body for p in todo])
    html_of: dict[str, str] = {}
    for page, res in zip(todo, results, strict=True):
        report.facts[page.source], html_of[page.source] = ctx.facts(res)
        report.rendered.append(page.source)
    for page, f in reuse:
        report.facts[page.source] = f
    for page in pages:
        ctx.attach(page, report.facts[page.source], html_of.get(page.source), report)
    by_url = {p.url: p for p in site.pages}
    known: dict[int, set[str]] = {}

    def anchors_of(hit: Page) -> set[str]:
        found = known.get(id(hit))
        if found is None:
            # From the rendering's facts: no need to give the target everything else.
            hf = report.facts.get(hit.source) if hit.source else None
            found = known[id(hit)] = {t[1] for t in hf.toc} if hf is not None else set(hit.anchors)
        return found

    for page in pages:
        ctx.check_xrefs(page, report.facts[page.source], by_url.get, anchors_of, report)
    return report


def first_words(paragraph: str) -> str:
    """The first SUMMARY_WORDS words of a paragraph, whitespace folded, "…" when cut."""
    words = paragraph.split()
    return " ".join(words[:SUMMARY_WORDS]) + (" …" if len(words) > SUMMARY_WORDS else "")


def summarize(page: Page, more_text: str | None, first_paragraph: str) -> Markup:
    """Front matter summary, else the content before <!--more--> (`more_text`, as plain text),
    else the first paragraph (`first_words` of it), else the description. Always plain text: a
    summary is shown on other pages, where the page's relative links and #anchors would not
    resolve."""
    if page.fm.summary:
        return escape(page.fm.summary)
    if more_text is not None:
        return escape(more_text)
    if first_paragraph:
        return escape(first_paragraph)
    if page.fm.description:
        return escape(page.fm.description)
    return Markup("")


# ---- templates ------------------------------------------------------------------------------


@dataclass
class Paginator:
    items: list[Page]
    number: int  # 1-based
    total: int
    per_page: int
    base_url: str
    total_items: int

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.total

    def url_for(self, n: int) -> str:
        return self.base_url if n == 1 else f"{self.base_url}page/{n}/"

    @property
    def prev_url(self) -> str:
        return self.url_for(self.number - 1) if self.has_prev else ""

    @property
    def next_url(self) -> str:
        return self.url_for(self.number + 1) if self.has_next else ""

    @property
    def pages(self) -> list[tuple[int, str]]:
        return [(n, self.url_for(n)) for n in range(1, self.total + 1)]


def pager_count(page: Page, per_page: int) -> int:
    if page.kind not in LIST_KINDS:
        return 1
    return pagers(len(page.list_pages), per_page)


def paginator_for(page: Page, number: int, per_page: int) -> Paginator | None:
    if page.kind not in ("home", "section", "term"):
        return None
    items = page.list_pages
    total = pagers(len(items), per_page)
    start = (number - 1) * per_page
    return Paginator(
        items=items[start : start + per_page],
        number=number,
        total=total,
        per_page=per_page,
        base_url=page.url,
        total_items=len(items),
    )


def template_candidates(page: Page) -> list[str]:
    chosen = []
    if page.fm.template:
        t = page.fm.template
        chosen.append(t if t.endswith(".html") else t + ".html")
    kind = page.kind
    if kind == "page":
        return chosen + [f"{page.type}/single.html", "single.html"]
    if kind == "section":
        return chosen + [f"{page.type}/list.html", "section.html", "list.html"]
    if kind == "home":
        return chosen + ["home.html", "index.html", "list.html"]
    if kind == "term":
        return [f"{page.taxonomy}/term.html", "term.html", "list.html"]
    if kind == "terms":
        return [f"{page.taxonomy}/terms.html", "terms.html"]
    if kind == "404":
        return ["404.html"]
    return chosen + ["single.html"]


class MenusView(Mapping[str, list[MenuItem]]):
    """The `menus` global: the site's menus, read-only. Any use of it -- a menu taken from it
    (even one that is empty or absent), its names, its length, its truth -- is a read of
    site.menus, recorded in the environment (a menu added later re-renders what showed it)."""

    def __init__(self, env: TrackingEnvironment, site: Site):
        self._env = env
        self._site = site

    def _read(self) -> dict[str, list[MenuItem]]:
        self._env.reads[(id(self._site), "menus")] = self._site
        return self._site.menus

    def __getitem__(self, name: str) -> list[MenuItem]:
        return self._read()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def __repr__(self) -> str:
        return f"MenusView({sorted(self._site.menus)})"


class TrackingEnvironment(jinja2.Environment):
    """A Jinja2 environment that records what a render reads (bengal.incremental): every
    attribute or item taken from a model object, and every template name it loads or tries.
    One environment per worker and one render at a time, so the records are per output."""

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        # (id(object), attribute) -> object (Site and MenuItem are unhashable dataclasses)
        self.reads: dict[tuple[int, str], Any] = {}
        self.loaded: set[str] = set()

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) in TRACKED_TYPES:
            self.reads[(id(obj), attribute)] = obj
            if attribute == "is_active" and type(obj) is MenuItem:
                return functools.partial(self.is_active, obj)
        return super().getattr(obj, attribute)

    def is_active(self, item: MenuItem, page: Any) -> bool:
        """item.is_active(page), recording that it read the page's URL (compared in Python; a
        template may ask about a page other than the one it renders)."""
        if type(page) in TRACKED_TYPES:
            self.reads[(id(page), "url")] = page
        return item.is_active(page)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) in TRACKED_TYPES and isinstance(argument, str):
            self.reads[(id(obj), argument)] = obj
        return super().getitem(obj, argument)

    def _load_template(self, name: str, globals: Any) -> jinja2.Template:  # noqa: A002
        self.loaded.add(name)
        return super()._load_template(name, globals)


@dataclass
class RenderRecord:
    """What one render read: model objects' attributes, templates, helper calls."""

    reads: dict[tuple[int, str], Any]
    templates: set[str]
    calls: set[tuple[str, str, str]]
    warnings: list[str]


class StoredBytecodeCache(jinja2.BytecodeCache):
    """Jinja2's compiled templates, kept in the store's jinja table (one record per template,
    checked by the store's CRC like every record: Jinja2 runs cached bytecode through marshal,
    which can crash the interpreter on damaged data). A record that is missing or damaged means
    the template is compiled again and the record written again; one that cannot be written
    costs a compile next time. Written outside the build's transaction (by forked workers too:
    each has its own connection)."""

    def __init__(self, store: Store):
        self.store = store

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            data = self.store.get("jinja", bucket.key)
        except StoreDamaged:
            return
        if data is not None:
            bucket.load_bytecode(io.BytesIO(data))

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        buf = io.BytesIO()
        bucket.write_bytecode(buf)
        with contextlib.suppress(sqlite3.Error, OSError, StoreDamaged):
            self.store.put("jinja", bucket.key, buf.getvalue())


@dataclass
class _MenuRender:
    html: Markup
    reads: dict[tuple[int, str], Any]
    loaded: set[str]
    calls: set[tuple[str, str, str]]


class Templates:
    """The Jinja2 environment and the template lookup of one build (or one worker)."""

    def __init__(
        self,
        site_root: Path,
        site: Site,
        config: Config,
        bytecode: Store | None,
        ref: Callable[[str], str],
        asset_url: Callable[[str], str],
    ):
        search = []
        user_dir = site_root / "templates"
        self.user_dir = user_dir
        if user_dir.is_dir():
            search.append(str(user_dir))
        search.append(str(THEME_DIR / "templates"))
        bcc = StoredBytecodeCache(bytecode) if bytecode is not None else None
        self.search_dirs = [Path(d) for d in search]
        self.env = TrackingEnvironment(
            loader=jinja2.FileSystemLoader(search),
            autoescape=jinja2.select_autoescape(("html", "htm", "xml")),
            bytecode_cache=bcc,
            undefined=jinja2.ChainableUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.site = site
        self.config = config
        self.per_page = int(config.pagination["per_page"])
        self.env.globals.update(
            site=site,
            menus=MenusView(self.env, site),
            render_menu=self.render_menu,
            config=config,
            params=site.params,
            url_for=self.url_for,
            ref=self._tracked("ref", ref),
            asset_url=self._tracked("asset_url", asset_url),
        )
        self.calls: set[tuple[str, str, str]] = set()
        # Menu HTML by (menu, template, which items are active): a menu renders the same on
        # every page where the same items are active, so each variant is rendered once per
        # worker; what its render read is replayed into every output that shows it.
        self.menu_cache: dict[tuple[str, str, tuple[int, ...]], _MenuRender] = {}
        self.env.filters["date_format"] = _date_format
        self.env.filters["isodate"] = lambda d: d.isoformat() if d else ""
        self.env.filters["plain"] = plain_text
        self.env.filters["absurl"] = self.absurl
        # candidate names -> (template, its name, the names tried, front matter name missing)
        self._lookup: dict[tuple[str, ...], tuple[jinja2.Template, str, tuple[str, ...], bool]] = {}
        self._base_path = site.baseurl.split("://", 1)[-1].partition("/")[2]
        self.warnings: list[str] = []

    def _tracked(self, name: str, fn: Callable[[str], str]) -> Callable[[str], str]:
        def call(arg: str) -> str:
            result = fn(arg)
            self.calls.add((name, str(arg), result))
            return result

        return call

    @jinja2.pass_context
    def render_menu(
        self, context: jinja2.runtime.Context, name: str = "main",
        template: str = "partials/menu.html",
    ) -> Markup:  # fmt: skip
        """Template helper: the menu `name` rendered with `template`, which sees `items` (the
        menu's top-level items), `menu` (its name) and `is_active(item)` (the item is the
        current page or a section above it) -- and not the page itself, so its HTML depends
        only on which items are active and is reused across pages (menu_cache)."""
        env = self.env
        env.reads[(id(self.site), "menus")] = self.site
        items = self.site.menus.get(name, [])
        page = context.get("page")
        flat: list[MenuItem] = []
        stack = list(reversed(items))
        while stack:
            item = stack.pop()
            flat.append(item)
            stack.extend(reversed(item.children))
        active_ids = (
            {id(i) for i in flat if env.is_active(i, page)} if isinstance(page, Page) else set()
        )
        key = (name, template, tuple(n for n, i in enumerate(flat) if id(i) in active_ids))
        hit = self.menu_cache.get(key)
        if hit is None:
            outer = (env.reads, env.loaded, self.calls)
            env.reads, env.loaded, self.calls = {}, set(), set()
            try:
                html = env.get_template(template).render(
                    items=items, menu=name, is_active=lambda item: id(item) in active_ids
                )
                hit = _MenuRender(Markup(html), env.reads, env.loaded, self.calls)
            finally:
                env.reads, env.loaded, self.calls = outer
            self.menu_cache[key] = hit
        env.reads.update(hit.reads)
        env.loaded.update(hit.loaded)
        self.calls.update(hit.calls)
        return hit.html

    def url_for(self, target: Any) -> str:
        """A page, a section, or a site-relative path ("/about/", "css/x.css") -> link URL."""
        if type(target) in TRACKED_TYPES:
            self.env.reads[(id(target), "url")] = target
        if isinstance(target, Page):
            return target.url
        url = getattr(target, "url", None)
        if isinstance(url, str):
            return url
        s = str(target)
        if "://" in s or s.startswith(("#", "mailto:")):
            return s
        return "/" + posixpath.join(self._base_path, s.lstrip("/"))

    def absurl(self, url: str) -> str:
        if "://" in url:
            return url
        root = self.site.baseurl.split("://", 1)
        if len(root) == 2:
            host = root[1].split("/", 1)[0]
            return f"{root[0]}://{host}{url if url.startswith('/') else '/' + url}"
        return url

    def select(self, page: Page) -> tuple[jinja2.Template, str]:
        names = tuple(template_candidates(page))
        hit = self._lookup.get(names)
        if hit is None:
            hit = self._select(page, names)
            self._lookup[names] = hit
        tpl, name, tried, fm_missing = hit
        self.env.loaded.update(tried)
        if fm_missing:
            self.warnings.append(
                f"{page.source}: template '{names[0]}' (from front matter) not found; "
                f"using the normal lookup ({', '.join(names[1:])})"
            )
        return tpl, name

    def _select(
        self, page: Page, names: tuple[str, ...]
    ) -> tuple[jinja2.Template, str, tuple[str, ...], bool]:
        fm_missing = False
        for i, name in enumerate(names):
            try:
                tpl = self.env.get_template(name)
            except jinja2.TemplateNotFound:
                if i == 0 and page.fm.template and page.kind in ("page", "section", "home"):
                    fm_missing = True
                continue
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(
                    f"syntax error: {exc.message}",
                    template=self.display_name(exc.filename or name),
                    line=exc.lineno,
                ) from None
            return tpl, name, names[: i + 1], fm_missing
        raise TemplateError(
            f"no template for {page.kind} page {page.source or page.url}; looked for: "
            + ", ".join(names)
        )

    def display_name(self, filename: str) -> str:
        """A template file as the user knows it: templates/x.html or theme:x.html."""
        for prefix, label in (
            (str(self.user_dir) + "/", "templates/"),
            (str(THEME_DIR / "templates") + "/", "theme:"),
        ):
            if filename.startswith(prefix):
                return label + filename[len(prefix) :]
        return filename

    def render_tracked(self, page: Page, pager: int = 1) -> tuple[str, RenderRecord]:
        """render(), and what it read (for incremental builds)."""
        env = self.env
        env.reads = {}
        env.loaded = set()
        self.calls = set()
        n_warn = len(self.warnings)
        html = self.render(page, pager)
        rec = RenderRecord(env.reads, env.loaded, self.calls, self.warnings[n_warn:])
        return html, rec

    def render(self, page: Page, pager: int = 1) -> str:
        tpl, name = self.select(page)
        paginator = paginator_for(page, pager, self.per_page)
        ctx = {
            "page": page,
            "section": page.section,
            "content": page.content,
            "toc": page.toc,
            "paginator": paginator,
        }
        try:
            return tpl.render(ctx)
        except jinja2.TemplateError as exc:
            raise self._error(exc, name, page) from None
        except TemplateError as exc:  # ref() or asset_url() refused: where it was called
            frame = self._template_frame(exc)
            raise TemplateError(
                f"{exc.reason} (while rendering {page.source or page.url})",
                template=self.display_name(frame[0] if frame else (tpl.filename or name)),
                line=frame[1] if frame else None,
            ) from None
        except Exception as exc:  # a filter or helper raised: name the template and page
            frame = self._template_frame(exc)
            raise TemplateError(
                f"{type(exc).__name__}: {exc} (while rendering {page.source or page.url})",
                template=self.display_name(frame[0] if frame else (tpl.filename or name)),
                line=frame[1] if frame else None,
            ) from None

    def _error(self, exc: jinja2.TemplateError, name: str, page: Page) -> TemplateError:
        line = getattr(exc, "lineno", None)
        tname = getattr(exc, "filename", None) or name
        what = page.source or page.url
        if isinstance(exc, jinja2.TemplateNotFound):
            return TemplateError(
                f"template '{exc.name}' not found (included while rendering {what}); looked in "
                + ", ".join(self.env.loader.searchpath),  # type: ignore[union-attr]
                template=self.display_name(tname),
            )
        frame = self._template_frame(exc)
        if frame is not None and not isinstance(exc, jinja2.TemplateSyntaxError):
            tname, line = frame  # the innermost template: an included one, a menu's
        return TemplateError(
            f"{type(exc).__name__}: {exc} (while rendering {what})",
            template=self.display_name(str(tname)),
            line=line,
        )

    def _template_frame(self, exc: BaseException) -> tuple[str, int] | None:
        """(file, line) of the innermost template in the traceback (Jinja2 maps its frames to
        template files and lines), or None."""
        dirs = tuple(str(d) + "/" for d in self.search_dirs)
        found = None
        tb = exc.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename.startswith(dirs):
                found = (filename, tb.tb_lineno)
            tb = tb.tb_next
        return found


def _date_format(value: Any, fmt: str = "%B %-d, %Y") -> str:
    if value is None:
        return ""
    return str(value.strftime(fmt))


def render_jobs(site: Site, per_page: int) -> list[tuple[Page, int]]:
    """Every output page: (page, pager number), in output-path order."""
    jobs: list[tuple[Page, int]] = []
    for page in site.pages:
        for n in range(1, pager_count(page, per_page) + 1):
            jobs.append((page, n))
    return jobs
