"""Body edits and template edits, for the command line and the dev server alike: one set of
rules, written once.

    edited Markdown files and templates + the last build's records (Records)
        -> read_edits: the edits (new bodies), files touched with the same bytes
        -> read_templates: the edited templates some output used
        -> plan: their renderings, the outputs to render and why, the site-wide outputs
        -> render: those outputs written
        -> finish: records, output stamps, the site's warnings and site-wide outputs updated

A change takes this path when it edits only the Markdown bodies of existing pages: each edited
file keeps its front matter text, its body line and the title it gives its page, and its
cross-references keep their targets; of the page's fingerprints only its body and its summary
may change. A template edited in place renders again the outputs that used it (the reverse
index files each output under "tpl:" + every template it loaded, extends and includes too);
nothing else changes -- site-wide files are not made from templates. More than MAX_OUTPUTS
outputs to render take the ordinary build, which renders in parallel. Anything else raises
Fallback, and the ordinary build runs. The records are the
store's, read one at a time, on the command line (bengal.express) and the dev server's, in
memory (bengal.warm); the rules are these, for both.

Warnings: the site's warnings stay those the last build reported, with the edited pages'
Markdown findings -- and those of the pages linking to a heading an edit renamed -- replaced
by what the pages say now, and the local-asset findings of the outputs rendered again likewise.
A template warning or error, before or after, and a broken cross-reference under --strict take
the ordinary build, which reports them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bengal import cache, delta, incremental
from bengal.context import Message
from bengal.delta import Delta, Fallback, Meta, ModelRecords
from bengal.discover import MARKDOWN_EXTS
from bengal.model import Page
from bengal.outputs import changed_files, entry_of, feed_paths
from bengal.publish import Publisher, check_local_assets
from bengal.workers import FORK_STATE, ShardResult, merged, run_chunks

if TYPE_CHECKING:
    from bengal.outputs import Entry
    from bengal.render import MarkdownContext, MarkdownReport, Templates

# At most this many edited files take this path (a bigger change is no longer "an edit").
MAX_EDITS = 8
# At most this many outputs are rendered on this path, in one process; more take the ordinary
# build, which renders in parallel (a template every page uses, say).
MAX_OUTPUTS = 3000
# From this many outputs on, they are rendered in parallel (forking costs ~50 ms).
PARALLEL_FROM = 200


class Records(ModelRecords, Protocol):
    """The last build's records, as an edit reads and updates them (delta assembly reads the
    model part: bengal.delta.ModelRecords)."""

    taxonomies: dict[str, str]  # the configuration's: singular -> plural

    # A page key -> the outputs showing that page; "key|group" -> the outputs that read it.
    def readers(self, key: str) -> Iterable[str]: ...
    def linkers(self, url: str) -> Iterable[str]: ...  # sources linking to its headings
    def output(self, path: str) -> incremental.OutputRecord | None: ...
    def job(self, path: str) -> tuple[Page, int] | None: ...  # (page, pager number)
    def asset_warnings(self, path: str) -> list[str]: ...
    # Every page's entry in the site-wide files (Fallback when the records have none).
    def entries(self) -> dict[str, Entry]: ...
    # A Markdown context whose index answers as the site's for the cross-reference paths of
    # these sources' last renderings (None: for any path).
    def context(self, rels: list[str] | None) -> MarkdownContext: ...

    # Template name -> the digest of the file the last build's renders used (bengal.incremental
    # .template_digest): the names some output used.
    def templates(self) -> dict[str, bytes | None]: ...

    # From now on Markdown is rendered with this index (the whole of it) and checked with
    # these ambiguous keys.
    def set_index(self, index: Any, ambiguous: dict[str, list[str]]) -> None: ...

    def put_source(self, rel: str, entry: incremental.SourceEntry) -> None: ...
    # A content file that is gone: its entry and what indexes it (links, [[paths]] it used).
    def drop_source(self, rel: str) -> None: ...
    def put_fact(self, key: str, value: bytes) -> None: ...
    def put_output(self, path: str, rec: incremental.OutputRecord) -> None: ...
    def put_asset_warnings(self, path: str, found: list[str]) -> None: ...
    def put_out_stats(self, stamps: dict[str, list[int]]) -> None: ...
    def put_linkers(self, rel: str, before: set[str], now: set[str]) -> None: ...
    def put_entries(self, changed: dict[str, Entry | None]) -> None: ...  # None: gone
    # Site-wide files that came (written) and went (removed from the output directory).
    def put_sitewide(self, came: list[str], went: list[str]) -> None: ...
    # An output no page shows any more: its record, stamp and reverse index entries.
    def drop_output(self, path: str) -> None: ...
    def put_template(self, name: str, digest: bytes | None) -> None: ...
    # The model records a delta changed, its taxonomy and cross-reference records.
    def put_delta(self, d: Delta, facts: dict[str, bytes]) -> None: ...


@dataclass
class Edit:
    rel: str  # content path
    page: Page
    entry: incremental.SourceEntry  # the last build's, with the file's new stamp and digest
    body: str
    meta: Meta | None = None  # a front matter edit (bengal.delta): what the page becomes
    # "body", "metadata"; "links": not edited, but its [[links]] resolve otherwise now
    reason: str = "body"
    # (The last build's body line: its Markdown findings are reported at lines from it.)
    was_line: int = 0


@dataclass
class Plan:
    """What the edits change (nothing is changed yet but the edited pages' renderings)."""

    edits: list[tuple[Edit, incremental.SourceEntry]]  # each with its new entry
    facts: dict[str, bytes]  # the fingerprints that changed (bodies and summaries)
    outputs: dict[str, str]  # output -> why it is rendered again
    jobs: list[tuple[Page, int]]
    sitewide: bool  # a summary changed: feeds, search index (they show summaries)
    entries: dict[str, Entry] = field(default_factory=dict)  # every page's, before the edits
    templates: dict[str, bytes | None] = field(default_factory=dict)  # edited: name -> digest
    delta: Delta | None = None  # front matter edits: what they changed in the model
    removed: list[str] = field(default_factory=list)  # outputs of pages the delta removed
    # Sources whose links into other pages' headings changed: (page URLs before, after).
    linkers: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)
    old_messages: list[str] = field(default_factory=list)  # Markdown findings replaced ...
    new_messages: list[str] = field(default_factory=list)  # ... by these
    workers: int = 1  # the processes that rendered them
    # Site-wide files (sections' feeds) that come and go with pages: (came, went)
    feeds: tuple[list[str], list[str]] = ([], [])


