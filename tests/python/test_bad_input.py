"""A site full of faults: every problem gets a clear message naming the file (and line), the
rest of the site still builds, and the exit code says what happened."""

from __future__ import annotations

from pathlib import Path

import pytest
from bengal.cli import main
from conftest import SiteFactory

BAD_SITE: dict[str, str | bytes] = {
    "bengal.toml": '[site]\ntitle = "Faulty"\nbaseurl = "https://example.org/"\n',
    "content/good.md": "---\ntitle: Good\n---\nFine. [[nowhere]] and [[good#No Such Heading]]\n",
    "content/yaml.md": "---\ntitle: ok\ntags: [unclosed\n---\nbody\n",
    "content/toml.md": '+++\ntitle = "x"\nweight = \n+++\nbody\n',
    "content/latin1.md": "---\ntitle: Café\n---\n".encode("latin-1"),
    "content/unclosed.md": "---\ntitle: never closed\n",
    "content/a/one.md": "---\ntitle: One\nslug: same\n---\n",
    "content/a/two.md": "---\ntitle: Two\nslug: same\n---\n",
    "content/empty-title.md": '---\ntitle: ""\n---\n',
    "content/when.md": "---\ntitle: When\ndate: next tuesday\n---\n",
    "content/custom.md": "---\ntitle: Custom\ntemplate: nonexistent\n---\nUses a fallback.\n",
    "content/weight.md": "---\ntitle: W\nweight: heavy\n---\n",
    "content/broken-tpl.md": "---\ntitle: Broken\ntype: fragile\n---\n",
    "templates/fragile/single.html": "{% extends 'base.html' %}{% block main %}{{ page.title }\n",
    "data/bad.yaml": "key: [unclosed\n",
}


def run(site: Path, *extra: str) -> tuple[int, str]:
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["build", str(site), "--workers", "1", *extra])
    return code, err.getvalue()


def test_every_fault_is_reported_and_the_rest_builds(make_site: SiteFactory) -> None:
    site = make_site(BAD_SITE)
    code, err = run(site)
    assert code == 1
    expected = [
        "yaml.md:3: invalid YAML front matter",
        "toml.md:3: invalid TOML front matter: Invalid value (column 10)",
        "latin1.md:2: not valid UTF-8 (byte 14); save the file as UTF-8",
        "unclosed.md:1: front matter opened with '---' on line 1 is never closed",
        "URL /a/same/ is claimed by both a/one.md and a/two.md",
        "empty-title.md: title is empty",
        "when.md: date: unknown date format 'next tuesday'",
        "weight.md: weight: expected an integer, got 'heavy'",
        "data/bad.yaml:1: cannot parse YAML: while parsing a flow sequence",
        "templates/fragile/single.html:1: syntax error",
    ]
    for text in expected:
        assert text in err, f"missing message: {text}\n--- stderr ---\n{err}"
    warnings = [
        "good.md:4: unresolved cross-reference [[nowhere]]",
        "good.md:4: [[good#No Such Heading]]: good.md has no heading '#no-such-heading'",
        "custom.md: template 'nonexistent.html' (from front matter) not found; using the "
        "normal lookup",
    ]
    for text in warnings:
        assert f"warning: {text}" in err, f"missing warning: {text}\n--- stderr ---\n{err}"
    out = site / "public"
    assert (out / "good/index.html").is_file()
    assert (out / "custom/index.html").is_file()
    assert (out / "a/same/index.html").is_file()  # the first claimant keeps the URL
    assert not (out / "yaml").exists() and not (out / "when").exists()
    assert "error(s)" in err and "the pages without errors were built" in err


def test_strict_turns_broken_references_into_errors(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/a.md": "---\ntitle: A\n---\n[[missing]]\n",
            "content/b.md": "---\ntitle: B\n---\n[[a]]\n",
        }
    )
    assert run(site)[0] == 0
    code, err = run(site, "--strict")
    assert code == 1 and "error: a.md:4: unresolved cross-reference [[missing]]" in err


def test_config_errors_exit_2(make_site: SiteFactory) -> None:
    site = make_site({"bengal.toml": "[build]\nworkers = 'many'\n", "content/a.md": "x\n"})
    code, err = run(site)
    assert code == 2
    assert "bengal.toml" in err and "[build] workers must be an integer" in err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--workers", "x"]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["build", str(tmp_path / "missing")]) == 2


def test_missing_template_names_the_lookup(make_site: SiteFactory) -> None:
    site = make_site(
        {
            "content/a.md": "---\ntitle: A\ntype: special\n---\n",
            "templates/special/single.html": "{% include 'partials/nope.html' %}",
        }
    )
    code, err = run(site)
    assert code == 1
    assert "nope.html" in err and "a.md" in err


