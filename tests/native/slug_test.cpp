// Unit tests for the building blocks under the renderer: the slug rule and SlugRegistry,
// case folding, XrefIndex lookup, UTF-8 validation / repair and HTML character references.
//
// Expected slugs for non-ASCII text were cross-checked against an independent Python
// implementation of the rule documented in slug.hpp (unicodedata.category + str.lower, first
// code point of the lower-case form), run with Python 3.11 / Unicode 14.0.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bengal_native/entities.hpp"
#include "bengal_native/slug.hpp"
#include "bengal_native/utf8.hpp"
#include "bengal_native/xref_index.hpp"

namespace bengal {
namespace {

// `n` copies of U+FFFD, for readable expectations.
std::string fffd(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.append(kReplacementChar);
    return s;
}

// ---- slugify ----------------------------------------------------------------------------------

TEST(Slugify, AsciiBasics) {
    EXPECT_EQ(slugify("Hello World"), "hello-world");
    EXPECT_EQ(slugify("Hello, World!"), "hello-world");
    EXPECT_EQ(slugify("Getting Started: Step 1"), "getting-started-step-1");
    EXPECT_EQ(slugify("API v2.0 (beta)"), "api-v20-beta");
    EXPECT_EQ(slugify("C++ & C#"), "c-c");
    EXPECT_EQ(slugify("what's new?"), "whats-new");
    EXPECT_EQ(slugify("a/b\\c"), "abc");
}

TEST(Slugify, RunsOfSpacesAndDashesCollapse) {
    EXPECT_EQ(slugify("a - b -- c"), "a-b-c");
    EXPECT_EQ(slugify("a     b"), "a-b");
    EXPECT_EQ(slugify("a\t\n\r\f\vb"), "a-b");
    // Dropped characters do not end a run: "a - & - b" is one separator.
    EXPECT_EQ(slugify("a - & - b"), "a-b");
    // But a dropped character between letters does not create a separator.
    EXPECT_EQ(slugify("don't"), "dont");
}

TEST(Slugify, TrimsLeadingAndTrailingDashes) {
    EXPECT_EQ(slugify("  --Leading and trailing--  "), "leading-and-trailing");
    EXPECT_EQ(slugify("-x-"), "x");
    EXPECT_EQ(slugify("!!! x ???"), "x");
}

TEST(Slugify, UnderscoresAreKeptAndNotTrimmed) {
    EXPECT_EQ(slugify("snake_case __init__"), "snake_case-__init__");
    EXPECT_EQ(slugify("_private"), "_private");
    EXPECT_EQ(slugify("a _ b"), "a-_-b");
}

TEST(Slugify, EmptyResults) {
    EXPECT_EQ(slugify(""), "");
    EXPECT_EQ(slugify("   "), "");
    EXPECT_EQ(slugify("---"), "");
    EXPECT_EQ(slugify("!!! ??? ..."), "");
    EXPECT_EQ(slugify("\xF0\x9F\x9A\x80 \xF0\x9F\x8E\x89"), "");  // two emoji
}

TEST(Slugify, LowerCasesNonAscii) {
    EXPECT_EQ(slugify("Über Straße"), "über-straße");
    // Simple case mapping: every capital sigma becomes σ (no final-sigma rule).
    EXPECT_EQ(slugify("ΣΊΣΥΦΟΣ"), "σίσυφοσ");
    EXPECT_EQ(slugify("Ωμέγα ΑΒΓ"), "ωμέγα-αβγ");
    EXPECT_EQ(slugify("Привет Мир"), "привет-мир");
    // U+0130 (İ): the simple mapping gives plain 'i', not "i" + U+0307.
    EXPECT_EQ(slugify("İstanbul"), "istanbul");
    // Title-case digraph U+01C5 (ǅ) and capital U+01C4 (Ǆ) both map to U+01C6.
    EXPECT_EQ(slugify("\u01C4emal \u01C5"), "\u01C6emal-\u01C6");
    // Outside the BMP: DESERET CAPITAL LONG I (U+10400) -> U+10428.
    EXPECT_EQ(slugify("\U00010400"), "\U00010428");
}

TEST(Slugify, KeepsLettersMarksAndDigitsOfManyScripts) {
    EXPECT_EQ(slugify("日本語の見出し"), "日本語の見出し");
    EXPECT_EQ(slugify("中文 标题"), "中文-标题");
    EXPECT_EQ(slugify("한국어 제목"), "한국어-제목");
    EXPECT_EQ(slugify("ไทย"), "ไทย");  // Thai vowel marks are kept
    // Arabic letters and Arabic-Indic digits (U+0663, U+0664).
    EXPECT_EQ(slugify("العدد ٣٤"), "العدد-٣٤");
    // Devanagari with combining vowel signs and virama (Mn / Mc) kept intact.
    EXPECT_EQ(slugify("हिन्दी शीर्षक"), "हिन्दी-शीर्षक");
    // A decomposed é (e + U+0301 COMBINING ACUTE) keeps its mark.
    EXPECT_EQ(slugify("Cafe\u0301"), "cafe\u0301");
    // Letter numbers (Nl) are kept and lower-cased: U+216B ROMAN NUMERAL TWELVE -> U+217B.
    EXPECT_EQ(slugify("\u216B Chapter"), "\u217B-chapter");
    // Other numbers (No) are kept.
    EXPECT_EQ(slugify("½ and ²"), "½-and-²");
}

TEST(Slugify, UnicodeSpacesSeparateAndFormatCharactersVanish) {
    // NO-BREAK SPACE and IDEOGRAPHIC SPACE are Zs: they separate words.
    EXPECT_EQ(slugify("a\u00A0b\u3000c"), "a-b-c");
    // ZERO WIDTH SPACE (Cf) is dropped without separating.
    EXPECT_EQ(slugify("a\u200Bb"), "ab");
}

TEST(Slugify, PunctuationAndSymbolsDropped) {
    EXPECT_EQ(slugify("«Quoted» “text” — dash"), "quoted-text-dash");
    EXPECT_EQ(slugify("price: 5€ + 3£ = ¥"), "price-5-3");
    EXPECT_EQ(slugify("\xF0\x9F\x9A\x80 Launch \xF0\x9F\x8E\x89"), "launch");  // rocket, party popper
    // Emoji with a skin-tone modifier (U+1F44D U+1F3FD): both are symbols.
    EXPECT_EQ(slugify("\U0001F44D\U0001F3FD ok"), "ok");
}

// An emoji written with VARIATION SELECTOR-16 (U+FE0F), as most keyboards produce "⚠️", must
// vanish like the bare emoji: the selector is a presentation hint for the preceding symbol,
// not a character of its own. (U+FE0F is category Mn, so a literal "keep marks" rule keeps an
// invisible U+FE0F at the start of the slug.)
TEST(Slugify, EmojiVariationSelectorIsDroppedWithItsEmoji) {
    EXPECT_EQ(slugify("\u26A0\uFE0F Warning"), "warning");
    EXPECT_EQ(slugify("Done \u2714\uFE0F"), "done");
}

TEST(Slugify, InvalidUtf8NeverLeaksIntoTheSlug) {
    // U+FFFD is a symbol (So), so bytes that do not decode simply disappear.
    const std::string s = slugify("a\xFF\xC0 b\xE2\x82");
    EXPECT_EQ(s, "a-b");
    EXPECT_EQ(find_invalid_utf8(s), std::string_view::npos);
}

TEST(ToLower, ScalarMapping) {
    EXPECT_EQ(to_lower('A'), static_cast<std::uint32_t>('a'));
    EXPECT_EQ(to_lower('z'), static_cast<std::uint32_t>('z'));
    EXPECT_EQ(to_lower('1'), static_cast<std::uint32_t>('1'));
    EXPECT_EQ(to_lower(0x00DC), 0x00FCu);    // Ü -> ü
    EXPECT_EQ(to_lower(0x03A3), 0x03C3u);    // Σ -> σ
    EXPECT_EQ(to_lower(0x0130), 0x0069u);    // İ -> i
    EXPECT_EQ(to_lower(0x10400), 0x10428u);  // Deseret
    EXPECT_EQ(to_lower(0x1F600), 0x1F600u);  // emoji: no case
    EXPECT_EQ(to_lower(0x00DF), 0x00DFu);    // ß has no simple lower/upper pair to change
    EXPECT_EQ(to_lower(0x10FFFF), 0x10FFFFu);
}

TEST(FoldCase, LowerCasesWholeStrings) {
    EXPECT_EQ(fold_case("Docs/Setup.MD"), "docs/setup.md");
    EXPECT_EQ(fold_case("ÄÖÜ ΣΑΣ Ärger"), "äöü σασ ärger");
    EXPECT_EQ(fold_case(""), "");
    // Invalid bytes come out as U+FFFD, one per byte, so the result is always valid UTF-8.
    EXPECT_EQ(fold_case("A\xFF"
                        "B"),
              "a" + fffd(1) + "b");
}

// ---- SlugRegistry -----------------------------------------------------------------------------

TEST(SlugRegistry, DuplicatesGetNumberedSuffixes) {
    SlugRegistry r;
    EXPECT_EQ(r.unique("intro"), "intro");
    EXPECT_EQ(r.unique("intro"), "intro-1");
    EXPECT_EQ(r.unique("intro"), "intro-2");
    EXPECT_EQ(r.unique("other"), "other");
    EXPECT_EQ(r.unique("intro"), "intro-3");
}

TEST(SlugRegistry, EmptySlugBecomesHeading) {
    SlugRegistry r;
    EXPECT_EQ(r.unique(""), "heading");
    EXPECT_EQ(r.unique(""), "heading-1");
    EXPECT_EQ(r.unique("heading"), "heading-2");
}

TEST(SlugRegistry, SkipsIdsAlreadyTaken) {
    SlugRegistry r;
    EXPECT_EQ(r.unique("a"), "a");
    EXPECT_TRUE(r.claim("a-1"));  // an explicit {#a-1}
    EXPECT_EQ(r.unique("a"), "a-2");
    EXPECT_EQ(r.unique("a"), "a-3");
    // A heading whose own slug is "a-1" must not collide with the claimed id either.
    EXPECT_EQ(r.unique("a-1"), "a-1-1");
}

TEST(SlugRegistry, AutoIdThatLooksLikeASuffixIsRespected) {
    SlugRegistry r;
    EXPECT_EQ(r.unique("a-1"), "a-1");  // a heading literally titled "A 1"
    EXPECT_EQ(r.unique("a"), "a");
    EXPECT_EQ(r.unique("a"), "a-2");
}

TEST(SlugRegistry, ClaimReportsCollisions) {
    SlugRegistry r;
    EXPECT_FALSE(r.contains("x"));
    EXPECT_TRUE(r.claim("x"));
    EXPECT_TRUE(r.contains("x"));
    EXPECT_FALSE(r.claim("x"));
    EXPECT_EQ(r.unique("y"), "y");
    EXPECT_FALSE(r.claim("y"));
    EXPECT_EQ(r.unique("x"), "x-1");
}

TEST(SlugRegistry, ManyDuplicatesStayDistinct) {
    SlugRegistry r;
    std::vector<std::string> ids;
    for (int i = 0; i < 1000; ++i) ids.push_back(r.unique("same"));
    EXPECT_EQ(ids.front(), "same");
    EXPECT_EQ(ids[1], "same-1");
    EXPECT_EQ(ids.back(), "same-999");
}

// ---- XrefIndex --------------------------------------------------------------------------------

TEST(XrefIndex, FirstAddWins) {
    XrefIndex idx;
    EXPECT_TRUE(idx.add("docs/setup", "/docs/setup/", "Setup"));
    EXPECT_FALSE(idx.add("docs/setup", "/other/", "Other"));
    EXPECT_EQ(idx.size(), 1u);
    const XrefTarget* t = idx.find("docs/setup");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->url, "/docs/setup/");
    EXPECT_EQ(t->title, "Setup");
    EXPECT_TRUE(idx.contains("docs/setup"));
    EXPECT_FALSE(idx.contains("docs/Setup"));  // contains() is exact
}

TEST(XrefIndex, KeysAreSorted) {
    XrefIndex idx;
    idx.add("b", "/b/", "B");
    idx.add("id:a", "/a/", "A");
    idx.add("a", "/a/", "A");
    EXPECT_EQ(idx.keys(), (std::vector<std::string>{"a", "b", "id:a"}));
}

TEST(XrefIndex, NormalizePath) {
    EXPECT_EQ(XrefIndex::normalize_path("docs/setup"), "docs/setup");
    EXPECT_EQ(XrefIndex::normalize_path("./docs/setup.md"), "docs/setup");
    EXPECT_EQ(XrefIndex::normalize_path("././docs/setup"), "docs/setup");
    EXPECT_EQ(XrefIndex::normalize_path("/docs/setup/"), "docs/setup");
    EXPECT_EQ(XrefIndex::normalize_path("//docs/setup//"), "docs/setup");
    EXPECT_EQ(XrefIndex::normalize_path("docs/_index.md"), "docs");
    EXPECT_EQ(XrefIndex::normalize_path("docs/index.md"), "docs");
    EXPECT_EQ(XrefIndex::normalize_path("docs/_index"), "docs");
    EXPECT_EQ(XrefIndex::normalize_path("docs/guide/index"), "docs/guide");
    EXPECT_EQ(XrefIndex::normalize_path("_index.md"), "");
    EXPECT_EQ(XrefIndex::normalize_path("./_index.md"), "");
    EXPECT_EQ(XrefIndex::normalize_path("index"), "");
    EXPECT_EQ(XrefIndex::normalize_path("/"), "");
    // Only a whole "index" segment is dropped.
    EXPECT_EQ(XrefIndex::normalize_path("docs/reindex"), "docs/reindex");
    EXPECT_EQ(XrefIndex::normalize_path("docs/my_index.md"), "docs/my_index");
    // ".md" is a suffix only, not a segment.
    EXPECT_EQ(XrefIndex::normalize_path("docs/readme.markdown"), "docs/readme.markdown");
    EXPECT_EQ(XrefIndex::normalize_path("id:install"), "id:install");
}

TEST(XrefIndex, FindOrderExactThenNormalisedThenFolded) {
    XrefIndex idx;
    // Two keys that differ only in spelling: the exact spelling must win over normalisation.
    idx.add("Docs/Setup.md", "/exact/", "Exact");
    idx.add("docs/setup", "/norm/", "Norm");
    idx.add("blog", "/blog/", "Blog");
    idx.add("", "/", "Home");  // the site's root _index.md

    auto url = [&](std::string_view k) -> std::string {
        const XrefTarget* t = idx.find(k);
        return t ? t->url : std::string("<none>");
    };
    EXPECT_EQ(url("Docs/Setup.md"), "/exact/");
    EXPECT_EQ(url("docs/setup"), "/norm/");
    EXPECT_EQ(url("./docs/setup.md"), "/norm/");
    EXPECT_EQ(url("/docs/setup/"), "/norm/");
    EXPECT_EQ(url("blog/_index.md"), "/blog/");
    EXPECT_EQ(url("blog/index"), "/blog/");
    EXPECT_EQ(url("/blog/"), "/blog/");
    EXPECT_EQ(url("_index.md"), "/");
    EXPECT_EQ(url("./index.md"), "/");
    // Case-folded: "DOCS/SETUP" folds to "docs/setup", whose first add was "/norm/".
    EXPECT_EQ(url("DOCS/SETUP"), "/norm/");
    // "DOCS/SETUP.MD" folds exactly onto the folded form of "Docs/Setup.md".
    EXPECT_EQ(url("DOCS/SETUP.MD"), "/exact/");
    // Normalised and then folded.
    EXPECT_EQ(url("./Blog/_index.md"), "/blog/");
    EXPECT_EQ(url("missing"), "<none>");
    EXPECT_EQ(url("docs"), "<none>");
}

TEST(XrefIndex, CaseFoldingIsUnicodeAware) {
    XrefIndex idx;
    idx.add("über/ärger", "/u/", "U");
    const XrefTarget* t = idx.find("ÜBER/ÄRGER");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->url, "/u/");
}

