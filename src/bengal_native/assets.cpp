// The asset scanner. One forward pass over the bytes, memchr from '<' to '<' through text; the
// states that decide where markup starts and ends are the WHATWG HTML tokenizer's (cited by name
// in the comments), so quoting, comments and raw-text elements hide exactly what a browser hides.
// No tree is built: the only tree-construction rules applied are the ones that change what a
// reference is (<image> is <img>, the self-closing flag does not stop <script>/<style>).

#include "bengal_native/assets.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tsl/robin_set.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <thread>

#include "bengal_native/entities.hpp"
#include "bengal_native/utf8.hpp"

// ThreadSanitizer cannot see the synchronisation inside the system's (uninstrumented) oneTBB, so
// under TSan every parallel_for reports races in TBB's own task hand-off, which would bury any
// real report. In a TSan build the batch runs the same per-document body on std::threads, whose
// start and join TSan does see: races in our code are still found.
#if defined(__SANITIZE_THREAD__)
#define BENGAL_ASSETS_STD_THREADS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BENGAL_ASSETS_STD_THREADS 1
#endif
#endif

namespace bengal {
namespace {

// ---- character classes ------------------------------------------------------------------------

// Character classes of the tokenizer states, one table lookup per byte in the hot loops.
enum : std::uint8_t {
    kWs = 1,            // HTML "ASCII whitespace" (CR included: the preprocessor makes it LF)
    kTagNameEnd = 2,    // whitespace, '/', '>'      (tag name state)
    kAttrNameEnd = 4,   // whitespace, '/', '>', '=' (attribute name state)
    kUnquotedEnd = 8,   // whitespace, '>'           (attribute value (unquoted) state)
};
constexpr std::array<std::uint8_t, 256> make_char_classes() {
    std::array<std::uint8_t, 256> t{};
    for (unsigned char c : {' ', '\n', '\t', '\f', '\r'})
        t[c] = kWs | kTagNameEnd | kAttrNameEnd | kUnquotedEnd;
    t['/'] = kTagNameEnd | kAttrNameEnd;
    t['>'] = kTagNameEnd | kAttrNameEnd | kUnquotedEnd;
    t['='] = kAttrNameEnd;
    return t;
}
constexpr auto kCharClass = make_char_classes();
inline bool has_class(char c, std::uint8_t cls) noexcept {
    return (kCharClass[static_cast<unsigned char>(c)] & cls) != 0;
}
inline bool is_html_ws(char c) noexcept { return has_class(c, kWs); }
inline bool is_alpha(char c) noexcept { return static_cast<unsigned>((c | 0x20) - 'a') < 26u; }
inline bool is_digit(char c) noexcept { return static_cast<unsigned>(c - '0') < 10u; }
inline bool is_alnum(char c) noexcept { return is_alpha(c) || is_digit(c); }
inline bool is_hex(char c) noexcept {
    return is_digit(c) || static_cast<unsigned>((c | 0x20) - 'a') < 6u;
}
inline int hex_value(char c) noexcept { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }
inline char to_lower(char c) noexcept {
    return static_cast<unsigned>(c - 'A') < 26u ? static_cast<char>(c + 32) : c;
}

// The first `c` in [p, end), or nullptr. Inline and 16 bytes at a time: most searches in rendered
// HTML (the next '<', the closing quote of an attribute) end within a few bytes, where a call to
// memchr costs more than the search. Loads never extend past `end`.
inline const char* find_byte(const char* p, const char* end, char c) noexcept {
#if defined(__SSE2__)
    const __m128i needle = _mm_set1_epi8(c);
    while (end - p >= 16) {
        const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        const int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(chunk, needle));
        if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
        p += 16;
    }
#endif
    for (; p < end; ++p)
        if (*p == c) return p;
    return nullptr;
}

// `s` equals the lower-case ASCII word `lower`, ignoring ASCII case.
inline bool iequals(const char* s, std::size_t n, std::string_view lower) noexcept {
    if (n != lower.size()) return false;
    for (std::size_t i = 0; i < n; ++i)
        if (to_lower(s[i]) != lower[i]) return false;
    return true;
}

// ---- character references in attribute values ----------------------------------------------

// The named references that may appear without ';' (the HTML standard's legacy set: the entries
// of the named character reference table without a trailing semicolon). Generated with
// python3 -c "import html.entities as e; print(sorted(k for k in e.html5 if not k.endswith(';')))"
// Sorted by byte order for binary search.
constexpr std::array<std::string_view, 106> kLegacyEntities = {
    "AElig",  "AMP",    "Aacute", "Acirc",  "Agrave", "Aring",  "Atilde", "Auml",   "COPY",
    "Ccedil", "ETH",    "Eacute", "Ecirc",  "Egrave", "Euml",   "GT",     "Iacute", "Icirc",
    "Igrave", "Iuml",   "LT",     "Ntilde", "Oacute", "Ocirc",  "Ograve", "Oslash", "Otilde",
    "Ouml",   "QUOT",   "REG",    "THORN",  "Uacute", "Ucirc",  "Ugrave", "Uuml",   "Yacute",
    "aacute", "acirc",  "acute",  "aelig",  "agrave", "amp",    "aring",  "atilde", "auml",
    "brvbar", "ccedil", "cedil",  "cent",   "copy",   "curren", "deg",    "divide", "eacute",
    "ecirc",  "egrave", "eth",    "euml",   "frac12", "frac14", "frac34", "gt",     "iacute",
    "icirc",  "iexcl",  "igrave", "iquest", "iuml",   "laquo",  "lt",     "macr",   "micro",
    "middot", "nbsp",   "not",    "ntilde", "oacute", "ocirc",  "ograve", "ordf",   "ordm",
    "oslash", "otilde", "ouml",   "para",   "plusmn", "pound",  "quot",   "raquo",  "reg",
    "sect",   "shy",    "sup1",   "sup2",   "sup3",   "szlig",  "thorn",  "times",  "uacute",
    "ucirc",  "ugrave", "uml",    "uuml",   "yacute", "yen",    "yuml",
};
constexpr std::size_t kLongestLegacyEntity = 6;

bool is_legacy_entity(std::string_view name) noexcept {
    return std::binary_search(kLegacyEntities.begin(), kLegacyEntities.end(), name);
}

// Numeric references 0x80-0x9F name Windows-1252 characters (HTML "numeric character reference
// end state"); 0 means the code point is kept.
constexpr std::array<std::uint16_t, 32> kC1Remap = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

// Decodes the numeric reference starting at raw[i] == '&', raw[i+1] == '#'. Returns the index
// after it, or i when there are no digits (then the text is not a reference).
std::size_t decode_numeric_ref(std::string_view raw, std::size_t i, std::string& out) {
    std::size_t k = i + 2;
    const bool hex = k < raw.size() && (raw[k] == 'x' || raw[k] == 'X');
    if (hex) ++k;
    const std::size_t digits = k;
    std::uint32_t cp = 0;
    bool too_big = false;
    while (k < raw.size() && (hex ? is_hex(raw[k]) : is_digit(raw[k]))) {
        if (!too_big) {
            cp = cp * (hex ? 16u : 10u) + static_cast<std::uint32_t>(hex_value(raw[k]));
            too_big = cp > 0x10FFFF;
        }
        ++k;
    }
    if (k == digits) return i;
    if (k < raw.size() && raw[k] == ';') ++k;
    if (too_big || cp == 0) {
        cp = 0xFFFD;
    } else if (cp >= 0x80 && cp <= 0x9F && kC1Remap[cp - 0x80] != 0) {
        cp = kC1Remap[cp - 0x80];
    }
    append_utf8(out, cp);  // surrogates become U+FFFD there
    return k;
}

// ---- URL post-processing ----------------------------------------------------------------------

// What the URL parser does before anything else: strip leading/trailing C0 controls and spaces,
// remove ASCII tab and newline everywhere. Appends to `out`.
void normalize_url(std::string_view in, std::string& out) {
    std::size_t b = 0, e = in.size();
    while (b < e && static_cast<unsigned char>(in[b]) <= 0x20) ++b;
    while (e > b && static_cast<unsigned char>(in[e - 1]) <= 0x20) --e;
    const std::size_t start = out.size();
    out.append(in.data() + b, e - b);
    const auto is_tab_or_newline = [](char c) { return c == '\t' || c == '\n' || c == '\r'; };
    if (std::any_of(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(), is_tab_or_newline))
        out.erase(std::remove_if(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(),
                                 is_tab_or_newline),
                  out.end());
}

enum class UrlClass { excluded, local, external };

UrlClass classify_url(std::string_view url) noexcept {
    if (url.empty() || url.front() == '#') return UrlClass::excluded;
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
    if (is_alpha(url.front())) {
        std::size_t i = 1;
        while (i < url.size() &&
               (is_alnum(url[i]) || url[i] == '+' || url[i] == '-' || url[i] == '.'))
            ++i;
        if (i < url.size() && url[i] == ':') {
            const std::string_view scheme = url.substr(0, i);
            static constexpr std::string_view kExcluded[] = {"data",  "javascript", "vbscript",
                                                            "mailto", "tel",        "about",
                                                            "blob"};
            for (std::string_view x : kExcluded)
                if (iequals(scheme.data(), scheme.size(), x)) return UrlClass::excluded;
            return UrlClass::external;
        }
    }
    // Protocol-relative; browsers treat '\' as '/' in special-scheme URLs.
    if (url.size() >= 2 && (url[0] == '/' || url[0] == '\\') && (url[1] == '/' || url[1] == '\\'))
        return UrlClass::external;
    return UrlClass::local;
}

// ---- CSS --------------------------------------------------------------------------------------
// A subset of the CSS Syntax Level 3 tokenizer: every token kind is consumed with the standard's
// boundaries (so "url(" inside a comment, a string, a dimension like "1url(" or a hash like
// "#url(" is not a URL), but only url tokens, url( + string, and @import + string produce output.

class CssScanner {
public:
    CssScanner(std::string_view css, std::vector<std::string>& urls) : s_(css), urls_(urls) {}

