"""The command line's fast path for body edits (bengal.express): taken exactly when the change
is body edits only, and then the same output as the ordinary build and a clean build; every
other change -- and every surprise on the way -- takes the ordinary build."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from bengal import express, incremental, recorded
from bengal.build import BuildResult
from store_damage import db_file, delete, flip_value, record, records
from test_incremental import BASE_SITE, age_edits, assert_same, run, write_site


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    write_site(root, BASE_SITE)
    age_edits(root)
    first = run(root)
    assert first.errors == [] and not first.incremental and not first.express
    return root


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def force_ordinary(root: Path) -> None:
    """Make the next build take the ordinary incremental build: without a recorded state the
    fast path has nothing to compare the scan with (the cache is still used)."""
    delete(db_file(root), "meta", "state")


def rebuild(site: Path, tmp_path: Path) -> BuildResult:
    """Age the edits past the racy window, build, and compare with a clean build."""
    age_edits(site)
    scratch = tmp_path / "clean"
    shutil.rmtree(scratch, ignore_errors=True)
    return assert_same(site, scratch)


def test_a_body_edit_takes_the_fast_path(site: Path, tmp_path: Path) -> None:
    append(site / "content/blog/two.md", "\nMore words here.\n")
    r = rebuild(site, tmp_path)
    assert r.express and r.incremental and r.errors == []
    assert r.changes == {"blog/two.md": "body"}
    assert r.files_read == 1 and r.markdown_rendered == 1
    assert r.explain_outputs["blog/two/index.html"] == "page body changed"
    # The lists showing it read its word count (reading time): rendered again; nothing else.
    assert "blog/one/index.html" not in r.explain_outputs
    assert set(r.explain_outputs) <= {
        "blog/two/index.html", "blog/index.html", "blog/page/2/index.html", "index.html",
        "page/2/index.html", "page/3/index.html", "tags/b/index.html",
    }  # fmt: skip
    assert r.rendered == len(r.explain_outputs) and r.pages > r.rendered
    # The caches it wrote serve the next builds: a no-op, then the ordinary build.
    again = run(site)
    assert again.noop
    p = site / "content/blog/two.md"
    p.write_text(p.read_text().replace("title: Two", "title: Two\naliases: [/old-two/]"))
    r = rebuild(site, tmp_path)
    assert r.incremental and not r.express


def test_the_fast_path_matches_the_ordinary_build(site: Path, tmp_path: Path) -> None:
    """The same edit, on two copies of the site: one takes the fast path, the other is forced
    onto the ordinary build (a cache file touched): same outputs rendered, same bytes."""
    other = tmp_path / "other"
    shutil.copytree(site, other, symlinks=True)
    shutil.rmtree(other / ".bengal")
    run(other)  # its own cache (the output directory is part of the cache key)
    for root in (site, other):
        append(root / "content/docs/guide.md", "\nA closing remark.\n")
    age_edits(site)
    age_edits(other)
    force_ordinary(other)
    fast, slow = run(site), run(other)
    assert fast.express and not slow.express and slow.incremental
    assert fast.explain_outputs == slow.explain_outputs
    for p in sorted((site / "public").rglob("*")):
        if p.is_file():
            assert (
                p.read_bytes() == (other / "public" / p.relative_to(site / "public")).read_bytes()
            )


@pytest.mark.parametrize(
    "edit",
    [
        "aliases",  # front matter that makes redirect files
        "section-page",  # an _index.md
        "date-newest",  # the site's build date changes
        "removed-newest",  # the site's newest page goes: its build date changes
        "removed-referenced",  # a template's ref() names it: a template error now
        "template",
        "output-deleted",
        "store-damaged",
    ],
)
def test_other_changes_take_the_ordinary_build(site: Path, tmp_path: Path, edit: str) -> None:
    two = site / "content/blog/two.md"
    append(two, "\nA body edit.\n")  # with every change below
    if edit == "aliases":
        two.write_text(two.read_text().replace("title: Two", "title: Two\naliases: [/old-two/]"))
    elif edit == "section-page":
        blog = site / "content/blog/_index.md"
        blog.write_text(blog.read_text().replace("title: Blog", "title: Weblog"))
    elif edit == "date-newest":
        two.write_text(two.read_text().replace("date: 2024-02-01", "date: 2025-02-01"))
    elif edit == "removed-newest":
        (site / "content/blog/three.md").unlink()
    elif edit == "removed-referenced":
        (site / "content/blog/one.md").unlink()
    elif edit == "template":
        write_site(site, {"templates/single.html": "{% extends 'base.html' %}{% block main %}"
                          "<article>{{ content }}</article>{% endblock %}"})  # fmt: skip
    elif edit == "output-deleted":
        (site / "public/docs/faq/index.html").unlink()
    elif edit == "store-damaged":
        flip_value(db_file(site), "model", "p:blog/two.md")
    r = rebuild(site, tmp_path)
    assert not r.express and r.incremental
    if edit == "removed-referenced":
        assert any("ref('blog/one')" in str(e) for e in r.errors), r.errors
        return
    # And the next body edit takes the fast path again (a damaged store was written again).
    append(two, "\nOne more line.\n")
    r = rebuild(site, tmp_path)
    assert r.express, r.rebuild_reason


ONE_TAGS = {
    "tag-case": "[a, B]",  # (not the first page of b: the term keeps its name)
    "untag": "[a]",
    "last-of-term": "[b]",  # (its only page of a)
}


@pytest.mark.parametrize(
    "edit",
    [
        "title",  # [[two]] in one.md shows it: one.md is rendered again
        "shared-title",  # one.md's title too: [[ONE]] is ambiguous now, and then no longer
        "heading-title",  # the first heading titles a page without a front matter title
        "date",  # its place in its section, its neighbours, the site's date order
        "weight",
        "tags",  # a term it was not in (the term's first page now)
        "tag-case",
        "untag",
        "new-term",  # a term and its page (a new output) made
        "last-of-term",  # a term left without pages: it and its page's output go
        "description",
        "several",
    ],
)
def test_front_matter_edits_take_the_fast_path(site: Path, tmp_path: Path, edit: str) -> None:
    """Delta assembly (bengal.delta): the edited page's model objects, its neighbours', its
    lists' and terms' are updated in place; the output is a clean build's."""
    two = site / "content/blog/two.md"
    text = two.read_text()
    changed = {"blog/two.md": "metadata"}
    if edit == "heading-title":
        write_site(site, {"content/blog/untitled.md": "---\ndate: 2024-01-15\n---\n# First\n\nx\n"})
        rebuild(site, tmp_path)
        untitled = site / "content/blog/untitled.md"
        untitled.write_text(untitled.read_text().replace("# First", "# Renamed"))
        changed = {"blog/untitled.md": "body"}  # (the ordinary build's word for it too)
    elif edit == "title":
        two.write_text(text.replace("title: Two", "title: Second"))
    elif edit == "shared-title":
        write_site(site, {"content/docs/faq.md": "---\ntitle: FAQ\n---\nSee [[ONE]].\n"})
        assert not any("ambiguous" in w for w in rebuild(site, tmp_path).warnings)
        two.write_text(text.replace("title: Two", "title: One"))
    elif edit == "date":
        two.write_text(text.replace("date: 2024-02-01", "date: 2023-12-01"))
    elif edit == "weight":
        two.write_text(text.replace("title: Two", "title: Two\nweight: 3"))
    elif edit == "tags":
        two.write_text(text.replace("tags: [b]", "tags: [b, a]"))
    elif edit in ONE_TAGS:  # one.md's tags, [a, b] before
        one = site / "content/blog/one.md"
        one.write_text(one.read_text().replace("tags: [a, b]", f"tags: {ONE_TAGS[edit]}"))
        changed = {"blog/one.md": "metadata"}
    elif edit == "new-term":
        two.write_text(text.replace("tags: [b]", "tags: [b, Brand New]"))
    elif edit == "description":
        two.write_text(text.replace("title: Two", "title: Two\ndescription: The second one"))
    elif edit == "several":
        two.write_text(
            text.replace("title: Two", "title: Zwei").replace("2024-02-01", "2023-01-05")
        )
        guide = site / "content/docs/guide.md"
        guide.write_text(guide.read_text().replace("weight: 2", "weight: 0") + "\nMore.\n")
        changed = {"blog/two.md": "metadata", "docs/guide.md": "metadata"}
    r = rebuild(site, tmp_path)  # == a clean build, warnings too
    assert r.express and r.incremental, r.rebuild_reason
    assert r.changes == changed
    why = r.explain_outputs
    if edit == "title":
        assert "Second" in (site / "public/blog/one/index.html").read_text("utf-8")
        assert r.markdown_rendered == 2  # two.md, and one.md: its [[two]] shows the title
        assert why["blog/one/index.html"] == "page body changed"
    if edit == "shared-title":
        assert any("[[ONE]] is ambiguous" in w for w in r.warnings), r.warnings
        two.write_text(text)
        r = rebuild(site, tmp_path)
        assert r.express and not any("ambiguous" in w for w in r.warnings)
    if edit == "date":  # blog: three, two, one -> three, one, two
        assert r.markdown_rendered == 1 and r.files_read == 1
        # The home list (3 a pager): [three, two, one] [faq, guide] -> [three, one, two]
        # [faq, guide]: its second pager shows what it showed.
        assert why["index.html"] == "page nav changed" and "page/2/index.html" not in why
        assert why["blog/one/index.html"] == why["blog/three/index.html"] == "page nav changed"
        assert why["blog/two/index.html"] == "page meta changed"
        assert "docs/guide/index.html" not in why
    if edit == "new-term":
        assert why["tags/brand-new/index.html"] == "new output"
        assert why["tags/index.html"] == "reads site taxonomies, which changed"
        assert "Brand New" in (site / "public/tags/brand-new/index.html").read_text("utf-8")
    if edit == "last-of-term":
        assert not (site / "public/tags/a").exists()
        assert "tags/a/index.html" not in why
    if edit in ("tags", "untag"):  # two joins a; one leaves b
        assert why[f"tags/{'a' if edit == 'tags' else 'b'}/index.html"] == "page nav changed"
    assert _records(site) == _assembled_records(site)  # what an assembly of the site makes
    # The records it wrote serve the next builds: a no-op, a body edit, the ordinary build.
    assert run(site).noop
    append(two, "\nMore.\n")
    assert rebuild(site, tmp_path).express
    force_ordinary(site)
    append(two, "\nAgain.\n")
    r = rebuild(site, tmp_path)
    assert r.incremental and not r.express


