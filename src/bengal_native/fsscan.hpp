// File-system scans for change detection: every file below a directory with its (mtime, size),
// and the (mtime, size) of a list of known files. Plain POSIX calls (opendir/readdir/fstatat),
// no Python objects; callable with the GIL released.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bengal {

struct FileStamp {
    std::string path;  // prefix + POSIX path relative to the scanned directory
    std::int64_t mtime_ns = 0;
    std::int64_t size = 0;
};

// Names a build ignores: hidden (".x"), editor leftovers ("x~", "#x#"), "__pycache__".
bool ignored_name(const char* name) noexcept;

// Every regular file below `base`, keyed `prefix` + relative path. Symlinked files are followed;
// symlinked directories are not (a link loop cannot hang the scan). Unreadable directories and
// entries that vanish during the scan are skipped. A missing `base` gives an empty result.
// Directories are read on all cores (oneTBB): call release_worker_threads() before a later fork().
// Entries whose names are not valid UTF-8 are skipped (a directory with everything below it) and,
// when `bad` is given, listed there as prefix + relative path with U+FFFD for the bad bytes.
std::vector<FileStamp> scan_tree(const std::string& base, const std::string& prefix, bool skip_ignored,
                                 std::vector<std::string>* bad = nullptr);

// (mtime_ns, size) of base/rel for every rel, following symlinks; size -1 when the path is
// missing or not a regular file. Large lists are stat()ed on all cores (oneTBB): call
// release_worker_threads() before a later fork().
std::vector<FileStamp> stat_files(const std::string& base, const std::vector<std::string>& rels);

// stat_files() of the NUL-separated paths in `joined` (NUL cannot occur in a path), packed:
// 16 bytes per path, its mtime_ns and size as little-endian int64 (size -1: missing). The no-op
// check compares this with what the last build recorded, without a Python object per file.
std::string stat_packed(const std::string& base, std::string_view joined);

}  // namespace bengal
