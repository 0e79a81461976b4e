// Hostile and degenerate input: the renderer must finish, produce well-formed UTF-8 and keep
// its bookkeeping (TOC, xrefs, warnings) consistent, whatever it is fed. Meant to run under
// ASan+UBSan as well; the inputs are sized to stay quick there while still being large enough
// to expose super-linear behaviour.
//
// No timing assertions: a pathological slowdown shows up as a slow test, and is investigated
// with numbers rather than hidden behind a shrunken input.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "bengal_native/markdown.hpp"
#include "bengal_native/utf8.hpp"
#include "bengal_native/xref_index.hpp"

namespace bengal {
namespace {

using namespace std::string_literals;

constexpr auto npos = std::string_view::npos;

std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    out.reserve(s.size() * n);
    for (std::size_t i = 0; i < n; ++i) out.append(s);
    return out;
}

std::size_t count(std::string_view hay, std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t p = hay.find(needle); p != npos; p = hay.find(needle, p + needle.size())) ++n;
    return n;
}

// Empty when every string the result carries is well-formed UTF-8; otherwise says which is not.
std::string utf8_problem(const RenderResult& r) {
    auto bad = [](std::string_view s) { return find_invalid_utf8(s) != npos; };
    if (bad(r.html)) return "html, at byte " + std::to_string(find_invalid_utf8(r.html));
    for (const auto& t : r.toc)
        if (bad(t.id) || bad(t.text)) return "toc entry '" + t.id + "'";
    for (const auto& x : r.xrefs)
        if (bad(x.target) || bad(x.text) || bad(x.url)) return "xref record";
    for (const auto& i : r.images)
        if (bad(i)) return "image src";
    for (const auto& w : r.warnings)
        if (bad(w.message)) return "warning message";
    return {};
}

// Bookkeeping that must hold for any input: every unresolved xref has a warning (never
// silently dropped), every TOC entry's id appears in the HTML, line numbers are plausible.
std::string consistency_problem(std::string_view source, const RenderResult& r) {
    // CommonMark line endings: "\n", "\r\n" and a lone "\r".
    const int max_line = static_cast<int>(count(source, "\n") + count(source, "\r") - count(source, "\r\n")) + 1;
    std::size_t unresolved = 0;
    for (const auto& x : r.xrefs) {
        if (!x.resolved) ++unresolved;
        if (x.line < 1 || x.line > max_line) return "xref line " + std::to_string(x.line) + " out of range";
    }
    if (r.warnings.size() < unresolved) return "fewer warnings than unresolved xrefs";
    for (const auto& w : r.warnings)
        if (w.line < 0 || w.line > max_line) return "warning line " + std::to_string(w.line) + " out of range";
    // Every id attribute in the page, collected in one pass (a find() per TOC entry would make
    // this check quadratic on pages with thousands of headings).
    std::unordered_set<std::string_view> ids;
    const std::string_view html = r.html;
    for (std::size_t p = html.find(" id=\""); p != npos; p = html.find(" id=\"", p + 1)) {
        const std::size_t start = p + 5;
        const std::size_t end = html.find('"', start);
        if (end == npos) break;
        ids.insert(html.substr(start, end - start));
    }
    for (const auto& t : r.toc) {
        if (t.level < 1 || t.level > 6) return "toc level " + std::to_string(t.level);
        if (t.id.empty()) return "empty toc id";
        if (ids.count(t.id) == 0) return "toc id '" + t.id + "' not in html";
    }
    return {};
}

class Robustness : public testing::Test {
protected:
    void SetUp() override {
        index_.add("docs/setup", "/docs/setup/", "Setup Guide");
        index_.add("blog", "/blog/", "Blog");
    }
    RenderResult render(std::string_view md) const {
        RenderResult r = render_markdown(md, options_, &index_);
        EXPECT_EQ(utf8_problem(r), "");
        EXPECT_EQ(consistency_problem(md, r), "");
        return r;
    }
    XrefIndex index_;
    RenderOptions options_;
};

