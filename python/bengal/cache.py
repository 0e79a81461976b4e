"""Build state, kept in the store (bengal.store): what the last successful build read and wrote,
so that a build with nothing to do can say so without doing the work. This module is the one
place that decides whether anything is dirty.

When every input file (content, templates, static, assets, data, bengal.toml, the theme) and
every output file the build wrote has the size and mtime recorded after the last successful
build, with the same bengal, code and build options, the build is a no-op; anything else means
a build, which bengal.incremental makes do only what changed.

Directory mtimes are never used as a shortcut: editing a file in place does not change its
directory's mtime (shared/NOTES.md), so every file is stat()ed, and one walk per input directory
finds added and removed files.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bengal_native
from bengal import __version__
from bengal.discover import scan_inputs, scan_tree
from bengal.store import Store, StoreDamaged

FORMAT = "bengal-build-state"
VERSION = 6  # 6: "racy" per file; 5: in the store; 4: outputs packed (pack_stamps)


@dataclass
class NoopCheck:
    clean: bool  # True: nothing changed, the build can stop here
    reason: str  # why a build is needed (for --explain-style output and tests)
    inputs: dict[str, list[int]]  # the input scan, reused by the build that follows
    # The recorded state (also when the build is needed: the fast path for body edits,
    # bengal.express, compares the scan with it).
    state: dict[str, Any] | None = None
    # Files and folders the scan skipped because their names are not UTF-8 (U+FFFD shown).
    bad_names: list[str] = field(default_factory=list)
    # The outputs the last successful build recorded, as this check found them: (paths,
    # packed stamps; see unpack_stamps). The build that follows reuses them instead of
    # stat()ing the same files again.
    outputs_seen: tuple[str, bytes] | None = None
    # Set by the fast path for body edits when it met damage only it reads (the recorded model,
    # stored answers): the build that follows writes the store's tables anew.
    repair: bool = False
    # Inputs the last build found modified within a clock tick of its scan ("racy"; see
    # racy_changes): those whose contents differ now although their stamps do not, and
    # whether any could not be checked (no digest recorded: only a full comparison can tell).
    racy_changed: list[str] = field(default_factory=list)
    racy_unknown: bool = False

    def seen_outputs(self) -> tuple[set[str], dict[str, list[int]]]:
        """(paths checked, {path: [mtime_ns, size]} of those that exist)."""
        if self.outputs_seen is None:
            return set(), {}
        joined, packed = self.outputs_seen
        found = unpack_stamps(joined, packed)
        return set(joined.split("\0")) if joined else set(), found


def _stat_map(paths: list[Path], base: Path) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        out[p.relative_to(base).as_posix()] = [st.st_mtime_ns, st.st_size]
    return out


def input_files(
    root: Path, theme_dir: Path, bad_names: list[str] | None = None
) -> dict[str, list[int]]:
    """(mtime_ns, size) of every file a build reads, keyed by a path relative to the site (the
    theme's files under "theme:"). Files the build ignores (hidden, editor leftovers) are
    ignored here too; so are names that are not UTF-8, which are added to `bad_names`."""
    state = scan_inputs(root, bad_names)
    state.update(_stat_map([root / "bengal.toml"], root))
    scan_tree(theme_dir, "theme:", state, bad=bad_names)
    return state


def stat_outputs(out_dir: Path, paths: list[str]) -> dict[str, list[int]]:
    """[mtime_ns, size] of each of `paths` (output-relative) that exists: one stat per file the
    build wrote, natively -- not a walk of the output directory, whose one-directory-per-page
    layout makes a walk cost a directory read per page."""
    return bengal_native.stat_files(str(out_dir), paths)


def pack_stamps(stamps: dict[str, list[int]]) -> tuple[str, bytes]:
    """{path: [mtime_ns, size]} as (NUL-joined sorted paths, 16 little-endian bytes per path):
    the form bengal_native.stat_packed() produces, compared without an object per file."""
    paths = sorted(stamps)
    values = array("q", [v for p in paths for v in (stamps[p][0], stamps[p][1])])
    if sys.byteorder != "little":
        values.byteswap()
    return "\0".join(paths), values.tobytes()


def patch_stamps(joined: str, packed: bytes, stamps: dict[str, list[int]]) -> bytes:
    """`packed` (pack_stamps' form for `joined`) with the stamps of some of its paths replaced;
    KeyError for a path it does not list."""
    import bisect
    import struct

    paths = joined.split("\0") if joined else []
    buf = bytearray(packed)
    for path, (mtime, size) in stamps.items():
        i = bisect.bisect_left(paths, path)
        if i == len(paths) or paths[i] != path:
            raise KeyError(path)
        struct.pack_into("<qq", buf, 16 * i, mtime, size)
    return bytes(buf)


def unpack_stamps(joined: str, packed: bytes) -> dict[str, list[int]]:
    """The inverse of pack_stamps(), leaving out paths whose size is -1 (missing)."""
    values = array("q")
    values.frombytes(packed)
    if sys.byteorder != "little":
        values.byteswap()
    paths = joined.split("\0") if joined else []
    return {
        p: [values[2 * i], values[2 * i + 1]] for i, p in enumerate(paths) if values[2 * i + 1] >= 0
    }


_CODE_KEY: str | None = None


def code_key() -> str:
    """Digest of bengal's own code (its Python modules and the native module): a cache written
    by any other build of bengal -- even one with the same version number -- is not trusted."""
    global _CODE_KEY
    if _CODE_KEY is None:
        h = hashlib.blake2b(digest_size=16)
        pkg = Path(__file__).resolve().parent
        for f in sorted(pkg.glob("*.py")):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
        native = Path(bengal_native.__file__ or "")
        with contextlib.suppress(OSError):
            st = native.stat()
            h.update(f"{native}:{st.st_size}:{st.st_mtime_ns}".encode())
        _CODE_KEY = h.hexdigest()
    return _CODE_KEY


def load_state(store: Store | None) -> dict[str, Any] | None:
    """The recorded state, or None when there is none or it cannot be trusted (any damage to it
    simply means a full build)."""
    if store is None:
        return None
    try:
        data = store.get("meta", "state")
    except StoreDamaged:
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        return None
    return data


def check_noop(
    root: Path, out_dir: Path, store: Store | None, theme_dir: Path, options: dict[str, Any]
) -> NoopCheck:
    bad: list[str] = []
    inputs = input_files(root, theme_dir, bad)
    state = load_state(store)
    if state is None:
        return NoopCheck(False, "no usable build state", inputs, bad_names=bad)
    if state.get("bengal") != __version__:
        reason = f"bengal version changed ({state.get('bengal')} -> {__version__})"
        return NoopCheck(False, reason, inputs, bad_names=bad)
    if state.get("options") != options:
        return NoopCheck(False, "build options changed", inputs, bad_names=bad)
    racy_changed, racy_unknown = racy_changes(root, state, inputs)
    recorded = state.get("outputs")
    if not (
        isinstance(recorded, tuple)
        and len(recorded) == 2
        and isinstance(recorded[0], str)
        and isinstance(recorded[1], bytes)
    ):
        return NoopCheck(False, "no usable build state", inputs, bad_names=bad)
    # Stat()ed even when an input changed: the build that follows reuses what is found.
    now = bengal_native.stat_packed(str(out_dir), recorded[0])
    seen = (recorded[0], now)

    def needed(reason: str) -> NoopCheck:
        return NoopCheck(
            False, reason, inputs, state, outputs_seen=seen, bad_names=bad,
            racy_changed=racy_changed, racy_unknown=racy_unknown,
        )  # fmt: skip

    if state.get("inputs") != inputs:
        return needed("input files changed")
    if state.get("bad_names") != sorted(bad):  # skipped files came or went
        return needed("files whose names are not UTF-8 changed")
    if racy_changed:
        return needed("input files changed (modified within a clock tick of the last build)")
    if racy_unknown:
        return needed("inputs modified within a clock tick of the last build")
    if now != recorded[1]:
        return needed("output files changed")
    return NoopCheck(True, "nothing changed", inputs, state, outputs_seen=seen)


def racy_changes(
    root: Path, state: dict[str, Any], inputs: dict[str, list[int]]
) -> tuple[list[str], bool]:
    """The racy rule, applied per file. A file modified within a clock tick of a build's scan
    could be modified again without its size or mtime changing (mtimes are coarse): the state
    lists such files with the digest of the contents the build used. Each whose stamps are
    unchanged now is read and hashed; those whose contents differ are returned (changed,
    though their stamps say not). The bool: some racy file has no digest recorded (not a
    content file), so only the ordinary build's own comparisons can tell."""
    racy = state.get("racy")
    if not isinstance(racy, dict):
        return [], True
    before = state.get("inputs", {})
    changed: list[str] = []
    unknown = False
    for key, digest in racy.items():
        if key not in inputs or before.get(key) != inputs[key]:
            continue  # its stamps changed (or it is gone): a change whatever its contents
        if not isinstance(digest, bytes):
            unknown = True
            continue
        try:
            data = (root / key).read_bytes()
        except OSError:
            changed.append(key)
            continue
        if hashlib.blake2b(data, digest_size=16).digest() != digest:
            changed.append(key)
    return changed, unknown


def save_state(
    store: Store,
    options: dict[str, Any],
    summary: dict[str, Any],
    inputs_before: dict[str, list[int]],
    outputs_now: dict[str, list[int]] | tuple[str, bytes],
    racy_ns: int | None = None,
    bad_names: list[str] | None = None,
    digest_of: Callable[[str], bytes | None] | None = None,
) -> None:
    """Record a successful build (inside the transaction that saves its cache). The inputs
    recorded are `inputs_before`, the scan taken when the build started: a file changed while
    the build ran -- read before or after its change -- has a newer stamp than the recorded
    one, so the next build looks at it again. No second walk of the site is needed."""
    now = inputs_before
    # An input modified within a clock tick of the build's scan could change again without
    # its size or mtime changing: each is listed with the digest of the contents this build
    # used (`digest_of`: content files), which the next build compares (racy_changes). A racy
    # file without one never lets the next build be a no-op.
    racy = {
        k: (digest_of(k) if digest_of is not None else None)
        for k, v in now.items()
        if racy_ns is not None and v[0] >= racy_ns
    }
    data = {
        "format": FORMAT,
        "version": VERSION,
        "bengal": __version__,
        "options": options,
        "racy": racy,
        "bad_names": sorted(bad_names or []),  # skipped by the scan, warned about
        "inputs": now,
        # stat_outputs() of every file the build wrote (or already packed)
        "outputs": outputs_now if isinstance(outputs_now, tuple) else pack_stamps(outputs_now),
        "summary": summary,
    }
    store.put("meta", "state", data)


def clear_state(store: Store) -> None:
    """From here on the recorded state no longer describes the output directory (committed at
    once: a build killed while writing must not leave a state that says "nothing to do")."""
    with store.transaction():
        store.delete_many("meta", ["state"])
