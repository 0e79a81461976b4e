#include "bengal_native/asset_map.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "bengal_native/assets.hpp"

namespace bengal {
namespace {

std::vector<std::string> urls_of(std::vector<AssetRef>&& refs) {
    std::vector<std::string> urls;
    urls.reserve(refs.size());
    for (AssetRef& r : refs) urls.push_back(std::move(r.url));
    return urls;
}

std::string errno_text(int err) { return std::strerror(err); }

// Closes a file descriptor on every path out of a function.
class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const noexcept { return fd_; }
    // Closes now and reports close()'s own failure (NFS reports write errors there).
    int close_now() noexcept {
        const int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }

private:
    int fd_;
};

AssetDependencyMap::LoadResult failed(AssetMapStatus status, std::string message) noexcept {
    AssetDependencyMap::LoadResult r;
    try {
        r.map = std::make_unique<AssetDependencyMap>();
        r.status = status;
        r.message = std::move(message);
    } catch (...) {
        // Out of memory while reporting a failure: the caller still gets a status.
        r.status = status;
    }
    return r;
}

}  // namespace

std::string_view to_string(AssetMapStatus status) noexcept {
    switch (status) {
        case AssetMapStatus::ok: return "ok";
        case AssetMapStatus::missing: return "missing";
        case AssetMapStatus::unreadable: return "unreadable";
        case AssetMapStatus::corrupt: return "corrupt";
        case AssetMapStatus::version_mismatch: return "version_mismatch";
    }
    return "unknown";
}

// ---- updates ------------------------------------------------------------------------------------

void AssetDependencyMap::unlink_page_locked(std::string_view page, const AssetList& assets) {
    for (const std::string& a : assets) {
        auto it = asset_pages_.find(a);
        if (it == asset_pages_.end()) continue;
        it.value().erase(page);
        if (it->second.empty()) asset_pages_.erase(it);
    }
}

void AssetDependencyMap::set_locked(std::string_view page, AssetList assets) {
    auto it = page_assets_.find(page);
    if (it != page_assets_.end()) {
        unlink_page_locked(page, it->second);
        it.value() = std::move(assets);
    } else {
        it = page_assets_.emplace(std::string(page), std::move(assets)).first;
    }
    for (const std::string& a : it->second) {
        auto ap = asset_pages_.find(a);
        if (ap == asset_pages_.end()) ap = asset_pages_.emplace(a, PageSet{}).first;
        ap.value().emplace(page);
    }
}

void AssetDependencyMap::track_page_assets(std::string_view page, std::string_view html) {
    AssetList urls = urls_of(extract_assets(html));  // scanned before taking the lock
    std::unique_lock lock(mutex_);
    set_locked(page, std::move(urls));
}

void AssetDependencyMap::track_assets(
    const std::vector<std::pair<std::string_view, std::string_view>>& pages, Mode mode) {
    std::vector<AssetList> found(pages.size());
    bool parallel = mode == Mode::parallel;
    if (mode == Mode::automatic) {
        std::size_t bytes = 0;
        for (const auto& p : pages) bytes += p.second.size();
        parallel = pages.size() > 1 && bytes >= kTrackAssetsParallelMinBytes;
    }
    if (parallel) {
        std::vector<std::string_view> docs;
        docs.reserve(pages.size());
        for (const auto& p : pages) docs.push_back(p.second);
        // Throws (after the parallel region) before the maps are touched: all or nothing.
        std::vector<std::vector<AssetRef>> refs = extract_assets_batch(docs);
        for (std::size_t i = 0; i < pages.size(); ++i) found[i] = urls_of(std::move(refs[i]));
    } else {
        for (std::size_t i = 0; i < pages.size(); ++i)
            found[i] = urls_of(extract_assets(pages[i].second));
    }
    std::unique_lock lock(mutex_);
    for (std::size_t i = 0; i < pages.size(); ++i) set_locked(pages[i].first, std::move(found[i]));
}

void AssetDependencyMap::set_page_assets(std::string_view page, std::vector<std::string> assets) {
    // Keep the first occurrence of each asset, like extract_assets.
    AssetList unique;
    unique.reserve(assets.size());
    // Views into `unique`, which never reallocates (reserved above), so they stay valid.
    tsl::robin_set<std::string_view, StringHash, StringEqual> seen;
    for (std::string& a : assets) {
        if (seen.find(std::string_view(a)) != seen.end()) continue;
        unique.push_back(std::move(a));
        seen.insert(std::string_view(unique.back()));
    }
    std::unique_lock lock(mutex_);
    set_locked(page, std::move(unique));
}

