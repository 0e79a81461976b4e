// Behaviour of render_markdown beyond plain CommonMark (which the spec-conformance tests cover):
// heading ids and the TOC, [[cross-references]], directive fences, escaping, images, raw HTML
// options, GFM extensions, warning line numbers, and batch == sequential.
//
// Expectations are exact strings: the output shape (block tags on their own lines, XHTML void
// tags) is part of the contract, since themes and golden-file tests depend on it.

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "bengal_native/markdown.hpp"
#include "bengal_native/xref_index.hpp"

namespace bengal {

// Printers so that failing comparisons show readable values.
void PrintTo(const TocEntry& t, std::ostream* os) {
    *os << "{" << t.level << ", \"" << t.id << "\", \"" << t.text << "\"}";
}
void PrintTo(const XrefRecord& x, std::ostream* os) {
    *os << "{target=\"" << x.target << "\", text=\"" << x.text << "\", url=\"" << x.url
        << "\", line=" << x.line << ", resolved=" << x.resolved << "}";
}
void PrintTo(const RenderWarning& w, std::ostream* os) {
    *os << "{line=" << w.line << ", \"" << w.message << "\"}";
}

bool operator==(const TocEntry& a, const TocEntry& b) {
    return a.level == b.level && a.id == b.id && a.text == b.text;
}
bool operator==(const XrefRecord& a, const XrefRecord& b) {
    return a.target == b.target && a.text == b.text && a.url == b.url && a.line == b.line &&
           a.resolved == b.resolved;
}
bool operator==(const RenderWarning& a, const RenderWarning& b) {
    return a.line == b.line && a.message == b.message;
}

namespace {

using namespace std::string_literals;
using Toc = std::vector<TocEntry>;
using Xrefs = std::vector<XrefRecord>;

const std::string kKnown = "note, tip, important, warning, caution, danger, seealso";

class Markdown : public testing::Test {
protected:
    void SetUp() override {
        index_.add("docs/setup", "/docs/setup/", "Setup Guide");
        index_.add("id:install", "/docs/install/", "Installing <Bengal>");
        index_.add("blog", "/blog/", "Blog & News");
        index_.add("", "/", "Home");
    }
    RenderResult render(std::string_view md) const { return render_markdown(md, options_, &index_); }
    std::string html(std::string_view md) const { return render(md).html; }

    // Lines of all warnings, in order.
    static std::vector<int> warning_lines(const RenderResult& r) {
        std::vector<int> v;
        for (const auto& w : r.warnings) v.push_back(w.line);
        return v;
    }

