"""The command line and the dev server build the same site: one random sequence of edits is
applied to two copies of one site, and after every step both outputs equal a clean build of the
same sources, byte for byte.

- Copy A is rebuilt as `bengal build` does: ``build(root, BuildOptions())`` -- the ordinary
  incremental build, or its fast path for body edits (bengal.express) when the change is body
  edits only and the edits are past the racy window.
- Copy B is rebuilt as `bengal serve` does: one WarmBuilder kept for the whole sequence, called
  with the site-relative paths the watcher would name (a moved file: both names; a folder made
  or removed: the folder and every file in it). It writes its own output (.bengal/serve/public)
  with the server's origin as baseurl, so it is compared with a clean build made with that
  baseurl (test_warm_build.clean_build); copy A with an ordinary clean build
  (test_incremental.clean_snapshot).

After every step, for each copy: the output tree equals its clean build's (assert_trees_equal:
every file, and no other -- except the last good output of a page that now fails), errors are
equal, and warnings are equal as sorted lists (ignoring those naming "/.bengal/": cache
repairs). The sources of the two copies are checked to be the same too.

Edits, as in test_incremental: aged past the racy window (age_edits) every other step, in both
copies alike, so that builds right after a save and builds after an older save both occur.
A front matter edit that sets a key to the value it has (or removes one it lacks) rewrites the
file with the same bytes: a save with nothing changed, which the watcher reports all the same.

    BENGAL_PARITY_EXAMPLES=40 python -m pytest -q tests/python/test_cli_serve_parity.py
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from bengal.build import BuildOptions, BuildResult, build
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from test_incremental import CONFIG, age_edits, assert_trees_equal, clean_snapshot, snapshot
from test_incremental import write_site as write_files
from test_warm_build import SITE as WARM_SITE
from test_warm_build import clean_build, warm_builder

DOCS_TEMPLATE = (
    "{% extends 'base.html' %}{% block main %}"
    "<p class=aud>{{ page.params.audience }}</p><s>{{ params.motto }}</s>"
    "{% for m in site.data.team.members %}<i>{{ m }}</i>{% endfor %}"
    "<a href='{{ ref('blog/one') }}'>one</a>"
    "{% for m in menus.footer or [] %}<b>{{ m.name }}</b>{% endfor %}{{ content }}{% endblock %}"
)

SITE: dict[str, str] = {
    # BASE_SITE (blog/one.md links [[docs/guide#Setup]]; docs/_index.md has a cascade; a main
    # menu in bengal.toml; data/team.yaml read by docs/single.html) and notes.md (titled by its
    # first heading), plus a [params] value that docs/single.html shows.
    **WARM_SITE,
    "bengal.toml": CONFIG + '\n[params]\nmotto = "hello"\n',
    "templates/docs/single.html": DOCS_TEMPLATE,
}

WORDS = st.lists(
    st.sampled_from(["alpha", "beta", "gamma", "**bold**", "é", "[[two]]", "[[guide#setup]]"]),
    min_size=1,
    max_size=4,
).map(" ".join)

Edit = Callable[[Path], list[str]]  # edits one copy; returns the paths the watcher would name


def set_front(text: str, key: str, value: str | None) -> str:
    """The page with front matter `key` set to `value` (None: removed). Only for single-line
    keys; lines of other keys are kept as they are."""
    if text.startswith("---\n"):
        head, _, body = text[4:].partition("\n---\n")
        lines = [ln for ln in head.split("\n") if ln and not ln.startswith(key + ":")]
    else:
        lines, body = [], text
    if value is not None:
        lines.append(f"{key}: {value}")
    if not lines:
        return body
    return "---\n" + "\n".join(lines) + "\n---\n" + body


def files_under(root: Path, rel: str) -> list[str]:
    """A folder and everything in it, as the watcher names them when it is made or removed."""
    top = root / rel
    return [rel, *(p.relative_to(root).as_posix() for p in sorted(top.rglob("*")))]


def sources(root: Path) -> dict[str, bytes]:
    """The site's files, without its output and state (.bengal, which holds the server's)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] not in ("public", ".bengal")
    }


def kind(r: BuildResult) -> str:
    """Which build ran (shown by --hypothesis-show-statistics)."""
    if r.noop:
        return "noop"
    if r.express or r.warm:
        return "body edits"
    return "incremental" if r.incremental else "full"


def visible(warnings: list[str]) -> list[str]:
    return sorted(w for w in warnings if "/.bengal/" not in w)


