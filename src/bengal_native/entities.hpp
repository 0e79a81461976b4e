// HTML5 named and numeric character references.
#pragma once

#include <string>
#include <string_view>

namespace bengal {

// Appends the text that the entity reference `ref` (including '&' and ';', e.g. "&ouml;",
// "&#123;", "&#x1F600;") stands for. A named reference not in the HTML5 list is appended
// verbatim; numeric references to 0, surrogates or values above U+10FFFF give U+FFFD.
void decode_entity(std::string_view ref, std::string& out);

// The UTF-8 replacement text of a named entity (name without '&' and ';'), or an empty view.
std::string_view lookup_named_entity(std::string_view name) noexcept;

// Appends `s` with every character reference decoded (used for slugs and plain text).
void decode_entities_in(std::string_view s, std::string& out);

}  // namespace bengal
