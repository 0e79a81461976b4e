"""`bengal serve`: what it serves (and refuses), the live reload events it sends after edits
on disk, and how it starts (ports, hosts). The browser test is test_serve_browser.py."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bengal.errors import BengalError
from bengal.serve import SCRIPT_TAG, DevServer, inject, resolve, structured_error
from conftest import REPO
from test_incremental import write_site

SITE = {
    "bengal.toml": '[site]\ntitle = "Served"\nbaseurl = "https://example.org/"\n',
    "content/_index.md": "---\ntitle: Home\n---\nWelcome home.\n",
    "content/about.md": "---\ntitle: About\n---\nAbout this site.\n",
    "content/blog/first.md": "---\ntitle: First\ndate: 2024-01-01\n---\nFirst post.\n",
    "assets/css/bengal.css": "body { color: rgb(1, 2, 3) }\n",
    "static/files/a.js": "console.log(1)\n",
    "static/files/a.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>\n",
    "static/files/a.json": "{}\n",
    "static/files/a.xml": "<a/>\n",
    "static/files/a.woff2": "wOF2",
    "static/files/a.png": "png",
    "static/files/a.webp": "webp",
    "static/empty/.keep": "",
}


# ---- path resolution ------------------------------------------------------------------------


@pytest.fixture
def out(tmp_path: Path) -> Path:
    o = tmp_path / "out"
    write_site(o, {"index.html": "home", "a/index.html": "a", "a/b.css": "b", "nodir/x.txt": "x"})
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    os.symlink(tmp_path / "secret.txt", o / "leak.txt")
    os.symlink(tmp_path, o / "up")
    os.symlink(o / "a" / "b.css", o / "inside.css")
    (o / "d").mkdir()
    os.symlink(tmp_path / "secret.txt", o / "d" / "index.html")  # a directory's index, outside
    return o


@pytest.mark.parametrize(
    "raw",
    [
        "/../secret.txt",
        "/a/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2e%2e/etc/passwd",
        "/a/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/leak.txt",  # a symlink pointing outside
        "/up/secret.txt",  # through a symlinked directory
        "/d/",  # a directory whose index.html is a symlink leading out
    ],
)
def test_traversal_is_refused(out: Path, raw: str) -> None:
    assert resolve(out, "/", raw).status == 403


@pytest.mark.parametrize("raw", ["/a%00.html", "/a\\..\\secret.txt", "/a%5c..%5csecret.txt"])
def test_odd_bytes_are_bad_requests(out: Path, raw: str) -> None:
    assert resolve(out, "/", raw).status == 400


def test_absolute_paths_stay_inside(out: Path) -> None:
    # "//etc/passwd" is the path /etc/passwd below the output, which does not exist there.
    assert resolve(out, "/", "//etc/passwd").status == 404
    assert resolve(out, "/", "http://evil/../secret.txt").status == 403


def test_files_directories_and_redirects(out: Path) -> None:
    assert resolve(out, "/", "/").file == out / "index.html"
    assert resolve(out, "/", "/a/").file == out / "a" / "index.html"
    assert resolve(out, "/", "/a/b.css?v=1").file == out / "a" / "b.css"
    assert resolve(out, "/", "/inside.css").status == 200  # a symlink within the output
    moved = resolve(out, "/", "/a?x=1")
    assert moved.status == 301 and moved.location == "/a/?x=1"
    assert resolve(out, "/", "/nodir/").status == 404  # no listings
    assert resolve(out, "/", "/missing.html").status == 404
    assert resolve(out, "/", "/a/b.css/").status == 404  # a file is not a folder
    # A request target starting with "//" never redirects to another host.
    assert resolve(out, "/", "http://x//a").location == "/a/"
    # A site under a base path: requests outside it are not files.
    assert resolve(out, "/docs/", "/a/").status == 404
    assert resolve(out, "/docs/", "/").location == "/docs/"


def test_inject_goes_before_the_last_body_end() -> None:
    assert inject(b"<p>x</p></BODY></html>") == b"<p>x</p>" + SCRIPT_TAG + b"</BODY></html>"
    assert inject(b"fragment") == b"fragment" + SCRIPT_TAG


def test_structured_errors() -> None:
    assert structured_error("blog/a.md:3: cannot parse YAML: x") == {
        "file": "blog/a.md",
        "line": 3,
        "message": "cannot parse YAML: x",
    }
    assert structured_error("blog/a.md: not valid UTF-8")["file"] == "blog/a.md"
    assert structured_error("something broke")["file"] == ""


# ---- a running server -----------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DevServer]:
    site = tmp_path / "site"
    write_site(site, SITE)
    lines: list[str] = []
    srv = DevServer(site, port=0, out=lines.append)
    srv.start()
    srv.lines = lines  # type: ignore[attr-defined]
    try:
        yield srv
    finally:
        srv.stop()


def get(srv: DevServer, path: str, method: str = "GET") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request(method, path)
    resp = conn.getresponse()
    resp.body = resp.read()  # type: ignore[attr-defined]
    conn.close()
    return resp


class Events:
    """A Server-Sent Events client on a raw socket: (event, data) pairs as they arrive."""

    def __init__(self, srv: DevServer) -> None:
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        self.sock.sendall(b"GET /__bengal/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.file = self.sock.makefile("rb")
        while self.file.readline() not in (b"\r\n", b""):  # response headers
            pass

    def next(self, timeout: float = 20.0, end: float | None = None) -> tuple[str, str]:
        self.sock.settimeout(timeout)
        end = time.monotonic() + timeout if end is None else end
        event, data = "", ""
        while True:
            if time.monotonic() > end:  # keep-alive comments arrive, but no event
                raise TimeoutError("no event in time")
            line = self.file.readline().decode()
            if not line:
                raise EOFError
            line = line.rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and event:
                return event, data

    def until(self, wanted: str, timeout: float = 20.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            event, data = self.next(end - time.monotonic(), end)
            if event == wanted:
                return data
        raise TimeoutError(wanted)

    def close(self) -> None:
        self.sock.close()


def test_serves_pages_with_the_script_and_files_without(server: DevServer) -> None:
    page = get(server, "/about/")
    assert page.status == 200
    assert page.getheader("Content-Type") == "text/html; charset=utf-8"
    assert b'<script src="/__bengal/live.js" data-generation="1" defer>' in page.body  # type: ignore[attr-defined]
    assert b"About this site." in page.body  # type: ignore[attr-defined]
    on_disk = (server.out_dir / "about" / "index.html").read_bytes()
    assert b"__bengal" not in on_disk  # injected while serving, never written
    assert b"http://127.0.0.1:%d/" % server.port in on_disk  # pages link to the server
    script = get(server, "/__bengal/live.js")
    assert script.status == 200 and b"EventSource" in script.body  # type: ignore[attr-defined]
    assert get(server, "/about/", "HEAD").status == 200


@pytest.mark.parametrize(
    "path,ctype",
    [
        ("/files/a.js", "text/javascript; charset=utf-8"),
        ("/files/a.svg", "image/svg+xml"),
        ("/files/a.json", "application/json"),
        ("/files/a.xml", "application/xml"),
        ("/files/a.woff2", "font/woff2"),
        ("/files/a.png", "image/png"),
        ("/files/a.webp", "image/webp"),
        ("/index.xml", "application/xml"),
        ("/search.json", "application/json"),
    ],
)
def test_content_types(server: DevServer, path: str, ctype: str) -> None:
    resp = get(server, path)
    assert resp.status == 200 and resp.getheader("Content-Type") == ctype
    assert b"__bengal" not in resp.body  # type: ignore[attr-defined]


def test_css_content_type(server: DevServer) -> None:
    css = [p for p in server.out_dir.rglob("*.css")]
    assert css
    rel = "/" + css[0].relative_to(server.out_dir).as_posix()
    assert get(server, rel).getheader("Content-Type") == "text/css; charset=utf-8"


@pytest.mark.parametrize(
    "path,status",
    [
        ("/../../etc/passwd", 403),
        ("/%2e%2e/%2e%2e/etc/passwd", 403),
        ("/files/%2e%2e/%2e%2e/%2e%2e/bengal.toml", 403),
        ("/empty/", 404),
        ("/nothing-here/", 404),
        ("/about", 301),
    ],
)
def test_refusals_over_http(server: DevServer, path: str, status: int) -> None:
    resp = get(server, path)
    assert resp.status == status
    assert b"[site]" not in resp.body  # type: ignore[attr-defined]


def test_foreign_host_names_are_refused(server: DevServer) -> None:
    """DNS rebinding: a page on another site whose name resolves to 127.0.0.1 reads nothing."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/about/", headers={"Host": f"evil.example:{server.port}"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 403
    for host in ("localhost:1", "127.0.0.1", "[::1]:5", "site.localhost"):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/about/", headers={"Host": host})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 200, host


def test_edits_reach_the_browser(server: DevServer) -> None:
    ev = Events(server)
    try:
        hello = ev.until("hello")
        assert '"errors":[]' in hello
        about = server.root / "content" / "about.md"
        about.write_text("---\ntitle: About\n---\nAbout, edited.\n", encoding="utf-8")
        data = ev.until("reload")
        assert "/about/" in data
        assert b"About, edited." in get(server, "/about/").body  # type: ignore[attr-defined]
        assert server.history[-1].ok and server.history[-1].event == "reload"

        # A front matter error: the overlay event names the file and line; the last good
        # output stays served.
        about.write_text("---\ntitle: [About\n---\nBroken.\n", encoding="utf-8")
        data = ev.until("build-error")
        assert '"file":"about.md"' in data and '"line":2' in data
        assert b"About, edited." in get(server, "/about/").body  # type: ignore[attr-defined]
        about.write_text("---\ntitle: About\n---\nAbout, fixed.\n", encoding="utf-8")
        ev.until("build-ok")
        ev.until("reload")
        assert b"About, fixed." in get(server, "/about/").body  # type: ignore[attr-defined]

        # A stylesheet alone: swapped in place.
        css = server.root / "assets" / "css" / "bengal.css"
        css.write_text("body { color: rgb(9, 9, 9) }\n", encoding="utf-8")
        ev.until("css")

        # The configuration: a full rebuild, said so.
        cfg = server.root / "bengal.toml"
        cfg.write_text(cfg.read_text(encoding="utf-8").replace("Served", "Served 2"), "utf-8")
        ev.until("reload")
        assert any("bengal.toml changed: full rebuild" in line for line in server.lines)  # type: ignore[attr-defined]
        assert b"Served 2" in get(server, "/").body  # type: ignore[attr-defined]
    finally:
        ev.close()


def test_a_burst_of_saves_is_one_rebuild(server: DevServer) -> None:
    before = len(server.history)
    for i in range(20):
        (server.root / "content" / "about.md").write_text(
            f"---\ntitle: About\n---\nVersion {i}.\n", encoding="utf-8"
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if len(server.history) > before and b"Version 19." in get(server, "/about/").body:  # type: ignore[attr-defined]
            break
        time.sleep(0.05)
    time.sleep(0.5)
    assert b"Version 19." in get(server, "/about/").body  # type: ignore[attr-defined]
    assert len(server.history) - before <= 3


def test_port_in_use_says_what_to_do(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_site(site, SITE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        srv = DevServer(site, port=port)
        with pytest.raises(BengalError, match=rf"port {port} .* in use.*--port 0"):
            srv.bind()


def test_cli_port_zero_prints_the_port_and_host_warning(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_site(site, SITE)
    env = {**os.environ, "PYTHONPATH": str(REPO / "python")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bengal", "serve", str(site), "--port", "0", "--host", "0.0.0.0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    err_lines: list[str] = []
    threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True).start()  # type: ignore[arg-type]
    try:
        assert proc.stdout is not None
        line = ""
        for line in proc.stdout:
            if line.startswith("serving "):
                break
        m = re.search(r"at http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        port = int(m.group(1))
        assert port != 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/about/")
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 200
        assert any("warning: serving on 0.0.0.0" in x for x in err_lines)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def test_a_second_server_on_the_same_site_is_refused(server: DevServer) -> None:
    other = DevServer(server.root, port=0)
    with pytest.raises(BengalError, match="another bengal serve"):
        other.start()
    assert other.httpd is not None
    other.httpd.server_close()


def test_starts_with_a_broken_config_and_recovers(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write_site(site, SITE)
    cfg = site / "bengal.toml"
    good = cfg.read_text(encoding="utf-8")
    cfg.write_text("[site\ntitle = 1\n", encoding="utf-8")
    srv = DevServer(site, port=0, out=lambda _: None)
    first = srv.start()
    try:
        assert not first.ok and "bengal.toml" in first.errors[0]
        ev = Events(srv)
        try:
            assert "bengal.toml" in ev.until("hello")  # a page opened now shows the overlay
            cfg.write_text(good, encoding="utf-8")
            ev.until("build-ok")
        finally:
            ev.close()
        assert b"About this site." in get(srv, "/about/").body  # type: ignore[attr-defined]
    finally:
        srv.stop()