@pytest.mark.parametrize(
    "edit",
    [
        "add",  # a page in docs: its lists, its neighbours, a new term and its page
        "add-resolves",  # a page a [[link]] did not find before: the linking page again
        "add-shared-title",  # its title is another page's: [[one]] is ambiguous now
        "remove",  # a page whose neighbours and lists change
        "remove-linked",  # a page [[linked]] to: broken now; its term goes with it
        "remove-linked-heading",  # ... after the heading linked to was renamed
        "rename",  # the same bytes under a new name
        "add-and-edit",  # a page added and another's front matter edited, at once
        "add-pager",  # the blog's list needs a second pager: a new output
        "add-ref",  # a template's ref('guide') answers with the new page now
        "empty-section",  # docs left without pages: its feed goes; and comes back
        "slug",  # a new URL: the page moves (taken out and put back)
        "draft-on",  # a draft is no page: it goes ...
        "draft-off",  # ... and comes back
        "remove-pager",  # ... and no longer: the pager's output goes
    ],
)
def test_pages_added_and_removed_take_the_fast_path(site: Path, tmp_path: Path, edit: str) -> None:
    """Delta assembly (bengal.delta) for pages that come and go: the model updated in place,
    the new page's output written, a gone page's removed; the output is a clean build's."""
    docs = site / "content/docs"
    if edit == "add":
        write_site(site, {"content/docs/new.md": "---\ntitle: New\ntags: [a, Fresh]\n---\n"
                          "See [[guide]].\n"})  # fmt: skip
        changed = {"docs/new.md": "added"}
    elif edit == "add-resolves":
        append(docs / "faq.md", "\nSee [[later]].\n")
        assert any("[[later]]" in w for w in rebuild(site, tmp_path).warnings)
        write_site(site, {"content/docs/later.md": "---\ntitle: Later\n---\nLater.\n"})
        changed = {"docs/later.md": "added"}
    elif edit == "add-shared-title":
        append(docs / "faq.md", "\nSee [[ONE]].\n")
        assert not any("ambiguous" in w for w in rebuild(site, tmp_path).warnings)
        write_site(site, {"content/docs/other.md": "---\ntitle: One\n---\nAnother one.\n"})
        changed = {"docs/other.md": "added"}
    elif edit == "remove":
        (docs / "faq.md").unlink()
        changed = {"docs/faq.md": "removed"}
    elif edit == "remove-linked":
        (docs / "guide.md").unlink()
        changed = {"docs/guide.md": "removed"}
    elif edit == "remove-linked-heading":  # (one.md's [[docs/guide#Setup]] names no heading ...
        guide = docs / "guide.md"
        guide.write_text(guide.read_text().replace("## Setup", "## Getting started"))
        assert any("has no heading" in w for w in rebuild(site, tmp_path).warnings)
        guide.unlink()  # ... and then no page: the warning it had is replaced)
        changed = {"docs/guide.md": "removed"}
    elif edit == "rename":
        (docs / "faq.md").rename(docs / "questions.md")
        changed = {"docs/faq.md": "removed", "docs/questions.md": "renamed from docs/faq.md"}
    elif edit == "add-ref":
        tpl = site / "templates/docs/single.html"
        tpl.write_text(tpl.read_text().replace("{{ content }}", "<a href='{{ ref('guide') }}'>g</a>"
                                                "{{ content }}"))  # fmt: skip
        rebuild(site, tmp_path)
        write_site(site, {"content/blog/guide.md": "---\ntitle: A guide\n---\nSooner.\n"})
        changed = {"blog/guide.md": "added"}
    elif edit == "empty-section":
        (docs / "faq.md").unlink()
        (docs / "guide.md").unlink()
        r = rebuild(site, tmp_path)
        assert r.express and not (site / "public/docs/index.xml").exists(), r.rebuild_reason
        assert r.pages == run(site).pages and r.files == run(site).files
        write_site(site, {"content/docs/faq.md": BASE_SITE["content/docs/faq.md"]})
        changed = {"docs/faq.md": "added"}
    elif edit == "slug":
        (docs / "faq.md").write_text("---\ntitle: FAQ\nweight: 1\nslug: questions\n---\nQ.\n")
        changed = {"docs/faq.md": "metadata"}
    elif edit in ("draft-on", "draft-off"):
        faq = docs / "faq.md"
        faq.write_text(faq.read_text().replace("weight: 1", "weight: 1\ndraft: true"))
        changed = {"docs/faq.md": "metadata"}
        if edit == "draft-off":
            assert rebuild(site, tmp_path).express
            faq.write_text(faq.read_text().replace("draft: true", "draft: false"))
    elif edit == "add-pager":  # (3 a pager: blog has three, one, two)
        write_site(site, {"content/blog/four.md": "---\ntitle: Four\n---\nFour.\n"})
        changed = {"blog/four.md": "added"}
    elif edit == "remove-pager":
        write_site(site, {"content/blog/four.md": "---\ntitle: Four\n---\nFour.\n"})
        assert (rebuild(site, tmp_path).explain_outputs["blog/page/2/index.html"]) == "new pager"
        (site / "content/blog/two.md").unlink()
        changed = {"blog/two.md": "removed"}
    else:
        write_site(site, {"content/docs/new.md": "---\ntitle: New\n---\nNew.\n"})
        two = site / "content/blog/two.md"
        two.write_text(two.read_text().replace("title: Two", "title: Zwei"))
        changed = {"blog/two.md": "metadata", "docs/new.md": "added"}
    r = rebuild(site, tmp_path)  # == a clean build, warnings too
    assert r.express and r.incremental, r.rebuild_reason
    assert r.changes == changed
    why = r.explain_outputs
    if edit == "add":
        assert why["docs/new/index.html"] == "new output"
        assert why["tags/fresh/index.html"] == "new output"
        assert why["tags/a/index.html"] == "page nav changed"
        assert r.markdown_rendered == 1
    if edit == "add-resolves":
        assert not any("[[later]]" in w for w in r.warnings)
        assert why["docs/faq/index.html"] == "page body changed"
    if edit == "add-shared-title":
        assert any("faq.md" in w and "[[ONE]] is ambiguous" in w for w in r.warnings)
        assert "docs/faq/index.html" not in why  # (its link resolves as before)
    if edit in ("remove", "rename"):
        assert not (site / "public/docs/faq").exists()
    if edit == "remove-linked":
        assert any("docs/guide#Setup" in w for w in r.warnings), r.warnings
        assert not (site / "public/categories/howto").exists()
        assert why["blog/one/index.html"] == "page body changed"
    if edit == "add-ref":
        assert why["docs/faq/index.html"] == "ref('guide') changed"
        assert "/docs/blog/guide/" in (site / "public/docs/faq/index.html").read_text("utf-8")
    if edit == "add-pager":
        assert why["blog/page/2/index.html"] == "new pager"
        assert why["blog/index.html"] == "page nav changed"  # (its pager links)
    if edit == "remove-pager":
        assert not (site / "public/blog/page/2").exists()
        assert "blog/page/2/index.html" not in why
    if edit == "empty-section":
        assert (site / "public/docs/index.xml").exists()
    if edit == "slug":
        assert why["docs/questions/index.html"] == "new output"
        assert not (site / "public/docs/faq").exists()
    if edit == "draft-on":
        assert not (site / "public/docs/faq").exists()
        faq.write_text(faq.read_text() + "\nA draft's edit.\n")  # (renders nothing)
        again = rebuild(site, tmp_path)
        assert again.express and again.rendered == 0, again.rebuild_reason
    noop = run(site)  # (it says what the state says)
    assert (r.pages, r.files) == (noop.pages, noop.files)
    assert _records(site) == _assembled_records(site)  # what an assembly of the site makes
    # The records it wrote serve the next builds: a no-op, a body edit, the ordinary build.
    assert run(site).noop
    one = site / "content/blog/one.md"
    append(one, "\nMore.\n")
    assert rebuild(site, tmp_path).express
    force_ordinary(site)
    append(one, "\nAgain.\n")
    r = rebuild(site, tmp_path)
    assert r.incremental and not r.express


