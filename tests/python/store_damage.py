"""Helpers for tests that look into a site's store (.bengal/bengal.db) or damage it the ways a
disk, a crash or another program could."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path
from typing import Any

from bengal.store import DB_NAME, Store


def db_file(site: Path, state: str = ".bengal") -> Path:
    return site / state / DB_NAME


def checkpoint(path: Path) -> None:
    """Move everything the write-ahead log holds into the database file itself (so that damage
    done to the file reaches every record)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def damage_file(path: Path, how: str) -> None:
    """Damage the database file: "truncated", "garbage", "empty", "foreign" (another schema
    version) or "bit-flip" (one byte of a stored record)."""
    checkpoint(path)
    if how == "foreign":
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA user_version=999")
        conn.close()
        return
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(b"\x00garbage" * 100)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "bit-flip":
        flip_value(path, "meta", "cache")
    else:
        raise ValueError(how)


def record(path: Path, table: str, key: str) -> Any:
    """A record as bengal reads it (None when absent)."""
    store = Store(path)
    try:
        return store.get(table, key)
    finally:
        store.close()


def records(path: Path, table: str) -> dict[str, Any]:
    store = Store(path)
    try:
        return store.read_all(table)
    finally:
        store.close()


def flip_value(path: Path, table: str, key: str, at: float = 0.5) -> None:
    """Flip one byte of a stored value, its checksum kept: damage only the check can find."""
    conn = sqlite3.connect(path)
    try:
        (blob,) = conn.execute(f"SELECT value FROM {table} WHERE key=?", (key,)).fetchone()
        data = bytearray(blob)
        data[int(len(data) * at)] ^= 0xFF
        conn.execute(f"UPDATE {table} SET value=? WHERE key=?", (bytes(data), key))
        conn.commit()
    finally:
        conn.close()


def set_raw(path: Path, table: str, key: str, blob: bytes) -> None:
    """Store `blob` as a value with a matching checksum (a foreign writer's record)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            f"INSERT OR REPLACE INTO {table} (key, value, crc) VALUES (?, ?, ?)",
            (key, blob, zlib.crc32(blob)),
        )
        conn.commit()
    finally:
        conn.close()


def delete(path: Path, table: str, key: str) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"DELETE FROM {table} WHERE key=?", (key,))
        conn.commit()
    finally:
        conn.close()
