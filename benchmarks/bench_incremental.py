"""Incremental build benchmark: whole `bengal build` commands (interpreter start included) on a
generated site -- cold, no-op, body, summary, title and tag edits (two seconds after the previous
build and at once, the racy case), a page added and deleted, a template every page uses and one
two outputs use edited -- and the stages that
dominate each. With --baseline REV the same scenarios run with that revision too, interleaved
on a copy of the site, and the table prints the ratios. With --verify every scenario is checked
against a clean build of the same sources (byte-identical output), so a fast wrong answer
cannot pass for a result.

    python -m benchmarks.bench_incremental --pages 10000 --repeat 3 --verify --baseline main

Writes benchmarks/results/incremental-<pages>.json and prints a table; --update-docs puts the
table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import (
    REPO,
    bengal_command,
    checkout,
    drop_checkout,
    retagged,
    retitled,
    summarised,
    update_doc_block,
    with_paragraph,
)

RESULTS = REPO / "benchmarks" / "results"


# A pip-installed bengal has compiled bytecode; an editable install gets it on first import
# unless PYTHONDONTWRITEBYTECODE is set (as on these machines), which would make every command
# compile bengal's modules again (~30 ms). Commands run as a user's would.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def bengal(command: list[str], site: Path, stats: Path) -> float:
    cmd = [*command, "build", str(site), "-q", "--stats-json", str(stats)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=ENV)
    return time.perf_counter() - t0


def top_stages(stats: Path, n: int = 4) -> str:
    data = json.loads(stats.read_text())
    t = data["timings"]
    total = t.get("total", 0.0)
    parts = sorted(((k, v) for k, v in t.items() if k != "total"), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{k} {v * 1000:.0f}" for k, v in parts) + f" (in-process {total * 1000:.0f})"


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def same_as_clean(command: list[str], site: Path, scratch: Path) -> bool:
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(site, scratch, ignore=shutil.ignore_patterns("public", ".bengal"))
    subprocess.run([*command, "build", str(scratch), "-q"], check=True, env=ENV)
    return snapshot(site / "public") == snapshot(scratch / "public")


@dataclass
class Variant:
    """One bengal being measured: this checkout's, or a baseline revision's, on its own copy
    of the generated site."""

    name: str
    command: list[str]
    site: Path
    runs: dict[str, list[float]] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)
    verified: dict[str, bool] = field(default_factory=dict)


# Each scenario: (name, edit to make before each run, seconds between the previous build and
# the edit, seconds between the edit and the build). The racy ones build at once after the
# edit: its mtime is within the clock tick the build's scan trusts (bengal.incremental.RACY_NS).
RACY = (0.0, 0.0)


def edits(site: Path, age: float) -> list[tuple[str, Callable[[int], None], tuple[float, float]]]:
    AGED = (age, 0.15)
    pages = sorted(p for p in (site / "content").rglob("*.md") if not p.name.startswith("_"))
    victim = pages[len(pages) // 2]
    template = site / "templates" / "single.html"
    # A template few outputs use (the terms indexes, /tags/ and /categories/): the site's copy
    # of the theme's, made before the cold build.
    partial = site / "templates" / "terms.html"
    theme_dir = REPO / "python/bengal/theme/templates"

    def cold(i: int) -> None:
        shutil.rmtree(site / "public", ignore_errors=True)
        shutil.rmtree(site / ".bengal", ignore_errors=True)
        partial.parent.mkdir(exist_ok=True)
        partial.write_text((theme_dir / "terms.html").read_text(encoding="utf-8"), "utf-8")

    def noop(i: int) -> None:
        pass

    def body(i: int) -> None:
        victim.write_text(with_paragraph(victim.read_text(encoding="utf-8"), i), "utf-8")

    def summary(i: int) -> None:
        victim.write_text(summarised(victim.read_text(encoding="utf-8"), i), "utf-8")

    def few(i: int) -> None:
        partial.write_text(partial.read_text(encoding="utf-8") + f"\n<!-- edit {i} -->\n", "utf-8")

    def title(i: int) -> None:
        victim.write_text(retitled(victim.read_text(encoding="utf-8"), i), "utf-8")

    def tags(i: int) -> None:
        victim.write_text(retagged(victim.read_text(encoding="utf-8"), i), "utf-8")

    def added(i: int) -> Path:
        return victim.parent / f"bench-added-{i}.md"

    def add(i: int) -> None:
        text = victim.read_text(encoding="utf-8")
        added(i).write_text(retitled(text, 1000 + i), "utf-8")

    def delete(i: int) -> None:
        added(i - 100).unlink()  # the page "add one page" (the scenario before) made

    def tmpl(i: int) -> None:
        template.parent.mkdir(exist_ok=True)
        theme = REPO / "python/bengal/theme/templates/single.html"
        template.write_text(theme.read_text() + f"\n<!-- edit {i} -->\n", encoding="utf-8")

    return [
        ("cold build", cold, AGED),
        ("no-op", noop, AGED),
        ("one-page body edit", body, AGED),
        ("body edit, built at once (racy)", body, RACY),
        ("no-op after the racy build", noop, AGED),
        ("one-page summary edit", summary, AGED),
        ("one-page title edit", title, AGED),
        ("title edit, built at once (racy)", title, RACY),
        ("one-page tag edit", tags, AGED),
        ("add one page", add, AGED),
        ("delete one page", delete, AGED),
        ("template edit (single.html)", tmpl, AGED),
        ("template edit (terms.html, 2 outputs)", few, AGED),
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=10000)
    ap.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON result")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--verify", action="store_true", help="compare each scenario to a clean build")
    ap.add_argument(
        "--baseline",
        metavar="REV",
        help="also measure this git revision (same native sources), interleaved, with ratios",
    )
    ap.add_argument(
        "--rev",
        metavar="REV",
        help="measure this git revision instead of the working tree (which can then change)",
    )
    ap.add_argument(
        "--age",
        type=float,
        default=2.0,
        help="seconds between a build and the next edit in the scenarios that are not racy",
    )
    ap.add_argument("--update-docs", action="store_true")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bengal-bench-inc-"))
    site = work / "site"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.gen_site", "--pages", str(args.pages), str(site)],
        check=True,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    ours_pkg = checkout(args.rev) if args.rev else None
    variants = [Variant(args.rev or "this checkout", bengal_command(ours_pkg), site)]
    baseline_pkg = checkout(args.baseline) if args.baseline else None
    if baseline_pkg is not None:
        shutil.copytree(site, work / "base-site")
        variants.append(Variant(args.baseline, bengal_command(baseline_pkg), work / "base-site"))
    stats = work / "stats.json"
    try:
        plans = [edits(v.site, args.age) for v in variants]
        for k, (name, _, _) in enumerate(plans[0]):
            for i in range(args.repeat):
                # Alternate which variant goes first, so neither always meets a warm disk.
                order = variants if i % 2 == 0 else variants[::-1]
                for v in order:
                    _, edit, (before, after) = plans[variants.index(v)][k]
                    time.sleep(before)
                    edit(100 * k + i)  # every scenario's edits differ from the last one's
                    time.sleep(after)
                    v.runs.setdefault(name, []).append(bengal(v.command, v.site, stats))
                    v.stages[name] = top_stages(stats)
            if args.verify:
                for v in variants:
                    v.verified[name] = same_as_clean(v.command, v.site, work / "clean")
    finally:
        for pkg in (ours_pkg, baseline_pkg):
            if pkg is not None:
                drop_checkout(pkg)
    table = render_table(args, variants)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"incremental-{args.pages}.json"
    out.write_text(
        json.dumps(
            {
                "pages": args.pages,
                "variants": {
                    v.name: {"runs": v.runs, "stages": v.stages, "verified": v.verified}
                    for v in variants
                },
                "cpus": os.cpu_count(),
                "date": time.strftime("%Y-%m-%d"),
            },
            indent=2,
        )  # fmt: skip
    )
    if args.update_docs:
        cmd = (
            f"python -m benchmarks.bench_incremental --pages {args.pages} "
            f"--repeat {args.repeat}"
            + (" --verify" if args.verify else "")
            + (f" --baseline {args.baseline}" if args.baseline else "")
        )
        update_doc_block(
            REPO / "docs/performance.md",
            "<!-- incremental:begin -->",
            "<!-- incremental:end -->",
            f"`{cmd}` ({time.strftime('%Y-%m-%d')}):\n\n{table}\n",
            "## Incremental builds",
        )
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(all(v.verified.values()) for v in variants) else 1


def render_table(args: argparse.Namespace, variants: list[Variant]) -> str:
    ours = variants[0]
    base = variants[1] if len(variants) > 1 else None
    cold_median = statistics.median(ours.runs["cold build"])
    head = f"| scenario ({args.pages} pages) | median s | min s | % of cold |"
    rule = "|---|---:|---:|---:|"
    if base is not None:
        head += f" {base.name} median s | ratio |"
        rule += "---:|---:|"
    lines = [head + " dominant stages (ms) |", rule + "---|"]
    for name, times in ours.runs.items():
        med = statistics.median(times)
        mark = ""
        if args.verify:
            ok = all(v.verified.get(name) for v in variants)
            mark = " ✓" if ok else " ✗ differs"
        row = f"| {name}{mark} | {med:.2f} | {min(times):.2f} | {100 * med / cold_median:.1f}% |"
        if base is not None:
            bmed = statistics.median(base.runs[name])
            row += f" {bmed:.2f} | {med / bmed:.2f}x |"
        lines.append(row + f" {ours.stages[name]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
