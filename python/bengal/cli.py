"""Command-line interface: argument parsing only; the work happens in bengal.build."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bengal import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bengal", description="A fast static site generator.")
    p.add_argument("--version", action="version", version=f"bengal {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser("build", help="build a site into its output directory")
    b.add_argument("site", nargs="?", default=".", help="site directory (default: .)")
    b.add_argument("--output", "-o", help="output directory (default: SITE/public)")
    b.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "build":
        from bengal.build import build_site

        site = Path(args.site)
        if not site.is_dir():
            print(f"bengal: site directory not found: {site}", file=sys.stderr)
            return 2
        out = Path(args.output) if args.output else None
        report = build_site(site, out)
        for w in report.warnings:
            print(f"warning: {w}", file=sys.stderr)
        for e in report.errors:
            print(f"error: {e}", file=sys.stderr)
        if not args.quiet:
            print(f"built {report.pages} pages into {report.output_dir}")
        return 1 if report.errors else 0
    parser.error(f"unknown command {args.command}")
    return 2
