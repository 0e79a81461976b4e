"""Site-wide outputs: sitemap.xml, RSS feeds, search.json, alias redirects, robots.txt.

Each function takes the assembled, rendered site and returns {output path: bytes}; build.py
hands them to the writer. Everything is ordered and dated from the content (never the clock),
so two builds of the same sources give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import html as html_module
import json
from email.utils import format_datetime

from markupsafe import escape

from bengal.model import Page, Site

FEED_LIMIT = 20


def xml_escape(text: str) -> str:
    """&, < and > escaped (xml.sax.saxutils.escape's rule; that module imports urllib.request,
    ~10 ms of every command's start)."""
    return html_module.escape(text, quote=False)


def _abs(site: Site, page_or_url: Page | str) -> str:
    if isinstance(page_or_url, Page):
        return page_or_url.permalink
    url = page_or_url
    if "://" in url:
        return url
    scheme, _, rest = site.baseurl.partition("://")
    host = rest.split("/", 1)[0]
    if not scheme or not host:
        return url
    return f"{scheme}://{host}{url}"


def _w3c(d: dt.datetime) -> str:
    return d.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sitemap(site: Site) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    for page in sorted(site.pages, key=lambda p: p.permalink):
        if page.kind == "404":
            continue
        lines.append("<url>")
        lines.append(f"<loc>{xml_escape(page.permalink)}</loc>")
        lastmod = page.lastmod
        if lastmod is not None:
            lines.append(f"<lastmod>{_w3c(lastmod)}</lastmod>")
        lines.append("</url>")
    lines.append("</urlset>")
    return ("\n".join(lines) + "\n").encode("utf-8")


def rss(site: Site, title: str, link_page: Page, pages: list[Page], feed_url: str) -> bytes:
    items = [p for p in pages if p.kind == "page"][:FEED_LIMIT]
    dates = [p.date for p in items if p.date is not None]
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">',
        "<channel>",
        f"<title>{xml_escape(title)}</title>",
        f"<link>{xml_escape(link_page.permalink)}</link>",
        f"<description>{xml_escape(site.description or 'Recent content on ' + site.title)}"
        "</description>",
        f"<language>{xml_escape(site.language)}</language>",
        f'<atom:link href="{xml_escape(feed_url)}" rel="self" type="application/rss+xml"/>',
    ]
    if dates:
        out.append(f"<lastBuildDate>{format_datetime(max(dates))}</lastBuildDate>")
    for p in items:
        out.append("<item>")
        out.append(f"<title>{xml_escape(p.title)}</title>")
        out.append(f"<link>{xml_escape(p.permalink)}</link>")
        out.append(f'<guid isPermaLink="true">{xml_escape(p.permalink)}</guid>')
        if p.date is not None:
            out.append(f"<pubDate>{format_datetime(p.date)}</pubDate>")
        for term in p.categories:
            out.append(f"<category>{xml_escape(term.name)}</category>")
        out.append(f"<description>{xml_escape(html_module.unescape(str(p.summary)))}</description>")
        out.append("</item>")
    out.append("</channel>")
    out.append("</rss>")
    return ("\n".join(out) + "\n").encode("utf-8")


def feeds(site: Site) -> dict[str, bytes]:
    """index.xml for the site and for every section that has pages."""
    files: dict[str, bytes] = {}
    home = site.home
    assert home is not None and home.index is not None
    files["index.xml"] = rss(
        site, site.title, home.index, site.regular_pages, home.index.permalink + "index.xml"
    )
    for path, sec in sorted(site.sections.items()):
        if not path or sec.index is None:
            continue
        pages = sorted(
            sec.walk_pages(), key=lambda p: (-(p.date.timestamp() if p.date else 0), p.source)
        )
        if not pages:
            continue
        out_dir = sec.index.output_path.rsplit("/", 1)[0]
        files[f"{out_dir}/index.xml"] = rss(
            site,
            f"{sec.title} on {site.title}",
            sec.index,
            pages,
            sec.index.permalink + "index.xml",
        )
    return files


def search_index(site: Site) -> bytes:
    entries = []
    for p in site.pages:
        if p.kind not in ("page", "section", "home"):
            continue
        summary = html_module.unescape(str(p.summary))
        if len(summary) > 300:
            summary = summary[:297].rsplit(" ", 1)[0] + "…"
        entries.append(
            {
                "title": p.title,
                "url": p.url,
                "summary": summary,
                "tags": [t.name for t in p.tags],
                "section": p.section.title if p.section is not None and p.section.path else "",
            }
        )
    entries.sort(key=lambda e: str(e["url"]))
    return (json.dumps(entries, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


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
