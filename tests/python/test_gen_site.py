"""benchmarks/gen_site.py: determinism, structure, front matter, tag distribution and xrefs.

The xref checks re-derive heading ids independently of the generator (and, when bengal_native is
importable, with the real renderer), so a generated [[target#anchor]] that names no heading fails.
"""

from __future__ import annotations

import re
import statistics
import struct
import sys
import zlib
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # benchmarks/ is a top-level directory, not an installed package

from benchmarks import gen_site  # noqa: E402
from benchmarks.gen_site import SiteManifest, generate_site, iter_bodies  # noqa: E402

XREF = re.compile(r"\[\[([^\]|]+)(?:\|([^\]]*))?\]\]")
HEADING = re.compile(r"^(#{1,6}) (.*?)(?: \{#([A-Za-z0-9_:.-]+)\})?$")
FENCE = re.compile(r"^(`{3,})(.*)$")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _slug(text: str) -> str:
    kept = re.sub(r"[^a-z0-9 _-]", "", text.lower())
    return re.sub(r"[ -]+", "-", kept).strip("-")


def _key_of(rel: str) -> str:
    """Content path -> xref key: drop .md, then a trailing index/_index segment."""
    key = rel[: -len(".md")]
    for suffix in ("/_index", "/index", "_index"):
        if key.endswith(suffix):
            return key[: -len(suffix)]
    return key


def _heading_ids(body: str) -> list[str]:
    """Heading ids the way bengal assigns them: {#custom} as is, else slug, slug-1, slug-2..."""
    used: dict[str, int] = {}
    ids: list[str] = []
    fence: str | None = None
    for line in body.split("\n"):
        m = FENCE.match(line)
        if m and (fence is None or (m.group(1).startswith(fence) and not m.group(2).strip())):
            fence = m.group(1) if fence is None else None
            continue
        if fence is not None:
            continue
        h = HEADING.match(line)
        if not h:
            continue
        if h.group(3):
            used[h.group(3)] = 1
            ids.append(h.group(3))
            continue
        slug = _slug(h.group(2)) or "heading"
        if slug not in used:
            used[slug] = 1
            ids.append(slug)
            continue
        n = used[slug]
        while f"{slug}-{n}" in used:
            n += 1
        used[slug] = n + 1
        used[f"{slug}-{n}"] = 1
        ids.append(f"{slug}-{n}")
    return ids


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> SiteManifest:
    return generate_site(tmp_path_factory.mktemp("gen") / "site", pages=150, seed=0)


def test_same_seed_gives_byte_identical_trees(tmp_path: Path) -> None:
    a = generate_site(tmp_path / "a", pages=50, seed=7)
    b = generate_site(tmp_path / "b", pages=50, seed=7)
    tree_a, tree_b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert sorted(tree_a) == sorted(tree_b)
    assert all(tree_a[name] == tree_b[name] for name in tree_a)
    assert (a.pages, a.sections, a.total_bytes, a.xref_targets) == (
        b.pages, b.sections, b.total_bytes, b.xref_targets,
    )  # fmt: skip


def test_different_seeds_differ(tmp_path: Path) -> None:
    generate_site(tmp_path / "a", pages=50, seed=0)
    generate_site(tmp_path / "b", pages=50, seed=1)
    tree_a, tree_b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert tree_a != tree_b
    assert sorted(tree_a) != sorted(tree_b)  # even the page names differ


def test_manifest_matches_disk(site: SiteManifest) -> None:
    content = site.root / "content"
    on_disk = sorted(p.relative_to(content).as_posix() for p in content.rglob("*.md"))
    assert on_disk == list(site.markdown_files)
    assert len(site.pages) == 150
    assert site.total_bytes == sum((content / rel).stat().st_size for rel in on_disk)
    assert all((site.root / rel).is_file() for rel in site.static_files)
    config = (site.root / "bengal.toml").read_text("utf-8")
    assert "[site]" in config and "title =" in config and "baseurl =" in config
    assert "[taxonomies]" in config and "tags" in config and "categories" in config