// ---- encoding ---------------------------------------------------------------------------------

TEST_F(Robustness, InvalidUtf8WarningNamesFirstBadByteOffset) {
    {
        const auto r = render("abc\xFF"
                              "def\xC0\xAF\n");
        EXPECT_EQ(r.html, "<p>abc\xEF\xBF\xBD"
                          "def\xEF\xBF\xBD\xEF\xBF\xBD</p>\n");
        ASSERT_EQ(r.warnings.size(), 1u);
        EXPECT_EQ(r.warnings[0].line, 0);
        EXPECT_EQ(r.warnings[0].message, "invalid UTF-8 at byte offset 3; bad bytes were replaced with U+FFFD");
    }
    {
        // Far into the document, after a valid multi-byte prefix.
        const std::string src = repeat("é", 500000) + "\xED\xA0\x80";  // surrogate at byte 1,000,000
        const auto r = render(src);
        ASSERT_EQ(r.warnings.size(), 1u);
        EXPECT_EQ(r.warnings[0].message,
                  "invalid UTF-8 at byte offset 1000000; bad bytes were replaced with U+FFFD");
    }
}

TEST_F(Robustness, InvalidUtf8InsideEveryConstruct) {
    const std::string src =
        "# Head\xFF"
        "ing {#i\xC3}\n\n"
        "[[docs/\xFE|lab\xC0"
        "el]] [[\xE2\x82]] ![al\xF5t](im\xFFg.png)\n\n"
        "```{note} Ti\xF8tle\n:class: c\xFF\nbo\xC1"
        "dy [[#\xE0\x80]]\n```\n\n"
        "```py\xFF\ncode\xED\xBF\xBF\n```\n\n"
        "| a\xFF | b |\n|---|---|\n| `\xC2` | \xF4\x90\x80\x80 |\n\n"
        "<div \xFF>raw\xC3</div>\n\n"
        "trunc\xF0\x9F\x98";
    const auto r = render(src);
    ASSERT_FALSE(r.warnings.empty());
    EXPECT_EQ(r.warnings[0].message, "invalid UTF-8 at byte offset 6; bad bytes were replaced with U+FFFD");
    EXPECT_EQ(r.images.size(), 1u);
    EXPECT_EQ(count(r.html, "<div class=\"admonition note"), 1u);
}

TEST_F(Robustness, NulBytesNeverReachTheOutput) {
    const std::string src =
        "# N\0ul {#x\0y}\n\n"
        "Para \0 with `co\0de` and *em\0* and [li\0nk](u\0rl \"ti\0tle\") ![a\0lt](s\0rc)\n\n"
        "[[docs/\0setup]] [[blog|la\0bel]] &#0; &am\0p;\n\n"
        "```\0lang\nfen\0ced\n\0\n```\n\n"
        "    inde\0nted\n\n"
        "```{note} ti\0tle\n:class: a\0b\nbo\0dy `c\0` \0\n```\n\n"
        "| h\0 | `\0` |\n|---|---|\n| c\0 | d |\n\n"
        "<div>\0</div>\n\n"
        "\0"s;
    const auto r = render(src);
    EXPECT_EQ(r.html.find('\0'), std::string::npos) << r.html;
    for (const auto& t : r.toc) EXPECT_EQ(t.text.find('\0'), std::string::npos);
    for (const auto& x : r.xrefs) {
        EXPECT_EQ(x.target.find('\0'), std::string::npos);
        EXPECT_EQ(x.text.find('\0'), std::string::npos);
    }
    for (const auto& i : r.images) EXPECT_EQ(i.find('\0'), std::string::npos);
}

// ---- size and nesting -------------------------------------------------------------------------

TEST_F(Robustness, TenMegabyteSingleLine) {
    const std::string src = repeat("lorem *ipsum* dolor ", 500000);  // 10,000,000 bytes, no newline
    ASSERT_EQ(src.size(), 10000000u);
    const auto r = render(src);
    EXPECT_EQ(count(r.html, "<p>"), 1u);
    EXPECT_EQ(count(r.html, "<em>"), 500000u);
    EXPECT_TRUE(r.warnings.empty());
}

