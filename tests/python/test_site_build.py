"""The SSG end to end on small sites written inline: structure, URLs, cascade, taxonomies,
menus, pagination, feeds, aliases, drafts, determinism and worker-count independence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bengal.build import BuildOptions, BuildResult, build
from conftest import SiteFactory
from site_checks import (
    check_links,
    check_rss,
    check_search,
    check_sitemap,
    parse_tree,
    tree_digest,
)

CONFIG = """
[site]
title = "Test Site"
baseurl = "https://example.org/"
description = "A test"

[pagination]
per_page = 2

[[menu.main]]
name = "Docs"
url = "/docs/"
weight = 2

[[menu.main]]
name = "Home"
url = "/"
weight = 1

[[menu.main]]
name = "Setup"
page = "docs/setup"
parent = "docs"
"""

SITE: dict[str, str | bytes] = {
    "bengal.toml": CONFIG,
    "content/_index.md": "---\ntitle: Home\n---\nWelcome home.\n",
    "content/docs/_index.md": (
        "---\ntitle: Docs\ncascade:\n  type: manual\n  params_from_cascade: yes\n---\nAll docs.\n"
    ),
    "content/docs/setup.md": (
        "---\ntitle: Setup\nweight: 1\ntags: [intro, python]\ncategories: [Guides]\n"
        "date: 2024-02-01\n---\n## Install\n\nSee [[docs/usage#Run It]] and [[id:ref]].\n"
    ),
    "content/docs/usage.md": (
        "---\ntitle: Usage\nweight: 2\ntags: [python]\ndate: 2024-03-01\n"
        "aliases: [/old-usage/]\n---\n## Run it\n\nBack to [[Setup]].\n"
    ),
    "content/docs/deep/_index.md": "---\ntitle: Deep\ncascade:\n  type: deepdocs\n---\n",
    "content/docs/deep/ref.md": (
        "---\ntitle: Reference\nid: ref\ndate: 2024-01-15\n---\nDeep [[#top]]\n\n## Top\n"
    ),
    "content/blog/first.md": "---\ntitle: First\ndate: 2024-01-01\ntags: [news]\n---\nOne.\n",
    "content/blog/second.md": "---\ntitle: Second\ndate: 2024-01-02\n---\nTwo.\n",
    "content/blog/third.md": "---\ntitle: Third\ndate: 2024-01-03\n---\nThree.\n",
    "content/blog/draft.md": "---\ntitle: Draft\ndraft: true\n---\nHidden.\n",
    "content/notitle.md": "# Derived Title\n\nNo front matter here.\n",
    "content/bundle/index.md": "---\ntitle: Bundle\n---\n![pic](pic.svg)\n",
    "content/bundle/pic.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
    "static/robots-extra.txt": "static file",
    "data/team.yaml": "- name: Ada\n",
}


def run(site: Path, **kw: object) -> BuildResult:
    opts = BuildOptions(**{"workers": 1, **kw})  # type: ignore[arg-type]
    return build(site, opts)


@pytest.fixture
def built(make_site: SiteFactory) -> tuple[Path, BuildResult]:
    site = make_site(SITE)
    result = run(site)
    return site, result


def test_builds_without_errors_and_links_resolve(built: tuple[Path, BuildResult]) -> None:
    site, result = built
    assert result.errors == [] and result.warnings == []
    out = site / "public"
    pages = check_links(out)
    for rel in [
        "index.html",
        "docs/index.html",
        "docs/setup/index.html",
        "docs/deep/ref/index.html",
        "blog/index.html",
        "blog/page/2/index.html",
        "notitle/index.html",
        "bundle/index.html",
        "bundle/pic.svg",
        "tags/index.html",
        "tags/python/index.html",
        "categories/guides/index.html",
        "404.html",
        "robots-extra.txt",
        "robots.txt",
        "old-usage/index.html",
    ]:
        assert (out / rel).is_file(), rel
    assert not (out / "blog" / "draft").exists()
    assert pages["notitle/index.html"].broken_refs == 0
    assert "<title>Derived Title · Test Site</title>" in (out / "notitle/index.html").read_text()


def test_sitemap_feeds_search(built: tuple[Path, BuildResult]) -> None:
    site, _ = built
    out = site / "public"
    locs = check_sitemap(out)
    assert "https://example.org/docs/setup/" in locs
    assert "https://example.org/404.html" not in locs
    assert check_rss(out / "index.xml") == 8  # every regular page
    assert check_rss(out / "docs" / "index.xml") == 3
    search = check_search(out)
    setup = next(e for e in search if e["url"] == "/docs/setup/")
    assert setup["tags"] == ["intro", "python"] and setup["section"] == "Docs"


def test_cascade_and_templates_by_type(built: tuple[Path, BuildResult]) -> None:
    site, _ = built
    from bengal.assemble import assemble
    from bengal.config import load_config
    from bengal.discover import discover
    from bengal.sources import load_data, parse_sources

    tree = discover(site)
    sources, _ = parse_sources(tree)
    asm = assemble(load_config(site), sources, load_data(site, tree)[0])
    pages = asm.site.page_by_path
    assert pages["docs/setup.md"].type == "manual"
    assert pages["docs/setup.md"].params["params_from_cascade"] is True
    assert pages["docs/deep/ref.md"].type == "deepdocs"  # nearer section wins
    assert pages["docs/_index.md"].type == "docs"  # a section's cascade is for descendants
    assert asm.site.data == {"team": [{"name": "Ada"}]}


def test_order_neighbours_and_pagination(built: tuple[Path, BuildResult]) -> None:
    site, _ = built
    out = site / "public"
    setup = (out / "docs/setup/index.html").read_text()
    assert 'rel="next" href="/docs/usage/"' in setup  # weight 1 then weight 2
    blog1 = (out / "blog/index.html").read_text()
    blog2 = (out / "blog/page/2/index.html").read_text()
    # Newest first, two per page.
    assert blog1.index("Third") < blog1.index("Second") and "First" not in blog1
    assert "First" in blog2 and 'href="/blog/"' in blog2


def test_xrefs_menus_aliases(built: tuple[Path, BuildResult]) -> None:
    site, _ = built
    out = site / "public"
    setup = (out / "docs/setup/index.html").read_text()
    assert '<a class="xref" href="/docs/usage/#run-it">Usage</a>' in setup
    assert '<a class="xref" href="/docs/deep/ref/">Reference</a>' in setup
    # Menu: ordered by weight, child under its parent, active state on the current page.
    menu = setup[setup.index('<nav class="menu"') : setup.index("</nav>")]
    assert menu.index(">Home<") < menu.index(">Docs<") < menu.index(">Setup<")
    assert 'href="/docs/setup/" aria-current="page"' in menu
    alias = (out / "old-usage/index.html").read_text()
    assert 'content="0; url=/docs/usage/"' in alias and 'rel="canonical"' in alias


def test_taxonomy_pages(built: tuple[Path, BuildResult]) -> None:
    site, _ = built
    out = site / "public"
    python = (out / "tags/python/index.html").read_text()
    assert "Setup" in python and "Usage" in python
    tags = (out / "tags/index.html").read_text()
    for t in ("intro", "python", "news"):
        assert f'href="/tags/{t}/"' in tags


def test_deterministic_and_worker_independent(make_site: SiteFactory, tmp_path: Path) -> None:
    site = make_site(SITE)
    a = run(site, output=tmp_path / "a", workers=1)
    b = run(site, output=tmp_path / "b", workers=1)
    c = run(site, output=tmp_path / "c", workers=3)
    assert a.errors == b.errors == c.errors == []
    da, db, dc = (tree_digest(tmp_path / x) for x in "abc")
    assert da == db
    assert da == dc


def test_many_pages_with_several_workers_equal_one(make_site: SiteFactory, tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"bengal.toml": CONFIG.split("[[menu.main]]")[0]}
    for i in range(160):
        files[f"content/s{i % 4}/p{i:03d}.md"] = (
            f"---\ntitle: Page {i}\ndate: 2024-01-{1 + i % 28:02d}\ntags: [t{i % 7}]\n---\n"
            f"## Section {i}\n\nText [[s{(i + 1) % 4}/p{(i + 1) % 160:03d}]].\n"
        )
    site = make_site(files)
    one = run(site, output=tmp_path / "one", workers=1)
    two = run(site, output=tmp_path / "two", workers=2)
    assert one.errors == [] and two.errors == [] and two.workers == 2
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")
    check_links(tmp_path / "two")


def test_clean_removes_stale_outputs(make_site: SiteFactory) -> None:
    site = make_site(SITE)
    run(site)
    (site / "content/blog/first.md").rename(site / "content/blog/renamed.md")
    run(site, clean=True)
    out = site / "public"
    assert (out / "blog/renamed/index.html").exists()
    assert not (out / "blog/first").exists()


def test_base_path_prefixes_every_link(make_site: SiteFactory) -> None:
    site = make_site(
        {**SITE, "bengal.toml": CONFIG.replace("https://example.org/", "https://example.org/sub/")}
    )
    result = run(site)
    assert result.errors == []
    out = site / "public"
    check_links(out, base_path="/sub/")
    home = (out / "index.html").read_text()
    assert 'href="/sub/assets/css/bengal.css"' in home
    assert json.loads((out / "search.json").read_text())[0]["url"].startswith("/sub/")


def test_ugly_urls(make_site: SiteFactory) -> None:
    site = make_site({**SITE, "bengal.toml": CONFIG + "\n[build]\npretty_urls = false\n"})
    result = run(site)
    assert result.errors == []
    out = site / "public"
    assert (out / "docs/setup.html").is_file()
    check_links(out)


def test_drafts_flag(make_site: SiteFactory) -> None:
    site = make_site(SITE)
    run(site, drafts=True)
    assert (site / "public/blog/draft/index.html").is_file()


def test_parse_tree_sees_every_page(built: tuple[Path, BuildResult]) -> None:
    site, result = built
    pages = parse_tree(site / "public")
    assert result.pages == len([p for p in pages if not p.startswith("old-usage")])


def test_the_store_answers_which_pages_use_an_asset(make_site: SiteFactory) -> None:
    from bengal import incremental
    from store_damage import db_file, records

    site = make_site(SITE)
    first = run(site)
    assert first.warnings == []
    amap = incremental.asset_map(records(db_file(site), "outputs"))
    assert "bundle/pic.svg" in amap.pages_for("pic.svg") or "bundle/index.html" in amap.pages()
    assert "bundle/index.html" in amap.pages_for("/assets/css/bengal.css")
    assert not (site / ".bengal" / "asset_deps.json").exists()  # one store, no side files


def test_concurrent_build_is_refused(make_site: SiteFactory) -> None:
    import subprocess
    import sys
    import textwrap

    from bengal.errors import BuildError

    site = make_site(SITE)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from bengal.build import site_lock
                with site_lock(Path({str(site)!r})):
                    print("locked", flush=True)
                    time.sleep(30)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(
            BuildError, match=rf"another bengal build is running .*pid {holder.pid}"
        ):
            run(site)
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    # The lock dies with its holder, even on SIGKILL.
    assert run(site).errors == []


def test_parallel_front_matter_parse_matches_serial(make_site: SiteFactory) -> None:
    from bengal.discover import discover
    from bengal.sources import PARALLEL_PARSE_MIN, parse_sources

    files: dict[str, str | bytes] = {}
    for i in range(PARALLEL_PARSE_MIN + 50):
        files[f"content/s{i % 5}/p{i:04d}.md"] = f"---\ntitle: P{i}\ntags: [t{i % 3}]\n---\nx\n"
    files["content/s0/bad.md"] = "---\ntitle: ok\ntags: [unclosed\n---\n"
    files["content/s0/toml.md"] = '+++\ntitle = "T"\n+++\nbody\n'
    site = make_site(files)
    tree = discover(site)
    serial, serial_errors = parse_sources(tree, workers=1)
    parallel, parallel_errors = parse_sources(tree, workers=2)
    assert [(s.rel, s.raw, s.body, s.body_line) for s in serial] == [
        (s.rel, s.raw, s.body, s.body_line) for s in parallel
    ]
    assert [str(e) for e in serial_errors] == [str(e) for e in parallel_errors]
    assert len(parallel_errors) == 1 and str(parallel_errors[0]).startswith("s0/bad.md:3:")


def test_walk_pages_handles_deep_trees_in_tree_order() -> None:
    """A folder nesting 1,000 deep (legal on disk) hit Python's recursion limit."""
    from bengal.frontmatter import FrontMatter
    from bengal.model import Page, Section

    def page(name: str) -> Page:
        return Page(source=name, kind="page", fm=FrontMatter())

    top = Section(path="")
    sec = top
    for depth in range(5000):
        sec.pages.append(page(f"p{depth}"))
        child = Section(path=f"d{depth}", parent=sec)
        sec.subsections.append(child)
        sec = child
    assert [p.source for p in top.walk_pages()] == [f"p{d}" for d in range(5000)]
    # siblings: a section's own pages, then each subsection's subtree in order
    a, b = Section(path="a", parent=top), Section(path="b", parent=top)
    root = Section(path="r", pages=[page("r1")], subsections=[a, b])
    a.pages, b.pages = [page("a1")], [page("b1")]
    a.subsections = [Section(path="a/x", pages=[page("ax1")])]
    assert [p.source for p in root.walk_pages()] == ["r1", "a1", "ax1", "b1"]


def test_a_static_file_with_a_name_near_the_limit_is_copied(make_site: SiteFactory) -> None:
    """The copy's temp file once carried the file's own name plus a prefix: over 255 bytes."""
    name = "n" * 245 + ".txt"
    site = make_site(
        {
            "bengal.toml": '[site]\ntitle = "L"\nbaseurl = "https://example.org/"\n',
            "content/a.md": "---\ntitle: A\n---\nText.\n",
            f"static/{name}": "long",
        }
    )
    r = build(site, BuildOptions(workers=1))
    assert r.errors == []
    assert (site / "public" / name).read_text() == "long"
