"""The Python surface of bengal_native's Markdown renderer."""

from __future__ import annotations

import threading
import time

import pytest

import bengal_native as bn


def make_index() -> bn.XrefIndex:
    ix = bn.XrefIndex()
    ix.add("docs/setup", "/docs/setup/", "Setup Guide")
    ix.add("id:install", "/docs/install/", "Installing")
    ix.add("Getting Started", "/start/", "Getting Started")
    return ix


def test_result_fields() -> None:
    r = bn.render_markdown("# Title\n\n![a](x.png)\n\n[[nowhere]]\n")
    assert r.html.startswith('<h1 id="title">Title</h1>\n')
    assert [tuple(e) for e in r.toc] == [(1, "title", "Title")]
    assert r.images == ["x.png"]
    assert len(r.xrefs) == 1 and not r.xrefs[0].resolved
    assert r.broken_xrefs[0].target == "nowhere"
    assert r.warnings[0].line == 5
    assert "nowhere" in str(r.warnings[0])


def test_toc_entries_unpack_and_compare_as_tuples() -> None:
    (entry,) = bn.render_markdown("## Hello *there*\n").toc
    level, ident, text = entry
    assert (level, ident, text) == (2, "hello-there", "Hello there")
    assert entry == (2, "hello-there", "Hello there")


@pytest.mark.parametrize(
    ("source", "href", "text"),
    [
        ("[[docs/setup]]", "/docs/setup/", "Setup Guide"),
        ("[[docs/setup.md]]", "/docs/setup/", "Setup Guide"),
        ("[[/docs/setup/]]", "/docs/setup/", "Setup Guide"),
        ("[[docs/setup|read this]]", "/docs/setup/", "read this"),
        ("[[docs/setup#install-it]]", "/docs/setup/#install-it", "Setup Guide"),
        ("[[docs/setup#First Steps]]", "/docs/setup/#first-steps", "Setup Guide"),
        ("[[id:install]]", "/docs/install/", "Installing"),
        ("[[getting started]]", "/start/", "Getting Started"),
    ],
)
def test_xref_forms(source: str, href: str, text: str) -> None:
    r = bn.render_markdown(source, xref_index=make_index())
    assert r.html == f'<p><a class="xref" href="{href}">{text}</a></p>\n'
    (x,) = r.xrefs
    assert x.resolved and x.url == href and x.text == text and x.line == 1
    assert r.warnings == []


def test_same_page_anchor() -> None:
    r = bn.render_markdown("## Usage Notes\n\nsee [[#usage-notes]] and [[#Usage Notes|here]]\n")
    assert '<a class="xref" href="#usage-notes">usage-notes</a>' in r.html
    assert '<a class="xref" href="#usage-notes">here</a>' in r.html
    assert all(x.resolved for x in r.xrefs)
    missing = bn.render_markdown("see [[#nope]]\n")
    assert not missing.xrefs[0].resolved
    assert "nope" in missing.warnings[0].message and missing.warnings[0].line == 1


def test_unresolved_xref_is_rendered_and_reported() -> None:
    r = bn.render_markdown('a\n\nb [[ghost|the "ghost" & co]] c\n', xref_index=make_index())
    assert (
        '<span class="broken-ref" data-ref="ghost">the &quot;ghost&quot; &amp; co</span>' in r.html
    )
    (x,) = r.xrefs
    assert (x.target, x.resolved, x.line, x.url) == ("ghost", False, 3, "")


def test_xrefs_inside_code_are_left_alone() -> None:
    r = bn.render_markdown(
        "`[[docs/setup]]`\n\n```\n[[docs/setup]]\n```\n", xref_index=make_index()
    )
    assert r.xrefs == []
    assert "<code>[[docs/setup]]</code>" in r.html
    assert "<pre><code>[[docs/setup]]\n</code></pre>" in r.html


def test_heading_ids_duplicates_and_custom() -> None:
    src = (
        "# Intro\n## Intro\n## Intro\n## Setup {#custom-setup}\n## `code {#x}`\n"
        "## Fish &amp; Chips\n"
    )
    r = bn.render_markdown(src)
    assert [e.id for e in r.toc] == [
        "intro",
        "intro-1",
        "intro-2",
        "custom-setup",
        "code-x",
        "fish-chips",
    ]
    assert r.toc[3].text == "Setup"
    assert '<h2 id="custom-setup">Setup</h2>' in r.html
    assert r.toc[5].text == "Fish & Chips"


def test_slugify_is_the_same_rule() -> None:
    assert bn.slugify("Hello, World!") == "hello-world"
    assert bn.slugify("  Ünïcode -- and   spaces ") == "ünïcode-and-spaces"
    assert bn.slugify("snake_case_kept") == "snake_case_kept"
    assert bn.slugify("日本語の見出し") == "日本語の見出し"
    assert bn.slugify("!!!") == ""
    r = bn.render_markdown("# !!!\n")
    assert r.toc[0].id == "heading"


