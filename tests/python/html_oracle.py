"""Reference implementation of ``bengal_native.extract_assets`` on ``html.parser.HTMLParser``.

The differential tests (tests/python/test_assets.py) and the benchmark (benchmarks/bench_assets.py)
compare the native scanner with this oracle. It is deliberately written differently: tags and
attributes come from the standard library's HTMLParser (its regular expressions, its entity
decoding via ``html.unescape``), srcset and CSS are parsed here in Python from the HTML and CSS
Syntax standards. Only the URL rules (clean-up, exclusion, locality) are the same by definition.

Where HTMLParser (CPython 3.11) departs from the HTML standard in a way that changes which
references a page has, this module corrects it with a small override, each marked "standard:":

- RAWTEXT/RCDATA: HTMLParser only treats ``<script>`` and ``<style>`` as raw text; the standard
  adds ``<textarea>``, ``<title>``, ``<iframe>``, ``<noembed>``, ``<noframes>``, ``<xmp>`` and
  ``<plaintext>`` (which never ends). A raw-text element ends at ``</name`` followed by whitespace,
  ``/`` or ``>`` (HTMLParser: ``</\\s*name\\s*>``), and the self-closing flag does not apply to it
  (``<script/>`` still has a body).
- Comments end at ``-->`` or ``--!>``; ``<!-->`` and ``<!--->`` are complete empty comments; an
  unterminated comment runs to the end (HTMLParser accepts ``-- >`` and, at EOF, re-parses the
  rest as markup).
- ``<![CDATA[`` runs to ``]]>`` or the end; other ``<!...`` declarations end at the first ``>``.
- EOF inside a tag (e.g. an unclosed quote) emits nothing and swallows the rest; end tags are
  skipped with the standard's attribute states, so a quoted ``>`` does not end them.
- An unterminated ``<style>`` element's text is still CSS (HTMLParser drops it).
- Duplicate attributes: the first wins; NUL in a value reads as U+FFFD.

Known HTMLParser departures that are NOT corrected (the generators avoid them, and native-only
tests in tests/native/assets_test.cpp pin the standard behaviour):

- ``html.unescape`` decodes legacy references before ``=``/alphanumerics in attribute values
  (``?a=1&copy=2`` -> ``?a=1©=2``; the standard keeps ``&copy=2``) and drops numeric references to
  control characters and non-characters (the standard keeps them).
- Its regular expressions use Unicode ``\\s`` (U+000B, U+00A0, ...) where HTML whitespace is ASCII,
  accept ``=`` runs (``src==a`` gives ``a``; the standard gives ``=a``) and stop tag names at NUL.
- Script data escape states (``<!--`` + ``<script>`` inside a script hide a ``</script>``).
"""

from __future__ import annotations

import html.parser
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# ---- URL rules (shared definition with the native scanner) ---------------------------------------

_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
EXCLUDED_SCHEMES = frozenset({"data", "javascript", "vbscript", "mailto", "tel", "about", "blob"})


@dataclass(frozen=True)
class Ref:
    url: str
    tag: str
    attr: str
    is_external: bool

    def astuple(self) -> tuple[str, str, str, bool]:
        return (self.url, self.tag, self.attr, self.is_external)


def clean_url(value: str) -> str:
    """The URL parser's first steps: strip C0 controls and spaces, drop tabs and newlines."""
    value = value.strip(_C0_AND_SPACE)
    return value.replace("\t", "").replace("\n", "").replace("\r", "")


def classify(url: str) -> str | None:
    """'local', 'external', or None for references that are not assets."""
    if not url or url.startswith("#"):
        return None
    m = _SCHEME.match(url)
    if m:
        return None if m.group()[:-1].lower() in EXCLUDED_SCHEMES else "external"
    if len(url) >= 2 and url[0] in "/\\" and url[1] in "/\\":
        return "external"
    return "local"


# ---- srcset (HTML "parse a srcset attribute", URLs only) -----------------------------------------

_ASCII_WS = " \t\n\f\r"


