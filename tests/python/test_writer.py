"""bengal_native.OutputWriter from Python: the API, path rules, identical-skip, ordering, the GIL,
and real I/O failures (file/directory clashes, read-only directories, a full file system, the
file size limit)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

bengal_native = pytest.importorskip("bengal_native")
OutputWriter = bengal_native.OutputWriter

STAT_KEYS = {
    "files_written",
    "skipped_identical",
    "bytes_written",
    "bytes_skipped",
    "files_failed",
    "files_discarded",
    "directories_created",
    "seconds_busy",
    "seconds_blocked",
    "queue_high_water_bytes",
    "max_buffer_bytes",
    "threads",
}


def temp_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(".~bengal.*")]


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def child_env() -> dict[str, str]:
    """The environment for a child interpreter that must import the same bengal_native."""
    env = dict(os.environ)
    module_dir = str(Path(bengal_native.__file__).resolve().parent)
    env["PYTHONPATH"] = os.pathsep.join([module_dir, env.get("PYTHONPATH", "")])
    return env


# Runs in a child interpreter: writes through an OutputWriter and reports what close() raised.
CHILD_WRITE = textwrap.dedent(
    """
    import json, sys
    import bengal_native
    root, files, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    result = {"error": None}
    try:
        with bengal_native.OutputWriter(root, threads=threads) as w:
            for path, size in files:
                w.write(path, b"x" * size)
    except OSError as e:
        result = {"error": type(e).__name__, "errno": e.errno, "filename": e.filename,
                  "message": str(e)}
    print(json.dumps(result))
    """
)


# ---- the API ---------------------------------------------------------------------------------


def test_writes_str_bytes_and_buffers_creating_directories(tmp_path: Path) -> None:
    root = tmp_path / "public" / "nested"  # created by the writer
    with OutputWriter(root, threads=2) as w:
        w.write("index.html", "<p>héllo ✓</p>")
        w.write("blog/2024/post/index.html", b"\x00\xffraw")
        w.write(PurePosixPath("css/site.css"), bytearray(b"body{}"))
        w.write("img/data.bin", memoryview(b"0123456789")[2:6])
        w.write("empty.txt", "")
        assert not w.closed
    assert w.closed
    assert (root / "index.html").read_text(encoding="utf-8") == "<p>héllo ✓</p>"
    assert (root / "blog/2024/post/index.html").read_bytes() == b"\x00\xffraw"
    assert (root / "css/site.css").read_bytes() == b"body{}"
    assert (root / "img/data.bin").read_bytes() == b"2345"
    assert (root / "empty.txt").read_bytes() == b""
    stats = w.stats()
    assert set(stats) == STAT_KEYS
    assert stats["files_written"] == 5
    assert stats["bytes_written"] == len("<p>héllo ✓</p>".encode()) + 5 + 6 + 4
    assert stats["skipped_identical"] == 0
    assert stats["threads"] == 2
    assert stats["max_buffer_bytes"] == 64 * 1024 * 1024
    assert OutputWriter(tmp_path / "defaults").stats()["threads"] == 2
    assert stats["seconds_busy"] > 0
    assert w.root == str(root)
    assert temp_leftovers(tmp_path) == []


def test_flush_makes_files_visible_and_the_writer_stays_usable(tmp_path: Path) -> None:
    w = OutputWriter(tmp_path)
    for i in range(100):
        w.write(f"p/{i}.html", str(i))
    w.flush()
    assert all((tmp_path / f"p/{i}.html").read_text() == str(i) for i in range(100))
    w.write("later.html", "later")
    w.close()
    w.close()  # idempotent
    assert (tmp_path / "later.html").read_text() == "later"
    with pytest.raises(ValueError, match="closed"):
        w.write("x.html", "x")
    with pytest.raises(ValueError, match="closed"):
        w.flush()
    assert w.stats()["files_written"] == 101


@pytest.mark.parametrize(
    "bad",
    [
        "",
        ".",
        "/etc/passwd",
        "../x.html",
        "a/../../x",
        "a/../b",
        "a\0b",
        "..\\x",
        "a\\b",
        "C:x",
        "a/",
    ],
)
def test_escaping_or_malformed_paths_raise_value_error(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "out"
    with OutputWriter(root) as w:
        with pytest.raises(ValueError, match="invalid output path"):
            w.write(bad, "x")
        w.write("fine.html", "ok")  # a refused path does not poison the writer
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["fine.html", "out"]


@given(
    st.lists(
        st.sampled_from(["a", "b.html", ".", "..", "", "x:", "\\", "\0", ".hidden", "é"]),
        min_size=1,
        max_size=6,
    )
)
@settings(max_examples=150, deadline=None)
def test_no_path_ever_lands_outside_root(segments: list[str]) -> None:
    rel = "/".join(segments)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "root"
        try:
            with OutputWriter(root) as w:
                w.write(rel, "x")
        except ValueError:
            written = None
        except OSError:
            written = None  # e.g. a segment is both a file and a directory; still inside root
        else:
            written = [p for p in base.rglob("*") if p.is_file()]
            assert len(written) == 1
        for p in base.rglob("*"):
            assert p == root or root in p.parents, (rel, p)
        if written:
            kept = [s for s in rel.split("/") if s not in ("", ".")]
            assert written[0] == root.joinpath(*kept)


def test_data_must_be_str_or_bytes_like(tmp_path: Path) -> None:
    with OutputWriter(tmp_path) as w:
        with pytest.raises(TypeError, match="str or bytes-like"):
            w.write("a.html", 42)  # type: ignore[arg-type]
        # Lone surrogates in every str layout (UCS-2, and UCS-4 because of the emoji).
        with pytest.raises(UnicodeEncodeError):
            w.write("b.html", "lone \udcff surrogate")
        with pytest.raises(UnicodeEncodeError):
            w.write("c.html", "\U0001f600 and \ud800")
    assert list(tmp_path.iterdir()) == []


# Python stores a str as ASCII, Latin-1, UCS-2 or UCS-4; the binding copies those code units and
# the writer thread encodes them, so every layout must give exactly str.encode("utf-8").
@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain ascii <p>",
        "café naïve ÿ",  # Latin-1
        "“curly” — €, ∑ and 中文",  # UCS-2
        "emoji 😀 and 𝄞 with é and “”",  # UCS-4
        "x" * 10_001 + "é",  # long ASCII run, then a non-ASCII tail
    ],
)
def test_every_str_layout_is_written_as_utf8(tmp_path: Path, text: str) -> None:
    with OutputWriter(tmp_path) as w:
        w.write("page.html", text)
    assert (tmp_path / "page.html").read_bytes() == text.encode("utf-8")
    assert w.stats()["bytes_written"] == len(text.encode("utf-8"))


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_any_text_round_trips(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with OutputWriter(tmp, threads=2) as w:
            w.write("a.txt", text)
            w.write("b.txt", text * 3)
        assert Path(tmp, "a.txt").read_bytes() == text.encode("utf-8")
        assert Path(tmp, "b.txt").read_bytes() == (text * 3).encode("utf-8")


def test_constructor_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="threads"):
        OutputWriter(tmp_path, threads=0)
    with pytest.raises(ValueError, match="max_buffer_mb"):
        OutputWriter(tmp_path, max_buffer_mb=-1)
    with pytest.raises(ValueError, match="max_buffer_mb"):
        OutputWriter(tmp_path, max_buffer_mb=float("nan"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError) as info:
        OutputWriter(tmp_path / "file")
    assert info.value.filename == str(tmp_path / "file")


# ---- identical skip and ordering -------------------------------------------------------------


def test_identical_files_keep_their_mtime_and_inode(tmp_path: Path) -> None:
    pages = {f"s/{i}.html": f"<p>{i}</p>" * (i + 1) for i in range(30)}
    with OutputWriter(tmp_path) as w:
        for path, html in pages.items():
            w.write(path, html)
    old = 1_000_000_000
    for path in pages:
        os.utime(tmp_path / path, (old, old))
    inodes = {path: (tmp_path / path).stat().st_ino for path in pages}

    changed = {"s/3.html": pages["s/3.html"].upper(), "s/4.html": pages["s/4.html"] + "!"}
    with OutputWriter(tmp_path, threads=2) as w:
        for path, html in pages.items():
            w.write(path, changed.get(path, html))
    stats = w.stats()
    assert stats["skipped_identical"] == 28
    assert stats["files_written"] == 2
    assert stats["bytes_skipped"] == sum(len(h) for p, h in pages.items() if p not in changed)
    for path in pages:
        st_ = (tmp_path / path).stat()
        if path in changed:
            assert (tmp_path / path).read_text() == changed[path]
            assert st_.st_mtime != old
        else:
            assert st_.st_mtime == old
            assert st_.st_ino == inodes[path]


def test_last_write_to_a_path_wins(tmp_path: Path) -> None:
    with OutputWriter(tmp_path, max_buffer_mb=0.01, threads=3) as w:
        for i in range(300):
            w.write(f"page-{i % 5}.html", f"{i}")
            w.write("dir//same.html" if i % 2 else "./dir/same.html", f"v{i}")
    assert (tmp_path / "dir/same.html").read_text() == "v299"
    for k in range(5):
        assert (tmp_path / f"page-{k}.html").read_text() == str(295 + k)


def test_many_python_threads_share_one_writer(tmp_path: Path) -> None:
    with OutputWriter(tmp_path, max_buffer_mb=0.05, threads=2) as w:

        def produce(t: int) -> None:
            for i in range(200):
                w.write(f"t{t}/{i % 10}/{i}.html", f"{t}:{i}" * 20)

        workers = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    for t in range(4):
        for i in range(200):
            assert (tmp_path / f"t{t}/{i % 10}/{i}.html").read_text() == f"{t}:{i}" * 20
    stats = w.stats()
    assert stats["files_written"] == 800
    assert stats["queue_high_water_bytes"] <= stats["max_buffer_bytes"]


def test_a_blocked_write_releases_the_gil(tmp_path: Path) -> None:
    # The first item (larger than the whole 1 MB budget) is accepted; the second must wait until
    # the writer has put 64 MB on disk. While it waits, another Python thread must keep running:
    # with the GIL held it could not run at all between t0 and t1.
    big = b"g" * (64 << 20)
    ticks: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    with OutputWriter(tmp_path, max_buffer_mb=1) as w:
        thread = threading.Thread(target=ticker)
        thread.start()
        try:
            w.write("big.bin", big)
            t0 = time.perf_counter()
            w.write("small.html", "after")
            t1 = time.perf_counter()
        finally:
            stop.set()
            thread.join()
    stats = w.stats()
    assert stats["seconds_blocked"] > 0
    inside = [t for t in ticks if t0 < t < t1]
    assert inside, f"no ticks during a {t1 - t0:.3f}s blocked write"
    assert stats["queue_high_water_bytes"] == len(big) + len("big.bin") + 128


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_value_error_instead_of_a_hang(tmp_path: Path) -> None:
    w = OutputWriter(tmp_path, threads=2)
    w.write("before.html", "parent")
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads: that is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # child: report through the exit code, never return into pytest
        code = 0
        for call in (lambda: w.write("child.html", "x"), w.flush, w.close):
            try:
                call()
                code = 1
            except ValueError:
                pass
            except BaseException:
                code = 2
        if not w.closed:
            code = 3
        del call, w  # the destructor must not join threads that do not exist in the child
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    w.write("after.html", "parent")
    w.close()
    assert (tmp_path / "before.html").read_text() == "parent"
    assert (tmp_path / "after.html").read_text() == "parent"
    assert not (tmp_path / "child.html").exists()


# ---- errors ----------------------------------------------------------------------------------


def test_file_where_a_directory_is_needed(tmp_path: Path) -> None:
    (tmp_path / "blog").write_text("a file")
    w = OutputWriter(tmp_path, threads=1)  # one FIFO: ok.html is written before the failure
    w.write("ok.html", "fine")
    w.write("blog/post/index.html", "post")
    with pytest.raises(NotADirectoryError) as info:
        w.flush()
    err = info.value
    assert err.errno == errno.ENOTDIR
    assert err.filename == str(tmp_path / "blog/post/index.html")
    assert "blog/post/index.html" in str(err)
    # Sticky: later writes are rejected with the same error; close() raises it once.
    with pytest.raises(NotADirectoryError):
        w.write("later.html", "x")
    with pytest.raises(NotADirectoryError):
        w.close()
    w.close()
    assert not (tmp_path / "later.html").exists()
    assert (tmp_path / "ok.html").read_text() == "fine"
    assert w.stats()["files_failed"] == 1
    assert temp_leftovers(tmp_path) == []


def test_directory_where_a_file_should_be(tmp_path: Path) -> None:
    (tmp_path / "index.html").mkdir()
    (tmp_path / "index.html" / "child").write_text("occupied")
    with pytest.raises(IsADirectoryError) as info, OutputWriter(tmp_path, threads=2) as w:
        w.write("index.html", "<html>")
    assert info.value.errno == errno.EISDIR
    assert info.value.filename == str(tmp_path / "index.html")
    assert (tmp_path / "index.html").is_dir()
    assert temp_leftovers(tmp_path) == []


def test_exception_in_the_with_body_is_not_masked(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="boom"), OutputWriter(tmp_path) as w:
        w.write("written.html", "yes")
        raise KeyError("boom")
    assert w.closed
    assert (tmp_path / "written.html").read_text() == "yes"  # close() still flushed and joined

    (tmp_path / "blocker").write_text("file")
    with pytest.raises(KeyError, match="boom") as info, OutputWriter(tmp_path) as w:
        w.write("blocker/x.html", "fails")
        raise KeyError("boom")
    notes = getattr(info.value, "__notes__", [])
    if sys.version_info >= (3, 11):
        assert any("blocker/x.html" in n for n in notes)


def test_write_error_inside_with_propagates_once(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("file")
    with pytest.raises(NotADirectoryError) as info, OutputWriter(tmp_path) as w:
        w.write("blocker/x.html", "fails")
        w.flush()
        w.write("never.html", "x")
    assert getattr(info.value, "__notes__", []) == []  # the same error is not repeated as a note
    assert not (tmp_path / "never.html").exists()


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temp dir outside pytest's 0700 tree, for children with reduced privileges."""
    path = Path(tempfile.mkdtemp(prefix="bengal-writer-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for p in [path, *path.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(path)


def test_read_only_directory_raises_permission_error(shared_tmp: Path) -> None:
    locked = shared_tmp / "locked"
    locked.mkdir()
    (locked / "page.html").write_text("old content")
    locked.chmod(0o555)
    files = [["free.html", 10], ["locked/page.html", 20], ["locked/sub/new.html", 5]]
    if not is_root():
        cmd = [sys.executable, "-c", CHILD_WRITE, str(shared_tmp), json.dumps(files), "2"]
    else:
        # Root bypasses permission bits; drop the capabilities that do so in the child.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is not installed")
        cmd = [
            setpriv,
            "--bounding-set=-dac_override,-dac_read_search,-fowner",
            "--",
            sys.executable,
            "-c",
            CHILD_WRITE,
            str(shared_tmp),
            json.dumps(files),
            "2",
        ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), timeout=60)
    if is_root() and proc.returncode != 0 and "setpriv" in proc.stderr:
        pytest.skip(f"setpriv cannot drop capabilities here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["error"] == "PermissionError"
    assert result["errno"] == errno.EACCES
    assert result["filename"] in {str(locked / "page.html"), str(locked / "sub/new.html")}
    assert result["filename"] in result["message"]
    assert (locked / "page.html").read_text() == "old content"
    # With two writer threads, free.html may have been discarded after the error (it sat in the
    # other queue); if it exists it is complete.
    free = shared_tmp / "free.html"
    assert not free.exists() or free.read_bytes() == b"x" * 10
    assert temp_leftovers(shared_tmp) == []


def test_immutable_directory_raises_permission_error(tmp_path: Path) -> None:
    chattr = shutil.which("chattr")
    if chattr is None or not is_root():
        pytest.skip("needs root and chattr to make a directory immutable")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "page.html").write_text("old")
    if subprocess.run([chattr, "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("this file system does not support the immutable attribute")
    try:
        with pytest.raises(PermissionError) as info, OutputWriter(tmp_path) as w:
            w.write("locked/page.html", "new")
        assert info.value.errno == errno.EPERM
        assert (locked / "page.html").read_text() == "old"
    finally:
        subprocess.run([chattr, "-i", str(locked)], check=True)
    assert temp_leftovers(tmp_path) == []


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    if not is_root() or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_full_file_system_raises_enospc_and_keeps_the_old_file(small_tmpfs: Path) -> None:
    (small_tmpfs / "keep.html").write_text("old keep")
    with pytest.raises(OSError) as info, OutputWriter(small_tmpfs, threads=1) as w:
        w.write("small.html", "s" * 10_000)
        w.write("keep.html", "k" * (600 * 1024))  # larger than the whole file system
    err = info.value
    assert err.errno == errno.ENOSPC
    assert err.filename == str(small_tmpfs / "keep.html")
    assert "No space left on device" in str(err)
    assert (small_tmpfs / "keep.html").read_text() == "old keep"  # not a prefix of the new one
    assert (small_tmpfs / "small.html").read_text() == "s" * 10_000
    assert temp_leftovers(small_tmpfs) == []


def test_file_size_limit_raises_efbig_in_a_child(tmp_path: Path) -> None:
    # RLIMIT_FSIZE is per process, so a child interpreter sets it for itself (and ignores
    # SIGXFSZ, which would otherwise kill it instead of letting write() fail with EFBIG).
    script = (
        textwrap.dedent(
            """
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        """
        )
        + CHILD_WRITE
    )
    files = [["small.bin", 1000], ["dir/huge.bin", 256 * 1024]]
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), json.dumps(files), "1"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["errno"] == errno.EFBIG
    assert result["error"] == "OSError"
    assert result["filename"] == str(tmp_path / "dir/huge.bin")
    assert not (tmp_path / "dir/huge.bin").exists()
    assert (tmp_path / "small.bin").read_bytes() == b"x" * 1000
    assert temp_leftovers(tmp_path) == []


# ---- the benchmark ---------------------------------------------------------------------------


def test_benchmark_runs_and_writes_its_report(tmp_path: Path) -> None:
    """A smoke test of benchmarks/bench_writer.py on tiny inputs: numbers and files appear.
    It never asserts a speed."""
    bench = pytest.importorskip("benchmarks.bench_writer")
    out = tmp_path / "results"
    argv = ["--files", "30", "--pages", "5", "--fsync-files", "5", "--repeat", "1"]
    assert bench.main([*argv, "--threads", "1,2", "--dir", str(tmp_path), "--out", str(out)]) == 0
    (json_file,) = out.glob("writer-*.json")
    report = json.loads(json_file.read_text())
    assert set(report) >= {"cold", "warm", "render_write", "fsync", "machine"}
    assert (
        report["warm"]["OutputWriter threads=2 (skips)"]["writer_stats"]["skipped_identical"] == 30
    )
    assert report["cold"]["OutputWriter threads=1"]["writer_stats"]["files_written"] == 30
    assert all(r["per_s"] > 0 for r in report["cold"].values())
    assert "Render + write" in json_file.with_suffix(".md").read_text()
