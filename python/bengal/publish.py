"""Stage "publish": the Publisher, the one owner of the output directory. Everything a build
writes there goes through it -- rendered pages (each render worker's native OutputWriter is
the publisher's page_writer()), static, asset and bundle copies, site-wide files (sitemap,
feeds, search index, alias redirects, robots.txt), the removal of stale outputs, emptying it
for --clean -- and so does the "writing" mark in the store that brackets those writes and lets
the next build sweep a killed build's temp files.

    rendered pages + site model -> files in the output directory
"""

from __future__ import annotations

import contextlib
import itertools
import os
import posixpath
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bengal_native
from bengal.context import BuildResult
from bengal.discover import INPUT_DIRS, SourceTree
from bengal.errors import BuildError, ConfigError
from bengal.helpers import AssetPlan
from bengal.model import Page, Site
from bengal.store import Store, StoreDamaged

if TYPE_CHECKING:
    from bengal.outputs import Entry


_COPY_COUNTER = itertools.count()


def _same_bytes(a: Path, b: Path) -> bool:
    """Byte for byte (not filecmp.cmp, whose cache answers by size and mtime -- the very stamps
    that --verify does not trust)."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            ca, cb = fa.read(1 << 20), fb.read(1 << 20)
            if ca != cb:
                return False
            if not ca:
                return True


def copy_file(src: Path, dst: Path, racy_ns: int, verify: bool = False) -> bool:
    """Copy unless dst already has src's size and mtime (and, with `verify`, its bytes); atomic
    (temp + rename). True if copied. A source modified at or after `racy_ns` (a clock tick
    before the build's scan, as incremental.RACY_NS for sources) is "racy": see below."""
    try:
        s = src.stat()
        d = dst.stat()
        same_stamps = s.st_size == d.st_size and s.st_mtime_ns == d.st_mtime_ns
        if same_stamps and (not verify or _same_bytes(src, dst)):
            return False
    except FileNotFoundError:
        pass
    dst.parent.mkdir(parents=True, exist_ok=True)
    # Short and unique (not the file's own name: a 250-byte name plus a prefix is too long).
    tmp = dst.with_name(f"{TEMP_PREFIX}{os.getpid()}.c{next(_COPY_COUNTER)}.tmp")
    try:
        shutil.copyfile(src, tmp)
        shutil.copystat(src, tmp)
        st = os.stat(src)
        if st.st_mtime_ns >= racy_ns:
            # Modified within a clock tick of the scan (or since): a same-size rewrite could keep
            # this mtime. The copy gets a different one, so that the next build compares again.
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns - 1))
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
    return True


def copy_jobs(root: Path, tree: SourceTree, site: Site, plan: AssetPlan) -> list[tuple[Path, str]]:
    """(source file, output path) of every file copied as it is."""
    jobs: list[tuple[Path, str]] = []
    for rel in tree.static:
        jobs.append((root / "static" / rel, rel))
    for rel, src in sorted(plan.sources.items()):
        jobs.append((src, plan.outputs[rel]))
    # Files beside Markdown under content/: a leaf bundle's resources go next to its page,
    # others keep their path below the section's URL.
    bundles = {p.bundle_dir: p for p in site.pages if p.bundle_dir}
    for rel in tree.content_files:
        d = rel.rpartition("/")[0]
        owner = None
        probe = d
        while probe:
            if probe in bundles:
                owner = bundles[probe]
                break
            probe = probe.rpartition("/")[0]
        if owner is not None:
            base = owner.output_path.rpartition("/")[0]
            assert owner.bundle_dir is not None
            sub = rel[len(owner.bundle_dir) + 1 :]
            jobs.append((root / "content" / rel, f"{base}/{sub}" if base else sub))
        else:
            sec = site.sections.get(d)
            if sec is not None and sec.index is not None:
                base = sec.index.output_path.rpartition("/")[0]
                name = rel.rpartition("/")[2]
                jobs.append((root / "content" / rel, f"{base}/{name}" if base else name))
            else:
                jobs.append((root / "content" / rel, rel))
    return jobs


def conflicting_stale(stale: set[str], new: set[str]) -> set[str]:
    """The stale outputs in the way of new ones: a stale file where a new output needs a
    folder (static/x.txt became static/x.txt/y.txt), or stale files inside a folder where a
    new output needs a file. They are removed before anything is written."""
    if not stale:
        return set()
    new_dirs: set[str] = set()
    for p in new:
        d = p.rpartition("/")[0]
        while d and d not in new_dirs:
            new_dirs.add(d)
            d = d.rpartition("/")[0]
    in_the_way = {p for p in stale if p in new_dirs}
    for p in stale:
        d = p.rpartition("/")[0]
        while d:
            if d in new:
                in_the_way.add(p)
                break
            d = d.rpartition("/")[0]
    return in_the_way