    void run() {
        while (i_ < s_.size()) {
            const char c = s_[i_];
            if (c == '/' && peek(1) == '*') {
                skip_comment();
            } else if (c == '"' || c == '\'') {
                ++i_;
                std::string ignored;
                consume_string(c, ignored);
            } else if (c == '#') {
                ++i_;
                if (is_ident_char(peek(0)) || valid_escape(0)) consume_ident(nullptr);
            } else if (c == '@') {
                ++i_;
                if (starts_ident(0)) {
                    std::string name;
                    consume_ident(&name);
                    if (ascii_lower(name) == "import") after_import();
                }
            } else if (is_digit(c) || ((c == '+' || c == '.' || c == '-') && starts_number(0))) {
                consume_numeric();
            } else if ((c == '-' || c == '\\' || is_ident_start(c)) && starts_ident(0)) {
                consume_ident_like();
            } else {
                ++i_;
            }
        }
    }

private:
    std::string_view s_;
    std::vector<std::string>& urls_;
    std::size_t i_ = 0;

    // The byte at i_+k, or 0 at the end (NUL cannot occur as such: it reads as U+FFFD).
    char peek(std::size_t k) const noexcept { return i_ + k < s_.size() ? s_[i_ + k] : '\0'; }
    bool at_end(std::size_t k) const noexcept { return i_ + k >= s_.size(); }

