"""Menus: rendered once per active state (render_menu's cache), marked active on the right
pages, overridable, and tracked for incremental builds like anything else a page shows."""

from __future__ import annotations

import re
from pathlib import Path

from bengal.build import BuildOptions, build
from bengal.context import WarmState
from conftest import SiteFactory
from test_incremental import assert_same

CONFIG = """[site]
title = "Menus"
baseurl = "https://example.org/"

[[menu.main]]
name = "Docs"
url = "/docs/"
identifier = "docs"
weight = 1

[[menu.main]]
name = "Setup"
page = "docs/setup"
parent = "docs"

[[menu.main]]
name = "Blog"
url = "/blog/"
weight = 2
"""

SITE: dict[str, str | bytes] = {
    "bengal.toml": CONFIG,
    "content/_index.md": "---\ntitle: Home\n---\nHome.\n",
    "content/about.md": "---\ntitle: About\n---\nAbout.\n",
    "content/docs/_index.md": "---\ntitle: Docs\n---\nDocs.\n",
    "content/docs/setup.md": "---\ntitle: Setup\n---\nFirst words of setup.\n",
    "content/docs/usage.md": "---\ntitle: Usage\n---\nUsage.\n",
    "content/blog/_index.md": "---\ntitle: Blog\n---\nBlog.\n",
    **{f"content/blog/p{i}.md": f"---\ntitle: Post {i}\n---\nPost {i}.\n" for i in range(6)},
}


def menu_of(html: str) -> str:
    m = re.search(r'<nav class="menu" aria-label="Main">(.*?)</nav>', html, re.S)
    assert m, "no main menu"
    return m.group(1)