TEST(XrefIndex, FirstAddWinsAmongCaseVariants) {
    XrefIndex idx;
    idx.add("Readme", "/first/", "First");
    idx.add("README", "/second/", "Second");
    EXPECT_EQ(idx.find("README")->url, "/second/");  // exact beats folded
    EXPECT_EQ(idx.find("readme")->url, "/first/");   // folded: first add wins
}

TEST(XrefIndex, ConcurrentFindsAgree) {
    XrefIndex idx;
    for (int i = 0; i < 500; ++i) {
        idx.add("page/" + std::to_string(i), "/p/" + std::to_string(i) + "/", "P" + std::to_string(i));
    }
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 20; ++round) {
                for (int i = 0; i < 500; ++i) {
                    const std::string key = (i % 2 ? "./PAGE/" : "page/") + std::to_string(i) + ".md";
                    const XrefTarget* hit = idx.find(key);
                    if (hit == nullptr || hit->url != "/p/" + std::to_string(i) + "/") ++mismatches[t];
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(mismatches, (std::vector<int>{0, 0, 0, 0}));
}

// ---- UTF-8 ------------------------------------------------------------------------------------

constexpr auto npos = std::string_view::npos;

TEST(FindInvalidUtf8, AcceptsWellFormedText) {
    EXPECT_EQ(find_invalid_utf8(""), npos);
    EXPECT_EQ(find_invalid_utf8("plain ascii, long enough for the 8-byte fast path"), npos);
    EXPECT_EQ(find_invalid_utf8("héllo € 𝄞"), npos);
    EXPECT_EQ(find_invalid_utf8("\x7F"), npos);
    EXPECT_EQ(find_invalid_utf8("\xC2\x80"), npos);          // U+0080
    EXPECT_EQ(find_invalid_utf8("\xDF\xBF"), npos);          // U+07FF
    EXPECT_EQ(find_invalid_utf8("\xE0\xA0\x80"), npos);      // U+0800
    EXPECT_EQ(find_invalid_utf8("\xED\x9F\xBF"), npos);      // U+D7FF, last before surrogates
    EXPECT_EQ(find_invalid_utf8("\xEE\x80\x80"), npos);      // U+E000, first after
    EXPECT_EQ(find_invalid_utf8("\xEF\xBF\xBF"), npos);      // U+FFFF (a noncharacter, valid)
    EXPECT_EQ(find_invalid_utf8("\xF0\x90\x80\x80"), npos);  // U+10000
    EXPECT_EQ(find_invalid_utf8("\xF4\x8F\xBF\xBF"), npos);  // U+10FFFF
    EXPECT_EQ(find_invalid_utf8(std::string_view("a\0b", 3)), npos);  // NUL is valid UTF-8
}

TEST(FindInvalidUtf8, ReportsOffsetOfFirstBadByte) {
    EXPECT_EQ(find_invalid_utf8("\x80"), 0u);                  // lone continuation
    EXPECT_EQ(find_invalid_utf8("abc\xC0\xAF"), 3u);           // overlong '/'
    EXPECT_EQ(find_invalid_utf8("\xC1\xBF"), 0u);              // overlong
    EXPECT_EQ(find_invalid_utf8("\xE0\x80\xAF"), 0u);          // overlong 3-byte
    EXPECT_EQ(find_invalid_utf8("\xF0\x80\x80\xAF"), 0u);      // overlong 4-byte
    EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);         // U+D800 surrogate
    EXPECT_EQ(find_invalid_utf8("x\xED\xBF\xBF"), 1u);         // U+DFFF surrogate
    EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);      // U+110000
    EXPECT_EQ(find_invalid_utf8("\xF5\x80\x80\x80"), 0u);      // lead byte beyond U+10FFFF
    EXPECT_EQ(find_invalid_utf8("\xFF"), 0u);
    EXPECT_EQ(find_invalid_utf8("ab\xE2\x82"), 2u);            // truncated at the end
    EXPECT_EQ(find_invalid_utf8("ab\xF0\x9F\x98"), 2u);        // truncated 4-byte
    EXPECT_EQ(find_invalid_utf8("ab\xC3"), 2u);                // truncated 2-byte
    EXPECT_EQ(find_invalid_utf8("\xE2\x82x"), 0u);             // interrupted sequence
    // After the 8-bytes-at-a-time ASCII path and after valid multi-byte sequences.
    EXPECT_EQ(find_invalid_utf8("0123456789abcdef\xFF"), 16u);
    EXPECT_EQ(find_invalid_utf8("€€€€€€€€\x80"), 24u);
}

