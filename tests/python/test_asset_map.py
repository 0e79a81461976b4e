"""bengal_native.AssetDependencyMap from Python: semantics, batch modes, persistence and every
kind of bad file, and concurrent use from Python threads (the GIL is released while it works)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bengal_native
from bengal_native import AssetDependencyMap, AssetMapStatus


def page(*assets: str) -> str:
    imgs = "".join(f'<p>x</p><img src="{a}">' for a in assets)
    return f"<!doctype html><title>t</title><body>{imgs}</body>"


def test_both_directions_and_updates() -> None:
    m = AssetDependencyMap()
    m.track_page_assets("b.md", page("/css/site.css", "/img/b.png"))
    m.track_page_assets("a.md", page("/img/a.png", "/css/site.css"))
    assert m.assets_for("a.md") == ["/img/a.png", "/css/site.css"]
    assert m.pages_for("/css/site.css") == ["a.md", "b.md"]
    assert m.pages() == ["a.md", "b.md"]
    assert m.assets() == ["/css/site.css", "/img/a.png", "/img/b.png"]
    assert len(m) == 2 and m.asset_count() == 3
    assert "a.md" in m and "c.md" not in m
    assert m.assets_for("missing.md") == [] and m.pages_for("/missing.png") == []

    m.track_page_assets("a.md", page("/img/new.png"))
    assert m.pages_for("/img/a.png") == []
    assert m.pages_for("/css/site.css") == ["b.md"]
    assert m.remove_page("b.md") is True
    assert m.remove_page("b.md") is False
    assert m.assets() == ["/img/new.png"]
    m.set_page_assets("manual.md", ["/x", "/y", "/x"])
    assert m.assets_for("manual.md") == ["/x", "/y"]
    assert repr(m) == "<AssetDependencyMap 2 pages, 3 assets>"
    m.clear()
    assert len(m) == 0


def test_tracks_external_references_too() -> None:
    m = AssetDependencyMap()
    m.track_page_assets("p", page("https://cdn.example/lib.js", "/local.png", "data:x,y", "#f"))
    assert m.assets_for("p") == ["https://cdn.example/lib.js", "/local.png"]


@pytest.mark.parametrize("parallel", [None, True, False])
def test_track_assets_modes_agree(parallel: bool | None) -> None:
    pairs = [(f"p{i}.md", page("/site.css", f"/img/{i % 5}.png")) for i in range(200)]
    pairs.append(("p0.md", page("/img/replaced.png")))  # a later entry wins
    expected = AssetDependencyMap()
    for name, html in pairs:
        expected.track_page_assets(name, html)
    m = AssetDependencyMap()
    m.track_assets(pairs, parallel=parallel)
    assert m.to_json() == expected.to_json()
    assert m.assets_for("p0.md") == ["/img/replaced.png"]
    assert m.pages_for("/img/0.png") == sorted(f"p{i}.md" for i in range(5, 200, 5))


def test_track_assets_accepts_bytes_and_generators() -> None:
    m = AssetDependencyMap()
    m.track_assets((f"g{i}", page(f"/{i}.png").encode()) for i in range(3))
    assert m.pages() == ["g0", "g1", "g2"]
    with pytest.raises(TypeError, match=r"\(page, html\) pairs"):
        m.track_assets(["not-a-pair"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"\(page, html\) pairs"):
        m.track_assets(["ab"])  # type: ignore[list-item]  # a str of length 2 is not a pair
    with pytest.raises(TypeError, match=r"\.items\(\)"):
        m.track_assets({"page": "<img src=/x.png>"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str or bytes"):
        m.track_assets([("p", 3)])  # type: ignore[list-item]
    assert m.pages() == ["g0", "g1", "g2"]  # a bad batch changes nothing


# ---- persistence ---------------------------------------------------------------------------------


def sample_map() -> AssetDependencyMap:
    m = AssetDependencyMap()
    m.track_page_assets("docs/a.md", page("/img/été.png", "/css/site.css"))
    m.track_page_assets("b.md", page("https://cdn.example/x.js", "/css/site.css"))
    m.set_page_assets("empty.md", [])
    return m


def test_save_load_round_trip(tmp_path: Path) -> None:
    m = sample_map()
    path = tmp_path / ".bengal" / "asset_deps.json"  # the directory is created
    m.save(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "bengal-asset-deps" and doc["version"] == 1
    assert doc["pages"]["docs/a.md"] == ["/img/été.png", "/css/site.css"]
    loaded, status, message = AssetDependencyMap.load(path)
    assert status == AssetMapStatus.OK and message == ""
    assert loaded.to_json() == m.to_json()
    assert loaded.pages_for("/css/site.css") == ["b.md", "docs/a.md"]
    assert "empty.md" in loaded
    # str paths work as well as Path objects, and saving again gives identical bytes.
    again = tmp_path / "again.json"
    loaded.save(str(again))
    assert again.read_bytes() == path.read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == ["asset_deps.json"]  # no temp files


def test_save_is_atomic_replace(tmp_path: Path) -> None:
    path = tmp_path / "deps.json"
    path.write_text("previous contents")
    inode_before = path.stat().st_ino
    sample_map().save(path)
    assert path.stat().st_ino != inode_before  # replaced by rename, not rewritten in place
    assert AssetDependencyMap.load(path)[1] == AssetMapStatus.OK
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deps.json"]


def test_save_errors_raise_oserror_with_errno(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        sample_map().save(tmp_path / "dir")
    assert info.value.errno is not None and str(tmp_path / "dir") in str(info.value)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        sample_map().save(tmp_path / "file" / "deps.json")
    assert (tmp_path / "file").read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_save_into_read_only_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            sample_map().save(ro / "deps.json")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_load_missing_and_unreadable(tmp_path: Path) -> None:
    m, status, message = AssetDependencyMap.load(tmp_path / "nope.json")
    assert status == AssetMapStatus.MISSING and len(m) == 0 and "nope.json" in message
    m, status, message = AssetDependencyMap.load(tmp_path)
    assert status == AssetMapStatus.UNREADABLE and len(m) == 0 and message


GOOD = {"format": "bengal-asset-deps", "version": 1, "pages": {"p": ["/a", "/b"]}}


@pytest.mark.parametrize(
    ("content", "status"),
    [
        ("", AssetMapStatus.CORRUPT),
        ("not json", AssetMapStatus.CORRUPT),
        ("[1, 2]", AssetMapStatus.CORRUPT),
        ('"a string"', AssetMapStatus.CORRUPT),
        ("{}", AssetMapStatus.CORRUPT),
        (json.dumps({**GOOD, "format": "something-else"}), AssetMapStatus.CORRUPT),
        (json.dumps({**GOOD, "version": "1"}), AssetMapStatus.CORRUPT),
        (json.dumps({**GOOD, "version": 1.0}), AssetMapStatus.CORRUPT),
        (json.dumps({**GOOD, "version": 2}), AssetMapStatus.VERSION_MISMATCH),
        (json.dumps({**GOOD, "version": 0}), AssetMapStatus.VERSION_MISMATCH),
        (json.dumps({**GOOD, "pages": ["p"]}), AssetMapStatus.CORRUPT),
        (json.dumps({**GOOD, "pages": {"p": "/a"}}), AssetMapStatus.CORRUPT),
        (json.dumps({**GOOD, "pages": {"p": ["/a", None]}}), AssetMapStatus.CORRUPT),
        (json.dumps({"version": 1, "pages": {}}), AssetMapStatus.CORRUPT),
        (json.dumps(GOOD)[:-1], AssetMapStatus.CORRUPT),  # truncated
        (json.dumps(GOOD) + "garbage", AssetMapStatus.CORRUPT),
        (json.dumps(GOOD), AssetMapStatus.OK),
        (json.dumps({**GOOD, "extra": {"future": True}}), AssetMapStatus.OK),
    ],
)
def test_load_bad_files(tmp_path: Path, content: str, status: AssetMapStatus) -> None:
    path = tmp_path / "deps.json"
    path.write_text(content, encoding="utf-8")
    m, got, message = AssetDependencyMap.load(path)
    assert got == status, message
    if status == AssetMapStatus.OK:
        assert m.assets_for("p") == ["/a", "/b"]
    else:
        assert len(m) == 0 and message.startswith(str(path))


def test_every_truncation_of_a_saved_file(tmp_path: Path) -> None:
    full = tmp_path / "full.json"
    sample_map().save(full)
    data = full.read_bytes()
    cut = tmp_path / "cut.json"
    for n in range(len(data) - 1):  # only the final newline is optional
        cut.write_bytes(data[:n])
        m, status, _ = AssetDependencyMap.load(cut)
        assert status == AssetMapStatus.CORRUPT, n
        assert len(m) == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_load_as_flagged_empty_maps(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("rand") / "deps.json"
    path.write_bytes(data)
    m, status, message = AssetDependencyMap.load(path)
    assert status in (AssetMapStatus.CORRUPT, AssetMapStatus.VERSION_MISMATCH)
    assert len(m) == 0 and message


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.text(max_size=20), st.lists(st.text(max_size=20), max_size=5), max_size=8)
)
def test_round_trip_of_arbitrary_names(
    tmp_path_factory: pytest.TempPathFactory, pages: dict[str, list[str]]
) -> None:
    m = AssetDependencyMap()
    for name, assets in pages.items():
        try:
            name.encode("utf-8")
            [a.encode("utf-8") for a in assets]
        except UnicodeEncodeError:
            continue  # lone surrogates cannot become C++ strings at all
        m.set_page_assets(name, assets)
    path = tmp_path_factory.mktemp("rt") / "deps.json"
    m.save(path)
    loaded, status, _ = AssetDependencyMap.load(path)
    assert status == AssetMapStatus.OK
    assert loaded.to_json() == m.to_json()


# ---- threads -------------------------------------------------------------------------------------


def test_python_threads_hammer_the_map() -> None:
    m = AssetDependencyMap()
    n_threads, n_pages, rounds = 8, 25, 6
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            barrier.wait()
            for r in range(rounds):
                batch = [
                    (f"t{t}/p{p}", page("/shared.css", f"/r{r}.png", f"/own/t{t}/p{p}.png"))
                    for p in range(n_pages)
                ]
                if r % 2:
                    m.track_assets(batch, parallel=True)
                else:
                    for name, html in batch:
                        m.track_page_assets(name, html)
                m.pages_for("/shared.css")
                m.assets()
        except BaseException as e:  # collected and re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    expected = sorted(f"t{t}/p{p}" for t in range(n_threads) for p in range(n_pages))
    assert m.pages() == expected
    assert m.pages_for("/shared.css") == expected
    assert m.pages_for(f"/r{rounds - 1}.png") == expected
    assert m.pages_for(f"/r{rounds - 2}.png") == []
    assert m.asset_count() == 2 + len(expected)


def test_status_enum_names() -> None:
    assert [s.name for s in (AssetMapStatus.OK, AssetMapStatus.MISSING)] == ["OK", "MISSING"]
    assert bengal_native.AssetMapStatus.VERSION_MISMATCH.name == "VERSION_MISMATCH"