    static bool is_newline(char c) noexcept { return c == '\n' || c == '\r' || c == '\f'; }
    static bool is_css_ws(char c) noexcept { return c == ' ' || c == '\t' || is_newline(c); }
    // NUL stands for U+FFFD (CSS input preprocessing), a non-ASCII ident code point; callers
    // check at_end() first since peek() also returns NUL past the end.
    static bool is_ident_start(char c) noexcept {
        return is_alpha(c) || c == '_' || c == '\0' || static_cast<unsigned char>(c) >= 0x80;
    }
    static bool is_ident_char(char c) noexcept {
        return is_ident_start(c) || is_digit(c) || c == '-';
    }
    static bool is_non_printable(char c) noexcept {
        const auto u = static_cast<unsigned char>(c);
        return (u >= 0x01 && u <= 0x08) || u == 0x0B || (u >= 0x0E && u <= 0x1F) || u == 0x7F;
    }
    static std::string ascii_lower(std::string s) {
        for (char& c : s) c = to_lower(c);
        return s;
    }

    // "Two code points are a valid escape" starting at i_+k (EOF after '\' counts as valid).
    bool valid_escape(std::size_t k) const noexcept {
        return peek(k) == '\\' && !is_newline(peek(k + 1));
    }
    bool starts_ident(std::size_t k) const noexcept {
        const char c = peek(k);
        if (at_end(k)) return false;
        if (c == '-') {
            const char d = peek(k + 1);
            return (!at_end(k + 1) && (is_ident_start(d) || d == '-')) || valid_escape(k + 1);
        }
        if (c == '\\') return valid_escape(k);
        return is_ident_start(c);
    }
    bool starts_number(std::size_t k) const noexcept {
        const char c = peek(k);
        if (c == '+' || c == '-') {
            if (is_digit(peek(k + 1))) return true;
            return peek(k + 1) == '.' && is_digit(peek(k + 2));
        }
        if (c == '.') return is_digit(peek(k + 1));
        return is_digit(c);
    }

    void skip_comment() {
        const std::size_t close = s_.find("*/", i_ + 2);
        i_ = close == std::string_view::npos ? s_.size() : close + 2;
    }

    // Consumes one newline; CRLF counts as one (CSS input preprocessing).
    void consume_newline() {
        if (peek(0) == '\r' && peek(1) == '\n') ++i_;
        ++i_;
    }

    // After the '\' of a valid escape: appends the escaped code point.
    void consume_escape(std::string* out) {
        if (at_end(0)) {
            if (out) out->append(kReplacementChar);
            return;
        }
        if (is_hex(s_[i_])) {
            std::uint32_t cp = 0;
            int n = 0;
            while (n < 6 && !at_end(0) && is_hex(s_[i_])) {
                cp = cp * 16 + static_cast<std::uint32_t>(hex_value(s_[i_]));
                ++i_;
                ++n;
            }
            if (is_css_ws(peek(0)) && !at_end(0)) {
                if (is_newline(peek(0))) {
                    consume_newline();
                } else {
                    ++i_;
                }
            }
            if (cp == 0 || cp > 0x10FFFF) cp = 0xFFFD;
            if (out) append_utf8(*out, cp);  // surrogates -> U+FFFD
            return;
        }
        append_char(out, s_[i_]);
        ++i_;
    }

    static void append_char(std::string* out, char c) {
        if (!out) return;
        if (c == '\0') {
            out->append(kReplacementChar);
        } else {
            out->push_back(c);
        }
    }

    void consume_ident(std::string* out) {
        while (!at_end(0)) {
            const char c = s_[i_];
            if (is_ident_char(c)) {
                append_char(out, c);
                ++i_;
            } else if (valid_escape(0)) {
                ++i_;
                consume_escape(out);
            } else {
                break;
            }
        }
    }

    // After the opening quote. Returns false for a bad string (unescaped newline).
    bool consume_string(char quote, std::string& out) {
        while (!at_end(0)) {
            const char c = s_[i_];
            if (c == quote) {
                ++i_;
                return true;
            }
            if (is_newline(c)) return false;  // the newline is not consumed
            if (c == '\\') {
                ++i_;
                if (at_end(0)) return true;
                if (is_newline(s_[i_])) {
                    consume_newline();  // line continuation
                } else {
                    consume_escape(&out);
                }
                continue;
            }
            append_char(&out, c);
            ++i_;
        }
        return true;  // EOF in a string: a parse error, the string is still a string
    }

    void consume_numeric() {
        if (peek(0) == '+' || peek(0) == '-') ++i_;
        while (is_digit(peek(0))) ++i_;
        if (peek(0) == '.' && is_digit(peek(1))) {
            i_ += 2;
            while (is_digit(peek(0))) ++i_;
        }
        if ((peek(0) == 'e' || peek(0) == 'E') &&
            (is_digit(peek(1)) || ((peek(1) == '+' || peek(1) == '-') && is_digit(peek(2))))) {
            i_ += 2;
            while (is_digit(peek(0))) ++i_;
        }
        if (starts_ident(0)) {
            consume_ident(nullptr);  // a dimension's unit
        } else if (peek(0) == '%') {
            ++i_;
        }
    }

    void consume_ident_like() {
        std::string name;
        consume_ident(&name);
        if (peek(0) != '(' || at_end(0)) return;
        ++i_;
        if (name.size() != 3 || ascii_lower(name) != "url") return;
        // "While the next two input code points are whitespace, consume the next input code point."
        while (is_css_ws(peek(0)) && is_css_ws(peek(1)) && !at_end(1)) {
            if (is_newline(peek(0))) {
                consume_newline();
            } else {
                ++i_;
            }
        }
        const std::size_t save = i_;
        if (is_css_ws(peek(0)) && !at_end(0)) {
            if (is_newline(peek(0))) {
                consume_newline();
            } else {
                ++i_;
            }
        }
        if (peek(0) == '"' || peek(0) == '\'') {
            // A function token url( followed by a string token: the string is the URL.
            const char q = s_[i_++];
            std::string value;
            if (consume_string(q, value)) urls_.push_back(std::move(value));
            return;
        }
        i_ = save;
        consume_url_token();
    }