// Expected values below were produced by CPython 3.11: bytes.decode("utf-8", "replace"),
// which implements the Unicode "substitution of maximal subparts" practice; the number of
// U+FFFD it produced for each input is hard-coded.
TEST(SanitizeUtf8, MatchesPythonDecodeReplace) {
    struct Case {
        std::string_view in;
        std::string expected;
    };
    const Case cases[] = {
        {"a\xC0\xAF"
         "b",
         "a" + fffd(2) + "b"},                                     // C0 is never valid: 2 subparts
        {"\xED\xA0\x80x", fffd(3) + "x"},                         // surrogate: ED, A0, 80
        {"\xF4\x90\x80\x80", fffd(4)},                            // > U+10FFFF
        {"\xE2\x82", fffd(1)},                                    // truncated: one maximal subpart
        {"\xF0\x9F\x98", fffd(1)},                                // truncated 4-byte
        {"\xE2\x82\xAC\xE2", "€" + fffd(1)},                     // valid then truncated
        {"\xF1\x80\x80"
         "A",
         fffd(1) + "A"},                                           // interrupted 4-byte
        {"\x80\x80", fffd(2)},                                    // lone continuations
        {"\xE0\x80\x80", fffd(3)},                                // overlong 3-byte
        {"\xF0\x80\x80\x80", fffd(4)},                            // overlong 4-byte
        {"\xFF\xFE", fffd(2)},
        {"\xC2"
         "A\xC2",
         fffd(1) + "A" + fffd(1)},
        {"\xE1\x80\xE2\xF0\x91\x92\xF1\xBF"
         "A",
         fffd(4) + "A"},                                           // Unicode Table 3-9 style
        {"\xF8\x88\x80\x80\x80", fffd(5)},                        // 5-byte form: all bytes bad
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(testing::PrintToString(std::string(c.in)));
        const std::string out = sanitize_utf8(c.in);
        EXPECT_EQ(out, c.expected);
        EXPECT_EQ(find_invalid_utf8(out), npos);
    }
}

