#include "bengal_native/xref_index.hpp"

#include <algorithm>

#include "bengal_native/slug.hpp"

namespace bengal {

std::string XrefIndex::normalize_path(std::string_view key) {
    while (key.size() >= 2 && key.substr(0, 2) == "./") key.remove_prefix(2);
    while (!key.empty() && key.front() == '/') key.remove_prefix(1);
    while (!key.empty() && key.back() == '/') key.remove_suffix(1);
    if (key.size() >= 3 && key.substr(key.size() - 3) == ".md") key.remove_suffix(3);
    for (std::string_view leaf : {std::string_view("_index"), std::string_view("index")}) {
        if (key == leaf) return std::string();
        if (key.size() > leaf.size() && key.substr(key.size() - leaf.size()) == leaf &&
            key[key.size() - leaf.size() - 1] == '/') {
            key.remove_suffix(leaf.size() + 1);
            break;
        }
    }
    return std::string(key);
}

bool XrefIndex::add(std::string_view key, std::string_view url, std::string_view title) {
    std::string k(key);
    if (exact_.find(k) != exact_.end()) return false;
    const std::size_t idx = targets_.size();
    targets_.push_back(XrefTarget{std::string(url), std::string(title)});
    folded_.emplace(fold_case(k), idx);
    exact_.emplace(std::move(k), idx);
    return true;
}

const XrefTarget* XrefIndex::find(std::string_view key) const {
    std::string k(key);
    if (auto it = exact_.find(k); it != exact_.end()) return &targets_[it->second];
    std::string norm = normalize_path(key);
    if (norm != k) {
        if (auto it = exact_.find(norm); it != exact_.end()) return &targets_[it->second];
    }
    if (auto it = folded_.find(fold_case(k)); it != folded_.end()) return &targets_[it->second];
    if (norm != k) {
        if (auto it = folded_.find(fold_case(norm)); it != folded_.end()) return &targets_[it->second];
    }
    return nullptr;
}

std::vector<std::string> XrefIndex::keys() const {
    std::vector<std::string> out;
    out.reserve(exact_.size());
    for (const auto& kv : exact_) out.push_back(kv.first);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace bengal
