"""Output writing: bengal_native.OutputWriter against plain Python file writes.

Three measurements, each printed as a table with ratios measured in the same run:

1. **Cold write** of ``--files`` small HTML files (2-12 KB, one directory per page as pretty URLs
   give, ``s<k>/p<i>/index.html``) into an empty tree: a plain ``open().write()`` loop, the fair
   atomic baseline (temp file in the same directory + ``os.replace``), and OutputWriter with 1, 2
   and 4 writer threads. For the writer, "producer" is the time until the last ``write()``
   returned (what a renderer would wait), "total" includes ``close()`` (everything on disk).
2. **Second run** over the same tree with the same bytes (an unchanged rebuild): the plain and
   atomic loops rewrite every file, a Python read-compare-then-write loop, and OutputWriter,
   which compares and skips (mtimes kept).
3. **Render + write**: ``--pages`` Markdown pages from benchmarks/gen_site.py, each rendered with
   ``bengal_native.render_markdown`` and wrapped in a Jinja2 page template (the Python-side cost
   per page), then written: sequentially (atomic loop) versus overlapped through OutputWriter.
   "Render only" is the lower bound; "I/O hidden" is the share of the sequential write time that
   the writer took off the critical path.

Plus the price of ``fsync=True`` on ``--fsync-files`` files. Each variant runs ``--repeat``
times in rotating order on a fresh tree (not timed: creating and deleting trees); the median is
reported and all runs kept in the JSON. Results: ``--out`` (default benchmarks/results/) gets
``writer-<date>-<host>-<fstype>.json`` and ``.md``. ``--dir /dev/shm`` (tmpfs) measures the
software cost per file without a disk; the default temp dir measures the real file system.

    PYTHONPATH=build/<dir>:python python3 -m benchmarks.bench_writer --files 10000 --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jinja2

import bengal_native
from benchmarks.bench_markdown import _cpu_model

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results"

PAGE_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} | Bench site</title>
<link rel="stylesheet" href="/css/site.css"></head>
<body><header><nav>{% for item in menu %}<a href="{{ item.url }}">{{ item.name }}</a>{% endfor %}
</nav></header>
<aside><ul>{% for level, id, text in toc %}<li class="l{{ level }}">
<a href="#{{ id }}">{{ text }}</a></li>{% endfor %}</ul></aside>
<main><h1>{{ title }}</h1>{{ content }}</main>
<footer>{% for tag in tags %}<a href="/tags/{{ tag }}/">#{{ tag }}</a> {% endfor %}</footer>
</body></html>
"""


# ---- the contestants ---------------------------------------------------------------------------

Files = Sequence[tuple[str, bytes]]


def write_plain(root: Path, files: Files) -> None:
    for rel, data in files:
        path = root / rel
        os.makedirs(path.parent, exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def write_atomic(root: Path, files: Files) -> None:
    """What a careful pure-Python writer does: temp in the same directory, then os.replace."""
    pid = os.getpid()
    for n, (rel, data) in enumerate(files):
        path = root / rel
        os.makedirs(path.parent, exist_ok=True)
        tmp = path.parent / f".~py.{pid}.{n}.tmp"
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)


def write_compare_then_atomic(root: Path, files: Files) -> None:
    """The atomic loop plus the identical-content check in Python (size, then bytes)."""
    pid = os.getpid()
    for n, (rel, data) in enumerate(files):
        path = root / rel
        try:
            if os.stat(path).st_size == len(data):
                with open(path, "rb") as f:
                    if f.read() == data:
                        continue
        except FileNotFoundError:
            pass
        os.makedirs(path.parent, exist_ok=True)
        tmp = path.parent / f".~py.{pid}.{n}.tmp"
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)


def write_with_writer(threads: int) -> Callable[[Path, Files], dict[str, Any]]:
    def run(root: Path, files: Files) -> dict[str, Any]:
        start = time.perf_counter()
        with bengal_native.OutputWriter(root, threads=threads) as w:
            for rel, data in files:
                w.write(rel, data)
            produced = time.perf_counter() - start
        stats = dict(w.stats())
        stats["producer_seconds"] = produced
        return stats

    return run


# ---- inputs ------------------------------------------------------------------------------------