TEST(SanitizeUtf8, LeavesValidTextUntouched) {
    const std::string_view s = "héllo € 𝄞 \xEF\xBF\xBD already-replaced";
    EXPECT_EQ(sanitize_utf8(s), s);
    EXPECT_EQ(sanitize_utf8(std::string_view("a\0b", 3)), std::string("a\0b", 3));
}

TEST(AppendUtf8, EncodesBoundariesAndRejectsNonScalars) {
    auto enc = [](std::uint32_t cp) {
        std::string s;
        append_utf8(s, cp);
        return s;
    };
    EXPECT_EQ(enc(0x41), "A");
    EXPECT_EQ(enc(0x7F), "\x7F");
    EXPECT_EQ(enc(0x80), "\xC2\x80");
    EXPECT_EQ(enc(0x7FF), "\xDF\xBF");
    EXPECT_EQ(enc(0x800), "\xE0\xA0\x80");
    EXPECT_EQ(enc(0xFFFF), "\xEF\xBF\xBF");
    EXPECT_EQ(enc(0x10000), "\xF0\x90\x80\x80");
    EXPECT_EQ(enc(0x10FFFF), "\xF4\x8F\xBF\xBF");
    EXPECT_EQ(enc(0xD800), fffd(1));
    EXPECT_EQ(enc(0xDFFF), fffd(1));
    EXPECT_EQ(enc(0x110000), fffd(1));
    EXPECT_EQ(enc(0xFFFFFFFF), fffd(1));
}