TEST_F(Robustness, TenMegabyteSingleWord) {
    const std::string src(10000000, 'a');
    const auto r = render(src);
    EXPECT_EQ(r.html, "<p>" + src + "</p>\n");
}

TEST_F(Robustness, TenThousandNestedBlockquotes) {
    const auto r = render(std::string(10000, '>') + " deep [[nope]]\n");
    EXPECT_EQ(count(r.html, "<blockquote>"), 10000u);
    EXPECT_EQ(count(r.html, "</blockquote>"), 10000u);
    ASSERT_EQ(r.xrefs.size(), 1u);
    EXPECT_EQ(r.xrefs[0].line, 1);
}

TEST_F(Robustness, TenThousandNestedListLevels) {
    {
        const auto r = render(repeat("- ", 10000) + "x\n");
        EXPECT_EQ(count(r.html, "<ul>"), 10000u);
        EXPECT_EQ(count(r.html, "</li>"), 10000u);
    }
    {
        const auto r = render(repeat("1. ", 10000) + "x\n");
        EXPECT_EQ(count(r.html, "<ol>"), 10000u);
        EXPECT_EQ(count(r.html, "</ol>"), 10000u);
    }
    {
        // Mixed list and quote markers.
        const auto r = render(repeat("> - ", 5000) + "x\n");
        EXPECT_EQ(count(r.html, "<blockquote>"), 5000u);
        EXPECT_EQ(count(r.html, "<ul>"), 5000u);
    }
}

TEST_F(Robustness, ThousandNestedListLevelsOnSeparateLines) {
    // Each level on its own line, indented under the previous one (input grows quadratically
    // with depth: 1,000 levels is ~1 MB).
    std::string src;
    for (int i = 0; i < 1000; ++i) src += std::string(2 * static_cast<std::size_t>(i), ' ') + "- item\n";
    const auto r = render(src);
    EXPECT_EQ(count(r.html, "<ul>"), 1000u);
}

TEST_F(Robustness, HundredThousandXrefOpeners) {
    {
        const auto r = render(repeat("[[", 100000));
        EXPECT_TRUE(r.xrefs.empty());
        EXPECT_EQ(r.html, "<p>" + repeat("[[", 100000) + "</p>\n");
    }
    {
        const auto r = render(repeat("[[", 100000) + "docs/setup]]");
        EXPECT_LE(r.xrefs.size(), 1u);
    }
    {
        const auto r = render(repeat("[[a|", 100000));
        EXPECT_TRUE(r.xrefs.empty());
    }
    {
        const auto r = render(repeat("]]", 100000) + repeat("[[x", 100000));
        EXPECT_TRUE(r.xrefs.empty());
    }
}

TEST_F(Robustness, HundredThousandClosedXrefs) {
    // Every one is reported: 50,000 resolved and 50,000 unresolved with a warning each.
    const auto r = render(repeat("[[docs/setup]] [[missing]]\n", 50000));
    ASSERT_EQ(r.xrefs.size(), 100000u);
    EXPECT_EQ(r.warnings.size(), 50000u);
    EXPECT_EQ(r.xrefs.back().line, 50000);
    EXPECT_EQ(r.xrefs.back().target, "missing");
}

// Same-page anchors are checked once the page is complete. With N missing anchors on a page
// this check must stay linear: 20,000 of them is a small input (200 KB), and this test takes
// seconds rather than milliseconds for as long as the check compares every missing anchor with
// every xref record.
TEST_F(Robustness, TwentyThousandMissingSamePageAnchors) {
    const auto r = render(repeat("[[#nope]] ", 20000));
    ASSERT_EQ(r.xrefs.size(), 20000u);
    EXPECT_EQ(r.warnings.size(), 20000u);
    for (const auto& x : r.xrefs) ASSERT_FALSE(x.resolved);
}

