"""The command line's fast path for body edits: a `bengal build` after edits that change only
the Markdown bodies of existing pages renders the affected outputs from the site model the last
build recorded, without assembling the site or loading the whole cache.

Why it exists: an ordinary incremental build rebuilds the site model from the cache (every
page restored, sections, terms, menus, fingerprints of everything) and loads every cache shard
before it can decide that one page changed -- ~1 s on a 10k-page site, for one page. Here:

* The model store (`model-*.bin` beside the cache shards) holds one record per page, section
  and term, plus the site's own fields, each pickled separately and found through a directory
  at the start of the file. Objects are made empty and filled from their records when first
  read (bengal.model, "objects loaded on first use"), so rendering one page reads its own
  record, its section's, its neighbours' -- not 10,000. The last ordinary build writes the store
  when the model changed (its fingerprint: every fact but bodies and summaries).
* The cache's reverse index ("rdeps" shards: page key -> its outputs, "key|body" and
  "key|summary" -> the outputs that read them) names the outputs to render; only the cache
  shards holding the edited entries are read and written again.

The path is taken only when it provably gives what the ordinary build would: the change check
found nothing but content Markdown files with new stamps (no file added or removed, no output
touched, no template, data, static or config change), each edited file has the same front matter
text, body line and first heading (so the same title), the same cross-references and heading
ids, no Markdown warnings before or after, and the page's fingerprints other than its body and
summary are the recorded ones. Anything else -- or anything unexpected on the way, such as a
damaged store -- returns None and the ordinary build runs: before an output is written, or, for
what only rendering shows (a template error or warning), after, with the outputs' stamps taken
again so that the ordinary build renders them again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import pickle
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bengal import __version__, incremental
from bengal.cache import CacheDamaged, read_blob, write_blob
from bengal.errors import ContentError
from bengal.model import MenuItem, Page, Section, Site, Term

if TYPE_CHECKING:
    from bengal.build import BuildOptions, BuildResult
    from bengal.cache import NoopCheck

MODEL_PREFIX = "model-"
_MAGIC = b"BENGAL-MODEL-1\n\0"  # 16 bytes
# At most this many edited files take the fast path (a bigger change is no longer "one edit").
MAX_EDITS = 8


class Fallback(Exception):
    """The fast path cannot be taken; the ordinary build runs."""


class LoadedShardDamaged(CacheDamaged):
    """A damaged shard of a map the ordinary build loads whole (bengal.incremental.LOADED)."""


# ---- the model store: writing ---------------------------------------------------------------


def _key_or_none(p: Page | None) -> str | None:
    return None if p is None else incremental.page_key(p)


def _menu_item(it: MenuItem) -> tuple[Any, ...]:
    return (
        it.name, it.url, it.weight, it.identifier, it.parent,
        [_menu_item(c) for c in it.children], _key_or_none(it.page),
    )  # fmt: skip


def model_items(
    site: Site, xref_added: list[tuple[str, str, str]], facts: dict[str, bytes]
) -> Iterator[tuple[str, bytes, Callable[[], Any]]]:
    """Every object of the assembled model as (key, what its record is made from, a maker of
    its record: a plain tuple, objects named by their keys).

    "What its record is made from" is the fingerprints of the object's own groups (a page's
    meta and nav, a section's or term's meta and list), which cover every field of its record:
    equal ones mean an equal record, so write_store can copy the last store's bytes instead
    of making and pickling it again. (The store as a whole already relies on this: it is kept
    while these fingerprints are.) b"" for the site-wide records: always made."""
    keys = {id(p): incremental.page_key(p) for p in site.pages}

    def pk(p: Page) -> str:
        return keys.get(id(p)) or incremental.page_key(p)

    def plist(pages: list[Page]) -> list[str]:
        return [keys.get(id(x)) or incremental.page_key(x) for x in pages]

    def made_of(key: str, a: str, b: str) -> bytes:
        fa, fb = facts.get(key + a), facts.get(key + b)
        return fa + fb if fa and fb else b""

    def page(p: Page) -> tuple[Any, ...]:
        return (
            p.source, p.kind, p.fm, p.body_line, p.title, p.url, p.permalink, p.output_path,
            p.bundle_dir, p.taxonomy,
            None if p.section is None else p.section.path,
            _key_or_none(p.prev), _key_or_none(p.next),
            [(t, [x.slug for x in v]) for t, v in p.terms.items()],
            None if p.term is None else (p.term.taxonomy, p.term.slug),
            plist(p.list_pages),
        )  # fmt: skip

    def section(sec: Section) -> tuple[Any, ...]:
        return (
            sec.path, sec.title, None if sec.parent is None else sec.parent.path,
            _key_or_none(sec.index), plist(sec.pages),
            [x.path for x in sec.subsections], sec.cascade,
        )  # fmt: skip

    def term(t: Term) -> tuple[Any, ...]:
        return (t.taxonomy, t.name, t.slug, t.url, plist(t.pages))

    for p in site.pages:
        k = pk(p)
        yield k, made_of(k, "|meta", "|nav"), functools.partial(page, p)
    for path, sec in site.sections.items():
        k = "s:" + path
        yield k, made_of(k, "|meta", "|list"), functools.partial(section, sec)
    for tax, by_slug in site.taxonomies.items():
        for slug, t in by_slug.items():
            k = f"t:{tax}/{slug}"
            yield k, made_of(k, "|meta", "|list"), functools.partial(term, t)
    site_wide: dict[str, Callable[[], Any]] = {
        "site": lambda: (
            site.title,
            site.baseurl,
            site.language,
            site.description,
            site.author,
            site.params,
            site.data,
            site.build_date,
            None if site.home is None else site.home.path,
        ),  # fmt: skip
        "site.pages": lambda: plist(site.pages),
        "site.regular_pages": lambda: plist(site.regular_pages),
        "site.sections": lambda: list(site.sections),
        "site.page_by_path": lambda: [(k, pk(v)) for k, v in site.page_by_path.items()],
        "site.page_by_output": lambda: [(k, pk(v)) for k, v in site.page_by_output.items()],
        "site.taxonomies": lambda: [(t, list(v)) for t, v in site.taxonomies.items()],
        "site.menus": lambda: [
            (n, [_menu_item(i) for i in items]) for n, items in site.menus.items()
        ],
        "xref.added": lambda: xref_added,
    }
    for k, make in site_wide.items():
        yield k, b"", make


def model_records(site: Site, xref_added: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Every object of the assembled model as a plain record (objects named by their keys)."""
    return {k: make() for k, _, make in model_items(site, xref_added, {})}