def test_a_title_edit_with_a_draft_linking_to_the_page(site: Path, tmp_path: Path) -> None:
    """A draft is no page: its [[link]] to a retitled page renders nothing, so it neither
    stops the fast path nor reads as damage (the model has no record of it)."""
    write_site(site, {"content/blog/draft.md": "---\ntitle: D\ndraft: true\n---\nSee [[two]].\n"})
    rebuild(site, tmp_path)
    two = site / "content/blog/two.md"
    two.write_text(two.read_text().replace("title: Two", "title: Second"))
    r = rebuild(site, tmp_path)
    assert r.express, r.rebuild_reason
    assert not any("bengal.db" in w for w in r.warnings), r.warnings


@pytest.mark.parametrize(
    "edit",
    [
        "summary",  # the first paragraph: lists, feeds and the search index show it
        "xref",  # a new cross-reference (a path the page never looked up before)
        "heading",  # a new heading id: pages linking to its headings are checked again
        "warning",  # a Markdown warning (an unresolved [[link]]) joins the site's warnings
    ],
)
def test_body_edits_of_every_kind_take_the_fast_path(site: Path, tmp_path: Path, edit: str) -> None:
    """The rules of bengal.edits, the dev server's too: the site's warnings are kept with the
    edited page's replaced, the site-wide files written again when a summary changed."""
    two = site / "content/blog/two.md"
    append(two, "\nA body edit.\n")
    if edit == "summary":
        two.write_text(two.read_text().replace("Second.", "Second, rewritten."))
    elif edit == "xref":
        append(two, "\nSee [[three]].\n")
    elif edit == "heading":
        append(two, "\n## A new part\n\nText.\n")
    elif edit == "warning":
        append(two, "\nSee [[no-such-page]].\n")
    r = rebuild(site, tmp_path)  # == a clean build, warnings too
    assert r.express and r.incremental, r.rebuild_reason
    if edit == "summary":
        assert "Second, rewritten." in (site / "public/index.xml").read_text("utf-8")
    if edit == "warning":
        assert any("no-such-page" in w for w in r.warnings)
        # Said again by a build with nothing to do; gone once the page is fixed.
        assert any("no-such-page" in w for w in run(site).warnings)
        two.write_text(two.read_text().replace("[[no-such-page]]", "[[three]]"))
        r = rebuild(site, tmp_path)
        assert r.express and not any("no-such-page" in w for w in r.warnings)