    XrefIndex index_;
    RenderOptions options_;
};

// ---- heading ids and TOC ----------------------------------------------------------------------

TEST_F(Markdown, HeadingGetsSlugIdAndKeepsInlineMarkup) {
    const auto r = render("# Hello *World*\n");
    EXPECT_EQ(r.html, "<h1 id=\"hello-world\">Hello <em>World</em></h1>\n");
    EXPECT_EQ(r.toc, (Toc{{1, "hello-world", "Hello World"}}));
    EXPECT_TRUE(r.warnings.empty());
}

TEST_F(Markdown, EmphasisAndCodeInsideHeadingContributePlainText) {
    const auto r = render("## **Bold** and `code()` _here_\n");
    EXPECT_EQ(r.html,
              "<h2 id=\"bold-and-code-here\"><strong>Bold</strong> and <code>code()</code> "
              "<em>here</em></h2>\n");
    EXPECT_EQ(r.toc, (Toc{{2, "bold-and-code-here", "Bold and code() here"}}));
}

TEST_F(Markdown, DuplicateHeadingsInOnePageAreNumbered) {
    const auto r = render("# Intro\n\n## Intro\n\n### Intro\n\nSetext Intro\n---\n\n# intro!\n");
    EXPECT_EQ(r.html,
              "<h1 id=\"intro\">Intro</h1>\n"
              "<h2 id=\"intro-1\">Intro</h2>\n"
              "<h3 id=\"intro-2\">Intro</h3>\n"
              "<h2 id=\"setext-intro\">Setext Intro</h2>\n"
              "<h1 id=\"intro-3\">intro!</h1>\n");
    EXPECT_EQ(r.toc, (Toc{{1, "intro", "Intro"},
                          {2, "intro-1", "Intro"},
                          {3, "intro-2", "Intro"},
                          {2, "setext-intro", "Setext Intro"},
                          {1, "intro-3", "intro!"}}));
}

TEST_F(Markdown, IdsAreScopedToOneRender) {
    // A second page starts with a fresh registry.
    EXPECT_EQ(html("# Intro\n"), "<h1 id=\"intro\">Intro</h1>\n");
    EXPECT_EQ(html("# Intro\n"), "<h1 id=\"intro\">Intro</h1>\n");
}

TEST_F(Markdown, CustomIdIsRemovedFromTextAndToc) {
    const auto r = render("## Install it {#install}\n\nSetext {#st}\n===\n\n## Tail {#t-1.x:y}\n");
    EXPECT_EQ(r.html,
              "<h2 id=\"install\">Install it</h2>\n"
              "<h1 id=\"st\">Setext</h1>\n"
              "<h2 id=\"t-1.x:y\">Tail</h2>\n");
    EXPECT_EQ(r.toc, (Toc{{2, "install", "Install it"}, {1, "st", "Setext"}, {2, "t-1.x:y", "Tail"}}));
}

TEST_F(Markdown, CustomIdOnlyHeading) {
    const auto r = render("# {#only}\n");
    EXPECT_EQ(r.html, "<h1 id=\"only\"></h1>\n");
    EXPECT_EQ(r.toc, (Toc{{1, "only", ""}}));
}

TEST_F(Markdown, CustomIdIsClaimedBeforeLaterAutoIds) {
    const auto r = render("# A {#x}\n\n# x\n\n# x\n");
    EXPECT_EQ(r.html,
              "<h1 id=\"x\">A</h1>\n"
              "<h1 id=\"x-1\">x</h1>\n"
              "<h1 id=\"x-2\">x</h1>\n");
}

TEST_F(Markdown, AutoIdThenSameCustomIdWarnsWithLine) {
    const auto r = render("# x\n\nText.\n\n# Y {#x}\n");
    EXPECT_EQ(r.html, "<h1 id=\"x\">x</h1>\n<p>Text.</p>\n<h1 id=\"x\">Y</h1>\n");
    EXPECT_EQ(r.warnings,
              (std::vector<RenderWarning>{{5, "duplicate heading id 'x'; ids must be unique in a page"}}));
}

TEST_F(Markdown, CustomIdInsideCodeSpanIsNotACustomId) {
    const auto r = render("## `x {#notid}`\n");
    EXPECT_EQ(r.html, "<h2 id=\"x-notid\"><code>x {#notid}</code></h2>\n");
    EXPECT_EQ(r.toc, (Toc{{2, "x-notid", "x {#notid}"}}));
}

TEST_F(Markdown, CustomIdAfterCodeSpanStillWorks) {
    const auto r = render("## `code` {#c-id}\n");
    EXPECT_EQ(r.html, "<h2 id=\"c-id\"><code>code</code></h2>\n");
    EXPECT_EQ(r.toc, (Toc{{2, "c-id", "code"}}));
}

TEST_F(Markdown, BracesThatAreNotATrailingIdStayText) {
    const auto r = render("# Foo {#bar} baz\n\n# Bad {#a b}\n\n# Empty {#}\n");
    EXPECT_EQ(r.html,
              "<h1 id=\"foo-bar-baz\">Foo {#bar} baz</h1>\n"
              "<h1 id=\"bad-a-b\">Bad {#a b}</h1>\n"
              "<h1 id=\"empty\">Empty {#}</h1>\n");
}

TEST_F(Markdown, EntitiesInHeadingAreDecodedForSlugAndToc) {
    const auto r = render("## Caf&eacute; &amp; Bar &lt;T&gt; &#35;1\n");
    EXPECT_EQ(r.html, "<h2 id=\"café-bar-t-1\">Café &amp; Bar &lt;T&gt; #1</h2>\n");
    EXPECT_EQ(r.toc, (Toc{{2, "café-bar-t-1", "Café & Bar <T> #1"}}));
}

TEST_F(Markdown, HeadingWithoutSlugCharactersIsCalledHeading) {
    const auto r = render("## ***\n\n## \xF0\x9F\x9A\x80 !!!\n");
    EXPECT_EQ(r.html, "<h2 id=\"heading\">***</h2>\n<h2 id=\"heading-1\">\xF0\x9F\x9A\x80 !!!</h2>\n");
}

TEST_F(Markdown, LinksImagesAndRawHtmlInHeadings) {
    const auto r = render("## [Link *text*](http://a.b) and ![img alt](i.png)\n\n## <b>bold</b> raw\n");
    EXPECT_EQ(r.html,
              "<h2 id=\"link-text-and-img-alt\"><a href=\"http://a.b\">Link <em>text</em></a> and "
              "<img src=\"i.png\" alt=\"img alt\" /></h2>\n"
              "<h2 id=\"bold-raw\"><b>bold</b> raw</h2>\n");
    EXPECT_EQ(r.toc, (Toc{{2, "link-text-and-img-alt", "Link text and img alt"}, {2, "bold-raw", "bold raw"}}));
    EXPECT_EQ(r.images, (std::vector<std::string>{"i.png"}));
}

TEST_F(Markdown, XrefInHeadingUsesShownText) {
    const auto r = render("## See [[docs/setup]]\n");
    EXPECT_EQ(r.html, "<h2 id=\"see-setup-guide\">See <a class=\"xref\" href=\"/docs/setup/\">Setup Guide</a></h2>\n");
    EXPECT_EQ(r.toc, (Toc{{2, "see-setup-guide", "See Setup Guide"}}));
}

TEST_F(Markdown, TocListsEveryHeadingInOrderWithLevel) {
    const auto r = render(
        "# Guide\n\nIntro.\n\n## Install\n\n### On Linux\n\n### On macOS\n\n## Use\n\n"
        "> ## Quoted heading\n\n- ### In a list\n\n###### Six\n");
    EXPECT_EQ(r.toc, (Toc{{1, "guide", "Guide"},
                          {2, "install", "Install"},
                          {3, "on-linux", "On Linux"},
                          {3, "on-macos", "On macOS"},
                          {2, "use", "Use"},
                          {2, "quoted-heading", "Quoted heading"},
                          {3, "in-a-list", "In a list"},
                          {6, "six", "Six"}}));
}

TEST_F(Markdown, HeadingIdsOptionOff) {
    options_.heading_ids = false;
    const auto r = render("# Hello *World* {#x}\n");
    EXPECT_EQ(r.html, "<h1>Hello <em>World</em> {#x}</h1>\n");
}

TEST_F(Markdown, SpecModeHasNoIdsXrefsOrDirectives) {
    options_.spec_mode = true;
    const auto r = render("# Hello {#x}\n\n[[docs/setup]] [[#x]]\n\n```{note} T\nbody\n```\n");
    EXPECT_EQ(r.html,
              "<h1>Hello {#x}</h1>\n"
              "<p>[[docs/setup]] [[#x]]</p>\n"
              "<pre><code class=\"language-{note}\">body\n</code></pre>\n");
    EXPECT_TRUE(r.toc.empty());
    EXPECT_TRUE(r.xrefs.empty());
    EXPECT_TRUE(r.warnings.empty());
}

// ---- cross-references -------------------------------------------------------------------------

TEST_F(Markdown, XrefToPageUsesTargetTitle) {
    const auto r = render("See [[docs/setup]].\n");
    EXPECT_EQ(r.html, "<p>See <a class=\"xref\" href=\"/docs/setup/\">Setup Guide</a>.</p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"docs/setup", "Setup Guide", "/docs/setup/", 1, true}}));
    EXPECT_TRUE(r.warnings.empty());
}

TEST_F(Markdown, XrefTitleIsEscaped) {
    const auto r = render("[[id:install]] and [[blog]]\n");
    EXPECT_EQ(r.html,
              "<p><a class=\"xref\" href=\"/docs/install/\">Installing &lt;Bengal&gt;</a> and "
              "<a class=\"xref\" href=\"/blog/\">Blog &amp; News</a></p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"id:install", "Installing <Bengal>", "/docs/install/", 1, true},
                              {"blog", "Blog & News", "/blog/", 1, true}}));
}

TEST_F(Markdown, XrefWithLabelKeepsLabelMarkup) {
    const auto r = render("[[docs/setup|the *setup* page]] and [[id:install|**bold** &amp; `code`]]\n");
    EXPECT_EQ(r.html,
              "<p><a class=\"xref\" href=\"/docs/setup/\">the <em>setup</em> page</a> and "
              "<a class=\"xref\" href=\"/docs/install/\"><strong>bold</strong> &amp; <code>code</code></a></p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"docs/setup", "the setup page", "/docs/setup/", 1, true},
                              {"id:install", "bold & code", "/docs/install/", 1, true}}));
}

