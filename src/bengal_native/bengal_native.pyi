"""Typed surface of bengal's native core (hand-written; keep in step with bindings.cpp)."""

import os
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Literal, TypedDict, final  # final: assets (issue 3)

__version__: str
MD4C_VERSION: str

class TocEntry:
    """One heading: unpacks as ``(level, id, text)``."""

    @property
    def level(self) -> int: ...
    @property
    def id(self) -> str: ...
    @property
    def text(self) -> str: ...
    def __iter__(self) -> Iterator[int | str]: ...

class XrefRef:
    """A ``[[...]]`` cross-reference found while rendering."""

    @property
    def target(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def resolved(self) -> bool: ...

class RenderWarning:
    @property
    def line(self) -> int: ...
    @property
    def message(self) -> str: ...

class RenderResult:
    @property
    def html(self) -> str: ...
    @property
    def toc(self) -> list[TocEntry]: ...
    @property
    def xrefs(self) -> list[XrefRef]: ...
    @property
    def broken_xrefs(self) -> list[XrefRef]: ...
    @property
    def images(self) -> list[str]: ...
    @property
    def warnings(self) -> list[RenderWarning]: ...
    @property
    def words(self) -> int:
        """Words of prose (code blocks excluded), for reading-time estimates."""
    @property
    def summary(self) -> str:
        """Plain text of the first top-level paragraph (at most about 4 KB)."""

class XrefIndex:
    """Cross-reference keys -> (url, title). Fill it, then render; do not mutate while rendering."""

    def __init__(self) -> None: ...
    def add(self, key: str, url: str, title: str) -> bool: ...
    def add_many(self, entries: list[tuple[str, str, str]]) -> int: ...
    def lookup(self, key: str) -> tuple[str, str] | None: ...
    def keys(self) -> list[str]: ...
    def __len__(self) -> int: ...
    def __contains__(self, key: str) -> bool: ...
    @staticmethod
    def normalize_path(key: str) -> str: ...

def render_markdown(
    source: str | bytes,
    *,
    xref_index: XrefIndex | None = None,
    spec_mode: bool = False,
    unsafe_html: bool = True,
    heading_ids: bool = True,
    tables: bool = True,
    strikethrough: bool = True,
    tasklists: bool = True,
    autolinks: bool = True,
    tagfilter: bool = False,
    xrefs: bool = True,
    directives: bool = True,
    url_prefix: str = "",
) -> RenderResult: ...
def render_markdown_batch(
    sources: Iterable[str | bytes],
    *,
    xref_index: XrefIndex | None = None,
    spec_mode: bool = False,
    unsafe_html: bool = True,
    heading_ids: bool = True,
    tables: bool = True,
    strikethrough: bool = True,
    tasklists: bool = True,
    autolinks: bool = True,
    tagfilter: bool = False,
    xrefs: bool = True,
    directives: bool = True,
    url_prefix: str = "",
) -> list[RenderResult]: ...
def slugify(text: str) -> str: ...
def known_directives() -> list[str]: ...
def release_worker_threads() -> bool: ...
def default_concurrency() -> int: ...

# ---- output writer (issue 3) ----

_StrPath = str | bytes | os.PathLike[str] | os.PathLike[bytes]

class OutputWriterStats(TypedDict):
    files_written: int
    skipped_identical: int
    bytes_written: int
    bytes_skipped: int
    files_failed: int
    files_discarded: int
    directories_created: int
    seconds_busy: float
    seconds_blocked: float
    queue_high_water_bytes: int
    max_buffer_bytes: int
    threads: int

class OutputWriter:
    """Write-behind output: atomic (temp + rename), identical files skipped, errors from close()."""

    def __init__(
        self,
        root: _StrPath,
        max_buffer_mb: float = 64.0,
        threads: int = 2,
        *,
        fsync: bool = False,
    ) -> None: ...
    def write(self, rel_path: _StrPath, data: str | bytes | bytearray | memoryview) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def root(self) -> str: ...
    def stats(self) -> OutputWriterStats: ...
    def __enter__(self) -> OutputWriter: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...

# ---- assets (issue 3) ----

@final
class AssetRef(tuple[str, str, str, bool]):
    """One asset reference of a page (docs/assets.md): a struct sequence, i.e. an immutable tuple
    (url, tag, attr, is_external) with named fields, equal to the plain tuple."""

    n_fields: int
    n_sequence_fields: int
    n_unnamed_fields: int
    __match_args__: tuple[str, str, str, str]

    @property
    def url(self) -> str:
        """Entity-decoded, trimmed, tabs/newlines removed; a srcset candidate or CSS url()."""
    @property
    def tag(self) -> str:
        """Lower-case element name: "img", "link", "style", ... (any element for style="...")."""
    @property
    def attr(self) -> str:
        """src, srcset, href, poster, data, imagesrcset or style; "" for <style> element text."""
    @property
    def is_external(self) -> bool:
        """http:, https:, other non-excluded schemes, or protocol-relative //host."""

def extract_assets(html: str | bytes) -> list[AssetRef]: ...
def extract_assets_batch(docs: Iterable[str | bytes]) -> list[list[AssetRef]]: ...

class AssetMapStatus:
    """Outcome of AssetDependencyMap.load; anything but OK comes with an empty map."""

    OK: AssetMapStatus
    MISSING: AssetMapStatus
    UNREADABLE: AssetMapStatus
    CORRUPT: AssetMapStatus
    VERSION_MISMATCH: AssetMapStatus
    __members__: dict[str, AssetMapStatus]
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...

class AssetDependencyMap:
    """page -> assets (first-seen order) and asset -> pages (sorted). Thread-safe."""

    def __init__(self) -> None: ...
    def track_page_assets(self, page: str, html: str | bytes) -> None: ...
    def track_assets(
        self, pages: Iterable[tuple[str, str | bytes]], *, parallel: bool | None = None
    ) -> None: ...
    def set_page_assets(self, page: str, assets: list[str]) -> None: ...
    def remove_page(self, page: str) -> bool: ...
    def clear(self) -> None: ...
    def assets_for(self, page: str) -> list[str]: ...
    def pages_for(self, asset: str) -> list[str]: ...
    def pages(self) -> list[str]: ...
    def assets(self) -> list[str]: ...
    def asset_count(self) -> int: ...
    def __len__(self) -> int: ...
    def __contains__(self, page: str) -> bool: ...
    def to_json(self) -> str: ...
    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomic write; raises OSError (with errno and path) when it cannot."""
    @staticmethod
    def load(
        path: str | os.PathLike[str],
    ) -> tuple[AssetDependencyMap, AssetMapStatus, str]:
        """(map, status, message); never raises for a missing or bad file."""

# ---- change detection (issue 5) ----

def scan_tree(
    base: str,
    prefix: str,
    out: dict[str, list[int]],
    skip_ignored: bool = True,
    bad: list[str] | None = None,
) -> None: ...
def stat_files(base: str, rels: list[str]) -> dict[str, list[int]]: ...
def stat_packed(base: str, joined: str) -> bytes: ...