    // "Consume a url token": after "url(" and leading whitespace.
    void consume_url_token() {
        while (!at_end(0) && is_css_ws(s_[i_])) ++i_;
        std::string value;
        while (true) {
            if (at_end(0)) {
                urls_.push_back(std::move(value));  // EOF: parse error, still a url token
                return;
            }
            const char c = s_[i_];
            if (c == ')') {
                ++i_;
                urls_.push_back(std::move(value));
                return;
            }
            if (is_css_ws(c)) {
                while (!at_end(0) && is_css_ws(s_[i_])) ++i_;
                if (at_end(0) || s_[i_] == ')') {
                    if (!at_end(0)) ++i_;
                    urls_.push_back(std::move(value));
                    return;
                }
                consume_bad_url_remnants();
                return;
            }
            if (c == '"' || c == '\'' || c == '(' || is_non_printable(c)) {
                consume_bad_url_remnants();
                return;
            }
            if (c == '\\') {
                if (valid_escape(0)) {
                    ++i_;
                    consume_escape(&value);
                    continue;
                }
                consume_bad_url_remnants();
                return;
            }
            append_char(&value, c);
            ++i_;
        }
    }

    void consume_bad_url_remnants() {
        while (!at_end(0)) {
            const char c = s_[i_];
            if (c == ')') {
                ++i_;
                return;
            }
            if (valid_escape(0)) {
                ++i_;
                consume_escape(nullptr);
            } else {
                ++i_;
            }
        }
    }

    // @import [ <string> | <url> ]: whitespace and comments may come first. A url token is
    // found by the main loop anyway, so only the string form is handled here.
    void after_import() {
        while (!at_end(0)) {
            if (is_css_ws(s_[i_])) {
                ++i_;
            } else if (s_[i_] == '/' && peek(1) == '*') {
                skip_comment();
            } else {
                break;
            }
        }
        if (peek(0) == '"' || peek(0) == '\'') {
            const char q = s_[i_++];
            std::string value;
            if (consume_string(q, value)) urls_.push_back(std::move(value));
        }
    }
};

// ---- the HTML scanner ---------------------------------------------------------------------------

// Elements whose attributes (or text) can reference assets, and elements whose content the
// tokenizer does not parse as markup.
enum class Tag : std::uint8_t {
    other,
    img,
    source,
    script,
    link,
    video,
    audio,
    track,
    iframe,
    embed,
    object,
    input,
    style,
    textarea,
    title,
    noembed,
    noframes,
    xmp,
    plaintext,
};

struct TagName {
    std::string_view name;
    Tag tag;
};
constexpr TagName kTags[] = {
    {"img", Tag::img},         {"image", Tag::img},  // "image" is parsed as "img" (tree builder)
    {"source", Tag::source},   {"script", Tag::script},     {"link", Tag::link},
    {"video", Tag::video},     {"audio", Tag::audio},       {"track", Tag::track},
    {"iframe", Tag::iframe},   {"embed", Tag::embed},       {"object", Tag::object},
    {"input", Tag::input},     {"style", Tag::style},       {"textarea", Tag::textarea},
    {"title", Tag::title},     {"noembed", Tag::noembed},   {"noframes", Tag::noframes},
    {"xmp", Tag::xmp},         {"plaintext", Tag::plaintext},
};

// First letters of the names above: most tags (p, a, li, div, code, ...) are rejected here.
constexpr std::uint32_t kTagFirstLetters = [] {
    std::uint32_t mask = 0;
    for (const TagName& t : kTags) mask |= 1u << (t.name[0] - 'a');
    return mask;
}();

Tag classify_tag(const char* name, std::size_t n) noexcept {
    if (n < 3 || n > 9) return Tag::other;
    const char first = to_lower(name[0]);
    if (!is_alpha(first) || !(kTagFirstLetters & (1u << (first - 'a')))) return Tag::other;
    for (const TagName& t : kTags)
        if (iequals(name, n, t.name)) return t.tag;
    return Tag::other;
}

std::string_view canonical_tag_name(Tag t) noexcept {
    switch (t) {
        case Tag::img: return "img";
        case Tag::source: return "source";
        case Tag::script: return "script";
        case Tag::link: return "link";
        case Tag::video: return "video";
        case Tag::audio: return "audio";
        case Tag::track: return "track";
        case Tag::iframe: return "iframe";
        case Tag::embed: return "embed";
        case Tag::object: return "object";
        case Tag::input: return "input";
        case Tag::style: return "style";
        case Tag::textarea: return "textarea";
        case Tag::title: return "title";
        case Tag::noembed: return "noembed";
        case Tag::noframes: return "noframes";
        case Tag::xmp: return "xmp";
        case Tag::plaintext: return "plaintext";
        case Tag::other: break;
    }
    return {};
}

// Attributes that matter; each has one slot per tag (the first occurrence wins, as in the
// tokenizer, which drops duplicate attributes).
enum class Attr : std::uint8_t { src, srcset, href, poster, data, type, style, imagesrcset, count };
constexpr std::string_view kAttrNames[] = {"src",  "srcset", "href",  "poster",
                                           "data", "type",   "style", "imagesrcset"};

constexpr std::uint32_t bit(Attr a) { return 1u << static_cast<unsigned>(a); }

// The attribute a name denotes, or Attr::count. Dispatches on the length first: most attribute
// names on a page (class, id, alt, title, width, ...) are rejected without a comparison.
inline Attr classify_attr(const char* name, std::size_t n) noexcept {
    switch (n) {
        case 3: return iequals(name, n, "src") ? Attr::src : Attr::count;
        case 4:
            if (iequals(name, n, "href")) return Attr::href;
            if (iequals(name, n, "data")) return Attr::data;
            if (iequals(name, n, "type")) return Attr::type;
            return Attr::count;
        case 5: return iequals(name, n, "style") ? Attr::style : Attr::count;
        case 6:
            if (iequals(name, n, "srcset")) return Attr::srcset;
            if (iequals(name, n, "poster")) return Attr::poster;
            return Attr::count;
        case 11: return iequals(name, n, "imagesrcset") ? Attr::imagesrcset : Attr::count;
        default: return Attr::count;
    }
}

std::uint32_t wanted_attrs(Tag t) noexcept {
    const std::uint32_t style = bit(Attr::style);
    switch (t) {
        case Tag::img:
        case Tag::source: return style | bit(Attr::src) | bit(Attr::srcset);
        case Tag::script:
        case Tag::audio:
        case Tag::track:
        case Tag::iframe:
        case Tag::embed: return style | bit(Attr::src);
        case Tag::link: return style | bit(Attr::href) | bit(Attr::imagesrcset);
        case Tag::video: return style | bit(Attr::src) | bit(Attr::poster);
        case Tag::object: return style | bit(Attr::data);
        case Tag::input: return style | bit(Attr::src) | bit(Attr::type);
        default: return style;
    }
}

// Deliberately without default member initialisers: an array of these lives on the stack of
// every start tag and is only read up to the count that was filled.
struct AttrValue {
    Attr attr;
    const char* data;  // undecoded value: a view into the document
    std::size_t size;
    std::string_view raw() const noexcept { return {data, size}; }
};

// How many references a page may have before de-duplication switches from a linear scan to a
// hash set (a typical page has fewer; a gallery page may have thousands).
constexpr std::size_t kLinearDedupLimit = 16;

// The de-duplication set holds indexes into the result vector and hashes/compares the URLs
// there, so no URL is copied into it; lookups take the candidate URL as a string_view.
struct RefIndexHash {
    const std::vector<AssetRef>* refs;
    using is_transparent = void;
    std::size_t operator()(std::string_view url) const noexcept {
        return std::hash<std::string_view>{}(url);
    }
    std::size_t operator()(std::uint32_t i) const noexcept { return (*this)((*refs)[i].url); }
};
struct RefIndexEqual {
    const std::vector<AssetRef>* refs;
    using is_transparent = void;
    bool operator()(std::uint32_t a, std::uint32_t b) const noexcept { return a == b; }
    bool operator()(std::uint32_t a, std::string_view b) const noexcept { return (*refs)[a].url == b; }
    bool operator()(std::string_view a, std::uint32_t b) const noexcept { return a == (*refs)[b].url; }
};

class HtmlScanner {
public:
    explicit HtmlScanner(std::string_view html)
        : begin_(html.data()), p_(html.data()), end_(html.data() + html.size()) {}