def test_after_a_racy_build_the_next_body_edit_still_takes_the_fast_path(
    site: Path, tmp_path: Path
) -> None:
    """The racy rule is per file: a build right after an edit leaves only that file uncertain
    (hashed by the next build), not the whole next build."""
    two = site / "content/blog/two.md"
    append(two, "\nFresh.\n")  # modified just before the build
    assert run(site).express
    append(site / "content/blog/one.md", "\nLater.\n")
    r = rebuild(site, tmp_path)
    assert r.express and r.changes == {"blog/one.md": "body"}


def test_a_racy_file_edited_again_with_its_stamps_kept_is_seen(site: Path, tmp_path: Path) -> None:
    """The case the racy rule exists for: a file saved twice within one clock tick of a build,
    the second time with the same size and mtime. The next build hashes it and finds the
    edit, by the fast path too."""
    two = site / "content/blog/two.md"
    append(two, "\nFresh, first.\n")
    assert run(site).express
    st = two.stat()
    two.write_text(two.read_text().replace("Fresh, first.", "Fresh, other."))
    os.utime(two, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert two.stat().st_size == st.st_size
    scratch = tmp_path / "clean"
    r = assert_same(site, scratch)
    assert r.express and r.changes == {"blog/two.md": "body"}
    assert "Fresh, other." in (site / "public/blog/two/index.html").read_text()


def test_a_racy_template_is_judged_by_its_bytes(site: Path, tmp_path: Path) -> None:
    """A template modified just before a build (its stamp cannot tell a later edit) is
    compared by its bytes with what the outputs used: unused or unchanged, nothing renders for
    it."""
    (site / "templates/extra.html").write_text("unused")  # modified just before the build
    tpl = site / "templates/docs/single.html"
    tpl.write_text(tpl.read_text())  # the same bytes, just before the build
    run(site)
    append(site / "content/blog/two.md", "\nLater.\n")
    r = rebuild(site, tmp_path)
    assert r.express and not any("template" in why for why in r.explain_outputs.values())


def test_damage_elsewhere_is_found_by_the_build_that_reads_it(site: Path, tmp_path: Path) -> None:
    """The fast path reads a few records; damage to one it does not read leaves its output
    right, and the next ordinary build (which reads every table) finds it: a warning and a
    full build."""
    flip_value(db_file(site), "outputs", "docs/faq/index.html")
    append(site / "content/blog/two.md", "\nEdited.\n")
    r = rebuild(site, tmp_path)
    assert r.express
    two = site / "content/blog/two.md"
    two.write_text(two.read_text().replace("title: Two", "title: Two\naliases: [/old-two/]"))
    r = rebuild(site, tmp_path)
    assert not r.express and not r.incremental
    assert any("table outputs" in w and "rebuilding everything" in w for w in r.warnings)


def test_a_damaged_record_the_fast_path_reads_is_named_once(site: Path, tmp_path: Path) -> None:
    """Damage to a record of a table the ordinary build loads whole (here the edited source's):
    the fast path meets it first, leaves it to that load, which names it once and rebuilds
    everything."""
    flip_value(db_file(site), "sources", "blog/two.md")
    append(site / "content/blog/two.md", "\nEdited.\n")
    r = rebuild(site, tmp_path)
    assert not r.express and not r.incremental
    assert [w for w in r.warnings if "bengal.db" in w] == [
        f"{db_file(site)}: table sources: record 'blog/two.md' is damaged (checksum mismatch); "
        "rebuilding everything"
    ]


def test_a_damaged_reverse_index_record_is_repaired(site: Path, tmp_path: Path) -> None:
    """Only the fast path reads the reverse index: it names the damaged record, the ordinary
    build writes the tables again, and the next body edit takes the fast path again."""
    flip_value(db_file(site), "rdeps", "p:blog/two.md")
    append(site / "content/blog/two.md", "\nEdited.\n")
    r = rebuild(site, tmp_path)
    assert not r.express and r.incremental
    assert [w for w in r.warnings if "table rdeps" in w and "repaired" in w], r.warnings
    append(site / "content/blog/two.md", "\nEdited again.\n")
    r = rebuild(site, tmp_path)
    assert r.express and r.warnings == []


def test_a_template_reading_more_when_the_body_grows(site: Path, tmp_path: Path) -> None:
    """What a render reads can depend on the body: the objects it reaches are loaded on first
    use, whatever they are (here every page of the site, and a section's pages)."""
    write_site(
        site,
        {
            "templates/blog/single.html": "{% extends 'base.html' %}{% block main %}"
            "{% if page.word_count > 8 %}<ul>{% for p in site.pages %}<li>{{ p.title }} "
            "{{ p.url }} {{ p.reading_time }}</li>{% endfor %}</ul>"
            "{% for p in page.section.pages %}<b>{{ p.summary }}</b>{% endfor %}{% endif %}"
            "{{ content }}{% endblock %}"
        },
    )
    rebuild(site, tmp_path)
    append(site / "content/blog/two.md", "\none two three four five six seven eight nine\n")
    r = rebuild(site, tmp_path)
    assert r.express
    assert "<li>Guide" in (site / "public/blog/two/index.html").read_text()


def test_several_edits_at_once(site: Path, tmp_path: Path) -> None:
    append(site / "content/blog/two.md", "\nEdit two.\n")
    append(site / "content/docs/faq.md", "\nEdit faq.\n")
    r = rebuild(site, tmp_path)
    assert r.express
    assert r.changes == {"blog/two.md": "body", "docs/faq.md": "body"}


def test_a_touched_file_with_the_same_bytes(site: Path, tmp_path: Path) -> None:
    p = site / "content/blog/two.md"
    p.write_text(p.read_text())
    r = rebuild(site, tmp_path)
    assert r.express and r.rendered == 0 and r.changes == {}
    assert run(site).noop


def _records(site: Path) -> dict[str, object]:
    """The recorded model, every record read and checked."""
    return records(db_file(site), "model")


def _model(site: Path) -> recorded.Model:
    from bengal.store import Store

    return recorded.Model(express.Reads(Store(db_file(site))), str(site / "content"))


def _assembled_records(site: Path) -> dict[str, object]:
    from bengal.assemble import assemble
    from bengal.config import load_config
    from bengal.discover import discover
    from bengal.sources import load_data, load_sources

    tree = discover(site)
    asm = assemble(load_config(site), load_sources(tree).sources, load_data(site, tree)[0])
    xrefs = recorded.Xrefs(asm.xref_added, asm.ambiguous_keys, asm.xref_tiers)
    return recorded.model_records(asm.site, xrefs)


def test_a_title_edit_keeps_unchanged_model_records(site: Path, tmp_path: Path) -> None:
    """After a title edit only the records of objects whose fingerprints changed are written;
    every record equals the model's."""
    p = site / "content/blog/two.md"
    p.write_text(p.read_text().replace("title: Two", "title: Two\ndescription: The second"))
    force_ordinary(site)
    r = rebuild(site, tmp_path)
    assert not r.express and r.incremental
    stored = _records(site)
    # made again: the edited page's record and the site-wide ones (12); the rest kept
    assert r.model_kept == len(stored) - 13
    assert stored == _assembled_records(site)
    # A title edit on the fast path (delta assembly) writes what an assembly would make ...
    p.write_text(p.read_text().replace("title: Two", "title: Second"))
    r = rebuild(site, tmp_path)
    assert r.express
    assert _records(site) == _assembled_records(site)
    # ... and the ordinary build after it keeps them (writes the site-wide ones only)
    force_ordinary(site)
    append(site / "content/blog/three.md", "\nMore words.\n")
    r = rebuild(site, tmp_path)
    assert not r.express and r.incremental
    assert r.model_kept == len(stored) - 12
    # and the fast path reads it: a body edit then is the same as a clean build
    append(site / "content/blog/one.md", "\nMore words.\n")
    r = rebuild(site, tmp_path)
    assert r.express


@pytest.mark.parametrize("key", ["s:blog", "site", "p:blog/one.md"])
def test_a_damaged_model_record_is_reported_and_written_again(
    site: Path, tmp_path: Path, key: str
) -> None:
    """A record of the recorded model damaged with its checksum kept: the fast path says so,
    the ordinary build writes the model again, and the next edit uses it."""
    flip_value(db_file(site), "model", key)
    append(site / "content/blog/two.md", "\nEdited.\n")
    r = rebuild(site, tmp_path)
    assert not r.express and r.incremental
    assert [w for w in r.warnings if "table model" in w and "repaired" in w], r.warnings
    assert _records(site) == _assembled_records(site)
    append(site / "content/blog/two.md", "\nEdited again.\n")
    assert rebuild(site, tmp_path).express


def test_store_records_round_trip(site: Path) -> None:
    """Every object of the recorded model loads to what the assembled model holds."""
    lazy = _model(site).site()
    from bengal.assemble import assemble
    from bengal.config import load_config
    from bengal.discover import discover
    from bengal.sources import load_data, load_sources

    config = load_config(site)
    tree = discover(site)
    loaded = load_sources(tree)
    data, _ = load_data(site, tree)
    real = assemble(config, loaded.sources, data).site

    def shape(p: object) -> object:
        if p is None:
            return None
        return incremental.obj_key(p)

    assert [shape(p) for p in lazy.pages] == [shape(p) for p in real.pages]
    for a, b in zip(lazy.pages, real.pages, strict=True):
        for attr in (
            "source", "kind", "title", "url", "permalink", "output_path", "bundle_dir",
            "taxonomy", "body_line", "draft", "weight", "date", "params", "type",
        ):  # fmt: skip
            assert getattr(a, attr) == getattr(b, attr), (a, attr)
        assert shape(a.section) == shape(b.section)
        assert shape(a.prev) == shape(b.prev) and shape(a.next) == shape(b.next)
        assert [shape(x) for x in a.list_pages] == [shape(x) for x in b.list_pages]
        assert {t: [shape(x) for x in v] for t, v in a.terms.items()} == {
            t: [shape(x) for x in v] for t, v in b.terms.items()
        }
        assert [s.path for s in a.ancestors] == [s.path for s in b.ancestors]
    assert list(lazy.sections) == list(real.sections)
    for path, sec in real.sections.items():
        ls = lazy.sections[path]
        assert (ls.title, ls.cascade, shape(ls.index)) == (sec.title, sec.cascade, shape(sec.index))
        assert [shape(x) for x in ls.pages] == [shape(x) for x in sec.pages]
        assert [x.path for x in ls.subsections] == [x.path for x in sec.subsections]
    assert {t: list(v) for t, v in lazy.taxonomies.items()} == {
        t: list(v) for t, v in real.taxonomies.items()
    }
    assert incremental._k(lazy.menus) == incremental._k(real.menus)
    assert (lazy.title, lazy.baseurl, lazy.data, lazy.build_date) == (
        real.title, real.baseurl, real.data, real.build_date,
    )  # fmt: skip
    assert list(lazy.page_by_output) == list(real.page_by_output)
    assert lazy.home is lazy.sections[""]
    # One object per key.
    assert lazy.pages[0] is lazy.page_by_output[lazy.pages[0].output_path]


def test_a_lazy_object_without_its_field_is_an_attribute_error() -> None:
    from bengal.model import Page

    p = object.__new__(Page)
    with pytest.raises(AttributeError):
        _ = p.title


# ---- found by review ---------------------------------------------------------------------------


def test_a_warning_with_a_line_the_edit_moves(site: Path, tmp_path: Path) -> None:
    """A page with a warning (a link to a missing heading) is edited above it: the warning's
    line moves, and the fast path says it with the new line (the page's findings replaced)."""
    two = site / "content/blog/two.md"
    append(two, "\nSee [[guide#no-such-part]].\n")
    first = rebuild(site, tmp_path)
    assert any("no-such-part" in w for w in first.warnings)
    two.write_text(two.read_text().replace("Second.", "Second.\n\nA new paragraph above.\n"))
    r = rebuild(site, tmp_path)  # compares the warnings (and their lines) with a clean build
    assert r.express


def test_an_unterminated_front_matter_is_an_error_as_usual(site: Path, tmp_path: Path) -> None:
    two = site / "content/blog/two.md"
    two.write_text(two.read_text().replace("tags: [b]\n---\n", "tags: [b]\n"))
    append(site / "content/docs/faq.md", "\nEdited too.\n")
    r = rebuild(site, tmp_path)  # the same errors as a clean build; the rest is built
    assert not r.express and any("blog/two.md" in e for e in r.errors)


def test_configuration_warnings_are_said_once(site: Path, tmp_path: Path) -> None:
    toml = site / "bengal.toml"
    toml.write_text("no_such_setting = 1\n" + toml.read_text())
    first = rebuild(site, tmp_path)
    said = [w for w in first.warnings if "no_such_setting" in w]
    assert len(said) == 1
    append(site / "content/blog/two.md", "\nEdited.\n")
    r = rebuild(site, tmp_path)
    assert r.express
    assert [w for w in r.warnings if "no_such_setting" in w] == said
    noop = run(site)
    assert noop.noop and [w for w in noop.warnings if "no_such_setting" in w] == said


@pytest.mark.parametrize("fast", [True, False])
def test_a_template_showing_the_markdown_itself(site: Path, tmp_path: Path, fast: bool) -> None:
    """`*x*` -> `_x_` changes the Markdown (page.body) but not the HTML: a template that shows
    the Markdown must still be rendered again."""
    write_site(
        site,
        {
            "templates/blog/single.html": "{% extends 'base.html' %}{% block main %}"
            "<pre>{{ page.body }}</pre>{{ content }}{% endblock %}",
            "content/blog/two.md": "---\ntitle: Two\ndate: 2024-02-01\ntags: [b]\n---\n"
            "Second.\n\nSome *emphasis* here.\n",
        },
    )
    rebuild(site, tmp_path)
    two = site / "content/blog/two.md"
    two.write_text(two.read_text().replace("*emphasis*", "_emphasis_"))
    if not fast:
        age_edits(site)
        force_ordinary(site)
    r = rebuild(site, tmp_path)
    assert r.express == fast
    assert "_emphasis_" in (site / "public/blog/two/index.html").read_text()


def test_the_recorded_xref_index_answers_as_the_assembled_one(site: Path) -> None:
    """Model.xref_index() (ref() in templates on the fast path) replays the index's additions
    natively (XrefIndex.add_many): the same answer for every key, first addition winning."""
    from bengal.assemble import assemble
    from bengal.config import load_config
    from bengal.discover import discover
    from bengal.sources import load_data, load_sources

    model = _model(site)
    replayed = model.xref_index()
    # Made once per model: every ref() call of a fast-path render and the Markdown context of
    # the edits share it (it was remade per call once).
    assert model.xref_index() is replayed
    tree = discover(site)
    loaded = load_sources(tree)
    real = assemble(load_config(site), loaded.sources, load_data(site, tree)[0]).xref_index
    assert sorted(replayed.keys()) == sorted(real.keys()) and len(real) > 10
    for key in [*real.keys(), "Two", "TWO", "./blog/two.md", "nothing"]:
        assert replayed.lookup(key) == real.lookup(key), key


def test_the_reverse_index_matches_the_records(site: Path, tmp_path: Path) -> None:
    """The reverse index (the rdeps table) is updated record by record (by ordinary builds and
    the fast path alike); after any mix of builds it equals one made from the output records."""

    two = site / "content/blog/two.md"
    steps = [
        lambda: append(two, "\nBody.\n"),
        lambda: two.write_text(two.read_text().replace("title: Two", "title: Second")),
        lambda: (site / "content/blog/three.md").unlink(),
        lambda: write_site(site, {"content/docs/new.md": "---\ntitle: New\n---\nNew.\n"}),
        lambda: append(site / "content/docs/new.md", "\nMore.\n"),
        lambda: write_site(
            site,
            {
                "templates/single.html": "{% extends 'base.html' %}"
                "{% block main %}{{ content }}{% endblock %}"
            },
        ),  # fmt: skip
        lambda: edit_template(site, "single.html", "{{ content }}", "<div>{{ content }}</div>"),
        lambda: append(site / "templates/docs/single.html", "{% include 'tiny.html' %}"),
        lambda: append(site / "content/blog/two.md", "\nAgain.\n"),
    ]

    def check() -> None:
        stored = records(db_file(site), "rdeps")
        want: dict[str, list[str]] = {}
        for path, rec in records(db_file(site), "outputs").items():
            for k in incremental.contributions(rec):
                want.setdefault(k, []).append(path)
        assert stored == {k: tuple(sorted(v)) for k, v in want.items()}

    shutil.rmtree(site / ".bengal")
    rebuild(site, tmp_path)  # a full build: the index made from scratch
    check()
    write_site(site, {"templates/tiny.html": "<i>tiny</i>"})
    for step in steps:
        step()
        rebuild(site, tmp_path)
        check()


def test_explain_says_the_fast_path(site: Path, tmp_path: Path) -> None:
    import contextlib
    import io
    import json

    from bengal.cli import main

    append(site / "content/blog/two.md", "\nExplained.\n")
    age_edits(site)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["build", str(site), "--explain", "--explain-json", "-"]) == 0
    text = out.getvalue()
    assert "explain: incremental build, fast path for edits (input files changed)" in text
    data = json.loads(text[text.index("{") : text.rindex("}") + 1])
    assert data["fast_path"] is True and data["sources"] == {"blog/two.md": "body"}
    assert data["rendered"]["blog/two/index.html"] == "page body changed"
    # The change set, as the planner took it.
    assert "  changed content/blog/two.md (content, modified)" in text
    assert data["changed"] == ["content/blog/two.md (content, modified)"]