def model_fingerprint(facts: dict[str, bytes], xref_digest: bytes) -> bytes:
    """What the model store is valid for: every fact but bodies and summaries (which the store
    does not hold; a page's record comes from its front matter, place and title) and the
    cross-reference index. (A page's body line follows from its front matter text, which its
    meta fact covers.)"""
    h = hashlib.blake2b(digest_size=16)
    h.update(xref_digest)
    for k in sorted(facts):
        if not k.endswith(("|body", "|summary")):
            h.update(k.encode("utf-8", "surrogatepass"))
            h.update(facts[k])
    return h.digest()


def _open_store(path: Path) -> tuple[Any, tuple[Any, ...], int]:
    """(the store's bytes, mapped; its directory, checked; where its records start)."""
    import mmap

    with open(path, "rb") as f:
        try:
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file
            raise CacheDamaged("not a model store") from None
    head = data[:40]
    n = int.from_bytes(head[16:24], "little")
    directory = data[40 : 40 + n]
    if len(head) != 40 or head[:16] != _MAGIC:
        data.close()
        raise CacheDamaged("not a model store")
    if len(directory) != n or hashlib.blake2b(directory, digest_size=16).digest() != head[24:40]:
        data.close()
        raise CacheDamaged("model store directory damaged")
    return data, marshal.loads(directory), 40 + n


def _old_records(path: Path) -> tuple[Any, dict[str, tuple[int, int, int]], dict[str, bytes], int]:
    """(the store's bytes, its directory, what each record was made from, where records start)
    for write_store to copy records from. Raises on anything unexpected."""
    data, (_, where, (off, length, crc)), start = _open_store(path)
    blob = data[start + off : start + off + length]
    made_of = marshal.loads(blob) if len(blob) == length and zlib.crc32(blob) == crc else None
    if not isinstance(where, dict) or not isinstance(made_of, dict):
        data.close()
        raise CacheDamaged("model store: what the records were made from is damaged")
    return data, where, made_of, start


