"""Source text -> (metadata, body): split and parse YAML (---) or TOML (+++) front matter and
normalise the known keys into typed values. Errors name the file and the line."""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bengal.errors import ContentError

if TYPE_CHECKING:
    import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _yaml() -> tuple[Any, Any]:
    """PyYAML and its C loader, imported on first use (a build with nothing to do never needs
    them, and the import costs ~10 ms of every command's start)."""
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)


KNOWN_KEYS = {
    "title", "date", "lastmod", "draft", "weight", "slug", "url", "aliases", "tags",
    "categories", "description", "summary", "type", "template", "layout", "menu", "id", "toc",
    "cascade",
}  # fmt: skip


@dataclass
class FrontMatter:
    """Typed front matter. `params` holds every key bengal does not know itself (and the
    taxonomy lists of custom taxonomies)."""

    title: str | None = None
    date: dt.datetime | None = None
    lastmod: dt.datetime | None = None
    draft: bool = False
    weight: int = 0
    slug: str | None = None
    url: str | None = None
    aliases: list[str] = field(default_factory=list)
    terms: dict[str, list[str]] = field(default_factory=dict)  # plural taxonomy -> terms
    description: str | None = None
    summary: str | None = None
    type: str | None = None
    template: str | None = None
    menu: dict[str, dict[str, Any]] = field(default_factory=dict)
    id: str | None = None
    toc: bool = True
    cascade: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def split(text: str, file: str) -> tuple[dict[str, Any], str, int]:
    """Return (raw metadata, body, line number of the body's first line)."""
    parser, raw_fm, body, body_line = split_raw(text, file)
    return (parse(raw_fm, parser, file) if parser else {}), body, body_line