// A label that happens to equal the target is still an explicit label and must be shown as
// written, not replaced by the target's title.
TEST_F(Markdown, XrefLabelEqualToTargetIsStillTheLabel) {
    const auto r = render("[[docs/setup|docs/setup]]\n");
    EXPECT_EQ(r.html, "<p><a class=\"xref\" href=\"/docs/setup/\">docs/setup</a></p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"docs/setup", "docs/setup", "/docs/setup/", 1, true}}));
}

TEST_F(Markdown, XrefWithAnchor) {
    const auto r = render("[[docs/setup#install]] [[docs/setup#First Steps]] [[docs/setup#]]\n");
    EXPECT_EQ(r.html,
              "<p><a class=\"xref\" href=\"/docs/setup/#install\">Setup Guide</a> "
              "<a class=\"xref\" href=\"/docs/setup/#first-steps\">Setup Guide</a> "
              "<a class=\"xref\" href=\"/docs/setup/\">Setup Guide</a></p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"docs/setup#install", "Setup Guide", "/docs/setup/#install", 1, true},
                              {"docs/setup#First Steps", "Setup Guide", "/docs/setup/#first-steps", 1, true},
                              {"docs/setup#", "Setup Guide", "/docs/setup/", 1, true}}));
}

TEST_F(Markdown, XrefPathIsNormalisedAndCaseFolded) {
    const auto r = render("[[./docs/setup.md]] [[Docs/Setup]] [[blog/_index.md]] [[_index.md|home]]\n");
    EXPECT_EQ(r.html,
              "<p><a class=\"xref\" href=\"/docs/setup/\">Setup Guide</a> "
              "<a class=\"xref\" href=\"/docs/setup/\">Setup Guide</a> "
              "<a class=\"xref\" href=\"/blog/\">Blog &amp; News</a> "
              "<a class=\"xref\" href=\"/\">home</a></p>\n");
    EXPECT_TRUE(r.warnings.empty());
}

TEST_F(Markdown, XrefSurroundingSpacesAreIgnored) {
    const auto r = render("[[ docs/setup ]]\n");
    EXPECT_EQ(r.html, "<p><a class=\"xref\" href=\"/docs/setup/\">Setup Guide</a></p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"docs/setup", "Setup Guide", "/docs/setup/", 1, true}}));
}

TEST_F(Markdown, SamePageAnchorResolvesForwardAndBackward) {
    const auto r = render("# Top\n\nGo to [[#Later Section]] or [[#top|the top]].\n\n## Later Section\n");
    EXPECT_EQ(r.html,
              "<h1 id=\"top\">Top</h1>\n"
              "<p>Go to <a class=\"xref\" href=\"#later-section\">Later Section</a> or "
              "<a class=\"xref\" href=\"#top\">the top</a>.</p>\n"
              "<h2 id=\"later-section\">Later Section</h2>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"#Later Section", "Later Section", "#later-section", 3, true},
                              {"#top", "the top", "#top", 3, true}}));
    EXPECT_TRUE(r.warnings.empty());
}

TEST_F(Markdown, SamePageAnchorMatchesDeduplicatedAndCustomIds) {
    const auto r = render("# A\n\n# A\n\n# B {#custom}\n\n[[#a-1]] [[#custom]]\n");
    EXPECT_TRUE(r.warnings.empty());
    ASSERT_EQ(r.xrefs.size(), 2u);
    EXPECT_TRUE(r.xrefs[0].resolved);
    EXPECT_TRUE(r.xrefs[1].resolved);
}

TEST_F(Markdown, MissingSamePageAnchorIsReportedUnresolved) {
    const auto r = render("# Top\n\nText\nand [[#nowhere]].\n");
    ASSERT_EQ(r.xrefs.size(), 1u);
    EXPECT_EQ(r.xrefs[0].target, "#nowhere");
    EXPECT_EQ(r.xrefs[0].line, 4);
    EXPECT_FALSE(r.xrefs[0].resolved);
    EXPECT_EQ(r.warnings,
              (std::vector<RenderWarning>{{4, "unresolved cross-reference [[#nowhere]]: no heading 'nowhere' on this page"}}));
}

// XrefRecord documents url as "empty when unresolved"; a same-page anchor found missing at the
// end of the page must follow the same rule as any other unresolved reference.
TEST_F(Markdown, MissingSamePageAnchorHasEmptyUrl) {
    const auto r = render("[[#nowhere]]\n");
    ASSERT_EQ(r.xrefs.size(), 1u);
    EXPECT_FALSE(r.xrefs[0].resolved);
    EXPECT_EQ(r.xrefs[0].url, "");
}