def stamp(st: tuple[int, int], size: int, racy_ns: int) -> tuple[int, int]:
    """The stamp a source entry records for a file read with `size` bytes: its (mtime, size)
    -- or (0, -1), "hash it next time", when the file changed while it was read or when it was
    modified too close to the scan for its mtime to tell a later edit (see
    incremental.RACY_NS)."""
    if st[1] != size or st[0] >= racy_ns:
        return (0, -1)
    return (st[0], st[1])


def read_edits(
    root: Path,
    paths: list[str],
    records: Records,
    stat_of: Callable[[str], tuple[int, int]],
    racy_ns: int,
) -> tuple[list[Edit], dict[str, incremental.SourceEntry], list[str]]:
    """The changed files (site-relative paths) as edits, the entries (new stamps) of those
    whose bytes are the last build's, and the paths of those that move (a front matter edit
    of bengal.delta.MOVES, or a draft the site does not build: taken out of the site, if they
    were pages, and read again by read_added)."""
    if len(paths) > MAX_EDITS:
        raise Fallback(f"{len(paths)} files changed")
    edits: list[Edit] = []
    same: dict[str, incremental.SourceEntry] = {}
    moved: list[str] = []
    for path in paths:
        if not path.startswith("content/") or not path.endswith(MARKDOWN_EXTS):
            raise Fallback(f"{path} is not a Markdown page")
        rel = path[len("content/") :]
        entry = records.source(rel)
        if entry is None or entry.parsed[0] != "ok":
            raise Fallback(f"{path} is not a page the last build rendered")
        page = records.page(rel)
        if page is None and entry.md is None:
            moved.append(path)  # (a draft: no page; read_added says whether it is one now)
            continue
        if page is None or page.source != rel or entry.md is None:
            raise Fallback(f"{path} has no page")
        try:
            st = stat_of(path)
            with open(root / path, "rb") as f:
                data = f.read()
        except OSError:
            raise Fallback(f"{path} cannot be read") from None
        new_stamp = stamp(st, len(data), racy_ns)
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest == entry.digest:
            same[rel] = entry._replace(stat=new_stamp)
            continue
        entry = entry._replace(stat=new_stamp, digest=digest)
        body = incremental.edited_body(data, rel, entry)
        if body is not None:
            edits.append(Edit(rel, page, entry, body))
            continue
        was = entry
        meta, entry, body = delta.read_meta(
            data, rel, entry, page, records.site.title, records.taxonomies
        )
        if meta.moves:
            moved.append(path)
            continue
        # (As the ordinary build names it: a title from an edited first heading is a body edit.)
        why = "body" if entry.parsed[1:] == was.parsed[1:] else "metadata"
        edits.append(Edit(rel, page, entry, body, meta, why, page.body_line))
    return edits, same, moved


