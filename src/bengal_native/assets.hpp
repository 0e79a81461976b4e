// Asset references of rendered HTML: a single-pass scanner that follows the WHATWG HTML
// tokenizer for everything that decides where markup starts and ends (tags, attribute quoting,
// comments, raw-text and RCDATA elements, <script> escapes) but builds no tree. Plain C++: no
// Python here. The rules, and where they knowingly differ from a browser, are in docs/assets.md.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace bengal {

// One referenced URL. Everything is owned (no views into the scanned document), so results
// outlive the HTML they came from.
struct AssetRef {
    // The attribute value with character references decoded, leading/trailing C0 controls and
    // spaces removed and ASCII tab/newline removed anywhere (what a browser's URL parser does
    // first); for srcset one candidate URL, for CSS the url()/@import value with CSS escapes
    // decoded. Always valid UTF-8 (invalid input bytes become U+FFFD).
    std::string url;
    // Lower-case element name the reference came from ("img", "link", "style", ...).
    std::string tag;
    // Lower-case attribute name ("src", "srcset", "href", "poster", "data", "imagesrcset",
    // "style"); empty for url()/@import found in the text of a <style> element.
    std::string attr;
    // http:, https:, any other non-excluded scheme (ftp:, ...) or protocol-relative "//host".
    bool is_external = false;

    friend bool operator==(const AssetRef&, const AssetRef&) = default;
};

// The asset references of `html` in first-seen document order, de-duplicated by `url` (the
// first occurrence's tag/attr are kept). Excluded: empty values, fragment-only "#x", and the
// schemes data:, javascript:, vbscript:, mailto:, tel:, about:, blob:. Never reads outside
// `html`; never throws except std::bad_alloc. `html` may be any bytes (truncated, binary).
std::vector<AssetRef> extract_assets(std::string_view html);

// extract_assets for every document, in parallel (oneTBB); results[i] == extract_assets(docs[i]).
// The views must stay valid until the call returns. Exceptions (std::bad_alloc) are captured
// inside the parallel region and the first one (by index) is rethrown after it.
std::vector<std::vector<AssetRef>> extract_assets_batch(const std::vector<std::string_view>& docs);

// ---- Building blocks, exposed for the tests ---------------------------------------------------

// Appends an attribute value with character references decoded as the HTML tokenizer does in
// attribute values: longest-match named references (legacy ones without ';' too, except when the
// next character is '=' or alphanumeric), numeric references with the Windows-1252 remapping of
// 0x80-0x9F, U+0000/surrogates/out-of-range -> U+FFFD, and NUL characters -> U+FFFD.
void decode_html_attribute(std::string_view raw, std::string& out);

// Appends every candidate URL of a srcset value (already entity-decoded), in order, as written
// (descriptors dropped; candidates with invalid descriptors are still reported).
void split_srcset(std::string_view value, std::vector<std::string_view>& urls);

// Appends the URL of every url(...) token and every `@import "string"` in a CSS text, following
// the CSS Syntax Level 3 tokenizer (comments and strings skipped, escapes decoded, bad-url tokens
// dropped).
void scan_css_urls(std::string_view css, std::vector<std::string>& urls);

}  // namespace bengal
