// Which page references which asset, both ways, persisted between builds in
// .bengal/asset_deps.json. Plain C++: no Python here. Format and guarantees: docs/assets.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tsl/robin_map.h>
#include <tsl/robin_set.h>

namespace bengal {

// Why a load produced what it did. Everything but `ok` comes with an empty map.
enum class AssetMapStatus : std::uint8_t {
    ok,
    missing,           // no file at the path (first build, or the cache was cleared)
    unreadable,        // the file exists but cannot be read (permissions, a directory, I/O error)
    corrupt,           // not JSON, truncated, not our format, or a value of the wrong type
    version_mismatch,  // our format, another version
};

std::string_view to_string(AssetMapStatus status) noexcept;

// Transparent hashing so lookups by string_view do not allocate.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};
struct StringEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

// Below this many bytes of HTML in one track_assets call, extraction runs on the calling thread:
// under it, handing the work to oneTBB costs more than it saves. From benchmarks/bench_assets.py
// ("track_assets cut-over", 2-core VM, quiet runs): the cut-over fell between 5 KB (2 pages) and
// 16 KB (3 pages); from 32 KB parallel won in every run (1.2x, 1.5-1.8x from 86 KB). When the
// other core is busy, parallel costs 1-3%, so the threshold sits at the low end. docs/assets.md.
inline constexpr std::size_t kTrackAssetsParallelMinBytes = 16 * 1024;

// page -> assets (in first-seen order in the page's HTML) and asset -> pages.
//
// Every string_view parameter is read during the call only; the map keeps its own copies.
//
// Thread safety: every member function may be called concurrently with any other (a
// shared_mutex guards the maps; HTML is scanned before the lock is taken). Results never depend
// on thread scheduling: pages_for(), pages() and assets() are sorted, and a batch applies its
// pages in input order.
class AssetDependencyMap {
public:
    static constexpr std::string_view kFormat = "bengal-asset-deps";
    static constexpr std::int64_t kVersion = 1;

    enum class Mode : std::uint8_t { automatic, sequential, parallel };

    AssetDependencyMap() = default;
    AssetDependencyMap(const AssetDependencyMap&) = delete;
    AssetDependencyMap& operator=(const AssetDependencyMap&) = delete;

    // Replaces the page's assets by the URLs extract_assets() finds in `html`.
    void track_page_assets(std::string_view page, std::string_view html);

    // track_page_assets for every (page, html) pair: extraction in parallel (oneTBB) when the
    // batch holds at least kTrackAssetsParallelMinBytes of HTML (or when `mode` forces it), then
    // the maps are updated in input order (a page listed twice keeps its last HTML). The views
    // must stay valid until the call returns.
    void track_assets(const std::vector<std::pair<std::string_view, std::string_view>>& pages,
                      Mode mode = Mode::automatic);

    // Replaces the page's assets by `assets` (duplicates after the first are dropped).
    void set_page_assets(std::string_view page, std::vector<std::string> assets);

    // Forgets the page; returns false when it was not tracked.
    bool remove_page(std::string_view page);
    void clear();

    std::vector<std::string> assets_for(std::string_view page) const;  // first-seen order
    std::vector<std::string> pages_for(std::string_view asset) const;  // sorted
    std::vector<std::string> pages() const;                            // sorted
    std::vector<std::string> assets() const;                           // sorted
    bool contains_page(std::string_view page) const;
    std::size_t size() const;         // pages tracked
    std::size_t asset_count() const;  // distinct assets referenced by at least one page

    // The saved form: {"format": "bengal-asset-deps", "version": 1, "pages": {page: [asset...]}}
    // with pages sorted, so equal maps give byte-identical files.
    std::string to_json() const;

    struct SaveResult {
        bool ok = true;
        int error = 0;        // errno of the failing call
        std::string message;  // names the failing step and path
    };
    // Atomic replace: write a temporary file in the target's directory (created if missing),
    // fsync it, rename it over `path`, fsync the directory. On failure the temporary file is
    // removed and `path` is untouched.
    SaveResult save(const std::string& path) const;

    struct LoadResult {
        std::unique_ptr<AssetDependencyMap> map;  // never null; empty unless status == ok
        AssetMapStatus status = AssetMapStatus::ok;
        std::string message;  // empty when ok; otherwise what is wrong, for the build log
    };
    // Never throws and never crashes, whatever the file holds.
    static LoadResult load(const std::string& path) noexcept;
    static LoadResult from_json(std::string_view text) noexcept;

private:
    using AssetList = std::vector<std::string>;
    using PageSet = tsl::robin_set<std::string, StringHash, StringEqual>;

    mutable std::shared_mutex mutex_;
    tsl::robin_map<std::string, AssetList, StringHash, StringEqual> page_assets_;
    tsl::robin_map<std::string, PageSet, StringHash, StringEqual> asset_pages_;

    // Callers hold the exclusive lock.
    void unlink_page_locked(std::string_view page, const AssetList& assets);
    void set_locked(std::string_view page, AssetList assets);
};

}  // namespace bengal