def small_files(count: int, seed: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    words = [
        "static",
        "site",
        "generator",
        "output",
        "page",
        "markdown",
        "render",
        "write",
        "disk",
        "bytes",
    ]
    files = []
    for i in range(count):
        size = rng.randint(2_000, 12_000)
        body = " ".join(rng.choice(words) for _ in range(size // 6))
        html = f"<!doctype html><title>Page {i}</title><main><p>{body}</p></main>\n"
        files.append((f"s{i % 50}/p{i}/index.html", html.encode()[:size]))
    return files


def markdown_pages(count: int, seed: int, work: Path) -> list[str]:
    from benchmarks.gen_site import generate_site, load_bodies

    site = work / "site"
    generate_site(site, count, seed)
    bodies = load_bodies(site)
    shutil.rmtree(site)
    return bodies


# ---- timing ------------------------------------------------------------------------------------


def fresh_dir(base: Path, name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=name + "-", dir=base))
    return path


def rounds(
    variants: dict[str, Callable[[Path], Any]],
    repeat: int,
    base: Path,
    prepare: Callable[[Path], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Runs every variant `repeat` times in rotating order, each on its own fresh tree (filled by
    `prepare` first when given), after os.sync() so that no run pays for the previous one's
    writeback. Returns seconds per run and whatever the variant returned."""
    names = list(variants)
    results: dict[str, dict[str, Any]] = {n: {"seconds": [], "extra": []} for n in names}
    for r in range(repeat):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            root = fresh_dir(base, "tree")
            if prepare is not None:
                prepare(root)
            os.sync()  # start every run with no dirty pages from the previous one
            gc.collect()
            start = time.perf_counter()
            extra = variants[name](root)
            results[name]["seconds"].append(time.perf_counter() - start)
            results[name]["extra"].append(extra)
            # Trees are deleted only at the very end: on a disk mounted with `discard`, deleting
            # thousands of files makes the device busy for seconds and would slow the next run.
    return results


def summary(res: dict[str, Any], items: int) -> dict[str, Any]:
    secs = res["seconds"]
    med = statistics.median(secs)
    out: dict[str, Any] = {
        "median_s": med,
        "best_s": min(secs),
        "per_s": items / med,
        "runs_s": secs,
    }
    extras = [e for e in res["extra"] if isinstance(e, dict)]
    if extras:
        out["producer_median_s"] = statistics.median(e["producer_seconds"] for e in extras)
        last = extras[-1]
        out["writer_stats"] = {k: v for k, v in last.items() if k != "producer_seconds"}
    return out


# ---- the measurements ------------------------------------------------------------------------


def bench_cold(files: Files, threads: Sequence[int], repeat: int, base: Path) -> dict[str, Any]:
    variants: dict[str, Callable[[Path], Any]] = {
        "plain open().write()": lambda root: write_plain(root, files),
        "atomic temp + os.replace": lambda root: write_atomic(root, files),
    }
    for t in threads:
        variants[f"OutputWriter threads={t}"] = lambda root, t=t: write_with_writer(t)(root, files)
    return {k: summary(v, len(files)) for k, v in rounds(variants, repeat, base).items()}


def bench_warm(files: Files, threads: Sequence[int], repeat: int, base: Path) -> dict[str, Any]:
    def populate(root: Path) -> None:
        write_with_writer(1)(root, files)

    variants: dict[str, Callable[[Path], Any]] = {
        "plain open().write() (rewrites)": lambda root: write_plain(root, files),
        "atomic temp + os.replace (rewrites)": lambda root: write_atomic(root, files),
        "Python compare, then atomic": lambda root: write_compare_then_atomic(root, files),
    }
    for t in threads:
        variants[f"OutputWriter threads={t} (skips)"] = lambda root, t=t: write_with_writer(t)(
            root, files
        )
    results = rounds(variants, repeat, base, prepare=populate)
    return {k: summary(v, len(files)) for k, v in results.items()}


def bench_render_write(
    bodies: list[str], threads: Sequence[int], repeat: int, base: Path
) -> dict[str, Any]:
    template = jinja2.Environment(autoescape=False).from_string(PAGE_TEMPLATE)
    menu = [{"name": f"Section {i}", "url": f"/s{i}/"} for i in range(8)]
    index = bengal_native.XrefIndex()

    def render(i: int, body: str) -> str:
        result = bengal_native.render_markdown(body, xref_index=index)
        title = result.toc[0].text if result.toc else f"Page {i}"
        return template.render(
            title=title, content=result.html, toc=result.toc, menu=menu, tags=("a", "b", "c")
        )

    def render_only(root: Path) -> None:
        for i, body in enumerate(bodies):
            render(i, body)

    def sequential(root: Path) -> None:
        pid = os.getpid()
        for i, body in enumerate(bodies):
            html = render(i, body).encode()
            path = root / f"p{i}" / "index.html"
            os.makedirs(path.parent, exist_ok=True)
            tmp = path.parent / f".~py.{pid}.{i}.tmp"
            with open(tmp, "xb") as f:
                f.write(html)
            os.replace(tmp, path)

    def overlapped(threads: int) -> Callable[[Path], dict[str, Any]]:
        def run(root: Path) -> dict[str, Any]:
            start = time.perf_counter()
            with bengal_native.OutputWriter(root, threads=threads) as w:
                for i, body in enumerate(bodies):
                    w.write(f"p{i}/index.html", render(i, body))
                produced = time.perf_counter() - start
            stats = dict(w.stats())
            stats["producer_seconds"] = produced
            return stats

        return run

    variants: dict[str, Callable[[Path], Any]] = {
        "render only (no output)": render_only,
        "render, then atomic write (sequential)": sequential,
    }
    for t in threads:
        variants[f"render, OutputWriter threads={t} (overlapped)"] = overlapped(t)
    res = {k: summary(v, len(bodies)) for k, v in rounds(variants, repeat, base).items()}
    render_s = res["render only (no output)"]["median_s"]
    seq_s = res["render, then atomic write (sequential)"]["median_s"]
    io_s = seq_s - render_s
    for t in threads:
        r = res[f"render, OutputWriter threads={t} (overlapped)"]
        r["io_hidden"] = (seq_s - r["median_s"]) / io_s if io_s > 0 else None
    return res


def bench_fsync(files: Files, repeat: int, base: Path) -> dict[str, Any]:
    variants = {
        "OutputWriter fsync=False": lambda root: _writer_fsync(root, files, False),
        "OutputWriter fsync=True": lambda root: _writer_fsync(root, files, True),
    }
    return {k: summary(v, len(files)) for k, v in rounds(variants, repeat, base).items()}


def _writer_fsync(root: Path, files: Files, fsync: bool) -> dict[str, Any]:
    start = time.perf_counter()
    with bengal_native.OutputWriter(root, threads=2, fsync=fsync) as w:
        for rel, data in files:
            w.write(rel, data)
        produced = time.perf_counter() - start
    stats = dict(w.stats())
    stats["producer_seconds"] = produced
    return stats


# ---- report ------------------------------------------------------------------------------------


def _table(title: str, rows: dict[str, Any], baseline: str, unit: str) -> list[str]:
    base = rows[baseline]["per_s"]
    lines = [
        f"### {title}",
        "",
        f"| Variant | {unit}/s | ms (median) | spread | × {baseline} | producer ms | notes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, r in rows.items():
        producer = f"{r['producer_median_s'] * 1000:.0f}" if "producer_median_s" in r else ""
        # Half the min-max range of the runs, relative to the median: how noisy this row was.
        spread = (max(r["runs_s"]) - min(r["runs_s"])) / 2 / r["median_s"] * 100
        notes = []
        ws = r.get("writer_stats")
        if ws:
            notes.append(f"written {ws['files_written']}, skipped {ws['skipped_identical']}")
            notes.append(f"busy {ws['seconds_busy']:.2f}s, blocked {ws['seconds_blocked']:.2f}s")
        if r.get("io_hidden") is not None:
            notes.append(f"I/O hidden {r['io_hidden'] * 100:.0f}%")
        lines.append(
            f"| {name} | {r['per_s']:,.0f} | {r['median_s'] * 1000:.0f} | ±{spread:.0f}% | "
            f"{r['per_s'] / base:.2f} | {producer} | {'; '.join(notes)} |"
        )
    lines.append("")
    return lines


def render_markdown_report(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"Machine: {m['cpu_model']}, {m['usable_cores']} usable cores, Python {m['python']}, "
        f"file system {m['fs_type']}; median of {report['repeat']} runs per row, spread = half "
        f"the min-max range; load average {m['loadavg_start']} at start, {m['loadavg_end']} at "
        "end. Producer = time until the last write() returned (what the renderer waits for).",
        "",
    ]
    sections = [
        ("cold", f"Cold write: {report['files']:,} small files into an empty tree",
         "plain open().write()", "files"),
        ("warm", f"Second run over the same tree, same bytes ({report['files']:,} files)",
         "plain open().write() (rewrites)", "files"),
        ("render_write",
         f"Render + write: {report['pages']:,} Markdown pages (render_markdown + Jinja2)",
         "render, then atomic write (sequential)", "pages"),
        ("fsync", f"fsync price: {report['fsync_files']:,} files, OutputWriter threads=2",
         "OutputWriter fsync=False", "files"),
    ]  # fmt: skip
    for key, title, baseline, unit in sections:
        if key in report:
            lines += _table(title, report[key], baseline, unit)
    return "\n".join(lines)


def _fs_type(path: Path) -> str:
    """The file system type of the mount holding `path` (longest mount point prefix)."""
    best, kind = "", "unknown"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            mount_point = fields[1].replace("\\040", " ")
            inside = str(path) == mount_point or str(path).startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) >= len(best):
                best, kind = mount_point, fields[2]
    except (OSError, IndexError):
        pass
    return kind


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=2_000, help="pages for render + write")
    parser.add_argument("--fsync-files", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None, help="where trees are written")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--threads", default="1,2,4", help="writer thread counts to compare")
    parser.add_argument(
        "--sections", default="cold,warm,render,fsync", help="comma-separated subset to run"
    )
    args = parser.parse_args(argv)

    threads = [int(t) for t in args.threads.split(",")]
    sections = set(args.sections.split(","))
    unknown = sections - {"cold", "warm", "render", "fsync"}
    if unknown:
        parser.error(f"unknown sections: {sorted(unknown)}")
    loadavg_start = [round(x, 2) for x in os.getloadavg()]
    base = Path(tempfile.mkdtemp(prefix="bengal-bench-writer-", dir=args.dir))
    results: dict[str, Any] = {}
    try:
        fs_type = _fs_type(base)
        files = small_files(args.files, args.seed)
        print(f"{len(files)} files, {sum(len(d) for _, d in files) / 1e6:.1f} MB on {fs_type}")
        if "cold" in sections:
            print("cold write", flush=True)
            results["cold"] = bench_cold(files, threads, args.repeat, base)
        if "warm" in sections:
            print("second run (identical)", flush=True)
            results["warm"] = bench_warm(files, threads, args.repeat, base)
        if "render" in sections:
            print(f"render + write: generating {args.pages} pages", flush=True)
            bodies = markdown_pages(args.pages, args.seed, base)
            results["render_write"] = bench_render_write(bodies, threads, args.repeat, base)
        if "fsync" in sections:
            print(f"fsync: {args.fsync_files} files", flush=True)
            results["fsync"] = bench_fsync(files[: args.fsync_files], args.repeat, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    now = time.localtime()
    report: dict[str, Any] = {
        "benchmark": "bench_writer",
        "date": time.strftime("%Y-%m-%d", now),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", now),
        "files": args.files,
        "pages": args.pages,
        "fsync_files": args.fsync_files,
        "repeat": args.repeat,
        "seed": args.seed,
        "threads": threads,
        "machine": {
            "host": socket.gethostname(),
            "cpu_model": _cpu_model(),
            "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "fs_type": fs_type,
            "bengal_native_file": bengal_native.__file__,
            "loadavg_start": loadavg_start,
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        },
        **results,
    }
    table = render_markdown_report(report)
    print()
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"writer-{report['date']}-{report['machine']['host']}-{fs_type}"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(
        "<!-- Generated by benchmarks/bench_writer.py -->\n\n" + table + "\n"
    )
    print(f"\nwrote {args.out / (stem + '.json')} and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
