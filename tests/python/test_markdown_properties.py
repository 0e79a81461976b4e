"""Properties of the native renderer: random and pathological inputs never crash or hang, and
the invariants that the rest of bengal relies on always hold."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bengal_native as bn

# Markdown-ish alphabet: the characters that steer the parser, plus text and Unicode.
MD_CHARS = st.sampled_from(
    list("#*_`~[]()<>!|\\-+=:{}.&;\n \t")
    + ["[[", "]]", "```", "{note}", "{#id}", "&amp;", "é", "日", "\x00"]
)
markdownish = st.lists(st.one_of(MD_CHARS, st.text(max_size=5)), max_size=80).map("".join)

ID_RE = re.compile(r'<h[1-6] id="([^"]*)"')


def _index() -> bn.XrefIndex:
    ix = bn.XrefIndex()
    ix.add("a", "/a/", "A")
    ix.add("id:b", "/b/", "B")
    return ix


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markdownish)
def test_random_markdown_renders_and_keeps_invariants(src: str) -> None:
    r = bn.render_markdown(src, xref_index=_index())
    assert isinstance(r.html, str)
    ids = ID_RE.findall(r.html)
    # Heading ids in the HTML are exactly the TOC's, in order; auto ids are unique.
    assert ids == [e.id for e in r.toc]
    for x in r.xrefs:
        assert x.line >= 1
        assert x.resolved == bool(x.url) or x.target.startswith("#")
    for w in r.warnings:
        assert w.line >= 0 and w.message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data: bytes) -> None:
    r = bn.render_markdown(data)
    r.html.encode("utf-8")  # always valid UTF-8
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        assert any(f"byte offset {exc.start}" in w.message for w in r.warnings)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_slugify_properties(text: str) -> None:
    s = bn.slugify(text)
    assert bn.slugify(s) == s  # idempotent
    assert not s.startswith("-") and not s.endswith("-") and "--" not in s
    assert " " not in s
    assert s == s.lower() or any(c.lower() != c and len(c.lower()) > 1 for c in s)


@settings(max_examples=60, deadline=None)
@given(st.lists(markdownish, min_size=1, max_size=12))
def test_batch_equals_sequential(docs: list[str]) -> None:
    ix = _index()
    batch = bn.render_markdown_batch(docs, xref_index=ix)
    assert len(batch) == len(docs)
    for doc, b in zip(docs, batch, strict=False):
        s = bn.render_markdown(doc, xref_index=ix)
        assert b.html == s.html
        assert [tuple(e) for e in b.toc] == [tuple(e) for e in s.toc]
        assert [str(w) for w in b.warnings] == [str(w) for w in s.warnings]


PATHOLOGICAL = {
    "10 MB single line": "a" * 10_000_000,
    "10,000 nested blockquotes": ">" * 10_000 + " x\n",
    "10,000 nested list levels": "".join("  " * i + "- x\n" for i in range(10_000)),
    "100,000 [[ openers": "[[" * 100_000,
    "100,000 xrefs": "[[a]] " * 100_000,
    "100,000 unmatched brackets": "[" * 100_000 + "]" * 100_000,
    "100,000 emphasis openers": "*a **b " * 50_000,
    "1,000 nested directives": "".join("`" * (1003 - i) + "{note}\n" for i in range(1000)),
    "NUL bytes": "\x00" * 10_000,
}


def test_pathological_inputs_complete() -> None:
    for name, src in PATHOLOGICAL.items():
        r = bn.render_markdown(src, xref_index=_index())
        assert r.html, name


def test_deep_directive_nesting_is_cut_with_a_warning() -> None:
    src = "".join("`" * (40 - i) + "{note}\n" for i in range(30))
    r = bn.render_markdown(src)
    assert r.html.count('<div class="admonition note">') == 16
    assert any("nested deeper" in w.message for w in r.warnings)
