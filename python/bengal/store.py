"""The store: everything a build keeps for the next one, in one SQLite database,
.bengal/bengal.db (Python's sqlite3, WAL journal).

    build cache and state (bengal.incremental, bengal.cache) -> tables -> the next build

Tables are key -> value maps, one per kind of record (TABLES below): the sources' stamps,
digests, parsed front matter and Markdown facts (not the rendered HTML: a page whose body did
not change renders it again when it is needed, which costs less than storing every page's);
what each output read (its record) and the reverse index; the objects' fingerprints; output
stamps; the taxonomy index; the recorded site model; the build state and the outputs a build
is about to create. A value is stored with the CRC-32 of its bytes, checked when it is read:
damage shows up as StoreDamaged,
never as a wrong record.

One transaction per build writes the cache and the state together (a build killed before the
commit leaves the last build's store whole: SQLite's journal). A build that writes everything
from scratch into a store it created writes a new file and renames it into place instead
(`rewrite()`: the same guarantee without writing every record twice, to the WAL and then to
the database). The few writes a build must
make before it writes outputs -- the state is no longer valid, these outputs may appear --
are a small transaction of their own, committed first.

A database written by another schema version, or one that fails to open or to read, is
reported by the caller with the path and answered with a full build; `reset()` replaces it
with an empty one. Connections are per process: a process forked to render opens its own on
first use (SQLite connections must not cross fork()).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import pickle
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

DB_NAME = "bengal.db"
# Bumped when a table's meaning or a value's encoding changes: a store of another version is
# not read (a full build replaces it).
SCHEMA_VERSION = 6
PAGE_SIZE = 65536

# table -> how its values are encoded. "pickle": records with datetimes, frozensets or named
# tuples; "marshal": plain data (several times faster both ways); "bytes": stored as they are.
TABLES: dict[str, str] = {
    "meta": "marshal",  # the cache's top-level fields, the build state, markers
    "sources": "pickle",  # content path -> incremental.SourceEntry (datetimes in front matter)
    "answers": "marshal",  # content path -> what the xref index answered for its [[links]]
    "outputs": "marshal",  # output path -> incremental.OutputRecord
    # page key, "key|body", "key|summary", "tpl:" + template name -> the outputs that read it
    "rdeps": "marshal",
    "linkers": "marshal",  # page URL -> content paths whose [[x#heading]] links point into it
    "xref_users": "marshal",  # [[path]] as written (no #anchor) -> the content paths using it
    "facts": "bytes",  # "key|group" -> fingerprint
    "out_stats": "marshal",  # output path -> (mtime_ns, size) as the build left it
    "tax_pages": "marshal",  # content path -> what it contributes to the taxonomy index
    "tax_terms": "marshal",  # "plural\0term" -> its pages in list order
    "model": "pickle",  # model key -> (what it is made of, its record) (bengal.express)
    "entries": "marshal",  # page key -> its entry in the sitemap, feeds, search index (outputs)
    "pending": "bytes",  # output paths a build may create (see incremental.write_pending)
    "jinja": "bytes",  # Jinja2 bucket key -> a compiled template (bengal.render)
}
KEPT = "jinja"  # written outside the build's transaction: kept when a build rewrites the file

# table -> (record -> plain data, plain data -> record), registered by the module that owns a
# table's record type (bengal.incremental): named tuples are stored as plain tuples, which
# marshal can store at all and pickle stores faster (no class reference per record).
RECORDS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {}


class StoreDamaged(Exception):
    """The database exists but cannot be trusted (the message says what was found)."""


def db_path(state_dir: Path) -> Path:
    return state_dir / DB_NAME


def _encode(table: str, value: Any) -> bytes:
    codec = TABLES[table]
    rec = RECORDS.get(table)
    if rec is not None:
        value = rec[0](value)
    if codec == "bytes":
        return bytes(value)
    if codec == "marshal":
        try:
            return marshal.dumps(value)
        except ValueError:  # a value marshal cannot store (a str subclass, say)
            return b"P" + pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _decode(table: str, blob: bytes) -> Any:
    codec = TABLES[table]
    if codec == "bytes":
        return blob
    if codec == "marshal" and blob[:1] != b"P":
        value = marshal.loads(blob)
    else:
        value = pickle.loads(blob[1:] if codec == "marshal" else blob)
    rec = RECORDS.get(table)
    return value if rec is None else rec[1](value)


class Store:
    """One site's database (see the module). Reads are plain; writes happen inside
    `transaction()`."""

    def __init__(self, path: Path):
        self.path = path
        self._conn: sqlite3.Connection | None = None
        # This process made the database (it held no build's records when opened): a build
        # that writes every table from scratch may write a new file instead (rewrite()).
        self.created = False
        self._pid = -1

    # ---- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        """The store in `state_dir`, made empty if there is none. Raises StoreDamaged for a file
        that is not a bengal store of this version (or not a database at all), OSError when the
        folder cannot be written."""
        state_dir.mkdir(parents=True, exist_ok=True)
        store = cls(db_path(state_dir))
        store.conn  # noqa: B018 - opens and checks it
        return store

    @classmethod
    def reset(cls, state_dir: Path) -> Store:
        """A new, empty store in place of whatever is there."""
        path = db_path(state_dir)
        for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if p.is_dir() and not p.is_symlink():
                import shutil

                shutil.rmtree(p)
            else:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        return cls.open(state_dir)

    def replace(self) -> None:
        """Replace the database with an empty one (damage was found in it)."""
        self.close()
        Store.reset(self.path.parent)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            # (An inherited connection is left alone, never closed: it belongs to the parent.)
            self._conn = self._connect()
            self._pid = os.getpid()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        # SQLite takes an empty file for a new database; bengal never leaves one (it writes
        # its tables first): one is a store that lost its contents.
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_size == 0:
                raise StoreDamaged("empty file")
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreDamaged(f"cannot open ({exc})") from None
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                if names:
                    raise StoreDamaged("not a bengal store (unknown tables)")
                self._create(conn)
                self.created = True
            elif version != SCHEMA_VERSION:
                raise StoreDamaged(
                    f"written by another version of bengal (store schema {version}, this bengal "
                    f"uses {SCHEMA_VERSION})"
                )
            else:
                names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                missing = sorted(set(TABLES) - names)
                if missing:
                    raise StoreDamaged(f"tables missing: {', '.join(missing)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across a crash of the process
            conn.execute("PRAGMA cell_size_check=ON")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreDamaged(f"not a usable database ({exc})") from None
        except StoreDamaged:
            conn.close()
            raise
        return conn

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute("BEGIN IMMEDIATE")
        for name in TABLES:
            conn.execute(
                f"CREATE TABLE {name} (key TEXT PRIMARY KEY, value BLOB NOT NULL, "
                "crc INTEGER NOT NULL) WITHOUT ROWID"
            )
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    # ---- reading -------------------------------------------------------------------------

    def _fail(self, table: str, what: str) -> StoreDamaged:
        return StoreDamaged(f"table {table}: {what}")

    def _rows(self, table: str, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """The rows of a query on `table`; an SQLite error (a damaged page, say) is
        StoreDamaged naming the table."""
        try:
            return self.conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._fail(table, str(exc)) from None

    def get(self, table: str, key: str) -> Any:
        """The value stored under `key`, or None."""
        rows = self._rows(table, f"SELECT value, crc FROM {table} WHERE key=?", (key,))
        if not rows:
            return None
        return self._value(table, key, rows[0][0], rows[0][1])

    def _value(self, table: str, key: str, blob: bytes, crc: int) -> Any:
        if zlib.crc32(blob) != crc:
            raise self._fail(table, f"record {key!r} is damaged (checksum mismatch)")
        try:
            return _decode(table, blob)
        except Exception as exc:  # a checksum match with a bad payload: a foreign writer
            what = f"record {key!r} cannot be decoded ({type(exc).__name__})"
            raise self._fail(table, what) from None

    def get_many(self, table: str, keys: Iterable[str]) -> dict[str, Any]:
        """The values stored under `keys` (those found), a few hundred keys to a query."""
        out: dict[str, Any] = {}
        wanted = list(dict.fromkeys(keys))
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT key, value, crc FROM {table} WHERE key IN ({marks})"
            for key, blob, crc in self._rows(table, sql, tuple(chunk)):
                out[key] = self._value(table, key, blob, crc)
        return out

    def read_all(self, table: str) -> dict[str, Any]:
        """Every record of `table`, checked."""
        crc32 = zlib.crc32
        out: dict[str, Any] = {}
        rows = self._rows(table, f"SELECT key, value, crc FROM {table}")
        if TABLES[table] == "bytes":
            for key, blob, crc in rows:
                if crc32(blob) != crc:
                    raise self._fail(table, f"record {key!r} is damaged (checksum mismatch)")
                out[key] = blob
            return out
        try:
            for key, blob, crc in rows:
                if crc32(blob) != crc:
                    raise self._fail(table, f"record {key!r} is damaged (checksum mismatch)")
                out[key] = _decode(table, blob)
        except StoreDamaged:
            raise
        except Exception as exc:
            raise self._fail(table, f"a record cannot be decoded ({type(exc).__name__})") from None
        return out

    def keys_exist(self, table: str) -> bool:
        """Whether `table` holds any record."""
        return bool(self._rows(table, f"SELECT 1 FROM {table} LIMIT 1"))

    def keys(self, table: str, prefix: str = "") -> list[str]:
        """The keys of `table` (those starting with `prefix`: a range of the primary key)."""
        if not prefix:
            return [r[0] for r in self._rows(table, f"SELECT key FROM {table}")]
        sql = f"SELECT key FROM {table} WHERE key >= ? AND key < ?"
        return [r[0] for r in self._rows(table, sql, (prefix, prefix + "\U0010ffff"))]

    # ---- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception). sqlite3 errors come out as
        OSError (the caller reports that the cache could not be saved)."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise OSError(f"{self.path}: {exc}") from None
        try:
            yield self
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise OSError(f"{self.path}: {exc}") from None
            raise

    @contextlib.contextmanager
    def rewrite(self) -> Iterator[Store]:
        """Like transaction(), for a build that writes every table from scratch into a store it
        created (`created`: nothing in it is kept): the records go into a new file, written
        without a journal, which then replaces the database in one rename -- the same outcome
        as a transaction for a build killed at any moment (the old file, or the whole new one)
        at a fraction of the cost (no WAL written and then copied into the database). Of what
        the old file held only the compiled templates (KEPT) are carried over."""
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        # The last connection to close checkpoints and removes the WAL: none is left to be
        # mistaken for the new file's (a WAL applies to whatever file bears its name).
        self.close()
        try:
            conn = sqlite3.connect(tmp, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            self._create(conn)
        except sqlite3.Error as exc:
            raise OSError(f"{tmp}: {exc}") from None
        self._carry_over(conn)
        self._conn, self._pid = conn, os.getpid()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield self
            conn.execute("COMMIT")
            conn.close()
            for side in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.path}{side}")
            os.replace(tmp, self.path)
        except BaseException as exc:
            conn.close()
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if isinstance(exc, sqlite3.Error):
                raise OSError(f"{self.path}: {exc}") from None
            raise
        finally:
            self._conn = None  # the next use connects to the database as it now is
        self.created = False

    def _carry_over(self, conn: sqlite3.Connection) -> None:
        """The compiled templates this build's renders stored (before the save) go into the new
        file too; an old file that cannot be read gives none."""
        try:
            conn.execute("ATTACH DATABASE ? AS old", (str(self.path),))
        except sqlite3.Error:
            return
        try:
            conn.execute(f"INSERT OR IGNORE INTO {KEPT} SELECT * FROM old.{KEPT}")
        except sqlite3.Error:
            conn.execute(f"DELETE FROM {KEPT}")
        finally:
            conn.execute("DETACH DATABASE old")

    def put(self, table: str, key: str, value: Any) -> None:
        self.put_many(table, [(key, value)])

    def put_many(self, table: str, items: Iterable[tuple[str, Any]]) -> None:
        crc32 = zlib.crc32
        rows = []
        for key, value in items:
            blob = _encode(table, value)
            rows.append((key, blob, crc32(blob)))
        if rows:
            # In key order: B-tree pages are filled one after another instead of split at
            # random places (a full build's inserts take half the time).
            rows.sort()
            self.conn.executemany(
                f"INSERT OR REPLACE INTO {table} (key, value, crc) VALUES (?, ?, ?)", rows
            )

    def delete_many(self, table: str, keys: Iterable[str]) -> None:
        rows = [(k,) for k in keys]
        if rows:
            self.conn.executemany(f"DELETE FROM {table} WHERE key=?", rows)

    def clear(self, table: str) -> None:
        self.conn.execute(f"DELETE FROM {table}")