# ---- found by the second review ----------------------------------------------------------------


def test_a_cache_that_could_not_be_saved_is_not_trusted(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build whose cache save failed records no state: the next body edit must not render
    from the older cache and model store (they predate the failed build's title edit)."""
    one = site / "content/blog/one.md"
    # (a slug: the ordinary build's edit)
    one.write_text(one.read_text().replace("title: One", "title: One Renamed\nslug: one"))
    age_edits(site)

    def fail(*args: object, **kw: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(incremental, "save", fail)
        r = run(site)
    assert any("cannot save the build cache" in w for w in r.warnings)
    append(site / "content/blog/two.md", "\nAfter the failed save.\n")
    r = rebuild(site, tmp_path)
    assert not r.express
    assert "One Renamed" in (site / "public/blog/index.html").read_text()


def test_a_warning_said_twice_stays_twice(site: Path, tmp_path: Path) -> None:
    write_site(site, {"content/docs/faq.md": "---\ntitle: FAQ\n---\nSee [[nope]] and [[nope]].\n"})
    first = rebuild(site, tmp_path)
    assert sum("nope" in w for w in first.warnings) == 2
    assert sum("nope" in w for w in run(site).warnings) == 2  # the no-op build
    append(site / "content/blog/two.md", "\nElsewhere.\n")
    r = rebuild(site, tmp_path)
    assert r.express and sum("nope" in w for w in r.warnings) == 2


def test_damaged_stored_answers_are_repaired(site: Path, tmp_path: Path) -> None:
    """The fast path is the only reader of the renderings' stored cross-reference answers: one
    it finds damaged is reported, the ordinary build writes them again, and the fast path works
    again after that."""
    flip_value(db_file(site), "answers", "blog/two.md")
    append(site / "content/blog/two.md", "\nFirst edit.\n")
    r = rebuild(site, tmp_path)
    assert not r.express and any("repaired" in w for w in r.warnings)
    assert record(db_file(site), "answers", "blog/two.md") is not None
    append(site / "content/blog/two.md", "\nSecond edit.\n")
    r = rebuild(site, tmp_path)
    assert r.express and not any("repaired" in w for w in r.warnings)


def edit_template(site: Path, name: str, old: str, new: str) -> None:
    p = site / "templates" / name
    text = p.read_text(encoding="utf-8")
    assert old in text
    p.write_text(text.replace(old, new), encoding="utf-8")


def test_a_template_edit_renders_the_outputs_that_used_it(site: Path, tmp_path: Path) -> None:
    """A template edited in place: the outputs that used it (extends and includes too) are
    rendered from the records, nothing else; the same bytes as a clean build."""
    edit_template(site, "docs/single.html", "<p class=aud>", "<p class=audience>")
    r = rebuild(site, tmp_path)
    assert r.express and r.errors == [], r.rebuild_reason
    assert r.explain_outputs == {
        "docs/faq/index.html": "template docs/single.html changed",
        "docs/guide/index.html": "template docs/single.html changed",
    }
    assert r.rendered == 2 and r.markdown_rendered == 0 and r.files_read == 0
    assert "audience" in (site / "public/docs/faq/index.html").read_text()
    # A template included by one: only the outputs that included it.
    write_site(site, {"templates/partials/note.html": "<b>note</b>"})
    edit_template(site, "docs/single.html", "{{ content }}", "{% include 'partials/note.html' %}"
                  "{{ content }}")  # fmt: skip
    r = rebuild(site, tmp_path)
    assert not r.express  # a template added: the ordinary build
    edit_template(site, "partials/note.html", "note", "a note")
    r = rebuild(site, tmp_path)
    assert r.express and set(r.explain_outputs) == {"docs/faq/index.html", "docs/guide/index.html"}
    # A template and a body at once; then a template no output uses (nothing to render).
    edit_template(site, "partials/note.html", "a note", "the note")
    append(site / "content/blog/two.md", "\nAnd a body edit.\n")
    r = rebuild(site, tmp_path)
    assert r.express and "blog/two/index.html" in r.explain_outputs
    assert r.explain_outputs["docs/faq/index.html"] == "template partials/note.html changed"
    write_site(site, {"templates/unused.html": "x"})
    rebuild(site, tmp_path)
    (site / "templates/unused.html").write_text("y")
    r = rebuild(site, tmp_path)
    assert r.express and r.rendered == 0
    assert run(site).noop


def test_a_broken_template_edit_takes_the_ordinary_build(site: Path, tmp_path: Path) -> None:
    edit_template(site, "docs/single.html", "{% endblock %}", "{% endblck %}")
    r = rebuild(site, tmp_path)
    assert not r.express and r.errors and "docs/single.html" in r.errors[0]
    edit_template(site, "docs/single.html", "{% endblck %}", "{% endblock %}")
    r = rebuild(site, tmp_path)
    assert r.errors == []


def test_a_template_many_outputs_use_takes_the_ordinary_build(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bengal import edits

    monkeypatch.setattr(edits, "MAX_OUTPUTS", 1)
    edit_template(site, "docs/single.html", "<p class=aud>", "<p class=audience>")
    r = rebuild(site, tmp_path)
    assert not r.express and r.incremental
    assert set(r.explain_outputs) == {"docs/faq/index.html", "docs/guide/index.html"}