TEST_F(Robustness, HundredThousandUnclosedBackticks) {
    {
        // 100,000 paragraphs, each with a backtick that nothing closes.
        const auto r = render(repeat("`a\n\n", 100000));
        EXPECT_EQ(count(r.html, "<p>`a</p>"), 100000u);
        EXPECT_EQ(count(r.html, "<code>"), 0u);
    }
    {
        // One unclosed backtick string 100,000 long, inline (not at the start of the line,
        // where it would open a fenced code block).
        const std::string ticks(100000, '`');
        const auto r = render("x " + ticks);
        EXPECT_EQ(r.html, "<p>x " + ticks + "</p>\n");
    }
    {
        // Backtick strings of increasing length: none has a partner of equal length, so each
        // opener is searched for and not found (md4c's classic quadratic case; 2,000 runs).
        std::string src;
        for (int i = 1; i < 2000; ++i) src += "e" + std::string(static_cast<std::size_t>(i), '`');
        const auto r = render(src);
        EXPECT_EQ(count(r.html, "<code>"), 0u);
    }
}

TEST_F(Robustness, DeeplyNestedEmphasis) {
    {
        const auto r = render(std::string(10000, '*') + "a" + std::string(10000, '*'));
        EXPECT_EQ(count(r.html, "<strong>"), 5000u);
    }
    {
        const auto r = render(repeat("*a **a ", 30000) + "b" + repeat(" a** a*", 30000));
        EXPECT_EQ(count(r.html, "<em>"), count(r.html, "</em>"));
        EXPECT_EQ(count(r.html, "<strong>"), count(r.html, "</strong>"));
    }
    {
        const auto r = render(repeat("_a ", 65000) + repeat("a_ ", 65000));
        EXPECT_EQ(count(r.html, "<em>"), count(r.html, "</em>"));
    }
    {
        // md4c 0.4.8 itself is quadratic here (md_html: 0.12 s at 15,000, 0.55 s at 30,000,
        // 2.1 s at 60,000 pairs); kept at 30,000, the cost is inside the uninstrumented md4c.
        const auto r = render(repeat("~~a ", 30000) + repeat("a~~ ", 30000));
        EXPECT_EQ(count(r.html, "<del>"), count(r.html, "</del>"));
    }
}

TEST_F(Robustness, PathologicalLinksAndImages) {
    render(repeat("[a](", 30000));
    render(repeat("[a](<b", 30000));
    render(std::string(50000, '[') + "a" + std::string(50000, ']'));
    render(repeat("a] ", 50000));
    {
        // Images nested in image alt text, 1,000 deep: one <img>, plain alt.
        const auto r = render(repeat("![", 1000) + "x" + repeat("](i.png)", 1000));
        EXPECT_EQ(count(r.html, "<img "), 1u);
        EXPECT_EQ(r.images.size(), 1u);
    }
    {
        const auto r = render(repeat("![a](b.png) ", 50000));
        EXPECT_EQ(r.images.size(), 50000u);
    }
}

TEST_F(Robustness, HugeTable) {
    {
        std::string src = "| a | b | c | d |\n|---|:-:|--:|:--|\n";
        src += repeat("| `x` | *y* | [[docs/setup]] | ~~z~~ |\n", 20000);
        const auto r = render(src);
        EXPECT_EQ(count(r.html, "<tr>"), 20001u);
        EXPECT_EQ(count(r.html, "<td"), 80000u);
        EXPECT_EQ(r.xrefs.size(), 20000u);
        EXPECT_EQ(r.xrefs.back().line, 20002);
    }
    {
        // Very wide: 5,000 columns declared.
        const std::string src = repeat("| a ", 5000) + "|\n" + repeat("|---", 5000) + "|\n" + repeat("| b ", 5000) + "|\n";
        const auto r = render(src);
        EXPECT_EQ(count(r.html, "<table>"), 1u);
    }
}