def test_directives() -> None:
    src = "```{warning} Mind the gap\nBody with **bold**\n\n- item\n```\n"
    r = bn.render_markdown(src)
    assert r.html == (
        '<div class="admonition warning">\n<p class="admonition-title">Mind the gap</p>\n'
        "<p>Body with <strong>bold</strong></p>\n<ul>\n<li>item</li>\n</ul>\n</div>\n"
    )
    assert set(bn.known_directives()) >= {"note", "tip", "warning", "danger", "seealso"}
    default_title = bn.render_markdown("```{seealso}\nx\n```\n").html
    assert '<p class="admonition-title">See also</p>' in default_title


def test_unknown_directive_is_code_and_warns() -> None:
    r = bn.render_markdown("text\n\n```{mermaid}\ngraph\n```\n")
    assert "<pre><code>graph\n</code></pre>" in r.html
    (w,) = r.warnings
    assert w.line == 3 and "mermaid" in w.message


def test_fenced_code_escaping() -> None:
    r = bn.render_markdown('```python\nif a < b and c > d: print("&")\n```\n')
    assert r.html == (
        '<pre><code class="language-python">if a &lt; b and c &gt; d: print(&quot;&amp;&quot;)\n'
        "</code></pre>\n"
    )


def test_raw_html_switch() -> None:
    assert bn.render_markdown("<b>x</b>\n").html == "<p><b>x</b></p>\n"
    assert (
        bn.render_markdown("<b>x</b>\n", unsafe_html=False).html == "<p>&lt;b&gt;x&lt;/b&gt;</p>\n"
    )


def test_bytes_and_invalid_utf8() -> None:
    r = bn.render_markdown(b"caf\xc3\xa9 \xff end\n")
    assert r.html == "<p>café \ufffd end</p>\n"
    assert "byte offset 6" in r.warnings[0].message
    # A lone surrogate in a str cannot be UTF-8 either: replaced, not an exception.
    r2 = bn.render_markdown("x \ud800 y")
    assert "\ufffd" in r2.html and r2.warnings


def test_nul_becomes_replacement_character() -> None:
    assert bn.render_markdown("a\x00b").html == "<p>a\ufffdb</p>\n"


def test_type_error_for_other_inputs() -> None:
    with pytest.raises(TypeError):
        bn.render_markdown(42)  # type: ignore[arg-type]


def test_batch_equals_sequential() -> None:
    docs = [
        f"# Page {i}\n\n[[docs/setup]] [[x{i}]]\n\n```{{note}}\nn{i}\n```\n" for i in range(200)
    ]
    ix = make_index()
    batch = bn.render_markdown_batch(docs, xref_index=ix)
    for doc, b in zip(docs, batch, strict=False):
        s = bn.render_markdown(doc, xref_index=ix)
        assert (b.html, [tuple(e) for e in b.toc], b.images) == (
            s.html,
            [tuple(e) for e in s.toc],
            s.images,
        )
        assert [(x.target, x.url, x.line, x.resolved) for x in b.xrefs] == [
            (x.target, x.url, x.line, x.resolved) for x in s.xrefs
        ]
        assert [str(w) for w in b.warnings] == [str(w) for w in s.warnings]


def test_batch_releases_the_gil() -> None:
    # Another Python thread must run *while* the batch renders: it records when it ran, and some
    # of those moments must fall well inside the call (a held GIL would leave a gap there).
    docs = ["word *emphasis* and more " * 4000] * 200
    seen: list[float] = []
    done = threading.Event()

    def spin() -> None:
        while not done.is_set():
            seen.append(time.perf_counter())

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.01)
        start = time.perf_counter()
        bn.render_markdown_batch(docs)
        end = time.perf_counter()
    finally:
        done.set()
        t.join()
    lo, hi = start + 0.25 * (end - start), end - 0.25 * (end - start)
    ran_inside = any(lo <= s <= hi for s in seen)
    assert ran_inside, f"no Python ran during {end - start:.3f} s of rendering"


def test_xref_index_api() -> None:
    ix = bn.XrefIndex()
    assert ix.add("a/b", "/a/b/", "B") is True
    assert ix.add("a/b", "/other/", "Other") is False  # first add wins
    assert ix.lookup("a/b") == ("/a/b/", "B")
    assert ix.lookup("A/B.md") == ("/a/b/", "B")
    assert ix.lookup("missing") is None
    assert len(ix) == 1 and "a/b" in ix and ix.keys() == ["a/b"]
    assert bn.XrefIndex.normalize_path("./docs/_index.md") == "docs"
