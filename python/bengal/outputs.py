"""Site-wide outputs: sitemap.xml, RSS feeds, search.json, alias redirects, robots.txt.

Each function returns {output path: bytes} (or the bytes of one file); bengal.publish hands them
to the writer. Everything is ordered and dated from the content (never the clock),
so two builds of the same sources give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import html as html_module
import json
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any, NamedTuple

from markupsafe import escape

from bengal.model import Page, Site
from bengal.store import RECORDS

FEED_LIMIT = 20


def xml_escape(text: str) -> str:
    """&, < and > escaped (xml.sax.saxutils.escape's rule; that module imports urllib.request,
    ~10 ms of every command's start)."""
    return html_module.escape(text, quote=False)


def _w3c(d: dt.datetime) -> str:
    return d.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- per-page entries ------------------------------------------------------------------------
#
# The sitemap, the feeds and the search index are made of one entry per page, joined in an order
# that follows from the entries alone. A build keeps the entries (the store's entries table; the
# dev server's memory), so a change to a few pages makes their entries again and joins the rest
# as stored: no page it did not change is read (bengal.edits).

_EPOCH_TS = dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc).timestamp()
SEARCH_KINDS = ("page", "section", "home")


class Entry(NamedTuple):
    """What one page gives the site-wide files."""

    kind: str
    source: str
    url: str
    permalink: str
    output_path: str
    title: str
    section: str | None  # its section's path (for home and section pages: the one they index)
    date: float | None  # its date as a timestamp (feeds' order)
    pubdate: str  # its date as RSS writes it ("" without one)
    sitemap: str  # its <url> element ("" for the 404 page)
    search: str  # its search.json object ("" for kinds not searched)
    item: str  # its RSS <item> ("" for pages that are not regular pages)


# The store's entries table holds them as plain tuples.
RECORDS["entries"] = (tuple, lambda t: Entry(*t))


def entry_of(p: Page) -> Entry:
    date = p.date
    sitemap = ""
    if p.kind != "404":
        lastmod = p.lastmod
        sitemap = f"<url>\n<loc>{xml_escape(p.permalink)}</loc>\n" + (
            f"<lastmod>{_w3c(lastmod)}</lastmod>\n</url>" if lastmod is not None else "</url>"
        )
    search = ""
    if p.kind in SEARCH_KINDS:
        summary = html_module.unescape(str(p.summary))
        if len(summary) > 300:
            summary = summary[:297].rsplit(" ", 1)[0] + "…"
        obj = {
            "title": p.title,
            "url": p.url,
            "summary": summary,
            "tags": [t.name for t in p.tags],
            "section": p.section.title if p.section is not None and p.section.path else "",
        }
        search = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    item = ""
    if p.kind == "page":
        lines = [
            "<item>",
            f"<title>{xml_escape(p.title)}</title>",
            f"<link>{xml_escape(p.permalink)}</link>",
            f'<guid isPermaLink="true">{xml_escape(p.permalink)}</guid>',
        ]
        if date is not None:
            lines.append(f"<pubDate>{format_datetime(date)}</pubDate>")
        lines.extend(f"<category>{xml_escape(t.name)}</category>" for t in p.categories)
        lines.append(
            f"<description>{xml_escape(html_module.unescape(str(p.summary)))}</description>"
        )
        lines.append("</item>")
        item = "\n".join(lines)
    return Entry(
        kind=p.kind,
        source=p.source,
        url=p.url,
        permalink=p.permalink,
        output_path=p.output_path,
        title=p.title,
        section=None if p.section is None else p.section.path,
        date=None if date is None else date.timestamp(),
        pubdate="" if date is None else format_datetime(date),
        sitemap=sitemap,
        search=search,
        item=item,
    )


def entries_of(site: Site) -> dict[str, Entry]:
    """Every page's entry, by page key."""
    from bengal.incremental import page_key

    return {page_key(p): entry_of(p) for p in site.pages}