TEST(DecodeUtf8, RoundTripsEveryScalarValue) {
    std::string buf;
    int failures = 0;
    for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        buf.clear();
        append_utf8(buf, cp);
        std::size_t i = 0;
        const std::uint32_t back = decode_utf8(buf, i);
        if (back != cp || i != buf.size() || find_invalid_utf8(buf) != npos) ++failures;
    }
    EXPECT_EQ(failures, 0);
}

TEST(DecodeUtf8, InvalidBytesAdvanceByOne) {
    const std::string_view s = "\xE2\x82"
                               "A\xFF";
    std::size_t i = 0;
    EXPECT_EQ(decode_utf8(s, i), 0xFFFDu);
    EXPECT_EQ(i, 1u);
    EXPECT_EQ(decode_utf8(s, i), 0xFFFDu);
    EXPECT_EQ(i, 2u);
    EXPECT_EQ(decode_utf8(s, i), static_cast<std::uint32_t>('A'));
    EXPECT_EQ(i, 3u);
    EXPECT_EQ(decode_utf8(s, i), 0xFFFDu);
    EXPECT_EQ(i, 4u);
}

// ---- character references ---------------------------------------------------------------------

std::string decoded(std::string_view ref) {
    std::string out;
    decode_entity(ref, out);
    return out;
}

