"""bengal's benchmarks: a deterministic synthetic site generator and the Markdown benchmark.

Run from the repository root, e.g. ``python -m benchmarks.gen_site /tmp/site --pages 1000`` or
``python -m benchmarks.bench_markdown`` (see benchmarks/README.md).
"""