    std::vector<AssetRef> run() {
        if (begin_ == nullptr) return {};
        while (p_ < end_) {
            const char* lt = find_byte(p_, end_, '<');
            if (lt == nullptr) break;
            p_ = lt + 1;
            if (p_ >= end_) break;
            const char c = *p_;
            if (is_alpha(c)) {
                start_tag();
            } else if (c == '/') {
                ++p_;
                end_tag_open();
            } else if (c == '!') {
                ++p_;
                markup_declaration();
            } else if (c == '?') {
                bogus_comment();
            }
            // Anything else: the '<' was text.
        }
        return std::move(out_);
    }

private:
    const char* begin_;
    const char* p_;
    const char* end_;
    std::vector<AssetRef> out_;
    // Used once out_ outgrows kLinearDedupLimit.
    tsl::robin_set<std::uint32_t, RefIndexHash, RefIndexEqual> seen_{0, RefIndexHash{&out_},
                                                                      RefIndexEqual{&out_}};
    std::string decoded_;               // scratch: an entity-decoded attribute value
    std::string url_;                   // scratch: a normalised URL
    std::vector<std::string_view> candidates_;
    std::vector<std::string> css_urls_;

    std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - p_); }

    void skip_ws() noexcept {
        while (p_ < end_ && has_class(*p_, kWs)) ++p_;
    }

    // Bogus comment / DOCTYPE / processing instruction: up to and including the next '>'.
    void bogus_comment() noexcept {
        const void* gt = std::memchr(p_, '>', left());
        p_ = gt ? static_cast<const char*>(gt) + 1 : end_;
    }

    // After "<!".
    void markup_declaration() noexcept {
        if (left() >= 2 && p_[0] == '-' && p_[1] == '-') {
            p_ += 2;
            comment();
        } else if (left() >= 7 && std::memcmp(p_, "[CDATA[", 7) == 0) {
            // A CDATA section: in foreign content the standard ends it at "]]>"; in HTML content
            // it is a bogus comment ending at the first '>'. We end it at "]]>" everywhere so that
            // CDATA text never yields references (docs/assets.md).
            p_ += 7;
            const std::string_view rest(p_, left());
            const std::size_t close = rest.find("]]>");
            p_ = close == std::string_view::npos ? end_ : p_ + close + 3;
        } else {
            bogus_comment();  // includes <!DOCTYPE ...>: it also ends at the first '>'
        }
    }

    // After "<!--". Ends at "-->" or "--!>" (after any run of dashes), or at once for the
    // abrupt "<!-->" and "<!--->"; an unterminated comment runs to the end of the input.
    void comment() noexcept {
        if (p_ < end_ && *p_ == '>') {
            ++p_;
            return;
        }
        if (left() >= 2 && p_[0] == '-' && p_[1] == '>') {
            p_ += 2;
            return;
        }
        const char* q = p_;
        while (q < end_) {
            const void* dash = std::memchr(q, '-', static_cast<std::size_t>(end_ - q));
            if (dash == nullptr) break;
            const char* d = static_cast<const char*>(dash);
            if (d + 1 < end_ && d[1] == '-') {
                const char* e = d + 2;
                while (e < end_ && *e == '-') ++e;
                if (e < end_ && *e == '>') {
                    p_ = e + 1;
                    return;
                }
                if (e + 1 < end_ && e[0] == '!' && e[1] == '>') {
                    p_ = e + 2;
                    return;
                }
                q = e;  // no later start inside this run of dashes can do better
                continue;
            }
            q = d + 1;
        }
        p_ = end_;
    }

    // After "</".
    void end_tag_open() {
        if (p_ >= end_) return;
        if (is_alpha(*p_)) {
            // End tags go through the same attribute states as start tags (so a quoted '>' does
            // not end them); their attributes are ignored.
            parse_tag_body(0, nullptr, nullptr);
            return;
        }
        if (*p_ == '>') {
            ++p_;
            return;
        }
        bogus_comment();
    }

    // p_ at the first character of the tag name. Consumes the name and the attributes up to and
    // including '>'. Records the values of the `wanted` attributes (bit set of Attr) in `values`
    // (first occurrence wins). Returns false at EOF inside the tag (no token is emitted then).
    bool parse_tag_body(std::uint32_t wanted, AttrValue* values, std::size_t* count) {
        while (p_ < end_ && !has_class(*p_, kTagNameEnd)) ++p_;
        std::uint32_t seen = 0;
        for (;;) {
            skip_ws();
            if (p_ >= end_) return false;
            const char c = *p_;
            if (c == '>') {
                ++p_;
                return true;
            }
            if (c == '/') {  // self-closing start tag state; a '>' next is handled above
                ++p_;
                continue;
            }
            // Attribute name state: the first character is part of the name even when it is '='.
            const char* name = p_++;
            while (p_ < end_ && !has_class(*p_, kAttrNameEnd)) ++p_;
            const std::size_t name_len = static_cast<std::size_t>(p_ - name);
            // After attribute name state.
            skip_ws();
            if (p_ >= end_) return false;
            std::string_view value;
            if (*p_ == '=') {
                ++p_;
                skip_ws();  // before attribute value state
                if (p_ >= end_) return false;
                const char q = *p_;
                if (q == '"' || q == '\'') {
                    const char* v = p_ + 1;
                    const char* close = find_byte(v, end_, q);
                    if (close == nullptr) {
                        p_ = end_;  // EOF in the value: the unfinished tag swallows the rest
                        return false;
                    }
                    value = std::string_view(v, static_cast<std::size_t>(
                                                    close - v));
                    p_ = close + 1;
                } else if (q != '>') {
                    const char* v = p_;
                    while (p_ < end_ && !has_class(*p_, kUnquotedEnd)) ++p_;
                    value = std::string_view(v, static_cast<std::size_t>(p_ - v));
                }
                // q == '>': missing value; the loop top emits the tag.
            }
            if (wanted != 0) {
                const Attr a = classify_attr(name, name_len);
                const std::uint32_t b = a == Attr::count ? 0 : bit(a);
                if ((wanted & b) && !(seen & b)) {
                    seen |= b;
                    values[(*count)++] = AttrValue{a, value.data(), value.size()};
                }
            }
        }
    }

    // p_ at the first letter of a start tag name.
    void start_tag() {
        const char* name = p_;
        const char* name_end = p_;
        while (name_end < end_ && !has_class(*name_end, kTagNameEnd)) ++name_end;
        const std::size_t name_len = static_cast<std::size_t>(name_end - name);
        const Tag tag = classify_tag(name, name_len);
        p_ = name_end;
        AttrValue values[static_cast<unsigned>(Attr::count)];
        std::size_t count = 0;
        if (!parse_tag_body(wanted_attrs(tag), values, &count)) return;  // EOF in tag
        if (count != 0) emit_attributes(tag, std::string_view(name, name_len), values, count);
        switch (tag) {
            case Tag::script: skip_script_data(); break;
            case Tag::style: {
                const char* body = p_;
                const char* close = find_end_tag(p_, "style");
                scan_css(std::string_view(body, static_cast<std::size_t>(close - body)), "style",
                         "");
                after_raw_text(close);
                break;
            }
            case Tag::textarea:
            case Tag::title:
            case Tag::iframe:
            case Tag::noembed:
            case Tag::noframes:
            case Tag::xmp: after_raw_text(find_end_tag(p_, canonical_tag_name(tag))); break;
            case Tag::plaintext: p_ = end_; break;
            default: break;
        }
    }

    // `close` is the '<' of the end tag that ends a raw-text/RCDATA/script element, or end_.
    void after_raw_text(const char* close) {
        if (close >= end_) {
            p_ = end_;
            return;
        }
        p_ = close + 2;  // at the tag name
        parse_tag_body(0, nullptr, nullptr);
    }

    // True when `lt` starts "</name" followed by whitespace, '/' or '>' (an "appropriate end
    // tag" in the RCDATA / RAWTEXT / script data end tag name states).
    bool is_end_tag_at(const char* lt, std::string_view name) const noexcept {
        const std::size_t need = 2 + name.size() + 1;
        if (static_cast<std::size_t>(end_ - lt) < need || lt[1] != '/') return false;
        if (!iequals(lt + 2, name.size(), name)) return false;
        const char c = lt[2 + name.size()];
        return is_html_ws(c) || c == '/' || c == '>';
    }

    const char* find_end_tag(const char* from, std::string_view name) const noexcept {
        const char* q = from;
        while (q < end_) {
            const void* lt = std::memchr(q, '<', static_cast<std::size_t>(end_ - q));
            if (lt == nullptr) return end_;
            const char* l = static_cast<const char*>(lt);
            if (is_end_tag_at(l, name)) return l;
            q = l + 1;
        }
        return end_;
    }

    // The script data states, escaped and double-escaped ones included ("<!--" then "<script>"
    // inside a script hides a "</script>"). Leaves p_ after the end tag, or at end_.
    void skip_script_data() {
        enum State { data, esc, esc_dash, esc_dash_dash, desc, desc_dash, desc_dash_dash };
        State st = data;
        const char* q = p_;
        while (q < end_) {
            if (st == data) {
                const void* lt = std::memchr(q, '<', static_cast<std::size_t>(end_ - q));
                if (lt == nullptr) break;
                const char* l = static_cast<const char*>(lt);
                if (is_end_tag_at(l, "script")) {
                    after_raw_text(l);
                    return;
                }
                q = l + 1;
                if (end_ - q >= 3 && q[0] == '!' && q[1] == '-' && q[2] == '-') {
                    q += 3;
                    st = esc_dash_dash;
                }
                continue;
            }
            const char c = *q;
            if (c == '<') {
                if (st == esc || st == esc_dash || st == esc_dash_dash) {
                    if (is_end_tag_at(q, "script")) {
                        after_raw_text(q);
                        return;
                    }
                    ++q;
                    st = esc;
                    // Script data double escape start state: letters, then a delimiter.
                    const char* w = q;
                    while (w < end_ && is_alpha(*w)) ++w;
                    if (w > q && w < end_ && (is_html_ws(*w) || *w == '/' || *w == '>') &&
                        iequals(q, static_cast<std::size_t>(w - q), "script")) {
                        st = desc;
                        q = w + 1;
                    }
                } else {
                    ++q;
                    st = desc;
                    // Script data double escape end state: "</script" + delimiter -> escaped.
                    if (q < end_ && *q == '/') {
                        const char* w = q + 1;
                        while (w < end_ && is_alpha(*w)) ++w;
                        if (w < end_ && (is_html_ws(*w) || *w == '/' || *w == '>') &&
                            iequals(q + 1, static_cast<std::size_t>(w - q - 1), "script")) {
                            st = esc;
                            q = w + 1;
                        }
                    }
                }
                continue;
            }
            ++q;
            const bool escaped = st == esc || st == esc_dash || st == esc_dash_dash;
            if (c == '-') {
                if (st == esc) st = esc_dash;
                else if (st == esc_dash) st = esc_dash_dash;
                else if (st == desc) st = desc_dash;
                else if (st == desc_dash) st = desc_dash_dash;
                // *_dash_dash: stays
            } else if (c == '>' && (st == esc_dash_dash || st == desc_dash_dash)) {
                st = data;
            } else {
                st = escaped ? esc : desc;
            }
        }
        p_ = end_;
    }

    // ---- emitting ----------------------------------------------------------------------------

    // The decoded value of an attribute, in decoded_ (a view of the raw text when no decoding is
    // needed).
    std::string_view decode(std::string_view raw) {
        if (raw.find('&') == std::string_view::npos && raw.find('\0') == std::string_view::npos)
            return raw;
        decoded_.clear();
        decode_html_attribute(raw, decoded_);
        return decoded_;
    }

    void emit_attributes(Tag tag, std::string_view raw_name, const AttrValue* values,
                         std::size_t count) {
        bool input_is_image = false;
        if (tag == Tag::input) {
            for (std::size_t i = 0; i < count; ++i) {
                if (values[i].attr == Attr::type) {
                    const std::string_view t = decode(values[i].raw());
                    input_is_image = iequals(t.data(), t.size(), "image");
                }
            }
        }
        const std::string_view tag_name = canonical_tag_name(tag);
        for (std::size_t i = 0; i < count; ++i) {
            const Attr a = values[i].attr;
            const std::string_view attr_name = kAttrNames[static_cast<unsigned>(a)];
            switch (a) {
                case Attr::type: break;
                case Attr::src:
                    if (tag == Tag::input && !input_is_image) break;
                    [[fallthrough]];
                case Attr::href:
                case Attr::poster:
                case Attr::data: add(decode(values[i].raw()), tag_name, attr_name); break;
                case Attr::srcset:
                case Attr::imagesrcset: {
                    candidates_.clear();
                    split_srcset(decode(values[i].raw()), candidates_);
                    for (std::string_view u : candidates_) add(u, tag_name, attr_name);
                    break;
                }
                case Attr::style: {
                    const std::string_view css = decode(values[i].raw());
                    if (tag_name.empty()) {
                        scan_css(css, lower_tag_name(raw_name), attr_name);
                    } else {
                        scan_css(css, tag_name, attr_name);
                    }
                    break;
                }
                case Attr::count: break;
            }
        }
    }

    // The tokenizer's tag name: ASCII lower-cased, NUL -> U+FFFD.
    static std::string lower_tag_name(std::string_view raw) {
        std::string name;
        name.reserve(raw.size());
        for (char c : raw) {
            if (c == '\0') {
                name.append(kReplacementChar);
            } else {
                name.push_back(to_lower(c));
            }
        }
        return name;
    }

    void scan_css(std::string_view css, std::string_view tag, std::string_view attr) {
        // Nothing can be a URL without a '(' (url token) or an '@' (@import "..."). An empty
        // value may have a null data pointer, which memchr must not see.
        if (css.empty()) return;
        if (std::memchr(css.data(), '(', css.size()) == nullptr &&
            std::memchr(css.data(), '@', css.size()) == nullptr)
            return;
        css_urls_.clear();
        scan_css_urls(css, css_urls_);
        for (const std::string& u : css_urls_) add(u, tag, attr);
    }

    void add(std::string_view value, std::string_view tag, std::string_view attr) {
        url_.clear();
        normalize_url(value, url_);
        const UrlClass cls = classify_url(url_);
        if (cls == UrlClass::excluded) return;
        if (find_invalid_utf8(url_) != std::string::npos) url_ = sanitize_utf8(url_);
        if (out_.size() < kLinearDedupLimit) {
            for (const AssetRef& r : out_)
                if (r.url == url_) return;
        } else {
            if (seen_.empty()) {
                seen_.reserve(4 * kLinearDedupLimit);
                for (std::uint32_t i = 0; i < out_.size(); ++i) seen_.insert(i);
            }
            if (seen_.find(std::string_view(url_)) != seen_.end()) return;
        }
        if (out_.empty()) out_.reserve(kLinearDedupLimit);  // pages with references have several
        AssetRef ref;
        ref.url = url_;
        ref.tag = find_invalid_utf8(tag) == std::string::npos ? std::string(tag)
                                                               : sanitize_utf8(tag);
        ref.attr = std::string(attr);
        ref.is_external = cls == UrlClass::external;
        out_.push_back(std::move(ref));
        if (!seen_.empty()) seen_.insert(static_cast<std::uint32_t>(out_.size() - 1));
    }
};

}  // namespace

