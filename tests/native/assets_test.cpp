// extract_assets: every source element and attribute, the tokenizer rules that decide what is
// markup (quoting, case, comments, raw-text elements, script escapes, CDATA), character
// references, URL clean-up and exclusion, CSS url()/@import, srcset, and robustness (every prefix
// of a page, random bytes, mutated pages). Under ASan, the robustness tests also prove that the
// scanner never reads outside its input: each input lives in a heap block of exactly its size.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "bengal_native/assets.hpp"
#include "bengal_native/utf8.hpp"

namespace bengal {

void PrintTo(const AssetRef& r, std::ostream* os) {
    *os << "{\"" << r.url << "\", " << r.tag << "[" << r.attr << "]"
        << (r.is_external ? ", external" : "") << "}";
}

namespace {

// Copies `s` into a heap block of exactly s.size() bytes, so ASan flags any read past the end
// (a std::string would have a NUL terminator and spare capacity there).
std::vector<AssetRef> extract_exact(std::string_view s) {
    std::unique_ptr<char[]> buf(new char[s.size() == 0 ? 1 : s.size()]);
    if (!s.empty()) std::memcpy(buf.get(), s.data(), s.size());
    return extract_assets(std::string_view(buf.get(), s.size()));
}

std::vector<std::string> urls(std::string_view html) {
    std::vector<std::string> out;
    for (AssetRef& r : extract_exact(html)) out.push_back(std::move(r.url));
    return out;
}

using V = std::vector<std::string>;

AssetRef ref(std::string url, std::string tag, std::string attr, bool external = false) {
    return AssetRef{std::move(url), std::move(tag), std::move(attr), external};
}

// ---- sources ------------------------------------------------------------------------------------

TEST(ExtractAssets, EverySourceElementAndAttribute) {
    const std::string html =
        "<img src=\"/i/a.png\" srcset=\"/i/a1.png 1x, /i/a2.png 2x\">"
        "<picture><source src=\"/i/s.webp\" srcset=\"/i/s1.webp 480w, /i/s2.webp 800w\"></picture>"
        "<script src=\"/js/app.js\"></script>"
        "<link rel=\"stylesheet\" href=\"/css/site.css\">"
        "<link rel=\"preload\" as=\"image\" href=\"/i/hero.png\" imagesrcset=\"/i/hero2.png 2x\">"
        "<video src=\"/v/clip.mp4\" poster=\"/v/poster.jpg\"><track src=\"/v/subs.vtt\"></video>"
        "<audio src=\"/a/song.ogg\"></audio>"
        "<iframe src=\"/embed/map.html\"></iframe>"
        "<embed src=\"/e/flash.swf\">"
        "<object data=\"/o/doc.pdf\"></object>"
        "<input type=\"image\" src=\"/i/button.png\">"
        "<div style=\"background: url(/i/bg.png)\"></div>"
        "<style>body { background-image: url('/i/body.png') } @import \"/css/more.css\";</style>";
    const std::vector<AssetRef> expected = {
        ref("/i/a.png", "img", "src"),
        ref("/i/a1.png", "img", "srcset"),
        ref("/i/a2.png", "img", "srcset"),
        ref("/i/s.webp", "source", "src"),
        ref("/i/s1.webp", "source", "srcset"),
        ref("/i/s2.webp", "source", "srcset"),
        ref("/js/app.js", "script", "src"),
        ref("/css/site.css", "link", "href"),
        ref("/i/hero.png", "link", "href"),
        ref("/i/hero2.png", "link", "imagesrcset"),
        ref("/v/clip.mp4", "video", "src"),
        ref("/v/poster.jpg", "video", "poster"),
        ref("/v/subs.vtt", "track", "src"),
        ref("/a/song.ogg", "audio", "src"),
        ref("/embed/map.html", "iframe", "src"),
        ref("/e/flash.swf", "embed", "src"),
        ref("/o/doc.pdf", "object", "data"),
        ref("/i/button.png", "input", "src"),
        ref("/i/bg.png", "div", "style"),
        ref("/i/body.png", "style", ""),
        ref("/css/more.css", "style", ""),
    };
    EXPECT_EQ(extract_exact(html), expected);
}

TEST(ExtractAssets, AttributesThatAreNotSourcesOfTheirElement) {
    // href on <a> is navigation, not an asset; poster on <audio> and data on <img> mean nothing.
    EXPECT_EQ(urls("<a href=\"/page/\">x</a><audio poster=\"/p.png\"></audio>"
                   "<img data=\"/d.png\"><div src=\"/s.png\"></div><img href=\"/h.png\">"),
              V{});
}

TEST(ExtractAssets, InputOnlyWhenTypeIsImage) {
    EXPECT_EQ(urls("<input src=\"/a.png\">"), V{});
    EXPECT_EQ(urls("<input type=text src=\"/a.png\">"), V{});
    EXPECT_EQ(urls("<input type=\" image\" src=\"/a.png\">"), V{});  // not trimmed by the standard
    EXPECT_EQ(urls("<input src=\"/b.png\" TYPE=ImAgE>"), V{"/b.png"});  // type may come after
    EXPECT_EQ(urls("<input type=\"&#105;mage\" src=\"/c.png\">"), V{"/c.png"});
    EXPECT_EQ(urls("<input type=image type=text src=/d.png>"), V{"/d.png"});  // first type wins
}

TEST(ExtractAssets, ImageIsParsedAsImg) {
    EXPECT_EQ(extract_exact("<image src=\"/a.png\">"), std::vector<AssetRef>{ref("/a.png", "img", "src")});
}

TEST(ExtractAssets, AttributeOrderIsDocumentOrder) {
    EXPECT_EQ(urls("<img srcset=\"/b.png 2x\" src=\"/a.png\" style=\"background:url(/c.png)\">"),
              (V{"/b.png", "/a.png", "/c.png"}));
    EXPECT_EQ(urls("<video poster=/p.png src=/v.mp4>"), (V{"/p.png", "/v.mp4"}));
}

// ---- tokenizer: case, quoting, whitespace ---------------------------------------------------

TEST(ExtractAssets, TagAndAttributeNamesAreCaseInsensitive) {
    EXPECT_EQ(extract_exact("<IMG SRC=\"/a.png\"><LiNk HrEf='/b.css'><Script SRC=/c.js></SCRIPT>"),
              (std::vector<AssetRef>{ref("/a.png", "img", "src"), ref("/b.css", "link", "href"),
                                     ref("/c.js", "script", "src")}));
}

TEST(ExtractAssets, QuotingStyles) {
    EXPECT_EQ(urls("<img src=\"/d q.png\"><img src='/s\"q.png'><img src=/unquoted.png>"),
              (V{"/d q.png", "/s\"q.png", "/unquoted.png"}));
    // '>' inside quotes does not end the tag; quotes inside unquoted values are literal.
    EXPECT_EQ(urls("<img alt=\"a > b\" src=\"/gt.png\"><img src=/it's.png>"),
              (V{"/gt.png", "/it's.png"}));
    // An unquoted value runs to whitespace or '>', so "/x.png/" keeps its slash.
    EXPECT_EQ(urls("<img src=/x.png/>"), V{"/x.png/"});
    EXPECT_EQ(urls("<img src=\"/y.png\"/>"), V{"/y.png"});
}

TEST(ExtractAssets, WhitespaceAndNewlinesAnywhereLegal) {
    EXPECT_EQ(urls("<img\n\tsrc\n=\n\"/a.png\"\n>"), V{"/a.png"});
    EXPECT_EQ(urls("<img\r\nsrc = '/b.png' >"), V{"/b.png"});
    EXPECT_EQ(urls("<img\fsrc=/c.png>"), V{"/c.png"});
    // No whitespace between attributes after a quoted value, and '/' separating attributes.
    EXPECT_EQ(urls("<img alt=\"x\"src=\"/d.png\">"), V{"/d.png"});
    EXPECT_EQ(urls("<img/src=/e.png>"), V{"/e.png"});
    // "< img" is text, not a tag.
    EXPECT_EQ(urls("< img src=/f.png>"), V{});
}

TEST(ExtractAssets, UnfinishedTagSwallowsTheRest) {
    // EOF inside a tag emits nothing, and an unclosed quote runs to EOF, so the later "tag" is
    // part of the attribute value.
    EXPECT_EQ(urls("<img src=/a.png alt=\"x <img src=/b.png>"), V{});
    EXPECT_EQ(urls("<img src=/c.png"), V{});
    EXPECT_EQ(urls("<img src=/d.png "), V{});
    EXPECT_EQ(urls("<img src=/e.png>"), V{"/e.png"});
}

TEST(ExtractAssets, FirstOfDuplicateAttributesWins) {
    EXPECT_EQ(urls("<img src=\"/first.png\" SRC=\"/second.png\">"), V{"/first.png"});
}

TEST(ExtractAssets, AttributeWithoutValueOrEmptyValue) {
    EXPECT_EQ(urls("<img src>"), V{});
    EXPECT_EQ(urls("<img src=>"), V{});
    EXPECT_EQ(urls("<img src=\"\" srcset=''>"), V{});
    // "<img src= alt=x>": the unquoted value of src is "alt=x".
    EXPECT_EQ(urls("<img src= alt=x>"), V{"alt=x"});
}

TEST(ExtractAssets, AttributeNameMayStartWithEquals) {
    // "=src" is an attribute name, so this is not a src attribute.
    EXPECT_EQ(urls("<img =src=/a.png>"), V{});
}

TEST(ExtractAssets, TagsInsideOtherTagsAreAttributes) {
    EXPECT_EQ(urls("<a <img src=/a.png>"), V{});
}

// ---- character references -------------------------------------------------------------------

TEST(ExtractAssets, CharacterReferencesInValues) {
    EXPECT_EQ(urls("<img src=\"/a.png?x=1&amp;y=2\">"), V{"/a.png?x=1&y=2"});
    EXPECT_EQ(urls("<img src=\"/&#98;&#x2E;png\">"), V{"/b.png"});
    EXPECT_EQ(urls("<img src=/&#X63;.png>"), V{"/c.png"});
    EXPECT_EQ(urls("<img src='/caf&eacute;.png'>"), V{"/caf\xC3\xA9.png"});
    // Numeric references without ';' are still references.
    EXPECT_EQ(urls("<img src=\"/&#100.png\">"), V{"/d.png"});
}

TEST(DecodeHtmlAttribute, FollowsTheStandard) {
    auto dec = [](std::string_view s) {
        std::string out;
        decode_html_attribute(s, out);
        return out;
    };
    EXPECT_EQ(dec("a&amp;b"), "a&b");
    EXPECT_EQ(dec("&lt;&gt;&quot;&apos;"), "<>\"'");
    // Legacy names work without ';' at the end or before a non-alphanumeric other than '='...
    EXPECT_EQ(dec("x&amp"), "x&");
    EXPECT_EQ(dec("&copy 2024"), "\xC2\xA9 2024");
    // ...but not before '=' or an alphanumeric (query strings like ?a=1&copy=2 survive).
    EXPECT_EQ(dec("?a=1&copy=2"), "?a=1&copy=2");
    EXPECT_EQ(dec("?a=1&notx=2"), "?a=1&notx=2");
    EXPECT_EQ(dec("&ampx"), "&ampx");
    // With ';' the longest full name wins; an unknown name is kept as written.
    EXPECT_EQ(dec("&notin;"), "\xE2\x88\x89");
    EXPECT_EQ(dec("&notit;"), "&notit;");
    EXPECT_EQ(dec("&nosuch;"), "&nosuch;");
    EXPECT_EQ(dec("&;"), "&;");
    EXPECT_EQ(dec("&"), "&");
    // Names without ';' that are not legacy names are not references.
    EXPECT_EQ(dec("&hellip x"), "&hellip x");
    // Numeric: C1 controls remap to Windows-1252; 0, surrogates and > U+10FFFF become U+FFFD.
    EXPECT_EQ(dec("&#128;"), "\xE2\x82\xAC");
    EXPECT_EQ(dec("&#x81;"), "\xC2\x81");  // no Windows-1252 character: kept
    EXPECT_EQ(dec("&#0;"), "\xEF\xBF\xBD");
    EXPECT_EQ(dec("&#xD800;"), "\xEF\xBF\xBD");
    EXPECT_EQ(dec("&#x110000;"), "\xEF\xBF\xBD");
    EXPECT_EQ(dec("&#99999999999999999999;"), "\xEF\xBF\xBD");
    EXPECT_EQ(dec("&#x1F600;"), "\xF0\x9F\x98\x80");
    EXPECT_EQ(dec("&#1;"), "\x01");  // a control character: a parse error, but kept
    // "&#" and "&#x" without digits are text.
    EXPECT_EQ(dec("&#;&#x;&#xg"), "&#;&#x;&#xg");
    // NUL becomes U+FFFD.
    EXPECT_EQ(dec(std::string_view("a\0b", 3)), "a\xEF\xBF\xBD" "b");
}

// ---- URL clean-up, exclusion, locality ---------------------------------------------------------

TEST(ExtractAssets, ValuesAreTrimmedAndTabsNewlinesRemoved) {
    EXPECT_EQ(urls("<img src=\"  /a.png \n\">"), V{"/a.png"});
    EXPECT_EQ(urls("<img src=\"/im\nages/b.png\">"), V{"/images/b.png"});
    EXPECT_EQ(urls("<img src=\"&#9;/c.png&#32;\">"), V{"/c.png"});
    EXPECT_EQ(urls("<img src=\"   \">"), V{});
}

TEST(ExtractAssets, ExcludedReferences) {
    EXPECT_EQ(urls("<img src=\"data:image/png;base64,AAAA\">"
                   "<script src=\"javascript:void(0)\"></script>"
                   "<script src=\" JavaScript:alert(1)\"></script>"
                   "<script src=\"java\nscript:alert(1)\"></script>"
                   "<iframe src=\"about:blank\"></iframe>"
                   "<link href=\"mailto:me@example.com\"><link href=\"tel:+123\">"
                   "<img src=\"blob:https://x/1\"><img src=\"#frag\"><img src=\"vbscript:x\">"),
              V{});
}

TEST(ExtractAssets, LocalAndExternal) {
    const auto refs = extract_exact(
        "<img src=\"http://a.example/x.png\"><img src=\"HTTPS://b.example/y.png\">"
        "<img src=\"//cdn.example/z.png\"><img src=\"\\\\cdn.example/w.png\">"
        "<img src=\"ftp://f.example/f.png\"><img src=\"/abs.png\"><img src=\"rel.png\">"
        "<img src=\"../up.png\"><img src=\"?q=1\"><img src=\"/a:b.png\">");
    std::vector<std::pair<std::string, bool>> got;
    for (const auto& r : refs) got.emplace_back(r.url, r.is_external);
    const std::vector<std::pair<std::string, bool>> expected = {
        {"http://a.example/x.png", true}, {"HTTPS://b.example/y.png", true},
        {"//cdn.example/z.png", true},    {"\\\\cdn.example/w.png", true},
        {"ftp://f.example/f.png", true},  {"/abs.png", false},
        {"rel.png", false},               {"../up.png", false},
        {"?q=1", false},                  {"/a:b.png", false},
    };
    EXPECT_EQ(got, expected);
}

TEST(ExtractAssets, DeduplicatedFirstSeenWins) {
    EXPECT_EQ(extract_exact("<link rel=preload href=/a.png><img src=/a.png srcset=\"/a.png 2x\">"),
              std::vector<AssetRef>{ref("/a.png", "link", "href")});
    // Different spellings of the same decoded, trimmed URL are one reference.
    EXPECT_EQ(urls("<img src=\"/b.png?x&amp;y\"><img src=\" /b.png?x&y \">"), V{"/b.png?x&y"});
}

TEST(ExtractAssets, ManyReferencesUseTheHashSetPath) {
    std::string html;
    V expected;
    for (int i = 0; i < 200; ++i) {
        html += "<img src=\"/img/" + std::to_string(i) + ".png\">";
        expected.push_back("/img/" + std::to_string(i) + ".png");
    }
    for (int i = 199; i >= 0; --i) html += "<img src=\"/img/" + std::to_string(i) + ".png\">";
    EXPECT_EQ(urls(html), expected);
}

// ---- what is not markup ---------------------------------------------------------------------

TEST(ExtractAssets, Comments) {
    EXPECT_EQ(urls("<!-- <img src=/hidden.png> --><img src=/shown.png>"), V{"/shown.png"});
    // "<!-->" and "<!--->" are complete (empty) comments.
    EXPECT_EQ(urls("<!--><img src=/a.png>"), V{"/a.png"});
    EXPECT_EQ(urls("<!---><img src=/b.png>"), V{"/b.png"});
    EXPECT_EQ(urls("<!----><img src=/c.png>"), V{"/c.png"});
    // "--!>" ends a comment; "-- >" does not.
    EXPECT_EQ(urls("<!-- x --!><img src=/d.png>"), V{"/d.png"});
    EXPECT_EQ(urls("<!-- x -- > <img src=/no.png> --><img src=/e.png>"), V{"/e.png"});
    EXPECT_EQ(urls("<!-- a <!-- b --><img src=/f.png>"), V{"/f.png"});
    EXPECT_EQ(urls("<!-- x ---><img src=/g.png>"), V{"/g.png"});
    // An unterminated comment hides everything after it.
    EXPECT_EQ(urls("<img src=/h.png><!-- <img src=/no.png>"), V{"/h.png"});
}

TEST(ExtractAssets, DoctypeProcessingInstructionsAndBogusComments) {
    EXPECT_EQ(urls("<!DOCTYPE html><?xml version=\"1.0\"?><!bogus><img src=/a.png>"), V{"/a.png"});
    EXPECT_EQ(urls("</ img src=/no.png><img src=/b.png>"), V{"/b.png"});  // "</ " bogus comment
    EXPECT_EQ(urls("</><img src=/c.png>"), V{"/c.png"});
    // A processing instruction is a bogus comment: it ends at the first '>', wherever that is.
    EXPECT_EQ(urls("<?php echo '<img src=/no.png'; ?><img src=/d.png>"), V{"/d.png"});
    EXPECT_EQ(urls("<?php if ($a > 1) ?><img src=/e.png>"), V{"/e.png"});
}

TEST(ExtractAssets, CdataNeverYieldsReferences) {
    EXPECT_EQ(urls("<svg><![CDATA[ <img src=/no.png> ]]></svg><img src=/a.png>"), V{"/a.png"});
    EXPECT_EQ(urls("<![CDATA[ x > <img src=/no.png> ]]><img src=/b.png>"), V{"/b.png"});
    EXPECT_EQ(urls("<![CDATA[ <img src=/no.png>"), V{});
}

TEST(ExtractAssets, ScriptBodies) {
    EXPECT_EQ(urls("<script>document.write('<img src=/no.png>')</script><img src=/a.png>"),
              V{"/a.png"});
    // The end tag may carry whitespace, attributes or a slash; "</scriptx" does not end it.
    EXPECT_EQ(urls("<script>x</script ><img src=/b.png>"), V{"/b.png"});
    EXPECT_EQ(urls("<script>x</script foo=\">\"><img src=/c.png>"), V{"/c.png"});
    EXPECT_EQ(urls("<script>x</SCRIPT/><img src=/d.png>"), V{"/d.png"});
    EXPECT_EQ(urls("<script>x</scriptx><img src=/no.png></script><img src=/e.png>"), V{"/e.png"});
    // The self-closing flag does not apply to <script>: its body still follows.
    EXPECT_EQ(urls("<script src=/s.js /><img src=/no.png></script><img src=/f.png>"),
              (V{"/s.js", "/f.png"}));
    // Unterminated: the rest of the document is script.
    EXPECT_EQ(urls("<script>x <img src=/no.png>"), V{});
}

TEST(ExtractAssets, ScriptEscapedAndDoubleEscapedStates) {
    // "<!--" then "<script>" inside a script: the next "</script>" only leaves the double-escaped
    // state; the script ends at the second one.
    EXPECT_EQ(urls("<script><!--<script></script><img src=/no.png>--></script><img src=/a.png>"),
              V{"/a.png"});
    // Escaped (not double-escaped): "</script>" ends the script.
    EXPECT_EQ(urls("<script><!-- x </script><img src=/b.png>"), V{"/b.png"});
    // "-->" leaves the escaped state first, so the double-escape never starts.
    EXPECT_EQ(urls("<script><!-- --><script></script><img src=/c.png>"), V{"/c.png"});
    // "<!-->" inside a script: escaped dash-dash state then '>' returns to script data.
    EXPECT_EQ(urls("<script><!--><script></script><img src=/d.png>"), V{"/d.png"});
}

TEST(ExtractAssets, RawTextAndRcdataElements) {
    EXPECT_EQ(urls("<title><img src=/no.png></title><img src=/a.png>"), V{"/a.png"});
    EXPECT_EQ(urls("<textarea><img src=/no.png></TEXTAREA><img src=/b.png>"), V{"/b.png"});
    EXPECT_EQ(urls("<xmp><img src=/no.png></xmp><noembed><img src=/no.png></noembed>"
                   "<noframes><img src=/no.png></noframes><img src=/c.png>"),
              V{"/c.png"});
    // iframe: its src is a reference, its content is raw text.
    EXPECT_EQ(urls("<iframe src=/f.html><img src=/no.png></iframe><img src=/d.png>"),
              (V{"/f.html", "/d.png"}));
    // plaintext never ends.
    EXPECT_EQ(urls("<img src=/e.png><plaintext></plaintext><img src=/no.png>"), V{"/e.png"});
    // An end tag must be the element's own: "</title2>" does not close <title>.
    EXPECT_EQ(urls("<title></title2><img src=/no.png></title ><img src=/g.png>"), V{"/g.png"});
}

TEST(ExtractAssets, NoscriptIsParsedAsMarkup) {
    // As with scripting disabled: the fallback's assets are what no-JS visitors load.
    EXPECT_EQ(urls("<noscript><img src=/n.png></noscript>"), V{"/n.png"});
}

// ---- CSS --------------------------------------------------------------------------------------

TEST(ExtractAssets, StyleElementAndAttribute) {
    EXPECT_EQ(extract_exact("<p style=\"background:url(&quot;/a.png&quot;)\">"
                            "<STYLE>.x{background:URL( /b.png )}</style>"),
              (std::vector<AssetRef>{ref("/a.png", "p", "style"), ref("/b.png", "style", "")}));
    // A style element's text is raw: no entity decoding, no tags.
    EXPECT_EQ(urls("<style>a{b:url(/c.png?x&amp;y)} /* <img src=/no.png> */</style>"),
              V{"/c.png?x&amp;y"});
    // Unterminated <style>: its text runs to the end of the input and is still CSS.
    EXPECT_EQ(urls("<style>a{background:url(/d.png)}"), V{"/d.png"});
    // A style attribute on an element with an unusual name reports that name, lower-cased.
    EXPECT_EQ(extract_exact("<My-Widget style='background:url(/e.png)'>"),
              std::vector<AssetRef>{ref("/e.png", "my-widget", "style")});
}

std::vector<std::string> css_urls(std::string_view css) {
    std::vector<std::string> out;
    scan_css_urls(css, out);
    return out;
}

TEST(ScanCssUrls, UrlForms) {
    EXPECT_EQ(css_urls("a{b:url(x.png)}"), V{"x.png"});
    EXPECT_EQ(css_urls("a{b:url( \"y.png\" )}"), V{"y.png"});
    EXPECT_EQ(css_urls("a{b:url('z.png')}"), V{"z.png"});
    EXPECT_EQ(css_urls("a{b:UrL(\n w.png \n)}"), V{"w.png"});
    EXPECT_EQ(css_urls("a{b:url(a.png),url(b.png)}"), (V{"a.png", "b.png"}));
    EXPECT_EQ(css_urls("src:url(f.woff2)format('woff2')"), V{"f.woff2"});
}

TEST(ScanCssUrls, Escapes) {
    EXPECT_EQ(css_urls("url(a\\).png)"), V{"a).png"});
    EXPECT_EQ(css_urls("url(b\\20 c.png)"), V{"b c.png"});
    EXPECT_EQ(css_urls("url(\"d\\\"e.png\")"), V{"d\"e.png"});
    EXPECT_EQ(css_urls("url('f\\\ng.png')"), V{"fg.png"});  // line continuation in a string
    EXPECT_EQ(css_urls("url(\\0)"), V{"\xEF\xBF\xBD"});
    EXPECT_EQ(css_urls("u\\72l(h.png)"), V{"h.png"});  // an escaped "url" is still url
    EXPECT_EQ(css_urls("url(\\1F600.png)"), V{"\xF0\x9F\x98\x80.png"});
}

TEST(ScanCssUrls, NotUrls) {
    EXPECT_EQ(css_urls("/* url(a.png) */ b{c:\"url(d.png)\"} e{f:'url(g.png)'}"), V{});
    EXPECT_EQ(css_urls("a{b:1url(x.png) #url(y.png) -url(z.png) url (w.png) xurl(v.png)}"), V{});
    // Bad url tokens: whitespace inside, quotes or '(' in an unquoted url, bad strings.
    EXPECT_EQ(css_urls("url(a b.png) url(c\"d.png) url(e(f.png) url(\"g\nh.png\")"), V{});
    // A bad url is skipped up to its ')' (an escaped ')' does not end it); scanning goes on.
    EXPECT_EQ(css_urls("url(a b\\) url(no.png)) url(ok.png)"), V{"ok.png"});
}

TEST(ScanCssUrls, Import) {
    EXPECT_EQ(css_urls("@import \"a.css\"; @IMPORT 'b.css' screen; @import url(c.css);"
                       "@import/**/\"d.css\";"),
              (V{"a.css", "b.css", "c.css", "d.css"}));
    EXPECT_EQ(css_urls("@importx \"no.css\"; @media \"no2.css\""), V{});
}

TEST(ScanCssUrls, EndOfInput) {
    EXPECT_EQ(css_urls("url(a.png"), V{"a.png"});  // EOF in a url token: still a url
    EXPECT_EQ(css_urls("url(\"b.png"), V{"b.png"});
    EXPECT_EQ(css_urls("url(c.png\\"), V{"c.png\xEF\xBF\xBD"});
    EXPECT_EQ(css_urls("url("), V{""});  // empty; the scanner drops it as a reference
    EXPECT_EQ(css_urls("/* url(x)"), V{});
}

// ---- srcset -----------------------------------------------------------------------------------

std::vector<std::string> srcset(std::string_view s) {
    std::vector<std::string_view> views;
    split_srcset(s, views);
    return std::vector<std::string>(views.begin(), views.end());
}

TEST(SplitSrcset, Candidates) {
    EXPECT_EQ(srcset("a.png 1x, b.png 2x"), (V{"a.png", "b.png"}));
    // A URL is everything up to whitespace; only trailing commas are cut, so "a.png,b.png" is
    // one URL (as in browsers).
    EXPECT_EQ(srcset("a.png,b.png"), V{"a.png,b.png"});
    EXPECT_EQ(srcset("a.png, b.png"), (V{"a.png", "b.png"}));
    EXPECT_EQ(srcset("  ,, a.png,,, b.png ,c.png 3x ,"), (V{"a.png", "b.png", "c.png"}));
    EXPECT_EQ(srcset("a,b.png 100w"), V{"a,b.png"});  // only trailing commas end a URL
    EXPECT_EQ(srcset("data:image/png;base64,AAA= 1x, d.png 2x"),
              (V{"data:image/png;base64,AAA=", "d.png"}));
    // A ',' inside parentheses in the descriptors does not end the candidate.
    EXPECT_EQ(srcset("e.png 1x (a, b), f.png 2x"), (V{"e.png", "f.png"}));
    EXPECT_EQ(srcset("g.png\n1x,\th.png\t2x"), (V{"g.png", "h.png"}));
    EXPECT_EQ(srcset(""), V{});
    EXPECT_EQ(srcset(" , "), V{});
    // Invalid descriptors: the standard drops the candidate; asset tracking keeps the URL.
    EXPECT_EQ(srcset("i.png 1x 2x"), V{"i.png"});
}

TEST(ExtractAssets, SrcsetThroughTheScanner) {
    EXPECT_EQ(urls("<img srcset=\"data:image/png;base64,AAA= 1x, /d.png 2x\">"), V{"/d.png"});
    EXPECT_EQ(urls("<img srcset=\"/e.png,/f.png\">"), V{"/e.png,/f.png"});
    EXPECT_EQ(urls("<img srcset=\"/a.png?x=1&amp;y=2 1x, //cdn/b.png 2x\">"),
              (V{"/a.png?x=1&y=2", "//cdn/b.png"}));
}

// ---- bytes --------------------------------------------------------------------------------------

TEST(ExtractAssets, InvalidUtf8AndNulBecomeReplacementCharacters) {
    EXPECT_EQ(urls("<img src=\"/a\xFF.png\">"), V{"/a\xEF\xBF\xBD.png"});
    EXPECT_EQ(urls(std::string_view("<img src=\"/b\0.png\">", 19)), V{"/b\xEF\xBF\xBD.png"});
    EXPECT_EQ(urls(std::string_view("<style>a{b:url(/c\0.png)}</style>", 32)),
              V{"/c\xEF\xBF\xBD.png"});
    const auto refs = extract_exact("<x\xC3\x28 style=\"background:url(/d.png)\">");
    ASSERT_EQ(refs.size(), 1u);
    EXPECT_EQ(find_invalid_utf8(refs[0].tag), std::string::npos);
}

TEST(ExtractAssets, EmptyAndTrivialInputs) {
    EXPECT_EQ(urls(""), V{});
    EXPECT_EQ(extract_assets(std::string_view()), std::vector<AssetRef>{});
    EXPECT_EQ(urls("<"), V{});
    EXPECT_EQ(urls("</"), V{});
    EXPECT_EQ(urls("<!"), V{});
    EXPECT_EQ(urls("<!-"), V{});
    EXPECT_EQ(urls("no markup at all"), V{});
}

const char* const kSamplePage = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sample &amp; page <img src="/no-title.png"></title>
<link rel="stylesheet" href="/css/site.css?v=3&amp;x=1">
<link rel="icon" href='/favicon.ico'>
<link rel=preload as=image href=/img/hero.jpg imagesrcset="/img/hero-2x.jpg 2x">
<style>
  @import "/css/print.css" print;
  body { background: url( "/img/bg.png" ) no-repeat; }
  /* url(/img/commented.png) */
  .icon::before { content: "url(/img/string.png)"; background-image: url(/img/ic\6f n.svg); }
</style>
<script src="/js/app.js" defer></script>
<script>
  var s = '<img src="/img/in-script.png">'; if (a < b && c > d) {}
  // <!-- <script> </script> -->
</script>
</head>
<body class=page>
<!-- <img src="/img/commented-out.png"> -->
<header style="background-image:url('/img/header.png')"><h1>Title</h1></header>
<main>
<p>Text with a <a href="/other/">link</a> and &lt;img src="/not-a-tag.png"&gt;.</p>
<picture>
  <source type="image/webp" srcset="/img/a.webp 1x, /img/a@2x.webp 2x">
  <IMG SRC="/img/a.jpg" alt="A > B" srcset="/img/a-480.jpg 480w,
       /img/a-800.jpg 800w" sizes="(max-width: 600px) 480px, 800px">
</picture>
<video controls poster="/media/poster.jpg"><source src="/media/clip.webm" type="video/webm">
<track kind=captions src="/media/subs.vtt"></video>
<audio src="https://cdn.example.com/song.mp3"></audio>
<iframe src="//www.example.com/embed/1"><img src="/img/in-iframe.png"></iframe>
<object data="/docs/manual.pdf" type="application/pdf"></object>
<input type="IMAGE" src="/img/submit.png" alt="Go">
<textarea><img src="/img/in-textarea.png"></textarea>
<svg><![CDATA[ <img src="/img/in-cdata.png"> ]]></svg>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">
<img src="#top"><script src="javascript:void(0)"></script>
</main>
</body>
</html>
)HTML";

TEST(ExtractAssets, SamplePage) {
    const V expected = {
        "/css/site.css?v=3&x=1", "/favicon.ico",       "/img/hero.jpg",
        "/img/hero-2x.jpg",      "/css/print.css",     "/img/bg.png",
        "/img/icon.svg",         "/js/app.js",         "/img/header.png",
        "/img/a.webp",           "/img/a@2x.webp",     "/img/a.jpg",
        "/img/a-480.jpg",        "/img/a-800.jpg",     "/media/poster.jpg",
        "/media/clip.webm",      "/media/subs.vtt",    "https://cdn.example.com/song.mp3",
        "//www.example.com/embed/1", "/docs/manual.pdf", "/img/submit.png",
    };
    EXPECT_EQ(urls(kSamplePage), expected);
}

// ---- robustness ---------------------------------------------------------------------------------

TEST(ExtractAssetsRobustness, EveryPrefixOfTheSamplePage) {
    // A tag cut anywhere before its '>' is not emitted, so every reference found in a prefix is
    // a reference of the whole page, except url()s in a <style> text cut inside the url (the
    // tokenizer returns what it has at EOF, and an escape cut after its '\\' reads as U+FFFD),
    // which are a prefix of one.
    const std::string page = kSamplePage;
    const std::vector<AssetRef> full = extract_exact(page);
    for (std::size_t n = 0; n <= page.size(); ++n) {
        for (const AssetRef& r : extract_exact(std::string_view(page).substr(0, n))) {
            std::string_view cut = r.url;
            if (cut.size() >= 3 && cut.substr(cut.size() - 3) == kReplacementChar)
                cut.remove_suffix(3);
            const bool in_full = std::any_of(full.begin(), full.end(), [&](const AssetRef& f) {
                return f.url == r.url ||
                       (r.tag == "style" && std::string_view(f.url).substr(0, cut.size()) == cut);
            });
            EXPECT_TRUE(in_full) << "prefix " << n << " gave " << r.url;
        }
    }
}

TEST(ExtractAssetsRobustness, RandomBytes) {
    std::mt19937_64 rng(12345);
    // Bytes weighted towards the ones that drive the state machines.
    static const char kAlphabet[] = "<>/!-=\"' \n\t&#;x[]()ascriptyleimgsrcurl\\@\0\xC3\xFF"
                                    "ABCDEFabcdef0123456789";
    const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);  // keeps the NUL
    for (int iter = 0; iter < 3000; ++iter) {
        std::string s(rng() % 300, '\0');
        const bool structured = iter % 2 == 0;
        for (char& c : s) {
            c = structured ? alphabet[rng() % alphabet.size()]
                           : static_cast<char>(rng() & 0xFF);
        }
        for (const AssetRef& r : extract_exact(s)) {
            EXPECT_FALSE(r.url.empty());
            EXPECT_EQ(find_invalid_utf8(r.url), std::string::npos);
            EXPECT_EQ(find_invalid_utf8(r.tag), std::string::npos);
        }
    }
}

