"""`bengal serve`: build, serve the output on the loopback address, watch the sources, rebuild
incrementally in this process and reload the browser.

Pieces, each on its own thread:
  - the HTTP server (ThreadingHTTPServer): files under the output directory only, the live
    reload script injected into HTML responses, Server-Sent Events at /__bengal/events;
  - two watchers (watchfiles): content/, templates/, assets/, static/, data/ recursively, and
    the site directory itself (bengal.toml, and those directories appearing);
  - the builder: takes every change that arrived, coalesces them into one rebuild, builds,
    and publishes the outcome (reload, stylesheet swap, error overlay).

The server builds into its own directory (.bengal/serve/public, with its own caches in
.bengal/serve): its pages carry the server's URL as baseurl, and `bengal build`'s output and
caches are never touched. Every output file is replaced atomically by the writer, so a
request during a build gets the last good file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import posixpath
import queue
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bengal.errors import BengalError

LIVE_PREFIX = "/__bengal/"
LIVE_SCRIPT = Path(__file__).resolve().parent / "live.js"
SCRIPT_TAG = b'<script src="/__bengal/live.js" defer></script>'
WATCHED_DIRS = ("content", "templates", "assets", "static", "data")
CONFIG_FILE = "bengal.toml"
SERVE_STATE = Path(".bengal") / "serve"
# watchfiles yields a burst of changes once nothing new arrived for STEP_MS (editors save in
# several filesystem operations within a few ms), and at most DEBOUNCE_MS after the first one.
STEP_MS = 10
DEBOUNCE_MS = 400
WAKE_MS = 100  # the watcher threads look at the stop flag this often
IDLE_SECONDS = 1.0  # quiet time after which the in-memory cache is written to .bengal
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
    ".wasm": "application/wasm",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
}


def content_type(path: str) -> str:
    ext = posixpath.splitext(path)[1].lower()
    found = CONTENT_TYPES.get(ext)
    if found is not None:
        return found
    import mimetypes

    guess = mimetypes.guess_type(path)[0]
    return guess or "application/octet-stream"


def inject(html: bytes, generation: int | None = None) -> bytes:
    """The live reload script, before the last </body> (or at the end). `generation`: the
    build that wrote the page, so that a page served just before a rebuild reloads when its
    event stream connects after it."""
    tag = SCRIPT_TAG
    if generation is not None:
        tag = tag.replace(b" defer>", b' data-generation="%d" defer>' % generation)
    at = html.lower().rfind(b"</body>")
    if at < 0:
        return html + tag
    return html[:at] + tag + html[at:]


_ERROR_AT = re.compile(r"^(?P<file>[^\s:][^:\n]*?):(?P<line>\d+): (?P<msg>.*)$", re.S)
_ERROR_IN = re.compile(r"^(?P<file>[^\s:][^:\n]*?\.[A-Za-z0-9]+): (?P<msg>.*)$", re.S)


def structured_error(text: str) -> dict[str, Any]:
    """'file:line: message' (bengal's error format) -> {file, line, message}."""
    m = _ERROR_AT.match(text)
    if m:
        return {"file": m["file"], "line": int(m["line"]), "message": m["msg"]}
    m = _ERROR_IN.match(text)
    if m:
        return {"file": m["file"], "line": 0, "message": m["msg"]}
    return {"file": "", "line": 0, "message": text}


# ---- events ---------------------------------------------------------------------------------


class Broker:
    """Server-Sent Events to every open page. `generation` counts finished builds; `errors` is
    the state a page connecting now must show."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[queue.SimpleQueue[bytes | None]] = []
        self._closed = False
        self.generation = 0
        self.errors: list[dict[str, Any]] = []

    def subscribe(self) -> queue.SimpleQueue[bytes | None]:
        q: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        with self._lock:
            if self._closed:
                q.put(None)
                return q
            self._subscribers.append(q)
            q.put(self._message("hello", {"generation": self.generation, "errors": self.errors}))
        return q

    def unsubscribe(self, q: queue.SimpleQueue[bytes | None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._subscribers.remove(q)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._subscribers)

    @staticmethod
    def _message(event: str, data: dict[str, Any]) -> bytes:
        return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()

    def publish(self, event: str, data: dict[str, Any]) -> None:
        with self._lock:
            data = {"generation": self.generation, **data}
            payload = self._message(event, data)
            for q in self._subscribers:
                q.put(payload)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for q in self._subscribers:
                q.put(None)
            self._subscribers.clear()


# ---- HTTP -----------------------------------------------------------------------------------


@dataclass
class Resolved:
    status: int
    file: Path | None = None
    location: str = ""  # for redirects


def resolve(out_dir: Path, base_path: str, raw_path: str) -> Resolved:
    """A request path -> a file under out_dir, or why not. Traversal (`..`, encoded or not),
    NUL bytes, backslashes and symlinks leading out of the output directory are refused."""
    path = urlsplit(raw_path).path or "/"
    decoded = unquote(path, errors="strict") if "%" in path else path
    if "\0" in decoded or "\\" in decoded:
        return Resolved(HTTPStatus.BAD_REQUEST)
    parts = decoded.split("/")
    if ".." in parts:
        return Resolved(HTTPStatus.FORBIDDEN)
    if not decoded.startswith(base_path):
        if decoded.rstrip("/") + "/" == base_path:
            return Resolved(HTTPStatus.MOVED_PERMANENTLY, location=base_path)
        if decoded == "/" and base_path != "/":
            return Resolved(HTTPStatus.FOUND, location=base_path)
        return Resolved(HTTPStatus.NOT_FOUND)
    rel = [p for p in decoded[len(base_path) :].split("/") if p not in ("", ".")]
    candidate = out_dir.joinpath(*rel) if rel else out_dir
    real = os.path.realpath(candidate)
    top = os.path.realpath(out_dir)
    if real != top and not real.startswith(top + os.sep):
        return Resolved(HTTPStatus.FORBIDDEN)
    if os.path.isdir(real):
        if not decoded.endswith("/"):
            query = urlsplit(raw_path).query
            # One leading slash: "//host/x" would be a redirect to another site.
            target = "/" + path.lstrip("/") + "/"
            return Resolved(
                HTTPStatus.MOVED_PERMANENTLY, location=target + (f"?{query}" if query else "")
            )
        index = os.path.realpath(os.path.join(real, "index.html"))
        if not index.startswith(top + os.sep):
            return Resolved(HTTPStatus.FORBIDDEN)  # a symlinked index.html leading out
        if os.path.isfile(index):
            return Resolved(HTTPStatus.OK, Path(index))
        return Resolved(HTTPStatus.NOT_FOUND)  # no directory listings
    if os.path.isfile(real) and not decoded.endswith("/"):
        return Resolved(HTTPStatus.OK, Path(real))
    return Resolved(HTTPStatus.NOT_FOUND)


class DevHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: DevServer


class Handler(BaseHTTPRequestHandler):
    server: DevHTTPServer
    server_version = "bengal-serve"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.app.verbose:
            sys.stderr.write(f"serve: {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def _send(
        self, status: int, body: bytes, ctype: str, head: bool, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        app = self.server.app
        if app.host in LOOPBACK and not _loopback_host(self.headers.get("Host", "")):
            # A page elsewhere whose name resolves to 127.0.0.1 (DNS rebinding) reads nothing.
            self._send(HTTPStatus.FORBIDDEN, b"403 Forbidden\n", "text/plain; charset=utf-8", head)
            return
        path = urlsplit(self.path).path
        if path.startswith(LIVE_PREFIX):
            self._live(path[len(LIVE_PREFIX) :], head)
            return
        try:
            found = resolve(app.out_dir, app.base_path, self.path)
        except UnicodeDecodeError:
            found = Resolved(HTTPStatus.BAD_REQUEST)
        if found.location:
            self._send(
                found.status, b"", "text/plain; charset=utf-8", head, {"Location": found.location}
            )
            return
        if found.status == HTTPStatus.OK:
            file = found.file
            assert file is not None
            try:
                body = file.read_bytes()
            except OSError:  # replaced or removed between resolve and read
                found = Resolved(HTTPStatus.NOT_FOUND)
            else:
                ctype = content_type(file.name)
                if ctype.startswith("text/html"):
                    body = inject(body, app.broker.generation)
                self._send(HTTPStatus.OK, body, ctype, head)
                return
        if found.status == HTTPStatus.NOT_FOUND:
            page = resolve(app.out_dir, "/", "/404.html").file or app.out_dir / "-"
            with contextlib.suppress(OSError):
                self._send(
                    HTTPStatus.NOT_FOUND, inject(page.read_bytes()), CONTENT_TYPES[".html"], head
                )
                return
        text = f"{int(found.status)} {HTTPStatus(found.status).phrase}\n".encode()
        self._send(found.status, text, "text/plain; charset=utf-8", head)

    def _live(self, what: str, head: bool) -> None:
        app = self.server.app
        if what == "live.js":
            self._send(HTTPStatus.OK, LIVE_SCRIPT.read_bytes(), CONTENT_TYPES[".js"], head)
        elif what == "events" and not head:
            self._events(app.broker)
        elif what == "status.json":
            body = json.dumps(app.status()).encode()
            self._send(HTTPStatus.OK, body, "application/json", head)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"404 Not Found\n", "text/plain; charset=utf-8", head)

    def _events(self, broker: Broker) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        self.close_connection = True
        q = broker.subscribe()
        try:
            self.wfile.write(b"retry: 500\n\n")
            self.wfile.flush()
            while True:
                try:
                    msg = q.get(timeout=15)
                except queue.Empty:
                    msg = b": ping\n\n"  # keeps proxies and idle timeouts away
                if msg is None:
                    return
                self.wfile.write(msg)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return
        finally:
            broker.unsubscribe(q)


# ---- the server -----------------------------------------------------------------------------


@dataclass
class Rebuild:
    """What one rebuild did, for the terminal, the browser and the benchmark."""

    generation: int
    changes: list[str]
    seconds: float
    ok: bool
    full: bool
    reason: str = ""
    event: str = ""
    errors: list[str] = field(default_factory=list)


class DevServer:
    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        port: int = 5173,
        drafts: bool = False,
        verbose: bool = False,
        out: Callable[[str], None] = print,
    ) -> None:
        self.root = root.resolve()
        self.host = host
        self.requested_port = port
        self.drafts = drafts
        self.verbose = verbose
        self.out = out
        self.state_dir = self.root / SERVE_STATE
        self.out_dir = self.state_dir / "public"
        self.base_path = "/"
        self.broker = Broker()
        self.httpd: DevHTTPServer | None = None
        self.port = 0
        self.url = ""
        self._changes: queue.SimpleQueue[set[tuple[str, str]] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._restart_dirs = threading.Event()  # the set of watched directories changed
        self._dirs_now: set[str] = set()
        self._build_lock = threading.Lock()  # one build (or cache write) at a time
        self._frozen = False  # the live objects were moved out of the collector's sight
        self._dirs_ready = threading.Event()
        self._root_ready = threading.Event()
        self.history: list[Rebuild] = []
        self._builder: Any = None  # bengal.build.WarmBuilder, made by the first build

    # -- lifecycle --

    def bind(self) -> None:
        """Open the listening socket (so that --port 0 knows its port before the first build)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        DevHTTPServer.address_family = family
        try:
            self.httpd = DevHTTPServer(
                (self.host, self.requested_port), Handler, bind_and_activate=True
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BengalError(
                    f"port {self.requested_port} on {self.host} is already in use (another "
                    "server?); choose another with --port N, or --port 0 to pick a free one"
                ) from None
            if exc.errno in (errno.EADDRNOTAVAIL, socket.EAI_NONAME) or isinstance(
                exc, socket.gaierror
            ):
                raise BengalError(f"cannot listen on {self.host}: {exc.strerror or exc}") from None
            raise BengalError(
                f"cannot listen on {self.host}:{self.requested_port}: {exc.strerror or exc}"
            ) from None
        self.httpd.app = self
        self.port = int(self.httpd.server_address[1])
        shown = (
            "127.0.0.1"
            if self.host in ("0.0.0.0", "")
            else "[::1]"
            if self.host == "::"
            else (f"[{self.host}]" if ":" in self.host else self.host)
        )
        self.origin = f"http://{shown}:{self.port}"

    def _lock(self) -> None:
        """One server per site: the output and state directories are its own."""
        import fcntl

        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / "serve.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "another process"
            os.close(fd)
            raise BengalError(
                f"another bengal serve is running on {self.root} (pid {holder}); stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    _lock_fd = -1
    _serving = False

    def start(self) -> Rebuild:
        """Bind, build once, start serving and watching. Returns the first build."""
        if self.httpd is None:
            self.bind()
        self._lock()
        from bengal.warm import WarmBuilder

        self._builder = WarmBuilder(
            self.root,
            state_dir=self.state_dir,
            output=self.out_dir,
            origin=self.origin,
            drafts=self.drafts or None,
        )
        # Watch first: a change made while the first build runs is then rebuilt after it,
        # never lost between the build reading a file and the watch starting.
        self._spawn(self._watch_dirs, "bengal-watch")
        self._spawn(self._watch_root, "bengal-watch-root")
        self._dirs_ready.wait(10)
        self._root_ready.wait(10)
        first = self._rebuild(set(), initial=True)
        assert self.httpd is not None
        self._spawn(self.httpd.serve_forever, "bengal-http")
        self._serving = True
        self._spawn(self._build_loop, "bengal-builder")
        return first

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self._restart_dirs.set()
        self._changes.put(None)
        self.broker.close()
        if self.httpd is not None:
            if self._serving:
                self.httpd.shutdown()  # waits for serve_forever, so only when it runs
            self.httpd.server_close()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=5)
        # Write the in-memory cache -- unless a build is still running (then the cache on disk
        # stays the older one, which the next start treats as changed inputs: still correct).
        if self._builder is not None and self._build_lock.acquire(timeout=2):
            try:
                self._builder.close()
            finally:
                self._build_lock.release()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def status(self) -> dict[str, Any]:
        last = self.history[-1] if self.history else None
        return {
            "generation": self.broker.generation,
            "ok": bool(last and last.ok),
            "errors": self.broker.errors,
            "clients": self.broker.clients,
            "builds": len(self.history),
            "last_seconds": last.seconds if last else None,
        }

    # -- watching --

    def _watch(
        self,
        paths: list[str],
        watch_filter: Callable[[Any, str], bool],
        stop_event: threading.Event,
        ready: threading.Event,
        recursive: bool = True,
    ) -> Iterator[set[tuple[str, str]]]:
        """Batches of (change, path) from watchfiles. yield_on_timeout gives an empty batch
        every WAKE_MS, the first of which says the watches are in place (`ready`)."""
        import watchfiles

        for changes in watchfiles.watch(
            *paths,
            watch_filter=watch_filter,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            stop_event=stop_event,
            rust_timeout=WAKE_MS,
            yield_on_timeout=True,
            recursive=recursive,
            raise_interrupt=False,
        ):
            ready.set()
            if changes:
                yield {(c.name, p) for c, p in changes}

    def _watch_dirs(self) -> None:
        import watchfiles

        # watchfiles' own filter knows editors' swap and backup files; vim also probes with
        # "4913", emacs autosaves as "#name#", and many tools write "*.tmp" then rename.
        default = watchfiles.DefaultFilter.ignore_entity_patterns
        sources = watchfiles.DefaultFilter(
            ignore_entity_patterns=(*default, r"^4913$", r"^#", r"\.tmp$")
        )
        while not self._stop.is_set():
            dirs = [str(self.root / d) for d in WATCHED_DIRS if (self.root / d).is_dir()]
            if not dirs:
                self._dirs_ready.set()
                self._stop.wait(0.5)
                continue
            self._dirs_now = set(dirs)
            for batch in self._watch(dirs, sources, self._restart_dirs, self._dirs_ready):
                self._changes.put(batch)
            if not self._stop.is_set():
                self._restart_dirs.clear()

    def _watch_root(self) -> None:
        """The site directory itself, not recursively: bengal.toml, and a watched directory
        appearing or disappearing (then the directory watcher starts over with the new set)."""
        names = {CONFIG_FILE, *WATCHED_DIRS}

        def interesting(_: Any, path: str) -> bool:
            return Path(path).name in names

        root = [str(self.root)]
        for batch in self._watch(root, interesting, self._stop, self._root_ready, False):
            if any(Path(p).name in WATCHED_DIRS for _, p in batch):
                now = {str(self.root / d) for d in WATCHED_DIRS if (self.root / d).is_dir()}
                if now != self._dirs_now:
                    self._restart_dirs.set()
            self._changes.put(batch)

    # -- building --

    def _build_loop(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._changes.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                self._idle()
                continue
            if batch is None:
                return
            # Coalesce everything that arrived meanwhile (a burst of saves) into one rebuild.
            while True:
                try:
                    more = self._changes.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    return
                batch |= more
            self._rebuild(batch)

    def _idle(self) -> None:
        """Nothing changed for a while: write the in-memory cache to .bengal, and let the
        cyclic collector free an old site model once (then freeze the live one, so that later
        collections never walk millions of model objects in the middle of a rebuild)."""
        import gc

        try:
            with self._build_lock:
                self._builder.flush()
                self._builder.prepare()
        except Exception:  # never let the builder thread die: report, keep serving
            self.out("error: writing the server's cache failed:\n" + traceback.format_exc())
        if self._builder.garbage or not self._frozen:
            self._builder.garbage = False
            self._frozen = True
            gc.unfreeze()
            gc.collect()
            gc.freeze()

    def _rebuild(self, batch: set[tuple[str, str]], initial: bool = False) -> Rebuild:
        t0 = time.perf_counter()
        changed = sorted({self._site_rel(p) for _, p in batch} - {""})
        config_changed = CONFIG_FILE in changed
        css_only = bool(changed) and all(
            p.endswith(".css") and p.split("/", 1)[0] in ("assets", "static") for p in changed
        )
        result = None
        errors: list[str] = []
        try:
            with self._build_lock:
                result = self._builder.build(changed if not initial else None)
            errors = list(result.errors)
        except BengalError as exc:
            errors = [str(exc)]
        except Exception:  # a bug must not take the server down; show it and keep serving
            errors = ["internal error in bengal (please report):\n" + traceback.format_exc()]
        seconds = time.perf_counter() - t0
        self.base_path = self._builder.base_path  # [site] baseurl may have changed
        self.url = self.origin + self.base_path
        ok = not errors
        full = result is not None and not result.incremental and not result.noop
        self.broker.generation += 1
        rb = Rebuild(self.broker.generation, changed, seconds, ok, full, errors=errors)
        if config_changed:
            rb.reason = "bengal.toml changed: full rebuild"
        self.broker.errors = [structured_error(e) for e in errors]
        events: list[tuple[str, dict[str, Any]]] = []
        if not ok:
            rb.event = "build-error"
            events.append(("build-error", {"errors": self.broker.errors}))
        elif not initial:
            events.append(("build-ok", {}))
            if result is not None and result.noop:
                rb.event = ""
            elif css_only:
                rb.event = "css"
                events.append(("css", {}))
            else:
                rb.event = "reload"
                only_content = all(c.startswith("content/") for c in changed)
                paths = self._changed_urls(result) if only_content else None
                events.append(("reload", {"paths": paths}))
        # Recorded and said before the browsers hear of it: whoever reacts to an event finds
        # the rebuild in the history and its lines printed.
        self.history.append(rb)
        del self.history[:-1000]
        self._report(rb, result, initial)
        for name, data in events:
            self.broker.publish(name, data)
        return rb

    def _changed_urls(self, result: Any) -> list[str] | None:
        """URL paths of the HTML outputs this build rendered again, or None (reload any page)."""
        if result is None or not result.incremental or not result.explain_outputs:
            return None
        if len(result.explain_outputs) > 2000:
            return None
        urls: list[str] = []
        for out in result.explain_outputs:
            urls.append(self.base_path + out)
            if out == "index.html":
                urls.append(self.base_path)
            elif out.endswith("/index.html"):
                urls.append(self.base_path + out[: -len("index.html")])
        return urls

    def _site_rel(self, path: str) -> str:
        try:
            rel = Path(path).resolve().relative_to(self.root)
        except ValueError:
            return ""
        s = rel.as_posix()
        return "" if s.startswith(".bengal") else s

    def _report(self, rb: Rebuild, result: Any, initial: bool) -> None:
        ms = rb.seconds * 1000
        if initial:
            if result is not None:
                self.out(f"built {result.pages} pages ({result.files} files) in {ms:.0f} ms")
        else:
            # Temporary files that came and went (editors, sed -i) are not worth naming.
            shown = [c for c in rb.changes if (self.root / c).exists()] or rb.changes
            what = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
            if rb.reason:
                self.out(rb.reason)
            if result is not None and result.noop:
                self.out(f"{what or 'change'}: nothing to rebuild ({ms:.0f} ms)")
            elif result is not None:
                how = "full rebuild" if rb.full else f"{result.rendered} rendered"
                self.out(f"{what}: {how} in {ms:.0f} ms" + ("" if rb.ok else ", with errors"))
        for e in rb.errors:
            self.out(f"error: {e}")
        if result is not None and self.verbose:
            for w in result.warnings:
                self.out(f"warning: {w}")


def _loopback_host(header: str) -> bool:
    """Whether a Host header names this machine's loopback address (any port)."""
    host = header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return host in ("localhost", "127.0.0.1", "::1") or host.endswith(".localhost")


def serve(
    root: Path,
    host: str,
    port: int,
    drafts: bool,
    open_browser: bool,
    verbose: bool = False,
) -> int:
    server = DevServer(root, host=host, port=port, drafts=drafts, verbose=verbose)
    server.bind()
    if host not in LOOPBACK:
        print(
            f"warning: serving on {host}: anyone who can reach this machine on port "
            f"{server.port} can read the site (the default, 127.0.0.1, is this machine only)",
            file=sys.stderr,
        )
    server.start()
    print(f"serving {server.out_dir} at {server.url}  (Ctrl+C to stop)", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping", file=sys.stderr)
    finally:
        server.stop()
    return 0