def read_added(
    root: Path,
    paths: list[str],
    records: Records,
    stat_of: Callable[[str], tuple[int, int]],
    racy_ns: int,
    removed: list[str],
    moved: list[str],
    same: dict[str, incremental.SourceEntry],
) -> list[Edit]:
    """The new Markdown files and the moved ones (site-relative paths; read_edits) as edits
    making new pages (bengal.delta.read_new; placed by plan). One whose bytes are a removed
    file's is "renamed from" it; a draft the site does not build is a source, no page: its
    entry goes into `same`."""
    if len(paths) + len(removed) > MAX_EDITS:
        raise Fallback(f"{len(paths) + len(removed)} files came or went")
    gone = {}
    for rel in removed if paths else ():
        entry = records.source(rel)
        if entry is not None:
            gone[entry.digest] = rel
    out = []
    for path in [*paths, *moved]:
        if not path.startswith("content/") or not path.endswith(MARKDOWN_EXTS):
            raise Fallback(f"{path} is not a Markdown page")
        rel = path[len("content/") :]
        try:
            st = stat_of(path)
            with open(root / path, "rb") as f:
                data = f.read()
        except OSError:
            raise Fallback(f"{path} cannot be read") from None
        digest = hashlib.blake2b(data, digest_size=16).digest()
        page, entry, body = delta.read_new(
            data, rel, stamp(st, len(data), racy_ns), digest, records, records.taxonomies
        )
        if page is None:
            if path not in moved:
                raise Fallback(f"{path} is a new draft")  # (the ordinary build: a new source)
            same[rel] = entry
            continue
        why = f"renamed from {gone[digest]}" if digest in gone else "added"
        if path in moved:
            why = "metadata"
        out.append(Edit(rel, page, entry, body, reason=why, was_line=page.body_line))
    return out


def moved_pages(moved: list[str], records: Records) -> list[str]:
    """Of the moved files (read_edits), the content paths of those that were pages."""
    rels = [path[len("content/") :] for path in moved]
    return [rel for rel in rels if records.page(rel) is not None]


def read_removed(paths: list[str], records: Records) -> list[str]:
    """The removed Markdown files (site-relative paths) as the content paths of the pages
    that go with them."""
    out = []
    for path in paths:
        if not path.startswith("content/") or not path.endswith(MARKDOWN_EXTS):
            raise Fallback(f"{path} was not a Markdown page")
        rel = path[len("content/") :]
        page = records.page(rel)
        if page is None or page.source != rel:
            raise Fallback(f"{path} made no page")  # (a draft, Markdown inside a bundle)
        out.append(rel)
    return out


def template_dirs(root: Path) -> list[Path]:
    """Where template names are looked up, first match wins (bengal.render.Templates)."""
    from bengal.discover import THEME_DIR

    return [d for d in (root / "templates", THEME_DIR / "templates") if d.is_dir()]


