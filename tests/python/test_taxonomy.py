"""The taxonomy index (bengal.taxonomy): updated step by step it equals one built from nothing,
its terms equal those of the first-seen rule it replaced, and a build takes again only the
pages whose terms, date or title changed."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from bengal.assemble import urlize
from bengal.build import BuildOptions, build
from bengal.cli import explain_data
from bengal.taxonomy import TaxonomyIndex, contribution
from hypothesis import given, settings
from hypothesis import strategies as st

TAXONOMIES = [("category", "categories"), ("tag", "tags")]
PLURALS = [p for _, p in TAXONOMIES]

# Names chosen to collide: case variants of one term, and different terms with one slug
# ("c", "C++", "c#" -> "c"; "c 2" -> "c-2", the slug a clash may be given).
NAMES = st.sampled_from(["c", "C", "C++", "c#", "c 2", "Python", "python", "rust", "a.b", "a-b"])
PAGE = st.fixed_dictionaries(
    {
        "day": st.integers(1, 4),
        "title": st.sampled_from(["Alpha", "beta", "Gamma"]),
        "tags": st.lists(NAMES, max_size=4),
        "categories": st.lists(NAMES, max_size=2),
    }
)
STATE = st.dictionaries(st.sampled_from([f"p{i}.md" for i in range(8)]), PAGE, max_size=8)


def _order(source: str, page: dict[str, Any]) -> tuple[Any, ...]:
    date = dt.datetime(2024, 1, page["day"], tzinfo=dt.timezone.utc)
    return (-date.timestamp(), page["title"].lower(), source)  # bengal.assemble.date_key


def _update(index: TaxonomyIndex, state: dict[str, dict[str, Any]]) -> None:
    """As bengal.assemble does it, for pages given as plain values."""
    terms = {s: {p: page[p] for p in PLURALS if page[p]} for s, page in state.items()}
    listed = sorted(state, key=lambda s: _order(s, state[s]))
    current = {s: (state[s]["day"], state[s]["title"], terms[s]) for s in listed}
    index.update(current, lambda s: contribution(current[s], PLURALS))


def _terms(index: TaxonomyIndex) -> list[tuple[str, str, str, tuple[str, ...], str]]:
    return [(t.plural, t.name, t.slug, t.sources, t.clash) for t in index.named(TAXONOMIES, urlize)]


def _reference(
    state: dict[str, dict[str, Any]],
) -> list[tuple[str, str, str, tuple[str, ...], str]]:
    """The rule bengal.assemble used before the index, written out: pages in list order, each
    name seen first makes the term (its spelling, the next free slug)."""
    pages = sorted(state, key=lambda s: _order(s, state[s]))
    out = []
    for singular, plural in TAXONOMIES:
        terms: dict[str, list[Any]] = {}  # slug -> [name, slug, sources, clash]
        by_key: dict[str, list[Any]] = {}
        for source in pages:
            seen: set[str] = set()
            for name in state[source][plural]:
                key = name.casefold()
                if key in seen:
                    continue
                seen.add(key)
                term = by_key.get(key)
                if term is None:
                    slug, clash = urlize(name), ""
                    if slug in terms:
                        n = 2
                        while f"{slug}-{n}" in terms:
                            n += 1
                        clash = (
                            f"{source}: {singular} '{name}' and '{terms[slug][0]}' share the URL "
                            f"slug '{slug}'; '{name}' uses '{slug}-{n}'"
                        )
                        slug = f"{slug}-{n}"
                    term = [name, slug, [], clash]
                    terms[slug] = by_key[key] = term
                term[2].append(source)
        out += [(plural, t[0], t[1], tuple(t[2]), t[3]) for t in terms.values()]
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(STATE, min_size=1, max_size=6))
def test_updated_index_equals_fresh_index_and_the_first_seen_rule(states):
    kept = TaxonomyIndex()
    for state in states:
        kept = TaxonomyIndex(kept.pages, kept.terms)  # as the next build gets it from the cache
        before = dict(kept.pages)
        _update(kept, state)
        fresh = TaxonomyIndex()
        _update(fresh, state)
        assert kept.pages == fresh.pages
        assert kept.terms == fresh.terms
        assert _terms(kept) == _terms(fresh)
        assert sorted(_terms(kept)) == sorted(_reference(state))
        # Only pages whose signature changed, and pages gone, were taken again; entries of the
        # others stay the very objects (the cache rewrites no shard of theirs).
        changed = {s for s in state if s not in before or before[s][0] != kept.pages[s][0]}
        changed |= before.keys() - state.keys()
        assert set(kept.reindexed) == changed
        for s in state.keys() - changed:
            assert kept.pages[s] is before[s]


def test_a_term_list_not_touched_stays_the_same_object():
    state = {
        "a.md": {"day": 1, "title": "A", "tags": ["x"], "categories": []},
        "b.md": {"day": 2, "title": "B", "tags": ["y"], "categories": []},
    }
    index = TaxonomyIndex()
    _update(index, state)
    y = index.terms["tags\0y"]
    state["a.md"] = {**state["a.md"], "tags": ["x", "z"]}
    again = TaxonomyIndex(index.pages, index.terms)
    _update(again, state)
    assert again.reindexed == ["a.md"]
    assert again.terms["tags\0y"] is y
    assert again.terms["tags\0z"] == ("a.md",)
    assert index.terms.get("tags\0z") is None  # the previous build's maps were not changed


def test_a_page_moving_in_date_order_moves_in_its_terms():
    state = {
        s: {"day": d, "title": "T", "tags": ["x"], "categories": []}
        for s, d in (("a.md", 1), ("b.md", 2), ("c.md", 3))
    }
    index = TaxonomyIndex()
    _update(index, state)
    assert index.terms["tags\0x"] == ("c.md", "b.md", "a.md")  # newest first
    state["a.md"]["day"] = 4
    index = TaxonomyIndex(index.pages, index.terms)
    _update(index, state)
    assert index.terms["tags\0x"] == ("a.md", "c.md", "b.md")


def _damaged(good: TaxonomyIndex, how: str) -> TaxonomyIndex:
    bad = TaxonomyIndex(good.pages, good.terms)
    if how == "lists a page it has no record of":
        bad.terms["tags\0ghost"] = ("nowhere.md",)
        bad.pages["nowhere.md"] = ((), ())
    elif how == "files a page under a term it does not list":
        del bad.terms["tags\0go"]
    elif how == "leaves a page out of a term's list":
        bad.terms["tags\0python"] = bad.terms["tags\0python"][1:]
    return bad


@pytest.mark.parametrize(
    "how",
    [
        "lists a page it has no record of",
        "files a page under a term it does not list",
        "leaves a page out of a term's list",
    ],
)
def test_an_inconsistent_index_is_rebuilt_with_a_warning(tmp_path, how):
    """No build writes such an index (the cache's checksums catch damage); a bug could. The
    pages' records are trusted (each page's own terms): the rest is checked against them."""
    from bengal.assemble import Assembler
    from bengal.config import load_config
    from bengal.discover import discover
    from bengal.sources import load_data, load_sources

    site = _site(tmp_path)
    build(site, BuildOptions(workers=1))
    tree = discover(site)
    sources = load_sources(tree, 1, None, None).sources

    def assemble(index: TaxonomyIndex | None) -> Any:
        return Assembler(load_config(site), sources, load_data(site, tree)[0], index).run()

    good = assemble(None)
    asm = assemble(_damaged(good.taxonomy, how))
    assert any("taxonomy index" in w and "rebuilt" in w for w in asm.warnings)
    assert asm.taxonomy.terms == good.taxonomy.terms
    for plural, terms in good.site.taxonomies.items():
        got = asm.site.taxonomies[plural]
        assert sorted(got) == sorted(terms)
        for slug, term in terms.items():
            assert [p.source for p in got[slug].pages] == [p.source for p in term.pages]
    assert {
        p.source: {k: [t.slug for t in v] for k, v in p.terms.items()}
        for p in asm.site.regular_pages
    } == {
        p.source: {k: [t.slug for t in v] for k, v in p.terms.items()}
        for p in good.site.regular_pages
    }


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "content" / "blog").mkdir(parents=True)
    (site / "bengal.toml").write_text('[site]\ntitle = "T"\nbaseurl = "https://e.org/"\n')
    for i, tags in enumerate([["python"], ["python", "go"], ["go"]]):
        (site / "content" / "blog" / f"p{i}.md").write_text(
            f"---\ntitle: P{i}\ndate: 2024-01-0{i + 1}\ntags: {json.dumps(tags)}\n---\n\n"
            f"Body {i}.\n"
        )
    return site


def _clean_copy(site: Path, tmp: Path) -> Path:
    other = tmp / "clean"
    shutil.copytree(site / "content", other / "content")
    shutil.copy(site / "bengal.toml", other / "bengal.toml")
    build(other, BuildOptions(workers=1))
    return other / "public"


def _same_tree(a: Path, b: Path) -> None:
    fa = {p.relative_to(a): p.read_bytes() for p in a.rglob("*") if p.is_file()}
    fb = {p.relative_to(b): p.read_bytes() for p in b.rglob("*") if p.is_file()}
    assert fa.keys() == fb.keys()
    assert [k for k in fa if fa[k] != fb[k]] == []


def test_builds_take_again_only_the_pages_whose_terms_changed(tmp_path):
    site = _site(tmp_path)
    first = build(site, BuildOptions(workers=1))
    assert first.taxonomy_reindexed == 3  # a clean build indexes every page

    page = site / "content" / "blog" / "p1.md"
    page.write_text(page.read_text().replace('["python", "go"]', '["python", "Rust"]'))
    r = build(site, BuildOptions(workers=1))
    assert r.incremental and r.taxonomy_reindexed == 1
    assert explain_data(r)["taxonomy_reindexed"] == 1
    tags = site / "public" / "tags"
    assert "P1" in (tags / "rust" / "index.html").read_text()
    go = (tags / "go" / "index.html").read_text()
    assert "P2" in go and "P1" not in go  # p1 left "go"; p2 is still in it
    _same_tree(site / "public", _clean_copy(site, tmp_path / "c1"))

    page.write_text(page.read_text() + "\nMore body.\n")  # body only: nothing to index
    r = build(site, BuildOptions(workers=1))
    assert r.taxonomy_reindexed == 0

    (site / "content" / "blog" / "p0.md").unlink()  # a removed page leaves its terms
    r = build(site, BuildOptions(workers=1))
    assert r.taxonomy_reindexed == 1
    _same_tree(site / "public", _clean_copy(site, tmp_path / "c2"))