def test_output_inside_nothing_is_lost_on_errors(make_site: SiteFactory) -> None:
    """A page that fails keeps its previously built output (nothing half-written)."""
    site = make_site({"content/a.md": "---\ntitle: A\n---\nfirst\n"})
    assert run(site)[0] == 0
    before = (site / "public/a/index.html").read_text()
    (site / "content/a.md").write_text("---\ntitle: [broken\n---\nsecond\n")
    assert run(site)[0] == 1
    assert (site / "public/a/index.html").read_text() == before


def test_file_names_that_are_not_utf8_are_skipped_with_a_warning(make_site: SiteFactory) -> None:
    """A name the file system allows but UTF-8 does not (a latin-1 'é' from an old archive):
    named in a warning, skipped, and the rest of the site builds (it crashed the scan)."""
    import os

    from bengal.build import BuildOptions, build

    site = make_site(
        {
            "bengal.toml": '[site]\ntitle = "U"\nbaseurl = "https://example.org/"\n',
            "content/good.md": "---\ntitle: Good\n---\nFine.\n",
        }
    )
    root = os.fsencode(site)
    with open(root + b"/content/caf\xe9.md", "wb") as f:
        f.write(b"---\ntitle: Cafe\n---\nx\n")
    os.makedirs(root + b"/static/d\xe9j\xe0")
    with open(root + b"/static/d\xe9j\xe0/x.txt", "wb") as f:
        f.write(b"x")
    r = build(site, BuildOptions(workers=1))
    assert r.errors == []
    assert (site / "public/good/index.html").exists()
    bad = [w for w in r.warnings if "not valid UTF-8" in w]
    assert len(bad) == 2
    assert bad[0].startswith("content/caf\ufffd.md: ") and bad[1].startswith(
        "static/d\ufffdj\ufffd: "
    )
    again = build(site, BuildOptions(workers=1))
    assert again.noop and again.warnings == r.warnings


@pytest.mark.parametrize("inside", ["content", "static/out", "templates"])
def test_an_output_directory_inside_an_input_folder_is_refused(
    make_site: SiteFactory, inside: str
) -> None:
    """Its files would be read back as sources on the next build -- and --clean would delete
    the sources."""
    site = make_site(
        {
            "bengal.toml": '[site]\ntitle = "O"\nbaseurl = "https://example.org/"\n',
            "content/a.md": "---\ntitle: A\n---\nText.\n",
            "static/s.txt": "s",
            "templates/.keep": "",
        }
    )
    assert main(["build", str(site), "--clean", "-o", str(site / inside), "-q"]) == 2
    assert (site / "content/a.md").exists() and (site / "static/s.txt").exists()


def test_site_files_of_the_wrong_kind_get_messages_not_tracebacks(
    make_site: SiteFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_site(
        {
            "bengal.toml": '[site]\ntitle = "K"\nbaseurl = "https://example.org/"\n',
            "content/a.md": "---\ntitle: A\n---\nText.\n",
        }
    )
    assert main(["build", str(site), "-q"]) == 0
    # .bengal/bengal.db is a folder: only caches live there, so it is replaced (a full build)
    import shutil

    (site / ".bengal/bengal.db").unlink()
    (site / ".bengal/bengal.db").mkdir()
    (site / ".bengal/bengal.db/x").write_text("not a database")
    assert main(["build", str(site), "-q"]) == 0
    assert (site / ".bengal/bengal.db").is_file()
    # .bengal is a file: refused with a message that says what to do
    shutil.rmtree(site / ".bengal")
    (site / ".bengal").write_text("not a folder")
    capsys.readouterr()
    assert main(["build", str(site), "-q"]) == 1
    assert "must be a folder bengal can write" in capsys.readouterr().err
    (site / ".bengal").unlink()
    # bengal.toml is a folder: a configuration error
    (site / "bengal.toml").unlink()
    (site / "bengal.toml").mkdir()
    assert main(["build", str(site), "-q"]) == 2
    assert "bengal.toml: cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("output_dir", [".", "content", ".."])
def test_bengal_clean_refuses_an_output_dir_that_holds_sources(
    make_site: SiteFactory, output_dir: str
) -> None:
    site = make_site(
        {
            "bengal.toml": '[site]\ntitle = "C"\nbaseurl = "https://example.org/"\n'
            f'[build]\noutput_dir = "{output_dir}"\n',
            "content/a.md": "---\ntitle: A\n---\nText.\n",
        }
    )
    assert main(["clean", str(site)]) == 2
    assert (site / "content/a.md").exists()
