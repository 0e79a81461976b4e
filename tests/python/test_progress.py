"""Progress reporting: nothing for short builds, plain lines off a terminal, rich on one."""

from __future__ import annotations

import io

from bengal.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_short_builds_print_nothing() -> None:
    out = io.StringIO()
    p = Progress(stream=out, threshold=60.0)
    p("parse", 0, 0)
    p("rendering pages", 10, 100)
    p.close()
    assert out.getvalue() == ""


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    p = Progress(stream=out, threshold=0.0)
    p("parse")
    p("rendering pages", 5, 10)
    p("rendering pages", 6, 10)  # same stage within 5 s: no new line
    p("site-wide")
    p.close()
    lines = out.getvalue().splitlines()
    assert [ln.split(" (")[0] for ln in lines] == [
        "bengal: parse",
        "bengal: rendering pages 5/10",
        "bengal: site-wide",
    ]


def test_rich_bar_on_a_terminal() -> None:
    out = Tty()
    p = Progress(stream=out, threshold=0.0)
    p("rendering pages", 1, 4)
    assert p._bar is not None  # a live rich progress bar
    p("rendering pages", 4, 4)
    p.close()
    assert p._bar is None


def test_disabled_prints_nothing() -> None:
    out = io.StringIO()
    p = Progress(stream=out, threshold=0.0, enabled=False)
    p("parse")
    assert out.getvalue() == ""
