// The HTML emitter. md4c parses and calls back; this file turns the callbacks into HTML and
// collects everything else a page needs (ids, TOC, xrefs, images, warnings) in the same pass.
//
// Output follows cmark's HTML shape (the shape of the CommonMark spec's examples): a block tag
// always starts on a new line, void elements are written XHTML-style ("<hr />").

#include "bengal_native/markdown.hpp"

#include <md4c.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include "bengal_native/entities.hpp"
#include "bengal_native/parallel.hpp"
#include "bengal_native/slug.hpp"
#include "bengal_native/utf8.hpp"

namespace bengal {
namespace {

// ---- escaping -------------------------------------------------------------------------------

constexpr std::array<std::uint8_t, 256> make_html_escape_table() {
    std::array<std::uint8_t, 256> t{};
    t['&'] = 1;
    t['<'] = 2;
    t['>'] = 3;
    t['"'] = 4;
    return t;
}
constexpr auto kHtmlEscape = make_html_escape_table();
constexpr std::string_view kHtmlEscapes[] = {"", "&amp;", "&lt;", "&gt;", "&quot;"};

// True when any byte of `w` is one of & < > " (SWAR: a byte equal to c makes (w ^ c*k) zero).
inline bool has_html_special(std::uint64_t w) {
    constexpr std::uint64_t k01 = 0x0101010101010101ULL, k80 = 0x8080808080808080ULL;
    auto zero_byte = [&](std::uint64_t v) { return (v - k01) & ~v & k80; };
    return (zero_byte(w ^ (k01 * '&')) | zero_byte(w ^ (k01 * '<')) | zero_byte(w ^ (k01 * '>')) |
            zero_byte(w ^ (k01 * '"'))) != 0;
}

void escape_html(std::string& out, const char* s, std::size_t n) {
    std::size_t run = 0;
    std::size_t i = 0;
    while (i < n) {
        // Skip eight clean bytes at a time; most text has nothing to escape.
        while (i + 8 <= n) {
            std::uint64_t w;
            std::memcpy(&w, s + i, 8);
            if (has_html_special(w)) break;
            i += 8;
        }
        const std::size_t stop = std::min(n, i + 8);
        for (; i < stop; ++i) {
            const std::uint8_t e = kHtmlEscape[static_cast<unsigned char>(s[i])];
            if (e == 0) continue;
            out.append(s + run, i - run);
            out.append(kHtmlEscapes[e]);
            run = i + 1;
        }
    }
    out.append(s + run, n - run);
}
inline void escape_html(std::string& out, std::string_view s) { escape_html(out, s.data(), s.size()); }

// Characters kept as-is in URLs (cmark's set); '&' becomes "&amp;", "'" becomes "&#x27;" and
// everything else is percent-encoded byte by byte. Existing %XX escapes are kept.
constexpr std::array<bool, 256> make_url_safe_table() {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
    for (char c : std::string_view("-_.+!*(),%#@?=;:/,+$~")) t[static_cast<unsigned char>(c)] = true;
    return t;
}
constexpr auto kUrlSafe = make_url_safe_table();

void escape_url(std::string& out, std::string_view s, bool keep_non_ascii = false) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (kUrlSafe[c] || (keep_non_ascii && c >= 0x80)) {
            out.push_back(ch);
        } else if (c == '&') {
            out.append("&amp;");
        } else if (c == '\'') {
            out.append("&#x27;");
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
}

// md4c attributes arrive as substrings typed normal / entity / NUL; decode them to plain text.
std::string attribute_text(const MD_ATTRIBUTE& a) {
    std::string out;
    if (a.text == nullptr || a.size == 0) return out;
    if (a.substr_offsets == nullptr || a.substr_types == nullptr) {
        out.assign(a.text, a.size);
        return out;
    }
    for (int i = 0; a.substr_offsets[i] < a.size; ++i) {
        const MD_OFFSET off = a.substr_offsets[i];
        const MD_OFFSET end = a.substr_offsets[i + 1];
        std::string_view piece(a.text + off, end - off);
        switch (a.substr_types[i]) {
            case MD_TEXT_NULLCHAR: out.append(kReplacementChar); break;
            case MD_TEXT_ENTITY: decode_entity(piece, out); break;
            default: out.append(piece); break;
        }
    }
    return out;
}

// ---- GFM tag filter ---------------------------------------------------------------------------

bool ascii_ieq(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
        if (x != b[i]) return false;
    }
    return true;
}

void append_tagfiltered(std::string& out, std::string_view html) {
    static constexpr std::string_view kFiltered[] = {"title", "textarea", "style", "xmp", "iframe",
                                                     "noembed", "noframes", "script", "plaintext"};
    std::size_t run = 0;
    for (std::size_t i = 0; i < html.size(); ++i) {
        if (html[i] != '<') continue;
        std::size_t j = i + 1;
        if (j < html.size() && html[j] == '/') ++j;
        std::size_t k = j;
        while (k < html.size() && ((html[k] >= 'a' && html[k] <= 'z') || (html[k] >= 'A' && html[k] <= 'Z'))) ++k;
        if (k == j) continue;
        const bool boundary = k == html.size() || html[k] == '>' || html[k] == ' ' || html[k] == '\t' ||
                              html[k] == '\n' || html[k] == '\r' || html[k] == '\f' ||
                              (html[k] == '/' && k + 1 < html.size() && html[k + 1] == '>');
        if (!boundary) continue;
        const std::string_view name = html.substr(j, k - j);
        for (auto f : kFiltered) {
            if (ascii_ieq(name, f)) {
                out.append(html.substr(run, i - run));
                out.append("&lt;");
                run = i + 1;
                break;
            }
        }
    }
    out.append(html.substr(run));
}

// ---- directives -----------------------------------------------------------------------------

struct DirectiveKind {
    std::string_view name;
    std::string_view title;
};
constexpr DirectiveKind kDirectives[] = {
    {"note", "Note"},         {"tip", "Tip"},         {"important", "Important"},
    {"warning", "Warning"},   {"caution", "Caution"}, {"danger", "Danger"},
    {"seealso", "See also"},
};

const DirectiveKind* find_directive(std::string_view name) {
    for (const auto& d : kDirectives)
        if (d.name == name) return &d;
    return nullptr;
}

// Parses a fence info string of the form "{name} optional title". Returns false when the info
// string is not a directive at all (then the fence is ordinary code).
bool parse_directive_info(std::string_view info, std::string& name, std::string& title) {
    if (info.size() < 3 || info.front() != '{') return false;
    const std::size_t close = info.find('}');
    if (close == std::string_view::npos || close < 2) return false;
    std::string_view n = info.substr(1, close - 1);
    for (char c : n) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '_' || c == ':';
        if (!ok) return false;
    }
    name.assign(n);
    std::string_view rest = info.substr(close + 1);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    title.assign(rest);
    return true;
}

