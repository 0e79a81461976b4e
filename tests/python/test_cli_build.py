"""End-to-end: the `bengal` command builds the example site and reports bad input clearly."""

from __future__ import annotations

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from conftest import REPO, SiteFactory

from bengal.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bengal", *args], capture_output=True, text=True, check=False
    )


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"] or "")


def test_example_site_builds_with_valid_links(tmp_path: Path) -> None:
    out = tmp_path / "public"
    proc = run_cli("build", str(REPO / "examples" / "showcase"), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no warnings: every xref in the example resolves
    pages = {p.relative_to(out).as_posix(): p for p in out.rglob("index.html")}
    assert {"index.html", "docs/index.html", "docs/getting-started/index.html"} <= set(pages)
    parsed = {}
    for rel, path in pages.items():
        p = Links()
        p.feed(path.read_text(encoding="utf-8"))
        parsed["/" + rel.removesuffix("index.html")] = p
    for url, p in parsed.items():
        for href in p.hrefs:
            if href.startswith(("http:", "https:", "mailto:")):
                continue
            path, _, frag = href.partition("#")
            target = parsed[path or url]
            if frag:
                assert frag in target.ids, f"{url}: {href} names no heading"


def test_version_and_help() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("bengal ")
    assert run_cli().returncode == 2


def test_bad_front_matter_names_file_and_line_and_rest_builds(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/good.md": "# Good\n\n[[missing-page]]\n",
            "content/bad.md": "---\ntitle: [unclosed\n---\nbody\n",
            "content/latin1.md": "caf\xe9".encode("latin-1"),
        }
    )
    out = site / "public"
    proc = run_cli("build", str(site))
    assert proc.returncode == 1
    assert "bad.md:" in proc.stderr and "invalid YAML front matter" in proc.stderr
    assert "latin1.md: not valid UTF-8 (byte 3)" in proc.stderr
    assert "good.md:3: unresolved cross-reference [[missing-page]]" in proc.stderr
    assert (out / "good" / "index.html").exists()
    assert not (out / "bad").exists()


def test_main_returns_2_for_missing_site(tmp_path: Path) -> None:
    assert main(["build", str(tmp_path / "nope")]) == 2
