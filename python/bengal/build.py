"""The build, stage by stage: content files -> rendered pages in the output directory.

This is the foundation's minimal pipeline (discover -> parse -> render Markdown natively ->
wrap in a page template -> write). The full SSG (sections, taxonomies, themes, feeds, ...)
grows here, and this module stays the one place where the stage order is written.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

import bengal_native

PAGE_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
</head>
<body>
<main>
{toc}{body}</main>
</body>
</html>
"""


@dataclass
class BuildReport:
    output_dir: Path
    pages: int = 0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class SourcePage:
    path: Path
    rel: str
    meta: dict[str, object]
    body: str
    body_line: int  # line of the body's first line in the file


def split_front_matter(text: str, rel: str) -> tuple[dict[str, object], str, int]:
    """Split YAML front matter (between '---' lines) from the body."""
    if not text.startswith("---"):
        return {}, text, 1
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        return {}, text, 1
    for i in range(1, len(lines)):
        if lines[i].rstrip() in ("---", "..."):
            raw = "\n".join(lines[1:i])
            try:
                meta = yaml.safe_load(raw) or {}
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f":{mark.line + 2}" if mark is not None else ""
                raise ValueError(f"{rel}{where}: invalid YAML front matter: {exc}") from None
            if not isinstance(meta, dict):
                raise ValueError(f"{rel}:1: front matter must be a mapping, got {type(meta).__name__}")
            return meta, "\n".join(lines[i + 1 :]), i + 2
    raise ValueError(f"{rel}:1: front matter opened with '---' is never closed")


def _url_for(rel: str) -> str:
    stem = rel[:-3] if rel.endswith(".md") else rel
    if stem in ("_index", "index"):
        return "/"
    for leaf in ("/_index", "/index"):
        if stem.endswith(leaf):
            stem = stem[: -len(leaf)]
    return f"/{stem}/"


def build_site(site: Path, output: Path | None = None) -> BuildReport:
    content = site / "content"
    out_dir = output if output is not None else site / "public"
    report = BuildReport(output_dir=out_dir)

    # discover
    files = sorted(p for p in content.rglob("*.md") if p.is_file()) if content.is_dir() else []

    # parse
    pages: list[SourcePage] = []
    for path in files:
        rel = path.relative_to(content).as_posix()
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            report.errors.append(f"{rel}: not valid UTF-8 (byte {exc.start}); save it as UTF-8")
            continue
        try:
            meta, body, body_line = split_front_matter(text, rel)
        except ValueError as exc:
            report.errors.append(str(exc))
            continue
        pages.append(SourcePage(path, rel, meta, body, body_line))

    # assemble: the cross-reference index
    # Keys in priority order (first add wins): content paths, ids, file stems, titles.
    index = bengal_native.XrefIndex()
    entries = [
        (p, _url_for(p.rel), str(p.meta.get("title") or Path(p.rel).stem)) for p in pages
    ]
    for page, url, title in entries:
        index.add(bengal_native.XrefIndex.normalize_path(page.rel), url, title)
    for page, url, title in entries:
        if page.meta.get("id"):
            index.add(f"id:{page.meta['id']}", url, title)
    for page, url, title in entries:
        index.add(Path(page.rel).stem, url, title)
    for _page, url, title in entries:
        index.add(title, url, title)

    # render Markdown (native, parallel, GIL released)
    results = bengal_native.render_markdown_batch([p.body for p in pages], xref_index=index)

    # wrap + write
    for page, res in zip(pages, results):
        for w in res.warnings:
            line = w.line + page.body_line - 1 if w.line else 0
            report.warnings.append(f"{page.rel}:{line}: {w.message}" if line else f"{page.rel}: {w.message}")
        title = str(page.meta.get("title") or (res.toc[0].text if res.toc else Path(page.rel).stem))
        toc = ""
        if len(res.toc) > 1:
            items = "".join(
                f'<li><a href="#{html.escape(e.id)}">{html.escape(e.text)}</a></li>' for e in res.toc
            )
            toc = f'<nav class="toc"><ul>{items}</ul></nav>\n'
        doc = PAGE_TEMPLATE.format(title=html.escape(title), toc=toc, body=res.html)
        target = out_dir / _url_for(page.rel).strip("/") / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        tmp.write_text(doc, encoding="utf-8")
        os.replace(tmp, target)
        report.pages += 1
    return report