TEST(ExtractAssetsRobustness, MutatedSamplePage) {
    std::mt19937_64 rng(99);
    const std::string page = kSamplePage;
    const char specials[] = "<>\"'/-!=& \n";
    for (int iter = 0; iter < 1500; ++iter) {
        std::string s = page;
        const int edits = 1 + static_cast<int>(rng() % 8);
        for (int e = 0; e < edits && !s.empty(); ++e) {
            const std::size_t pos = rng() % s.size();
            switch (rng() % 3) {
                case 0: s[pos] = specials[rng() % (sizeof specials - 1)]; break;
                case 1: s.insert(pos, 1, specials[rng() % (sizeof specials - 1)]); break;
                default: s.erase(pos, 1 + rng() % 16); break;
            }
        }
        for (const AssetRef& r : extract_exact(s)) EXPECT_EQ(find_invalid_utf8(r.url), std::string::npos);
    }
}

TEST(ExtractAssetsRobustness, PathologicalRepetitions) {
    // Long runs of the characters each state looks for must not be quadratic or crash.
    const std::string dashes = "<!--" + std::string(200000, '-');
    EXPECT_EQ(urls(dashes), V{});
    const std::string lts(200000, '<');
    EXPECT_EQ(urls(lts), V{});
    std::string script = "<script><!--";
    for (int i = 0; i < 20000; ++i) script += "<script>";
    EXPECT_EQ(urls(script), V{});
    std::string attrs = "<img";
    for (int i = 0; i < 20000; ++i) attrs += " src=/a.png";
    attrs += ">";
    EXPECT_EQ(urls(attrs), V{"/a.png"});
}

TEST(ExtractAssetsBatch, SameAsSequential) {
    std::vector<std::string> docs;
    for (int i = 0; i < 64; ++i)
        docs.push_back(std::string(kSamplePage) + "<img src=/page-" + std::to_string(i) + ".png>");
    docs.emplace_back("");
    std::vector<std::string_view> views(docs.begin(), docs.end());
    const auto batch = extract_assets_batch(views);
    ASSERT_EQ(batch.size(), docs.size());
    for (std::size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(batch[i], extract_assets(docs[i]));
    EXPECT_TRUE(extract_assets_batch({}).empty());
}

}  // namespace
}  // namespace bengal
