"""The bundled example site and our own docs (a bengal site) build with --strict, and every
page, link, fragment, feed and sitemap entry in them is valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from site_checks import check_links, check_rss, check_search, check_sitemap, parse_tree

SITES = {
    "showcase": REPO / "examples" / "showcase",
    "docs": REPO / "docs",
}


def build_cli(site: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bengal",
            "build",
            str(site),
            "--output",
            str(out),
            "--strict",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(SITES))
def test_site_builds_strict_and_valid(name: str, tmp_path: Path) -> None:
    site = SITES[name]
    assert (site / "bengal.toml").is_file(), f"{site} is not a bengal site"
    out = tmp_path / "public"
    proc = build_cli(site, out)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr, proc.stderr
    pages = check_links(out)
    assert all(p.broken_refs == 0 for p in pages.values())
    locs = check_sitemap(out)
    html_pages = [rel for rel, p in pages.items() if p.refresh is None and rel != "404.html"]
    # Every page (not alias redirects or pagers) is in the sitemap.
    for rel in html_pages:
        if rel.startswith("page/") or "/page/" in rel:
            continue  # pagers 2..n are not separate pages
        url = "/" + rel.removesuffix("index.html")
        assert any(loc.endswith(url) for loc in locs), f"{rel} missing from sitemap"
    check_rss(out / "index.xml")
    for feed in out.rglob("index.xml"):
        check_rss(feed)
    assert check_search(out)
    assert (out / "robots.txt").is_file() and (out / "404.html").is_file()


def test_showcase_has_the_promised_features(tmp_path: Path) -> None:
    out = tmp_path / "public"
    proc = build_cli(SITES["showcase"], out)
    assert proc.returncode == 0, proc.stderr
    pages = parse_tree(out)
    assert len([p for p in pages if p.endswith("index.html")]) >= 30
    html = "\n".join((out / rel).read_text(encoding="utf-8") for rel in pages)
    for needle in (
        'class="admonition note"',
        'class="admonition warning"',
        "<table>",
        'type="checkbox"',
        'class="xref"',
        'class="language-',
        "<img ",
    ):
        assert needle in html, needle
    assert (out / "tags" / "index.html").is_file() and (out / "categories" / "index.html").is_file()
