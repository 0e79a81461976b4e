"""The baseline: a pure-Python static site pipeline of the kind other Python SSGs use.

    python -m benchmarks.python_pipeline SITE OUT

PyYAML front matter (`yaml.safe_load`, as Pelican and MkDocs do), mistune 3 for Markdown,
Jinja2 for templates, an html.parser pass for asset references, and plain file writes. It
produces the same kinds of pages bengal does for a generated site (pages, paginated section
lists, tag pages, feeds of the home) with comparable page furniture (menu, breadcrumbs, tags,
prev/next), so pages per second are comparable. It is a benchmark peer, not a product: it skips
everything bengal validates.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
import yaml

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ page.title }} · {{ site_title }}</title>
<link rel="stylesheet" href="/assets/css/site.css"></head>
<body><header><a href="/">{{ site_title }}</a><nav><ul>
{% for item in menu %}<li><a href="{{ item.url }}"{% if page.url.startswith(item.url) %} class="active"{% endif %}>{{ item.name }}</a></li>{% endfor %}
</ul></nav></header>
<nav class="breadcrumbs">{% for crumb in page.crumbs %}<a href="{{ crumb.url }}">{{ crumb.title }}</a> / {% endfor %}</nav>
<main><h1>{{ page.title }}</h1>
{% if page.date %}<p class="meta">{{ page.date }}</p>{% endif %}
{% if items is defined %}
{% for p in items %}<article><h2><a href="{{ p.url }}">{{ p.title }}</a></h2><p>{{ p.summary }}</p></article>{% endfor %}
{% if next_url %}<a rel="next" href="{{ next_url }}">Older</a>{% endif %}
{% else %}
<div class="content">{{ content }}</div>
{% if page.tags %}<ul class="tags">{% for t in page.tags %}<li><a href="/tags/{{ t }}/">#{{ t }}</a></li>{% endfor %}</ul>{% endif %}
<nav>{% if page.prev %}<a href="{{ page.prev.url }}">{{ page.prev.title }}</a>{% endif %}
{% if page.next %}<a href="{{ page.next.url }}">{{ page.next.title }}</a>{% endif %}</nav>
{% endif %}
</main><footer>Built with the Python pipeline</footer></body></html>
"""


class AssetScanner(HTMLParser):
    ATTRS = {"img": ("src",), "script": ("src",), "link": ("href",), "source": ("src",)}

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name in self.ATTRS.get(tag, ()):
            for k, v in attrs:
                if k == name and v:
                    self.refs.append(v)


_WIKI = re.compile(r"\[\[([^\]|#]+)(?:#[^\]|]*)?(?:\|([^\]]+))?\]\]")


def run(site: Path, out: Path, per_page: int = 10) -> dict[str, Any]:
    import mistune

    t0 = time.perf_counter()
    md = mistune.create_markdown(plugins=["table", "strikethrough", "task_lists"])
    env = jinja2.Environment(autoescape=True)
    tpl = env.from_string(TEMPLATE)
    pages: list[dict[str, Any]] = []
    for path in sorted((site / "content").rglob("*.md")):
        rel = path.relative_to(site / "content").as_posix()
        text = path.read_text(encoding="utf-8")
        meta: dict[str, Any] = {}
        body = text
        if text.startswith("---\n"):
            end = text.find("\n---", 4)
            meta = yaml.safe_load(text[4:end]) or {}
            body = text[end + 4 :]
        stem = rel[:-3]
        url = (
            "/"
            if stem == "_index"
            else "/" + stem.replace("/_index", "").replace("/index", "") + "/"
        )
        pages.append(
            {
                "rel": rel,
                "title": str(meta.get("title", stem)),
                "date": str(meta.get("date", "")),
                "tags": [str(t) for t in meta.get("tags", []) or []],
                "url": url,
                "body": body,
                "section": rel.rsplit("/", 1)[0] if "/" in rel else "",
                "is_list": rel.endswith("_index.md"),
            }
        )
    by_url = {p["rel"][:-3]: p for p in pages}
    sections: dict[str, list[dict[str, Any]]] = {}
    for p in pages:
        if not p["is_list"]:
            sections.setdefault(p["section"], []).append(p)
    for members in sections.values():
        members.sort(key=lambda p: (p["date"], p["title"]), reverse=True)
        for a, b in zip(members, members[1:], strict=False):
            a["next"], b["prev"] = b, a
    menu = [
        {"name": s.split("/")[0].title(), "url": f"/{s.split('/')[0]}/"}
        for s in sorted(sections)
        if s
    ][:8]

    def xref(m: re.Match[str]) -> str:
        target = by_url.get(m.group(1).strip())
        text = m.group(2) or (target["title"] if target else m.group(1))
        return f"[{text}]({target['url'] if target else '#'})"

    count = 0
    assets = 0

    def write(url: str, html: str) -> None:
        nonlocal count, assets
        scanner = AssetScanner()
        scanner.feed(html)
        assets += len(scanner.refs)
        dest = out / url.strip("/") / "index.html"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(html, encoding="utf-8")
        count += 1

    for p in pages:
        crumbs = []
        parts = p["url"].strip("/").split("/")[:-1]
        for i in range(len(parts)):
            crumbs.append({"url": "/" + "/".join(parts[: i + 1]) + "/", "title": parts[i].title()})
        p["crumbs"] = crumbs
        p["content"] = md(_WIKI.sub(xref, p["body"]))
        p["summary"] = re.sub(r"<[^>]+>", "", str(p["content"]))[:200]
    site_title = "Generated"
    for p in pages:
        if p["is_list"]:
            items = sections.get(p["section"] if p["rel"] != "_index.md" else "", [])
            if p["rel"] == "_index.md":
                items = sorted(
                    (q for q in pages if not q["is_list"]), key=lambda q: q["date"], reverse=True
                )
            chunks = [items[i : i + per_page] for i in range(0, max(len(items), 1), per_page)]
            for n, chunk in enumerate(chunks, 1):
                url = p["url"] if n == 1 else f"{p['url']}page/{n}/"
                nxt = f"{p['url']}page/{n + 1}/" if n < len(chunks) else None
                write(
                    url,
                    tpl.render(page=p, items=chunk, next_url=nxt, menu=menu, site_title=site_title),
                )
        else:
            write(
                p["url"],
                tpl.render(
                    page=p,
                    content=jinja2.utils.markupsafe.Markup(p["content"]),
                    menu=menu,
                    site_title=site_title,
                ),
            )
    tags: dict[str, list[dict[str, Any]]] = {}
    for p in pages:
        for t in p["tags"]:
            tags.setdefault(t, []).append(p)
    for t, members in sorted(tags.items()):
        members.sort(key=lambda q: q["date"], reverse=True)
        chunks = [members[i : i + per_page] for i in range(0, len(members), per_page)]
        for n, chunk in enumerate(chunks, 1):
            url = f"/tags/{t}/" if n == 1 else f"/tags/{t}/page/{n}/"
            page = {"title": t, "url": url, "crumbs": [], "date": ""}
            write(
                url,
                tpl.render(page=page, items=chunk, next_url=None, menu=menu, site_title=site_title),
            )
    return {"pages": count, "seconds": time.perf_counter() - t0, "asset_refs": assets}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    res = run(args.site, args.out)
    print(
        f"{res['pages']} pages in {res['seconds']:.2f} s ({res['pages'] / res['seconds']:.0f} pages/s)"
    )
    os._exit(0)


if __name__ == "__main__":
    main()