void decode_html_attribute(std::string_view raw, std::string& out) {
    const std::size_t n = raw.size();
    std::size_t i = 0;
    while (i < n) {
        std::size_t j = i;
        while (j < n && raw[j] != '&' && raw[j] != '\0') ++j;
        out.append(raw.substr(i, j - i));
        i = j;
        if (i >= n) break;
        if (raw[i] == '\0') {
            out.append(kReplacementChar);
            ++i;
            continue;
        }
        // raw[i] == '&': character reference state.
        if (i + 1 < n && raw[i + 1] == '#') {
            const std::size_t k = decode_numeric_ref(raw, i, out);
            if (k == i) {
                out.push_back('&');  // "&#" without digits is text
                ++i;
            } else {
                i = k;
            }
            continue;
        }
        const std::size_t s = i + 1;
        std::size_t k = s;
        while (k < n && is_alnum(raw[k]) && k - s < 64) ++k;
        if (k == s) {
            out.push_back('&');
            ++i;
            continue;
        }
        const std::string_view run = raw.substr(s, k - s);
        if (k < n && raw[k] == ';') {
            const std::string_view text = lookup_named_entity(run);
            if (!text.empty()) {
                out.append(text);
                i = k + 1;
                continue;
            }
        }
        // The longest legacy name (no ';') that prefixes the run.
        std::size_t best = 0;
        for (std::size_t len = std::min(run.size(), kLongestLegacyEntity); len >= 2; --len) {
            if (is_legacy_entity(run.substr(0, len))) {
                best = len;
                break;
            }
        }
        if (best == 0) {
            out.append(raw.substr(i, k - i));  // an ambiguous ampersand: kept as written
            i = k;
            continue;
        }
        const std::size_t after = s + best;
        if (after < n && (raw[after] == '=' || is_alnum(raw[after]))) {
            // In attribute values "&copy=" and "&copyx" stay as written (query strings).
            out.append(raw.substr(i, after - i));
        } else {
            out.append(lookup_named_entity(run.substr(0, best)));
        }
        i = after;
    }
}