class CliServeParity(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="bengal-parity-"))
        self.a = self.tmp / "cli"
        self.b = self.tmp / "serve"
        for root in (self.a, self.b):
            write_files(root, SITE)
        self.builder = warm_builder(self.b)
        self.res_a = build(self.a, BuildOptions())
        self.res_b = self.builder.build(None)
        assert not self.res_a.errors and not self.res_b.errors, (self.res_a, self.res_b)
        self.n = 0  # names of new pages, sections, headings
        self.steps = 0
        self.heading = "Setup"  # the heading of docs/guide.md that blog/one.md links to
        self.log: list[str] = []

    def teardown(self) -> None:
        try:
            self.builder.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- applying one edit to both copies, then building both --------------------------------

    def edit(self, what: str, fn: Edit) -> None:
        changed_a = fn(self.a)
        changed_b = fn(self.b)
        assert changed_a == changed_b
        self.log.append(f"{what}: {changed_a}")
        self.steps += 1
        if self.steps % 2:
            age_edits(self.a)
            age_edits(self.b)
        self.res_a = build(self.a, BuildOptions())
        event("cli: " + kind(self.res_a))
        if changed_b:  # the watcher saw something: the server rebuilds
            self.res_b = self.builder.build(sorted(set(changed_b)))
            event("serve: " + kind(self.res_b))

    def pages(self, index: bool = False) -> list[str]:
        return sorted(
            p.relative_to(self.a).as_posix()
            for p in (self.a / "content").rglob("*.md")
            if index or not p.name.startswith("_")
        )

    def pick(self, data: st.DataObject, index: bool = False) -> str | None:
        pages = self.pages(index)
        return data.draw(st.sampled_from(pages), label="page") if pages else None

    def rewrite(self, what: str, rel: str | None, change: Callable[[str], str]) -> None:
        if rel is None:
            return

        def fn(root: Path) -> list[str]:
            p = root / rel
            if not p.exists():
                return []
            p.write_text(change(p.read_text(encoding="utf-8")), encoding="utf-8")
            return [rel]

        self.edit(f"{what} {rel}", fn)

    def front(self, data: st.DataObject, key: str, value: str | None) -> None:
        self.rewrite(f"{key}={value}", self.pick(data), lambda t: set_front(t, key, value))

    # -- body edits ------------------------------------------------------------------------

    @rule(data=st.data(), text=WORDS)
    def append_text(self, data: st.DataObject, text: str) -> None:
        self.rewrite(f"append {text!r} to", self.pick(data, True), lambda t: t + f"\n{text}\n")

    @rule(data=st.data(), text=WORDS)
    def insert_first_paragraph(self, data: st.DataObject, text: str) -> None:
        """A new first paragraph: the page's summary changes (lists, feeds, search index)."""

        def change(old: str) -> str:
            head, sep, body = old.partition("\n---\n") if old.startswith("---\n") else ("", "", old)
            lines = body.split("\n")
            at = 1 if lines and lines[0].startswith("# ") else 0  # keep a title heading first
            lines.insert(at, f"\n{text}\n")
            return head + sep + "\n".join(lines)

        self.rewrite(f"insert {text!r} at the start of", self.pick(data, True), change)

    @rule(data=st.data())
    def add_heading(self, data: st.DataObject) -> None:
        self.n += 1
        n = self.n
        self.rewrite(
            f"add heading Part {n} to",
            self.pick(data, True),
            lambda t: t + f"\n## Part {n}\n\nText.\n",
        )

    @rule(name=st.sampled_from(["Setup", "Install", "Getting started"]))
    def rename_linked_heading(self, name: str) -> None:
        """docs/guide.md's heading that blog/one.md links to ([[docs/guide#Setup]])."""
        old = self.heading
        if not (self.a / "content/docs/guide.md").exists():
            return
        self.heading = name
        self.rewrite(
            f"heading {old!r} -> {name!r} in",
            "content/docs/guide.md",
            lambda t: t.replace(f"\n## {old}\n", f"\n## {name}\n"),
        )

    @rule(
        data=st.data(),
        to=st.sampled_from(["two", "blog/one", "docs/guide#setup", "one#part", "faq", "notes"]),
    )
    def add_xref(self, data: st.DataObject, to: str) -> None:
        self.rewrite(f"xref [[{to}]] in", self.pick(data, True), lambda t: t + f"\nSee [[{to}]].\n")

    @rule(data=st.data())
    def add_broken_xref(self, data: st.DataObject) -> None:
        self.rewrite(
            "broken xref in", self.pick(data, True), lambda t: t + "\nSee [[no-such-page]].\n"
        )

    # -- front matter ------------------------------------------------------------------------

    @rule(data=st.data(), title=st.sampled_from(["Zed", "Alpha", "Middle", "One"]))
    def title_change(self, data: st.DataObject, title: str) -> None:
        self.front(data, "title", title)

    @rule(data=st.data(), date=st.sampled_from(["2023-05-05", "2024-06-06", None]))
    def date_change(self, data: st.DataObject, date: str | None) -> None:
        self.front(data, "date", date)

    @rule(data=st.data(), weight=st.sampled_from(["1", "2", "5", None]))
    def weight_change(self, data: st.DataObject, weight: str | None) -> None:
        self.front(data, "weight", weight)

    # "Go" and "go" are one term spelled two ways.
    @rule(data=st.data(), tags=st.lists(st.sampled_from(["Go", "go", "Rust", "b"]), max_size=3))
    def tags_change(self, data: st.DataObject, tags: list[str]) -> None:
        self.front(data, "tags", "[" + ", ".join(tags) + "]" if tags else None)

    @rule(
        data=st.data(),
        cats=st.lists(st.sampled_from(["howto", "Howto", "news"]), max_size=2),
    )
    def categories_change(self, data: st.DataObject, cats: list[str]) -> None:
        self.front(data, "categories", "[" + ", ".join(cats) + "]" if cats else None)

    @rule(data=st.data(), draft=st.booleans())
    def draft_change(self, data: st.DataObject, draft: bool) -> None:
        self.front(data, "draft", "true" if draft else None)

    @rule(data=st.data(), on=st.booleans())
    def slug_change(self, data: st.DataObject, on: bool) -> None:
        rel = self.pick(data)
        if rel is not None:
            slug = Path(rel).stem + "-moved"
            self.rewrite(
                f"slug={slug if on else None}",
                rel,
                lambda t: set_front(t, "slug", slug if on else None),
            )

    @rule(data=st.data(), on=st.booleans())
    def aliases_change(self, data: st.DataObject, on: bool) -> None:
        rel = self.pick(data)
        if rel is not None:
            alias = "[/old/" + rel.removeprefix("content/").removesuffix(".md") + "/]"
            self.rewrite(
                f"aliases={alias if on else None}",
                rel,
                lambda t: set_front(t, "aliases", alias if on else None),
            )

    @rule(data=st.data(), menu=st.sampled_from(["main", "footer", "[main, footer]", None]))
    def menu_change(self, data: st.DataObject, menu: str | None) -> None:
        self.front(data, "menu", menu)

    @rule(audience=st.sampled_from(["devs", "ops", "all"]))
    def cascade_change(self, audience: str) -> None:
        self.rewrite(
            f"cascade audience={audience}",
            "content/docs/_index.md",
            lambda t: re.sub(r"audience: \S+", f"audience: {audience}", t),
        )

    # -- pages and sections ----------------------------------------------------------------

    @rule(section=st.sampled_from(["blog", "docs", "docs/deep", ""]), body=WORDS)
    def add_page(self, section: str, body: str) -> None:
        self.n += 1
        n = self.n
        rel = f"content/{section}/new{n}.md" if section else f"content/new{n}.md"

        def fn(root: Path) -> list[str]:
            made = [] if (root / rel).parent.exists() else [Path(rel).parent.as_posix()]
            write_files(root, {rel: f"---\ntitle: New {n}\n---\n{body}\n"})
            return [*made, rel]

        self.edit("add", fn)

    @rule(data=st.data())
    def delete_page(self, data: st.DataObject) -> None:
        rel = self.pick(data)
        if rel is None or len(self.pages()) <= 3:
            return

        def fn(root: Path) -> list[str]:
            (root / rel).unlink()
            return [rel]

        self.edit("delete", fn)

    @rule(data=st.data(), to=st.sampled_from(["", "blog", "docs"]))
    def move_page(self, data: st.DataObject, to: str) -> None:
        rel = self.pick(data)
        if rel is None:
            return
        self.n += 1
        folder = f"content/{to}" if to else Path(rel).parent.as_posix()
        new = f"{folder}/moved{self.n}.md"

        def fn(root: Path) -> list[str]:
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / rel).rename(root / new)
            return [rel, new]

        self.edit("move", fn)

    @rule()
    def add_section(self) -> None:
        self.n += 1
        n = self.n
        top = f"content/sec{n}"
        files = {
            f"{top}/_index.md": f"---\ntitle: Section {n}\ncascade:\n  params:\n"
            f"    audience: sec{n}\n---\nSection {n}.\n",
            f"{top}/page.md": f"---\ntitle: Page of {n}\n---\nIn a section. [[blog/one]].\n",
        }

        def fn(root: Path) -> list[str]:
            write_files(root, files)
            return files_under(root, top)

        self.edit("add section", fn)

    @rule(data=st.data())
    def delete_section(self, data: st.DataObject) -> None:
        added = sorted(p.name for p in (self.a / "content").glob("sec*") if p.is_dir())
        if not added:
            return
        top = "content/" + data.draw(st.sampled_from(added), label="section")

        def fn(root: Path) -> list[str]:
            gone = files_under(root, top)
            shutil.rmtree(root / top)
            return gone

        self.edit("delete section", fn)

    # -- templates, static files, data, configuration --------------------------------------

    @rule(variant=st.sampled_from(["A", "B", None]))
    def default_template(self, variant: str | None) -> None:
        """templates/single.html (overriding the theme's) added, changed or removed."""
        rel = "templates/single.html"

        def fn(root: Path) -> list[str]:
            p = root / rel
            if variant is None:
                if not p.exists():
                    return []
                p.unlink()
            else:
                text = f"<b>{variant}</b>{{{{ page.title }}}}{{{{ content }}}}"
                write_files(
                    root,
                    {rel: "{% extends 'base.html' %}{% block main %}" + text + "{% endblock %}"},
                )
            return [rel]

        self.edit(f"template {rel}={variant}", fn)

    @rule(variant=st.sampled_from(["aud", "audience"]))
    def docs_template(self, variant: str) -> None:
        self.rewrite(
            f"template class={variant}",
            "templates/docs/single.html",
            lambda t: re.sub(r"<p class=\w+>", f"<p class={variant}>", t),
        )

    @rule(present=st.booleans())
    def static_add_remove(self, present: bool) -> None:
        rel = "static/extra/added.txt"

        def fn(root: Path) -> list[str]:
            p = root / rel
            if present:
                made = [] if p.parent.exists() else ["static/extra"]
                write_files(root, {rel: "added\n"})
                return [*made, rel]
            if p.exists():
                p.unlink()
                return [rel]
            return []

        self.edit(f"static {rel} present={present}", fn)

    @rule(text=st.sampled_from(["static file\n", "changed\n", "changed again, longer\n"]))
    def static_change(self, text: str) -> None:
        self.rewrite(f"static {text!r}", "static/robots-note.txt", lambda t: text)

    @rule(members=st.lists(st.sampled_from(["ann", "bob", "cy"]), min_size=1, max_size=3))
    def data_change(self, members: list[str]) -> None:
        self.rewrite(
            f"data {members}", "data/team.yaml", lambda t: f"members: [{', '.join(members)}]\n"
        )

    @rule(motto=st.sampled_from(["hello", "bonjour", "hallo"]))
    def config_change(self, motto: str) -> None:
        self.rewrite(
            f"config motto={motto}",
            "bengal.toml",
            lambda t: re.sub(r'motto = "\w+"', f'motto = "{motto}"', t),
        )

    # -- the server idles between edits ----------------------------------------------------

    @rule()
    def idle(self) -> None:
        """Nothing changed for a while: the server writes its cache and warms up (serve._idle)."""
        self.log.append("idle")
        self.builder.flush()
        self.builder.prepare()

    # -- the contract ------------------------------------------------------------------------

    @invariant()
    def both_equal_clean(self) -> None:
        assert sources(self.a) == sources(self.b), "the two copies' sources differ"
        steps = "\n  ".join(self.log)
        want, clean = clean_snapshot(self.a, self.tmp / "clean-cli")
        got = snapshot(self.a / "public")
        assert_trees_equal(got, want, clean, f"bengal build (steps:\n  {steps}\n)")
        assert sorted(self.res_a.errors) == sorted(clean.errors), f"bengal build; {steps}"
        assert visible(self.res_a.warnings) == sorted(clean.warnings), f"bengal build; {steps}"

        want, clean = clean_build(self.b, self.tmp / "clean-serve")
        got = snapshot(self.b / ".bengal" / "serve" / "public")
        assert_trees_equal(got, want, clean, f"bengal serve (steps:\n  {steps}\n)")
        assert sorted(self.res_b.errors) == sorted(clean.errors), f"bengal serve; {steps}"
        assert visible(self.res_b.warnings) == sorted(clean.warnings), f"bengal serve; {steps}"


TestCliServeParity = CliServeParity.TestCase
TestCliServeParity.settings = settings(
    max_examples=int(os.environ.get("BENGAL_PARITY_EXAMPLES", "6")),
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
)