def test_sections_have_index_files_and_depth_1_to_3(site: SiteManifest) -> None:
    content = site.root / "content"
    assert (content / "_index.md").is_file()
    bundles = {rel.rsplit("/", 1)[0] for rel in site.pages if rel.endswith("/index.md")}
    depths = set()
    for d in content.rglob("*"):
        if not d.is_dir():
            continue
        rel = d.relative_to(content).as_posix()
        if rel in bundles:
            assert (d / "index.md").is_file() and not (d / "_index.md").exists()
            continue
        assert (d / "_index.md").is_file(), f"section {rel} has no _index.md"
        depths.add(rel.count("/") + 1)
    assert min(depths) == 1 and max(depths) <= 3
    assert bundles, "expected some leaf bundles"
    for b in bundles:
        assert (content / b / gen_site.BUNDLE_IMAGE).is_file()


def test_front_matter_parses(site: SiteManifest) -> None:
    content = site.root / "content"
    ids = []
    cascades = 0
    for rel in site.markdown_files:
        meta_text, body = gen_site.split_front_matter((content / rel).read_text("utf-8"))
        meta = yaml.safe_load(meta_text)
        assert isinstance(meta["title"], str) and meta["title"]
        assert isinstance(meta["description"], str)
        assert not body.startswith("---")
        if rel.endswith("_index.md"):
            cascades += "cascade" in meta
            if "cascade" in meta:
                assert isinstance(meta["cascade"], dict)
            continue
        assert isinstance(meta["date"], date)
        assert isinstance(meta["tags"], list) and 1 <= len(meta["tags"]) <= 5
        assert all(t in gen_site.TAGS for t in meta["tags"])
        assert len(set(meta["tags"])) == len(meta["tags"])
        assert meta["categories"] and all(c in gen_site.CATEGORIES for c in meta["categories"])
        assert isinstance(meta.get("weight", 0), int)
        if "id" in meta:
            ids.append(meta["id"])
    assert ids and len(ids) == len(set(ids))
    assert cascades > 0


def test_tags_are_zipf_distributed(tmp_path: Path) -> None:
    manifest = generate_site(tmp_path / "s", pages=300, seed=3)
    counts: Counter[str] = Counter()
    for rel in manifest.pages:
        text = (tmp_path / "s" / "content" / rel).read_text("utf-8")
        meta_text, _ = gen_site.split_front_matter(text)
        counts.update(yaml.safe_load(meta_text)["tags"])
    top = counts.most_common(1)[0][1]
    assert top >= 8 * statistics.median(counts.values())
    assert counts.most_common(1)[0][0] in gen_site.TAGS[:3]  # rank 1 is the head of the list
    assert len(counts) > 60  # and a long tail


def test_every_xref_names_an_existing_page_id_and_heading(site: SiteManifest) -> None:
    content = site.root / "content"
    bodies = dict(iter_bodies(site.root))
    anchors = {_key_of(rel): set(_heading_ids(body)) for rel, body in bodies.items()}
    ids = {}
    for rel in site.markdown_files:
        meta = yaml.safe_load(gen_site.split_front_matter((content / rel).read_text("utf-8"))[0])
        if "id" in meta:
            ids[meta["id"]] = _key_of(rel)
    forms: Counter[str] = Counter()
    for rel, body in bodies.items():
        for target, label in XREF.findall(body):
            path, _, anchor = target.partition("#")
            if target.startswith("id:"):
                forms["id"] += 1
                assert target[3:] in ids, f"{rel}: [[{target}]] names no page id"
                continue
            page = path if path else _key_of(rel)
            form = "self" if not path else "label" if label else "anchor" if anchor else "plain"
            forms[form] += 1
            assert page in anchors, f"{rel}: [[{target}]] names no page"
            if anchor:
                assert anchor in anchors[page], f"{rel}: [[{target}]]: no such heading"
            assert len(target) <= gen_site.MAX_WIKILINK_TARGET
    assert {"id", "label", "anchor", "plain", "self"} <= set(forms)


