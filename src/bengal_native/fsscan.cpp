#include "bengal_native/fsscan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "bengal_native/parallel.hpp"

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

std::vector<FileStamp> scan_tree(const std::string& base, const std::string& prefix, bool skip_ignored) {
    std::vector<FileStamp> out;
    std::vector<std::pair<std::string, std::string>> stack;  // directory path, key prefix
    stack.emplace_back(base, prefix);
    while (!stack.empty()) {
        auto [dir, rel] = std::move(stack.back());
        stack.pop_back();
        DIR* d = opendir(dir.c_str());
        if (d == nullptr) continue;
        const int dfd = dirfd(d);
        while (const struct dirent* e = readdir(d)) {
            const char* name = e->d_name;
            if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
            if (skip_ignored && ignored_name(name)) continue;
            unsigned char type = e->d_type;
            struct stat st {};
            if (type == DT_UNKNOWN) {
                if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
            }
            if (type == DT_DIR) {
                stack.emplace_back(dir + "/" + name, rel + name + "/");
                continue;
            }
            // Regular files and symlinks to regular files (followed); anything else is skipped.
            if (fstatat(dfd, name, &st, 0) != 0 || !S_ISREG(st.st_mode)) continue;
            out.push_back(FileStamp{rel + name, mtime_ns(st), static_cast<std::int64_t>(st.st_size)});
        }
        closedir(d);
    }
    return out;
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

}  // namespace bengal