bool AssetDependencyMap::remove_page(std::string_view page) {
    std::unique_lock lock(mutex_);
    auto it = page_assets_.find(page);
    if (it == page_assets_.end()) return false;
    unlink_page_locked(page, it->second);
    page_assets_.erase(it);
    return true;
}

void AssetDependencyMap::clear() {
    std::unique_lock lock(mutex_);
    page_assets_.clear();
    asset_pages_.clear();
}

// ---- queries ------------------------------------------------------------------------------------

std::vector<std::string> AssetDependencyMap::assets_for(std::string_view page) const {
    std::shared_lock lock(mutex_);
    auto it = page_assets_.find(page);
    return it == page_assets_.end() ? AssetList{} : it->second;
}

std::vector<std::string> AssetDependencyMap::pages_for(std::string_view asset) const {
    std::vector<std::string> out;
    {
        std::shared_lock lock(mutex_);
        auto it = asset_pages_.find(asset);
        if (it == asset_pages_.end()) return out;
        out.assign(it->second.begin(), it->second.end());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> AssetDependencyMap::pages() const {
    std::vector<std::string> out;
    {
        std::shared_lock lock(mutex_);
        out.reserve(page_assets_.size());
        for (const auto& [page, assets] : page_assets_) out.push_back(page);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> AssetDependencyMap::assets() const {
    std::vector<std::string> out;
    {
        std::shared_lock lock(mutex_);
        out.reserve(asset_pages_.size());
        for (const auto& [asset, pages] : asset_pages_) out.push_back(asset);
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool AssetDependencyMap::contains_page(std::string_view page) const {
    std::shared_lock lock(mutex_);
    return page_assets_.find(page) != page_assets_.end();
}

std::size_t AssetDependencyMap::size() const {
    std::shared_lock lock(mutex_);
    return page_assets_.size();
}

std::size_t AssetDependencyMap::asset_count() const {
    std::shared_lock lock(mutex_);
    return asset_pages_.size();
}

// ---- persistence --------------------------------------------------------------------------------

std::string AssetDependencyMap::to_json() const {
    nlohmann::json pages = nlohmann::json::object();  // std::map underneath: keys come out sorted
    {
        std::shared_lock lock(mutex_);
        for (const auto& [page, assets] : page_assets_) pages[page] = assets;
    }
    nlohmann::json doc = {{"format", kFormat}, {"version", kVersion}, {"pages", std::move(pages)}};
    // Invalid UTF-8 in a page path given by a C++ caller must not make saving throw.
    std::string text = doc.dump(1, '\t', false, nlohmann::json::error_handler_t::replace);
    text.push_back('\n');
    return text;
}

AssetDependencyMap::SaveResult AssetDependencyMap::save(const std::string& path) const {
    namespace fs = std::filesystem;
    SaveResult result;
    auto fail = [&result](int err, std::string what) {
        result.ok = false;
        result.error = err;
        result.message = std::move(what) + ": " + errno_text(err);
        return result;
    };

    const std::string text = to_json();
    const fs::path target(path);
    fs::path dir = target.parent_path();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return fail(ec.value(), "cannot create directory " + dir.string());

    // Unique within the process (counter) and across processes (pid); O_EXCL refuses leftovers.
    // (Built with += : GCC 12 warns falsely about "literal" + std::string&&, bug 105329.)
    static std::atomic<unsigned> counter{0};
    std::string tmp_name = ".";
    tmp_name += target.filename().string();
    tmp_name += ".tmp.";
    tmp_name += std::to_string(::getpid());
    tmp_name += '.';
    tmp_name += std::to_string(counter.fetch_add(1));
    const std::string tmp = (dir / tmp_name).string();
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
    if (fd.get() < 0) return fail(errno, "cannot create " + tmp);

    auto fail_and_unlink = [&](int err, std::string what) {
        ::unlink(tmp.c_str());
        return fail(err, std::move(what));
    };
    const char* data = text.data();
    std::size_t left = text.size();
    while (left > 0) {
        const ssize_t n = ::write(fd.get(), data, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_and_unlink(errno, "cannot write " + tmp);
        }
        data += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return fail_and_unlink(errno, "cannot fsync " + tmp);
    if (fd.close_now() != 0) return fail_and_unlink(errno, "cannot close " + tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return fail_and_unlink(errno, "cannot rename " + tmp + " to " + path);

    // Make the rename itself durable. Some filesystems cannot fsync a directory (EINVAL); the
    // file is in place then, and there is nothing more to do.
    Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() >= 0 && ::fsync(dfd.get()) != 0 && errno != EINVAL && errno != ENOTSUP)
        return fail(errno, "cannot fsync directory " + dir.string());
    return result;
}

AssetDependencyMap::LoadResult AssetDependencyMap::load(const std::string& path) noexcept {
    try {
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.get() < 0) {
            const int err = errno;
            if (err == ENOENT || err == ENOTDIR)
                return failed(AssetMapStatus::missing, path + ": no such file");
            return failed(AssetMapStatus::unreadable, path + ": " + errno_text(err));
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0)
            return failed(AssetMapStatus::unreadable, path + ": " + errno_text(errno));
        if (!S_ISREG(st.st_mode))
            return failed(AssetMapStatus::unreadable, path + ": not a regular file");
        std::string text;
        text.reserve(static_cast<std::size_t>(st.st_size));
        char buf[65536];
        for (;;) {
            const ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0) {
                if (errno == EINTR) continue;
                return failed(AssetMapStatus::unreadable, path + ": " + errno_text(errno));
            }
            if (n == 0) break;
            text.append(buf, static_cast<std::size_t>(n));
        }
        LoadResult r = from_json(text);
        if (r.status != AssetMapStatus::ok) r.message = path + ": " + r.message;
        return r;
    } catch (const std::exception& e) {
        return failed(AssetMapStatus::unreadable, path + ": " + e.what());
    } catch (...) {
        return failed(AssetMapStatus::unreadable, path + ": unknown error");
    }
}

AssetDependencyMap::LoadResult AssetDependencyMap::from_json(std::string_view text) noexcept {
    try {
        const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (doc.is_discarded())
            return failed(AssetMapStatus::corrupt, "not valid JSON (truncated or damaged)");
        if (!doc.is_object()) return failed(AssetMapStatus::corrupt, "not a JSON object");
        const auto format = doc.find("format");
        if (format == doc.end() || !format->is_string() ||
            format->get_ref<const std::string&>() != kFormat)
            return failed(AssetMapStatus::corrupt, "not a bengal asset dependency file");
        const auto version = doc.find("version");
        if (version == doc.end() || !version->is_number_integer())
            return failed(AssetMapStatus::corrupt, "\"version\" is missing or not an integer");
        // Compare through the unsigned/signed representation nlohmann chose for the number.
        const bool is_ours = version->is_number_unsigned()
                                 ? version->get<std::uint64_t>() == static_cast<std::uint64_t>(kVersion)
                                 : version->get<std::int64_t>() == kVersion;
        if (!is_ours)
            return failed(AssetMapStatus::version_mismatch,
                          "format version " + version->dump() + ", this bengal reads version " +
                              std::to_string(kVersion));
        const auto pages = doc.find("pages");
        if (pages == doc.end() || !pages->is_object())
            return failed(AssetMapStatus::corrupt, "\"pages\" is missing or not an object");

        LoadResult r;
        r.map = std::make_unique<AssetDependencyMap>();
        for (const auto& [page, assets] : pages->items()) {
            if (!assets.is_array())
                return failed(AssetMapStatus::corrupt, "assets of page \"" + page + "\" are not a list");
            std::vector<std::string> list;
            list.reserve(assets.size());
            for (const auto& a : assets) {
                if (!a.is_string())
                    return failed(AssetMapStatus::corrupt,
                                  "an asset of page \"" + page + "\" is not a string");
                list.push_back(a.get<std::string>());
            }
            r.map->set_page_assets(page, std::move(list));
        }
        r.status = AssetMapStatus::ok;
        return r;
    } catch (const std::exception& e) {
        return failed(AssetMapStatus::corrupt, e.what());
    } catch (...) {
        return failed(AssetMapStatus::corrupt, "unknown error");
    }
}

}  // namespace bengal