TEST_F(Robustness, ManyHeadingsWithTheSameText) {
    const auto r = render(repeat("# Same\n\n", 20000));
    ASSERT_EQ(r.toc.size(), 20000u);
    EXPECT_EQ(r.toc.front().id, "same");
    EXPECT_EQ(r.toc.back().id, "same-19999");
}

TEST_F(Robustness, HugeHeadings) {
    {
        const auto r = render("# " + repeat("word ", 200000) + "{#x}\n");
        ASSERT_EQ(r.toc.size(), 1u);
        EXPECT_EQ(r.toc[0].id, "x");
    }
    {
        const auto r = render("# " + repeat("{#", 100000) + "}\n");
        ASSERT_EQ(r.toc.size(), 1u);
    }
    {
        const auto r = render("# " + repeat("[[docs/setup]] ", 20000) + "\n");
        ASSERT_EQ(r.toc.size(), 1u);
        EXPECT_EQ(r.xrefs.size(), 20000u);
    }
}

TEST_F(Robustness, EntityFlood) {
    {
        const auto r = render(repeat("&amp;", 200000));
        EXPECT_EQ(count(r.html, "&amp;"), 200000u);
    }
    render("&" + std::string(100000, 'a') + ";");
    render(repeat("&#", 100000));
    render("&#" + std::string(100000, '9') + ";");
}

TEST_F(Robustness, DirectiveFencesNestedThousandDeep) {
    // Fence lengths 1003, 1002, ..., 4: each level is a valid directive inside its parent.
    constexpr int kDepth = 1000;
    std::string src;
    for (int i = 0; i < kDepth; ++i) src += std::string(static_cast<std::size_t>(kDepth + 3 - i), '`') + "{note}\n";
    src += "body [[docs/setup]]\n";
    for (int i = kDepth - 1; i >= 0; --i) src += std::string(static_cast<std::size_t>(kDepth + 3 - i), '`') + "\n";
    const auto r = render(src);
    // The default limit renders 16 levels and shows the 17th as code, with one warning naming it.
    EXPECT_EQ(count(r.html, "<div class=\"admonition note\">"), 16u);
    EXPECT_EQ(count(r.html, "</div>"), 16u);
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_EQ(r.warnings[0].line, 17);
    EXPECT_EQ(r.warnings[0].message, "directive '{note}' nested deeper than 16 levels; rendered as a code block");
    EXPECT_TRUE(r.xrefs.empty());  // the xref is inside the code block
}

TEST_F(Robustness, ManySiblingDirectivesWithOptions) {
    const auto r = render(repeat("```{tip} T\n:class: c\n:name: n\n:bogus: b\nx [[missing]]\n```\n\n", 5000));
    EXPECT_EQ(count(r.html, "<div class=\"admonition tip c\""), 5000u);
    EXPECT_EQ(r.xrefs.size(), 5000u);
    // Per directive: unknown option + unresolved xref; and every :name: after the first collides.
    EXPECT_EQ(r.warnings.size(), 5000u * 2 + 4999u);
}

TEST_F(Robustness, HugeInputsThroughTheBatchApi) {
    std::vector<std::string> docs = {std::string(10000, '>') + " q\n", repeat("- ", 10000) + "x\n",
                                     repeat("[[", 100000), std::string(200000, '`')};
    const auto batch = render_markdown_batch(docs, options_, &index_);
    ASSERT_EQ(batch.size(), docs.size());
    for (std::size_t i = 0; i < docs.size(); ++i) {
        const auto seq = render_markdown(docs[i], options_, &index_);
        EXPECT_EQ(batch[i].html, seq.html) << "document " << i;
    }
}

// ---- generated input --------------------------------------------------------------------------