def read_templates(root: Path, paths: list[str], records: Records) -> dict[str, bytes | None]:
    """The edited template files (site-relative paths under templates/) that some output used
    and whose bytes are not the ones it used: template name -> the file's digest now."""
    if len(paths) > MAX_EDITS:
        raise Fallback(f"{len(paths)} templates changed")
    used = records.templates()
    search = template_dirs(root)
    changed: dict[str, bytes | None] = {}
    for path in paths:
        if not path.startswith("templates/"):
            raise Fallback(f"{path} is not a template of the site")
        name = path[len("templates/") :]
        if name not in used:
            continue  # no output used it (its stamp is recorded with the rest)
        now = incremental.template_digest(name, search)
        if now != used[name]:
            changed[name] = now
    return changed


def plan(
    records: Records,
    edits: list[Edit],
    strict: bool,
    templates: dict[str, bytes | None] | None = None,
    removed: list[str] | None = None,
) -> Plan:
    """Render the edits' Markdown, check them (see the module) and say what to render: the
    outputs that read what the edits changed, and those that used an edited template.
    `removed`: the content paths of pages that go (read_removed)."""
    d = None
    if removed or any(e.meta is not None or e.entry.md is None for e in edits):
        d = _apply_meta(records, edits, removed or [])
        edits = edits + _relinked(records, d, edits)
    out = _plan_bodies(records, edits, strict, d) if edits or d else Plan([], {}, {}, [], False)
    d = out.delta
    for name in sorted(templates or {}):
        for p in records.readers(incremental.template_key(name)):
            out.outputs.setdefault(p, f"template {name} changed")
    for arg in sorted(d.refs if d is not None else ()):
        for p in records.readers(incremental.REF_KEY + arg):
            out.outputs.setdefault(p, f"ref({arg!r}) changed")
    out.templates = dict(templates or {})
    new_pages = d.new_outputs if d is not None else {}
    new_jobs = {p: (page, 1) for p, page in new_pages.items()}
    if d is not None:
        new_jobs.update(d.new_pagers)
        # (The outputs of pages the delta removed, and pagers lists no longer need: deleted,
        # not rendered.)
        for path in _going(records, d):
            if path in new_jobs:
                raise Fallback(f"{path} goes with one page and comes with another")
            rec = records.output(path)
            if rec is not None and rec.warnings:
                raise Fallback(f"{path} had template warnings")
            out.outputs.pop(path, None)
            out.removed.append(path)
    for path in new_jobs:
        out.outputs[path] = "new output" if path in new_pages else "new pager"
    out.outputs = dict(sorted(out.outputs.items()))
    if len(out.outputs) > MAX_OUTPUTS:
        raise Fallback(f"{len(out.outputs)} outputs to render: the ordinary build renders them")
    for path in out.outputs:
        if path in new_jobs:
            out.jobs.append(new_jobs[path])
            continue
        rec = records.output(path)
        job = records.job(path)
        if rec is None or job is None:
            raise Fallback(f"{path} is not in the records")
        if rec.warnings:
            raise Fallback(f"{path} had template warnings")
        out.jobs.append(job)
    if out.sitewide:
        out.entries = records.entries()
    if d is not None and (d.new_outputs or d.gone):
        # (Pages came or went: a section's feed may come or go with them.)
        before, now = feed_paths(out.entries), feed_paths(_entries_now(out))
        out.feeds = (sorted(set(now) - set(before)), sorted(set(before) - set(now)))
    return out


def _going(records: Records, d: Delta) -> list[str]:
    """The outputs of the pages the delta removed or moved, and the pagers lists no longer
    need."""
    keys = [*d.gone, *d.moved]
    return [*[p for key in keys for p in records.readers(key)], *d.gone_pagers]


