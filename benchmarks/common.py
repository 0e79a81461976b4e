"""Pieces the benchmarks share: the edits a writer makes, stopping a server, reading its
memory, and replacing a generated block in docs/performance.md."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Runs `python -m bengal` from another revision's Python package (argv[1]) with the native
# module this environment has installed: the editable install's finder and path are removed
# so that the other package is the one imported.
_AT_REVISION = """
import runpy, sys
src = sys.argv.pop(1)
sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__]
sys.path[:] = [src] + [p for p in sys.path if not p.endswith('/python')]
sys.argv[0] = 'bengal'
runpy.run_module('bengal', run_name='__main__')
"""


def bengal_command(package: Path | None) -> list[str]:
    """The command that runs bengal: this checkout's, or the Python package at `package` (a
    checkout of another revision, made by `checkout`)."""
    if package is None:
        return [sys.executable, "-m", "bengal"]
    return [sys.executable, "-c", _AT_REVISION, str(package)]


def checkout(rev: str) -> Path:
    """A detached worktree of `rev` in a temporary directory; returns its Python package
    directory. Refuses a revision whose native sources differ from this checkout's: the
    baseline runs with the native module built from these sources."""
    native = ["src", "CMakeLists.txt", "pyproject.toml"]
    diff = subprocess.run(["git", "diff", "--quiet", rev, "--", *native], cwd=REPO)
    if diff.returncode != 0:
        raise SystemExit(
            f"--baseline {rev}: its native sources ({', '.join(native)}) differ from this "
            "checkout's; the baseline would run with the wrong native module"
        )
    where = Path(tempfile.mkdtemp(prefix="bengal-baseline-")) / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(where), rev], cwd=REPO, check=True
    )
    return where / "python"


def drop_checkout(package: Path) -> None:
    """Remove a worktree made by `checkout`."""
    tree = package.parent
    subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False)


def with_paragraph(text: str, i: int) -> str:
    """A one-page body edit: a paragraph added at the end."""
    return text + f"\nAnother paragraph, edit {i}.\n"


def summarised(text: str, i: int) -> str:
    """A one-page summary edit: words put at the start of the body's first paragraph (lists,
    feeds and the search index show it)."""
    head, sep, rest = text[4:].partition("\n---\n")
    lines = rest.split("\n")
    first = next(n for n, ln in enumerate(lines) if ln[:1].isalpha())
    lines[first] = f"Edited {i}. " + lines[first]
    return "---\n" + head + sep + "\n".join(lines)


def retitled(text: str, i: int) -> str:
    """A one-page title edit: the front matter's title replaced (YAML front matter)."""
    head, sep, rest = text[4:].partition("\n---\n")
    lines = [ln for ln in head.split("\n") if not ln.startswith("title:")]
    return "---\n" + "\n".join([f"title: Retitled {i}", *lines]) + sep + rest


def retagged(text: str, i: int) -> str:
    """A one-page tag edit: the front matter's tags replaced (a new term every other edit, so
    term pages appear and disappear)."""
    head, sep, rest = text[4:].partition("\n---\n")
    lines = [ln for ln in head.split("\n") if not ln.startswith("tags:")]
    tags = "[python, bench-edit]" if i % 2 == 0 else "[python]"
    return "---\n" + "\n".join([*lines, f"tags: {tags}"]) + sep + rest


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
