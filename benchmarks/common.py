"""Pieces the benchmarks share: the edits a writer makes, stopping a server, reading its
memory, and replacing a generated block in docs/performance.md."""

from __future__ import annotations

import subprocess
from pathlib import Path


def with_paragraph(text: str, i: int) -> str:
    """A one-page body edit: a paragraph added at the end."""
    return text + f"\nAnother paragraph, edit {i}.\n"


def retitled(text: str, i: int) -> str:
    """A one-page title edit: the front matter's title replaced (YAML front matter)."""
    head, sep, rest = text[4:].partition("\n---\n")
    lines = [ln for ln in head.split("\n") if not ln.startswith("title:")]
    return "---\n" + "\n".join([f"title: Retitled {i}", *lines]) + sep + rest


def stop(proc: subprocess.Popen[str]) -> None:
    """Terminate a server process (kill it if it does not go) and close its output."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def proc_memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a running process, in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def update_doc_block(doc: Path, begin: str, end: str, body: str, heading: str) -> None:
    """Put `body` between the `begin` and `end` markers of `doc`; append it under `heading`
    when the markers are not there yet."""
    text = doc.read_text(encoding="utf-8")
    block = f"{begin}\n{body}{end}"
    if begin in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text += f"\n{heading}\n\n{block}\n"
    doc.write_text(text, encoding="utf-8")