def _entries_now(out: Plan) -> dict[str, Entry]:
    """Every page's site-wide entry after the edits: the recorded ones, those of the pages
    the edits touched made again."""
    entries = dict(out.entries)
    for e, _ in out.edits:
        entries["p:" + e.rel] = entry_of(e.page)
    for k, touched in (out.delta.pages if out.delta is not None else {}).items():
        entries[k] = entry_of(touched)
    for k in out.delta.gone if out.delta is not None else {}:
        entries.pop(k, None)
    return entries


def _apply_meta(records: Records, edits: list[Edit], removed: list[str]) -> Delta:
    """The pages that go, the new pages and the front matter edits applied to the model
    (bengal.delta)."""
    d = Delta()
    for rel in removed:
        page = records.page(rel)
        entry = records.source(rel)
        if page is None or entry is None or entry.md is None:
            raise Fallback(f"content/{rel} is not in the records")
        d.removed_pages.append((page, entry.md))
        delta.remove(records, page, d)
    for e in edits:
        if e.entry.md is None:
            delta.add(records, e.page, d)
    for e in edits:
        if e.meta is not None:
            delta.apply(records, e.page, e.meta, d)
    if d.index is not None and d.xrefs is not None:
        records.set_index(d.index, d.xrefs.ambiguous)
    return d


def _relinked(records: Records, d: Delta, edits: list[Edit]) -> list[Edit]:
    """The pages whose [[links]] the delta's index answers otherwise, as edits of nothing:
    their Markdown is rendered again."""
    edited = {e.rel for e in edits}
    out = []
    for rel in sorted(d.rerender - edited - set(d.removed_sources)):
        page, entry = records.page(rel), records.source(rel)
        if page is None or page.source != rel:
            continue  # no page renders it (a draft, Markdown inside a leaf bundle)
        if entry is None or entry.md is None or entry.parsed[0] != "ok":
            raise Fallback(f"content/{rel} links to an edited page and is not in the records")
        out.append(Edit(rel, page, entry, page.body, reason="links", was_line=page.body_line))
    if len(edited) + len(out) > MAX_OUTPUTS:
        raise Fallback(f"{len(out)} pages link to the edited ones")
    return out


def _report(
    ctx: MarkdownContext,
    e: Edit,
    f: incremental.MdFacts,
    page_at: Callable[[str], Page | None],
    anchors: Callable[[Page], set[str]],
    line: int,
) -> MarkdownReport:
    """What the Markdown stage says of an edited page, at lines counted from `line` (its body
    line then)."""
    now = e.page.body_line
    e.page.body_line = line
    try:
        return ctx.page_report(e.page, f, page_at, anchors)
    finally:
        e.page.body_line = now


def _page_at_before(records: Records, d: Delta | None) -> Callable[[str], Page | None]:
    """The page at a URL before the delta: a page it removed (or moved away) still answers
    for its old URL (the findings checked then saw its headings)."""
    if d is None or not d.removed_pages:
        return records.page_at
    gone = {page.url: page for page, _ in d.removed_pages}

    def at(url: str) -> Page | None:
        hit = gone.get(url)
        return hit if hit is not None else records.page_at(url)

    return at


def _context_before(ctx: MarkdownContext, d: Delta | None) -> MarkdownContext:
    """What the Markdown findings were checked with before the delta: its index and ambiguous
    keys as they were, when the delta changed which keys are ambiguous (a key's ambiguity
    warning also asks whether the index holds it as written)."""
    if d is None or d.was is None or d.xrefs is None or d.was.ambiguous == d.xrefs.ambiguous:
        return ctx
    import dataclasses

    import bengal_native

    index = bengal_native.XrefIndex()
    index.add_many(d.was.added)
    return dataclasses.replace(ctx, index=index, ambiguous=d.was.ambiguous)


def _plan_bodies(records: Records, edits: list[Edit], strict: bool, d: Delta | None) -> Plan:
    """The edits' Markdown rendered, their findings, the fingerprints that changed and the
    outputs that show or read them."""
    ctx, fresh = _render_bodies(records, edits)
    out = Plan(edits=[], facts={}, outputs={}, jobs=[], sitewide=False)
    _findings(records, edits, fresh, ctx, d, strict, out)
    _fingerprints(records, edits, fresh, ctx, d, out)
    _readers(records, out)
    return out


