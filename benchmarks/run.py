"""bengal against Hugo and a pure-Python pipeline, in one run, on the same generated content.

    python -m benchmarks.run [--sizes 1000,10000] [--only cold,rebuild,serve,native]
                             [--repeat 3] [--install-peers] [--no-docs]

Per size, a site from benchmarks/gen_site.py (deterministic, in a temporary directory, never
committed) plus Hugo's configuration and layouts from benchmarks/hugo/ (the same furniture as
bengal's default theme: header menu, breadcrumbs, TOC, tag list, prev/next, paginated lists,
taxonomy and term pages, feeds for home and sections; code highlighting off) -- then:

  cold     whole commands (interpreter start included), each after removing its output and
           caches: `bengal build` with every worker count from 1 to the cores, `hugo`, and
           benchmarks/python_pipeline.py (PyYAML + mistune + Jinja2 + html.parser);
  rebuild  whole commands after an edit: bengal's no-op, one-page body edit, one-page title
           edit and template edit; Hugo's command line rebuild after a body edit (Hugo has no
           incremental command line build: it is a full build, output dir present);
  serve    the dev servers: `bengal serve` (save -> reload event latency, its rebuild time) and
           `hugo server` (its own "Total in N ms" per rebuild), body edits;
  native   bengal_native's kernels: Markdown MB/s (vs md4c's md_html and mistune), asset
           extraction MB/s (vs html.parser), writer files/s (benchmarks/bench_*.py).

Every timed command runs after a warm-up, repeated (median of --repeat), in an order that
alternates between repetitions so that drift hits all tools; ratios are computed pair by pair
(one repetition's bengal against the same repetition's peer), then their median. Peak RSS is
each command's process tree (RUSAGE_CHILDREN of a fresh wrapper). A peer that is not installed
is skipped with the reason printed (--install-peers installs Hugo with apt-get when root).

Writes benchmarks/results/<date>-<host>.json (every run) and, unless --no-docs, the tables,
the command, the machine and a chart (docs/performance-run.png, when matplotlib is installed)
into docs/performance.md between <!-- run:begin --> and <!-- run:end -->.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_build import bengal_cmd, pipeline_cmd, timed
from benchmarks.bench_markdown import _cpu_model, _git_revision, _loadavg, _usable_cores
from benchmarks.common import proc_memory, retitled, stop, update_doc_block, with_paragraph
from benchmarks.gen_site import generate_site

ROOT = Path(__file__).resolve().parents[1]
HUGO_DIR = ROOT / "benchmarks" / "hugo"
DOCS = ROOT / "docs" / "performance.md"
CHART = ROOT / "docs" / "performance-run.png"
BEGIN, END = "<!-- run:begin -->", "<!-- run:end -->"
KINDS = ("cold", "rebuild", "serve", "native")
# A pip-installed bengal has compiled bytecode; these machines set PYTHONDONTWRITEBYTECODE,
# which would make every bengal command compile its modules again. Commands run as a user's.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
TARGETS = {"cold_vs_hugo": 5.0, "rss_vs_hugo": 5.0, "body_edit_ms": 250.0, "vs_pipeline": 20.0}


def _bengal_version() -> str:
    try:
        import bengal

        return str(bengal.__version__)
    except ImportError:
        return "?"


def log(msg: str) -> None:
    print(msg, flush=True)


# ---- peers ----------------------------------------------------------------------------------


def find_peers(install: bool) -> tuple[dict[str, str], dict[str, str]]:
    """(available peer -> version, skipped peer -> reason)."""
    found: dict[str, str] = {}
    skipped: dict[str, str] = {}
    hugo = shutil.which("hugo")
    if hugo is None and install:
        if os.geteuid() == 0:
            log("installing Hugo (apt-get install hugo)")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            subprocess.run(["apt-get", "update", "-q"], check=False, env=env,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "hugo"],
                           check=False, env=env, stdout=subprocess.DEVNULL)  # fmt: skip
            hugo = shutil.which("hugo")
        else:
            skipped["hugo"] = "not installed, and --install-peers needs root (apt-get install hugo)"
    if hugo is not None:
        out = subprocess.run([hugo, "version"], capture_output=True, text=True).stdout
        m = re.search(r"v(\d+\.\d+\.\d+)", out)
        found["hugo"] = m.group(1) if m else out.strip()
    elif "hugo" not in skipped:
        skipped["hugo"] = (
            "not installed (apt-get install hugo, or run with --install-peers as root)"
        )
    try:
        import mistune  # noqa: F401
        import yaml  # noqa: F401

        found["pipeline"] = "PyYAML + mistune " + str(getattr(mistune, "__version__", "?"))
    except ImportError as exc:
        skipped["pipeline"] = f"needs {exc.name} (pip install -e '.[bench]')"
    return found, skipped


def prepare_site(pages: int, work: Path) -> tuple[Path, int]:
    site = work / f"site-{pages}"
    generate_site(site, pages=pages, seed=0)
    title = re.search(r'^title = "(.*)"$', (site / "bengal.toml").read_text(), re.M)
    cfg = (HUGO_DIR / "hugo.toml.in").read_text(encoding="utf-8")
    (site / "hugo.toml").write_text(cfg.replace("@TITLE@", title.group(1) if title else ""))
    shutil.copytree(HUGO_DIR / "layouts", site / "layouts")
    sources = sum(1 for _ in (site / "content").rglob("*.md"))
    return site, sources


def hugo_cmd(site: Path, out: Path, cache: Path) -> list[str]:
    return ["hugo", "--source", str(site), "--destination", str(out), "--cacheDir", str(cache),
            "--quiet"]  # fmt: skip


def worker_counts() -> list[int]:
    cores = _usable_cores()
    counts = [1]
    n = 2
    while n < cores:
        counts.append(n)
        n *= 2
    if cores > 1:
        counts.append(cores)
    return counts


def ratio_pairs(base: list[float], other: list[float]) -> list[float]:
    return [o / b for b, o in zip(base, other, strict=True) if b > 0]


# ---- cold builds ----------------------------------------------------------------------------


def measure_cold(
    site: Path, sources: int, repeat: int, peers: dict[str, str], work: Path
) -> dict[str, Any]:
    outs = {name: work / f"out-{name}" for name in ("bengal", "hugo", "pipeline")}
    stats = work / "stats.json"
    tools = [f"bengal_{w}w" for w in worker_counts()]
    if "hugo" in peers:
        tools.append("hugo")
    if "pipeline" in peers:
        tools.append("pipeline")
    env = dict(ENV, PYTHONPATH=str(ROOT))

    def once(tool: str) -> tuple[float, int, int]:
        if tool.startswith("bengal_"):
            shutil.rmtree(outs["bengal"], ignore_errors=True)
            shutil.rmtree(site / ".bengal", ignore_errors=True)
            w = int(tool.split("_")[1][:-1])
            s, rss, _ = timed(bengal_cmd(site, outs["bengal"], stats, w), ENV)
            return s, rss, int(json.loads(stats.read_text())["pages"])
        if tool == "hugo":
            for d in (outs["hugo"], work / "hugo-cache", site / "resources"):
                shutil.rmtree(d, ignore_errors=True)
            s, rss, _ = timed(hugo_cmd(site, outs["hugo"], work / "hugo-cache"), ENV)
            return s, rss, sum(1 for _ in outs["hugo"].rglob("*.html"))
        shutil.rmtree(outs["pipeline"], ignore_errors=True)
        s, rss, out = timed(pipeline_cmd(site, outs["pipeline"]), env)
        return s, rss, int(out.split()[0])

    runs: dict[str, list[dict[str, float]]] = {t: [] for t in tools}
    for t in tools:  # warm-up: page cache, bytecode, Jinja's and Hugo's first-run costs
        once(t)
    for i in range(repeat):
        order = tools[i % len(tools) :] + tools[: i % len(tools)]
        if i % 2:
            order.reverse()
        for t in order:
            s, rss, html = once(t)
            runs[t].append({"seconds": s, "rss_kib": rss, "html_files": html})
            log(f"    cold {t:<12} {s:7.2f} s  {sources / s:7.0f} pages/s  {rss / 1024:6.0f} MiB")
    best = f"bengal_{worker_counts()[-1]}w"
    res: dict[str, Any] = {"runs": runs, "sources": sources, "bengal": best}
    res["median_seconds"] = {t: statistics.median(r["seconds"] for r in v) for t, v in runs.items()}
    res["pages_per_second"] = {t: sources / s for t, s in res["median_seconds"].items()}
    res["peak_rss_mib"] = {t: max(r["rss_kib"] for r in v) / 1024 for t, v in runs.items()}
    res["html_files"] = {t: v[0]["html_files"] for t, v in runs.items()}
    b = [r["seconds"] for r in runs[best]]
    for peer in ("hugo", "pipeline"):
        if peer in runs:
            pairs = ratio_pairs(b, [r["seconds"] for r in runs[peer]])
            res[f"speedup_vs_{peer}"] = statistics.median(pairs)
            res[f"speedup_vs_{peer}_pairs"] = pairs
    if "hugo" in runs:
        res["rss_ratio_hugo"] = res["peak_rss_mib"]["hugo"] / res["peak_rss_mib"][best]
    one = [r["seconds"] for r in runs["bengal_1w"]]
    res["scaling"] = {t: statistics.median(ratio_pairs([r["seconds"] for r in runs[t]], one))
                      for t in runs if t.startswith("bengal_")}  # fmt: skip
    return res


# ---- rebuilds (whole commands) --------------------------------------------------------------


def edit_body(path: Path, i: int) -> None:
    path.write_text(with_paragraph(path.read_text(encoding="utf-8"), i), encoding="utf-8")


def edit_title(path: Path, i: int) -> None:
    path.write_text(retitled(path.read_text(encoding="utf-8"), i), encoding="utf-8")


def measure_rebuild(site: Path, repeat: int, peers: dict[str, str], work: Path) -> dict[str, Any]:
    out_b, out_h, cache_h = work / "rb-bengal", work / "rb-hugo", work / "rb-hugo-cache"
    stats = work / "rb-stats.json"
    pages = sorted(p for p in (site / "content").rglob("*.md") if not p.name.startswith("_"))
    victim = pages[len(pages) // 2]
    template = site / "templates" / "single.html"
    theme = ROOT / "python" / "bengal" / "theme" / "templates" / "single.html"
    shutil.rmtree(site / ".bengal", ignore_errors=True)
    timed(bengal_cmd(site, out_b, stats, None), ENV)  # the build the rebuilds start from
    has_hugo = "hugo" in peers
    if has_hugo:
        timed(hugo_cmd(site, out_h, cache_h), ENV)

    def bengal_after(prepare: Any, i: int) -> tuple[float, int, int]:
        prepare(i)
        time.sleep(0.15)  # past the racy window, as a writer's save is before a build
        s, rss, _ = timed(bengal_cmd(site, out_b, stats, None), ENV)
        return s, rss, int(json.loads(stats.read_text()).get("rendered", 0))

    def tmpl(i: int) -> None:
        template.parent.mkdir(exist_ok=True)
        template.write_text(theme.read_text() + f"\n<!-- edit {i} -->\n", encoding="utf-8")

    scenarios = {
        "no-op": lambda i: None,
        "body edit": lambda i: edit_body(victim, i),
        "title edit": lambda i: edit_title(victim, i),
        "template edit": tmpl,
    }
    runs: dict[str, list[dict[str, float]]] = {}
    for name, prep in scenarios.items():
        for i in range(repeat):
            s, rss, rendered = bengal_after(prep, 100 * len(runs) + i)
            runs.setdefault(f"bengal {name}", []).append(
                {"seconds": s, "rss_kib": rss, "rendered": rendered}
            )
            if has_hugo and name == "body edit":  # alternate: the same edit, then Hugo
                edit_body(victim, 1000 + i)
                s, rss, _ = timed(hugo_cmd(site, out_h, cache_h), ENV)
                runs.setdefault("hugo body edit (full rebuild)", []).append(
                    {"seconds": s, "rss_kib": rss, "rendered": 0}
                )
        log(
            f"    rebuild bengal {name:<14} {statistics.median(r['seconds'] for r in runs[f'bengal {name}']) * 1000:7.0f} ms"
        )
    shutil.rmtree(template.parent, ignore_errors=True)
    res: dict[str, Any] = {"runs": runs}
    res["median_ms"] = {
        k: statistics.median(r["seconds"] for r in v) * 1000 for k, v in runs.items()
    }
    res["peak_rss_mib"] = {k: max(r["rss_kib"] for r in v) / 1024 for k, v in runs.items()}
    if has_hugo:
        pairs = ratio_pairs([r["seconds"] for r in runs["bengal body edit"]],
                            [r["seconds"] for r in runs["hugo body edit (full rebuild)"]])  # fmt: skip
        res["body_edit_speedup_vs_hugo"] = statistics.median(pairs)
        log(
            f"    rebuild hugo body edit      {res['median_ms']['hugo body edit (full rebuild)']:7.0f} ms"
        )
    return res


# ---- dev servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure_hugo_server(site: Path, edits: int, gap: float, work: Path) -> dict[str, Any]:
    """`hugo server` (Hugo 0.111 renders to memory by default, its fastest mode): its own
    "Total in N ms" for each body edit."""
    port = free_port()
    proc = subprocess.Popen(
        ["hugo", "server", "--source", str(site), "--port", str(port), "--bind", "127.0.0.1",
         "--cacheDir", str(work / "hs-cache")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV,
    )  # fmt: skip
    totals: list[float] = []
    cond = threading.Condition()
    started = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "Web Server is available" in line:
                started.set()
            m = re.search(r"Total in (\d+(?:\.\d+)?) ms", line)
            if m:
                with cond:
                    totals.append(float(m.group(1)))
                    cond.notify_all()

    threading.Thread(target=read, daemon=True).start()
    t0 = time.perf_counter()
    try:
        while not started.wait(1.0):
            if proc.poll() is not None or time.perf_counter() - t0 > 1800:
                raise RuntimeError(f"hugo server did not start (exit status {proc.poll()})")
        startup = time.perf_counter() - t0
        pages = sorted(p for p in (site / "content").rglob("*.md") if not p.name.startswith("_"))
        times: list[float] = []
        for i in range(edits):
            before = len(totals)
            edit_body(pages[(i * 7919) % len(pages)], 5000 + i)
            with cond:
                if not cond.wait_for(lambda b=before: len(totals) > b or proc.poll() is not None,
                                     timeout=600) or len(totals) <= before:  # fmt: skip
                    raise RuntimeError("hugo server did not rebuild")
                times.append(totals[-1])
            time.sleep(gap)
        rss = proc_memory(proc.pid).get("VmHWM", 0.0)
    finally:
        stop(proc)
    return {
        "startup_s": startup,
        "rebuild_ms": times,
        "rebuild_median_ms": statistics.median(times),
        "peak_rss_mib": rss,
    }


def measure_serve(
    pages: int, edits: int, peers: dict[str, str], work: Path, site: Path
) -> dict[str, Any]:
    from benchmarks import bench_serve

    res: dict[str, Any] = {"bengal": bench_serve.run_size(pages, edits, 3, 1.5, work, site)}
    b = res["bengal"]["body_edit"]
    log(f"    serve bengal body edit: reload event {b['latency_median_ms']:.0f} ms median, "
        f"rebuild {b['build_median_ms']:.0f} ms")  # fmt: skip
    if "hugo" in peers:
        res["hugo"] = measure_hugo_server(site, edits, 1.5, work)
        log(f"    serve hugo   body edit: rebuild {res['hugo']['rebuild_median_ms']:.0f} ms")
    return res


# ---- native kernels -------------------------------------------------------------------------


def measure_native(
    pages: int, repeat: int, work: Path, build_harness: bool = True
) -> dict[str, Any]:
    out = work / "native"
    out.mkdir(exist_ok=True)
    (work / "writer").mkdir(exist_ok=True)
    res: dict[str, Any] = {}
    py = sys.executable
    env = dict(ENV, PYTHONPATH=str(ROOT))
    runs = {
        "markdown": [py, "-m", "benchmarks.bench_markdown", "--pages", str(pages), "--repeat",
                     str(repeat), "--out", str(out)] + ([] if build_harness else ["--no-build-harness"]),
        "assets": [py, "-m", "benchmarks.bench_assets", "--pages", str(pages), "--repeat",
                   str(repeat), "--out", str(out)],
        "writer": [py, "-m", "benchmarks.bench_writer", "--files", str(max(pages, 200)),
                   "--pages", str(max(pages // 5, 50)), "--fsync-files", "50", "--repeat",
                   str(repeat), "--threads", "1,2", "--dir", str(work / "writer"), "--out", str(out)],
    }  # fmt: skip
    for name, cmd in runs.items():
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            res[name] = {"skipped": f"failed: {proc.stderr[-500:]}"}
            continue
        files = sorted(out.glob(f"{name}-*.json"))
        res[name] = json.loads(files[-1].read_text()) if files else {"skipped": "no result"}
    md = res.get("markdown", {}).get("results", {})
    summary: dict[str, float] = {}
    for key, label in (("bengal", "bengal_native, 1 thread"), ("bengal_batch", "bengal_native batch"),
                       ("md_html", "md4c md_html"), ("mistune", "mistune")):  # fmt: skip
        if key in md:
            summary[f"markdown MB/s: {label}"] = md[key]["mb_per_s_median"]
    th = res.get("assets", {}).get("throughput", {}).get("results", {})
    for key, label in (("native_single_bytes", "native, 1 thread"), ("native_batch", "native batch"),
                       ("oracle", "html.parser")):  # fmt: skip
        if key in th:
            summary[f"asset extraction MB/s: {label}"] = th[key]["mb_per_s_median"]
    cold = res.get("writer", {}).get("cold", {})
    for key in ("atomic temp + os.replace", "OutputWriter threads=1", "OutputWriter threads=2"):
        if key in cold:
            summary[f"writer files/s: {key}"] = cold[key]["per_s"]
    res["summary"] = summary
    for k, v in summary.items():
        log(f"    native {k}: {v:,.0f}")
    return res


# ---- report ---------------------------------------------------------------------------------


def fmt_ratio(x: float | None, target: float | None = None) -> str:
    if x is None:
        return "–"
    s = f"{x:.2f}×"
    if target is not None:
        s += " ✓" if x >= target else f" (target ≥ {target:g}×: missed)"
    return s


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        f"`{report['command']}` — {report['date']}, {m['cpu_model']}, {m['usable_cores']} cores, "
        f"Python {m['python']}, bengal {m.get('bengal', '?')}, Hugo {report['peers'].get('hugo', 'not run')}, git {m['git']}.",
        "",
    ]
    for name, why in report["skipped"].items():
        lines.append(f"- {name} skipped: {why}")
    if report["skipped"]:
        lines.append("")
    sizes = report["sizes"]
    if any("cold" in s for s in sizes):
        lines += ["### Cold builds (whole command)", "",
                  "| pages | tool | median | pages/s | peak RSS | bengal faster by (pairwise) |",
                  "|---:|---|---:|---:|---:|---:|"]  # fmt: skip
        for s in sizes:
            c = s.get("cold")
            if not c:
                continue
            for t, sec in c["median_seconds"].items():
                vs = ""
                if t == "hugo":
                    vs = fmt_ratio(c.get("speedup_vs_hugo"), TARGETS["cold_vs_hugo"])
                elif t == "pipeline":
                    vs = fmt_ratio(c.get("speedup_vs_pipeline"), TARGETS["vs_pipeline"])
                lines.append(f"| {s['pages']:,} | {t} | {sec:.2f} s | {c['pages_per_second'][t]:,.0f} | "
                             f"{c['peak_rss_mib'][t]:,.0f} MiB | {vs} |")  # fmt: skip
        lines.append("")
        for s in sizes:
            c = s.get("cold")
            if not c:
                continue
            rss = ""
            if "rss_ratio_hugo" in c:
                ratio = fmt_ratio(c["rss_ratio_hugo"], TARGETS["rss_vs_hugo"])
                rss = f"Hugo's peak RSS is {ratio} bengal's; "
            scaling = ", ".join(f"{k} {v:.2f}×" for k, v in c["scaling"].items())
            lines.append(f"- {s['pages']:,} pages: {rss}scaling (1 worker = 1.00×): {scaling}")
        lines.append("")
    if any("rebuild" in s for s in sizes):
        lines += ["### Rebuilds (whole command)", "", "| pages | scenario | median | peak RSS |",
                  "|---:|---|---:|---:|"]  # fmt: skip
        for s in sizes:
            r = s.get("rebuild")
            if not r:
                continue
            for k, ms in sorted(r["median_ms"].items(), key=lambda kv: kv[0].startswith("hugo")):
                mark = ""
                if k == "bengal body edit":
                    goal = TARGETS["body_edit_ms"]
                    mark = " ✓" if ms <= goal else f" (target ≤ {goal:g} ms: missed)"
                lines.append(
                    f"| {s['pages']:,} | {k} | {ms:,.0f} ms{mark} | {r['peak_rss_mib'][k]:,.0f} MiB |"
                )
            if "body_edit_speedup_vs_hugo" in r:
                lines.append(f"| {s['pages']:,} | body edit: bengal faster than Hugo's CLI by | "
                             f"{fmt_ratio(r['body_edit_speedup_vs_hugo'])} | |")  # fmt: skip
        lines.append("")
    if any("serve" in s for s in sizes):
        lines += ["### Dev servers, one-page body edit", "",
                  "| pages | server | rebuild, median | save → reload event, median (p95) | peak RSS |",
                  "|---:|---|---:|---:|---:|"]  # fmt: skip
        for s in sizes:
            v = s.get("serve")
            if not v:
                continue
            b = v["bengal"]["body_edit"]
            lines.append(f"| {s['pages']:,} | bengal serve | {b['build_median_ms']:.1f} ms | "
                         f"{b['latency_median_ms']:.1f} ms ({b['latency_p95_ms']:.1f}) | "
                         f"{v['bengal']['peak_rss_mib']:,.0f} MiB |")  # fmt: skip
            if "hugo" in v:
                h = v["hugo"]
                lines.append(f"| {s['pages']:,} | hugo server (to memory) | {h['rebuild_median_ms']:.0f} ms | – | "
                             f"{h['peak_rss_mib']:,.0f} MiB |")  # fmt: skip
        lines.append("")
    natives = [s for s in sizes if "native" in s]
    if natives:
        lines += ["### Native kernels", "", "| kernel | median |", "|---|---:|"]
        for k, v in natives[0]["native"]["summary"].items():
            lines.append(f"| {k} | {v:,.0f} |")
        lines.append("")
    if report.get("chart"):
        lines += [f"![pages/s and rebuild times]({report['chart']})", ""]
    return "\n".join(lines)


def chart(report: dict[str, Any], path: Path) -> str | None:
    """pages/s by tool and size; rebuild latency by scenario. None when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    sizes = [s for s in report["sizes"] if "cold" in s or "rebuild" in s]
    if not sizes:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    ax = axes[0]
    tools = sorted({t for s in sizes if "cold" in s for t in s["cold"]["pages_per_second"]})
    width = 0.8 / max(1, len(tools))
    for j, t in enumerate(tools):
        xs = [i + j * width for i, s in enumerate(sizes) if "cold" in s]
        ys = [s["cold"]["pages_per_second"].get(t, 0) for s in sizes if "cold" in s]
        ax.bar(xs, ys, width, label=t)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(sizes))])
    ax.set_xticklabels([f"{s['pages']:,} pages" for s in sizes])
    ax.set_ylabel("pages/s (cold build, whole command)")
    ax.set_title("Cold build throughput")
    ax.legend(fontsize=8)
    ax = axes[1]
    biggest = sizes[-1]
    items: list[tuple[str, float]] = []
    if "rebuild" in biggest:
        items += list(biggest["rebuild"]["median_ms"].items())
    if "serve" in biggest:
        items.append(
            (
                "bengal serve body edit (rebuild)",
                biggest["serve"]["bengal"]["body_edit"]["build_median_ms"],
            )
        )
        if "hugo" in biggest["serve"]:
            items.append(("hugo server body edit", biggest["serve"]["hugo"]["rebuild_median_ms"]))
    if items:
        ax.barh([k for k, _ in items], [v for _, v in items])
        ax.set_xscale("log")
        ax.set_xlabel("milliseconds (log scale)")
        ax.set_title(f"Rebuilds at {biggest['pages']:,} pages")
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument(
        "--only",
        default=",".join(KINDS),
        help="comma list of " + ", ".join(KINDS) + " ('incremental' = rebuild,serve)",
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--edits", type=int, default=20, help="dev server edits per size")
    ap.add_argument("--install-peers", action="store_true", help="apt-get install hugo (root)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--no-docs", action="store_true", help="do not touch docs/performance.md")
    ap.add_argument(
        "--no-build-harness",
        action="store_true",
        help="skip md4c's md_html row unless the C++ harness is already built (bench_markdown)",
    )
    args = ap.parse_args(argv)
    only = [k for k in args.only.split(",") if k]
    if "incremental" in only:  # the name for both kinds of rebuild
        only = [k for k in only if k != "incremental"] + ["rebuild", "serve"]
    bad = [k for k in only if k not in KINDS]
    if bad:
        ap.error(f"unknown --only {bad}; choose from {', '.join(KINDS)}")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    peers, skipped = find_peers(args.install_peers)
    for name, why in skipped.items():
        log(f"skipping {name}: {why}")
    host = socket.gethostname().split(".")[0]
    today = dt.date.today().isoformat()
    report: dict[str, Any] = {
        "command": "python -m benchmarks.run "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": today,
        "machine": {
            "host": host,
            "cpu_model": _cpu_model(),
            "usable_cores": _usable_cores(),
            "python": platform.python_version(),
            "bengal": _bengal_version(),
            "platform": platform.platform(),
            "git": _git_revision(),
        },
        "peers": peers,
        "skipped": skipped,
        "sizes": [],
    }
    work = Path(tempfile.mkdtemp(prefix="bengal-run-"))
    try:
        for n in sizes:
            log(f"== {n} pages")
            site, sources = prepare_site(n, work)
            entry: dict[str, Any] = {"pages": n, "sources": sources}
            if "cold" in only:
                entry["cold"] = measure_cold(site, sources, args.repeat, peers, work)
            if "rebuild" in only:
                entry["rebuild"] = measure_rebuild(site, args.repeat, peers, work)
            if "serve" in only:
                entry["serve"] = measure_serve(n, args.edits, peers, work, site)
            if "native" in only and n == sizes[0]:
                entry["native"] = measure_native(
                    min(n, 1000), args.repeat, work, not args.no_build_harness
                )
            report["sizes"].append(entry)
            shutil.rmtree(site, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["machine"]["loadavg_end"] = _loadavg()
    if not args.no_docs:
        report["chart"] = chart(report, CHART)
    args.out.mkdir(parents=True, exist_ok=True)
    result = args.out / f"{today}-{host}.json"
    result.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    text = render(report)
    print(text)
    log(f"wrote {result}")
    if not args.no_docs:
        update_doc_block(
            DOCS, BEGIN, END, text + "\n", "## bengal, Hugo and a Python pipeline, one run"
        )
        log(f"updated {DOCS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