def write_store(
    cdir: Path,
    fingerprint: bytes,
    items: Iterable[tuple[str, bytes, Callable[[], Any]]],
    last: Path | None = None,
) -> tuple[str, int]:
    """Write the model store; returns its file name and how many records were copied from the
    store `last` (the one the last build left, when intact) because they are made of the same
    fingerprints there (checked against their checksums as they are copied). Layout: magic (16
    bytes), directory length (8), BLAKE2 of the directory (16), the directory (marshalled:
    the fingerprint, {key: (offset, length, crc32)}, and where the records' "made of" map is),
    then the records, then that map (marshalled {key: fingerprints})."""
    old_data: Any = None
    old_where: dict[str, tuple[int, int, int]] = {}
    old_made: dict[str, bytes] = {}
    old_start = 0
    if last is not None:
        try:
            old_data, old_where, old_made, old_start = _old_records(last)
        except (OSError, ValueError, TypeError, EOFError, CacheDamaged):
            old_data, old_where, old_made = None, {}, {}
    blobs: list[Any] = []
    where: dict[str, tuple[int, int, int]] = {}
    made: dict[str, bytes] = {}
    off = 0
    copied = 0
    dumps = pickle.dumps
    crc32 = zlib.crc32
    for k, made_of, make in items:
        b = None
        if made_of:
            made[k] = made_of
            hit = old_where.get(k) if old_made.get(k) == made_of else None
            if hit is not None:
                o, n, crc = hit
                b = old_data[old_start + o : old_start + o + n]
                if len(b) == n and crc32(b) == crc:
                    copied += 1
                    where[k] = (off, n, crc)
                else:
                    b = None  # damaged there: made again
        if b is None:
            b = dumps(make(), protocol=pickle.HIGHEST_PROTOCOL)
            where[k] = (off, len(b), crc32(b))
        blobs.append(b)
        off += len(b)
    made_blob = marshal.dumps(made)
    directory = marshal.dumps((fingerprint, where, (off, len(made_blob), crc32(made_blob))))
    name = f"{MODEL_PREFIX}{os.getpid()}-{time.time_ns()}.bin"
    tmp = cdir / f".{name}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(_MAGIC + len(directory).to_bytes(8, "little"))
            f.write(hashlib.blake2b(directory, digest_size=16).digest())
            f.write(directory)
            f.writelines(blobs)
            f.write(made_blob)
        os.replace(tmp, cdir / name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if old_data is not None:
            old_data.close()  # (what was copied from it are bytes of their own)
    return name, copied


def remove_old_stores(cdir: Path, keep: str) -> None:
    for p in cdir.glob(MODEL_PREFIX + "*.bin"):
        if p.name != keep:
            with contextlib.suppress(OSError):
                p.unlink()


# ---- the model store: reading ---------------------------------------------------------------


class Store:
    """The recorded model, objects made on first use (one object per key)."""

    def __init__(self, path: Path, fingerprint: bytes):
        self.data, (fp, self.where, _), self.start = _open_store(path)
        if fp != fingerprint:
            raise Fallback("the model store is not the cache's")
        self.objects: dict[str, Any] = {}
        self._loader = self._fill
        self.base = ""  # content directory (body loaders)
        self.md_apply: Callable[[Page], None] | None = None  # set by the fast path

    def record(self, key: str) -> Any:
        hit = self.where.get(key)
        if hit is None:
            raise CacheDamaged(f"model store has no record {key!r}")
        off, n, crc = hit
        off += self.start
        b = self.data[off : off + n]
        if len(b) != n or zlib.crc32(b) != crc:
            raise CacheDamaged(f"model store record {key!r} damaged")
        return pickle.loads(b)

    def _lazy(self, cls: type, key: str) -> Any:
        obj = self.objects.get(key)
        if obj is None:
            obj = object.__new__(cls)
            d: dict[str, Any] = obj.__dict__
            d["_lazy"] = self._loader
            d["_key"] = key
            self.objects[key] = obj
        return obj

    def pages(self, keys: list[str]) -> list[Page]:
        """Page objects for `keys` (the inner loop of every list: inlined)."""
        objs = self.objects
        new = object.__new__
        loader = self._loader
        out = []
        for k in keys:
            o = objs.get(k)
            if o is None:
                o = new(Page)
                d = o.__dict__
                d["_lazy"] = loader
                d["_key"] = k
                objs[k] = o
            out.append(o)
        return out

    def page(self, key: str | None) -> Page | None:
        return None if key is None else self._lazy(Page, key)

    def section(self, path: str | None) -> Section | None:
        return None if path is None else self._lazy(Section, "s:" + path)

    def term(self, tax: str, slug: str) -> Term:
        t: Term = self._lazy(Term, f"t:{tax}/{slug}")
        return t

    def _fill(self, obj: Any, name: str) -> bool:
        d = obj.__dict__
        rec = self.record(d.pop("_key"))
        cls = type(obj)
        if cls is Page:
            (source, kind, fm, body_line, title, url, permalink, output_path, bundle_dir,
             taxonomy, section, prev, nxt, terms, term, list_pages) = rec  # fmt: skip
            from markupsafe import Markup

            d.update(
                source=source, kind=kind, fm=fm, body_line=body_line, title=title, url=url,
                permalink=permalink, output_path=output_path, bundle_dir=bundle_dir,
                taxonomy=taxonomy, section=self.section(section), prev=self.page(prev),
                next=self.page(nxt),
                terms={t: [self.term(t, s) for s in slugs] for t, slugs in terms},
                term=None if term is None else self.term(*term),
                list_pages=self.pages(list_pages),
                _body=None, _body_loader=None, _content=None, _content_loader=None,
                _md_apply=None, _toc=[], _anchors=[], _images=[], _word_count=0,
                _summary=Markup(""),
            )  # fmt: skip
            if source:
                from bengal.build import _body_reader

                d["_body_loader"] = _body_reader(self.base, source)
                d["_md_apply"] = self.md_apply
        elif cls is Section:
            path, title, parent, index, pages, subsections, cascade = rec
            d.update(
                path=path, title=title, parent=self.section(parent), index=self.page(index),
                pages=self.pages(pages),
                subsections=[self.section(x) for x in subsections], cascade=cascade,
            )  # fmt: skip
        elif cls is Term:
            taxonomy, tname, slug, url, pages = rec
            d.update(
                taxonomy=taxonomy, name=tname, slug=slug, url=url,
                pages=self.pages(pages),
            )  # fmt: skip
        else:
            raise CacheDamaged(f"model store: no loader for {cls.__name__}")
        return True

    def site(self) -> Site:
        site = object.__new__(Site)
        (title, baseurl, language, description, author, params, data, build_date,
         home) = self.record("site")  # fmt: skip
        site.__dict__.update(
            title=title, baseurl=baseurl, language=language, description=description,
            author=author, params=params, data=data, build_date=build_date,
            _lazy=self._fill_site,
        )  # fmt: skip
        self._home = home
        return site

    def _menu(self, t: tuple[Any, ...]) -> MenuItem:
        name, url, weight, ident, parent, children, page = t
        return MenuItem(name, url, weight, ident, parent, [self._menu(c) for c in children],
                        self.page(page))  # fmt: skip

    def _fill_site(self, site: Site, name: str) -> bool:
        """One field of the site at a time: site.title must not cost a list of every page."""
        d = site.__dict__
        if name == "home":
            d["home"] = self.section(self._home)
        elif name in ("pages", "regular_pages"):
            d[name] = self.pages(self.record("site." + name))
        elif name == "sections":
            d[name] = {p: self._lazy(Section, "s:" + p) for p in self.record("site.sections")}
        elif name in ("page_by_path", "page_by_output"):
            d[name] = {k: self._lazy(Page, v) for k, v in self.record("site." + name)}
        elif name == "taxonomies":
            d[name] = {t: {s: self.term(t, s) for s in slugs}
                       for t, slugs in self.record("site.taxonomies")}  # fmt: skip
        elif name == "menus":
            d[name] = {n: [self._menu(i) for i in items] for n, items in self.record("site.menus")}
        return all(
            f in d
            for f in ("home", "pages", "regular_pages", "sections", "page_by_path",
                      "page_by_output", "taxonomies", "menus")
        )  # fmt: skip

    def xref_index(self) -> Any:
        import bengal_native

        index = bengal_native.XrefIndex()
        index.add_many(self.record("xref.added"))
        return index


# ---- cache shards, read and written one at a time ---------------------------------------------


class Shards:
    """The cache as the last build saved it, read shard by shard as entries are needed."""

    def __init__(self, cdir: Path, top: incremental.Cache):
        self.cdir = cdir
        self.top = top
        self.parts: dict[tuple[str, int], dict[str, Any]] = {}
        self.dirty: set[tuple[str, int]] = set()

    def part(self, kind: str, key: str) -> dict[str, Any]:
        i = incremental._shard_of(key, kind)
        part = self.parts.get((kind, i))
        if part is None:
            name = self.top.shards[kind][i]
            # Damage to a shard the ordinary build loads is reported by that load (once).
            damaged = LoadedShardDamaged if kind in incremental.LOADED else CacheDamaged
            try:
                part = read_blob(self.cdir / name)
            except CacheDamaged as exc:
                raise damaged(f"{name}: {exc}") from None
            if not isinstance(part, dict):
                raise damaged(f"{name}: unexpected contents")
            self.parts[(kind, i)] = part
        return part

    def get(self, kind: str, key: str) -> Any:
        return self.part(kind, key).get(key)

    def put(self, kind: str, key: str, value: Any) -> None:
        part = self.part(kind, key)
        if value is None:
            part.pop(key, None)
        else:
            part[key] = value
        self.dirty.add((kind, incremental._shard_of(key, kind)))

    def save(self, state_dir: Path) -> None:
        """The changed shards under new names, then the index naming them (a build killed
        before that leaves the previous cache whole), then the replaced files removed."""
        stamp = f"{os.getpid()}-{time.time_ns()}"
        names = {k: list(v) for k, v in self.top.shards.items()}
        old: list[str] = []
        for kind, i in sorted(self.dirty):
            name = f"{kind}-{i:02d}-{stamp}.bin"
            write_blob(self.cdir / name, self.parts[(kind, i)])
            old.append(names[kind][i])
            names[kind][i] = name
        self.top.shards = names
        write_blob(self.cdir / incremental.INDEX_FILE, self.top)
        for name in old:
            with contextlib.suppress(OSError):
                (self.cdir / name).unlink()


# ---- the fast path ----------------------------------------------------------------------------


def try_build(
    root: Path,
    opts: BuildOptions,
    config: Any,
    out_dir: Path,
    state_dir: Path,
    state_options: dict[str, Any],
    check: NoopCheck,
    scan_ns: int,
    result: BuildResult,
) -> BuildResult | None:
    """The build, when it is body edits only (see the module); None: take the ordinary build.
    Nothing is written before the decision is made."""
    if opts.clean or opts.skip_noop or opts.prev_cache is not None or opts.keep_warm is not None:
        return None
    state = check.state
    if state is None or state.get("racy", True) or check.outputs_seen is None:
        return None
    if check.outputs_seen[1] != state["outputs"][1] or state.get("bad_names") != sorted(
        check.bad_names
    ):
        return None
    before: dict[str, list[int]] = state.get("inputs", {})
    now = check.inputs
    if before.keys() != now.keys():
        return None
    from bengal.discover import MARKDOWN_EXTS

    changed = [k for k, v in now.items() if before[k] != v]
    if not changed or len(changed) > MAX_EDITS:
        return None
    if not all(k.startswith("content/") and k.endswith(MARKDOWN_EXTS) for k in changed):
        return None
    run = _Run(root, config, out_dir, state_dir, state_options, check, scan_ns, result, state)
    try:
        fast = _express(run, [k[len("content/") :] for k in changed])
    except LoadedShardDamaged:
        fast = None  # the ordinary build's load finds it too: reported there, and rebuilt
    except CacheDamaged as exc:
        run.damaged.append(str(exc))
        fast = None
    except (Fallback, ContentError, OSError, KeyError, ValueError, TypeError, EOFError,
            pickle.UnpicklingError, AttributeError, IndexError):  # fmt: skip
        fast = None
    if fast is None and run.wrote:
        # Outputs were written: the ordinary build must not trust the stamps taken before.
        check.outputs_seen = None
    if fast is None and run.damaged:
        # Only this path reads the model store and the renderings' stored facts: without the
        # store the ordinary build writes both again (see build.py).
        cdir = incremental.cache_dir(state_dir)
        for store in cdir.glob(MODEL_PREFIX + "*.bin"):
            with contextlib.suppress(OSError):
                store.unlink()
            check.inputs.pop(f".bengal/cache/{store.name}", None)  # the scan, as it is now
        result.warnings.append(f"{cdir}: {run.damaged[0]}; the cache is repaired by this build")
    return fast


@dataclass
class _Run:
    """What the fast path works with: the build's settings and the change check's findings."""

    root: Path
    config: Any
    out_dir: Path
    state_dir: Path
    state_options: dict[str, Any]
    check: NoopCheck
    scan_ns: int
    result: BuildResult
    state: dict[str, Any]
    wrote: bool = False  # outputs were written (a fallback must not trust earlier stamps)
    damaged: list[str] = field(default_factory=list)  # cache damage met on the way


def _express(run: _Run, rels: list[str]) -> BuildResult | None:
    root, config, state_dir, check, scan_ns, state = (
        run.root, run.config, run.state_dir, run.check, run.scan_ns, run.state,
    )  # fmt: skip
    from bengal import build as b

    t0 = time.perf_counter()
    cdir = incremental.cache_dir(state_dir)
    top = read_blob(cdir / incremental.INDEX_FILE)
    key = incremental.config_key(config.source, run.state_options)
    if (
        not isinstance(top, incremental.Cache)
        or top.bengal != __version__
        or top.config_key != key
        or not top.model
        or any(
            len(top.shards.get(k, ())) != incremental.shard_count(k) for k in incremental.SHARDED
        )
    ):
        return None
    shards = Shards(cdir, top)

    # The edited files: same front matter, body line and title; else the ordinary build.
    racy = scan_ns - incremental.RACY_NS
    warned: list[str] = list(state.get("summary", {}).get("warnings", []))
    edits: list[tuple[str, incremental.SourceEntry, str]] = []  # rel, entry (new stat), body
    for rel in rels:
        entry: incremental.SourceEntry | None = shards.get("sources", rel)
        if entry is None or entry.parsed[0] != "ok" or entry.md is None:
            return None
        st = check.inputs["content/" + rel]
        with open(root / "content" / rel, "rb") as f:
            data = f.read()
        stat = (st[0], st[1]) if st[1] == len(data) else (0, -1)
        if stat[0] >= racy:
            stat = (0, -1)  # hashed again next time (see incremental.RACY_NS)
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest == entry.digest:
            shards.put("sources", rel, entry._replace(stat=stat))
            continue
        body = incremental.edited_body(data, rel, entry)
        if body is None:
            return None
        if entry.md.warnings or any(w.startswith(rel + ":") for w in warned):
            # The site's warnings name this file (with lines an edit may move): the ordinary
            # build lists them again.
            return None
        edits.append((rel, entry._replace(stat=stat, digest=digest), body))

    run.result.timings["load cache"] = time.perf_counter() - t0
    store = Store(cdir / top.model, top.model_fp)
    store.base = str(root / "content")
    site = store.site()
    b.LAST_BUILD.extend([shards, store, site])
    pack = incremental.ContentPack(cdir / top.pack, fresh=False)
    try:
        return _render(run, shards, store, site, pack, edits, t0)
    finally:
        pack.close()


def _render(
    run: _Run,
    shards: Shards,
    store: Store,
    site: Site,
    pack: incremental.ContentPack,
    edits: list[tuple[str, incremental.SourceEntry, str]],
    t0: float,
) -> BuildResult | None:
    root, config, out_dir, state_dir, check, result = (
        run.root, run.config, run.out_dir, run.state_dir, run.check, run.result,
    )  # fmt: skip
    import bengal_native
    from bengal import build as b
    from bengal import cache
    from bengal.discover import THEME_DIR, SourceTree
    from bengal.render import (
        MarkdownContext,
        MarkdownReport,
        Templates,
        pager_count,
        pager_output_path,
    )

    # The edited bodies render with an index of what the site's index answered for their
    # cross-reference paths (stored with their last rendering): the fast path requires the
    # same cross-references, and the lookups digest below confirms the answers are the same.
    answers: dict[str, list[tuple[str, str, str]]] = {}
    small_index = bengal_native.XrefIndex()
    for rel, _entry, body in edits:
        where = shards.top.mdrefs.get(rel)
        if where is None:
            return None
        answers[rel] = incremental.load_md(pack, where)[1]
        if "[[" in body:
            small_index.add_many(answers[rel])
    ctx = MarkdownContext.of(site, small_index, config, {}, pack)

    def md_apply(page: Page) -> None:
        ref = shards.top.mdrefs.get(page.source)
        if ref is None:
            raise Fallback(f"no rendering cached for {page.source}")
        try:
            f = incremental.load_md(pack, ref)[0]
        except CacheDamaged as exc:  # raised inside a render: noted here, not lost in it
            run.damaged.append(f"{pack.path.name}: {page.source}: {exc}")
            raise
        ctx.apply(f, None, page)

    store.md_apply = md_apply

    # Markdown: the same cross-references and heading ids, and no warnings.
    report = MarkdownReport()
    rendered = ctx.render([body for *_, body in edits])
    todo: list[tuple[str, incremental.SourceEntry, Page]] = []
    for (rel, entry, body), res in zip(edits, rendered, strict=True):
        f, html = ctx.facts(res)
        old = entry.md
        assert old is not None
        if f.warnings or [x[:3] for x in f.xrefs] != [x[:3] for x in old.xrefs]:
            return None
        if [t[1] for t in f.toc] != [t[1] for t in old.toc]:
            return None  # pages linking to its headings would be checked again
        if f.lookups != old.lookups:
            return None
        page = store.page("p:" + rel)
        assert page is not None
        if page.source != rel:
            return None
        page._body = body
        page._body_loader = None
        ctx.attach(page, f, html, report)
        todo.append((rel, entry._replace(md=f), page))
    if report.warnings or report.broken:
        return None
    result.timings["markdown"] = time.perf_counter() - t0 - result.timings["load cache"]

    # Fingerprints: only body and summary may differ from the recorded ones.
    t1 = time.perf_counter()
    paths: dict[str, str] = {}  # output -> why
    changed_keys: set[str] = set()
    for rel, entry, page in todo:
        pkey = "p:" + rel
        new = incremental.page_facts(page, pkey, incremental.body_hash(entry), entry.fm_digest)
        for k, v in new.items():
            old = shards.get("facts", k)
            if old == v:
                continue
            if not k.endswith(("|body", "|summary")):
                return None
            changed_keys.add(k)
            shards.put("facts", k, v)
        if any(k.startswith(pkey + "|") for k in changed_keys):
            for p in shards.get("rdeps", pkey) or ():
                paths.setdefault(p, "page body changed")
    for k in sorted(changed_keys):
        if k.endswith("|summary"):
            return None  # feeds and the search index show summaries: the ordinary build
        for p in shards.get("rdeps", k) or ():
            paths.setdefault(p, f"reads {k.replace('|', ' ')}, which changed")

    # The outputs to render, as (page, pager number); their old records.
    per_page = int(config.pagination["per_page"])
    jobs: list[tuple[Page, int]] = []
    old_records: dict[str, incremental.OutputRecord] = {}
    for path in sorted(paths):
        rec = shards.get("outputs", path)
        # (Local-asset findings for it would be said again by the ordinary build.)
        if rec is None or rec.warnings or shards.top.asset_warnings.get(path):
            return None
        old_records[path] = rec
        page = store.page(rec.page)
        assert page is not None
        n = next(
            (n for n in range(1, pager_count(page, per_page) + 1)
             if pager_output_path(page, n) == path),
            None,
        )  # fmt: skip
        if n is None:
            return None
        jobs.append((page, n))
    result.timings["plan"] = time.perf_counter() - t1

    # Everything checked: from here on outputs and caches change.
    t2 = time.perf_counter()
    tree = SourceTree(
        root=root, assets=sorted(k[7:] for k in check.inputs if k.startswith("assets/"))
    )
    plan = b.plan_assets(root, tree, bool(config.build["fingerprint_assets"]))
    # ref() in templates: the recorded index, replayed on first use
    ref = b.ref_helper(functools.cache(store.xref_index))
    asset_url = b.asset_url_helper(plan, site.baseurl)
    templates = Templates(root, site, config, state_dir / "jinja", ref, asset_url)
    cache.clear_state(state_dir)
    run.wrote = True
    b._W.clear()
    b._W.update(jobs=jobs, out_dir=out_dir, templates_factory=lambda: templates)
    b.begin_writing(state_dir, out_dir)
    try:
        shard = b.run_chunks(1, None)[0]
    finally:
        b._W.clear()
    result.timings["render+write"] = time.perf_counter() - t2
    rendered_ok = dict(shard.records)
    if shard.errors or shard.warnings or len(rendered_ok) != len(jobs):
        return None  # the ordinary build renders these again and reports what failed
    if any(rec.warnings for rec in rendered_ok.values()):
        return None
    found = b.check_local_assets(
        [(p, r.assets) for p, r in sorted(rendered_ok.items()) if r.assets], out_dir, site
    )
    if any(found.values()):
        return None

    # The caches: sources, facts, records, reverse index, output stamps; then the state.
    t3 = time.perf_counter()
    for rel, entry, _page in todo:
        shards.put("sources", rel, entry)
        assert entry.md is not None
        blob = incremental.dump_md(entry.md, answers[rel])
        shards.top.mdrefs[rel] = pack.append_raw(blob)
    search_dirs = [d for d in (root / "templates", THEME_DIR / "templates") if d.is_dir()]
    assets_changed: list[str] = []
    for path, rec in rendered_ok.items():
        was = old_records[path]
        shards.put("outputs", path, rec)
        if was.assets != rec.assets:
            assets_changed.append(path)
        for name in rec.templates:
            if name not in shards.top.templates:
                shards.top.templates[name] = incremental.template_digest(name, search_dirs)
        for d in was.deps - rec.deps:
            if d.endswith(incremental.RDEP_GROUPS):
                kept = tuple(x for x in shards.get("rdeps", d) or () if x != path)
                shards.put("rdeps", d, kept or None)
        for d in rec.deps - was.deps:
            if d.endswith(incremental.RDEP_GROUPS):
                shards.put("rdeps", d, tuple(sorted({*(shards.get("rdeps", d) or ()), path})))
    stamps = cache.stat_outputs(out_dir, sorted(rendered_ok))
    for path in rendered_ok:
        st = stamps.get(path)
        shards.put("out_stats", path, None if st is None else (st[0], st[1]))
    if assets_changed:
        amap_path = state_dir / b.ASSET_MAP_FILE
        amap, status, _message = bengal_native.AssetDependencyMap.load(str(amap_path))
        if status.name != "OK":
            raise Fallback("asset map unusable")
        for path in assets_changed:
            local = [u for u, external in rendered_ok[path].assets if not external]
            if local:
                amap.set_page_assets(path, local)
            else:
                amap.remove_page(path)
        amap.save(str(amap_path))
        shards.top.asset_map_stamp = b._stamp(amap_path)
    shards.save(state_dir)
    result.timings["save cache"] = time.perf_counter() - t3
    t4 = time.perf_counter()
    assert check.outputs_seen is not None
    joined, packed = check.outputs_seen
    outputs_now = (joined, cache.patch_stamps(joined, packed, stamps))
    summary = run.state.get("summary", {})
    cache.save_state(
        root, state_dir, THEME_DIR, run.state_options, summary, check.inputs, outputs_now,
        racy_ns=run.scan_ns - incremental.RACY_NS, bad_names=check.bad_names,
    )  # fmt: skip
    b.end_writing(state_dir)  # (after the caches: a kill while saving them leaves temp files)
    result.timings["save state"] = time.perf_counter() - t4

    result.incremental = True
    result.express = True
    result.workers = 1
    result.pages = int(summary.get("pages", 0))
    result.files = int(summary.get("files", 0))
    # (The configuration's and the scan's warnings are in the summary too: said once.)
    said = set(result.warnings)
    result.warnings.extend(w for w in summary.get("warnings", []) if w not in said)
    result.rendered = len(rendered_ok)
    result.reused = result.pages - result.rendered
    result.written, result.skipped_identical = shard.written, shard.skipped
    result.markdown_rendered = len(todo)
    result.files_read = len(todo)
    result.changes = {rel: "body" for rel, *_ in todo}
    result.explain_outputs = dict(sorted(paths.items()))
    return result