Rendered = list[tuple[incremental.MdFacts, str]]


def _render_bodies(records: Records, edits: list[Edit]) -> tuple[MarkdownContext, Rendered]:
    bodies = [e.body for e in edits]
    known = {p for e in edits if e.entry.md for p in incremental.xref_paths(e.entry.md)}
    ctx = records.context([e.rel for e in edits])
    fresh = [ctx.facts(res) for res in ctx.render(bodies)]
    if any(not incremental.xref_paths(f) <= known for f, _ in fresh):
        ctx = records.context(None)  # a cross-reference to a path not looked up before
        fresh = [ctx.facts(res) for res in ctx.render(bodies)]
    return ctx, fresh


def _findings(records: Records, edits: list[Edit], fresh: Rendered, ctx: MarkdownContext,
              d: Delta | None, strict: bool, out: Plan) -> None:  # fmt: skip
    """The Markdown findings before and after: of the edited pages, and of the pages linking
    to headings the edits renamed (their own renderings are unchanged)."""
    toc_before = {e.page.url: {t[1] for t in e.entry.md.toc} for e in edits if e.entry.md}
    toc_now = {e.page.url: {t[1] for t in f.toc} for e, (f, _) in zip(edits, fresh, strict=True)}
    before = _anchors(records, toc_before)
    now = _anchors(records, toc_now)
    reports: list[tuple[MarkdownReport | None, MarkdownReport | None]] = []
    ctx_was, at_was = _context_before(ctx, d), _page_at_before(records, d)
    for e, (f, _html) in zip(edits, fresh, strict=True):
        was = e.was_line or e.page.body_line
        reports.append((_report(ctx_was, e, e.entry.md, at_was, before, was)
                        if e.entry.md is not None else None,  # (a new page: none before)
                        ctx.page_report(e.page, f, records.page_at, now)))  # fmt: skip
    for page, md in d.removed_pages if d is not None else ():
        reports.append((ctx_was.page_report(page, md, at_was, before), None))
    edited = {e.rel for e in edits}
    renamed = sorted(url for url in toc_now if toc_now[url] != toc_before.get(url))
    for rel in sorted({r for url in renamed for r in records.linkers(url)} - edited):
        linker, entry = records.page(rel), records.source(rel)
        if linker is None or entry is None or entry.md is None:
            raise Fallback(f"content/{rel} links to an edited page and is not in the records")
        reports.append((ctx_was.page_report(linker, entry.md, at_was, before),
                        ctx.page_report(linker, entry.md, records.page_at, now)))  # fmt: skip
    for old_report, new_report in reports:
        if strict and new_report is not None and new_report.broken:
            raise Fallback("a broken cross-reference is an error with --strict")
        out.old_messages += _messages(old_report)
        out.new_messages += _messages(new_report)


def _fingerprints(records: Records, edits: list[Edit], fresh: Rendered, ctx: MarkdownContext,
                  d: Delta | None, out: Plan) -> None:  # fmt: skip
    """The edited pages given their renderings; the fingerprints that changed: of a body edit
    only its body and summary may (else Fallback), of what a delta touched any."""
    for e, (f, html) in zip(edits, fresh, strict=True):
        ctx.attach(e.page, f, html, None)  # (its findings are taken above)
        e.page._body, e.page._body_loader = e.body, None
        entry = e.entry._replace(md=f)
        out.edits.append((e, entry))
        links_before = incremental.anchor_targets(e.entry.md.xrefs if e.entry.md else [])
        links_now = incremental.anchor_targets(f.xrefs)
        if links_before != links_now:
            out.linkers[e.rel] = (links_before, links_now)
        pkey = "p:" + e.rel
        for k, v in incremental.page_facts(
            e.page, pkey, incremental.body_hash(entry), entry.fm_digest, per_page=records.per_page
        ).items():
            if records.fact(k) == v:
                continue
            if (
                e.meta is None
                and not k.endswith(("|body", "|summary"))
                and (d is None or pkey not in d.pages)  # (a neighbour of a moved page, say)
            ):
                raise Fallback(f"content/{e.rel}: {k.replace('|', ' ')} changed")
            out.facts[k] = v
    if d is not None:
        out.delta = d
        out.sitewide = True  # (titles, dates and terms show in the feeds, the search index)
        rendered = {e.rel: entry for e, entry in out.edits}
        for k, v in delta.facts(records, d, rendered).items():
            out.facts.setdefault(k, v)
        for k in delta.dropped(d):  # (what read them: the pages that showed them, listed)
            for p in records.readers(k) if incremental.filed(k) else ():
                out.outputs.setdefault(p, f"reads {k.replace('|', ' ')}, which is gone")