bool is_custom_id_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == ':' || c == '.' || c >= 0x80;
}

// If `text` ends with "{#id}" (after trailing spaces), returns the length of that suffix
// including the spaces before it, and sets `id`. Otherwise returns 0.
std::size_t custom_id_suffix(std::string_view text, std::string& id) {
    std::size_t end = text.size();
    while (end > 0 && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
    if (end < 4 || text[end - 1] != '}') return 0;
    const std::size_t open = text.rfind("{#", end - 1);
    if (open == std::string_view::npos) return 0;
    std::string_view cand = text.substr(open + 2, end - 1 - (open + 2));
    if (cand.empty()) return 0;
    for (char c : cand)
        if (!is_custom_id_char(static_cast<unsigned char>(c))) return 0;
    std::size_t start = open;
    while (start > 0 && (text[start - 1] == ' ' || text[start - 1] == '\t')) --start;
    id.assign(cand);
    return text.size() - start;
}

// ---- the renderer state ---------------------------------------------------------------------

struct Document {
    const char* begin = nullptr;
    std::size_t size = 0;
    // The line of this document's first line is only computed when a line number is needed:
    // for a directive body, `origin` points at the body's first line in the enclosing document.
    const Document* parent = nullptr;
    const char* origin = nullptr;
    int line_offset = 0;                       // extra lines (directive options) before `begin`
    mutable int line_base = 0;                 // 0 until computed
    // Line lookups come in document order, so the newline count is carried forward from the
    // previous answer instead of indexing the whole document.
    mutable std::size_t counted_to = 0;
    mutable int counted_lines = 0;

    int base() const {
        if (line_base == 0) {
            const int at = parent != nullptr ? parent->line_of(origin) : 1;
            line_base = (at > 0 ? at : 1) + line_offset;
        }
        return line_base;
    }

    bool contains(const char* p) const { return p >= begin && p < begin + size; }
    int line_of(const char* p) const {
        if (!contains(p)) return 0;
        const auto off = static_cast<std::size_t>(p - begin);
        if (off >= counted_to) {
            counted_lines += static_cast<int>(std::count(begin + counted_to, begin + off, '\n'));
        } else {  // a step back (a heading's start after its last xref): uncount the distance
            counted_lines -= static_cast<int>(std::count(begin + off, begin + counted_to, '\n'));
        }
        counted_to = off;
        return base() + counted_lines;
    }
};

class Renderer {
public:
    Renderer(const RenderOptions& opt, const XrefIndex* index, RenderResult& res)
        : opt_(opt), index_(index), res_(res), out_(&res.html) {}

    // `parent`/`origin`/`line_offset` locate a nested document (a directive body) in the
    // enclosing one for line numbers; all null/0 for the page itself.
    void render_document(std::string_view text, const Document* parent, const char* origin,
                         int line_offset, int depth);

private:
    // md4c trampolines ----------------------------------------------------------------------
    static int cb_enter_block(MD_BLOCKTYPE t, void* d, void* u) noexcept {
        return static_cast<Renderer*>(u)->guard([&](Renderer& r) { r.enter_block(t, d); });
    }
    static int cb_leave_block(MD_BLOCKTYPE t, void* d, void* u) noexcept {
        return static_cast<Renderer*>(u)->guard([&](Renderer& r) { r.leave_block(t, d); });
    }
    static int cb_enter_span(MD_SPANTYPE t, void* d, void* u) noexcept {
        return static_cast<Renderer*>(u)->guard([&](Renderer& r) { r.enter_span(t, d); });
    }
    static int cb_leave_span(MD_SPANTYPE t, void* d, void* u) noexcept {
        return static_cast<Renderer*>(u)->guard([&](Renderer& r) { r.leave_span(t, d); });
    }
    static int cb_text(MD_TEXTTYPE t, const MD_CHAR* s, MD_SIZE n, void* u) noexcept {
        return static_cast<Renderer*>(u)->guard([&](Renderer& r) { r.text(t, s, n); });
    }
    // Callbacks must not throw into C: an exception (only bad_alloc can happen) aborts the parse
    // and is re-thrown once md_parse has returned.
    template <class F>
    int guard(F&& f) noexcept {
        try {
            f(*this);
            return 0;
        } catch (...) {
            error_ = std::current_exception();
            return 1;
        }
    }

    void enter_block(MD_BLOCKTYPE type, void* detail);
    void leave_block(MD_BLOCKTYPE type, void* detail);
    void enter_span(MD_SPANTYPE type, void* detail);
    void leave_span(MD_SPANTYPE type, void* detail);
    void text(MD_TEXTTYPE type, const char* s, std::size_t n);

    // helpers ----------------------------------------------------------------------------------
    void put(std::string_view s) { out_->append(s); }
    void put(char c) { out_->push_back(c); }
    // A link or image URL; root-relative ones ("/x", not "//host") get the site's base path.
    void put_local_url(std::string_view url) {
        if (!opt_.url_prefix.empty() && url.size() >= 1 && url[0] == '/' && (url.size() == 1 || url[1] != '/'))
            escape_url(*out_, opt_.url_prefix);
        escape_url(*out_, url);
    }
    // Words = starts of runs of non-spaces. Written without a loop-carried dependency so the
    // compiler vectorizes it: this runs over every byte of prose.
    void count_words(const char* s, std::size_t n) {
        if (n == 0) return;
        const auto* u = reinterpret_cast<const unsigned char*>(s);
        std::size_t words = (u[0] != ' ' && !in_word_) ? 1 : 0;
        for (std::size_t i = 1; i < n; ++i) words += (u[i] != ' ') & (u[i - 1] == ' ');
        in_word_ = u[n - 1] != ' ';
        res_.words += words;
    }
    void cr() {
        if (!out_->empty() && out_->back() != '\n') out_->push_back('\n');
    }
    bool in_alt() const { return image_depth_ > 0; }
    void note_position(const char* p) {
        if (doc_ != nullptr && doc_->contains(p)) last_pos_ = p;
    }
    int current_line() const { return doc_ ? doc_->line_of(last_pos_) : 0; }
    int line_at(const char* p) const {
        if (doc_ && doc_->contains(p)) return doc_->line_of(p);
        return current_line();
    }
    void warn(int line, std::string msg) { res_.warnings.push_back(RenderWarning{line, std::move(msg)}); }
    // Plain text of the heading being rendered (for ids and the TOC).
    void plain(std::string_view s) {
        if (in_heading_) heading_text_.append(s);
        if (wikilink_active_) wikilink_text_.append(s);
        if (summary_active_ && res_.summary.size() < kSummaryMaxBytes) res_.summary.append(s);
    }
    static constexpr std::size_t kSummaryMaxBytes = 4096;

    void open_heading(const MD_BLOCK_H_DETAIL* d);
    void close_heading();
    void open_code(const MD_BLOCK_CODE_DETAIL* d);
    void close_code();
    void render_directive();
    // md4c ignores [[...]] whose target is longer than 100 characters; say so instead of
    // silently printing the brackets.
    void check_unrecognized_xref(const char* s, std::size_t n) {
        std::string_view chunk(s, n);
        if (chunk.find("[[") == std::string_view::npos || doc_ == nullptr || !doc_->contains(s)) return;
        const char* end = doc_->begin + doc_->size;
        for (std::size_t at = chunk.find("[["); at != std::string_view::npos; at = chunk.find("[[", at + 2)) {
            const char* open = s + at;
            const char* eol = static_cast<const char*>(std::memchr(open, '\n', static_cast<std::size_t>(end - open)));
            std::string_view line(open, static_cast<std::size_t>((eol ? eol : end) - open));
            const std::size_t close = line.find("]]");
            if (close == std::string_view::npos) continue;
            std::string_view inner = line.substr(2, close - 2);
            const std::size_t bar = inner.find('|');
            const std::string_view target = inner.substr(0, bar);
            if (target.size() > 100 && target.find("[[") == std::string_view::npos) {
                warn(doc_->line_of(open), "[[" + std::string(target.substr(0, 40)) +
                                              "...]] is not a cross-reference: targets are limited to 100 "
                                              "characters; shorten it or write a normal link");
            }
        }
    }
    void open_wikilink(const MD_SPAN_WIKILINK_DETAIL* d);
    void close_wikilink();
    void write_deferred_anchor(std::string id, std::string target, const std::string& label_html,
                               const std::string& text, XrefRecord rec);

public:
    void finish_deferred();

private:
    std::string resolve_anchor_id(std::string_view anchor) const { return slugify(anchor); }

    const RenderOptions& opt_;
    const XrefIndex* index_;
    RenderResult& res_;
    std::string* out_;
    std::exception_ptr error_;

    const Document* doc_ = nullptr;
    const char* last_pos_ = nullptr;
    int depth_ = 0;

    SlugRegistry ids_;

    // heading being rendered
    bool in_heading_ = false;
    unsigned heading_level_ = 0;
    std::string heading_html_;
    std::string heading_text_;
    std::string* heading_saved_out_ = nullptr;
    const char* heading_pos_ = nullptr;  // where the heading's text starts (for line numbers)

    int image_depth_ = 0;
    bool in_table_cell_ = false;
    bool in_word_ = false;  // word counting across text chunks
    int block_depth_ = 0;
    bool summary_active_ = false;
    bool summary_done_ = false;

    // code block being collected as a directive body
    bool in_code_ = false;
    bool code_is_directive_ = false;
    std::string directive_name_;
    std::string directive_title_;
    std::string directive_body_;
    // The fence line of the code block being rendered (its info string lies on it); null when
    // unknown (an indented block, or an info string md4c had to copy).
    const char* code_fence_pos_ = nullptr;
    std::string pending_code_warning_;

    // wikilink being rendered
    bool wikilink_active_ = false;
    std::string wikilink_target_;
    std::size_t wikilink_mark_ = 0;
    std::string wikilink_text_;
    bool wikilink_has_label_ = false;
    bool wikilink_label_known_ = false;
    const char* wikilink_first_child_ = nullptr;  // where the link's text starts in the source
    int wikilink_line_ = 0;
    struct Deferred {
        std::string id;         // heading id the link needs
        std::string target;     // as written, for data-ref
        std::size_t record;     // index into res_.xrefs
    };
    std::vector<Deferred> deferred_;  // [[#anchor]] links to headings not seen yet

    friend RenderResult bengal::render_markdown(std::string_view, const RenderOptions&, const XrefIndex*);
};

unsigned parser_flags(const RenderOptions& o) {
    unsigned f = 0;
    if (o.tables) f |= MD_FLAG_TABLES;
    if (o.strikethrough) f |= MD_FLAG_STRIKETHROUGH;
    if (o.tasklists) f |= MD_FLAG_TASKLISTS;
    if (o.autolinks) f |= MD_FLAG_PERMISSIVEAUTOLINKS;
    if (!o.unsafe_html) f |= MD_FLAG_NOHTML;
    if (o.xrefs && !o.spec_mode) f |= MD_FLAG_WIKILINKS;
    return f;
}

void Renderer::render_document(std::string_view text, const Document* parent, const char* origin,
                               int line_offset, int depth) {
    Document doc;
    doc.begin = text.data();
    doc.size = text.size();
    doc.parent = parent;
    doc.origin = origin;
    doc.line_offset = line_offset;
    const Document* saved_doc = doc_;
    const char* saved_pos = last_pos_;
    const int saved_depth = depth_;
    doc_ = &doc;
    last_pos_ = text.data();
    depth_ = depth;

    MD_PARSER parser{};
    parser.abi_version = 0;
    parser.flags = parser_flags(opt_);
    parser.enter_block = &Renderer::cb_enter_block;
    parser.leave_block = &Renderer::cb_leave_block;
    parser.enter_span = &Renderer::cb_enter_span;
    parser.leave_span = &Renderer::cb_leave_span;
    parser.text = &Renderer::cb_text;
    const int rc = md_parse(text.data(), static_cast<MD_SIZE>(text.size()), &parser, this);

    doc_ = saved_doc;
    last_pos_ = saved_pos;
    depth_ = saved_depth;
    if (error_) {
        auto e = error_;
        error_ = nullptr;
        std::rethrow_exception(e);
    }
    if (rc != 0) warn(0, "the Markdown parser stopped early (out of memory?); output is incomplete");
}

// ---- blocks ---------------------------------------------------------------------------------

void Renderer::enter_block(MD_BLOCKTYPE type, void* detail) {
    in_word_ = false;
    if (type != MD_BLOCK_DOC) ++block_depth_;
    // The first top-level paragraph's plain text is the page's automatic summary.
    if (type == MD_BLOCK_P && block_depth_ == 1 && depth_ == 0 && !summary_done_) summary_active_ = true;
    switch (type) {
        case MD_BLOCK_DOC: break;
        case MD_BLOCK_QUOTE: cr(); put("<blockquote>\n"); break;
        case MD_BLOCK_UL: cr(); put("<ul>\n"); break;
        case MD_BLOCK_OL: {
            const auto* d = static_cast<const MD_BLOCK_OL_DETAIL*>(detail);
            cr();
            if (d->start == 1) {
                put("<ol>\n");
            } else {
                put("<ol start=\"");
                put(std::to_string(d->start));
                put("\">\n");
            }
            break;
        }
        case MD_BLOCK_LI: {
            const auto* d = static_cast<const MD_BLOCK_LI_DETAIL*>(detail);
            cr();
            put("<li>");
            if (d->is_task) {
                put(d->task_mark == ' ' ? "<input disabled=\"\" type=\"checkbox\"> "
                                        : "<input checked=\"\" disabled=\"\" type=\"checkbox\"> ");
            }
            break;
        }
        case MD_BLOCK_HR: cr(); put("<hr />\n"); break;
        case MD_BLOCK_H: cr(); open_heading(static_cast<const MD_BLOCK_H_DETAIL*>(detail)); break;
        case MD_BLOCK_CODE: cr(); open_code(static_cast<const MD_BLOCK_CODE_DETAIL*>(detail)); break;
        case MD_BLOCK_HTML: cr(); break;
        case MD_BLOCK_P: cr(); put("<p>"); break;
        case MD_BLOCK_TABLE: cr(); put("<table>\n"); break;
        case MD_BLOCK_THEAD: put("<thead>\n"); break;
        case MD_BLOCK_TBODY: put("<tbody>\n"); break;
        case MD_BLOCK_TR: put("<tr>\n"); break;
        case MD_BLOCK_TH:
        case MD_BLOCK_TD: {
            const auto* d = static_cast<const MD_BLOCK_TD_DETAIL*>(detail);
            in_table_cell_ = true;
            put(type == MD_BLOCK_TH ? "<th" : "<td");
            switch (d->align) {
                case MD_ALIGN_LEFT: put(" align=\"left\""); break;
                case MD_ALIGN_CENTER: put(" align=\"center\""); break;
                case MD_ALIGN_RIGHT: put(" align=\"right\""); break;
                default: break;
            }
            put('>');
            break;
        }
    }
}

void Renderer::leave_block(MD_BLOCKTYPE type, void* detail) {
    (void)detail;
    if (type != MD_BLOCK_DOC) --block_depth_;
    if (type == MD_BLOCK_P && summary_active_) {
        summary_active_ = false;
        summary_done_ = true;
        while (!res_.summary.empty() && res_.summary.back() == ' ') res_.summary.pop_back();
    }
    switch (type) {
        case MD_BLOCK_DOC: break;
        case MD_BLOCK_QUOTE: cr(); put("</blockquote>\n"); break;
        case MD_BLOCK_UL: cr(); put("</ul>\n"); break;
        case MD_BLOCK_OL: cr(); put("</ol>\n"); break;
        case MD_BLOCK_LI: put("</li>\n"); break;
        case MD_BLOCK_HR: break;
        case MD_BLOCK_H: close_heading(); break;
        case MD_BLOCK_CODE: close_code(); break;
        case MD_BLOCK_HTML: break;
        case MD_BLOCK_P: put("</p>\n"); break;
        case MD_BLOCK_TABLE: put("</table>\n"); break;
        case MD_BLOCK_THEAD: put("</thead>\n"); break;
        case MD_BLOCK_TBODY: put("</tbody>\n"); break;
        case MD_BLOCK_TR: put("</tr>\n"); break;
        case MD_BLOCK_TH: in_table_cell_ = false; put("</th>\n"); break;
        case MD_BLOCK_TD: in_table_cell_ = false; put("</td>\n"); break;
    }
}

void Renderer::open_heading(const MD_BLOCK_H_DETAIL* d) {
    heading_level_ = d->level;
    in_heading_ = true;
    heading_html_.clear();
    heading_text_.clear();
    heading_saved_out_ = out_;
    out_ = &heading_html_;
    heading_pos_ = nullptr;
}

void Renderer::close_heading() {
    const char level = static_cast<char>('0' + heading_level_);
    in_heading_ = false;
    out_ = heading_saved_out_;
    // md4c keeps tabs that separate the marker or closing sequence from the text.
    auto trim = [](std::string& s) {
        std::size_t b = 0, e = s.size();
        while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
        s.assign(s, b, e - b);
    };
    trim(heading_html_);
    trim(heading_text_);
    if (opt_.spec_mode || !opt_.heading_ids) {
        put("<h");
        put(level);
        put('>');
        put(heading_html_);
        put("</h");
        put(level);
        put(">\n");
        return;
    }

    std::string id;
    std::string custom;
    const std::size_t text_suffix = custom_id_suffix(heading_text_, custom);
    bool used_custom = false;
    if (text_suffix > 0) {
        std::string html_custom;
        const std::size_t html_suffix = custom_id_suffix(heading_html_, html_custom);
        // The id must be plain text at the very end of the heading in both forms (not inside a
        // code span or a link), which is what makes the two suffixes agree.
        if (html_suffix > 0 && html_custom == custom) {
            heading_text_.resize(heading_text_.size() - text_suffix);
            heading_html_.resize(heading_html_.size() - html_suffix);
            used_custom = true;
            if (!ids_.claim(custom)) {
                warn(line_at(heading_pos_), "duplicate heading id '" + custom + "'; ids must be unique in a page");
            }
            id = std::move(custom);
        }
    }
    if (!used_custom) id = ids_.unique(slugify(heading_text_));

    put("<h");
    put(level);
    put(" id=\"");
    escape_html(*out_, id);
    put("\">");
    put(heading_html_);
    put("</h");
    put(level);
    put(">\n");
    res_.toc.push_back(TocEntry{static_cast<int>(heading_level_), std::move(id), heading_text_});
}

void Renderer::open_code(const MD_BLOCK_CODE_DETAIL* d) {
    in_code_ = true;
    code_is_directive_ = false;
    code_fence_pos_ = (doc_ != nullptr && d->info.text != nullptr && doc_->contains(d->info.text))
                          ? d->info.text
                          : last_pos_;  // approximate: the last text seen before the block
    const std::string info = attribute_text(d->info);
    std::string name, title;
    if (d->fence_char != 0 && opt_.directives && !opt_.spec_mode && parse_directive_info(info, name, title)) {
        if (find_directive(name) != nullptr && depth_ < opt_.max_directive_depth) {
            code_is_directive_ = true;
            directive_name_ = std::move(name);
            directive_title_ = std::move(title);
            directive_body_.clear();
            return;
        }
        std::string known;
        for (const auto& k : kDirectives) {
            if (!known.empty()) known += ", ";
            known += k.name;
        }
        if (find_directive(name) != nullptr) {
            pending_code_warning_ = "directive '{" + name + "}' nested deeper than " +
                                    std::to_string(opt_.max_directive_depth) +
                                    " levels; rendered as a code block";
        } else {
            pending_code_warning_ = "unknown directive '{" + name +
                                    "}'; rendered as a code block (known directives: " + known + ")";
        }
        put("<pre><code>");
        return;
    }
    const std::string lang = attribute_text(d->lang);
    if (lang.empty()) {
        put("<pre><code>");
    } else {
        put("<pre><code class=\"language-");
        escape_html(*out_, lang);
        put("\">");
    }
}

void Renderer::close_code() {
    in_code_ = false;
    if (!pending_code_warning_.empty()) {
        // The fence line is the line before the first body line.
        warn(line_at(code_fence_pos_), std::move(pending_code_warning_));
        pending_code_warning_.clear();
    }
    if (!code_is_directive_) {
        put("</code></pre>\n");
        return;
    }
    code_is_directive_ = false;
    render_directive();
}

void Renderer::render_directive() {
    // Move the state out first: the nested parse reuses these members.
    std::string name = std::move(directive_name_);
    std::string title = std::move(directive_title_);
    std::string body = std::move(directive_body_);
    // Line numbers inside the body count from the fence line (computed only when needed).
    const char* fence = code_fence_pos_;
    int body_extra = 1;  // the body starts on the line after the fence
    auto body_line = [&] { return line_at(fence) + body_extra; };
    const DirectiveKind* kind = find_directive(name);

    // MyST-style options: leading ":key: value" lines.
    std::string extra_class;
    std::string div_id;
    int name_line = 0;
    std::size_t pos = 0;
    while (pos < body.size() && body[pos] == ':') {
        const std::size_t eol = std::min(body.find('\n', pos), body.size());
        std::string_view line(body.data() + pos, eol - pos);
        const std::size_t colon = line.find(':', 1);
        if (colon == std::string_view::npos) break;
        std::string_view key = line.substr(1, colon - 1);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r'))
            value.remove_suffix(1);
        if (key == "class") {
            extra_class.assign(value);
        } else if (key == "name") {
            div_id.assign(value);
            name_line = body_line();
        } else {
            warn(body_line(), "unknown option ':" + std::string(key) + ":' for directive '{" + name +
                                  "}' (known options: class, name)");
        }
        pos = eol < body.size() ? eol + 1 : eol;
        ++body_extra;
    }

    cr();
    put("<div class=\"admonition ");
    put(kind->name);
    if (!extra_class.empty()) {
        put(' ');
        escape_html(*out_, extra_class);
    }
    put('"');
    if (!div_id.empty()) {
        put(" id=\"");
        escape_html(*out_, div_id);
        put('"');
        if (!ids_.claim(div_id)) warn(name_line, "duplicate id '" + div_id + "' in page");
    }
    put(">\n<p class=\"admonition-title\">");
    escape_html(*out_, title.empty() ? kind->title : std::string_view(title));
    put("</p>\n");
    render_document(std::string_view(body).substr(pos), fence != nullptr ? doc_ : nullptr, fence, body_extra,
                    depth_ + 1);
    cr();
    put("</div>\n");
}

// ---- spans ----------------------------------------------------------------------------------

void Renderer::enter_span(MD_SPANTYPE type, void* detail) {
    if (in_alt()) {
        if (type == MD_SPAN_IMG) ++image_depth_;
        return;
    }
    switch (type) {
        case MD_SPAN_EM: put("<em>"); break;
        case MD_SPAN_STRONG: put("<strong>"); break;
        case MD_SPAN_CODE: put("<code>"); break;
        case MD_SPAN_DEL: put("<del>"); break;
        case MD_SPAN_U: put("<u>"); break;
        case MD_SPAN_A: {
            const auto* d = static_cast<const MD_SPAN_A_DETAIL*>(detail);
            put("<a href=\"");
            put_local_url(attribute_text(d->href));
            put('"');
            if (d->title.size > 0) {
                put(" title=\"");
                escape_html(*out_, attribute_text(d->title));
                put('"');
            }
            put('>');
            break;
        }
        case MD_SPAN_IMG: {
            const auto* d = static_cast<const MD_SPAN_IMG_DETAIL*>(detail);
            std::string src = attribute_text(d->src);
            put("<img src=\"");
            put_local_url(src);
            put("\" alt=\"");
            res_.images.push_back(std::move(src));
            ++image_depth_;
            break;
        }
        case MD_SPAN_WIKILINK: open_wikilink(static_cast<const MD_SPAN_WIKILINK_DETAIL*>(detail)); break;
        case MD_SPAN_LATEXMATH:
        case MD_SPAN_LATEXMATH_DISPLAY: break;
    }
}

void Renderer::leave_span(MD_SPANTYPE type, void* detail) {
    if (in_alt()) {
        if (type != MD_SPAN_IMG) return;
        if (--image_depth_ > 0) return;
        const auto* d = static_cast<const MD_SPAN_IMG_DETAIL*>(detail);
        put('"');
        if (d->title.size > 0) {
            put(" title=\"");
            escape_html(*out_, attribute_text(d->title));
            put('"');
        }
        put(" />");
        return;
    }
    switch (type) {
        case MD_SPAN_EM: put("</em>"); break;
        case MD_SPAN_STRONG: put("</strong>"); break;
        case MD_SPAN_CODE: put("</code>"); break;
        case MD_SPAN_DEL: put("</del>"); break;
        case MD_SPAN_U: put("</u>"); break;
        case MD_SPAN_A: put("</a>"); break;
        case MD_SPAN_IMG: break;
        case MD_SPAN_WIKILINK: close_wikilink(); break;
        case MD_SPAN_LATEXMATH:
        case MD_SPAN_LATEXMATH_DISPLAY: break;
    }
}

void Renderer::open_wikilink(const MD_SPAN_WIKILINK_DETAIL* d) {
    wikilink_active_ = true;
    wikilink_target_ = attribute_text(d->target);
    wikilink_mark_ = out_->size();
    wikilink_text_.clear();
    // md4c points the target into the source when it needed no decoding; the character after
    // it tells whether a "|label" follows. Otherwise fall back to comparing the label text.
    wikilink_has_label_ = false;
    wikilink_label_known_ = false;
    wikilink_first_child_ = nullptr;
    const char* t = d->target.text;
    if (doc_ != nullptr && doc_->contains(t) && doc_->contains(t + d->target.size)) {
        wikilink_has_label_ = t[d->target.size] == '|';
        wikilink_label_known_ = true;
        wikilink_line_ = doc_->line_of(t);
        last_pos_ = t;
    } else {
        wikilink_has_label_ = true;  // decided at close by comparing texts
        wikilink_line_ = current_line();
    }
    if (in_heading_ && heading_pos_ == nullptr && doc_ != nullptr && doc_->contains(t)) heading_pos_ = t;
}

// Placeholders are "\0O<n>\0" and "\0C<n>\0": a NUL never reaches the HTML otherwise (input
// NULs become U+FFFD before parsing), so they cannot collide with content.
void Renderer::write_deferred_anchor(std::string id, std::string target, const std::string& label_html,
                                     const std::string& text, XrefRecord rec) {
    const std::size_t n = deferred_.size();
    std::string& out = *out_;
    out.push_back('\0');
    out.push_back('O');
    out.append(std::to_string(n));
    out.push_back('\0');
    if (!label_html.empty()) {
        out.append(label_html);
    } else {
        escape_html(out, text);
    }
    out.push_back('\0');
    out.push_back('C');
    out.append(std::to_string(n));
    out.push_back('\0');
    rec.text = text;
    rec.url = "#" + id;
    rec.resolved = true;  // settled in finish_deferred()
    deferred_.push_back(Deferred{std::move(id), std::move(target), res_.xrefs.size()});
    res_.xrefs.push_back(std::move(rec));
}

void Renderer::finish_deferred() {
    if (deferred_.empty()) return;
    std::vector<bool> ok(deferred_.size());
    for (std::size_t i = 0; i < deferred_.size(); ++i) {
        const Deferred& d = deferred_[i];
        ok[i] = ids_.contains(d.id);
        if (!ok[i]) {
            XrefRecord& rec = res_.xrefs[d.record];
            rec.resolved = false;
            rec.url.clear();
            warn(rec.line, "unresolved cross-reference [[" + d.target + "]]: no heading '" + d.id +
                               "' on this page");
        }
    }
    const std::string& in = res_.html;
    std::string out;
    out.reserve(in.size() + 64 * deferred_.size());
    std::size_t pos = 0;
    while (true) {
        const std::size_t nul = in.find('\0', pos);
        if (nul == std::string::npos) break;
        out.append(in, pos, nul - pos);
        const std::size_t end = in.find('\0', nul + 1);
        if (end == std::string::npos || end < nul + 3) {  // cannot happen; never emit a NUL
            pos = nul + 1;
            continue;
        }
        const char kind = in[nul + 1];
        const std::size_t i = std::stoul(in.substr(nul + 2, end - nul - 2));
        if (i < deferred_.size()) {
            if (kind == 'O') {
                if (ok[i]) {
                    out.append("<a class=\"xref\" href=\"#");
                    escape_url(out, deferred_[i].id, true);
                    out.append("\">");
                } else {
                    out.append("<span class=\"broken-ref\" data-ref=\"");
                    escape_html(out, deferred_[i].target);
                    out.append("\">");
                }
            } else {
                out.append(ok[i] ? "</a>" : "</span>");
            }
        }
        pos = end + 1;
    }
    out.append(in, pos, std::string::npos);
    res_.html = std::move(out);
}

void Renderer::close_wikilink() {
    wikilink_active_ = false;
    std::string label_html = out_->substr(wikilink_mark_);
    out_->resize(wikilink_mark_);
    bool has_label = wikilink_has_label_;
    if (!wikilink_label_known_) {
        // md4c decoded the target (an entity or backslash escape in it), so it is not a view of
        // the source. Without a label md4c emits the target itself as the link's text, so equal
        // plain texts mean no label was given.
        wikilink_line_ = current_line();  // the link's text has been seen by now
        if (wikilink_first_child_ != nullptr && doc_ != nullptr && wikilink_first_child_ > doc_->begin) {
            // The link's text starts right after "[[" (no label) or after "|" (a label).
            has_label = wikilink_first_child_[-1] == '|';
        } else {
            has_label = wikilink_text_ != wikilink_target_;
        }
    }

    std::string_view target = wikilink_target_;
    // In a table cell "|" must be written "\|", and md4c hands the target over with the escape
    // resolved: [[page\|text]] in a cell arrives as target "page|text". Split it the way
    // [[page|text]] is split elsewhere.
    std::string cell_label;
    if (in_table_cell_) {
        if (const std::size_t bar = target.find('|'); bar != std::string_view::npos) {
            cell_label.assign(target.substr(bar + 1));
            target = target.substr(0, bar);
            label_html.clear();
            escape_html(label_html, cell_label);
            has_label = true;
            wikilink_text_ = cell_label;
        }
    }
    while (!target.empty() && (target.front() == ' ' || target.front() == '\t')) target.remove_prefix(1);
    while (!target.empty() && (target.back() == ' ' || target.back() == '\t')) target.remove_suffix(1);
    std::string_view path = target;
    std::string_view anchor;
    bool has_anchor = false;
    if (const std::size_t hash = target.find('#'); hash != std::string_view::npos) {
        path = target.substr(0, hash);
        anchor = target.substr(hash + 1);
        has_anchor = true;
    }

    XrefRecord rec;
    rec.target.assign(target);
    rec.line = wikilink_line_;
    std::string url;
    std::string default_text;
    if (path.empty() && has_anchor) {
        std::string id = resolve_anchor_id(anchor);
        default_text.assign(anchor);
        if (!ids_.contains(id)) {
            // [[#anchor]] to a heading further down: whether it exists is known only at the end
            // of the page, so the tags are written as placeholders and filled in then.
            write_deferred_anchor(std::move(id), std::string(target), has_label ? label_html : "",
                                  has_label ? wikilink_text_ : default_text, std::move(rec));
            return;
        }
        url = "#" + id;
        rec.resolved = true;
    } else if (const XrefTarget* hit = (index_ != nullptr && !path.empty()) ? index_->find(path) : nullptr) {
        url = hit->url;
        if (has_anchor && !anchor.empty()) {
            url += "#";
            url += resolve_anchor_id(anchor);
        }
        default_text = hit->title;
        rec.resolved = true;
    }

    std::string& out = *out_;
    if (rec.resolved) {
        out.append("<a class=\"xref\" href=\"");
        // IRI form (UTF-8 kept): the same bytes as the heading ids and TOC links it points at.
        escape_url(out, url, true);
        out.append("\">");
        rec.url = std::move(url);
    } else {
        out.append("<span class=\"broken-ref\" data-ref=\"");
        escape_html(out, target);
        out.append("\">");
        default_text.assign(target);
        warn(rec.line, "unresolved cross-reference [[" + std::string(target) + "]]");
    }
    if (has_label) {
        out.append(label_html);
        rec.text = wikilink_text_;
    } else {
        escape_html(out, default_text);
        if (in_heading_) {
            // The target text went into the heading's plain text; use the shown text instead.
            if (heading_text_.size() >= wikilink_text_.size())
                heading_text_.resize(heading_text_.size() - wikilink_text_.size());
            heading_text_.append(default_text);
        }
        rec.text = std::move(default_text);
    }
    out.append(rec.resolved ? "</a>" : "</span>");
    res_.xrefs.push_back(std::move(rec));
}

// ---- text -----------------------------------------------------------------------------------

void Renderer::text(MD_TEXTTYPE type, const char* s, std::size_t n) {
    note_position(s);
    if (in_heading_ && heading_pos_ == nullptr) heading_pos_ = last_pos_;
    if (wikilink_active_ && wikilink_first_child_ == nullptr && doc_ != nullptr && doc_->contains(s))
        wikilink_first_child_ = s;
    if (code_is_directive_) {
        if (type == MD_TEXT_NULLCHAR) {
            directive_body_.append(kReplacementChar);
        } else {
            directive_body_.append(s, n);
        }
        return;
    }
    switch (type) {
        case MD_TEXT_NULLCHAR:
            put(kReplacementChar);
            plain(kReplacementChar);
            break;
        case MD_TEXT_BR:
            put(in_alt() ? "\n" : "<br />\n");
            plain(" ");
            break;
        case MD_TEXT_SOFTBR:
            in_word_ = false;
            put('\n');
            plain(" ");
            break;
        case MD_TEXT_HTML:
            if (in_alt()) {
                escape_html(*out_, s, n);
            } else if (opt_.tagfilter) {
                append_tagfiltered(*out_, std::string_view(s, n));
            } else {
                out_->append(s, n);
            }
            break;
        case MD_TEXT_ENTITY: {
            std::string decoded;
            decode_entity(std::string_view(s, n), decoded);
            escape_html(*out_, decoded);
            plain(decoded);
            break;
        }
        case MD_TEXT_CODE:
            if (!in_code_) count_words(s, n);
            if (in_table_cell_ && !in_code_) {
                // GFM: "\|" in a table cell is the cell's pipe escape, removed before inline
                // parsing, so it shows as "|" even inside a code span (md4c 0.4.8 keeps it).
                std::string_view v(s, n);
                std::size_t run = 0;
                for (std::size_t k = 0; k + 1 < v.size(); ++k) {
                    if (v[k] == '\\' && v[k + 1] == '|') {
                        escape_html(*out_, v.substr(run, k - run));
                        plain(v.substr(run, k - run));
                        run = k + 1;
                    }
                }
                escape_html(*out_, v.substr(run));
                plain(v.substr(run));
                break;
            }
            [[fallthrough]];
        case MD_TEXT_LATEXMATH:
        case MD_TEXT_NORMAL:
        default:
            if (type == MD_TEXT_NORMAL) {
                count_words(s, n);
                if (opt_.xrefs && !opt_.spec_mode && !in_alt()) check_unrecognized_xref(s, n);
            }
            escape_html(*out_, s, n);
            plain(std::string_view(s, n));
            break;
    }
}

}  // namespace

