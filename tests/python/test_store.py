"""The store (bengal.store) on its own: records round-trip with their checksums, damage and
other versions are reported as StoreDamaged, transactions are all or nothing, and a rewrite
replaces the database in one step (or not at all)."""

from __future__ import annotations

import datetime
import os
import sqlite3
from pathlib import Path

import pytest
from bengal.store import (
    DB_NAME,
    PAGE_SIZE,
    SCHEMA_VERSION,
    Store,
    StoreDamaged,
)
from store_damage import flip_value


def test_records_round_trip_in_every_encoding(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    assert store.created  # a new file
    value = {"when": datetime.date(2024, 1, 2), "tags": frozenset({"a"})}  # needs pickle
    with store.transaction():
        store.put("model", "a.md", value)
        store.put_many("rdeps", [("a", ("x/index.html",)), ("b", ())])
        store.put("facts", "a|meta", b"\x00\x01")
        store.put("meta", "odd", _Str("marshal cannot"))  # falls back to pickle
    store.close()
    again = Store.open(tmp_path)
    assert not again.created  # it held a store already
    assert again.get("model", "a.md") == value
    assert again.read_all("rdeps") == {"a": ("x/index.html",), "b": ()}
    assert again.get("facts", "a|meta") == b"\x00\x01"
    assert again.get("meta", "odd") == "marshal cannot"
    assert again.get("sources", "missing.md") is None
    assert sorted(again.keys("rdeps")) == ["a", "b"]


def test_cache_records_come_back_as_their_named_tuples(tmp_path: Path) -> None:
    # Stored as plain tuples (bengal.store.RECORDS), read back as the records they were.
    from bengal.incremental import MdFacts, OutputRecord, SourceEntry

    md = MdFacts(b"h" * 16, -1, [(2, "a", "A")], ["/i.png"], 3, "One two.", None, None, [],
                 [("x", True, "/x/", 4)], b"l")  # fmt: skip
    entry = SourceEntry((1, 2), b"d" * 16, ("ok", {"date": datetime.date(2024, 1, 2)}, 3),
                        "Title", md, b"f")  # fmt: skip
    bare = entry._replace(md=None, heading=None)
    rec = OutputRecord("p:a.md", ("base.html",), frozenset({"p:a.md|meta", "site|menus"}),
                       (("ref", "a", "/a/"),), [("/a/", False)], ("w",))  # fmt: skip
    store = Store.open(tmp_path)
    with store.transaction():
        store.put_many("sources", [("a.md", entry), ("b.md", bare)])
        store.put("outputs", "a/index.html", rec)
    store.close()
    again = Store.open(tmp_path)
    got = again.read_all("sources")
    assert got == {"a.md": entry, "b.md": bare}
    assert type(got["a.md"]) is SourceEntry and type(got["a.md"].md) is MdFacts
    out = again.get("outputs", "a/index.html")
    assert out == rec and type(out) is OutputRecord and type(out.deps) is frozenset


class _Str(str):
    pass


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with store.transaction():
        store.put("meta", "kept", 1)
    with pytest.raises(RuntimeError), store.transaction():
        store.put("meta", "kept", 2)
        store.put("meta", "new", 3)
        raise RuntimeError("the build failed")
    assert store.get("meta", "kept") == 1 and store.get("meta", "new") is None


def test_a_damaged_record_is_reported_not_returned(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with store.transaction():
        store.put("answers", "index.md", ("record", 1))
    store.close()
    flip_value(tmp_path / DB_NAME, "answers", "index.md")
    again = Store.open(tmp_path)
    with pytest.raises(StoreDamaged, match=r"table answers: record 'index.md' is damaged"):
        again.get("answers", "index.md")
    with pytest.raises(StoreDamaged, match="checksum mismatch"):
        again.read_all("answers")


def test_other_versions_and_foreign_files_are_damage(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreDamaged, match="another version of bengal"):
        Store.open(tmp_path)
    (tmp_path / DB_NAME).write_bytes(b"not a database at all" * 50)
    with pytest.raises(StoreDamaged, match="not a usable database"):
        Store.open(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    conn = sqlite3.connect(other / DB_NAME)
    conn.execute("CREATE TABLE notes (x)")
    conn.close()
    with pytest.raises(StoreDamaged, match="not a bengal store"):
        Store.open(other)
    fresh = Store.reset(tmp_path)  # what a build does after the warning
    assert fresh.created and fresh.keys("meta") == []


def test_rewrite_replaces_the_database_in_one_step(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with store.transaction():
        store.put("meta", "writing", 1)  # what the build marks before it writes outputs
    with store.rewrite():
        store.put("answers", "a.md", ("entry",))
    assert not store.created
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [DB_NAME]  # no temp file, no WAL of the old file left beside the new one
    assert store.get("meta", "writing") is None  # the old file's records are not carried over
    assert store.get("answers", "a.md") == ("entry",)
    conn = sqlite3.connect(tmp_path / DB_NAME)
    assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # as every connection
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with store.transaction():  # and it goes on as an ordinary store
        store.put("meta", "after", 2)
    assert Store.open(tmp_path).get("meta", "after") == 2


def test_a_failed_rewrite_keeps_the_old_database(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with store.transaction():
        store.put("meta", "old", 1)
    with pytest.raises(RuntimeError), store.rewrite():
        store.put("meta", "new", 2)
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(DB_NAME)) == []
    assert store.get("meta", "old") == 1 and store.get("meta", "new") is None


def test_a_forked_process_opens_its_own_connection(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with store.transaction():
        store.put("meta", "k", 41)
    parent_conn = store.conn
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: reads through a connection of its own
        try:
            ok = store.get("meta", "k") == 41 and store.conn is not parent_conn
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert store.conn is parent_conn and store.get("meta", "k") == 41


def test_an_empty_file_is_a_store_that_lost_its_contents(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    (tmp_path / DB_NAME).write_bytes(b"")
    with pytest.raises(StoreDamaged, match="empty file"):
        Store.open(tmp_path)