TEST(DecodeEntity, Named) {
    EXPECT_EQ(decoded("&ouml;"), "ö");
    EXPECT_EQ(decoded("&amp;"), "&");
    EXPECT_EQ(decoded("&AMP;"), "&");  // HTML5 lists the upper-case form too
    EXPECT_EQ(decoded("&lt;"), "<");
    EXPECT_EQ(decoded("&nbsp;"), "\u00A0");
    // Longest name in the HTML5 list.
    EXPECT_EQ(decoded("&CounterClockwiseContourIntegral;"), "\u2233");
    // Entities that stand for two code points.
    EXPECT_EQ(decoded("&NotEqualTilde;"), "\u2242\u0338");
    EXPECT_EQ(decoded("&ngE;"), "\u2267\u0338");
}

TEST(DecodeEntity, UnknownOrMalformedStaysVerbatim) {
    EXPECT_EQ(decoded("&NotANamedEntity;"), "&NotANamedEntity;");
    EXPECT_EQ(decoded("&Amp;"), "&Amp;");  // names are case-sensitive
    EXPECT_EQ(decoded("&amp"), "&amp");    // no ';'
    EXPECT_EQ(decoded("&;"), "&;");
    EXPECT_EQ(decoded("&#;"), "&#;");
    EXPECT_EQ(decoded("&#x;"), "&#x;");
    EXPECT_EQ(decoded("&#12a;"), "&#12a;");
    EXPECT_EQ(decoded("&#xG1;"), "&#xG1;");
}

