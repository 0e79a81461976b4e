"""Incremental builds: the cache under .bengal/cache/ and the decision what to rebuild.

The contract is that an incremental build writes exactly what a clean build would. It is kept
by recording, not by guessing:

* Sources. Every Markdown file's (mtime_ns, size, content digest), its parsed front matter (or
  the error it gave) and its rendered Markdown (HTML in an append-only pack file, the small
  facts -- TOC, anchors, words, summary, warnings, cross-references -- in the index). A file
  whose stat changed is read and hashed; equal digests mean unchanged. Unchanged pages are
  restored without reading their files; their body and HTML are loaded when first used.
  Directory mtimes are never used as a shortcut: editing a file in place does not change its
  directory's mtime (shared/NOTES.md), so every file is stat()ed.
* Cross-references. A cached rendering stays valid only while every [[target]] it contains
  resolves to the same (URL, title) in the new cross-reference index.
* Reads. While a template renders an output, the Jinja2 environment records every attribute it
  reads from a Page, Section, Term, Site or menu item, as "object key | group" (a page's groups
  are "meta", "body" and "summary"), plus every template it loads or tries, and every call of
  ref() and asset_url() with its result. After the site model is assembled, every object's
  groups are fingerprinted; an output is rendered again when a group it read changed, a
  template it used changed (or a template it looked for appeared), a helper call now answers
  differently, its own page changed, it is new, or its file is missing or was modified.
* Configuration, build options and the bengal version are part of the cache key: a change means
  a full build, which says so.

Files are written atomically (temp + rename) and carry a magic line, a format version and a
BLAKE2 digest of their payload: a truncated, garbage or foreign cache is detected on load and
answered with a warning and a full build. The files are pickles (CPython's C implementation):
measured on the 10k-page site, loading a 15 MB shard set takes as long as json.loads of the same
data (89 vs 85-107 ms), but json would then need converting into tuples, frozensets, bytes and
datetimes again, and the data is consumed in Python, so a native (nlohmann/json) reader would
pay that conversion too.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from markupsafe import Markup

from bengal import __version__
from bengal.cache import CacheDamaged, read_blob, write_blob
from bengal.model import MenuItem, Page, Section, Site, Term

CACHE_SUBDIR = "cache"
INDEX_FILE = "index.bin"
PACK_PREFIX = "content-"
# Files modified this close to a build's scan are re-hashed by the next build (see save()).
RACY_NS = 100_000_000


class ContentPack:
    """Rendered Markdown of every page, appended to one file: (offset, length, crc32) per entry.
    Entries are never rewritten in place, so an index saved earlier stays valid if a build is
    killed while appending; a full build starts a new pack."""

    def __init__(self, path: Path, fresh: bool):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | (os.O_TRUNC if fresh else 0), 0o644)
        self.end = os.fstat(self.fd).st_size
        self.keep_open = False  # handed over to the next build in this process (dev server)

    def append(self, html: str) -> tuple[int, int, int]:
        return self.append_raw(html.encode("utf-8"))

    def read(self, ref: tuple[int, int, int]) -> str:
        return self.read_raw(ref).decode("utf-8")

    def read_raw(self, ref: tuple[int, int, int]) -> bytes:
        off, length, crc = ref
        data = os.pread(self.fd, length, off)
        if len(data) != length or zlib.crc32(data) != crc:
            raise CacheDamaged(f"entry at {off} is damaged")  # callers name the pack
        return data

    def append_raw(self, data: bytes) -> tuple[int, int, int]:
        off = self.end
        os.pwrite(self.fd, data, off)
        self.end += len(data)
        return (off, len(data), zlib.crc32(data))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


# ---- what is cached per source and per output ------------------------------------------------


class MdFacts(NamedTuple):
    """A page's Markdown rendering, minus its HTML (which lives in the pack). Cache records
    are named tuples: immutable, so an entry kept from the last build stays the very object
    that was loaded (save() relies on that), and ~25% smaller pickled than dataclasses (they
    load equally fast: measured 24.6 vs 24.3 ms for 10k records)."""

    html_ref: tuple[int, int, int] | None
    html_hash: bytes
    h1_cut: int  # len("<h1...</h1>\n") when the HTML opens with an h1, else -1
    toc: list[tuple[int, str, str]]
    images: list[str]
    words: int
    first_paragraph: str  # its first words, as summaries show them (render.first_words)
    more_full: str | None  # plain text before <!--more--> (None: no marker)
    more_cut: str | None  # the same with the opening h1 removed
    warnings: list[tuple[int, str]]
    xrefs: list[tuple[str, bool, str, int]]  # target, resolved, url, line
    # Digest of XrefIndex.lookup() of every xref path when rendered (None: no index lookups)
    lookups: bytes | None


class SourceEntry(NamedTuple):
    stat: tuple[int, int]  # mtime_ns, size
    digest: bytes
    parsed: tuple[Any, ...]  # ("ok", raw front matter, body line) | ("err", reason, line)
    heading: str | None = None
    md: MdFacts | None = None
    fm_digest: bytes = b""  # of the front matter's text (its parsed form is `parsed`)


class OutputRecord(NamedTuple):
    page: str  # key of the page it shows
    templates: tuple[str, ...]
    deps: frozenset[str]  # "key|group" read while rendering
    calls: tuple[tuple[str, str, str], ...]  # (helper, argument, result)
    assets: list[tuple[str, bool]]
    warnings: tuple[str, ...]


@dataclass
class Cache:
    config_key: str
    sources: dict[str, SourceEntry] = field(default_factory=dict)
    facts: dict[str, bytes] = field(default_factory=dict)  # "key|group" -> fingerprint
    outputs: dict[str, OutputRecord] = field(default_factory=dict)  # HTML outputs
    templates: dict[str, bytes | None] = field(default_factory=dict)  # name -> file digest
    manifest: list[str] = field(default_factory=list)  # every file the build put in the output
    out_stats: dict[str, tuple[int, int]] = field(default_factory=dict)
    pack: str = ""
    sitewide: list[str] = field(default_factory=list)
    xref_digest: bytes = b""  # the cross-reference index every cached rendering is valid for
    asset_warnings: dict[str, list[str]] = field(default_factory=dict)  # output -> findings
    asset_map_stamp: tuple[int, int] | None = None  # asset_deps.json as this build left it
    # Each source's MdFacts, pickled into the content pack too: content path -> (offset,
    # length, crc32), kept in the index. The fast path reads the few renderings a list page
    # shows through these instead of loading the sources' shards (bengal.express).
    mdrefs: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    # The model store (bengal.express) the last build wrote, and what it is valid for.
    model: str = ""
    model_fp: bytes = b""
    # The taxonomy index (bengal.taxonomy): page source -> what it contributes, and
    # "plural\0term" -> its pages' sources in list order.
    tax_pages: dict[str, Any] = field(default_factory=dict)
    tax_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    bengal: str = __version__
    # Where the SHARDED maps are stored: shard_count(kind) files each (see save()).
    shards: dict[str, list[str]] = field(default_factory=dict)
    # Not stored: the shards as loaded, so that save() can tell which ones a build changed and
    # need not hash every key again to find its shard.
    loaded_parts: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        """The two long maps of the index in flat form (one string, one array): the fast path
        reads and writes the index on every edit, and 17k path strings pickle slowly."""
        from array import array

        d = dict(self.__dict__)
        d["manifest"] = "\0".join(self.manifest)
        keys = list(self.mdrefs)
        d["mdrefs"] = ("\0".join(keys), array("q", [x for k in keys for x in self.mdrefs[k]]))
        return d

    def __setstate__(self, d: dict[str, Any]) -> None:
        # (An index another bengal wrote may hold these in another form: load() looks only at
        # its version and manifest then, defensively.)
        joined = d.get("manifest", "")
        if isinstance(joined, str):
            d["manifest"] = joined.split("\0") if joined else []
        packed = d.get("mdrefs")
        if isinstance(packed, tuple) and len(packed) == 2 and isinstance(packed[0], str):
            keys, values = packed
            it = iter(values)
            d["mdrefs"] = (
                dict(zip(keys.split("\0"), zip(it, it, it, strict=True), strict=True))
                if keys
                else {}
            )
        self.__dict__.update(d)


def config_key(config_source: bytes, options: dict[str, Any]) -> str:
    """The cache key: the bytes of bengal.toml the build's configuration was parsed from (not
    the file read again: an edit in between would file this build's output under the new
    configuration), the build options and bengal's version."""
    h = hashlib.blake2b(digest_size=16)
    h.update(config_source)
    h.update(repr(sorted(options.items())).encode())  # includes bengal.cache.code_key()
    h.update(__version__.encode())
    return h.hexdigest()