// Markdown-significant pieces, plus bytes that are invalid UTF-8 or NUL.
const std::vector<std::string>& fragments() {
    static const std::vector<std::string> f = {
        "#", "# ", "## ", " ", "  ", "    ", "\n", "\n\n", "\t", "*", "**", "_", "`", "```", "~~~", "~~",
        "[", "]", "(", ")", "![", "](", "[[", "]]", "|", "-", "- ", "1. ", "> ", ":", "{", "}", "{#",
        "{#id}", "```{note}\n", "```{tip} T\n", "```{x}\n", ":class: c\n", ":name: n\n", "&", ";",
        "&amp;", "&#0;", "&#x1F600;", "&ouml;", "<", ">", "</", "<div>", "<script>", "\\", "\"", "'",
        "a", "b", "word", "é", "日本", "\xF0\x9F\x9A\x80", "docs/setup", "#anchor", "id:x", "|---|",
        "\r", "\r\n", "www.", "http://", "@", "\0"s, "\xFF", "\xC3", "\x80", "\xED\xA0\x80",
        "\xF4\x90\x80\x80", "\xE2\x82",
    };
    return f;
}

TEST_F(Robustness, RandomFragmentDocuments) {
    std::mt19937 rng(20240601);
    std::uniform_int_distribution<std::size_t> pick(0, fragments().size() - 1);
    std::uniform_int_distribution<int> length(0, 80);
    std::vector<std::string> docs;
    for (int d = 0; d < 3000; ++d) {
        std::string doc;
        const int n = length(rng);
        for (int k = 0; k < n; ++k) doc += fragments()[pick(rng)];
        docs.push_back(std::move(doc));
    }
    int utf8_failures = 0, consistency_failures = 0;
    std::string first_failure;
    std::vector<RenderResult> sequential;
    sequential.reserve(docs.size());
    for (const auto& doc : docs) {
        sequential.push_back(render_markdown(doc, options_, &index_));
        const std::string u = utf8_problem(sequential.back());
        const std::string c = consistency_problem(doc, sequential.back());
        if (!u.empty()) ++utf8_failures;
        if (!c.empty()) ++consistency_failures;
        // Keep the first few examples: they are the reproducers for whoever fixes the bug.
        if ((!u.empty() || !c.empty()) && utf8_failures + consistency_failures <= 3)
            first_failure += u + " / " + c + " for input " + testing::PrintToString(doc) + "\n";
    }
    EXPECT_EQ(utf8_failures, 0) << first_failure;
    EXPECT_EQ(consistency_failures, 0) << first_failure;
    // The batch API gives the same answers on the same garbage.
    const auto batch = render_markdown_batch(docs, options_, &index_);
    int mismatches = 0;
    for (std::size_t i = 0; i < docs.size(); ++i) {
        if (batch[i].html != sequential[i].html || batch[i].warnings.size() != sequential[i].warnings.size() ||
            batch[i].xrefs.size() != sequential[i].xrefs.size() || batch[i].toc.size() != sequential[i].toc.size())
            ++mismatches;
    }
    EXPECT_EQ(mismatches, 0);
}

TEST_F(Robustness, RandomByteDocuments) {
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 300);
    int failures = 0;
    std::string first_failure;
    for (int d = 0; d < 3000; ++d) {
        std::string doc;
        const int n = length(rng);
        for (int k = 0; k < n; ++k) doc.push_back(static_cast<char>(byte(rng)));
        for (const bool safe : {false, true}) {
            RenderOptions o = options_;
            o.unsafe_html = !safe;
            o.tagfilter = safe;
            const auto r = render_markdown(doc, o, &index_);
            const std::string p = utf8_problem(r) + consistency_problem(doc, r);
            if (!p.empty() && ++failures == 1) first_failure = p + " for " + testing::PrintToString(doc);
        }
        // Misuse of the "already validated" promise may pass bad bytes through, but must not
        // crash or trip the sanitizers; line bookkeeping stays sound.
        RenderOptions trusting = options_;
        trusting.input_is_valid_utf8 = true;
        const auto r = render_markdown(doc, trusting, &index_);
        const std::string p = consistency_problem(doc, r);
        if (!p.empty() && ++failures == 1) first_failure = p + " (trusting) for " + testing::PrintToString(doc);
    }
    EXPECT_EQ(failures, 0) << first_failure;
}

