// UTF-8 helpers shared by the renderer and the slug rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bengal {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Offset of the first byte that does not start a well-formed UTF-8 sequence, or npos when the
// whole input is valid. Overlongs, surrogates and code points above U+10FFFF are invalid.
std::size_t find_invalid_utf8(std::string_view s) noexcept;

// Copy of `s` with every maximal ill-formed subsequence replaced by U+FFFD (the WHATWG / Unicode
// "substitution of maximal subparts" practice, the same as Python's errors="replace").
std::string sanitize_utf8(std::string_view s);

// Append the UTF-8 encoding of `cp` (U+FFFD for surrogates and values above U+10FFFF).
void append_utf8(std::string& out, std::uint32_t cp);

// Decode one code point from valid UTF-8 at s[i], advancing i. Invalid bytes decode as U+FFFD
// and advance by one, so callers never loop forever on bad input.
std::uint32_t decode_utf8(std::string_view s, std::size_t& i) noexcept;

}  // namespace bengal
