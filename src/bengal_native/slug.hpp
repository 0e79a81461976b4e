// The one heading-id / slug rule, shared with Python through the bindings (docs/heading-ids.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <tsl/robin_map.h>

namespace bengal {

// slugify(text): `text` is plain text with character references already decoded.
//  1. lower-case (Unicode simple case mapping);
//  2. keep letters, marks and numbers (Unicode L*, M*, N*), '-' and '_'; whitespace becomes a
//     space; every other character is dropped;
//  3. each run of spaces and '-' becomes one '-';
//  4. leading and trailing '-' are trimmed.
// The result may be empty; heading ids then use "heading" (see SlugRegistry).
std::string slugify(std::string_view text);

// Unicode simple lower-case mapping of one code point.
std::uint32_t to_lower(std::uint32_t cp) noexcept;

// Lower-cases UTF-8 text code point by code point (used for case-insensitive xref keys).
std::string fold_case(std::string_view text);

// Hands out unique ids within one page: the first "intro" stays "intro", later ones become
// "intro-1", "intro-2", ... skipping any id already taken (explicit {#ids} included).
class SlugRegistry {
public:
    // Unique id for a heading whose slug is `slug` (empty -> "heading").
    std::string unique(std::string slug);
    // Records an explicit id; returns false if it was already taken.
    bool claim(const std::string& id);
    bool contains(const std::string& id) const { return used_.find(id) != used_.end(); }

private:
    tsl::robin_map<std::string, unsigned> used_;  // id -> next suffix to try
};

}  // namespace bengal