def active(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" aria-current="page" class="active">', menu_of(html))


def test_items_are_active_on_their_pages_and_below_their_sections(make_site: SiteFactory) -> None:
    site = make_site(SITE)
    r = build(site, BuildOptions(workers=1))
    assert r.errors == []
    out = site / "public"
    read = lambda rel: (out / rel).read_text(encoding="utf-8")  # noqa: E731
    assert active(read("index.html")) == []
    assert active(read("about/index.html")) == []
    assert active(read("docs/index.html")) == ["/docs/"]
    assert active(read("docs/usage/index.html")) == ["/docs/"]
    assert active(read("docs/setup/index.html")) == ["/docs/", "/docs/setup/"]
    assert active(read("blog/p3/index.html")) == ["/blog/"]
    # Every page shows the same items, children included.
    for rel in ("index.html", "docs/setup/index.html", "blog/p0/index.html"):
        assert re.findall(r'<a href="([^"]+)"', menu_of(read(rel))) == [
            "/docs/",
            "/docs/setup/",
            "/blog/",
        ]


def test_each_active_state_is_rendered_once(make_site: SiteFactory) -> None:
    site = make_site(SITE)
    warm: list[WarmState] = []
    build(site, BuildOptions(workers=1, keep_warm=warm.append, skip_noop=True))
    w = warm[0]
    try:
        templates = w.templates_factory()
        pages = [templates.render(page, n) for page, n in w.jobs.values()]
        assert len(pages) >= 15
        # none active, docs, docs + setup, blog -- whatever the number of pages
        assert len(templates.menu_cache) == 4
        # ... and what a cached menu shows is what rendering it anew shows.
        for (page, n), html in zip(w.jobs.values(), pages, strict=True):
            templates.menu_cache.clear()
            assert templates.render(page, n) == html
    finally:
        w.close()


def test_a_site_can_replace_the_menu_template(make_site: SiteFactory) -> None:
    site = make_site(
        {
            **SITE,
            "templates/partials/menu.html": "<ol>{% for i in items %}<li>{{ menu }}:{{ i.name }}"
            "{% if is_active(i) %}*{% endif %}</li>{% endfor %}</ol>",
        }
    )
    assert build(site, BuildOptions(workers=1)).errors == []
    html = (site / "public/blog/p1/index.html").read_text(encoding="utf-8")
    assert "<ol><li>main:Docs</li><li>main:Blog*</li></ol>" in menu_of(html)


def test_an_error_in_the_menu_template_names_it(make_site: SiteFactory) -> None:
    site = make_site({**SITE, "templates/partials/menu.html": "{{ items[0].nope.deeper() }}"})
    r = build(site, BuildOptions(workers=1))
    assert r.errors and all(e.startswith("templates/partials/menu.html:1: ") for e in r.errors), (
        r.errors[:2]
    )


def test_what_a_cached_menu_read_is_recorded_on_every_page_showing_it(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    """A menu template that shows a page's summary: a body edit of that page re-renders every
    page with the menu, not only the first one that rendered it in a worker."""
    site = make_site(
        {
            **SITE,
            "templates/partials/menu.html": "<ul>{% for i in items %}<li>{{ i.name }}"
            "{% for c in i.children %}<p>{{ c.page.summary }}</p>{% endfor %}</li>"
            "{% endfor %}</ul>",
        }
    )
    assert build(site, BuildOptions(workers=1)).errors == []
    p = site / "content/docs/setup.md"
    p.write_text(p.read_text().replace("First words", "Other words"), encoding="utf-8")
    r = assert_same(site, tmp_path / "clean")
    assert {"blog/p4/index.html", "about/index.html", "index.html"} <= set(r.explain_outputs)
    assert "Other words" in (site / "public/blog/p5/index.html").read_text(encoding="utf-8")


def about_site(make_site: SiteFactory, main: str, **files: str) -> Path:
    """SITE plus an about page rendered by templates/about.html: base.html with `main` as
    its main block."""
    return make_site(
        {
            **SITE,
            **files,
            "templates/about.html": "{% extends 'base.html' %}{% block main %}"
            + main
            + "{% endblock %}",
            "content/about.md": "---\ntitle: About\ntemplate: about.html\n---\nAbout.\n",
        }
    )


def edit_p2(site: Path, front_matter_line: str) -> None:
    p = site / "content/blog/p2.md"
    p.write_text(p.read_text().replace("title: Post 2\n", f"title: Post 2\n{front_matter_line}\n"))


def test_is_active_of_another_page_is_a_dependency(make_site: SiteFactory, tmp_path: Path) -> None:
    """A template asking whether a menu item is active on some other page reads that page's
    URL: a new slug there re-renders it."""
    site = about_site(
        make_site,
        "{% set other = site.get_page('blog/p2.md') %}"
        "{% for i in menus.main %}<u>{{ i.name }}={{ i.is_active(other) }}</u>{% endfor %}",
    )
    assert build(site, BuildOptions(workers=1)).errors == []
    assert "<u>Blog=True</u>" in (site / "public/about/index.html").read_text(encoding="utf-8")
    edit_p2(site, "url: /elsewhere/")
    r = assert_same(site, tmp_path / "clean")
    assert "about/index.html" in r.explain_outputs
    assert "<u>Blog=False</u>" in (site / "public/about/index.html").read_text(encoding="utf-8")


def test_the_page_a_menu_is_rendered_for_is_a_dependency(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    """render_menu() decides which items are active from the page in the template's context:
    that page's URL is read, even when it is not the page being rendered."""
    site = about_site(
        make_site,
        "{% set page = site.get_page('blog/p2.md') %}<div id=m>{{ render_menu() }}</div>",
    )
    assert build(site, BuildOptions(workers=1)).errors == []
    edit_p2(site, "url: /elsewhere/")
    r = assert_same(site, tmp_path / "clean")
    assert "about/index.html" in r.explain_outputs


def test_any_use_of_the_menus_global_is_a_read_of_the_menus(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    """Not only menus.NAME: its truth, length and names too."""
    site = about_site(
        make_site,
        "<i>{% if menus %}HAS{% else %}NONE{% endif %} {{ menus|length }} "
        "{{ menus|list|join(',') }}</i>",
        **{"bengal.toml": '[site]\ntitle = "M"\nbaseurl = "https://example.org/"\n'},
    )
    assert build(site, BuildOptions(workers=1)).errors == []
    assert "<i>NONE 0 </i>" in (site / "public/about/index.html").read_text(encoding="utf-8")
    edit_p2(site, "menu: footer")
    assert_same(site, tmp_path / "clean")
    assert "<i>HAS 1 footer</i>" in (site / "public/about/index.html").read_text(encoding="utf-8")


def test_a_ref_error_in_the_menu_template_names_it(make_site: SiteFactory) -> None:
    site = make_site({**SITE, "templates/partials/menu.html": "<ul>\n{{ ref('nope') }}</ul>"})
    r = build(site, BuildOptions(workers=1))
    assert r.errors and all(e.startswith("templates/partials/menu.html:2: ") for e in r.errors), (
        r.errors[:2]
    )
