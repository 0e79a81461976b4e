#include "bengal_native/entities.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "bengal_native/utf8.hpp"

namespace bengal {
namespace {

struct EntityEntry {
    std::string_view name;
    std::string_view text;
};

#include "bengal_native/entities_table.inc"

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string_view lookup_named_entity(std::string_view name) noexcept {
    const auto* end = kEntities + kEntityCount;
    const auto* it = std::lower_bound(kEntities, end, name,
                                      [](const EntityEntry& e, std::string_view n) { return e.name < n; });
    if (it != end && it->name == name) return it->text;
    return {};
}

void decode_entity(std::string_view ref, std::string& out) {
    if (ref.size() < 3 || ref.front() != '&' || ref.back() != ';') {
        out.append(ref);
        return;
    }
    std::string_view body = ref.substr(1, ref.size() - 2);
    if (body[0] == '#') {
        std::uint32_t cp = 0;
        bool hex = body.size() > 1 && (body[1] == 'x' || body[1] == 'X');
        std::size_t start = hex ? 2 : 1;
        if (start >= body.size()) {
            out.append(ref);
            return;
        }
        bool overflow = false;
        for (std::size_t i = start; i < body.size(); ++i) {
            char c = body[i];
            std::uint32_t d;
            if (c >= '0' && c <= '9') {
                d = static_cast<std::uint32_t>(c - '0');
            } else if (hex && c >= 'a' && c <= 'f') {
                d = static_cast<std::uint32_t>(c - 'a' + 10);
            } else if (hex && c >= 'A' && c <= 'F') {
                d = static_cast<std::uint32_t>(c - 'A' + 10);
            } else {
                out.append(ref);
                return;
            }
            if (!overflow) {
                cp = cp * (hex ? 16 : 10) + d;
                if (cp > 0x10FFFF) overflow = true;
            }
        }
        if (overflow || cp == 0) cp = 0xFFFD;
        append_utf8(out, cp);
        return;
    }
    std::string_view text = lookup_named_entity(body);
    if (text.empty()) {
        out.append(ref);
    } else {
        out.append(text);
    }
}

void decode_entities_in(std::string_view s, std::string& out) {
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t amp = s.find('&', i);
        if (amp == std::string_view::npos) {
            out.append(s.substr(i));
            return;
        }
        out.append(s.substr(i, amp - i));
        // Longest candidate: "&" + up to 32 name characters + ";".
        std::size_t j = amp + 1;
        if (j < s.size() && s[j] == '#') ++j;
        if (j < s.size() && (s[j] == 'x' || s[j] == 'X') && s[amp + 1] == '#') ++j;
        while (j < s.size() && j - amp <= 33 && is_alnum(s[j])) ++j;
        if (j < s.size() && s[j] == ';' && j > amp + 1) {
            decode_entity(s.substr(amp, j - amp + 1), out);
            i = j + 1;
        } else {
            out.push_back('&');
            i = amp + 1;
        }
    }
}

}  // namespace bengal
