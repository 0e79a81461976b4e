"""benchmarks/bench_markdown.py runs end to end on a tiny corpus. Never asserts a speed: only that
numbers were produced, results written, and absent peers skipped with a reason."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # benchmarks/ is a top-level directory, not an installed package

from benchmarks import bench_markdown  # noqa: E402

pytest.importorskip("bengal_native")


def _run(tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "results"
    argv = ["--pages", "20", "--repeat", "1", "--out", str(out), *extra]
    assert bench_markdown.main(argv) == 0
    (json_file,) = out.glob("markdown-*.json")
    (md_file,) = out.glob("markdown-*.md")
    assert json_file.stem == md_file.stem
    report: dict[str, Any] = json.loads(json_file.read_text("utf-8"))
    assert md_file.read_text("utf-8") == bench_markdown.render_table(report)
    return report


def _assert_positive(row: dict[str, Any]) -> None:
    assert row["mb_per_s_median"] > 0 and row["mb_per_s_best"] >= row["mb_per_s_median"]
    assert row["ms_per_page_median"] > 0
    assert all(s > 0 for s in row["seconds"])


def test_runs_with_peers_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # None in sys.modules makes the import fail, as if the package were not installed.
    monkeypatch.setitem(sys.modules, "mistune", None)
    monkeypatch.setitem(sys.modules, "markdown_it", None)
    monkeypatch.delenv("BENGAL_MD_BENCH", raising=False)
    report = _run(
        tmp_path, "--no-build-harness", "--harness-build-dir", str(tmp_path / "no-harness")
    )
    out = capsys.readouterr().out

    assert report["corpus"]["documents"] >= 21 and report["corpus"]["bytes"] > 20 * 2000
    assert report["repeat"] == 1
    assert set(report["results"]) == {"bengal", "bengal_batch"}
    for row in report["results"].values():
        _assert_positive(row)
        assert len(row["seconds"]) == 1
        # 20 pages render in milliseconds: a round repeats the corpus to fill ~0.25 s.
        assert row["passes_per_round"] > 1
    assert set(report["skipped"]) == {"md_html", "mistune", "markdown_it"}
    assert "not built" in report["skipped"]["md_html"]
    assert "not installed" in report["skipped"]["mistune"]
    for label in ("md4c md_html", "mistune", "markdown-it-py"):
        assert f"skipped {label}" in out
    verdicts = {t["name"]: t["verdict"] for t in report["targets"]}
    assert verdicts["render_markdown (Python, 1 thread) vs md_html"] == "not measured"
    assert verdicts["render_markdown (Python, 1 thread) vs mistune"] == "not measured"
    batch = [v for name, v in verdicts.items() if name.startswith("render_markdown_batch")]
    assert batch and batch[0] != "not measured"
    assert report["machine"]["cpu_count"] >= 1 and report["machine"]["cpu_model"]


def test_runs_every_available_peer_and_updates_docs(tmp_path: Path) -> None:
    # The md4c harness is used when one is at hand ($BENGAL_MD_BENCH or build/bench); CMake is
    # never run from the tests.
    docs = tmp_path / "performance.md"
    docs.write_text("# Performance\n\nIntro kept as is.\n", encoding="utf-8")
    quick = ("--no-build-harness", "--min-round-seconds", "0", "--update-docs", str(docs))
    report = _run(tmp_path, *quick)

    harness_available = (
        bool(os.environ.get("BENGAL_MD_BENCH"))
        or (bench_markdown.DEFAULT_HARNESS_DIR / bench_markdown.HARNESS_NAME).is_file()
    )
    expected = {"bengal", "bengal_batch"}
    if harness_available:
        expected |= {"md_html", "cpp_bengal", "cpp_bengal_plain"}
    for module, key in (("mistune", "mistune"), ("markdown_it", "markdown_it")):
        if importlib.util.find_spec(module) is not None:
            expected.add(key)
    assert set(report["results"]) == expected
    for row in report["results"].values():
        _assert_positive(row)

    text = docs.read_text("utf-8")
    assert text.startswith("# Performance\n\nIntro kept as is.\n")
    assert text.count("## Markdown rendering") == 1
    assert "python -m benchmarks.bench_markdown --pages 20" in text
    assert "| bengal_native.render_markdown (Python loop, 1 thread) |" in text
    # A second run replaces the generated section instead of appending another one.
    _run(tmp_path / "again", *quick)
    again = docs.read_text("utf-8")
    assert again.count(bench_markdown.DOCS_BEGIN) == 1
    assert again.count("## Markdown rendering") == 1


def test_incremental_benchmark_runs_and_verifies(tmp_path: Path) -> None:
    """benchmarks/bench_incremental.py on a tiny site, against a baseline (here the same
    revision, checked out by the benchmark): every scenario produces timings for both and its
    output is verified against a clean build (a speed is never asserted)."""
    from benchmarks import bench_incremental

    out = tmp_path / "results"
    argv = ["--pages", "40", "--repeat", "1", "--verify", "--age", "0.2", "--out", str(out)]
    assert bench_incremental.main([*argv, "--baseline", "HEAD"]) == 0
    report = json.loads((out / "incremental-40.json").read_text("utf-8"))
    assert set(report["variants"]) == {"this checkout", "HEAD"}
    for variant in report["variants"].values():
        assert set(variant["runs"]) == {
            "cold build",
            "no-op",
            "one-page body edit",
            "body edit, built at once (racy)",
            "no-op after the racy build",
            "one-page summary edit",
            "one-page title edit",
            "title edit, built at once (racy)",
            "one-page tag edit",
            "add one page",
            "delete one page",
            "template edit (single.html)",
            "template edit (terms.html, 2 outputs)",
        }
        assert all(t > 0 for times in variant["runs"].values() for t in times)
        assert variant["verified"] and all(variant["verified"].values())


def test_taxonomy_benchmark_runs(tmp_path: Path) -> None:
    """benchmarks/bench_taxonomy.py on a tiny site: each scenario indexed the pages it says
    (every page from an empty index, none or one from a kept one; a speed is never asserted)."""
    from benchmarks import bench_taxonomy

    out = tmp_path / "results"
    assert bench_taxonomy.main(["--pages", "30", "--repeat", "1", "--out", str(out)]) == 0
    report = json.loads((out / "taxonomy-30.json").read_text("utf-8"))
    again = [r["pages_reindexed"] for r in report["rows"]]
    assert again == [report["pages"], 0, 1, 1]
    assert all(r["median_ms"] > 0 for r in report["rows"])


def test_serve_benchmark_runs(tmp_path: Path) -> None:
    """benchmarks/bench_serve.py against a real `bengal serve` on a tiny site: every edit
    produced a reload event and the report has its numbers (a speed is never asserted)."""
    from benchmarks import bench_serve

    out = tmp_path / "results"
    argv = ["--sizes", "40", "--edits", "3", "--title-edits", "1", "--gap", "0.3"]
    assert bench_serve.main([*argv, "--out", str(out)]) == 0
    report = json.loads((out / "serve.json").read_text("utf-8"))
    (size,) = report["sizes"]
    assert size["pages"] == 40 and size["body_edit"]["n"] == 3 and size["title_edit"]["n"] == 1
    assert all(ms > 0 for ms in size["body_edit"]["latency_ms"])
    assert size["rss_mib"] > 0 and size["peak_rss_mib"] >= size["rss_mib"]
    assert "| 40 | 3 |" in bench_serve.render_table(report)


def test_run_harness_smoke(tmp_path: Path) -> None:
    """benchmarks/run.py in smoke mode (--sizes 200 --repeat 1): every part ran and produced
    numbers; a peer that is not installed is listed as skipped with a reason. Never a speed."""
    from benchmarks import run

    out = tmp_path / "results"
    argv = ["--sizes", "200", "--repeat", "1", "--edits", "2", "--no-docs", "--no-build-harness"]
    argv += ["--out", str(out)]
    assert run.main(argv) == 0
    (result,) = out.glob("*.json")
    report = json.loads(result.read_text("utf-8"))
    (size,) = report["sizes"]
    cold = size["cold"]
    assert cold["sources"] > 200 and all(s > 0 for s in cold["median_seconds"].values())
    assert {"bengal_1w"} <= set(cold["median_seconds"])
    for peer in ("hugo", "pipeline"):
        assert (peer in cold["median_seconds"]) != (peer in report["skipped"])
        if peer in report["skipped"]:
            assert report["skipped"][peer]  # the reason
    assert all(ms > 0 for ms in size["rebuild"]["median_ms"].values())
    assert size["serve"]["bengal"]["body_edit"]["n"] == 2
    assert size["native"]["summary"]
    text = run.render(report)
    assert "### Cold builds" in text and "### Rebuilds" in text