def _readers(records: Records, out: Plan) -> None:
    """The outputs showing a page whose fingerprints changed (as the ordinary build's planner
    says it: the first of its own groups that changed), then those that read what changed."""
    pages = {k.rpartition("|")[0] for k in out.facts if k.startswith("p:")}
    going = set(_going(records, out.delta)) if out.delta is not None else set()
    for pkey in sorted(pages):
        for p in records.readers(pkey):
            if p in going:
                continue  # (a pager its list no longer needs: removed)
            job = records.job(p)
            if job is None:
                raise Fallback(f"{p} is not in the records")
            listed = job[0].kind in incremental.LIST_KINDS
            own = incremental.own_groups(pkey, job[1], listed)
            why = next((g for g in own if g in out.facts), None)
            if why is not None:
                out.outputs.setdefault(p, f"page {incremental.group_name(why)} changed")
    for k in sorted(out.facts):
        if not incremental.filed(k) and records.fact(k) is not None:  # (new: nothing read it)
            raise Fallback(f"{k.replace('|', ' ')} changed: its readers are not indexed")
        out.sitewide = out.sitewide or k.endswith("|summary")
        for p in records.readers(k):
            out.outputs.setdefault(p, f"reads {k.replace('|', ' ')}, which changed")


def _anchors(records: Records, edited: dict[str, set[str]]) -> Callable[[Page], set[str]]:
    """A page's heading ids: the edited pages' from `edited` (by URL), the others' from their
    recorded renderings."""

    def anchors_of(hit: Page) -> set[str]:
        ids = edited.get(hit.url)
        if ids is not None:
            return ids
        entry = records.source(hit.source) if hit.source else None
        if entry is not None and entry.md is not None:
            return {t[1] for t in entry.md.toc}
        return set(hit.anchors)

    return anchors_of


def _messages(report: MarkdownReport | None) -> list[str]:
    if report is None:
        return []
    return [str(Message(*w)) for w in (*report.warnings, *report.broken)]


def render(out: Plan, templates: Templates, publisher: Publisher, workers: int) -> ShardResult:
    """Write the planned outputs (the store's state is cleared first: from here on it no
    longer describes the output directory) -- with up to `workers` processes when there are
    PARALLEL_FROM or more. Fallback when rendering says anything -- an error, a warning -- or
    an output fails: the ordinary build renders them again."""
    store = publisher.store
    cache.clear_state(store)
    templates.menu_cache.clear()  # a menu template may read what the edits changed
    d = out.delta
    if d is not None and (d.new_outputs or d.new_pagers or out.feeds[0]):
        # (Outputs no build wrote before: a build killed from here on must know to remove
        # them, should they turn out stale. Cleared when a saved manifest lists them.)
        incremental.write_pending(store, sorted({*d.new_outputs, *d.new_pagers, *out.feeds[0]}))
    FORK_STATE.clear()
    FORK_STATE.update(jobs=out.jobs, publisher=publisher, templates_factory=lambda: templates)
    publisher.begin()
    try:
        out.workers = workers if len(out.jobs) >= PARALLEL_FROM else 1
        shard = merged(run_chunks(out.workers, None))
    finally:
        FORK_STATE.clear()
    if shard.errors or shard.warnings or len(shard.records) != len(out.jobs):
        raise Fallback("rendering reported errors or warnings")
    if any(rec.warnings for _, rec in shard.records):
        raise Fallback("a template warned")
    return shard


