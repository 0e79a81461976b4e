"""Front matter: YAML and TOML, typed keys, clear errors with file and line."""

from __future__ import annotations

import datetime as dt

import pytest
from bengal.errors import ContentError
from bengal.frontmatter import normalise, parse_date, split
from bengal.frontmatter import parse as parse_front_matter

TAX = {"tag": "tags", "category": "categories"}


def test_yaml_and_body_line() -> None:
    raw, body, line = split("---\ntitle: Hello\ntags: [a, b]\n---\n# Body\n", "a.md")
    assert raw == {"title": "Hello", "tags": ["a", "b"]}
    assert body == "# Body\n" and line == 5


def test_toml() -> None:
    raw, body, line = split('+++\ntitle = "T"\nweight = 3\n+++\ntext\n', "a.md")
    assert raw == {"title": "T", "weight": 3} and body == "text\n" and line == 5


def test_no_front_matter() -> None:
    assert split("# Just text\n", "a.md") == ({}, "# Just text\n", 1)
    assert split("---- not a fence\n", "a.md")[0] == {}


def test_yaml_error_has_line() -> None:
    with pytest.raises(ContentError) as info:
        split("---\ntitle: ok\ntags: [unclosed\n---\n", "posts/x.md")
    err = info.value
    assert err.file == "posts/x.md" and err.line is not None and err.line >= 3
    assert str(err).startswith(f"posts/x.md:{err.line}: invalid YAML front matter")


def test_toml_error_has_line() -> None:
    with pytest.raises(ContentError) as info:
        split('+++\ntitle = "a"\nbroken =\n+++\n', "t.md")
    assert info.value.line == 3 and "invalid TOML" in str(info.value)


def test_unclosed() -> None:
    with pytest.raises(ContentError, match="never closed"):
        split("---\ntitle: x\n", "u.md")


def test_not_a_mapping() -> None:
    with pytest.raises(ContentError, match="mapping"):
        split("---\n- a\n- b\n---\n", "l.md")


def test_normalise_known_keys_and_params() -> None:
    fm = normalise(
        {
            "title": "T",
            "date": dt.date(2024, 5, 1),
            "draft": True,
            "weight": 4,
            "tags": "a, b",
            "categories": ["News"],
            "layout": "wide",
            "menu": "main",
            "aliases": ["/old/"],
            "hero": "x.png",
        },
        "p.md",
        TAX,
    )
    assert fm.title == "T" and fm.draft and fm.weight == 4
    assert fm.date == dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    assert fm.terms == {"tags": ["a", "b"], "categories": ["News"]}
    assert fm.template == "wide" and fm.menu == {"main": {}} and fm.aliases == ["/old/"]
    assert fm.params == {"hero": "x.png"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"date": "yesterday"}, "date: unknown date format 'yesterday'"),
        ({"weight": "heavy"}, "weight: expected an integer"),
        ({"draft": "no"}, "draft: expected true or false"),
        ({"title": "   "}, "title is empty"),
        ({"slug": "a/b"}, "must be one non-empty path segment"),
        ({"cascade": [1]}, "cascade: expected a mapping"),
        ({"tags": [{"a": 1}]}, "tags: expected a list of strings"),
    ],
)
def test_normalise_errors(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ContentError, match=message) as info:
        normalise(raw, "bad.md", TAX)
    assert info.value.file == "bad.md"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01", dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)),
        ("2024-05-01T10:30:00Z", dt.datetime(2024, 5, 1, 10, 30, tzinfo=dt.timezone.utc)),
        ("2024-05-01 10:30", dt.datetime(2024, 5, 1, 10, 30, tzinfo=dt.timezone.utc)),
        (
            "2024-05-01T10:30:00+02:00",
            dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.timezone.utc),
        ),
    ],
)
def test_dates(value: str, expected: dt.datetime) -> None:
    assert parse_date(value, "date", "x.md") == expected


@pytest.mark.parametrize(
    "text, line",
    [
        ("title: X\ndate: 2024-13-45\n", 3),
        ("title: 2024-02-30\n", 2),
        ("title: X\nextra: [1, 2]\nwhen: 2023-02-29\n", 4),
        ("title: X\nmore: y\ndate: 2024-02-30T10:00:00\n", 4),
        ("title: X\ndate: 2024-01-01 25:00:00\n", 3),
        ('title: "see 2024-02-30 x"\ndate: 2024-02-30\n', 3),
        ("title: X\nlist:\n  - a: 2021-04-31\n", 4),
    ],
)
def test_a_date_that_does_not_exist_is_an_error_with_its_line(text: str, line: int) -> None:
    """PyYAML raises ValueError (not a YAMLError) for these: it was a traceback."""
    with pytest.raises(ContentError) as err:
        parse_front_matter(text, "yaml", "x.md")
    assert err.value.line == line and "that does not exist" in str(err.value)
