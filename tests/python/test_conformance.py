"""CommonMark 0.31.2 and GFM 0.29 extension examples, rendered in spec mode.

Spec mode: no heading ids, no [[xrefs]], no directives; GFM extensions only for the GFM
examples. The comparison is exact: the emitter writes cmark's HTML shape (block tags on their
own lines, XHTML void tags), so no normalisation is needed. `normalise` below is the identity on
purpose; the test keeps the hook so a future md4c with a different shape documents its change.

Every example that does not pass is listed here by number with its reason; the set of failing
examples must be exactly this list (xfail is strict), so a fix upstream shows up as a failure
that asks for the list to shrink.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import bengal_native

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"

# Parser-level changes in CommonMark 0.31 that md4c 0.4.8 predates (see ../shared/NOTES.md).
COMMONMARK_KNOWN_FAILURES = {
    173: "spec 0.31 added <textarea> to HTML block condition 1; md4c 0.4.8 does not know it",
    356: "spec 0.31 counts Unicode symbols (Sc, Sm, So) as punctuation for emphasis; md4c 0.4.8 "
    "only counts Unicode punctuation (P*)",
    627: "spec 0.31 changed the HTML comment rule ('--' allowed inside); md4c 0.4.8 uses the "
    "old rule",
    628: "spec 0.31 accepts <!--> and <!---> as comments; md4c 0.4.8 uses the old rule",
}
GFM_KNOWN_FAILURES = {
    203: "GFM requires the header row to have as many cells as the delimiter row; md4c 0.4.8 "
    "builds a table anyway (parser-level)",
}

SPEC_OPTIONS: dict[str, Any] = dict(
    spec_mode=True, tables=False, strikethrough=False, tasklists=False, autolinks=False
)
GFM_OPTIONS: dict[str, Any] = dict(spec_mode=True, tagfilter=True)


def normalise(html: str) -> str:
    return html


def _load(name: str) -> list[dict[str, Any]]:
    path = TESTDATA / name
    if not path.exists():
        pytest.fail(f"spec test data missing: {path} (../shared must sit beside the repo)")
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


COMMONMARK = _load("commonmark-0.31.2.json")
GFM = _load("gfm-0.29-extensions.json")


def _params(examples: list[dict[str, Any]], known: dict[int, str]) -> list[Any]:
    out = []
    for ex in examples:
        marks = []
        if ex["example"] in known:
            marks.append(pytest.mark.xfail(reason=known[ex["example"]], strict=True))
        out.append(pytest.param(ex, id=f"{ex['example']}-{ex['section']}", marks=marks))
    return out


@pytest.mark.parametrize("ex", _params(COMMONMARK, COMMONMARK_KNOWN_FAILURES))
def test_commonmark_example(ex: dict[str, Any]) -> None:
    got = bengal_native.render_markdown(ex["markdown"], **SPEC_OPTIONS).html
    assert normalise(got) == normalise(ex["html"]), f"example {ex['example']}"


@pytest.mark.parametrize("ex", _params(GFM, GFM_KNOWN_FAILURES))
def test_gfm_example(ex: dict[str, Any]) -> None:
    got = bengal_native.render_markdown(ex["markdown"], **GFM_OPTIONS).html
    assert normalise(got) == normalise(ex["html"]), f"GFM example {ex['example']}"


def _passing(examples: list[dict[str, Any]], options: dict[str, Any]) -> list[int]:
    return [
        ex["example"]
        for ex in examples
        if normalise(bengal_native.render_markdown(ex["markdown"], **options).html)
        == normalise(ex["html"])
    ]


def test_conformance_summary(record_property: Any, capsys: pytest.CaptureFixture[str]) -> None:
    cm_pass = _passing(COMMONMARK, SPEC_OPTIONS)
    gfm_pass = _passing(GFM, GFM_OPTIONS)
    assert len(COMMONMARK) == 655
    record_property("commonmark_pass", len(cm_pass))
    record_property("gfm_pass", len(gfm_pass))
    with capsys.disabled():
        print(
            f"\n[conformance] CommonMark 0.31.2: {len(cm_pass)}/{len(COMMONMARK)} "
            f"({100 * len(cm_pass) / len(COMMONMARK):.1f}%); "
            f"GFM 0.29 extensions: {len(gfm_pass)}/{len(GFM)}"
        )
    assert len(cm_pass) >= 0.99 * len(COMMONMARK)
    # md4c's own HTML renderer reaches 651: anything lower would be the emitter's fault.
    assert len(cm_pass) == len(COMMONMARK) - len(COMMONMARK_KNOWN_FAILURES)
    assert len(gfm_pass) == len(GFM) - len(GFM_KNOWN_FAILURES)


def test_gfm_disabled_and_tagfilter_examples_are_covered() -> None:
    # The task-list examples (tagged "disabled" upstream) and the tag filter example are part
    # of the run above and expected to pass: say so explicitly.
    tags = {ex["example"]: ex["extension"] for ex in GFM}
    assert "tagfilter" in tags.values()
    assert sum(1 for t in tags.values() if t == "disabled") == 2