def test_bodies_use_every_construct(site: SiteManifest) -> None:
    bodies = dict(iter_bodies(site.root))
    text = "\n".join(bodies.values())
    assert "| --- |" in text or "| :--- |" in text or "| ---: |" in text  # GFM table
    assert re.search(r"^```(python|bash|toml|yaml|json|javascript|go|rust|html|css)$", text, re.M)
    for kind in ("note", "warning", "tip"):
        assert re.search(rf"^`{{3,4}}\{{{kind}\}}", text, re.M), kind
    assert re.search(r"^> ", text, re.M)
    assert re.search(r"^- \[[ x]\] ", text, re.M)  # task list
    assert re.search(r"^1\. ", text, re.M)
    assert re.search(r"^#{2,3} .* \{#[a-z0-9-]+\}$", text, re.M)
    assert "*" in text and "`" in text and "](https://" in text
    # Some page repeats a heading text.
    assert any(
        max(Counter(re.findall(r"^#{2,3} ([^{\n]+)$", body, re.M)).values(), default=0) > 1
        for body in bodies.values()
    )
    images = re.findall(r"!\[[^\]]*\]\((/images/[^ )]+)", text)
    assert images
    for src in images:
        assert (site.root / "static" / src.lstrip("/")).is_file()
    sizes = [len(body.encode()) for rel, body in bodies.items() if not rel.endswith("_index.md")]
    assert 4000 < statistics.mean(sizes) < 14000  # ~8 KB a page, like the Hugo reference site


def test_images_are_valid_png(site: SiteManifest) -> None:
    for rel in site.static_files:
        data = (site.root / rel).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        idat_len = struct.unpack(">I", data[33:37])[0]
        assert data[37:41] == b"IDAT"
        raw = zlib.decompress(data[41 : 41 + idat_len])
        assert len(raw) == height * (1 + 3 * width)
        assert data.endswith(b"IEND\xaeB`\x82")


def test_renders_without_broken_xrefs(site: SiteManifest) -> None:
    bn = pytest.importorskip("bengal_native")
    index = bn.XrefIndex()
    for t in site.xref_targets:
        assert index.add(t.key, t.url, t.title)
    rels, bodies = zip(*iter_bodies(site.root), strict=False)
    results = bn.render_markdown_batch(list(bodies), xref_index=index)
    pairs = zip(rels, results, strict=False)
    toc = {"/" + _key_of(rel) + "/": {e.id for e in r.toc} for rel, r in pairs}
    checked = 0
    for rel, r in zip(rels, results, strict=False):
        assert not r.warnings, f"{rel}: {[str(w) for w in r.warnings]}"
        assert not r.broken_xrefs
        assert [e.id for e in r.toc] == _heading_ids(bodies[rels.index(rel)])
        for x in r.xrefs:
            if "#" in x.url and not x.url.startswith("#"):
                url, anchor = x.url.split("#")
                assert anchor in toc[url], f"{rel}: {x.target}"
                checked += 1
    assert checked > 0


def test_cli_writes_site_and_keys_and_refuses_foreign_dirs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "site"
    keys = tmp_path / "keys.tsv"
    assert gen_site.main([str(dest), "--pages", "10", "--seed", "2", "--xref-keys", str(keys)]) == 0
    assert "10 pages" in capsys.readouterr().out
    lines = keys.read_text("utf-8").splitlines()
    assert lines and all(len(line.split("\t")) == 3 for line in lines)
    with pytest.raises(SystemExit):
        gen_site.main([str(dest), "--pages", "10"])  # not empty
    assert gen_site.main([str(dest), "--pages", "12", "--force"]) == 0  # ours: replaced
    assert len(list((dest / "content").rglob("*.md"))) > 12
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("precious")
    with pytest.raises(SystemExit):
        gen_site.main([str(foreign), "--pages", "5", "--force"])
    assert (foreign / "keep.txt").read_text() == "precious"