def make_dir(path: Path, advice: str) -> None:
    """mkdir -p, or a BuildError naming the folder, the reason and what to do."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create {path}: {exc.strerror}; {advice}") from None


def check_output_dir(root: Path, out_dir: Path) -> None:
    """Refuse an output directory whose files would be sources (or whose removal -- --clean,
    `bengal clean` -- would delete sources): the site itself, a folder above it, or one inside
    an input folder. Raises ConfigError (the configuration or -o names it)."""
    if out_dir == root or out_dir in root.parents:
        raise ConfigError(f"output directory {out_dir} contains the site; choose another")
    for name in INPUT_DIRS:
        inputs = root / name
        if out_dir == inputs or inputs in out_dir.parents:
            raise ConfigError(
                f"output directory {out_dir} is inside the site's {name}/ folder; choose one "
                "outside content/, templates/, static/, assets/ and data/ (the default is "
                "public/)"
            )


def store_write(fn: Callable[..., None], store: Store, *args: Any) -> None:
    """One of the small writes a build commits before it writes outputs; a store that cannot be
    written stops the build (nothing has been written yet)."""
    try:
        fn(store, *args)
    except OSError as exc:
        raise BuildError(f"cannot write the build cache: {exc}") from None


def check_local_assets(
    refs: list[tuple[str, list[tuple[str, bool]]]], out_dir: Path, site: Site
) -> dict[str, list[str]]:
    """Warn about local references (images, scripts, styles) that name no output file:
    {output path: warnings}, every output of `refs` present."""
    from urllib.parse import unquote, urlparse

    base_path = urlparse(site.baseurl).path or "/"
    warnings: dict[str, list[str]] = {}
    exists_cache: dict[str, bool] = {}
    for page_path, items in sorted(refs):
        mine = warnings.setdefault(page_path, [])
        for url, external in items:
            if external:
                continue
            path = unquote(url.split("#", 1)[0].split("?", 1)[0])
            if not path:
                continue
            if path.startswith("/"):
                if not path.startswith(base_path):
                    continue
                target = path[len(base_path) :]
            else:
                target = posixpath.normpath(posixpath.join(page_path.rpartition("/")[0], path))
            if target.endswith("/") or target == "":
                target += "index.html"
            ok = exists_cache.get(target)
            if ok is None:
                ok = exists_cache[target] = (out_dir / target).is_file()
            if not ok:
                page = site.page_by_output.get(page_path)
                who = page.source if page is not None and page.source else page_path
                mine.append(f"{who}: references {url}, which is not in the output")
    return warnings


def write_error(exc: OSError) -> str:
    where = exc.filename or "output"
    return (
        f"{where}: cannot write ({exc.strerror or exc}); pages not written are rendered again "
        "by the next build"
    )


UNFINISHED_MARKER = "writing"  # in the store's meta table while a build writes outputs


TEMP_PREFIX = ".~bengal."  # the writer's and copy_file's temp files: .~bengal.PID.*.tmp


class Publisher:
    """The output directory of one build (command line, fast path, dev server): every write
    and removal there, counted in the build's `result` (files written, left alone because
    their bytes were the same, removed). Render workers -- forked processes that inherit it --
    write pages through page_writer() and count their own writes (bengal.workers)."""

    def __init__(self, out_dir: Path, store: Store, state_dir: Path, result: BuildResult):
        self.out_dir = out_dir
        self.store = store
        self.state_dir = state_dir
        self.result = result

    def begin(self, create: bool = False) -> None:
        """Before the first write: the folder made (`create`), and the store marked "writing"
        until end() (in the transaction that saves the build). A build killed meanwhile leaves
        temp files -- .~bengal.PID.N.tmp beside the outputs being replaced, the store's own
        beside it -- and the mark: the next build sweeps them first (so does a build whose
        store was lost). Only one build runs per site (the site lock), so none of them is
        being written."""
        out_dir, store = self.out_dir, self.store
        if create:
            make_dir(out_dir, "remove what is there or choose another with -o / [build] output_dir")
        try:
            marked = store.get("meta", UNFINISHED_MARKER) is not None
        except StoreDamaged:
            marked = True
        if marked or not store.keys("meta"):
            found: dict[str, list[int]] = {}
            bengal_native.scan_tree(str(out_dir), "", found, False)
            leftovers = [
                out_dir / rel
                for rel in found
                if rel.rpartition("/")[2].startswith(TEMP_PREFIX) and rel.endswith(".tmp")
            ]
            for pattern in (".*.tmp", ".*.tmp.*"):
                leftovers.extend(self.state_dir.glob(pattern))
            for f in leftovers:
                with contextlib.suppress(OSError):
                    f.unlink()
        if not marked:
            store_write(_mark_writing, store)

    def end(self) -> None:
        """Every temp file the build made was renamed into place or removed: the mark dropped
        (inside the transaction that saves the build)."""
        self.store.delete_many("meta", [UNFINISHED_MARKER])

    def page_writer(self) -> Any:
        """A native writer for rendered pages (one per render worker): atomic temp + rename,
        unchanged bytes left alone, written behind the renders by its own thread."""
        return bengal_native.OutputWriter(str(self.out_dir), max_buffer_mb=64, threads=1)

    def clean(self) -> None:
        """--clean: the folder emptied (kept itself: a server may watch it)."""
        for entry in self.out_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def copy(
        self, root: Path, tree: SourceTree, site: Site, plan: AssetPlan, racy_ns: int,
        verify: bool = False,
    ) -> tuple[list[str], list[str], int]:  # fmt: skip
        """static/, assets/ and content resources -> output (copy_jobs). Returns (output paths,
        errors, how many were copied). `verify`: a file with the stamps of its source is
        compared byte for byte too (`bengal build --verify`)."""
        errors: list[str] = []
        done: list[str] = []
        copies = 0
        for src, dst in copy_jobs(root, tree, site, plan):
            try:
                copies += copy_file(src, self.out_dir / dst, racy_ns, verify)
                done.append(dst)
            except OSError as exc:
                errors.append(f"{src}: cannot copy to {dst}: {exc.strerror or exc}")
        return done, errors, copies

    def write(self, files: dict[str, bytes]) -> list[str]:
        """Files made whole in memory (site-wide files, redirects) written, in path order;
        unchanged bytes are left alone. Their paths."""
        writer = self.page_writer()
        result = self.result
        try:
            with writer:
                for path, blob in sorted(files.items()):
                    writer.write(path, blob)
        except OSError as exc:
            result.errors.append(write_error(exc))
        st = writer.stats()
        result.written += int(st["files_written"])
        result.skipped_identical += int(st["skipped_identical"])
        return sorted(files)

    def write_sitewide(
        self,
        site: Site,
        tree: SourceTree,
        alias_files: dict[str, bytes],
        before: dict[str, Entry] | None = None,
        changed: Callable[[Page], bool] | None = None,
    ) -> tuple[list[str], dict[str, Entry], dict[str, Entry | None]]:
        """Sitemap, search index, feeds, redirects and robots.txt, made from the pages' entries
        (bengal.outputs). With `before` (every page's entry as the last build made them) only
        the entries of the pages `changed` says may differ are made again, and only the files
        they show differently are joined again; redirects and robots.txt are written as always
        (the writer leaves unchanged bytes alone). Returns the paths of every site-wide file,
        the entries and what changed in them since `before` (None: removed)."""
        from bengal import outputs
        from bengal.incremental import page_key

        before = before or {}
        entries: dict[str, Entry] = {}
        delta: dict[str, Entry | None] = {}
        for p in site.pages:
            k = page_key(p)
            old = before.get(k)
            e = old if old is not None and changed is not None and not changed(p) else None
            entries[k] = e = e or outputs.entry_of(p)
            if e != old:
                delta[k] = e
        delta.update(dict.fromkeys(before.keys() - entries.keys()))
        files = outputs.changed_files(site, entries, before)
        files.update(alias_files)
        if "robots.txt" not in tree.static:
            files["robots.txt"] = outputs.robots(site)
        self.write(files)
        paths = {"sitemap.xml", "search.json", *outputs.feed_paths(entries), *files}
        return sorted(paths), entries, delta

    def remove(self, paths: set[str]) -> int:
        """Outputs an earlier build wrote that this one does not, deleted, and the folders left
        empty. How many were (also added to the result's count)."""
        out_dir = self.out_dir
        removed = 0
        dirs: set[Path] = set()
        for rel in sorted(paths):
            p = out_dir / rel
            try:
                p.unlink()
                removed += 1
            except FileNotFoundError:
                pass
            except OSError:
                continue
            d = p.parent
            while d != out_dir and out_dir in d.parents:
                dirs.add(d)
                d = d.parent
        for d in sorted(dirs, key=lambda x: len(x.parts), reverse=True):
            with contextlib.suppress(OSError):
                d.rmdir()  # only succeeds when empty
        self.result.removed += removed
        return removed


def _mark_writing(store: Store) -> None:
    with store.transaction():
        store.put("meta", UNFINISHED_MARKER, 1)
