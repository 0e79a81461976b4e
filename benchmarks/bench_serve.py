"""Dev server benchmark: save-to-reload-event latency of `bengal serve` on generated sites.

For each size, starts `bengal serve SITE --port 0` as a user would (its own process), listens
to its Server-Sent Events like a browser tab, then edits one page's Markdown on disk again and
again: latency = from just before the file is opened for writing to the `reload` event arriving
at the listener (so it includes the watcher's notification and debounce, the rebuild, and the
event's trip through the socket -- an upper bound on "until the message leaves the server").
Edits are spaced out like a writer's saves (the server writes its cache when idle). Also
reported: the server's own rebuild time per edit (from /__bengal/status.json), the first build,
and the server's memory (VmRSS / VmHWM from /proc) after the edits. A few title edits (front
matter: the ordinary incremental build) are measured too, as context.

    python -m benchmarks.bench_serve --sizes 1000,10000 --edits 20

Writes benchmarks/results/serve.json and prints a table; --update-docs puts the table into
docs/performance.md. Never run as a timed test (the smoke test only checks it works).
"""

from __future__ import annotations

import argparse
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
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.common import proc_memory, retitled, stop, update_doc_block, with_paragraph

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class Listener:
    """An SSE client: records (event, time.monotonic_ns() at arrival)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.sock.sendall(b"GET /__bengal/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.file = self.sock.makefile("rb")
        self.events: list[tuple[str, int]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        event = ""
        for raw in self.file:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line == "" and event:
                with self.cond:
                    self.events.append((event, time.monotonic_ns()))
                    self.cond.notify_all()
                event = ""

    def wait(self, name: str, after: int, timeout: float = 120.0) -> int:
        """Arrival time of the first `name` event after index `after`."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for ev, t in self.events[after:]:
                    if ev == name:
                        return t
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {name} event within {timeout} s")
                self.cond.wait(left)

    def close(self) -> None:
        self.sock.close()


def status(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__bengal/status.json") as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def run_size(
    pages: int, edits: int, title_edits: int, gap: float, work: Path, site: Path | None = None
) -> dict[str, Any]:
    """Measure one size on `site` (default: a new generated site in `work`)."""
    if site is None:
        site = work / f"site-{pages}"
        subprocess.run(
            [sys.executable, "-m", "benchmarks.gen_site", "--pages", str(pages), str(site)],
            check=True, cwd=REPO, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bengal", "serve", str(site), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV,
    )  # fmt: skip
    log: list[str] = []
    try:
        assert proc.stdout is not None
        port = 0
        for line in proc.stdout:
            log.append(line)
            m = re.search(r"^serving .* at http://127\.0\.0\.1:(\d+)/", line)
            if m:
                port = int(m.group(1))
                break
        if not port:
            raise RuntimeError("bengal serve did not start:\n" + "".join(log))
        startup = time.perf_counter() - t0
        threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True).start()  # type: ignore[arg-type]
        listener = Listener(port)
        listener.wait("hello", 0)
        time.sleep(gap)
        files = sorted(p for p in (site / "content").rglob("*.md") if not p.name.startswith("_"))

        def edit(kind: str, i: int) -> tuple[float, float]:
            victim = files[(i * 7919) % len(files)]
            text = victim.read_text(encoding="utf-8")
            text = with_paragraph(text, i) if kind == "body" else retitled(text, i)
            before = len(listener.events)
            t_write = time.monotonic_ns()
            with open(victim, "w", encoding="utf-8") as f:
                f.write(text)
            t_event = listener.wait("reload", before)
            build_s = float(status(port)["last_seconds"] or 0.0)
            time.sleep(gap)  # a writer's pace: the server writes its cache when idle
            return (t_event - t_write) / 1e6, build_s * 1000

        body = [edit("body", i) for i in range(edits)]
        titles = [edit("title", 1000 + i) for i in range(title_edits)]
        mem = proc_memory(proc.pid)
        listener.close()
    finally:
        stop(proc)

    def summary(rows: list[tuple[float, float]]) -> dict[str, Any]:
        lat = [r[0] for r in rows]
        bld = [r[1] for r in rows]
        if not rows:
            return {"n": 0}
        return {
            "n": len(rows),
            "latency_ms": lat,
            "build_ms": bld,
            "latency_median_ms": statistics.median(lat),
            "latency_p95_ms": pct(lat, 0.95),
            "build_median_ms": statistics.median(bld),
        }

    return {
        "pages": pages,
        "startup_s": startup,
        "body_edit": summary(body),
        "title_edit": summary(titles),
        "rss_mib": mem.get("VmRSS"),
        "peak_rss_mib": mem.get("VmHWM"),
    }


def render_table(report: dict[str, Any]) -> str:
    lines = [
        "| pages | edits | body edit: save → reload event, median | p95 | server rebuild, median "
        "| title edit, median (n) | first build + start | server RSS (peak) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["sizes"]:
        b, t = r["body_edit"], r["title_edit"]
        title = f"{t['latency_median_ms']:.0f} ms ({t['n']})" if t["n"] else "-"
        lines.append(
            f"| {r['pages']:,} | {b['n']} | **{b['latency_median_ms']:.1f} ms** | "
            f"{b['latency_p95_ms']:.1f} ms | {b['build_median_ms']:.1f} ms | {title} | "
            f"{r['startup_s']:.1f} s | {r['rss_mib']:.0f} MiB ({r['peak_rss_mib']:.0f}) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--edits", type=int, default=20, help="body edits per size (>= 20 for p95)")
    ap.add_argument("--title-edits", type=int, default=5)
    ap.add_argument("--gap", type=float, default=1.5, help="seconds between edits")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--update-docs", action="store_true")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bengal-bench-serve-"))
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        report: dict[str, Any] = {
            "command": "python -m benchmarks.bench_serve " + " ".join(argv or sys.argv[1:]),
            "machine": {
                "cores": os.cpu_count(),
                "cpu": platform.processor() or platform.machine(),
                "python": platform.python_version(),
            },  # fmt: skip
            "sizes": [run_size(n, args.edits, args.title_edits, args.gap, work) for n in sizes],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = render_table(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "serve.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table)
    if args.update_docs:
        update_doc_block(
            REPO / "docs" / "performance.md",
            "<!-- serve:begin -->",
            "<!-- serve:end -->",
            f"`{report['command']}`\n\n{table}",
            "## Dev server (`bengal serve`)",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
