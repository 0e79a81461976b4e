"""Checks shared by the end-to-end tests: parse a built output tree and verify that every
internal link, fragment and asset resolves, and that sitemap, feeds and search index are valid."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []  # a[href], link[href]
        self.assets: list[str] = []  # img/script src
        self.canonical: str | None = None
        self.refresh: str | None = None
        self.broken_refs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "link" and "href" in a:
            if a.get("rel") == "canonical":
                self.canonical = a["href"]
            else:
                self.links.append(a["href"])
        if tag in ("img", "script") and a.get("src"):
            self.assets.append(a["src"])
        if tag == "meta" and a.get("http-equiv") == "refresh":
            self.refresh = a.get("content")
        if tag == "span" and "broken-ref" in a.get("class", ""):
            self.broken_refs += 1


def parse_tree(out: Path) -> dict[str, PageParser]:
    pages: dict[str, PageParser] = {}
    for path in sorted(out.rglob("*.html")):
        p = PageParser()
        p.feed(path.read_text(encoding="utf-8"))
        pages[path.relative_to(out).as_posix()] = p
    return pages


def resolve(out: Path, page_rel: str, href: str, base_path: str = "/") -> tuple[str, str] | None:
    """Output file (relative) and fragment a link points to, or None for external links."""
    u = urlparse(href)
    if u.scheme or u.netloc or href.startswith(("mailto:", "tel:", "javascript:")):
        return None
    path = unquote(u.path)
    if not path:
        return page_rel, u.fragment
    if path.startswith("/"):
        assert path.startswith(base_path), f"{page_rel}: {href} is outside the base path"
        target = path[len(base_path) :]
    else:
        base = page_rel.rpartition("/")[0]
        target = f"{base}/{path}" if base else path
    parts: list[str] = []
    for seg in target.split("/"):
        if seg == "..":
            assert parts, f"{page_rel}: {href} leaves the site"
            parts.pop()
        elif seg not in ("", "."):
            parts.append(seg)
    target = "/".join(parts)
    if path.endswith("/") or target == "":
        target = f"{target}/index.html" if target else "index.html"
    return target, u.fragment


def check_links(out: Path, base_path: str = "/") -> dict[str, PageParser]:
    pages = parse_tree(out)
    problems = []
    for rel, p in pages.items():
        for href in p.links + p.assets:
            r = resolve(out, rel, href, base_path)
            if r is None:
                continue
            target, frag = r
            if not (out / target).is_file():
                problems.append(f"{rel}: {href} -> {target} does not exist")
                continue
            if frag and target.endswith(".html"):
                tp = pages.get(target)
                if tp is not None and frag not in tp.ids:
                    problems.append(f"{rel}: {href} names no element #{frag} in {target}")
    assert not problems, "\n".join(problems[:50])
    return pages


def check_sitemap(out: Path) -> list[str]:
    tree = ET.parse(out / "sitemap.xml")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = tree.getroot()
    assert root.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset"
    locs = [u.findtext("s:loc", namespaces=ns) or "" for u in root.findall("s:url", ns)]
    assert locs and all(loc.startswith(("http://", "https://", "/")) for loc in locs)
    assert len(locs) == len(set(locs))
    return locs


def check_rss(path: Path) -> int:
    root = ET.parse(path).getroot()
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    for required in ("title", "link", "description"):
        assert channel.findtext(required), f"{path}: channel lacks <{required}>"
    items = channel.findall("item")
    for item in items:
        assert item.findtext("title") and item.findtext("link") and item.findtext("guid")
        pub = item.findtext("pubDate")
        if pub:
            assert parsedate_to_datetime(pub).tzinfo is not None
    return len(items)


def check_search(out: Path) -> list[dict[str, object]]:
    data = json.loads((out / "search.json").read_text(encoding="utf-8"))
    assert isinstance(data, list)
    for entry in data:
        assert set(entry) == {"title", "url", "summary", "tags", "section"}
    return data


def tree_digest(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }
