"""Incremental build benchmark: whole `bengal build` commands (interpreter start included) on a
generated site -- cold, no-op, one-page body edit, one-page title edit, one template edit --
and the stages that dominate each. Every scenario is also checked against a clean build of the
same sources (byte-identical output), so a fast wrong answer cannot pass for a result.

    python -m benchmarks.bench_incremental --pages 10000 --repeat 3

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
from pathlib import Path

from benchmarks.common import retitled, update_doc_block, with_paragraph

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"


# A pip-installed bengal has compiled bytecode; an editable install gets it on first import
# unless PYTHONDONTWRITEBYTECODE is set (as on these machines), which would make every command
# compile bengal's modules again (~30 ms). Commands run as a user's would.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def bengal(site: Path, stats: Path) -> float:
    cmd = [sys.executable, "-m", "bengal", "build", str(site), "-q", "--stats-json", str(stats)]
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


def same_as_clean(site: Path, scratch: Path) -> bool:
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(site, scratch, ignore=shutil.ignore_patterns("public", ".bengal"))
    subprocess.run([sys.executable, "-m", "bengal", "build", str(scratch), "-q"], check=True)
    return snapshot(site / "public") == snapshot(scratch / "public")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=10000)
    ap.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON result")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--verify", action="store_true", help="compare each scenario to a clean build")
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
    stats = work / "stats.json"
    pages = sorted(p for p in (site / "content").rglob("*.md") if not p.name.startswith("_"))
    victim = pages[len(pages) // 2]
    template = site / "templates" / "single.html"
    rows: dict[str, list[float]] = {}
    stages: dict[str, str] = {}
    verified: dict[str, bool] = {}

    def measure(name: str, prepare) -> None:  # type: ignore[no-untyped-def]
        for i in range(args.repeat):
            prepare(i)
            # Let the edit age past the racy window, as a writer's save does before a build.
            time.sleep(0.15)
            rows.setdefault(name, []).append(bengal(site, stats))
            stages[name] = top_stages(stats)
        if args.verify:
            verified[name] = same_as_clean(site, work / "clean")

    def cold(i: int) -> None:
        shutil.rmtree(site / "public", ignore_errors=True)
        shutil.rmtree(site / ".bengal", ignore_errors=True)

    def noop(i: int) -> None:
        pass

    def body(i: int) -> None:
        victim.write_text(with_paragraph(victim.read_text(encoding="utf-8"), i), "utf-8")

    def title(i: int) -> None:
        victim.write_text(retitled(victim.read_text(encoding="utf-8"), i), "utf-8")

    def tmpl(i: int) -> None:
        template.parent.mkdir(exist_ok=True)
        theme = REPO / "python/bengal/theme/templates/single.html"
        template.write_text(theme.read_text() + f"\n<!-- edit {i} -->\n", encoding="utf-8")

    measure("cold build", cold)
    measure("no-op", noop)
    measure("one-page body edit", body)
    measure("one-page title edit", title)
    measure("template edit (single.html)", tmpl)

    cold_median = statistics.median(rows["cold build"])
    lines = [
        f"| scenario ({args.pages} pages) | median s | min s | % of cold | dominant stages (ms) |",
        "|---|---:|---:|---:|---|",
    ]
    for name, times in rows.items():
        med = statistics.median(times)
        mark = "" if not args.verify else (" ✓" if verified.get(name) else " ✗ differs")
        lines.append(
            f"| {name}{mark} | {med:.2f} | {min(times):.2f} | {100 * med / cold_median:.1f}% "
            f"| {stages[name]} |"
        )
    table = "\n".join(lines)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"incremental-{args.pages}.json"
    out.write_text(
        json.dumps(
            {
                "pages": args.pages,
                "runs": rows,
                "stages": stages,
                "verified": verified,
                "cpus": os.cpu_count(),
                "date": time.strftime("%Y-%m-%d"),
            },
            indent=2,
        )  # fmt: skip
    )
    if args.update_docs:
        cmd = (
            f"python -m benchmarks.bench_incremental --pages {args.pages} "
            f"--repeat {args.repeat}" + (" --verify" if args.verify else "")
        )
        update_doc_block(
            REPO / "docs/performance.md",
            "<!-- incremental:begin -->",
            "<!-- incremental:end -->",
            f"`{cmd}` ({time.strftime('%Y-%m-%d')}):\n\n{table}\n",
            "## Incremental builds",
        )
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(verified.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