def sitemap(entries: Iterable[Entry]) -> bytes:
    urls = sorted((e.permalink, e.sitemap) for e in entries if e.sitemap)
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
        *(u for _, u in urls),
        "</urlset>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def search_index(entries: Iterable[Entry]) -> bytes:
    found = sorted((e.url, e.output_path, e.search) for e in entries if e.search)
    return ("[" + ",".join(s for _, _, s in found) + "]\n").encode("utf-8")


@dataclass
class Channel:
    """What a feed says about itself (the site's fields, and the page it is the feed of)."""

    title: str
    description: str
    language: str


def rss(channel: Channel, title: str, link_page: Entry, items: list[Entry]) -> bytes:
    """A feed of the first FEED_LIMIT regular pages of `items` (in feed order)."""
    items = [e for e in items if e.kind == "page"][:FEED_LIMIT]
    feed_url = link_page.permalink + "index.xml"
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">',
        "<channel>",
        f"<title>{xml_escape(title)}</title>",
        f"<link>{xml_escape(link_page.permalink)}</link>",
        f"<description>{xml_escape(channel.description or 'Recent content on ' + channel.title)}"
        "</description>",
        f"<language>{xml_escape(channel.language)}</language>",
        f'<atom:link href="{xml_escape(feed_url)}" rel="self" type="application/rss+xml"/>',
    ]
    newest: Entry | None = None
    for e in items:  # (the first of the newest, as max() takes it)
        if e.date is not None and (newest is None or e.date > newest.date):  # type: ignore[operator]
            newest = e
    if newest is not None:
        out.append(f"<lastBuildDate>{newest.pubdate}</lastBuildDate>")
    out.extend(e.item for e in items)
    out.append("</channel>")
    out.append("</rss>")
    return ("\n".join(out) + "\n").encode("utf-8")


def _home_order(e: Entry) -> tuple[Any, ...]:
    # bengal.assemble.date_key: the order of site.regular_pages
    return (-(e.date if e.date is not None else _EPOCH_TS), e.title.lower(), e.source)


def _section_order(e: Entry) -> tuple[Any, ...]:
    return (-(e.date if e.date is not None else 0), e.source)


def feed_paths(entries: dict[str, Entry]) -> list[str]:
    """Every feed the entries make (the paths feeds() writes, without making them)."""
    index = _index_entries(entries)
    with_pages: set[str] = set()
    for e in entries.values():
        path = e.section if e.kind == "page" else None
        while path and path not in with_pages:
            with_pages.add(path)
            path = path.rpartition("/")[0]
    return ["index.xml"] + [
        index[p].output_path.rsplit("/", 1)[0] + "/index.xml"
        for p in sorted(with_pages & index.keys())
    ]


def _index_entries(entries: dict[str, Entry]) -> dict[str, Entry]:
    """Section path -> its index page's entry."""
    return {e.section: e for e in entries.values() if e.kind == "section" and e.section}


def _feed_sections(entries: dict[str, Entry], only: set[str] | None) -> dict[str, list[Entry]]:
    """Section path -> the regular pages of the section and those below it (only the sections in
    `only`, when given), for every section with an index page and pages."""
    index = _index_entries(entries)
    members: dict[str, list[Entry]] = {}
    for e in entries.values():
        if e.kind != "page" or not e.section:
            continue
        path = e.section
        while path:
            if (only is None or path in only) and path in index:
                members.setdefault(path, []).append(e)
            path = path.rpartition("/")[0]
    return dict(sorted(members.items()))