void split_srcset(std::string_view v, std::vector<std::string_view>& urls) {
    // HTML "parse a srcset attribute", keeping only the URLs.
    const std::size_t n = v.size();
    std::size_t i = 0;
    for (;;) {
        while (i < n && (is_html_ws(v[i]) || v[i] == ',')) ++i;
        if (i >= n) return;
        const std::size_t s = i;
        while (i < n && !is_html_ws(v[i])) ++i;
        std::string_view url = v.substr(s, i - s);
        if (url.back() == ',') {
            while (!url.empty() && url.back() == ',') url.remove_suffix(1);
            urls.push_back(url);
            continue;  // no descriptors
        }
        urls.push_back(url);
        // Descriptor tokenizer: a candidate ends at a ',' outside parentheses.
        while (i < n && is_html_ws(v[i])) ++i;
        enum { in_descriptor, in_parens, after_descriptor } st = in_descriptor;
        while (i < n) {
            const char c = v[i];
            if (st == in_descriptor) {
                if (is_html_ws(c)) {
                    st = after_descriptor;
                } else if (c == ',') {
                    ++i;
                    break;
                } else if (c == '(') {
                    st = in_parens;
                }
                ++i;
            } else if (st == in_parens) {
                if (c == ')') st = in_descriptor;
                ++i;
            } else {
                if (is_html_ws(c)) {
                    ++i;
                } else {
                    st = in_descriptor;  // reconsume
                }
            }
        }
    }
}

