"""Asset extraction throughput, and the measurement behind track_assets' parallel cut-over.

One run generates a synthetic site (benchmarks/gen_site.py), renders every page with
bengal_native and wraps it in the realistic page templates of tests/python/html_oracle.py (the
same HTML the differential tests use), then measures over that corpus, in MB/s of UTF-8 HTML:

- ``bengal_native.extract_assets`` in a Python loop, one thread: on ``bytes`` pages, on ``str``
  pages whose UTF-8 form CPython has already cached (after a first pass, or after the page was
  written out through the same str), and on fresh ``str`` pages (CPython encodes each to UTF-8
  on the first call: that cost is CPython's, shared with whatever else needs the bytes);
- ``bengal_native.extract_assets_batch`` on the whole corpus (oneTBB, all cores);
- the HTMLParser oracle (tests/python/html_oracle.py), the pure-Python baseline;
- lxml (``lxml.html`` parse plus an attribute walk), skipped with the reason when not installed.

Then the track_assets cut-over: ``AssetDependencyMap.track_assets(pairs, parallel=False)`` vs
``parallel=True`` on batches of 1, 2, 3, 4, ... 256 pages, in alternating blocks of timings. The
smallest batch from which parallel wins at every larger size is printed in bytes; that number is
what ``kTrackAssetsParallelMinBytes`` in src/bengal_native/asset_map.hpp is set from.

Ratios are of medians; results go to ``--out`` as JSON and a Markdown table.

    python -m benchmarks.bench_assets --pages 1000 --repeat 5
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT / "tests" / "python"))  # the oracle and the page templates
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from html_oracle import generated_site_pages, oracle_extract  # noqa: E402

import bengal_native  # noqa: E402
from benchmarks.bench_markdown import _cpu_model  # noqa: E402

TARGET_SINGLE_MB_S = 1000.0  # ≥ 1 GB/s single-thread on typical pages
TARGET_VS_ORACLE = 50.0  # ≥ 50× the HTMLParser oracle
CUTOVER_SIZES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256)
CUTOVER_BLOCKS = 9


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ---- throughput ------------------------------------------------------------------------------


def _lxml_runner(pages: list[bytes]) -> tuple[Callable[[], None] | None, str | None]:
    try:
        import lxml.html  # type: ignore[import-not-found]
    except ImportError:
        return None, "lxml is not installed (pip install lxml to include it)"
    attrs = ("src", "srcset", "href", "poster", "data", "style", "imagesrcset")

    def run() -> None:
        for page in pages:
            doc = lxml.html.document_fromstring(page)
            for el in doc.iter():
                get = getattr(el, "get", None)
                if get is not None:
                    for a in attrs:
                        get(a)

    return run, None


def measure_throughput(pages: list[str], repeat: int, log: Callable[[str], None]) -> dict[str, Any]:
    as_bytes = [p.encode("utf-8") for p in pages]
    total = sum(len(b) for b in as_bytes)
    warm_str = list(pages)
    for p in warm_str:  # make CPython cache each str's UTF-8 form
        bengal_native.extract_assets(p)

    def fresh_strs() -> list[str]:
        # New str objects without a cached UTF-8 form (decoding does not fill that cache for
        # non-ASCII text; for ASCII-only text CPython's UTF-8 form is the str's own buffer).
        return [b.decode("utf-8") for b in as_bytes]

    def single(docs: Sequence[str | bytes]) -> None:
        for d in docs:
            bengal_native.extract_assets(d)

    def oracle() -> None:
        for p in pages:
            oracle_extract(p)

    contestants: list[tuple[str, str, Callable[[], None] | None, Callable[[], Any] | None]] = [
        ("native_single_bytes", "extract_assets, bytes pages (1 thread)",
         lambda: single(as_bytes), None),
        ("native_single_str", "extract_assets, str pages, UTF-8 cached (1 thread)",
         lambda: single(warm_str), None),
        ("native_single_str_fresh", "extract_assets, fresh str pages (1 thread)", None,
         fresh_strs),
        ("native_batch", f"extract_assets_batch, bytes ({_usable_cores()} cores)",
         lambda: bengal_native.extract_assets_batch(as_bytes), None),
        ("oracle", "HTMLParser oracle (pure Python)", oracle, None),
    ]  # fmt: skip
    lxml_run, lxml_skip = _lxml_runner(as_bytes)
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    if lxml_run is None:
        skipped["lxml"] = lxml_skip or "unavailable"
    else:
        contestants.append(("lxml", "lxml.html parse + attribute walk", lxml_run, None))

    samples: dict[str, list[float]] = {key: [] for key, *_ in contestants}
    for round_no in range(repeat):
        # Rotate the order so that drift in machine load hits every contestant alike.
        order = (
            contestants[round_no % len(contestants) :] + contestants[: round_no % len(contestants)]
        )
        for key, _label, run, prepare in order:
            gc.collect()
            if prepare is not None:
                docs = prepare()
                start = time.perf_counter()
                single(docs)
            else:
                assert run is not None
                start = time.perf_counter()
                run()
            samples[key].append(time.perf_counter() - start)
        log(f"  round {round_no + 1}/{repeat} done")
    for key, label, *_ in contestants:
        secs = samples[key]
        results[key] = {
            "label": label,
            "seconds": secs,
            "mb_per_s_median": total / statistics.median(secs) / 1e6,
            "mb_per_s_best": total / min(secs) / 1e6,
            "us_per_page_median": statistics.median(secs) / len(pages) * 1e6,
        }
    return {"results": results, "skipped": skipped, "bytes": total, "pages": len(pages)}


# ---- the track_assets cut-over ------------------------------------------------------------------


def _time_track(pairs: list[tuple[str, bytes]], parallel: bool, reps: int) -> float:
    times = []
    for _ in range(reps):
        m = bengal_native.AssetDependencyMap()
        start = time.perf_counter()
        m.track_assets(pairs, parallel=parallel)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_cutover(pages: list[str], log: Callable[[str], None]) -> dict[str, Any]:
    """Sequential vs parallel track_assets per batch size.

    The two modes alternate in BLOCKS short blocks (so that other load on the machine, and oneTBB
    workers going to sleep between calls, affect both alike); each block's median is a sample.
    The decision uses the best block of each mode (the least disturbed one): on a shared machine
    the medians also measure the neighbours. Both are reported.
    """
    as_bytes = [p.encode("utf-8") for p in pages]
    rows = []
    for n in CUTOVER_SIZES:
        if n > len(as_bytes):
            break
        pairs = [(f"p{i}.md", as_bytes[i]) for i in range(n)]
        size = sum(len(b) for b in as_bytes[:n])
        per_block = max(5, min(100, int(1_000_000 / size)))
        seq, par = [], []
        for _ in range(CUTOVER_BLOCKS):
            seq.append(_time_track(pairs, False, per_block))
            par.append(_time_track(pairs, True, per_block))
        rows.append({
            "pages": n,
            "bytes": size,
            "sequential_us": min(seq) * 1e6,
            "parallel_us": min(par) * 1e6,
            "speedup": min(seq) / min(par),
            "sequential_us_median": statistics.median(seq) * 1e6,
            "parallel_us_median": statistics.median(par) * 1e6,
            "speedup_median": statistics.median(seq) / statistics.median(par),
        })  # fmt: skip
        r = rows[-1]
        log(
            f"  {n:4d} pages {size:9d} B: sequential {r['sequential_us']:9.1f} µs, "
            f"parallel {r['parallel_us']:9.1f} µs (best blocks), x{r['speedup']:.2f}; "
            f"medians x{r['speedup_median']:.2f}"
        )
    # The cut-over: the smallest batch from which parallel is faster at every larger size.
    cut = None
    for i in range(len(rows)):
        if all(r["speedup"] > 1.0 for r in rows[i:]):
            cut = rows[i]
            break
    return {
        "rows": rows,
        "cutover_pages": cut["pages"] if cut else None,
        "cutover_bytes": cut["bytes"] if cut else None,
    }


# ---- report -----------------------------------------------------------------------------------


def render_table(report: dict[str, Any]) -> str:
    res = report["throughput"]["results"]
    base = res["oracle"]["mb_per_s_median"]
    lines = [
        "| Extractor | MB/s (median) | MB/s (best) | µs/page | × HTMLParser oracle |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in res.values():
        lines.append(
            f"| {r['label']} | {r['mb_per_s_median']:.1f} | {r['mb_per_s_best']:.1f} "
            f"| {r['us_per_page_median']:.1f} | {r['mb_per_s_median'] / base:.1f} |"
        )
    for key, why in report["throughput"]["skipped"].items():
        lines.append(f"| {key} | skipped: {why} | | | |")
    single = res["native_single_bytes"]["mb_per_s_median"]
    lines += [
        "",
        f"- single thread ≥ {TARGET_SINGLE_MB_S:.0f} MB/s: **{single:.0f} MB/s**, "
        f"target {'met' if single >= TARGET_SINGLE_MB_S else 'missed'}",
        f"- single thread vs HTMLParser ≥ {TARGET_VS_ORACLE:.0f}×: **{single / base:.0f}×**, "
        f"target {'met' if single / base >= TARGET_VS_ORACLE else 'missed'}",
        "",
        "track_assets cut-over (µs per call with a fresh map; best of "
        f"{CUTOVER_BLOCKS} alternating blocks, speed-up of the medians alongside):",
        "",
        "| pages | bytes | sequential µs | parallel µs | speed-up | speed-up (medians) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    cut = report["cutover"]
    for r in cut["rows"]:
        lines.append(
            f"| {r['pages']} | {r['bytes']} | {r['sequential_us']:.1f} | {r['parallel_us']:.1f} "
            f"| {r['speedup']:.2f} | {r['speedup_median']:.2f} |"
        )
    lines.append("")
    if cut["cutover_bytes"] is None:
        lines.append("- parallel never won at every larger size: no cut-over in this range")
    else:
        lines.append(
            f"- parallel wins from **{cut['cutover_pages']} pages / {cut['cutover_bytes']} bytes** "
            "of HTML per call upward (kTrackAssetsParallelMinBytes is set from this)"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_assets", description=__doc__)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per contestant")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, flush=True)

    with tempfile.TemporaryDirectory(prefix="bengal-bench-assets-") as tmp:
        log(f"generating and rendering {args.pages} pages ...")
        pages = generated_site_pages(Path(tmp) / "site", pages=args.pages, seed=args.seed)
    log(f"{len(pages)} pages, {sum(len(p.encode()) for p in pages) / 1e6:.1f} MB of HTML")
    log("throughput:")
    throughput = measure_throughput(pages, args.repeat, log)
    log("track_assets cut-over:")
    cutover = measure_cutover(pages, log)
    report = {
        "benchmark": "assets",
        "date": date.today().isoformat(),
        "machine": {
            "host": socket.gethostname(),
            "cpu_model": _cpu_model(),
            "usable_cores": _usable_cores(),
            "python": platform.python_version(),
            "git": _git_revision(),
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "bengal_native_file": getattr(bengal_native, "__file__", "?"),
        },
        "params": {"pages": args.pages, "seed": args.seed, "repeat": args.repeat},
        "throughput": throughput,
        "cutover": cutover,
    }
    table = render_table(report)
    print()
    print(table, end="")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"assets-{report['date']}-{socket.gethostname()}"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / f"{stem}.md").write_text(table, encoding="utf-8")
    log(f"\nwrote {args.out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
