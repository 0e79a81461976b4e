"""bengal.toml: typed schema, every error at once, unknown keys warned about."""

from __future__ import annotations

from pathlib import Path

import pytest
from bengal.config import load_config
from bengal.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "bengal.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    c = load_config(tmp_path)
    assert c.title == "My Site" and c.baseurl == "/"
    assert c.build["output_dir"] == "public" and c.build["pretty_urls"] is True
    assert c.taxonomies == {"tag": "tags", "category": "categories"}
    assert c.pagination["per_page"] == 10


def test_full_config(tmp_path: Path) -> None:
    c = load_config(
        write(
            tmp_path,
            """
[site]
title = "T"
baseurl = "https://example.org/blog"
[build]
drafts = true
workers = 2
[markdown]
raw_html = false
toc_depth = 4
[pagination]
per_page = 5
[taxonomies]
tag = "tags"
series = "series"
[[menu.main]]
name = "Docs"
url = "/docs/"
weight = 2
[[menu.main]]
name = "Guide"
page = "docs/guide"
parent = "docs"
[params]
color = "orange"
""",
        )
    )
    assert c.baseurl == "https://example.org/blog/"  # trailing slash added
    assert c.build["drafts"] is True and c.build["workers"] == 2
    assert c.markdown == {"raw_html": False, "toc_depth": 4, "toc_min": 2}
    assert c.taxonomies == {"tag": "tags", "series": "series"}
    assert [(m.name, m.identifier, m.parent, m.page) for m in c.menus["main"]] == [
        ("Docs", "docs", "", ""),
        ("Guide", "guide", "docs", "docs/guide"),
    ]
    assert c.params == {"color": "orange"}
    assert c.warnings == []


def test_every_error_is_reported_with_file_and_key(tmp_path: Path) -> None:
    site = write(
        tmp_path,
        """
[site]
title = 3
[build]
drafts = "yes"
workers = -1
[pagination]
per_page = 0
[[menu.main]]
url = "/x/"
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(site)
    msg = str(info.value)
    assert "bengal.toml" in msg
    assert "[site] title must be a string, got 3" in msg
    assert "[build] drafts must be true or false, got 'yes'" in msg
    assert "[build] workers must be 0" in msg
    assert "[pagination] per_page must be at least 1" in msg
    assert "menu.main[0].name must be a non-empty string" in msg


def test_unknown_keys_warn(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, '[site]\ntitle = "x"\ncolour = "red"\n[extra]\na = 1\n'))
    assert any("unknown key [site] colour" in w for w in c.warnings)
    assert any("unknown key extra" in w for w in c.warnings)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bengal.toml: invalid TOML: .*line 2"):
        load_config(write(tmp_path, '[site]\ntitle = "unterminated\n'))


def test_env_overrides_baseurl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENGAL_BASEURL", "https://staging.example.org")
    c = load_config(write(tmp_path, '[site]\nbaseurl = "https://example.org/"\n'))
    assert c.baseurl == "https://staging.example.org/"