// Cutting at every byte also cuts multi-byte characters, fences, directives, tables and xrefs
// in half.
const std::string& feature_rich_document() {
    static const std::string doc =
        "# Guide {#guide}\n\n"
        "Intro with *emphasis*, **strong**, `code`, ~~gone~~, a [link](http://x.y \"t\") and "
        "![img](a.png). Café &amp; crème, 日本語, \xF0\x9F\x9A\x80.\n\n"
        "## Guide\n\n"
        "See [[docs/setup]], [[docs/setup#First Steps|first steps]], [[blog]], [[id:nope]], "
        "[[#guide]] and [[#missing]].\n\n"
        "> Quote\n> > nested with [[docs/setup|label *em*]]\n\n"
        "1. one\n2. two\n   - [ ] task\n   - [x] done\n\n"
        "| a | b |\n|:--|--:|\n| `x\\|y` | [[blog]] |\n\n"
        "````{warning} Careful\n"
        ":class: extra\n"
        ":name: warn-1\n"
        "Body with [[docs/setup]].\n\n"
        "```{tip}\nInner *tip*.\n```\n\n"
        "```python\nprint(\"<&>\")\n```\n"
        "````\n\n"
        "```{unknown}\nraw\n```\n\n"
        "<div class=\"raw\">html</div>\n\n"
        "Setext\n======\n\n"
        "    indented code [[x]]\n\n"
        "Final line with www.example.com and a footnote-ish [^1].\n";
    return doc;
}

TEST_F(Robustness, EveryPrefixOfAFeatureRichDocument) {
    // Each prefix is its own std::string, as the Python bindings and the batch API pass them.
    const std::string& doc = feature_rich_document();
    int failures = 0;
    std::string first_failure;
    std::size_t total_headings = 0;
    for (std::size_t n = 0; n <= doc.size(); ++n) {
        const std::string prefix = doc.substr(0, n);
        const auto r = render_markdown(prefix, options_, &index_);
        const std::string p = utf8_problem(r) + consistency_problem(prefix, r);
        if (!p.empty() && ++failures == 1) first_failure = p + " at prefix length " + std::to_string(n);
        total_headings += r.toc.size();
    }
    EXPECT_EQ(failures, 0) << first_failure;
    EXPECT_GT(total_headings, 0u);
    // Sanity: the full document has all of its headings.
    EXPECT_EQ(render(doc).toc.size(), 3u);
}

// render_markdown takes a string_view, so a caller may pass a slice of a larger buffer (a file
// with its front matter cut off, a page inside a bundle). md4c 0.4.8 reads the byte after the
// end of its input when a link destination is unterminated: given "[a](b" from the buffer
// "[a](b)x", it takes the ')' beyond the slice as the link's end and then emits text with a
// garbage length (a plain md_parse harness segfaults). The renderer must only ever hand md4c a
// buffer whose end it cannot read past. These run in a child process so that a crash fails the
// test instead of killing the whole test binary.
TEST_F(Robustness, UnterminatedLinkAtEndOfViewStaysInsideTheView) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    const std::string buffer = "[a](b)x";
    EXPECT_EXIT(
        {
            const auto r = render_markdown(std::string_view(buffer).substr(0, 5), RenderOptions{}, nullptr);
            std::fprintf(stderr, "html: %s", r.html.c_str());
            std::exit(r.html == "<p>[a](b</p>\n" ? 0 : 1);
        },
        testing::ExitedWithCode(0), "");
}

TEST_F(Robustness, EveryPrefixAsAViewIntoTheWholeDocument) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    const std::string& doc = feature_rich_document();
    EXPECT_EXIT(
        {
            for (std::size_t n = 0; n <= doc.size(); ++n) {
                const std::string_view view(doc.data(), n);
                const auto from_view = render_markdown(view, options_, &index_);
                const auto from_copy = render_markdown(std::string(view), options_, &index_);
                if (from_view.html != from_copy.html) {
                    std::fprintf(stderr, "prefix length %zu renders differently as a view\n", n);
                    std::exit(1);
                }
            }
            std::exit(0);
        },
        testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace bengal