def cache_dir(state_dir: Path) -> Path:
    return state_dir / CACHE_SUBDIR


# "rdeps", the reverse index of `outputs`, exists only as shards (written by save(), never held
# whole in a Cache): page key -> its outputs, and "key|body", "key|summary" -> the outputs that
# read them (tuples of output paths). The fast path for body edits (bengal.express) reads the
# few entries it needs instead of every record.
SHARDED = ("sources", "outputs", "facts", "out_stats", "tax_pages", "tax_terms", "rdeps")
# The groups of other pages' reads the reverse index keeps (a page's own outputs are under its
# key; its meta and nav changes take the ordinary build).
RDEP_GROUPS = ("|body", "|summary")
# The maps a build loads whole; the reverse index is kept by save() shard by shard.
LOADED = ("sources", "outputs", "facts", "out_stats", "tax_pages", "tax_terms")
# Entries kept from the last build are the same objects (changed ones are new objects)
BY_IDENTITY = ("sources", "outputs", "tax_pages", "tax_terms")
SHARDS = 64
# The big records in more, smaller files: the fast path for body edits (bengal.express) reads
# and writes the shards of a few outputs and sources, and pays for their size.
SHARD_COUNTS = {"sources": 256, "outputs": 256, "tax_pages": 16, "tax_terms": 8}
# Plain data (tuples, strings, numbers): stored with marshal, much faster to load than pickle.
MARSHALLED = ("tax_pages", "tax_terms")


