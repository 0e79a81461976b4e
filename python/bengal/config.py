"""bengal.toml -> Config: one typed schema, every error at once, unknown keys warned about.

The schema below is also the configuration reference (docs/content/configuration.md is written
from the same descriptions). Each option is a `Field` with its type, default and description.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bengal.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["CONFIG_FILE", "SCHEMA", "Config", "Field", "MenuEntry", "load_config", "tomllib"]

CONFIG_FILE = "bengal.toml"


@dataclass(frozen=True)
class Field:
    type: type | tuple[type, ...]
    default: Any
    doc: str


SCHEMA: dict[str, dict[str, Field]] = {
    "site": {
        "title": Field(str, "My Site", "Site title, shown in the header and feeds."),
        "baseurl": Field(
            str,
            "/",
            "Absolute URL of the site root (e.g. https://example.org/ or "
            "https://example.org/blog/). Environment variable BENGAL_BASEURL overrides it.",
        ),
        "language": Field(str, "en", "Language code for <html lang> and feeds."),
        "description": Field(str, "", "Site description for feeds and meta tags."),
        "author": Field(str, "", "Default author name."),
    },
    "build": {
        "output_dir": Field(str, "public", "Output directory, relative to the site."),
        "drafts": Field(bool, False, "Build pages marked draft: true."),
        "workers": Field(int, 0, "Template rendering processes; 0 means one per core."),
        "pretty_urls": Field(
            bool, True, "Write /section/page/index.html (true) or /section/page.html (false)."
        ),
        "fingerprint_assets": Field(
            bool, False, "Add a content hash to file names under assets/ (cache busting)."
        ),
    },
    "markdown": {
        "raw_html": Field(bool, True, "Pass raw HTML in Markdown through (false escapes it)."),
        "toc_depth": Field(int, 3, "Deepest heading level listed in the table of contents."),
        "toc_min": Field(int, 2, "Shallowest heading level listed in the table of contents."),
    },
    "pagination": {
        "per_page": Field(int, 10, "Pages per list page (sections, terms, home)."),
    },
}

DEFAULT_TAXONOMIES = {"tag": "tags", "category": "categories"}


@dataclass
class MenuEntry:
    name: str
    url: str
    weight: int = 0
    identifier: str = ""
    parent: str = ""
    page: str = ""  # content key of a page; url is filled from it during assembly


@dataclass
class Config:
    root: Path
    site: dict[str, Any]
    build: dict[str, Any]
    markdown: dict[str, Any]
    pagination: dict[str, Any]
    taxonomies: dict[str, str]  # singular -> plural (Hugo style)
    menus: dict[str, list[MenuEntry]]
    params: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    source: bytes = b""  # the bytes of bengal.toml this configuration was parsed from

    @property
    def title(self) -> str:
        return str(self.site["title"])

    @property
    def baseurl(self) -> str:
        return str(self.site["baseurl"])

    @property
    def output_dir(self) -> Path:
        return (self.root / str(self.build["output_dir"])).resolve()


def _type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return {str: "a string", bool: "true or false", int: "an integer"}.get(t, t.__name__)


def _check(value: Any, f: Field) -> bool:
    if f.type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, f.type)


def load_config(root: Path, *, overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Read ROOT/bengal.toml (optional) and validate it.

    Raises ConfigError listing every problem at once."""
    path = root / CONFIG_FILE
    raw: dict[str, Any] = {}
    source = b""
    if path.exists():
        try:
            source = path.read_bytes()
            raw = tomllib.loads(source.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not valid UTF-8 (byte {exc.start})", file=path) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot read ({exc.strerror or exc}); bengal.toml must be a readable file",
                file=path,
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid TOML: {exc}", file=path) from None

    errors: list[str] = []
    warnings: list[str] = []
    sections: dict[str, dict[str, Any]] = {}
    for name, fields in SCHEMA.items():
        given = raw.get(name, {})
        if not isinstance(given, dict):
            errors.append(f"[{name}] must be a table, got {type(given).__name__}")
            given = {}
        values = {k: f.default for k, f in fields.items()}
        for key, value in given.items():
            f = fields.get(key)
            if f is None:
                known = ", ".join(sorted(fields))
                warnings.append(f"{path.name}: unknown key [{name}] {key} (known: {known})")
                continue
            if not _check(value, f):
                errors.append(f"[{name}] {key} must be {_type_name(f.type)}, got {value!r}")
                continue
            values[key] = value
        sections[name] = values

    taxonomies = dict(DEFAULT_TAXONOMIES)
    if "taxonomies" in raw:
        t = raw["taxonomies"]
        if not isinstance(t, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in t.items()
        ):
            errors.append('[taxonomies] must map singular to plural names, e.g. tag = "tags"')
        else:
            taxonomies = dict(t)

    menus: dict[str, list[MenuEntry]] = {}
    menu_raw = raw.get("menu", {})
    if not isinstance(menu_raw, dict):
        errors.append("[menu] must be a table of menus, e.g. [[menu.main]]")
        menu_raw = {}
    for menu_name, entries in menu_raw.items():
        if not isinstance(entries, list):
            errors.append(
                f"menu.{menu_name} must be an array of tables: write [[menu.{menu_name}]]"
            )
            continue
        out: list[MenuEntry] = []
        for i, entry in enumerate(entries):
            where = f"menu.{menu_name}[{i}]"
            if not isinstance(entry, dict):
                errors.append(f"{where} must be a table")
                continue
            unknown = set(entry) - {"name", "url", "weight", "identifier", "parent", "page"}
            for key in sorted(unknown):
                warnings.append(f"{path.name}: unknown key {where}.{key}")
            label: Any = entry.get("name")
            if not isinstance(label, str) or not label:
                errors.append(f"{where}.name must be a non-empty string")
                continue
            url = entry.get("url", "")
            page = entry.get("page", "")
            if not url and not page:
                errors.append(f'{where} ({label!r}) needs url = "..." or page = "content/path"')
                continue
            weight = entry.get("weight", 0)
            if not isinstance(weight, int) or isinstance(weight, bool):
                errors.append(f"{where}.weight must be an integer, got {weight!r}")
                weight = 0
            out.append(
                MenuEntry(
                    name=label,
                    url=str(url),
                    weight=weight,
                    identifier=str(entry.get("identifier", "") or label.lower()),
                    parent=str(entry.get("parent", "")),
                    page=str(page),
                )
            )
        menus[menu_name] = out

    params = raw.get("params", {})
    if not isinstance(params, dict):
        errors.append("[params] must be a table")
        params = {}

    known_top = set(SCHEMA) | {"taxonomies", "menu", "params"}
    for key in sorted(set(raw) - known_top):
        warnings.append(f"{path.name}: unknown key {key} (known: {', '.join(sorted(known_top))})")

    # Precedence: command line over environment over bengal.toml.
    env_baseurl = os.environ.get("BENGAL_BASEURL")
    if env_baseurl:
        sections["site"]["baseurl"] = env_baseurl
    for section, values in (overrides or {}).items():
        sections.setdefault(section, {}).update(values)
    baseurl = str(sections["site"]["baseurl"])
    if not baseurl.endswith("/"):
        sections["site"]["baseurl"] = baseurl + "/"

    if sections["pagination"]["per_page"] < 1:
        errors.append("[pagination] per_page must be at least 1")
    if not 1 <= sections["markdown"]["toc_depth"] <= 6:
        errors.append("[markdown] toc_depth must be between 1 and 6")
    if sections["build"]["workers"] < 0:
        errors.append("[build] workers must be 0 (one per core) or more")

    if errors:
        detail = "\n  ".join(errors)
        raise ConfigError(f"{len(errors)} problem(s):\n  {detail}", file=path)

    return Config(
        root=root,
        site=sections["site"],
        build=sections["build"],
        markdown=sections["markdown"],
        pagination=sections["pagination"],
        taxonomies=taxonomies,
        menus=menus,
        params=params,
        warnings=warnings,
        raw=raw,
        source=source,
    )