// ---- public API -------------------------------------------------------------------------------

const std::vector<std::string>& known_directives() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto& d : kDirectives) v.emplace_back(d.name);
        return v;
    }();
    return names;
}

RenderResult render_markdown(std::string_view source, const RenderOptions& options, const XrefIndex* index) {
    RenderResult res;
    if (source.size() > std::numeric_limits<MD_SIZE>::max() / 2) {
        res.warnings.push_back(RenderWarning{0, "document too large (over 2 GiB); not rendered"});
        return res;
    }
    // md4c gets its own NUL-terminated copy: md4c 0.4.8 can look one byte past the end it was
    // given, and a view into a larger buffer would let it see the caller's next bytes. The copy
    // is also where bad input is repaired: invalid UTF-8 and NUL become U+FFFD, CR and CRLF
    // line endings become LF (md4c would not turn NULs in code spans into U+FFFD).
    std::string text;
    if (const std::size_t bad = options.input_is_valid_utf8 ? std::string_view::npos : find_invalid_utf8(source);
        bad != std::string_view::npos) {
        text = sanitize_utf8(source);
        res.warnings.push_back(RenderWarning{
            0, "invalid UTF-8 at byte offset " + std::to_string(bad) + "; bad bytes were replaced with U+FFFD"});
    } else {
        text.assign(source);
    }
    if (std::memchr(text.data(), '\0', text.size()) != nullptr ||
        std::memchr(text.data(), '\r', text.size()) != nullptr) {
        std::string fixed;
        fixed.reserve(text.size() + 16);
        for (std::size_t i = 0; i < text.size(); ++i) {
            const char c = text[i];
            if (c == '\0') {
                fixed.append(kReplacementChar);
            } else if (c == '\r') {
                fixed.push_back('\n');
                if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
            } else {
                fixed.push_back(c);
            }
        }
        text = std::move(fixed);
    }
    res.html.reserve(text.size() + text.size() / 4 + 64);
    Renderer r(options, index, res);
    r.render_document(text, nullptr, nullptr, 0, 0);
    r.finish_deferred();
    // Warnings in line order, wherever they were found (deferred checks come last otherwise).
    std::stable_sort(res.warnings.begin(), res.warnings.end(),
                     [](const RenderWarning& a, const RenderWarning& b) { return a.line < b.line; });
    return res;
}

std::vector<RenderResult> render_markdown_batch(const std::vector<std::string>& sources,
                                                const RenderOptions& options, const XrefIndex* index) {
    std::vector<RenderResult> results(sources.size());
    parallel_for_index(sources.size(), [&](std::size_t i) noexcept {
        try {
            results[i] = render_markdown(sources[i], options, index);
        } catch (const std::exception& e) {
            results[i] = RenderResult{};
            try {
                results[i].warnings.push_back(RenderWarning{0, std::string("rendering failed: ") + e.what()});
            } catch (...) {  // out of memory twice: the empty result says enough
            }
        }
    });
    return results;
}

}  // namespace bengal