def shard_count(kind: str) -> int:
    return SHARD_COUNTS.get(kind, SHARDS)


_ABSENT = object()


def _shard_of(key: str, kind: str) -> int:
    return zlib.crc32(key.encode("utf-8", "surrogatepass")) % shard_count(kind)


def load(state_dir: Path, key: str) -> tuple[Cache | None, str, str]:
    """(cache or None, why not usable, warning to show). A missing cache is no warning."""
    d = cache_dir(state_dir)
    path = d / INDEX_FILE
    try:
        data = read_blob(path)
    except FileNotFoundError:
        return None, "no build cache", ""
    except OSError as exc:
        return None, "cache unreadable", f"{path}: cannot read ({exc.strerror}); full build"
    except CacheDamaged as exc:
        return None, "cache damaged", f"{path}: {exc}; rebuilding everything"
    if not isinstance(data, Cache):
        return None, "cache damaged", f"{path}: unexpected contents; rebuilding everything"
    # A cache written by another bengal may have another shape: only its list of written files
    # is used (to remove stale outputs), read defensively.
    why = ""
    if getattr(data, "bengal", None) != __version__:
        why = f"bengal version changed ({getattr(data, 'bengal', '?')} -> {__version__})"
    elif getattr(data, "config_key", None) != key:
        why = "configuration, build options or bengal itself changed"
    if why:
        found = getattr(data, "manifest", None)
        manifest: list[str] = []
        if isinstance(found, list) and all(isinstance(m, str) for m in found):
            manifest = found
        return Cache(config_key="", manifest=manifest), why, ""
    where = path  # the file being read, for the message
    try:
        data.loaded_parts = {}
        for kind in LOADED:
            merged: dict[str, Any] = {}
            parts: list[dict[str, Any]] = []
            for name in data.shards[kind]:
                where = d / name
                part = read_blob(where)
                if not isinstance(part, dict):
                    raise CacheDamaged("unexpected contents")
                merged.update(part)
                parts.append(part)
            setattr(data, kind, merged)
            data.loaded_parts[kind] = parts
    except FileNotFoundError as exc:
        return None, "cache damaged", f"{exc.filename}: missing; rebuilding everything"
    except OSError as exc:
        return None, "cache unreadable", f"{where}: cannot read ({exc.strerror}); full build"
    except CacheDamaged as exc:
        return None, "cache damaged", f"{where}: {exc}; rebuilding everything"
    except (KeyError, TypeError, AttributeError):
        return None, "cache damaged", f"{path}: unexpected contents; rebuilding everything"
    return data, "", ""


def save(state_dir: Path, cache: Cache, previous: Cache | None = None) -> None:
    """Write the cache: the big maps (SHARDED) in shard_count(kind) files each, by a hash of
    their keys,
    and the rest in the index. A shard whose entries are exactly the ones loaded from
    `previous` (the same objects, or equal values for fingerprints and stats) is not written
    again (an edit rewrites a few shards, not 35 MB). Shard files
    have unique names and the index is replaced last, so a build killed while saving leaves
    the previous cache whole; files no index names any more are removed afterwards."""
    import dataclasses
    import time

    d = cache_dir(state_dir)
    d.mkdir(parents=True, exist_ok=True)
    stamp = f"{os.getpid()}-{time.time_ns()}"
    names: dict[str, list[str]] = {"rdeps": _save_reverse_index(d, cache, previous, stamp)}
    parts: dict[str, list[dict[str, Any]]] = {}
    for kind in LOADED:
        old_names: list[str] = []
        old_parts: list[dict[str, Any]] = []
        if previous is not None:
            old_names = previous.shards.get(kind, [])
            old_parts = previous.loaded_parts.get(kind, [])
        count = shard_count(kind)
        usable = len(old_names) == len(old_parts) == count
        # The shard of a key the last build stored is known from where it was loaded.
        known: dict[str, int] = {}
        if usable:
            for i, part in enumerate(old_parts):
                known.update(dict.fromkeys(part, i))
        buckets: list[dict[str, Any]] = [{} for _ in range(count)]
        for key, value in getattr(cache, kind).items():
            where = known.get(key)
            buckets[_shard_of(key, kind) if where is None else where][key] = value
        out: list[str] = []
        kept: list[dict[str, Any]] = []
        for i, bucket in enumerate(buckets):
            if usable:
                old = old_parts[i]
                if kind in BY_IDENTITY:  # the loaded objects themselves, or new ones
                    same = len(old) == len(bucket) and all(
                        old.get(k, _ABSENT) is v for k, v in bucket.items()
                    )
                else:
                    same = old == bucket
                if same:
                    out.append(old_names[i])
                    kept.append(old)
                    continue
            name = f"{kind}-{i:02d}-{stamp}.bin"
            if kind in MARSHALLED:
                try:
                    write_blob(d / name, bucket, plain=True)
                except ValueError:  # a value marshal cannot store (a str subclass, say)
                    write_blob(d / name, bucket)
            else:
                write_blob(d / name, bucket)
            out.append(name)
            kept.append(bucket)
        names[kind] = out
        parts[kind] = kept
    empty: dict[str, Any] = {kind: {} for kind in LOADED}
    top = dataclasses.replace(cache, **empty, shards=names, loaded_parts={})
    write_blob(d / INDEX_FILE, top)
    # `cache` now describes the files on disk: it can be the `previous` of a later save in
    # this process (the dev server saves what it changed since).
    cache.shards = names
    cache.loaded_parts = parts
    keep = {n for v in names.values() for n in v}
    for kind in SHARDED:
        for f in d.glob(f"{kind}-*.bin"):
            if f.name not in keep:
                with contextlib.suppress(OSError):
                    f.unlink()