def split_srcset(value: str) -> list[str]:
    urls: list[str] = []
    pos, n = 0, len(value)
    while True:
        while pos < n and (value[pos] in _ASCII_WS or value[pos] == ","):
            pos += 1
        if pos >= n:
            return urls
        start = pos
        while pos < n and value[pos] not in _ASCII_WS:
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            urls.append(url.rstrip(","))
            continue
        urls.append(url)
        # Descriptors: the candidate ends at a comma outside parentheses.
        depth_open = False
        while pos < n:
            c = value[pos]
            if depth_open:
                if c == ")":
                    depth_open = False
            elif c == "(":
                depth_open = True
            elif c == ",":
                pos += 1
                break
            pos += 1


# ---- CSS (CSS Syntax Level 3 tokenizer, only what url()/@import need) ----------------------------


def _preprocess_css(css: str) -> str:
    return css.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\0", "\ufffd")


def _is_ident_start(c: str) -> bool:
    return c.isascii() and (c.isalpha() or c == "_") or (c != "" and not c.isascii())


def _is_ident_char(c: str) -> bool:
    return _is_ident_start(c) or (c.isascii() and c.isdigit()) or c == "-"


_HEX = "0123456789abcdefABCDEF"
_CSS_WS = " \t\n"


class _Css:
    def __init__(self, text: str) -> None:
        self.s = _preprocess_css(text)
        self.i = 0
        self.urls: list[str] = []

    def at(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def valid_escape(self, k: int = 0) -> bool:
        return self.at(k) == "\\" and self.at(k + 1) != "\n"

    def starts_ident(self, k: int = 0) -> bool:
        c = self.at(k)
        if c == "-":
            d = self.at(k + 1)
            return _is_ident_start(d) or d == "-" or self.valid_escape(k + 1)
        if c == "\\":
            return self.valid_escape(k)
        return _is_ident_start(c)

    def starts_number(self) -> bool:
        c, d, e = self.at(0), self.at(1), self.at(2)
        if c in "+-" and c:
            return d.isdigit() and d.isascii() or (d == "." and e.isascii() and e.isdigit())
        if c == ".":
            return d.isascii() and d.isdigit()
        return c.isascii() and c.isdigit() and c != ""

    def escape(self) -> str:
        """After the backslash."""
        c = self.at()
        if c == "":
            return "\ufffd"
        if c in _HEX:
            digits = ""
            while len(digits) < 6 and self.at() in _HEX and self.at() != "":
                digits += self.at()
                self.i += 1
            if self.at() in _CSS_WS and self.at() != "":
                self.i += 1
            cp = int(digits, 16)
            if cp == 0 or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                return "\ufffd"
            return chr(cp)
        self.i += 1
        return c

    def ident(self) -> str:
        out = []
        while True:
            c = self.at()
            if c != "" and _is_ident_char(c):
                out.append(c)
                self.i += 1
            elif self.valid_escape():
                self.i += 1
                out.append(self.escape())
            else:
                return "".join(out)

    def string(self, quote: str) -> str | None:
        out = []
        while True:
            c = self.at()
            if c == "" or c == quote:
                self.i += 1 if c else 0
                return "".join(out)
            if c == "\n":
                return None  # bad string; the newline is left
            self.i += 1
            if c == "\\":
                d = self.at()
                if d == "":
                    continue
                if d == "\n":
                    self.i += 1
                    continue
                out.append(self.escape())
            else:
                out.append(c)

    def comment(self) -> None:
        end = self.s.find("*/", self.i + 2)
        self.i = len(self.s) if end < 0 else end + 2

    def bad_url(self) -> None:
        while self.at() != "":
            if self.at() == ")":
                self.i += 1
                return
            if self.valid_escape():
                self.i += 1
                self.escape()
            else:
                self.i += 1

    def url_token(self) -> None:
        while self.at() in _CSS_WS and self.at() != "":
            self.i += 1
        out = []
        while True:
            c = self.at()
            if c == "" or c == ")":
                self.i += 1 if c else 0
                self.urls.append("".join(out))
                return
            if c in _CSS_WS:
                while self.at() in _CSS_WS and self.at() != "":
                    self.i += 1
                if self.at() in ("", ")"):
                    self.i += 1 if self.at() else 0
                    self.urls.append("".join(out))
                else:
                    self.bad_url()
                return
            if (
                c in "\"'("
                or (ord(c) <= 0x08 or ord(c) == 0x0B or 0x0E <= ord(c) <= 0x1F)
                or ord(c) == 0x7F
            ):
                self.bad_url()
                return
            if c == "\\":
                if self.valid_escape():
                    self.i += 1
                    out.append(self.escape())
                    continue
                self.bad_url()
                return
            out.append(c)
            self.i += 1

    def ident_like(self) -> None:
        name = self.ident()
        if self.at() != "(":
            return
        self.i += 1
        if name.lower() != "url" or not name.isascii():
            return
        while self.at() in _CSS_WS and self.at(1) in _CSS_WS and self.at(1) != "":
            self.i += 1
        c, d = self.at(), self.at(1)
        if c in "\"'" and c:
            self.i += 1
            value = self.string(c)
            if value is not None:
                self.urls.append(value)
        elif c in _CSS_WS and c and d in "\"'" and d:
            self.i += 2
            value = self.string(d)
            if value is not None:
                self.urls.append(value)
        else:
            self.url_token()

    def after_import(self) -> None:
        while True:
            if self.at() in _CSS_WS and self.at() != "":
                self.i += 1
            elif self.at() == "/" and self.at(1) == "*":
                self.comment()
            else:
                break
        q = self.at()
        if q in "\"'" and q:
            self.i += 1
            value = self.string(q)
            if value is not None:
                self.urls.append(value)

    def run(self) -> list[str]:
        while self.i < len(self.s):
            c = self.at()
            if c == "/" and self.at(1) == "*":
                self.comment()
            elif c in "\"'":
                self.i += 1
                self.string(c)
            elif c == "#":
                self.i += 1
                if _is_ident_char(self.at()) or self.valid_escape():
                    self.ident()
            elif c == "@":
                self.i += 1
                if self.starts_ident() and self.ident().lower() == "import":
                    self.after_import()
            elif self.starts_number():
                if c in "+-":
                    self.i += 1
                while self.at().isascii() and self.at().isdigit() and self.at():
                    self.i += 1
                if self.at() == "." and self.at(1).isascii() and self.at(1).isdigit():
                    self.i += 2
                    while self.at().isascii() and self.at().isdigit() and self.at():
                        self.i += 1
                if self.at() in ("e", "E") and self.at():
                    d, e = self.at(1), self.at(2)
                    if (d.isascii() and d.isdigit()) or (
                        d in ("+", "-") and e.isascii() and e.isdigit() and e
                    ):
                        self.i += 2
                        while self.at().isascii() and self.at().isdigit() and self.at():
                            self.i += 1
                if self.starts_ident():
                    self.ident()
                elif self.at() == "%":
                    self.i += 1
            elif self.starts_ident():
                self.ident_like()
            else:
                self.i += 1
        return self.urls


def css_urls(css: str) -> list[str]:
    """URLs of url() tokens, url("...") functions and @import "..." in a CSS text."""
    return _Css(css).run()


# ---- the HTMLParser-based extractor --------------------------------------------------------------

SOURCES: dict[str, tuple[str, ...]] = {
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "script": ("src",),
    "link": ("href", "imagesrcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "iframe": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
}
_SRCSET_ATTRS = frozenset({"srcset", "imagesrcset"})
_HTML_WS = " \t\n\f\r"
_NEVER = re.compile(r"(?!)")


def _tag_end(s: str, j: int) -> int:
    """Standard: index after the '>' of the tag whose name starts at s[j], or -1 at EOF."""
    n = len(s)
    while j < n and s[j] not in _HTML_WS and s[j] not in "/>":
        j += 1
    while True:
        while j < n and s[j] in _HTML_WS:
            j += 1
        if j >= n:
            return -1
        c = s[j]
        if c == ">":
            return j + 1
        if c == "/":
            j += 1
            continue
        j += 1
        while j < n and s[j] not in _HTML_WS and s[j] not in "/>=":
            j += 1
        while j < n and s[j] in _HTML_WS:
            j += 1
        if j >= n:
            return -1
        if s[j] == "=":
            j += 1
            while j < n and s[j] in _HTML_WS:
                j += 1
            if j >= n:
                return -1
            q = s[j]
            if q in "\"'":
                k = s.find(q, j + 1)
                if k < 0:
                    return -1
                j = k + 1
            elif q != ">":
                while j < n and s[j] not in _HTML_WS and s[j] != ">":
                    j += 1


class AssetOracle(html.parser.HTMLParser):
    # standard: all raw-text and RCDATA elements, not only script and style.
    CDATA_CONTENT_ELEMENTS = (
        "script",
        "style",
        "textarea",
        "title",
        "iframe",
        "noembed",
        "noframes",
        "xmp",
        "plaintext",
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[Ref] = []
        self._seen: set[str] = set()
        self._style: list[str] | None = None

    # -- results

    def _add(self, value: str, tag: str, attr: str) -> None:
        url = clean_url(value)
        kind = classify(url)
        if kind is None or url in self._seen:
            return
        self._seen.add(url)
        self.refs.append(Ref(url, tag, attr, kind == "external"))

    def _element(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "image":  # standard (tree construction): <image> is <img>
            tag = "img"
        first: dict[str, str] = {}
        for name, value in attrs:  # standard: the first of duplicate attributes wins
            if name not in first:
                first[name] = "" if value is None else value.replace("\0", "\ufffd")
        wanted = SOURCES.get(tag, ())
        is_image_input = first.get("type", "").lower() == "image"
        for name, value in first.items():
            if name == "style":
                for u in css_urls(value):
                    self._add(u, tag, "style")
            elif name in wanted:
                if tag == "input" and not is_image_input:
                    continue
                if name in _SRCSET_ATTRS:
                    for u in split_srcset(value):
                        self._add(u, tag, name)
                else:
                    self._add(value, tag, name)
        if tag == "style":
            self._style = []

    def _end_style(self) -> None:
        if self._style is not None:
            for u in css_urls("".join(self._style)):
                self._add(u, "style", "")
            self._style = None

    # -- HTMLParser callbacks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)
        if tag in self.CDATA_CONTENT_ELEMENTS:  # standard: no self-closing raw-text elements
            self.set_cdata_mode(tag)

    def handle_data(self, data: str) -> None:
        if self._style is not None and self.cdata_elem == "style":
            self._style.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._end_style()

    # -- corrections to HTMLParser's tokenizer (see the module docstring)

    def set_cdata_mode(self, elem: str) -> None:
        # standard: "</name" + whitespace, '/' or '>' ends it; plaintext never ends.
        super().set_cdata_mode(elem)
        if self.cdata_elem == "plaintext":
            self.interesting = _NEVER
        else:
            self.interesting = re.compile(r"</" + self.cdata_elem + r"(?=[\t\n\f\r />])", re.I)

    def parse_starttag(self, i: int) -> int:
        if _tag_end(self.rawdata, i + 1) < 0:  # standard: EOF in a tag swallows the rest
            return len(self.rawdata)
        return super().parse_starttag(i)

    def parse_endtag(self, i: int) -> int:
        rawdata = self.rawdata
        if i + 2 < len(rawdata) and rawdata[i + 2].isascii() and rawdata[i + 2].isalpha():
            end = _tag_end(rawdata, i + 2)
            if end < 0:
                return len(rawdata)
            if self.cdata_elem is not None:
                # Only our own end tag matches self.interesting in raw-text mode.
                self.handle_endtag(self.cdata_elem)
                self.clear_cdata_mode()
                return end
            m = re.match(r"[^\t\n\f\r />]*", rawdata[i + 2 :])
            assert m is not None
            self.handle_endtag(m.group().lower())
            return end
        return super().parse_endtag(i)

    def parse_comment(self, i: int, report: bool = True) -> int:
        rawdata = self.rawdata
        j = i + 4
        if rawdata.startswith(">", j):
            return j + 1
        if rawdata.startswith("->", j):
            return j + 2
        m = re.compile(r"--!?>").search(rawdata, j)
        return len(rawdata) if m is None else m.end()

    def parse_html_declaration(self, i: int) -> int:
        rawdata = self.rawdata
        if rawdata.startswith("<!--", i):
            return self.parse_comment(i)
        if rawdata.startswith("<![CDATA[", i):
            end = rawdata.find("]]>", i + 9)
            return len(rawdata) if end < 0 else end + 3
        end = rawdata.find(">", i + 2)  # DOCTYPE and bogus comments
        return len(rawdata) if end < 0 else end + 1

    def close(self) -> None:
        super().close()
        if self.cdata_elem == "style" and self._style is not None:
            # standard: an unterminated <style>'s text runs to the end and is still CSS.
            self._style.append(self.rawdata)
        self._end_style()


def oracle_extract(document: str) -> list[Ref]:
    """The oracle's answer for one document (always fed whole, then closed)."""
    parser = AssetOracle()
    parser.feed(document)
    parser.close()
    return parser.refs


def oracle_tuples(document: str) -> list[tuple[str, str, str, bool]]:
    return [r.astuple() for r in oracle_extract(document)]


# ---- a corpus of realistic rendered pages --------------------------------------------------------
# Page templates in the shapes real sites have (blog, docs, gallery, landing page, legacy markup),
# each filled with a Markdown body rendered by bengal_native. Used by the differential tests and
# by benchmarks/bench_assets.py, so both measure the same HTML.

_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} &middot; Example <site></title>
<link rel="stylesheet" href="/css/main.css?v={n}&amp;theme=dark">
<link rel="preload" href="/fonts/inter.woff2" as="font" type="font/woff2" crossorigin>
<link rel="icon" type="image/png" sizes="32x32" href="/favicon-32.png">
<link rel="apple-touch-icon" href="/apple-touch-icon.png">
<link rel="manifest" href="/site.webmanifest">
<link rel="alternate" type="application/rss+xml" title="Feed" href="/index.xml">
<link rel="canonical" href="https://example.com/{slug}/">
<link rel="preconnect" href="https://fonts.example-cdn.com">
<meta property="og:image" content="https://example.com/og/{slug}.png">
"""

_TEMPLATES = [
    # A blog post: inline critical CSS, analytics script with HTML in strings, share icons.
    _HEAD
    + """<style>
  @font-face {{ font-family: Inter; src: url("/fonts/inter.woff2") format("woff2"),
    url(/fonts/inter.woff) format('woff'); font-display: swap; }}
  /* hero: url(/img/old-hero.jpg) was replaced */
  .hero {{ background: #123 url('/img/hero-{m}.jpg') center / cover no-repeat; }}
  .quote::before {{ content: "\\201C url(not-a-url.png)"; }}
</style>
<script async src="https://analytics.example.net/tag.js?id=UA-{n}"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  document.write('<img src="/pixel.gif?p={n}" width=1 height=1>');
  if (a < b && b > c) {{ console.log("</scr" + "ipt>"); }}
</script>
</head>
<body class="post">
<!-- header partial: <img src="/img/unused-logo.png"> -->
<header class="site-header"><a href="/"><img src="/img/logo.svg" alt="Example" width="120"></a>
<nav><a href="/blog/">Blog</a> <a href="/docs/">Docs</a>
<a href="mailto:hi@example.com">Mail</a></nav>
</header>
<main><article>
<div class="hero" style="background-image: url(&quot;/img/covers/{slug}.jpg&quot;)"></div>
<h1>{title}</h1>
{body}
</article></main>
<footer>
<a href="https://twitter.com/example"
  ><img src="https://cdn.example.com/icons/twitter.svg" alt="T"></a>
<a href="https://github.com/example"><img src='//cdn.example.com/icons/github.svg' alt='G'></a>
<p>&copy; 2024 Example. <a href="#top">Top</a></p>
</footer>
<script src="/js/app.js?v={n}" defer></script>
</body>
</html>
""",
    # A docs page: sidebar, search form, code samples, JSON-LD, noscript pixel.
    _HEAD
    + """<script type="application/ld+json">
{{"@context": "https://schema.org", "image": "/img/ld.png"}}</script>
<script src="/js/search.js" type="module"></script>
<link rel="modulepreload" href="/js/search-worker.js">
</head>
<body>
<noscript><img src="/img/noscript-pixel.gif?page={n}" alt=""></noscript>
<aside class="sidebar">
<form action="/search/"><input type="search" name="q">
<input type="image" src="/img/search.svg" alt="Go"></form>
<ul><li><a href="/docs/intro/">Intro</a></li><li><a href="/docs/setup/">Setup</a></li></ul>
</aside>
<main class="docs" data-page="{slug}">
{body}
<textarea readonly rows="3"><img src="/img/not-in-textarea.png"> &lt;b&gt;</textarea>
<pre><code class="language-html">&lt;img src="/img/escaped-example.png"&gt;</code></pre>
<iframe src="https://www.youtube-nocookie.com/embed/{n}" title="Video" allowfullscreen></iframe>
</main>
</body>
</html>
""",
    # A gallery: picture/source/srcset/sizes, lazy images, a video with tracks, audio.
    _HEAD
    + """</head>
<body>
<main class="gallery">
<h1>{title}</h1>
<picture>
  <source media="(min-width: 800px)" type="image/avif"
    srcset="/img/g/{slug}-1600.avif 1600w, /img/g/{slug}-800.avif 800w">
  <source type="image/webp"
          srcset="/img/g/{slug}-1600.webp 1600w,
                  /img/g/{slug}-800.webp 800w"
          sizes="(max-width: 800px) 100vw, 800px">
  <img src="/img/g/{slug}-800.jpg" srcset="/img/g/{slug}-800.jpg 1x, /img/g/{slug}-1600.jpg 2x"
       alt="Photo {n}" loading="lazy" decoding="async">
</picture>
<figure><img src="/img/g/thumb-{m}.jpg" alt="" width="200" height="150">
<figcaption>Thumb</figcaption></figure>
<video controls preload="none" poster="/media/{slug}-poster.jpg" width="640">
  <source src="/media/{slug}.webm" type="video/webm">
  <source src="/media/{slug}.mp4" type="video/mp4">
  <track kind="subtitles" src="/media/{slug}.en.vtt" srclang="en" label="English" default>
  Your browser does not support video.
</video>
<audio controls src="/media/ambient-{m}.ogg"></audio>
<object data="/docs/{slug}.pdf" type="application/pdf" width="600" height="400">
<embed src="/docs/{slug}.pdf"></object>
{body}
</main>
</body>
</html>
""",
    # A landing page: inline styles everywhere, an SVG with CDATA, a data: URI, template.
    _HEAD
    + """<style media="screen">@import url("/css/landing.css"); @import '/css/animations.css';
.cta {{ background-image: image-set("/img/cta.png" 1x); }}
.bg {{ background: url( /img/bg-{m}.svg ) }}
</style>
</head>
<body style="background:url(/img/body-texture.png) repeat">
<section class="hero" style="background-image:url(/img/landing/{slug}.jpg);color:#fff">
<h1 style="font-family:'Inter'">{title}</h1>
<a class="button" href="/signup/"
   style="background: url('/img/arrow.svg') right no-repeat">Start</a>
</section>
<svg width="24" height="24"><style><![CDATA[ .a {{ fill: url(#grad) }} ]]></style>
<use href="#icon"/></svg>
<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=" alt="">
<template id="card"><div class="card"><img src="/img/card-placeholder.png" alt=""></div></template>
<div class="features">{body}</div>
<embed src="/widgets/map-{m}.svg" type="image/svg+xml">
</body>
</html>
""",
    # Legacy markup: upper case, unquoted attributes, odd spacing, comments in odd places.
    """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<HTML><HEAD><TITLE>{title}</TITLE>
<LINK REL=stylesheet HREF=/legacy/style.css TYPE="text/css">
<SCRIPT LANGUAGE=JavaScript SRC=/legacy/util.js></SCRIPT>
<SCRIPT LANGUAGE="JavaScript"><!--
  function swap() {{ document.images[0].src = "/legacy/on.gif"; }}
// --></SCRIPT>
</HEAD>
<BODY BGCOLOR=#FFFFFF>
<TABLE WIDTH=100% BORDER=0><TR><TD><IMG SRC=/legacy/spacer.gif WIDTH=1 HEIGHT=1></TD>
<TD><IMG
   SRC = "/legacy/banner-{m}.gif"
   ALT = "Banner"   ></TD></TR></TABLE>
<!-- begin content --><!-- <IMG SRC=/legacy/commented.gif> -->
{body}
<CENTER><A HREF="/legacy/index.html"><IMG SRC='/legacy/home.gif' BORDER=0></A></CENTER>
<P STYLE="background-image: URL(/legacy/paper.jpg)">Footer</P>
</BODY></HTML>
""",
]

TEMPLATE_COUNT = len(_TEMPLATES)


def wrap_page(body_html: str, index: int, title: str = "Page") -> str:
    """A complete page around a rendered Markdown body, in template ``index % TEMPLATE_COUNT``."""
    template = _TEMPLATES[index % TEMPLATE_COUNT]
    slug = f"page-{index}"
    return template.format(title=title, body=body_html, n=index, m=index % 7, slug=slug)


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def generated_site_pages(dest: Path, pages: int = 1000, seed: int = 0) -> list[str]:
    """Rendered, templated HTML of a generated site.

    Uses benchmarks/gen_site.py (the project's synthetic site) and bengal_native's Markdown
    renderer with the site's xref index; every page goes through one of the templates above.
    """
    import bengal_native

    root = str(_repo_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks.gen_site import generate_site, iter_bodies

    manifest = generate_site(dest, pages=pages, seed=seed)
    index = bengal_native.XrefIndex()
    for target in manifest.xref_targets:
        index.add(target.key, target.url, target.title)
    rels, bodies = zip(*iter_bodies(dest), strict=True)
    rendered = bengal_native.render_markdown_batch(list(bodies), xref_index=index)
    return [
        wrap_page(r.html, i, title=rel.rsplit("/", 1)[-1].removesuffix(".md"))
        for i, (rel, r) in enumerate(zip(rels, rendered, strict=True))
    ]


def build_example_site(dest: Path) -> list[tuple[str, str]]:
    """(output path, HTML) of every page of examples/showcase, built by bengal into ``dest``.

    The site is copied first (a build writes its output and ``.bengal/`` state into the site), so
    these are the real pages with the default theme, as ``bengal build`` writes them.
    """
    import shutil

    from bengal.build import BuildOptions, build

    site = dest / "showcase"
    shutil.copytree(
        _repo_root() / "examples" / "showcase",
        site,
        ignore=shutil.ignore_patterns("public", ".bengal"),
    )
    result = build(site, BuildOptions(output=dest / "public", workers=1))
    if not result.ok:
        raise RuntimeError(f"the example site does not build: {result.errors[:3]}")
    return [
        (str(path.relative_to(dest / "public")), path.read_text(encoding="utf-8"))
        for path in sorted((dest / "public").rglob("*.html"))
    ]


def total_bytes(pages: Iterable[str]) -> int:
    return sum(len(p.encode("utf-8")) for p in pages)