def feeds(
    channel: Channel, entries: dict[str, Entry], only: set[str | None] | None = None
) -> dict[str, bytes]:
    """index.xml for the site and for every section that has pages -- or only for the sections
    in `only` (None in it: the site's)."""
    files: dict[str, bytes] = {}
    if only is None or None in only:
        home = next(e for e in entries.values() if e.kind == "home")
        regular = sorted((e for e in entries.values() if e.kind == "page"), key=_home_order)
        files["index.xml"] = rss(channel, channel.title, home, regular)
    index = _index_entries(entries)
    wanted = None if only is None else {p for p in only if p is not None}
    for path, pages in _feed_sections(entries, wanted).items():
        sec = index[path]
        pages.sort(key=_section_order)
        out_dir = sec.output_path.rsplit("/", 1)[0]
        files[f"{out_dir}/index.xml"] = rss(channel, f"{sec.title} on {channel.title}", sec, pages)
    return files


def channel_of(site: Site) -> Channel:
    return Channel(title=site.title, description=site.description, language=site.language)


def sitewide_files(site: Site, entries: dict[str, Entry]) -> dict[str, bytes]:
    """The sitemap, the search index and the feeds of a site whose entries these are."""
    files = {
        "sitemap.xml": sitemap(entries.values()),
        "search.json": search_index(entries.values()),
    }
    files.update(feeds(channel_of(site), entries))
    return files


def changed_files(
    site: Site, entries: dict[str, Entry], before: dict[str, Entry]
) -> dict[str, bytes]:
    """The site-wide files that entries changed since `before` show differently, made again
    (all of them when pages came or went)."""
    if entries.keys() != before.keys():
        return sitewide_files(site, entries)
    changed = [(before[k], e) for k, e in entries.items() if before[k] != e]
    files: dict[str, bytes] = {}
    if any(a.sitemap != b.sitemap or a.permalink != b.permalink for a, b in changed):
        files["sitemap.xml"] = sitemap(entries.values())
    if any(a.search != b.search or a.url != b.url for a, b in changed):
        files["search.json"] = search_index(entries.values())
    feeds_of: set[str | None] = set()
    for a, b in changed:
        for e in (a, b):
            if e.kind == "page":
                feeds_of.add(None)
                path = e.section or ""
                while path:
                    feeds_of.add(path)
                    path = path.rpartition("/")[0]
            elif e.kind == "home":
                feeds_of.add(None)
            elif e.kind == "section" and e.section:
                feeds_of.add(e.section)
    if feeds_of:
        files.update(feeds(channel_of(site), entries, feeds_of))
    return files


ALIAS_TEMPLATE = """<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="canonical" href="{permalink}">
<meta name="robots" content="noindex">
<meta http-equiv="refresh" content="0; url={url}">
</head>
<body>
<p>This page has moved to <a href="{url}">{title}</a>.</p>
</body>
</html>
"""


def alias_path(alias: str) -> str:
    a = "/" + alias.strip().lstrip("/")
    if a.endswith("/"):
        return a.lstrip("/") + "index.html"
    last = a.rsplit("/", 1)[-1]
    if "." in last:
        return a.lstrip("/")
    return a.lstrip("/") + "/index.html"


def aliases(site: Site) -> tuple[dict[str, bytes], list[str]]:
    files: dict[str, bytes] = {}
    errors: list[str] = []
    taken = set(site.page_by_output)
    for p in site.pages:
        for alias in p.fm.aliases:
            path = alias_path(alias)
            if ".." in path.split("/"):
                errors.append(f"{p.source}: alias {alias!r} leaves the site; remove the '..'")
                continue
            if path in taken:
                errors.append(
                    f"{p.source}: alias {alias!r} would overwrite {path}, which another page or "
                    "alias already writes"
                )
                continue
            taken.add(path)
            files[path] = ALIAS_TEMPLATE.format(
                lang=escape(site.language),
                title=escape(p.title),
                permalink=escape(p.permalink),
                url=escape(p.url),
            ).encode("utf-8")
    return files, errors


def robots(site: Site) -> bytes:
    sitemap_url = f"{site.baseurl.rstrip('/')}/sitemap.xml"
    return f"User-agent: *\nAllow: /\n\nSitemap: {sitemap_url}\n".encode()
