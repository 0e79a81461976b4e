#include "bengal_native/slug.hpp"

#include <algorithm>
#include <cstddef>

#include "bengal_native/utf8.hpp"

namespace bengal {
namespace {

#include "bengal_native/unicode_table.inc"

enum SlugClass : std::uint8_t { kDrop = 0, kKeep = 1, kSpace = 2 };

SlugClass class_of(std::uint32_t cp) noexcept {
    if (cp > 0x10FFFF) return kDrop;
    const std::uint16_t block = kClassStage1[cp >> kClassBlockShift];
    return static_cast<SlugClass>(kClassStage2[block][cp & ((1u << kClassBlockShift) - 1)]);
}

}  // namespace

std::uint32_t to_lower(std::uint32_t cp) noexcept {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    const auto* end = kLower + kLowerCount;
    const auto* it = std::lower_bound(kLower, end, cp,
                                      [](const std::uint32_t(&e)[2], std::uint32_t v) { return e[0] < v; });
    if (it != end && (*it)[0] == cp) return (*it)[1];
    return cp;
}

std::string fold_case(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            out.push_back(static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c));
            ++i;
            continue;
        }
        append_utf8(out, to_lower(decode_utf8(text, i)));
    }
    return out;
}

std::string slugify(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool pending_dash = false;  // a run of spaces / dashes waiting to become one '-'
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::uint32_t cp;
        if (c < 0x80) {
            cp = c;
            ++i;
        } else {
            cp = decode_utf8(text, i);
        }
        const SlugClass cls = class_of(cp);
        if (cls == kSpace || cp == '-') {
            pending_dash = true;
            continue;
        }
        if (cls == kDrop) continue;
        if (pending_dash && !out.empty()) out.push_back('-');
        pending_dash = false;
        if (cp < 0x80) {
            out.push_back(static_cast<char>((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp));
        } else {
            append_utf8(out, to_lower(cp));
        }
    }
    return out;
}

std::string SlugRegistry::unique(std::string slug) {
    if (slug.empty()) slug = "heading";
    auto it = used_.find(slug);
    if (it == used_.end()) {
        used_.emplace(slug, 1u);
        return slug;
    }
    unsigned n = it->second;
    std::string candidate;
    for (;; ++n) {
        candidate = slug + "-" + std::to_string(n);
        if (used_.find(candidate) == used_.end()) break;
    }
    used_[slug] = n + 1;
    used_.emplace(candidate, 1u);
    return candidate;
}

bool SlugRegistry::claim(const std::string& id) {
    return used_.emplace(id, 1u).second;
}

}  // namespace bengal
