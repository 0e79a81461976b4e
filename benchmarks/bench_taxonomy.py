"""Taxonomy index benchmark: the assembly step that makes terms (Assembler.build_taxonomies) on
a generated site, from an empty index (what a clean build does: every page indexed) against an
index the last build left, with no page changed, one title changed and one page's tags changed.
In-process; the site model is assembled up to that step before each timing (not timed). The
garbage collector is off, as in `bengal build`.

    python -m benchmarks.bench_taxonomy --pages 10000 --repeat 7

Prints a table (median and min per scenario, ratio to the empty index) and writes
benchmarks/results/taxonomy-<pages>.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--site", type=Path, help="use this site instead of generating one")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where the JSON result goes")
    args = ap.parse_args(argv)

    from bengal.assemble import Assembler
    from bengal.config import load_config
    from bengal.discover import discover
    from bengal.sources import load_data, load_sources
    from bengal.taxonomy import TaxonomyIndex

    from benchmarks.gen_site import generate_site

    tmp = None
    site = args.site
    if site is None:
        tmp = tempfile.TemporaryDirectory(prefix="bengal-bench-tax-")
        site = Path(tmp.name) / "site"
        generate_site(site, args.pages)
    config = load_config(site)
    tree = discover(site)
    sources = load_sources(tree, 2, None, None).sources
    data = load_data(site, tree)[0]

    def prepared(index: TaxonomyIndex | None) -> Assembler:
        a = Assembler(config, sources, data, index)
        a.build_sections()
        a.build_pages()
        a.check_urls()
        a.order()
        return a

    first = prepared(None)
    first.build_taxonomies()
    kept = first.taxonomy
    pages = len(first.site.regular_pages)
    memberships = sum(len(v) for v in kept.terms.values())

    def retitle(a: Assembler) -> None:
        p = a.site.regular_pages[len(a.site.regular_pages) // 2]
        p.title += " (edited)"

    def retag(a: Assembler) -> None:
        p = a.site.regular_pages[len(a.site.regular_pages) // 3]
        p.fm.terms = {**p.fm.terms, "tags": [*p.fm.terms.get("tags", []), "bench-new-tag"]}

    scenarios: list[tuple[str, bool, Callable[[Assembler], None] | None]] = [
        ("empty index (clean build: every page)", False, None),
        ("no page changed", True, None),
        ("one title changed", True, retitle),
        ("one page's tags changed", True, retag),
    ]
    gc.disable()
    rows: list[dict[str, Any]] = []
    for name, keep, edit in scenarios:
        times = []
        reindexed = 0
        for _ in range(args.repeat):
            a = prepared(TaxonomyIndex(kept.pages, kept.terms) if keep else None)
            if edit is not None:
                edit(a)
            t0 = time.perf_counter()
            a.build_taxonomies()
            times.append(time.perf_counter() - t0)
            reindexed = len(a.taxonomy.reindexed)
            gc.collect()
        rows.append(
            {
                "scenario": name,
                "median_ms": statistics.median(times) * 1000,
                "min_ms": min(times) * 1000,
                "pages_reindexed": reindexed,
            }
        )
    gc.enable()
    base = rows[0]["median_ms"]
    lines = [
        f"pages {pages}, term memberships {memberships}, repeat {args.repeat}",
        "",
        "| scenario | median ms | min ms | pages indexed again | vs empty index |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        r["ratio"] = r["median_ms"] / base
        lines.append(
            f"| {r['scenario']} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | "
            f"{r['pages_reindexed']} | {r['ratio']:.2f}x |"
        )
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"taxonomy-{args.pages if args.site is None else 'site'}.json"
    out.write_text(
        json.dumps(
            {"pages": pages, "memberships": memberships, "repeat": args.repeat, "rows": rows},
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