def _contributions(path: str, rec: OutputRecord) -> list[str]:
    return [rec.page] + [d for d in rec.deps if d.endswith(RDEP_GROUPS)]


def _save_reverse_index(d: Path, cache: Cache, previous: Cache | None, stamp: str) -> list[str]:
    """Write the reverse index ("rdeps") of cache.outputs; returns its shard names. From the
    previous save's shards, changed where records changed (a record kept from the last build
    is the very object loaded: see BY_IDENTITY) -- only the shards holding changed keys are
    read and written -- or from scratch."""
    count = shard_count("rdeps")
    old_parts = previous.loaded_parts.get("outputs") if previous is not None else None
    old_names = previous.shards.get("rdeps", []) if previous is not None else []
    if old_parts and len(old_parts) == shard_count("outputs") and len(old_names) == count:
        old_outputs: dict[str, OutputRecord] = {}
        for part in old_parts:
            old_outputs.update(part)
        adds: dict[str, set[str]] = {}
        drops: dict[str, set[str]] = {}
        outputs = cache.outputs
        for path, rec in outputs.items():
            was = old_outputs.get(path)
            if was is rec:
                continue
            now = _contributions(path, rec)
            for k in now:
                adds.setdefault(k, set()).add(path)
            if was is not None:
                for k in set(_contributions(path, was)).difference(now):
                    drops.setdefault(k, set()).add(path)
        for path, was in old_outputs.items():
            if path not in outputs:
                for k in _contributions(path, was):
                    drops.setdefault(k, set()).add(path)
        by_shard: dict[int, list[str]] = {}
        for k in {*adds, *drops}:
            by_shard.setdefault(_shard_of(k, "rdeps"), []).append(k)
        names = list(old_names)
        try:
            for i, keys in sorted(by_shard.items()):
                part = read_blob(d / old_names[i])
                if not isinstance(part, dict):
                    raise CacheDamaged("unexpected contents")
                for k in keys:
                    v = set(part.get(k, ())) - drops.get(k, set()) | adds.get(k, set())
                    if v:
                        part[k] = tuple(sorted(v))
                    else:
                        part.pop(k, None)
                names[i] = f"rdeps-{i:02d}-{stamp}.bin"
                write_blob(d / names[i], part)
            return names
        except (OSError, CacheDamaged):
            pass  # written again from scratch
    buckets: list[dict[str, Any]] = [{} for _ in range(count)]
    for path, rec in cache.outputs.items():
        for k in _contributions(path, rec):
            bucket = buckets[_shard_of(k, "rdeps")]
            hit = bucket.get(k)
            if hit is None:
                bucket[k] = [path]
            else:
                hit.append(path)
    names = []
    for i, bucket in enumerate(buckets):
        for k, v in bucket.items():
            bucket[k] = tuple(sorted(v))
        names.append(f"rdeps-{i:02d}-{stamp}.bin")
        write_blob(d / names[i], bucket)
    return names


PENDING_FILE = "pending.txt"


def write_pending(state_dir: Path, paths: list[str]) -> None:
    """Outputs a build is about to create for the first time, recorded before it writes them."""
    target = cache_dir(state_dir) / PENDING_FILE
    if not paths:
        return
    tmp = target.with_name(f".{PENDING_FILE}.{os.getpid()}.tmp")
    previous = read_pending(state_dir)
    tmp.write_text("\n".join(sorted(set(paths) | previous)) + "\n", encoding="utf-8")
    os.replace(tmp, target)


