#include "bengal_native/fsscan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "bengal_native/parallel.hpp"
#include "bengal_native/utf8.hpp"

namespace bengal {

namespace {

std::int64_t mtime_ns(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

}  // namespace

bool ignored_name(const char* name) noexcept {
    const std::size_t n = std::strlen(name);
    if (n == 0) return true;
    if (name[0] == '.') return true;
    if (name[n - 1] == '~') return true;
    if (name[0] == '#' && name[n - 1] == '#') return true;
    return std::strcmp(name, "__pycache__") == 0;
}

namespace {

struct DirJob {
    std::string dir;  // path to open
    std::string rel;  // key prefix of its entries
};

// One directory's regular files (into `files`), subdirectories (into `subdirs`) and entries whose
// names are not UTF-8 (into `bad`, shown with U+FFFD; skipped, with everything below them).
void scan_dir(const DirJob& job, bool skip_ignored, std::vector<FileStamp>& files, std::vector<DirJob>& subdirs,
              std::vector<std::string>& bad) {
    DIR* d = opendir(job.dir.c_str());
    if (d == nullptr) return;
    const int dfd = dirfd(d);
    while (const struct dirent* e = readdir(d)) {
        const char* name = e->d_name;
        if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
        if (skip_ignored && ignored_name(name)) continue;
        if (find_invalid_utf8(name) != std::string_view::npos) {
            bad.push_back(job.rel + sanitize_utf8(name));
            continue;
        }
        unsigned char type = e->d_type;
        struct stat st {};
        if (type == DT_UNKNOWN) {
            if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
        }
        if (type == DT_DIR) {
            subdirs.push_back(DirJob{job.dir + "/" + name, job.rel + name + "/"});
            continue;
        }
        // Regular files and symlinks to regular files (followed); anything else is skipped.
        if (fstatat(dfd, name, &st, 0) != 0 || !S_ISREG(st.st_mode)) continue;
        files.push_back(FileStamp{job.rel + name, mtime_ns(st), static_cast<std::int64_t>(st.st_size)});
    }
    closedir(d);
}

// Level by level: the directories of one depth are read on all cores (oneTBB), each into its own
// slot, then merged. A site's content is ~1 directory per 10 files, so the levels below the top
// have hundreds of directories -- enough to share.
std::vector<FileStamp> scan_levels(std::vector<DirJob> level, bool skip_ignored, std::vector<std::string>* bad) {
    std::vector<FileStamp> out;
    while (!level.empty()) {
        std::vector<std::vector<FileStamp>> files(level.size());
        std::vector<std::vector<DirJob>> subdirs(level.size());
        std::vector<std::vector<std::string>> bads(level.size());
        auto work = [&](std::size_t i) { scan_dir(level[i], skip_ignored, files[i], subdirs[i], bads[i]); };
        if (level.size() >= 4) {
            parallel_for_index(level.size(), work);
        } else {
            for (std::size_t i = 0; i < level.size(); ++i) work(i);
        }
        std::vector<DirJob> next;
        for (std::size_t i = 0; i < level.size(); ++i) {
            for (FileStamp& f : files[i]) out.push_back(std::move(f));
            for (DirJob& j : subdirs[i]) next.push_back(std::move(j));
            if (bad != nullptr)
                for (std::string& b : bads[i]) bad->push_back(std::move(b));
        }
        level = std::move(next);
    }
    return out;
}

std::string pack(const std::vector<FileStamp>& found) {
    std::string out(found.size() * 16, '\0');
    auto put = [&out](std::size_t at, std::int64_t v) {
        auto u = static_cast<std::uint64_t>(v);
        for (int b = 0; b < 8; ++b) out[at + b] = static_cast<char>((u >> (8 * b)) & 0xFF);
    };
    for (std::size_t i = 0; i < found.size(); ++i) {
        put(16 * i, found[i].size < 0 ? 0 : found[i].mtime_ns);
        put(16 * i + 8, found[i].size);
    }
    return out;
}

}  // namespace

std::vector<FileStamp> scan_tree(const std::string& base, const std::string& prefix, bool skip_ignored,
                                 std::vector<std::string>* bad) {
    return scan_levels({DirJob{base, prefix}}, skip_ignored, bad);
}

std::vector<FileStamp> stat_files(const std::string& base, const std::vector<std::string>& rels) {
    std::vector<FileStamp> out(rels.size());
    const int bfd = open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    // stat() is a system call each (~2 us here): large lists are split over all cores, in blocks
    // so that a task is worth scheduling. Each task writes only its own slots.
    constexpr std::size_t kBlock = 512;
    const std::size_t blocks = (rels.size() + kBlock - 1) / kBlock;
    auto work = [&](std::size_t b) {
        const std::size_t end = std::min(rels.size(), (b + 1) * kBlock);
        for (std::size_t i = b * kBlock; i < end; ++i) {
            const std::string& rel = rels[i];
            FileStamp& f = out[i];
            f.path = rel;
            f.size = -1;
            struct stat st {};
            if (bfd >= 0 && !rel.empty() && rel[0] != '/' && fstatat(bfd, rel.c_str(), &st, 0) == 0 &&
                S_ISREG(st.st_mode)) {
                f.mtime_ns = mtime_ns(st);
                f.size = static_cast<std::int64_t>(st.st_size);
            }
        }
    };
    if (blocks > 1) {
        parallel_for_index(blocks, work);
    } else if (blocks == 1) {
        work(0);
    }
    if (bfd >= 0) close(bfd);
    return out;
}

std::string stat_packed(const std::string& base, std::string_view joined) {
    std::vector<std::string> rels;
    while (!joined.empty()) {
        const std::size_t nl = joined.find('\0');
        rels.emplace_back(joined.substr(0, nl));
        if (nl == std::string_view::npos) break;
        joined.remove_prefix(nl + 1);
    }
    return pack(stat_files(base, rels));
}

}  // namespace bengal
