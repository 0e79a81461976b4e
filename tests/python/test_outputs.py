"""Site-wide files from per-page entries (bengal.outputs): the files joined again after a
change are exactly the ones whose bytes change, and they equal the files made from scratch."""

from __future__ import annotations

from pathlib import Path

from bengal import outputs
from bengal.build import BuildOptions, build
from bengal.outputs import Entry
from hypothesis import given, settings
from hypothesis import strategies as st
from test_incremental import BASE_SITE, write_site

SECTIONS = ["", "blog", "blog/2024", "docs", "docs/api/deep"]


def _entries(specs: list[tuple[int, int, int | None, str]]) -> dict[str, Entry]:
    """Index pages for every section, and regular pages (section, title, date, summary)."""
    out: dict[str, Entry] = {}
    for path in SECTIONS:
        kind = "home" if not path else "section"
        url = "/" + path + ("/" if path else "")
        out["p:@" + path] = _entry(kind, "", url, path, f"Section {path}", None, "")
    for n, (sec, title, date, summary) in enumerate(specs):
        path = SECTIONS[sec]
        url = f"/{path}/p{n}/" if path else f"/p{n}/"
        out[f"p:{path}/p{n}.md"] = _entry(
            "page", f"{path}/p{n}.md", url, path, f"T{title}", date, summary
        )
    return out


def _entry(
    kind: str, source: str, url: str, section: str, title: str, date: int | None, summary: str
) -> Entry:
    item = f"<item><title>{title}</title><description>{summary}</description></item>"
    return Entry(
        kind=kind, source=source, url=url, permalink="https://x.org" + url,
        output_path=url.lstrip("/") + "index.html", title=title, section=section,
        date=None if date is None else float(date), pubdate="" if date is None else f"d{date}",
        sitemap=f"<url><loc>{url}</loc></url>", search=f'{{"t":"{title}","s":"{summary}"}}',
        item=item if kind == "page" else "",
    )  # fmt: skip


SITE = outputs.Site(
    title="Site", baseurl="https://x.org/", language="en", description="", author="",
    params={}, data={},
)  # fmt: skip
SPEC = st.tuples(
    st.integers(0, len(SECTIONS) - 1),
    st.integers(0, 3),
    st.one_of(st.none(), st.integers(0, 5)),
    st.sampled_from(["a", "b", "c"]),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(SPEC, min_size=1, max_size=30),
    st.data(),
)
def test_changed_files_are_the_files_that_change(specs, data) -> None:  # type: ignore[no-untyped-def]
    before = _entries(specs)
    # Change a few pages: title, date or summary (same pages, same places).
    after = dict(before)
    regular = sorted(k for k, e in before.items() if e.kind == "page")
    for k in data.draw(st.lists(st.sampled_from(regular), max_size=3)):
        e = after[k]
        spec = data.draw(SPEC)
        after[k] = _entry("page", e.source, e.url, e.section or "", f"T{spec[1]}", spec[2], spec[3])
    full_before = outputs.sitewide_files(SITE, before)
    full_after = outputs.sitewide_files(SITE, after)
    changed = outputs.changed_files(SITE, after, before)
    assert set(full_after) == set(full_before) == set(outputs.feed_paths(after)) | {
        "sitemap.xml", "search.json",
    }  # fmt: skip
    for path, blob in changed.items():
        assert blob == full_after[path]
    differ = {p for p in full_after if full_after[p] != full_before[p]}
    assert differ <= set(changed)


def test_a_page_gone_makes_every_file_again() -> None:
    before = _entries([(1, 0, 1, "a"), (3, 1, 2, "b")])
    after = {k: e for k, e in before.items() if k != "p:docs/p1.md"}
    assert outputs.changed_files(SITE, after, before) == outputs.sitewide_files(SITE, after)


def test_entries_of_a_built_site_make_its_files(tmp_path: Path) -> None:
    """The files a build wrote are the ones its entries make (and a feed per section with
    pages, none for sections without)."""
    site = tmp_path / "site"
    write_site(site, BASE_SITE)
    res = build(site, BuildOptions(workers=1))
    assert not res.errors
    from bengal.store import Store

    store = Store.open(site / ".bengal")
    entries = store.read_all("entries")
    store.close()
    assert entries and all(isinstance(e, Entry) for e in entries.values())
    files = outputs.sitewide_files(SITE, entries)
    for path in ("sitemap.xml", "search.json"):
        assert files[path] == (site / "public" / path).read_bytes()
    assert set(outputs.feed_paths(entries)) == {"index.xml", "blog/index.xml", "docs/index.xml"}