def split_raw(text: str, file: str) -> tuple[str | None, str, str, int]:
    """(parser "yaml"/"toml" or None, front matter text, body, body line), without parsing."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.startswith("---"):
        delim, parser = "---", "yaml"
    elif text.startswith("+++"):
        delim, parser = "+++", "toml"
    else:
        return None, "", text, 1
    first_nl = text.find("\n")
    first_line = text[: first_nl if first_nl >= 0 else len(text)].rstrip("\r")
    if first_line.rstrip() != delim:
        return None, "", text, 1
    # Find the closing delimiter line.
    pos = first_nl + 1 if first_nl >= 0 else len(text)
    line_no = 2
    closers = (delim, "...") if parser == "yaml" else (delim,)
    while pos <= len(text):
        nl = text.find("\n", pos)
        end = nl if nl >= 0 else len(text)
        if text[pos:end].rstrip() in closers:
            raw_fm = text[first_nl + 1 : pos]
            body = text[end + 1 :] if nl >= 0 else ""
            return parser, raw_fm, body, line_no + 1
        if nl < 0:
            break
        pos = nl + 1
        line_no += 1
    raise ContentError(
        f"front matter opened with '{delim}' on line 1 is never closed; add a '{delim}' line "
        "after it",
        file=file,
        line=1,
    )


_TOML_LINE = re.compile(r"at line (\d+)")
_TOML_WHERE = re.compile(r"\(at line (\d+), column (\d+)\)")


def yaml_error(exc: yaml.YAMLError) -> tuple[int, str]:
    """(1-based line within the YAML text, one-line reason). The line is where the broken
    construct starts when PyYAML knows it (an unclosed '[' is reported where it opens)."""
    context_mark = getattr(exc, "context_mark", None)
    problem_mark = getattr(exc, "problem_mark", None)
    mark = context_mark or problem_mark
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem is None:
        return line, " ".join(str(exc).split())
    reason = f"{context}, {problem}" if context else str(problem)
    if (
        context_mark is not None
        and problem_mark is not None
        and problem_mark.line != context_mark.line
    ):
        reason += f" (noticed on line {problem_mark.line + 1})"
    return line, reason


def _impossible_date_line(raw: str) -> int:
    """Line (0-based within the front matter) of the first value PyYAML reads as a timestamp
    but cannot build (2024-02-30, 25:00), found by composing the YAML into nodes and building
    each timestamp alone; 0 when none is found."""
    yaml, _ = _yaml()
    try:
        root = yaml.compose(raw, Loader=yaml.SafeLoader)
    except Exception:  # noqa: BLE001 - only for the message: the caller reports the error anyway
        return 0
    builder = yaml.SafeLoader("")
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop(0)
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:timestamp":
                try:
                    builder.construct_yaml_timestamp(node)
                except (ValueError, OverflowError):
                    return int(node.start_mark.line)
        elif isinstance(node, yaml.SequenceNode):
            stack[:0] = node.value
        elif isinstance(node, yaml.MappingNode):
            stack[:0] = [n for pair in node.value for n in pair]
    return 0


def parse(raw: str, parser: str, file: str) -> dict[str, Any]:
    if parser == "yaml":
        yaml, loader = _yaml()
        try:
            data = yaml.load(raw, Loader=loader)  # noqa: S506 - CSafeLoader is safe
        except yaml.YAMLError as exc:
            line, reason = yaml_error(exc)
            raise ContentError(
                f"invalid YAML front matter: {reason}", file=file, line=line + 1
            ) from None
        except (ValueError, OverflowError) as exc:
            # PyYAML turns anything shaped like a date into one: "2024-02-30" raises here.
            raise ContentError(
                f"invalid YAML front matter: a date or time that does not exist ({exc}); "
                'correct it, or quote it ("2024-02-30") to keep it as text',
                file=file,
                line=_impossible_date_line(raw) + 2,
            ) from None
    else:
        try:
            data = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            m = _TOML_LINE.search(str(exc))
            line = int(m.group(1)) + 1 if m else 1
            reason = _TOML_WHERE.sub(lambda mm: f"(column {mm.group(2)})", str(exc))
            raise ContentError(
                f"invalid TOML front matter: {reason}", file=file, line=line
            ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ContentError(
            f"front matter must be a mapping of keys to values, got {type(data).__name__}",
            file=file,
            line=2,
        )
    return data


_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y/%m/%d %H:%M")


def parse_date(value: Any, key: str, file: str) -> dt.datetime:
    """Dates become timezone-aware datetimes; a date or naive datetime is taken as UTC so that
    builds are the same on every machine."""
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, dt.date):
        result = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        s = value.strip()
        try:
            result = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            for fmt in _DATE_FORMATS:
                try:
                    result = dt.datetime.strptime(s, fmt)
                    break
                except ValueError:
                    continue
            else:
                raise ContentError(
                    f"{key}: unknown date format {value!r}; use ISO 8601 such as 2024-05-01 or "
                    "2024-05-01T09:30:00+02:00",
                    file=file,
                ) from None
    else:
        raise ContentError(f"{key}: expected a date, got {value!r}", file=file)
    if result.tzinfo is None:
        result = result.replace(tzinfo=dt.timezone.utc)
    return result


def _str_list(value: Any, key: str, file: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            if isinstance(v, (dict, list)):
                raise ContentError(f"{key}: expected a list of strings, got {value!r}", file=file)
            if v is not None and str(v).strip():
                out.append(str(v).strip())
        return out
    if isinstance(value, (int, float)):
        return [str(value)]
    raise ContentError(f"{key}: expected a list of strings, got {value!r}", file=file)


def _opt_str(value: Any, key: str, file: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ContentError(f"{key}: expected a string, got {value!r}", file=file)


def _menu(value: Any, file: str) -> dict[str, dict[str, Any]]:
    """menu: main | [main, footer] | {main: {weight: 2, name: X, parent: Y}}"""
    if value is None:
        return {}
    if isinstance(value, str):
        return {value: {}}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {v: {} for v in value}
    if isinstance(value, dict):
        out: dict[str, dict[str, Any]] = {}
        for k, v in value.items():
            if v is None:
                v = {}
            if not isinstance(v, dict):
                raise ContentError(
                    f"menu.{k}: expected a table like {{weight: 1, name: ...}}, got {v!r}",
                    file=file,
                )
            out[str(k)] = v
        return out
    raise ContentError(
        f"menu: expected a menu name, a list of names or a mapping, got {value!r}", file=file
    )


def normalise(raw: dict[str, Any], file: str, taxonomies: dict[str, str]) -> FrontMatter:
    """Typed view of raw front matter. `taxonomies` maps singular -> plural names."""
    fm = FrontMatter(raw=raw)
    plurals = set(taxonomies.values())
    for key, value in raw.items():
        if key == "title":
            fm.title = _opt_str(value, key, file)
            if fm.title is not None and not fm.title.strip():
                raise ContentError(
                    "title is empty; give the page a title or remove the key", file=file
                )
        elif key in ("date", "lastmod"):
            if value is not None and value != "":
                setattr(fm, key, parse_date(value, key, file))
        elif key == "draft":
            if not isinstance(value, bool):
                raise ContentError(f"draft: expected true or false, got {value!r}", file=file)
            fm.draft = value
        elif key == "weight":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ContentError(f"weight: expected an integer, got {value!r}", file=file)
            fm.weight = value
        elif key in ("slug", "url", "description", "summary", "type", "id"):
            setattr(fm, key, _opt_str(value, key, file))
        elif key in ("template", "layout"):
            fm.template = _opt_str(value, key, file)
        elif key == "aliases":
            fm.aliases = _str_list(value, key, file)
        elif key == "menu":
            fm.menu = _menu(value, file)
        elif key == "toc":
            if not isinstance(value, bool):
                raise ContentError(f"toc: expected true or false, got {value!r}", file=file)
            fm.toc = value
        elif key == "cascade":
            if not isinstance(value, dict):
                raise ContentError(f"cascade: expected a mapping, got {value!r}", file=file)
            fm.cascade = value
        elif key in plurals:
            fm.terms[key] = _str_list(value, key, file)
        else:
            fm.params[key] = value
    if fm.slug is not None and ("/" in fm.slug or not fm.slug.strip()):
        raise ContentError(
            f"slug: {fm.slug!r} must be one non-empty path segment (no '/'); use url: for a "
            "full path",
            file=file,
        )
    return fm
