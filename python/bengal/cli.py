"""Command-line interface: argument parsing and reporting only; the work is in bengal.build.

Exit codes: 0 success, 1 content or build errors, 2 usage or configuration errors.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bengal import __version__
from bengal.errors import BengalError, BuildError, ConfigError

if TYPE_CHECKING:
    from bengal.build import BuildResult


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bengal", description="A fast static site generator.")
    p.add_argument("--version", action="version", version=f"bengal {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    b = sub.add_parser("build", help="build a site into its output directory")
    b.add_argument("site", nargs="?", default=".", help="site directory (default: .)")
    b.add_argument("--drafts", action="store_true", default=None, help="include draft pages")
    b.add_argument("--baseurl", help="override [site] baseurl")
    b.add_argument("-o", "--output", help="output directory (default: [build] output_dir)")
    b.add_argument("--clean", action="store_true", help="empty the output directory first")
    b.add_argument("--strict", action="store_true", help="treat broken references as errors")
    b.add_argument(
        "--verify",
        action="store_true",
        help="trust no output's size and mtime: render and compare every output, rewrite those "
        "that differ",
    )
    b.add_argument("--workers", type=int, help="template rendering processes (default: cores)")
    b.add_argument("--stats", action="store_true", help="print the time spent in each stage")
    b.add_argument("--stats-json", metavar="FILE", help="write stage timings and counts as JSON")
    b.add_argument("--profile-out", metavar="FILE", help="write a cProfile profile of the build")
    b.add_argument("--explain", action="store_true", help="print what was rebuilt and why")
    b.add_argument(
        "--explain-json", metavar="FILE", help="write what was rebuilt and why as JSON (- = stdout)"
    )
    g = b.add_mutually_exclusive_group()
    g.add_argument("-v", "--verbose", action="store_true", help="print every warning in full")
    g.add_argument("-q", "--quiet", action="store_true", help="print only errors")

    s = sub.add_parser("serve", help="build, serve and rebuild on every change (live reload)")
    s.add_argument("site", nargs="?", default=".", help="site directory (default: .)")
    s.add_argument(
        "--port", type=int, default=5173, help="port (default: 5173; 0 picks a free one)"
    )
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine)",
    )
    s.add_argument("--drafts", action="store_true", help="include draft pages")
    s.add_argument("--open", action="store_true", help="open the site in a web browser")
    s.add_argument("-v", "--verbose", action="store_true", help="print warnings and requests")

    n = sub.add_parser("new", help="create something new")
    nsub = n.add_subparsers(dest="what", metavar="WHAT")
    ns = nsub.add_parser("site", help="scaffold a new site that builds at once")
    ns.add_argument("name", help="directory to create")

    c = sub.add_parser("clean", help="remove the output directory and build caches")
    c.add_argument("site", nargs="?", default=".", help="site directory (default: .)")
    return p


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


def explain_data(result: BuildResult) -> dict[str, object]:
    mode = "no-op" if result.noop else "incremental" if result.incremental else "full"
    return {
        "mode": mode,
        "reason": result.rebuild_reason if result.noop or result.incremental else
        "; ".join(result.explain),
        "changed": result.inputs_changed,
        "sources": result.changes,
        "markdown_rendered": result.markdown_rendered,
        "files_read": result.files_read,
        "rendered": result.explain_outputs if result.incremental else result.rendered,
        "reused": result.reused,
        "removed": result.removed,
        "taxonomy_reindexed": result.taxonomy_reindexed,
        "fast_path": result.express,
    }  # fmt: skip


def format_explain(result: BuildResult, limit: int = 40) -> str:
    if result.noop:
        return "explain: nothing changed; no file was read, rendered or written"
    lines: list[str] = []
    if not result.incremental:
        lines.append(f"explain: {'; '.join(result.explain) or 'full build'}: every page rendered")
        return "\n".join(lines)
    how = "incremental build, fast path for edits" if result.express else "incremental build"
    lines.append(
        f"explain: {how} ({result.rebuild_reason}): {result.rendered} of "
        f"{result.rendered + result.reused} pages rendered, {result.markdown_rendered} Markdown "
        f"bodies rendered, {result.files_read} source files read, {result.removed} stale "
        "outputs removed"
    )
    for change in result.inputs_changed[:limit]:
        lines.append(f"  changed {change}")
    for src, change in result.changes.items():
        lines.append(f"  source  {src}: {change}")
    if result.taxonomy_reindexed:
        lines.append(f"  taxonomy index: terms of {result.taxonomy_reindexed} pages taken again")
    items = sorted(result.explain_outputs.items())
    for path, why in items[:limit]:
        lines.append(f"  render  {path}: {why}")
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more (--explain-json lists all)")
    return "\n".join(lines)


def cmd_build(args: argparse.Namespace) -> int:
    from bengal.build import BuildOptions, build

    site = Path(args.site)
    if not site.is_dir():
        _err(f"site directory not found: {site}")
        return 2
    if args.workers is not None and args.workers < 1:
        _err("--workers must be at least 1")
        return 2
    from bengal.progress import Progress

    progress = Progress(enabled=not args.quiet)
    opts = BuildOptions(
        progress=progress,
        drafts=args.drafts,
        baseurl=args.baseurl,
        output=Path(args.output) if args.output else None,
        clean=args.clean,
        strict=args.strict,
        workers=args.workers,
        verify=args.verify,
    )
    try:
        if args.profile_out:
            import cProfile

            prof = cProfile.Profile()
            result = prof.runcall(build, site, opts)
            prof.dump_stats(args.profile_out)
        else:
            result = build(site, opts)
    except ConfigError as exc:
        progress.close()
        _err(str(exc))
        return 2
    except BuildError as exc:
        progress.close()
        _err(str(exc))
        return 1
    except BengalError as exc:
        progress.close()
        _err(str(exc))
        return 1
    progress.close()

    if not args.quiet:
        limit = None if args.verbose else 50
        for w in result.warnings[:limit]:
            print(f"warning: {w}", file=sys.stderr)
        if limit is not None and len(result.warnings) > limit:
            print(
                f"warning: ... and {len(result.warnings) - limit} more (use -v to see all)",
                file=sys.stderr,
            )
    for e in result.errors:
        _err(e)
    if args.stats:
        print(format_stats(result))
    if args.explain:
        print(format_explain(result))
    if args.explain_json:
        import json

        text = json.dumps(explain_data(result), indent=2)
        if args.explain_json == "-":
            print(text)
        else:
            Path(args.explain_json).write_text(text + "\n", encoding="utf-8")
    if args.stats_json:
        import json

        Path(args.stats_json).write_text(
            json.dumps(
                {
                    "pages": result.pages,
                    "files": result.files,
                    "written": result.written,
                    "skipped_identical": result.skipped_identical,
                    "workers": result.workers,
                    "rendered": result.rendered,
                    "reused": result.reused,
                    "markdown_rendered": result.markdown_rendered,
                    "files_read": result.files_read,
                    "removed": result.removed,
                    "errors": len(result.errors),
                    "warnings": len(result.warnings),
                    "timings": result.timings,
                    "cpu": result.cpu,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    if not args.quiet and result.noop:
        total = result.timings.get("total", 0.0)
        print(
            f"nothing changed since the last build: {result.pages} pages in "
            f"{result.output_dir} are up to date ({total * 1000:.0f} ms)"
        )
    elif not args.quiet:
        total = result.timings.get("total", 0.0)
        print(
            f"built {result.pages} pages ({result.files} files"
            + (
                f"; {result.rendered} rendered, {result.reused} unchanged"
                if result.incremental
                else ""
            )  # fmt: skip
            + f") into {result.output_dir} "
            f"in {total * 1000:.0f} ms"
            + (f" with {result.workers} workers" if result.workers > 1 else "")
        )
    if not args.quiet and args.verify:
        differed = result.written + result.copied
        print(
            f"verify: {result.files} files compared with what bengal writes; "
            + (f"{differed} differed and were written again" if differed else "all matched")
        )
    if result.errors:
        print(
            f"{len(result.errors)} error(s), {len(result.warnings)} warning(s); the pages "
            "without errors were built",
            file=sys.stderr,
        )
        return 1
    return 0


def format_stats(result: object) -> str:
    timings: dict[str, float] = getattr(result, "timings", {})
    cpu: dict[str, float] = getattr(result, "cpu", {})
    total = timings.get("total", 0.0) or 1e-9
    lines = ["stage                 ms      share", "-" * 36]
    for name, sec in timings.items():
        if name == "total":
            continue
        lines.append(f"{name:<18}{sec * 1000:>8.1f}  {100 * sec / total:>6.1f}%")
    lines.append(f"{'total':<18}{total * 1000:>8.1f}")
    if cpu:
        lines.append("")
        lines.append("inside render+write (seconds summed over workers)")
        for name, sec in cpu.items():
            lines.append(f"  {name:<20}{sec * 1000:>8.1f} ms")
    return "\n".join(lines)


def cmd_serve(args: argparse.Namespace) -> int:
    from bengal.serve import serve

    site = Path(args.site)
    if not site.is_dir():
        _err(f"site directory not found: {site}")
        return 2
    if not 0 <= args.port <= 65535:
        _err("--port must be between 0 and 65535")
        return 2
    try:
        return serve(site, args.host, args.port, args.drafts, args.open, args.verbose)
    except ConfigError as exc:
        _err(str(exc))
        return 2
    except BengalError as exc:
        _err(str(exc))
        return 2


def cmd_new_site(args: argparse.Namespace) -> int:
    from bengal.scaffold import create_site

    target = Path(args.name)
    if target.exists() and any(target.iterdir()):
        _err(f"{target} exists and is not empty; choose a new directory")
        return 2
    create_site(target)
    print(f"created a new site in {target}\nnext: bengal build {target}")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    from bengal.build import STATE_DIR
    from bengal.config import load_config
    from bengal.publish import check_output_dir

    site = Path(args.site)
    try:
        config = load_config(site.resolve())
        check_output_dir(site.resolve(), config.output_dir)
    except ConfigError as exc:
        _err(str(exc))
        return 2
    removed = []
    for path in (config.output_dir, site.resolve() / STATE_DIR):
        if path.exists():
            shutil.rmtree(path)
            removed.append(str(path))
    print("removed " + ", ".join(removed) if removed else "nothing to clean")
    return 0


def run() -> None:
    """The `bengal` command (and `python -m bengal`): main(), then a prompt exit.

    A build's site model is a graph full of reference cycles (pages <-> sections), millions of
    objects at 10k pages. Freeing it -- one cyclic collection, and again at interpreter shutdown
    -- takes longer than many incremental builds (~0.3 s at 10k pages). The command is done by
    then: output is flushed and the process ends without that teardown (os._exit). Everything
    a build writes is closed and renamed into place before build() returns."""
    import gc

    gc.disable()
    try:
        code = main()
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        # The reader went away (`bengal build --explain | head`): the build itself is done and
        # saved; what was left to print has no one to read it. Exit as a pipe's writer does.
        code = 128 + 13
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 for --help/--version
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "build":
            return cmd_build(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "new":
            if args.what != "site":
                _err("say what to create: bengal new site NAME")
                return 2
            return cmd_new_site(args)
        if args.command == "clean":
            return cmd_clean(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":  # pragma: no cover
    os._exit(main())
