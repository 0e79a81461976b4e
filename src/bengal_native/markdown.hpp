// Markdown -> HTML in one pass over md4c's parser callbacks, with heading ids, TOC, [[xrefs]],
// directive fences (admonitions) and image collection. Plain C++: no Python here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "bengal_native/xref_index.hpp"

namespace bengal {

struct RenderOptions {
    // Spec mode renders plain CommonMark the way the spec's examples expect: no heading ids, no
    // [[xrefs]], no directives. Extensions stay as set below (the conformance tests turn the GFM
    // ones on only for the GFM examples).
    bool spec_mode = false;
    bool unsafe_html = true;   // false: raw HTML is escaped and shown as text
    bool heading_ids = true;
    bool tables = true;
    bool strikethrough = true;
    bool tasklists = true;
    bool autolinks = true;     // GFM "extended" autolinks: www., http(s)://, e-mail
    bool tagfilter = false;    // GFM disallowed raw HTML (<script>, <iframe>, ... are escaped)
    bool xrefs = true;         // [[target]], [[target|text]], [[target#anchor]], [[id:x]], [[#a]]
    bool directives = true;    // ```{note} ... ``` admonitions
    int max_directive_depth = 16;
    // The caller guarantees the input is valid UTF-8 (e.g. it came from a Python str), so the
    // validation pass is skipped. Wrong use cannot crash, but bad bytes would reach the output.
    bool input_is_valid_utf8 = false;
    // Prepended to root-relative link and image URLs ("/img/a.png" -> "/blog/img/a.png") for
    // sites served below a path. Empty, or a path without a trailing slash ("/blog").
    std::string url_prefix;
};

struct TocEntry {
    int level = 0;
    std::string id;
    std::string text;  // plain text of the heading
};

struct XrefRecord {
    std::string target;  // as written, without the label: "docs/setup#install"
    std::string text;    // the link text used (plain text)
    std::string url;     // empty when unresolved
    int line = 0;        // 1-based line in the source
    bool resolved = false;
};

struct RenderWarning {
    int line = 0;  // 1-based; 0 when no line applies
    std::string message;
};

struct RenderResult {
    std::string html;
    std::vector<TocEntry> toc;
    std::vector<XrefRecord> xrefs;
    std::vector<std::string> images;  // image sources in document order, as written (decoded)
    std::vector<RenderWarning> warnings;
    std::size_t words = 0;  // words of prose (code blocks excluded), for reading time
    std::string summary;    // plain text of the first top-level paragraph (at most ~4 KB)
};

// Renders `source`. Invalid UTF-8 is replaced with U+FFFD and reported as a warning naming the
// byte offset of the first bad byte; NUL characters become U+FFFD. `index` may be null (then
// every page xref is unresolved). Never throws on any input except std::bad_alloc; inputs larger
// than md4c's 32-bit size limit produce an empty document and a warning.
RenderResult render_markdown(std::string_view source, const RenderOptions& options,
                             const XrefIndex* index);

// Renders every source in parallel (oneTBB). results[i] == render_markdown(sources[i], ...).
std::vector<RenderResult> render_markdown_batch(const std::vector<std::string>& sources,
                                                const RenderOptions& options,
                                                const XrefIndex* index);

// Names accepted by directive fences, in documentation order.
const std::vector<std::string>& known_directives();

}  // namespace bengal