// The issue's rule for unresolved references ("renders as <span class=\"broken-ref\">") holds
// for a same-page anchor that names no heading, even though that is only known at the end of
// the page.
TEST_F(Markdown, MissingSamePageAnchorRendersBrokenRef) {
    const auto r = render("# Top\n\n[[#nowhere]] [[#top]]\n");
    EXPECT_EQ(r.html,
              "<h1 id=\"top\">Top</h1>\n"
              "<p><span class=\"broken-ref\" data-ref=\"#nowhere\">nowhere</span> "
              "<a class=\"xref\" href=\"#top\">top</a></p>\n");
}

// md4c recognises [[...]] only up to 100 characters of target; a real path plus a heading
// anchor easily exceeds that, and such a reference must not silently turn into plain text.
// md4c 0.4.8 only recognises [[...]] targets of up to 100 characters. A longer one stays text,
// and the renderer says so instead of dropping the reference silently.
TEST_F(Markdown, LongXrefTargetIsReportedNotSilentlyDropped) {
    const std::string path = "docs/reference/api/modules/subpackage/a-very-long-page-name";
    const std::string target = path + "#Some Heading Text With Many Words And More";
    ASSERT_GT(target.size(), 100u);
    index_.add(path, "/ref/long/", "Long Page");
    const auto r = render("Intro.\n\nSee [[" + target + "]].\n");
    EXPECT_EQ(r.html, "<p>Intro.</p>\n<p>See [[" + target + "]].</p>\n");
    EXPECT_TRUE(r.xrefs.empty());
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_EQ(r.warnings[0].line, 3);
    EXPECT_NE(r.warnings[0].message.find("limited to 100 characters"), std::string::npos);
}

TEST_F(Markdown, UnresolvedXrefRendersBrokenRefSpanAndWarns) {
    const auto r = render("Intro.\n\nBroken: [[missing/page]] and\n[[missing|a <b>label</b>]].\n");
    EXPECT_EQ(r.html,
              "<p>Intro.</p>\n"
              "<p>Broken: <span class=\"broken-ref\" data-ref=\"missing/page\">missing/page</span> and\n"
              "<span class=\"broken-ref\" data-ref=\"missing\">a <b>label</b></span>.</p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"missing/page", "missing/page", "", 3, false},
                              {"missing", "a label", "", 4, false}}));
    EXPECT_EQ(r.warnings, (std::vector<RenderWarning>{{3, "unresolved cross-reference [[missing/page]]"},
                                                      {4, "unresolved cross-reference [[missing]]"}}));
}

TEST_F(Markdown, UnresolvedTargetIsEscapedInAttribute) {
    const auto r = render("[[a\"b<c>&d]]\n");
    EXPECT_EQ(r.html,
              "<p><span class=\"broken-ref\" data-ref=\"a&quot;b&lt;c&gt;&amp;d\">a&quot;b&lt;c&gt;&amp;d</span></p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"a\"b<c>&d", "a\"b<c>&d", "", 1, false}}));
}