def read_pending(state_dir: Path) -> set[str]:
    try:
        text = (cache_dir(state_dir) / PENDING_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line for line in text.split("\n") if line and ".." not in line.split("/")}


def clear_pending(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (cache_dir(state_dir) / PENDING_FILE).unlink()


# A pack is compacted when the renderings no entry refers to any more (replaced by edits) take
# more room than the live ones, and at least this much.
PACK_MIN_WASTE = 4 << 20


def compact_pack(
    cdir: Path, name: str, entries: dict[str, SourceEntry], also_live: int = 0
) -> tuple[str, list[str]] | None:
    """Copy the live renderings of pack `name` into a new pack and point `entries` at it, when
    edits have left more dead bytes in it than live ones (every edit appends; nothing is
    rewritten in place). Returns (new pack name, warnings) or None (nothing done; `entries`
    untouched). The old pack stays until the index that names the new one is saved
    (remove_old_packs), so a build killed meanwhile leaves the previous cache whole. A damaged
    entry is dropped: its page's Markdown is rendered again."""
    import time

    path = cdir / name
    try:
        size = path.stat().st_size
    except OSError:
        return None
    refs: dict[str, tuple[MdFacts, tuple[int, int, int]]] = {
        rel: (e.md, e.md.html_ref)
        for rel, e in entries.items()
        if e.md is not None and e.md.html_ref is not None
    }
    # (`also_live`: the renderings' facts stored beside them, Cache.mdrefs, which the build
    # then writes into the new pack again.)
    live = sum(ref[1] for _, ref in refs.values()) + also_live
    if size - live <= max(live, PACK_MIN_WASTE):
        return None
    new_name = f"{PACK_PREFIX}{os.getpid()}-{time.time_ns()}.pack"
    updates: dict[str, SourceEntry] = {}
    warnings: list[str] = []
    old = new = None
    try:
        old = ContentPack(path, fresh=False)
        new = ContentPack(cdir / new_name, fresh=True)
        for rel in sorted(refs):
            md, ref = refs[rel]
            try:
                data = old.read_raw(ref)
            except CacheDamaged as exc:
                warnings.append(f"{path}: {exc}; {rel} rendered again")
                updates[rel] = entries[rel]._replace(md=None)
                continue
            updates[rel] = entries[rel]._replace(md=md._replace(html_ref=new.append_raw(data)))
    except OSError:
        if new is not None:
            new.close()
        with contextlib.suppress(OSError):
            (cdir / new_name).unlink()
        return None
    finally:
        if old is not None:
            old.close()
        if new is not None:
            new.close()
    entries.update(updates)
    return new_name, warnings


def xref_answers(index: Any, md: MdFacts) -> list[tuple[str, str, str]]:
    """What `index` answers for each cross-reference path of a rendering (the ones it finds)."""
    out = []
    for path in sorted({x[0].split("#", 1)[0] for x in md.xrefs} - {""}):
        hit = index.lookup(path)
        if hit is not None:
            out.append((path, str(hit[0]), str(hit[1])))
    return out


def md_refs(
    entries: dict[str, SourceEntry], pack: ContentPack, previous: Cache | None, index: Any
) -> dict[str, tuple[int, int, int]]:
    """Cache.mdrefs for `entries`: each rendering's facts, with what the cross-reference index
    answers for its paths, marshalled into the pack. One kept from the last build (the very
    object loaded, in the same pack) keeps its place -- the Markdown stage keeps a rendering
    only while its lookups digest is the same under the new index, so its answers are too;
    any other is appended."""
    import marshal

    same = previous is not None and previous.pack == pack.path.name
    old_refs = previous.mdrefs if previous is not None and same else {}
    old_entries = previous.sources if previous is not None else {}
    refs: dict[str, tuple[int, int, int]] = {}
    fresh: list[tuple[str, bytes]] = []
    dumps = marshal.dumps
    for rel, entry in entries.items():
        md = entry.md
        if md is None:
            continue
        was = old_entries.get(rel)
        ref = old_refs.get(rel)
        if ref is not None and was is not None and was.md is md:
            refs[rel] = ref
        else:
            fresh.append((rel, dumps((tuple(md), xref_answers(index, md) if md.xrefs else []))))
    if fresh:
        off = pack.end
        pack.append_raw(b"".join(b for _, b in fresh))
        for rel, b in fresh:
            refs[rel] = (off, len(b), zlib.crc32(b))
            off += len(b)
    return refs


def load_md(
    pack: ContentPack, ref: tuple[int, int, int]
) -> tuple[MdFacts, list[tuple[str, str, str]]]:
    """(facts, cross-reference answers) stored by md_refs() (marshal: plain tuples, lists,
    strings and numbers; several times faster than pickle both ways)."""
    import marshal

    try:
        fields, answers = marshal.loads(pack.read_raw(ref))
        return MdFacts(*fields), answers
    except (ValueError, TypeError, EOFError) as exc:
        raise CacheDamaged(f"not a rendering's facts ({exc})") from None


def dump_md(md: MdFacts, answers: list[tuple[str, str, str]]) -> bytes:
    import marshal

    return marshal.dumps((tuple(md), answers))


def remove_old_packs(state_dir: Path, keep: str) -> None:
    for p in cache_dir(state_dir).glob(PACK_PREFIX + "*.pack"):
        if p.name != keep:
            with contextlib.suppress(OSError):
                p.unlink()


# ---- keys and fingerprints ------------------------------------------------------------------

BODY_ATTRS = frozenset(
    {"content", "toc", "show_toc", "word_count", "reading_time", "anchors", "images", "body"}
)
# A page's place among others: changes when a neighbour or a listed page is added or removed.
NAV_ATTRS = frozenset({"prev", "next", "list_pages", "ancestors"})
# A section's members (the rest of a section -- title, url, parent, cascade -- is "meta").
SECTION_LIST_ATTRS = frozenset({"pages", "subsections", "walk_pages"})
# A term's members; its name and URL (what every tagged page shows) are "meta".
TERM_LIST_ATTRS = frozenset({"pages", "count"})
PAGE_GROUPS = ("|meta", "|nav", "|body", "|summary")


def page_key(p: Page) -> str:
    return "p:" + p.source if p.source else "p:@" + p.output_path


def obj_key(obj: Any) -> str | None:
    cls = type(obj)
    if cls is Page:
        return page_key(obj)
    if cls is Section:
        return "s:" + str(obj.path)
    if cls is Term:
        return f"t:{obj.taxonomy}/{obj.slug}"
    return None


SITE_GROUPS = {
    "pages": "pages",
    "regular_pages": "regular_pages",
    "sections": "sections",
    "home": "sections",
    "taxonomies": "taxonomies",
    "menus": "menus",
    "data": "data",
    "page_by_path": "page_by_path",
    "get_page": "page_by_path",
    "page_by_output": "page_by_output",
    "build_date": "build_date",
}


def dep_of(obj: Any, attr: str) -> str | None:
    """The "key|group" a template reading `obj.attr` depends on (None: not a model object)."""
    cls = type(obj)
    if cls is Page:
        if attr in BODY_ATTRS:
            group = "body"
        elif attr in NAV_ATTRS:
            group = "nav"
        else:
            group = "summary" if attr == "summary" else "meta"
        return page_key(obj) + "|" + group
    if cls is Section:
        return "s:" + str(obj.path) + ("|list" if attr in SECTION_LIST_ATTRS else "|meta")
    if cls is Term:
        return f"t:{obj.taxonomy}/{obj.slug}" + ("|list" if attr in TERM_LIST_ATTRS else "|meta")
    if cls is Site:
        return "site|" + SITE_GROUPS.get(attr, "config")
    if cls is MenuItem:
        return "site|menus"
    return None


def _k(obj: Any) -> Any:
    """A value with model objects replaced by their keys, for a stable repr."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    key = obj_key(obj)
    if key is not None:
        return key
    if isinstance(obj, (list, tuple)):
        return [_k(x) for x in obj]
    if isinstance(obj, dict):
        return [(str(k), _k(v)) for k, v in obj.items()]
    if isinstance(obj, MenuItem):
        return (obj.name, obj.url, obj.weight, obj.identifier, obj.parent, _k(obj.children),
                _k(obj.page))  # fmt: skip
    return repr(obj)


def _fp(value: Any) -> bytes:
    return hashlib.blake2b(repr(value).encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _fpb(data: str) -> bytes:
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def edited_body(data: bytes, rel: str, entry: SourceEntry) -> str | None:
    """The new Markdown body of content file `rel`, when the edit that gave it the bytes `data`
    changed nothing but the body: the same front matter text and body line, and the same first
    heading when the title comes from it. None for any other change, or for a file that no
    longer decodes or splits (the ordinary build says what is wrong). Used by the fast paths
    for body edits (the dev server's WarmBuilder and bengal.express)."""
    from bengal.assemble import first_heading
    from bengal.errors import ContentError
    from bengal.frontmatter import split_raw

    try:
        text = data.decode("utf-8")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        parser, raw_fm, body, body_line = split_raw(text, rel)
    except (UnicodeDecodeError, ContentError):
        return None
    fm_digest = hashlib.blake2b(
        f"{parser}\0{raw_fm}".encode("utf-8", "surrogatepass"), digest_size=16
    ).digest()
    if fm_digest != entry.fm_digest or body_line != entry.parsed[2]:
        return None
    if entry.heading is not None and (first_heading(body) or "") != entry.heading:
        return None  # the title comes from the first heading, and that changed
    return body


def body_hash(entry: SourceEntry) -> bytes:
    """What a page's "body" group is fingerprinted from: its rendering's HTML and the file's own
    bytes (templates can show the Markdown itself, page.body, which an edit can change without
    changing the HTML: `*x*` -> `_x_`)."""
    return (entry.md.html_hash if entry.md is not None else b"") + entry.digest


def page_facts(
    p: Page,
    key: str,
    md_hash: bytes,
    fm_digest: bytes,
    cascade: Callable[[Section], str] | None = None,
    pk: Callable[[Page | None], str] | None = None,
    into: dict[str, bytes] | None = None,
    plist: Callable[[list[Page]], str] | None = None,
) -> dict[str, bytes]:
    """The fingerprints of one page's groups (see site_facts), added to `into` if given."""
    if cascade is None:
        cascade = _cascade_repr
    if pk is None:
        pk = _key_or_none
    sec = p.section
    terms = p.terms
    term = p.term
    if p.source:
        # An _index.md inherits its parent section's cascade; other pages their section's.
        owner = sec.parent if p.kind in ("home", "section") and sec is not None else sec
        fm = fm_digest.hex() + (cascade(owner) if owner else "")
    else:
        fm = repr(vars(p.fm))  # generated pages: a default FrontMatter
    meta = "\0".join(
        (
            p.source,
            p.kind,
            p.title,
            p.url,
            p.permalink,
            p.output_path,
            "\x01" if sec is None else sec.path,
            "\x01" if p.bundle_dir is None else p.bundle_dir,
            ";".join(t + ":" + ",".join([x.slug for x in v]) for t, v in terms.items())
            if terms
            else "",
            "\x01" if term is None else term.taxonomy + "/" + term.slug,
            p.taxonomy,
            fm,
        )  # fmt: skip
    )
    nav = "\0".join(
        (
            pk(p.prev),
            pk(p.next),
            plist(p.list_pages) if plist is not None else "\0".join([pk(x) for x in p.list_pages]),
            "/".join([a.path for a in p.ancestors]),
        )
    )
    # toc, anchors, words and images come from the same rendering as the HTML; the title
    # decides whether an opening "# title" is dropped.
    out = {} if into is None else into
    out[key + "|meta"] = _fpb(meta)
    out[key + "|nav"] = _fpb(nav)
    out[key + "|body"] = _fpb(md_hash.hex() + "\0" + p.title + ("\0t" if p.fm.toc else "\0"))
    out[key + "|summary"] = _fpb(str(p.summary))
    return out


def _cascade_repr(sec: Section) -> str:
    return repr(sec.cascade)


def _key_or_none(p: Page | None) -> str:
    return "\x01" if p is None else page_key(p)


def site_facts(
    site: Site,
    md_hashes: dict[str, bytes],
    digests: dict[str, bytes],
    only: set[str] | None = None,
) -> dict[str, bytes]:
    """Fingerprint of every group of every object templates can read. Runs over the whole site
    on every incremental build, so pages are fingerprinted from strings joined in C rather than
    from reprs: a page's front matter as (its text's digest, the cascade it inherits) -- the
    inputs `normalise` makes it from (the configuration is part of the cache key) -- and its
    Markdown as the digest of its HTML.

    `only` (content paths): just those pages' groups and the site's data -- for a build whose
    content changes are all body-only, where nothing else can differ (see build.py)."""
    facts: dict[str, bytes] = {}
    # Keys and cascades are made once for the whole site -- or, for `only`, on demand (the dev
    # server fingerprints one page per save: no O(site) work).
    keys: dict[int, str] = {} if only is not None else {id(p): page_key(p) for p in site.pages}
    cascades: dict[str, str] = {}

    def cascade(sec: Section) -> str:
        c = cascades.get(sec.path)
        if c is None:
            c = cascades[sec.path] = repr(sec.cascade)
        return c

    def pk(p: Page | None) -> str:
        return "\x01" if p is None else keys.get(id(p)) or page_key(p)

    def plist(pages: list[Page]) -> str:
        return "\0".join([keys.get(id(x)) or page_key(x) for x in pages])

    for p in site.pages:
        if only is not None and p.source not in only:
            continue
        key = keys.get(id(p)) or page_key(p)
        page_facts(
            p, key, md_hashes.get(key, b""), digests.get(p.source, b""), cascade, pk, facts, plist
        )
    if only is not None:
        facts["site|data"] = _fp(_k(site.data))
        return facts
    # Sections, deepest first: the fingerprint of a section's members includes its subsections'
    # (a Merkle tree), so it changes whenever membership anywhere below changes -- which is
    # what walk_pages() shows. Title, URL and cascade are separate ("meta": breadcrumbs).
    list_fp: dict[str, bytes] = {}
    for path, sec in sorted(site.sections.items(), key=lambda kv: -kv[1].depth):
        parent = None if sec.parent is None else sec.parent.path
        sec_meta = (sec.title, sec.url, parent, pk(sec.index), repr(sec.cascade))
        facts["s:" + path + "|meta"] = _fp(sec_meta)
        members = (plist(sec.pages), [(x.path, list_fp.get(x.path)) for x in sec.subsections])
        list_fp[path] = f = _fp(members)
        facts["s:" + path + "|list"] = f
    for tax, by_slug in site.taxonomies.items():
        for slug, t in by_slug.items():
            facts[f"t:{tax}/{slug}|meta"] = _fp((t.name, t.url))
            facts[f"t:{tax}/{slug}|list"] = _fp(plist(t.pages))
    facts["site|pages"] = _fp(plist(site.pages))
    facts["site|regular_pages"] = _fp(plist(site.regular_pages))
    facts["site|sections"] = _fp((sorted(site.sections), _k(site.home)))
    facts["site|taxonomies"] = _fp([(t, sorted(v)) for t, v in site.taxonomies.items()])
    facts["site|menus"] = _fp(_k(site.menus))
    facts["site|data"] = _fp(_k(site.data))
    facts["site|page_by_path"] = _fp(sorted((k, page_key(v)) for k, v in site.page_by_path.items()))
    facts["site|page_by_output"] = _fp(sorted(site.page_by_output))
    facts["site|build_date"] = _fp(site.build_date)
    facts["site|config"] = b""  # configuration is part of the cache key
    return facts


def template_digest(name: str, search: list[Path]) -> bytes | None:
    """Digest of the file a template name resolves to (first search directory wins)."""
    for d in search:
        try:
            data = (d / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        return hashlib.blake2b(str(d).encode() + b"\0" + data, digest_size=16).digest()
    return None


# ---- the decision ---------------------------------------------------------------------------


@dataclass
class Plan:
    """Which HTML outputs to render, and why (for --explain)."""

    render: dict[str, str] = field(default_factory=dict)  # output path -> reason
    changed_deps: set[str] = field(default_factory=set)
    changed_templates: set[str] = field(default_factory=set)
    sources: dict[str, str] = field(default_factory=dict)  # content path -> change class


def plan_outputs(
    cache: Cache,
    jobs: list[tuple[str, str]],  # (output path, page key)
    facts: dict[str, bytes],
    template_now: dict[str, bytes | None],
    call_now: dict[tuple[str, str], str],
    out_stats: dict[str, list[int]],
) -> Plan:
    plan = Plan()
    old = cache.facts
    changed = {k for k, v in facts.items() if old.get(k) != v}
    changed.update(k for k in old if k not in facts)
    plan.changed_deps = changed
    plan.changed_templates = {
        n for n, d in template_now.items() if cache.templates.get(n, b"?") != d
    }
    own_groups = PAGE_GROUPS
    for path, pkey in jobs:
        rec = cache.outputs.get(path)
        if rec is None:
            plan.render[path] = "new output"
            continue
        recorded = cache.out_stats.get(path)
        now = out_stats.get(path)
        if now is None:
            plan.render[path] = "output file missing"
            continue
        if recorded is None or tuple(now) != tuple(recorded):
            plan.render[path] = "output file modified"
            continue
        why = next((g[1:] for g in own_groups if pkey + g in changed), None)
        if why is not None:
            plan.render[path] = f"page {why} changed"
            continue
        hit = next((t for t in rec.templates if t in plan.changed_templates), None)
        if hit is not None:
            plan.render[path] = f"template {hit} changed"
            continue
        if not changed.isdisjoint(rec.deps):
            dep = min(changed.intersection(rec.deps))
            plan.render[path] = f"reads {dep.replace('|', ' ')}, which changed"
            continue
        for name, arg, result in rec.calls:
            if call_now.get((name, arg)) != result:
                plan.render[path] = f"{name}({arg!r}) changed"
                break
    return plan


def lookups_digest(index: Any, xrefs: list[tuple[str, bool, str, int]]) -> bytes | None:
    """What every [[target]] of a page resolves to in `index`, as one digest."""
    hits = []
    for target, _resolved, _url, _line in xrefs:
        path = target.split("#", 1)[0]
        if path:
            hits.append((path, index.lookup(path)))
    return _fp(hits) if hits else None


def html_digest(html: str) -> bytes:
    return hashlib.blake2b(html.encode("utf-8", "surrogatepass"), digest_size=16).digest()


DAMAGE_WARNINGS: list[str] = []  # collected by the build from every process


def markup_loader(
    pack: ContentPack, ref: tuple[int, int, int], cut: int, fallback: Any, source: str
) -> Any:
    """Load a page's HTML from the pack; a damaged entry is rendered again (`fallback`)."""

    def load() -> Markup:
        try:
            html = pack.read(ref)
        except (CacheDamaged, OSError, UnicodeDecodeError) as exc:
            DAMAGE_WARNINGS.append(f"{pack.path}: {exc}; {source} rendered again")
            html = fallback()
        return Markup(html[cut:] if cut > 0 else html)

    return load
