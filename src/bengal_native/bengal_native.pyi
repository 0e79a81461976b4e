"""Typed surface of bengal's native core (hand-written; keep in step with bindings.cpp)."""

from collections.abc import Iterable, Iterator

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

class XrefIndex:
    """Cross-reference keys -> (url, title). Fill it, then render; do not mutate while rendering."""

    def __init__(self) -> None: ...
    def add(self, key: str, url: str, title: str) -> bool: ...
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
) -> list[RenderResult]: ...
def slugify(text: str) -> str: ...
def known_directives() -> list[str]: ...