def finish(
    records: Records,
    out: Plan,
    shard: ShardResult,
    same: dict[str, incremental.SourceEntry],
    publisher: Publisher,
) -> dict[str, list[int]]:
    """Bring the records up to date after `render`; returns the stamps of the outputs
    written (pages and site-wide files). The publisher's result says what was done."""
    out_dir, result = publisher.out_dir, publisher.result
    rendered = dict(shard.records)
    for name, digest in out.templates.items():
        records.put_template(name, digest)
    for path, rec in rendered.items():
        records.put_output(path, rec)
    found = check_local_assets(
        [(p, r.assets) for p, r in sorted(rendered.items()) if r.assets], out_dir, records.site
    )
    old_assets: list[str] = []
    new_assets: list[str] = []
    for p in sorted(rendered):
        old_assets += records.asset_warnings(p)
        new_assets += found.get(p, [])
        records.put_asset_warnings(p, found.get(p, []))
    written = set(rendered)
    if out.removed:
        publisher.remove(set(out.removed))
        for path in out.removed:
            records.drop_output(path)
            old_assets += records.asset_warnings(path)
            records.put_asset_warnings(path, [])
    if out.sitewide:
        # The edited pages' entries made again; the files that show them differently joined
        # again from the rest as recorded (bengal.outputs).
        was = out.entries
        entries = _entries_now(out)
        written.update(publisher.write(changed_files(records.site, entries, was)))
        came, went = out.feeds
        if came or went:
            publisher.remove(set(went))
            records.put_sitewide(came, went)
        changed: dict[str, Entry | None] = {k: v for k, v in entries.items() if was.get(k) != v}
        changed.update((k, None) for k in was.keys() - entries.keys())
        records.put_entries(changed)
    stamps = cache.stat_outputs(out_dir, sorted(written))
    records.put_out_stats(stamps)
    for rel, entry in same.items():
        records.put_source(rel, entry)
    for e, entry in out.edits:
        records.put_source(e.rel, entry)
        if e.reason != "links":
            result.changes[e.rel] = e.reason
    readded = {e.rel for e, _ in out.edits}
    for rel in out.delta.removed_sources if out.delta is not None else ():
        if rel in readded or rel in same:  # (moved: its new entry is put above)
            result.changes[rel] = "metadata"
            continue
        records.drop_source(rel)
        result.changes[rel] = "removed"
    result.changes = dict(sorted(result.changes.items()))
    result.taxonomy_reindexed = len(out.delta.tax_pages) if out.delta is not None else 0
    for k, v in out.facts.items():
        records.put_fact(k, v)
    if out.delta is not None:
        records.put_delta(out.delta, out.facts)
    for rel, (before, now) in out.linkers.items():
        records.put_linkers(rel, before, now)
    warnings = replaced(records.warnings, out.old_messages, out.new_messages)
    records.warnings = replaced(warnings, old_assets, new_assets)

    result.incremental = True
    result.workers = out.workers
    said = set(result.warnings)  # (the configuration's, say: in the recorded ones too)
    result.warnings.extend(w for w in records.warnings if w not in said)
    result.rendered = len(rendered)
    result.written += shard.written
    result.skipped_identical += shard.skipped
    result.markdown_rendered = len(out.edits)
    result.files_read = len(out.edits) + len(same)
    result.explain_outputs = dict(out.outputs)
    return stamps


def replaced(recorded: list[str], old: list[str], new: list[str]) -> list[str]:
    """`recorded` with one occurrence of each of `old` removed and `new` put where the first
    of them was (at the end when none was there)."""
    if not old and not new:
        return recorded
    out = list(recorded)
    at = len(out)
    for m in old:
        try:
            i = out.index(m)
        except ValueError:
            continue
        del out[i]
        at = min(at, i)
    at = min(at, len(out))
    out[at:at] = new
    return out


__all__ = ["Edit", "Fallback", "Plan", "Records", "finish", "plan", "read_edits", "render"]
