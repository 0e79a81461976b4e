#include "bengal_native/utf8.hpp"

namespace bengal {
namespace {

// Length of the well-formed sequence starting at s[i], or 0 when it is ill-formed. `max_part`
// receives how many bytes form the maximal ill-formed prefix (at least 1) in that case.
std::size_t sequence_length(std::string_view s, std::size_t i, std::size_t& max_part) noexcept {
    const auto b0 = static_cast<unsigned char>(s[i]);
    max_part = 1;
    if (b0 < 0x80) return 1;
    std::size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    for (std::size_t k = 1; k <= need; ++k) {
        if (i + k >= s.size()) return 0;
        const auto b = static_cast<unsigned char>(s[i + k]);
        const unsigned char l = (k == 1) ? lo : 0x80;
        const unsigned char h = (k == 1) ? hi : 0xBF;
        if (b < l || b > h) return 0;
        max_part = k + 1;
    }
    return need + 1;
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view s) noexcept {
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        // Fast path: eight ASCII bytes at a time.
        while (i + 8 <= n) {
            std::uint64_t w;
            __builtin_memcpy(&w, s.data() + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        std::size_t part;
        const std::size_t len = sequence_length(s, i, part);
        if (len == 0) return i;
        i += len;
    }
    return std::string_view::npos;
}

std::string sanitize_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t part;
        const std::size_t len = sequence_length(s, i, part);
        if (len == 0) {
            out.append(kReplacementChar);
            i += part;  // the maximal ill-formed prefix becomes one U+FFFD
            continue;
        }
        out.append(s.substr(i, len));
        i += len;
    }
    return out;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::uint32_t decode_utf8(std::string_view s, std::size_t& i) noexcept {
    std::size_t part;
    const std::size_t len = sequence_length(s, i, part);
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (len == 0) {
        ++i;
        return 0xFFFD;
    }
    std::uint32_t cp;
    switch (len) {
        case 1: cp = b0; break;
        case 2: cp = b0 & 0x1F; break;
        case 3: cp = b0 & 0x0F; break;
        default: cp = b0 & 0x07; break;
    }
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    i += len;
    return cp;
}

}  // namespace bengal