TEST(DecodeEntity, Numeric) {
    EXPECT_EQ(decoded("&#65;"), "A");
    EXPECT_EQ(decoded("&#123;"), "{");
    EXPECT_EQ(decoded("&#x41;"), "A");
    EXPECT_EQ(decoded("&#X41;"), "A");
    EXPECT_EQ(decoded("&#xe9;"), "é");
    EXPECT_EQ(decoded("&#x1F600;"), "\U0001F600");
    EXPECT_EQ(decoded("&#1114111;"), "\U0010FFFF");
    EXPECT_EQ(decoded("&#0065;"), "A");  // leading zeros
}

TEST(DecodeEntity, NumericOutOfRangeGivesReplacementCharacter) {
    EXPECT_EQ(decoded("&#0;"), fffd(1));
    EXPECT_EQ(decoded("&#x0;"), fffd(1));
    EXPECT_EQ(decoded("&#xD800;"), fffd(1));
    EXPECT_EQ(decoded("&#57343;"), fffd(1));  // U+DFFF
    EXPECT_EQ(decoded("&#x110000;"), fffd(1));
    EXPECT_EQ(decoded("&#1114112;"), fffd(1));
    // Far beyond 32 bits: must not wrap around to a valid code point.
    EXPECT_EQ(decoded("&#99999999999999999999;"), fffd(1));
    EXPECT_EQ(decoded("&#x100000041;"), fffd(1));
}

TEST(LookupNamedEntity, Basics) {
    EXPECT_EQ(lookup_named_entity("ouml"), "ö");
    EXPECT_EQ(lookup_named_entity("eacute"), "é");
    EXPECT_TRUE(lookup_named_entity("").empty());
    EXPECT_TRUE(lookup_named_entity("nope").empty());
    EXPECT_TRUE(lookup_named_entity("ouml;").empty());  // name only, no ';'
}

TEST(DecodeEntitiesIn, DecodesEveryReferenceOnce) {
    auto dec = [](std::string_view s) {
        std::string out;
        decode_entities_in(s, out);
        return out;
    };
    EXPECT_EQ(dec("Caf&eacute; &amp; Bar"), "Café & Bar");
    EXPECT_EQ(dec("a & b"), "a & b");
    EXPECT_EQ(dec("&&amp;"), "&&");
    EXPECT_EQ(dec("&#35;1 &#x23;2"), "#1 #2");
    EXPECT_EQ(dec("AT&T;"), "AT&T;");
    EXPECT_EQ(dec("trailing &"), "trailing &");
    EXPECT_EQ(dec("&#x26;amp;"), "&amp;");  // no double decoding
    EXPECT_EQ(dec("&NotANamedEntity;x"), "&NotANamedEntity;x");
    EXPECT_EQ(dec("&" + std::string(40, 'a') + ";"), "&" + std::string(40, 'a') + ";");
    EXPECT_EQ(dec("x&CounterClockwiseContourIntegral;y"), "x\u2233y");
}

}  // namespace
}  // namespace bengal