// A target containing an entity or a backslash escape is handed over by md4c as a decoded
// copy, not as a pointer into the source; its line must still be the line it is written on,
// and the text shown must be the decoded target, like data-ref.
TEST_F(Markdown, XrefWithEscapesKeepsItsLineAndDecodedText) {
    const auto r = render("First line\n[[caf&eacute;]]\n\nx\n\n[[a\\_b]]\n");
    EXPECT_EQ(r.html,
              "<p>First line\n<span class=\"broken-ref\" data-ref=\"café\">café</span></p>\n"
              "<p>x</p>\n"
              "<p><span class=\"broken-ref\" data-ref=\"a_b\">a_b</span></p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"café", "café", "", 2, false}, {"a_b", "a_b", "", 6, false}}));
    EXPECT_EQ(warning_lines(r), (std::vector<int>{2, 6}));
}

TEST_F(Markdown, XrefLineNumbersAcrossBlocks) {
    const auto r = render(
        "| h |\n|---|\n| [[t/one]] |\n| x [[t/two]] |\n\n- a\n  - b [[t/three]]\n\n> quote\n> [[t/four]]\n\n"
        "  # H [[t/five]]\n");
    std::vector<int> lines;
    for (const auto& x : r.xrefs) lines.push_back(x.line);
    EXPECT_EQ(lines, (std::vector<int>{3, 4, 7, 10, 12}));
    EXPECT_EQ(warning_lines(r), (std::vector<int>{3, 4, 7, 10, 12}));
}

// CommonMark ends lines at "\n", "\r\n" or a lone "\r"; line numbers must count all three, as
// md4c does when it splits the document.
TEST_F(Markdown, LineNumbersWithCrAndCrlfLineEndings) {
    const auto crlf = render("a\r\n\r\n[[x]]\r\n");
    ASSERT_EQ(crlf.xrefs.size(), 1u);
    EXPECT_EQ(crlf.xrefs[0].line, 3);
    const auto cr = render("a\r\r[[x]]\r");
    ASSERT_EQ(cr.xrefs.size(), 1u);
    EXPECT_EQ(cr.xrefs[0].line, 3);
}

TEST_F(Markdown, XrefsInCodeAreLeftAlone) {
    const auto r = render("`[[not/a/link]]`\n\n```\n[[also/not]]\n```\n\n    [[indented/code]]\n\n~~~md\n[[x]]\n~~~\n");
    EXPECT_EQ(r.html,
              "<p><code>[[not/a/link]]</code></p>\n"
              "<pre><code>[[also/not]]\n</code></pre>\n"
              "<pre><code>[[indented/code]]\n</code></pre>\n"
              "<pre><code class=\"language-md\">[[x]]\n</code></pre>\n");
    EXPECT_TRUE(r.xrefs.empty());
    EXPECT_TRUE(r.warnings.empty());
}

TEST_F(Markdown, XrefInsideEmphasisAndListItems) {
    const auto r = render("- *[[docs/setup]]*\n- **[[blog|the blog]]**\n");
    EXPECT_EQ(r.html,
              "<ul>\n"
              "<li><em><a class=\"xref\" href=\"/docs/setup/\">Setup Guide</a></em></li>\n"
              "<li><strong><a class=\"xref\" href=\"/blog/\">the blog</a></strong></li>\n"
              "</ul>\n");
}

TEST_F(Markdown, WithoutIndexEveryPageXrefIsUnresolvedButAnchorsWork) {
    const auto r = render_markdown("# A\n\n[[docs/setup]] [[#a]]\n", options_, nullptr);
    EXPECT_EQ(r.html,
              "<h1 id=\"a\">A</h1>\n"
              "<p><span class=\"broken-ref\" data-ref=\"docs/setup\">docs/setup</span> "
              "<a class=\"xref\" href=\"#a\">a</a></p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"docs/setup", "docs/setup", "", 3, false}, {"#a", "a", "#a", 3, true}}));
}

TEST_F(Markdown, XrefsOptionOffLeavesBracketsAsText) {
    options_.xrefs = false;
    const auto r = render("[[docs/setup]]\n");
    EXPECT_EQ(r.html, "<p>[[docs/setup]]</p>\n");
    EXPECT_TRUE(r.xrefs.empty());
}

// ---- directives -------------------------------------------------------------------------------

TEST_F(Markdown, EveryAdmonitionKindWithDefaultTitle) {
    struct Kind {
        const char* name;
        const char* title;
    };
    for (const Kind k : {Kind{"note", "Note"}, Kind{"tip", "Tip"}, Kind{"warning", "Warning"},
                         Kind{"danger", "Danger"}, Kind{"seealso", "See also"}, Kind{"important", "Important"},
                         Kind{"caution", "Caution"}}) {
        SCOPED_TRACE(k.name);
        const auto r = render(std::string("```{") + k.name + "}\nBody with *emph*.\n```\n");
        EXPECT_EQ(r.html, std::string("<div class=\"admonition ") + k.name +
                              "\">\n<p class=\"admonition-title\">" + k.title +
                              "</p>\n<p>Body with <em>emph</em>.</p>\n</div>\n");
        EXPECT_TRUE(r.warnings.empty());
    }
}

TEST_F(Markdown, KnownDirectivesListMatchesRenderer) {
    EXPECT_EQ(known_directives(),
              (std::vector<std::string>{"note", "tip", "important", "warning", "caution", "danger", "seealso"}));
}

TEST_F(Markdown, AdmonitionWithTitleIsEscaped) {
    const auto r = render("Intro.\n\n```{warning} Be careful & <quick> \"now\"\nText.\n```\n");
    EXPECT_EQ(r.html,
              "<p>Intro.</p>\n"
              "<div class=\"admonition warning\">\n"
              "<p class=\"admonition-title\">Be careful &amp; &lt;quick&gt; &quot;now&quot;</p>\n"
              "<p>Text.</p>\n"
              "</div>\n");
}

TEST_F(Markdown, AdmonitionWithTildeFenceAndEmptyBody) {
    EXPECT_EQ(html("~~~{tip}\n~~~\n"),
              "<div class=\"admonition tip\">\n<p class=\"admonition-title\">Tip</p>\n</div>\n");
}

TEST_F(Markdown, AdmonitionBodyIsFullMarkdown) {
    const auto r = render(
        "`````{tip} Try it\n"
        "1. First\n"
        "2. Second\n"
        "\n"
        "~~~js\n"
        "let a = \"<b>\" && 1;\n"
        "```nested backticks```\n"
        "~~~\n"
        "\n"
        "````{warning}\n"
        "Inner with [[docs/setup]].\n"
        "````\n"
        "`````\n"
        "After.\n");
    EXPECT_EQ(r.html,
              "<div class=\"admonition tip\">\n"
              "<p class=\"admonition-title\">Try it</p>\n"
              "<ol>\n"
              "<li>First</li>\n"
              "<li>Second</li>\n"
              "</ol>\n"
              "<pre><code class=\"language-js\">let a = &quot;&lt;b&gt;&quot; &amp;&amp; 1;\n"
              "```nested backticks```\n"
              "</code></pre>\n"
              "<div class=\"admonition warning\">\n"
              "<p class=\"admonition-title\">Warning</p>\n"
              "<p>Inner with <a class=\"xref\" href=\"/docs/setup/\">Setup Guide</a>.</p>\n"
              "</div>\n"
              "</div>\n"
              "<p>After.</p>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"docs/setup", "Setup Guide", "/docs/setup/", 11, true}}));
}

TEST_F(Markdown, HeadingsInsideAdmonitionsShareThePageRegistryAndToc) {
    const auto r = render("```{tip}\n## Setup\n```\n## Setup\n");
    EXPECT_EQ(r.html,
              "<div class=\"admonition tip\">\n<p class=\"admonition-title\">Tip</p>\n"
              "<h2 id=\"setup\">Setup</h2>\n</div>\n"
              "<h2 id=\"setup-1\">Setup</h2>\n");
    EXPECT_EQ(r.toc, (Toc{{2, "setup", "Setup"}, {2, "setup-1", "Setup"}}));
}

TEST_F(Markdown, AdmonitionInBlockquoteAndListItem) {
    const auto r = render("> ```{note}\n> first\n>\n> [[bad/one]]\n> ```\n\n- item\n\n  ```{tip}\n  a\n\n  b [[bad/two]]\n  ```\n");
    EXPECT_EQ(r.html,
              "<blockquote>\n"
              "<div class=\"admonition note\">\n<p class=\"admonition-title\">Note</p>\n"
              "<p>first</p>\n"
              "<p><span class=\"broken-ref\" data-ref=\"bad/one\">bad/one</span></p>\n"
              "</div>\n"
              "</blockquote>\n"
              "<ul>\n<li>\n<p>item</p>\n"
              "<div class=\"admonition tip\">\n<p class=\"admonition-title\">Tip</p>\n"
              "<p>a</p>\n"
              "<p>b <span class=\"broken-ref\" data-ref=\"bad/two\">bad/two</span></p>\n"
              "</div>\n"
              "</li>\n</ul>\n");
    EXPECT_EQ(warning_lines(r), (std::vector<int>{4, 12}));
}

TEST_F(Markdown, AdmonitionClassAndNameOptions) {
    const auto r = render("````{danger}\n:class: big \"red\"\n:name: the-danger\nContent here.\n````\n");
    EXPECT_EQ(r.html,
              "<div class=\"admonition danger big &quot;red&quot;\" id=\"the-danger\">\n"
              "<p class=\"admonition-title\">Danger</p>\n"
              "<p>Content here.</p>\n"
              "</div>\n");
    EXPECT_TRUE(r.warnings.empty());
}

TEST_F(Markdown, AdmonitionUnknownOptionWarnsWithItsLine) {
    const auto r = render("Para.\n\n```{note}\n:class: x\n:bogus: 1\nBody [[nope]]\n```\n");
    EXPECT_EQ(r.html,
              "<p>Para.</p>\n<div class=\"admonition note x\">\n<p class=\"admonition-title\">Note</p>\n"
              "<p>Body <span class=\"broken-ref\" data-ref=\"nope\">nope</span></p>\n</div>\n");
    EXPECT_EQ(r.warnings,
              (std::vector<RenderWarning>{
                  {5, "unknown option ':bogus:' for directive '{note}' (known options: class, name)"},
                  {6, "unresolved cross-reference [[nope]]"}}));
}

TEST_F(Markdown, AdmonitionNameCollidingWithHeadingWarns) {
    const auto r = render("# Intro\n\n```{note}\n:name: intro\nx\n```\n");
    EXPECT_EQ(r.warnings, (std::vector<RenderWarning>{{4, "duplicate id 'intro' in page"}}));
}

TEST_F(Markdown, UnknownDirectiveBecomesCodeBlockAndWarns) {
    const auto r = render("Text.\n\n```{foo} Title\nraw <b>body</b> [[x]]\n```\n");
    EXPECT_EQ(r.html, "<p>Text.</p>\n<pre><code>raw &lt;b&gt;body&lt;/b&gt; [[x]]\n</code></pre>\n");
    EXPECT_EQ(r.warnings,
              (std::vector<RenderWarning>{
                  {3, "unknown directive '{foo}'; rendered as a code block (known directives: " + kKnown + ")"}}));
    EXPECT_TRUE(r.xrefs.empty());
}

// The warning names the fence's line even when the body has no text to take a line from.
TEST_F(Markdown, UnknownDirectiveWithEmptyBodyWarnsAtFenceLine) {
    const auto r = render("# Title\n\nSome text here.\n\n```{nope}\n```\n");
    EXPECT_EQ(r.html, "<h1 id=\"title\">Title</h1>\n<p>Some text here.</p>\n<pre><code></code></pre>\n");
    EXPECT_EQ(warning_lines(r), (std::vector<int>{5}));
}

// Blank lines at the start of the body must not shift the reported fence line.
TEST_F(Markdown, UnknownDirectiveWithLeadingBlankLinesWarnsAtFenceLine) {
    const auto r = render("para\n\n```{nope}\n\n\nx\n```\n");
    EXPECT_EQ(r.html, "<p>para</p>\n<pre><code>\n\nx\n</code></pre>\n");
    EXPECT_EQ(warning_lines(r), (std::vector<int>{3}));
}

// Line numbers inside a directive body map back to the outer document, also when the body
// starts with blank lines.
TEST_F(Markdown, WarningLinesInsideAdmonitionWithLeadingBlankLines) {
    const auto r = render("```{note}\n\n\nfirst [[zz]]\n```\n");
    EXPECT_EQ(r.html,
              "<div class=\"admonition note\">\n<p class=\"admonition-title\">Note</p>\n"
              "<p>first <span class=\"broken-ref\" data-ref=\"zz\">zz</span></p>\n</div>\n");
    EXPECT_EQ(r.xrefs, (Xrefs{{"zz", "zz", "", 4, false}}));
    EXPECT_EQ(warning_lines(r), (std::vector<int>{4}));
}

TEST_F(Markdown, WarningLinesInsideNestedAdmonitions) {
    const auto r = render(
        "Line one.\n"            // 1
        "\n"                     // 2
        "`````{note}\n"          // 3
        "Outer [[a]].\n"         // 4
        "\n"                     // 5
        "````{tip}\n"            // 6
        ":class: c\n"            // 7
        "Inner\n"                // 8
        "text [[b]].\n"          // 9
        "```{bogus}\n"           // 10
        "code\n"                 // 11
        "```\n"                  // 12
        "````\n"                 // 13
        "`````\n"                // 14
        "[[c]]\n");              // 15
    EXPECT_EQ(r.xrefs, (Xrefs{{"a", "a", "", 4, false}, {"b", "b", "", 9, false}, {"c", "c", "", 15, false}}));
    EXPECT_EQ(warning_lines(r), (std::vector<int>{4, 9, 10, 15}));
}

TEST_F(Markdown, DirectiveDepthLimit) {
    options_.max_directive_depth = 2;
    const auto r = render(
        "``````{note}\n"   // 1
        "`````{tip}\n"     // 2
        "````{warning}\n"  // 3
        "deep\n"           // 4
        "````\n"           // 5
        "`````\n"          // 6
        "``````\n");       // 7
    EXPECT_EQ(r.html,
              "<div class=\"admonition note\">\n<p class=\"admonition-title\">Note</p>\n"
              "<div class=\"admonition tip\">\n<p class=\"admonition-title\">Tip</p>\n"
              "<pre><code>deep\n</code></pre>\n"
              "</div>\n</div>\n");
    EXPECT_EQ(r.warnings,
              (std::vector<RenderWarning>{
                  {3, "directive '{warning}' nested deeper than 2 levels; rendered as a code block"}}));
}

TEST_F(Markdown, DirectivesOptionOffRendersCode) {
    options_.directives = false;
    const auto r = render("```{note} T\nbody\n```\n");
    EXPECT_EQ(r.html, "<pre><code class=\"language-{note}\">body\n</code></pre>\n");
    EXPECT_TRUE(r.warnings.empty());
}

TEST_F(Markdown, NotADirective) {
    // Braces that do not form "{name}" leave the fence an ordinary code block.
    EXPECT_EQ(html("```{not a directive}\nx\n```\n"), "<pre><code class=\"language-{not\">x\n</code></pre>\n");
    EXPECT_EQ(html("```{}\nx\n```\n"), "<pre><code class=\"language-{}\">x\n</code></pre>\n");
    // Indented code blocks are never directives.
    EXPECT_EQ(html("    {note}\n"), "<pre><code>{note}\n</code></pre>\n");
}

// ---- code, escaping, links --------------------------------------------------------------------

TEST_F(Markdown, FencedCodeLanguageClassAndEscaping) {
    EXPECT_EQ(html("```python\nif a < b and c > d: print(\"&\")\n```\n"),
              "<pre><code class=\"language-python\">if a &lt; b and c &gt; d: print(&quot;&amp;&quot;)\n"
              "</code></pre>\n");
    // Only the first word of the info string is the language; it is attribute-escaped.
    EXPECT_EQ(html("```a&b\"c more words\nx\n```\n"), "<pre><code class=\"language-a&amp;b&quot;c\">x\n</code></pre>\n");
    EXPECT_EQ(html("```\n<tag>\n```\n"), "<pre><code>&lt;tag&gt;\n</code></pre>\n");
    // Entities in the info string are decoded, then escaped again for the attribute.
    EXPECT_EQ(html("```c&#43;&#43;\nx\n```\n"), "<pre><code class=\"language-c++\">x\n</code></pre>\n");
}

TEST_F(Markdown, InlineEscaping) {
    EXPECT_EQ(html("a < b & c > \"d\" `<code> & \"x\"`\n"),
              "<p>a &lt; b &amp; c &gt; &quot;d&quot; <code>&lt;code&gt; &amp; &quot;x&quot;</code></p>\n");
    EXPECT_EQ(html("&copy; &#169; &#xA9; &bogus; &amp;lt;\n"), "<p>© © © &amp;bogus; &amp;lt;</p>\n");
}

TEST_F(Markdown, LinkAttributesAreEscaped) {
    EXPECT_EQ(html("[q](http://a.b/c?d=\"e\"&f='g' \"T <&> \\\"\")\n"),
              "<p><a href=\"http://a.b/c?d=%22e%22&amp;f=&#x27;g&#x27;\" title=\"T &lt;&amp;&gt; &quot;\">q</a></p>\n");
    EXPECT_EQ(html("[sp](<a b.html>) [u](/ü)\n"),
              "<p><a href=\"a%20b.html\">sp</a> <a href=\"/%C3%BC\">u</a></p>\n");
}

TEST_F(Markdown, Autolinks) {
    EXPECT_EQ(html("www.example.com and https://x.org/a?b=1&c=2 and <mailto:a@b.c>\n"),
              "<p><a href=\"http://www.example.com\">www.example.com</a> and "
              "<a href=\"https://x.org/a?b=1&amp;c=2\">https://x.org/a?b=1&amp;c=2</a> and "
              "<a href=\"mailto:a@b.c\">mailto:a@b.c</a></p>\n");
    options_.autolinks = false;
    EXPECT_EQ(html("www.example.com\n"), "<p>www.example.com</p>\n");
}

// ---- images -----------------------------------------------------------------------------------

TEST_F(Markdown, ImagesCollectedInOrderWithPlainAlt) {
    const auto r = render(
        "![Alt *with* `code` & <stuff>](img/a.png \"T\") and ![second](http://e.com/b%20c.jpg)\n\n"
        "![x](a&amp;b.png) ![ref][r]\n\n"
        "[r]: /img/r.png\n");
    EXPECT_EQ(r.html,
              "<p><img src=\"img/a.png\" alt=\"Alt with code &amp; &lt;stuff&gt;\" title=\"T\" /> and "
              "<img src=\"http://e.com/b%20c.jpg\" alt=\"second\" /></p>\n"
              "<p><img src=\"a&amp;b.png\" alt=\"x\" /> <img src=\"/img/r.png\" alt=\"ref\" /></p>\n");
    EXPECT_EQ(r.images, (std::vector<std::string>{"img/a.png", "http://e.com/b%20c.jpg", "a&b.png", "/img/r.png"}));
}

TEST_F(Markdown, ImagesInsideDirectivesAndLinksAreCollected) {
    const auto r = render("![one](1.png)\n\n```{note}\n![two](2.png)\n```\n\n[![three](3.png)](page.html)\n");
    EXPECT_EQ(r.images, (std::vector<std::string>{"1.png", "2.png", "3.png"}));
}

TEST_F(Markdown, NestedImageAltIsFlattened) {
    const auto r = render("![outer ![inner](in.png) **b**](out.png)\n");
    EXPECT_EQ(r.html, "<p><img src=\"out.png\" alt=\"outer inner b\" /></p>\n");
}

// ---- raw HTML ---------------------------------------------------------------------------------

TEST_F(Markdown, RawHtmlPassesThroughByDefault) {
    EXPECT_EQ(html("<div class=\"x\">raw</div>\n\nInline <span>html</span>.\n"),
              "<div class=\"x\">raw</div>\n<p>Inline <span>html</span>.</p>\n");
}

TEST_F(Markdown, UnsafeHtmlOffEscapesRawHtml) {
    options_.unsafe_html = false;
    EXPECT_EQ(html("<div class=\"x\">raw</div>\n\nInline <span>html</span> <!-- c -->.\n"),
              "<p>&lt;div class=&quot;x&quot;&gt;raw&lt;/div&gt;</p>\n"
              "<p>Inline &lt;span&gt;html&lt;/span&gt; &lt;!-- c --&gt;.</p>\n");
    // Autolinks are not raw HTML and keep working.
    EXPECT_EQ(html("<https://a.b>\n"), "<p><a href=\"https://a.b\">https://a.b</a></p>\n");
}

TEST_F(Markdown, TagFilterEscapesDisallowedTagsOnly) {
    options_.tagfilter = true;
    EXPECT_EQ(html("<strong> <title> <style> <em>\n\n<script>\nx\n</script>\n\n<IFRAME src=x></iframe> <textareax>\n"),
              "<p><strong> &lt;title> &lt;style> <em></p>\n"
              "&lt;script>\nx\n&lt;/script>\n"
              "&lt;IFRAME src=x>&lt;/iframe> <textareax>\n");
}

// ---- GFM extensions ---------------------------------------------------------------------------

TEST_F(Markdown, TablesWithAlignment) {
    EXPECT_EQ(html("| a | b | c |\n|:--|:-:|--:|\n| `x\\|y` | ~~del~~ | *e* |\n"),
              "<table>\n<thead>\n<tr>\n"
              "<th align=\"left\">a</th>\n<th align=\"center\">b</th>\n<th align=\"right\">c</th>\n"
              "</tr>\n</thead>\n<tbody>\n<tr>\n"
              "<td align=\"left\"><code>x|y</code></td>\n<td align=\"center\"><del>del</del></td>\n"
              "<td align=\"right\"><em>e</em></td>\n"
              "</tr>\n</tbody>\n</table>\n");
}

TEST_F(Markdown, StrikethroughAndTaskLists) {
    EXPECT_EQ(html("~~gone~~ ~kept~\n\n- [ ] todo\n- [x] done\n"),
              "<p><del>gone</del> <del>kept</del></p>\n"
              "<ul>\n"
              "<li><input disabled=\"\" type=\"checkbox\"> todo</li>\n"
              "<li><input checked=\"\" disabled=\"\" type=\"checkbox\"> done</li>\n"
              "</ul>\n");
}

TEST_F(Markdown, ExtensionsCanBeTurnedOff) {
    options_.tables = false;
    options_.strikethrough = false;
    options_.tasklists = false;
    EXPECT_EQ(html("| a |\n|---|\n| b |\n\n~~x~~\n\n- [ ] t\n"),
              "<p>| a |\n|---|\n| b |</p>\n<p>~~x~~</p>\n<ul>\n<li>[ ] t</li>\n</ul>\n");
}

// ---- UTF-8 and NUL ----------------------------------------------------------------------------

TEST_F(Markdown, InvalidUtf8IsReplacedAndReported) {
    const auto r = render("ok \xFF\xFE bad\n\n# T\xC3\n");
    EXPECT_EQ(r.html, "<p>ok \xEF\xBF\xBD\xEF\xBF\xBD bad</p>\n<h1 id=\"t\">T\xEF\xBF\xBD</h1>\n");
    EXPECT_EQ(r.warnings,
              (std::vector<RenderWarning>{
                  {0, "invalid UTF-8 at byte offset 3; bad bytes were replaced with U+FFFD"}}));
}

TEST_F(Markdown, NulBecomesReplacementCharacterEverywhere) {
    const std::string src = "a\0b\n\n# N\0x\n\n`c\0d`\n\n```\nx\0y\n```\n"s;
    const auto r = render(src);
    EXPECT_EQ(r.html.find('\0'), std::string::npos) << r.html;
    EXPECT_EQ(r.html,
              "<p>a\xEF\xBF\xBD"
              "b</p>\n"
              "<h1 id=\"nx\">N\xEF\xBF\xBD"
              "x</h1>\n"
              "<p><code>c\xEF\xBF\xBD"
              "d</code></p>\n"
              "<pre><code>x\xEF\xBF\xBD"
              "y\n</code></pre>\n");
}

// ---- batch ------------------------------------------------------------------------------------

void expect_same(const RenderResult& a, const RenderResult& b) {
    EXPECT_EQ(a.html, b.html);
    EXPECT_EQ(a.toc, b.toc);
    EXPECT_EQ(a.xrefs, b.xrefs);
    EXPECT_EQ(a.images, b.images);
    EXPECT_EQ(a.warnings, b.warnings);
    EXPECT_EQ(a.words, b.words);
}

TEST_F(Markdown, BatchMatchesSequential) {
    std::vector<std::string> docs = {
        "",
        "# Intro\n\n## Intro\n\nSee [[docs/setup#First Steps]] and [[missing]].\n",
        "```{note} Title\n- a\n- b [[id:install]]\n\n```{bogus}\nx\n```\n",
        "| a | b |\n|---|---|\n| ![i](x.png) | ~~s~~ |\n\n- [x] t\n",
        "bad \xFF utf8 [[#nowhere]]\n",
        "nul \0 here\n"s,
        "<script>x</script>\n\n# H {#h}\n\n[[#h]]\n",
        "> > > deep\n> > > quote [[blog]]\n",
    };
    // Plenty of items so that TBB actually splits the range across threads.
    const std::size_t base = docs.size();
    for (int i = 0; i < 200; ++i) {
        docs.push_back(docs[i % base] + "\n## Page " + std::to_string(i) + "\n\n[[page/" + std::to_string(i) + "]]\n");
    }
    for (const bool safe : {false, true}) {
        options_.unsafe_html = !safe;
        const auto batch = render_markdown_batch(docs, options_, &index_);
        ASSERT_EQ(batch.size(), docs.size());
        for (std::size_t i = 0; i < docs.size(); ++i) {
            SCOPED_TRACE("document " + std::to_string(i));
            expect_same(batch[i], render(docs[i]));
        }
    }
}

TEST_F(Markdown, BatchOfNothing) {
    EXPECT_TRUE(render_markdown_batch({}, options_, &index_).empty());
}

}  // namespace
}  // namespace bengal
