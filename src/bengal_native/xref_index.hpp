// Cross-reference targets: keys -> (url, title). Filled once per build, then read concurrently.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <tsl/robin_map.h>

namespace bengal {

struct XrefTarget {
    std::string url;
    std::string title;
};

// Lookup tries, in order: the key exactly as written; the key normalised as a content path
// (leading "./" or "/" dropped, trailing "/" dropped, ".md" dropped, a trailing "_index" or
// "index" segment dropped); then both forms case-folded against the case-folded keys. The first
// `add` of a key wins, so callers add keys in priority order and get deterministic answers.
//
// Thread safety: `add` must not run concurrently with anything; `find` is const and may run
// from any number of threads at once.
class XrefIndex {
public:
    // Returns false when `key` was already present (the earlier target is kept).
    bool add(std::string_view key, std::string_view url, std::string_view title);
    const XrefTarget* find(std::string_view key) const;
    std::size_t size() const noexcept { return exact_.size(); }
    bool contains(std::string_view key) const { return exact_.find(std::string(key)) != exact_.end(); }
    std::vector<std::string> keys() const;

    static std::string normalize_path(std::string_view key);

private:
    std::vector<XrefTarget> targets_;
    tsl::robin_map<std::string, std::size_t> exact_;
    tsl::robin_map<std::string, std::size_t> folded_;
};

}  // namespace bengal