void scan_css_urls(std::string_view css, std::vector<std::string>& urls) {
    CssScanner(css, urls).run();
}

std::vector<AssetRef> extract_assets(std::string_view html) { return HtmlScanner(html).run(); }

std::vector<std::vector<AssetRef>> extract_assets_batch(const std::vector<std::string_view>& docs) {
    std::vector<std::vector<AssetRef>> results(docs.size());
    std::vector<std::exception_ptr> errors(docs.size());
    auto one = [&](std::size_t i) noexcept {
        try {
            results[i] = extract_assets(docs[i]);
        } catch (...) {
            errors[i] = std::current_exception();
        }
    };
#if defined(BENGAL_ASSETS_STD_THREADS)
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> threads;
    const unsigned n = std::max(2u, std::thread::hardware_concurrency());
    for (unsigned t = 0; t < n; ++t)
        threads.emplace_back([&] {
            for (std::size_t i; (i = next.fetch_add(1)) < docs.size();) one(i);
        });
    for (std::thread& t : threads) t.join();
#else
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, docs.size()),
                      [&](const tbb::blocked_range<std::size_t>& range) {
                          for (std::size_t i = range.begin(); i != range.end(); ++i) one(i);
                      });
#endif
    for (const std::exception_ptr& e : errors)
        if (e) std::rethrow_exception(e);
    return results;
}

}  // namespace bengal
