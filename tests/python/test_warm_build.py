"""The dev server's builder (WarmBuilder): after any sequence of edits, rebuilt in one process
from the site model it keeps in memory, the output equals a clean build's, byte for byte; body
edits take the in-memory path; the cache it writes when idle is one a later build can trust,
and so is the one it leaves when it never gets to write it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from bengal.build import BuildOptions, BuildResult, build
from bengal.warm import WarmBuilder
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from test_incremental import BASE_SITE, assert_trees_equal, snapshot, write_site

ORIGIN = "http://127.0.0.1:5999"
SITE = {
    **BASE_SITE,
    # The title comes from the first heading: editing that heading retitles the page.
    "content/notes.md": "# Notes heading\n\nSome notes, see [[one]].\n",
}


def warm_builder(site: Path) -> WarmBuilder:
    state = site / ".bengal" / "serve"
    return WarmBuilder(site, state_dir=state, output=state / "public", origin=ORIGIN, workers=1)


def clean_build(site: Path, scratch: Path) -> tuple[dict[str, bytes], BuildResult]:
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(site, scratch, ignore=shutil.ignore_patterns("public", ".bengal"))
    res = build(scratch, BuildOptions(workers=1, baseurl=ORIGIN + "/docs/"))
    return snapshot(scratch / "public"), res


def assert_same(site: Path, scratch: Path, res: BuildResult) -> None:
    want, clean = clean_build(site, scratch)
    assert_trees_equal(snapshot(site / ".bengal" / "serve" / "public"), want, clean, "warm")
    assert sorted(res.errors) == sorted(clean.errors)


PARAGRAPHS = st.lists(
    st.sampled_from(["alpha", "beta", "gamma", "[[two]]", "[[guide#setup]]", "**bold**", "é"]),
    min_size=1,
    max_size=6,
).map(" ".join)
BODY_PAGES = ["content/blog/one.md", "content/blog/two.md", "content/blog/three.md",
              "content/docs/guide.md", "content/docs/faq.md", "content/_index.md",
              "content/notes.md"]  # fmt: skip


class WarmSite(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="bengal-warm-"))
        self.site = self.tmp / "site"
        write_site(self.site, SITE)
        self.builder = warm_builder(self.site)
        self.last = self.builder.build(None)
        assert not self.last.errors, self.last.errors
        self.n = 0

    def _file(self, rel: str) -> Path:
        return self.site / rel

    def _rebuild(self, *changed: str) -> BuildResult:
        self.last = self.builder.build(list(changed))
        return self.last

    @rule(
        page=st.sampled_from(BODY_PAGES), text=PARAGRAPHS, where=st.sampled_from(["end", "start"])
    )
    def edit_body(self, page: str, text: str, where: str) -> None:
        p = self._file(page)
        old = p.read_text(encoding="utf-8")
        if where == "end":
            new = old + f"\n{text}\n"
        else:  # the first paragraph (so the summary) changes
            head, sep, body = old.partition("\n---\n") if old.startswith("---\n") else ("", "", old)
            lines = body.split("\n")
            at = 1 if lines and lines[0].startswith("# ") else 0  # keep a title heading first
            lines.insert(at, f"\n{text}\n")
            new = head + sep + "\n".join(lines)
        p.write_text(new, encoding="utf-8")
        res = self._rebuild(page)
        assert res.warm, f"a body edit of {page} took the ordinary build"

    @rule(page=st.sampled_from(BODY_PAGES))
    def add_heading(self, page: str) -> None:
        self.n += 1
        p = self._file(page)
        p.write_text(p.read_text(encoding="utf-8") + f"\n## Part {self.n}\n\nText.\n", "utf-8")
        res = self._rebuild(page)
        assert res.warm, f"a new heading in {page} took the ordinary build"

    @rule()
    def edit_title_heading(self) -> None:
        self.n += 1
        p = self._file("content/notes.md")
        first, _, rest = p.read_text(encoding="utf-8").partition("\n")
        assert first.startswith("# ")
        p.write_text(f"# Notes {self.n}\n{rest}", encoding="utf-8")
        res = self._rebuild("content/notes.md")
        assert res.warm, "a title from the first heading took the ordinary build"

    @rule(title=st.sampled_from(["One!", "Uno", "First"]))
    def edit_front_matter(self, title: str) -> None:
        p = self._file("content/blog/one.md")
        lines = p.read_text(encoding="utf-8").split("\n")
        lines[1] = f"title: {title}"
        p.write_text("\n".join(lines), encoding="utf-8")
        res = self._rebuild("content/blog/one.md")
        assert res.warm or res.noop, "a title edit took the ordinary build"

    @rule()
    def add_page(self) -> None:
        self.n += 1
        rel = f"content/blog/new{self.n}.md"
        self._file(rel).write_text(f"---\ntitle: New {self.n}\n---\nNew [[one]].\n", "utf-8")
        self._rebuild(rel)

    @rule()
    def delete_page(self) -> None:
        pages = sorted(self._file("content/blog").glob("new*.md"))
        if pages:
            pages[0].unlink()
            self._rebuild(pages[0].relative_to(self.site).as_posix())

    @rule()
    def edit_template(self) -> None:
        self.n += 1
        p = self._file("templates/docs/single.html")
        p.write_text(p.read_text(encoding="utf-8") + f"<!-- {self.n} -->", "utf-8")
        self._rebuild("templates/docs/single.html")

    @rule()
    def break_and_fix_front_matter(self) -> None:
        p = self._file("content/blog/two.md")
        good = p.read_text(encoding="utf-8")
        p.write_text(good.replace("title: Two", "title: [Two"), "utf-8")
        bad = self._rebuild("content/blog/two.md")
        assert bad.errors and "blog/two.md" in bad.errors[0]
        p.write_text(good, "utf-8")
        self._rebuild("content/blog/two.md")

    @rule()
    def same_bytes(self) -> None:
        p = self._file("content/blog/three.md")
        p.write_bytes(p.read_bytes())
        res = self._rebuild("content/blog/three.md")
        assert res.noop or not res.warm or res.rendered == 0

    @rule()
    def idle_flush(self) -> None:
        self.builder.flush()

    @rule(flush=st.booleans())
    def restart(self, flush: bool) -> None:
        """The server stops (after writing its cache, or killed before it could) and starts
        again: the first build reads .bengal and must still equal a clean build."""
        if flush:
            self.builder.close()
        elif self.builder.warm is not None:
            self.builder.warm.close()  # dropped without a flush, as by kill -9
        self.builder = warm_builder(self.site)
        self.last = self.builder.build(None)

    @invariant()
    def equals_clean(self) -> None:
        assert_same(self.site, self.tmp / "scratch", self.last)

    def teardown(self) -> None:
        if self.builder.warm is not None:
            self.builder.warm.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


TestWarmSite = WarmSite.TestCase
TestWarmSite.settings = settings(
    max_examples=int(os.environ.get("BENGAL_WARM_EXAMPLES", "8")),
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_body_edit_renders_only_its_readers(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_site(site, SITE)
    b = warm_builder(site)
    first = b.build(None)
    assert not first.errors and not first.warm
    p = site / "content/blog/three.md"
    # A first paragraph longer than a summary: the summary is its first words.
    long = " ".join(f"word{i}" for i in range(100))
    p.write_text(p.read_text(encoding="utf-8").replace("Third", "Third " + long), "utf-8")
    res = b.build(["content/blog/three.md"])
    assert res.warm and "blog/index.html" in res.explain_outputs
    p.write_text(p.read_text(encoding="utf-8") + "\nA later paragraph.\n", "utf-8")
    res = b.build(["content/blog/three.md"])
    assert res.warm and res.markdown_rendered == 1 and res.files_read == 1
    # The page itself, and the lists that show its reading time (read from its body); not
    # the other 40-odd outputs.
    assert sorted(res.explain_outputs) == ["blog/index.html", "blog/three/index.html", "index.html"]
    out = (site / ".bengal/serve/public/blog/three/index.html").read_text(encoding="utf-8")
    assert "A later paragraph." in out
    # The first paragraph is the summary: lists, feeds and the search index show it.
    p.write_text(p.read_text(encoding="utf-8").replace("Third", "Third, revised"), "utf-8")
    res = b.build(["content/blog/three.md"])
    assert res.warm and "blog/index.html" in res.explain_outputs
    assert "Third, revised" in (site / ".bengal/serve/public/index.xml").read_text("utf-8")
    b.close()
    assert_same(site, tmp_path / "scratch", res)


def test_renamed_heading_breaks_links_to_it(tmp_path: Path) -> None:
    """blog/one.md links [[docs/guide#Setup]]: renaming that heading is a body edit of the
    guide, and the warning appears on the page that links to it -- as a clean build says."""
    site = tmp_path / "site"
    write_site(site, SITE)
    b = warm_builder(site)
    assert not [w for w in b.build(None).warnings if "#setup" in w]
    guide = site / "content/docs/guide.md"
    guide.write_text(guide.read_text(encoding="utf-8").replace("## Setup", "## Install"), "utf-8")
    res = b.build(["content/docs/guide.md"])
    assert res.warm
    broken = [w for w in res.warnings if "has no heading '#setup'" in w]
    assert broken and broken[0].startswith("blog/one.md:")
    _, clean = clean_build(site, tmp_path / "scratch")
    assert broken[0] in clean.warnings
    guide.write_text(guide.read_text(encoding="utf-8").replace("## Install", "## Setup"), "utf-8")
    res = b.build(["content/docs/guide.md"])
    assert res.warm and not [w for w in res.warnings if "#setup" in w]
    b.close()


def test_flush_writes_a_cache_the_next_build_reuses(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_site(site, SITE)
    b = warm_builder(site)
    b.build(None)
    p = site / "content/blog/two.md"
    p.write_text(p.read_text(encoding="utf-8") + "\nMore.\n", "utf-8")
    assert b.build(["content/blog/two.md"]).warm
    b.close()  # writes the in-memory cache
    again = warm_builder(site).build(None)
    assert again.incremental and again.rendered == 0 and again.markdown_rendered == 0


def test_pages_that_come_and_go_take_the_warm_path(tmp_path: Path) -> None:
    """Delta assembly in the dev server (bengal.delta): a page added (a new term, a new
    pager), renamed and removed is rebuilt from the model in memory; after each the output
    is a clean build's; the watcher's next events are told apart by the tree it keeps."""
    site = tmp_path / "site"
    write_site(site, SITE)
    b = warm_builder(site)
    b.build(None)
    steps: list[tuple[str, list[str]]] = [
        ("add", ["content/blog/four.md"]),  # blog's list: a second pager; a new term
        ("retag", ["content/blog/four.md"]),  # the term left without pages goes
        ("rename", ["content/blog/four.md", "content/docs/four.md"]),
        ("edit", ["content/docs/four.md"]),  # (the tree knows the new name)
        ("remove", ["content/docs/four.md"]),
    ]
    for what, paths in steps:
        if what == "add":
            write_site(site, {paths[0]: "---\ntitle: Four\ntags: [fresh]\n---\nSee [[one]].\n"})
        elif what == "retag":
            p = site / paths[0]
            p.write_text(p.read_text(encoding="utf-8").replace("[fresh]", "[b]"), "utf-8")
        elif what == "rename":
            (site / paths[1]).parent.mkdir(exist_ok=True)
            (site / paths[0]).rename(site / paths[1])
        elif what == "edit":
            p = site / paths[0]
            p.write_text(p.read_text(encoding="utf-8") + "\nMore.\n", "utf-8")
        else:
            (site / paths[0]).unlink()
        res = b.build(paths)
        assert res.warm and not res.errors, (what, res.rebuild_reason)
        assert_same(site, tmp_path / "scratch", res)
    assert "blog/page/2/index.html" not in b.warm.jobs if b.warm else False
    b.close()
    again = warm_builder(site).build(None)  # the cache it wrote: nothing to do
    assert again.incremental and again.rendered == 0


@pytest.mark.parametrize("change", ["static/robots-note.txt", "bengal.toml", "data/team.yaml"])
def test_other_changes_take_the_ordinary_build(tmp_path: Path, change: str) -> None:
    site = tmp_path / "site"
    write_site(site, SITE)
    b = warm_builder(site)
    b.build(None)
    f = site / change
    f.write_text(f.read_text(encoding="utf-8") + "\n", "utf-8")
    res = b.build([change])
    assert not res.warm and not res.errors
    b.close()
    assert_same(site, tmp_path / "scratch", res)


def test_vanished_temporary_files_do_not_spoil_a_body_edit(tmp_path: Path) -> None:
    """`sed -i` and some editors write a temporary file and rename it over the page: the
    watcher names both; the temporary one is gone and was never a source."""
    site = tmp_path / "site"
    write_site(site, SITE)
    b = warm_builder(site)
    b.build(None)
    p = site / "content/blog/two.md"
    p.write_text(p.read_text(encoding="utf-8") + "\nEdited in place.\n", "utf-8")
    res = b.build(["content/blog/two.md", "content/blog/sedX1b2c3"])
    assert res.warm and res.rendered >= 1
    # A folder moved away is reported as one path: the ordinary build handles it.
    shutil.move(str(site / "content/docs"), str(tmp_path / "docs-away"))
    res = b.build(["content/docs"])
    assert not res.warm
    b.close()
    assert_same(site, tmp_path / "scratch", res)


def test_a_failure_midway_is_never_trusted_later(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A warm build that fails after changing its in-memory state (here: the disk fills up
    while the feeds are written) must not leave that state for later builds or the cache."""
    from bengal.publish import Publisher

    site = tmp_path / "site"
    write_site(site, SITE)
    b = warm_builder(site)
    b.build(None)
    p = site / "content/blog/one.md"
    p.write_text(p.read_text(encoding="utf-8").replace("First post.", "First, revised."), "utf-8")

    def full(*args: object, **kw: object) -> list[str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Publisher, "write", full)
    with pytest.raises(OSError):
        b.build(["content/blog/one.md"])
    monkeypatch.undo()
    assert b.warm is None  # forgotten, not written
    q = site / "content/blog/two.md"
    q.write_text(q.read_text(encoding="utf-8") + "\nMore.\n", "utf-8")
    res = b.build(["content/blog/two.md"])
    assert_same(site, tmp_path / "scratch", res)
    b.close()
    # And after a restart from the cache files.
    res = warm_builder(site).build(None)
    assert_same(site, tmp_path / "scratch", res)


def test_a_template_edit_renders_only_the_outputs_that_used_it(tmp_path: Path) -> None:
    """The dev server takes a template edited in place from memory, with a new template
    environment (the warm one does not read template files again)."""
    site = tmp_path / "site"
    write_site(site, SITE)
    b = warm_builder(site)
    b.build(None)
    tpl = site / "templates/docs/single.html"
    tpl.write_text(tpl.read_text(encoding="utf-8").replace("<p class=aud>", "<p class=edited>"))
    res = b.build(["templates/docs/single.html"])
    assert res.warm and not res.errors
    assert set(res.explain_outputs) == {"docs/faq/index.html", "docs/guide/index.html"}
    assert all(w == "template docs/single.html changed" for w in res.explain_outputs.values())
    out = site / ".bengal/serve/public/docs/faq/index.html"
    assert "<p class=edited>" in out.read_text(encoding="utf-8")
    # Broken: the ordinary build reports it; mended: the same as a clean build.
    tpl.write_text(tpl.read_text(encoding="utf-8").replace("{% endblock %}", "{% endblck %}"))
    res = b.build(["templates/docs/single.html"])
    assert not res.warm and res.errors
    tpl.write_text(tpl.read_text(encoding="utf-8").replace("{% endblck %}", "{% endblock %}"))
    res = b.build(["templates/docs/single.html"])
    assert not res.errors
    b.close()
    assert_same(site, tmp_path / "scratch", res)
