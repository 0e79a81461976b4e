// Write-behind output (see writer.hpp and docs/output-writer.md).
//
// Locking: one mutex guards every queue, the byte budget, the error and the stats. Items are tiny
// to enqueue and the file system work happens outside the lock, so one lock is simpler than
// per-shard locks and never the bottleneck at one producer and 1-2 writer threads.

#include "bengal_native/writer.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace bengal {

// ---- relative path rules -------------------------------------------------------------------

const char* describe(OutputPathProblem problem) noexcept {
    switch (problem) {
        case OutputPathProblem::ok: return "ok";
        case OutputPathProblem::empty: return "the path is empty";
        case OutputPathProblem::absolute:
            return "the path is absolute; it must be relative to the output root";
        case OutputPathProblem::parent_segment: return "'..' segments are not allowed";
        case OutputPathProblem::nul_byte: return "the path contains a NUL byte";
        case OutputPathProblem::backslash: return "backslashes are not allowed; use '/'";
        case OutputPathProblem::drive_letter: return "a drive letter ('C:') is not allowed";
        case OutputPathProblem::trailing_slash: return "the path names a directory, not a file";
    }
    return "invalid path";
}

OutputPathProblem normalize_output_path(std::string_view rel, std::string& normalized) {
    normalized.clear();
    if (rel.empty()) return OutputPathProblem::empty;
    // Checked before anything else: a NUL or a backslash changes what the other checks mean.
    if (rel.find('\0') != std::string_view::npos) return OutputPathProblem::nul_byte;
    if (rel.find('\\') != std::string_view::npos) return OutputPathProblem::backslash;
    if (rel.front() == '/') return OutputPathProblem::absolute;

    normalized.reserve(rel.size());
    bool last_was_file = false;
    std::size_t pos = 0;
    while (pos <= rel.size()) {
        std::size_t end = rel.find('/', pos);
        if (end == std::string_view::npos) end = rel.size();
        const std::string_view seg = rel.substr(pos, end - pos);
        pos = end + 1;
        if (seg.empty() || seg == ".") {
            last_was_file = false;
            continue;
        }
        if (seg == "..") {
            normalized.clear();
            return OutputPathProblem::parent_segment;
        }
        if (normalized.empty() && seg.size() >= 2 && seg[1] == ':' &&
            ((seg[0] >= 'A' && seg[0] <= 'Z') || (seg[0] >= 'a' && seg[0] <= 'z')))
            return OutputPathProblem::drive_letter;
        if (!normalized.empty()) normalized.push_back('/');
        normalized.append(seg);
        last_was_file = true;
    }
    if (normalized.empty()) return OutputPathProblem::empty;
    // "a/b/" and "a/b/." name the directory a/b.
    if (!last_was_file) {
        normalized.clear();
        return OutputPathProblem::trailing_slash;
    }
    return OutputPathProblem::ok;
}

InvalidOutputPath::InvalidOutputPath(std::string path, OutputPathProblem problem)
    : std::invalid_argument("invalid output path '" + path + "': " + describe(problem)),
      path_(std::move(path)),
      problem_(problem) {}

OutputIoError::OutputIoError(int error_number, std::string path, std::string full_path,
                             std::string operation)
    : std::system_error(error_number, std::generic_category(),
                        "cannot write '" + full_path + "' (" + operation + ")"),
      path_(std::move(path)),
      full_path_(std::move(full_path)),
      operation_(std::move(operation)) {}

// ---- text payloads -------------------------------------------------------------------------

namespace {

// Encodes the code units in `in` (`bytes` long) to UTF-8 at `o`, which has room for
// max_utf8_size(bytes, kind) bytes; returns the number of bytes written.
template <typename Unit>
std::size_t encode_units(unsigned char* o, const char* in, std::size_t bytes) {
    const std::size_t n = bytes / sizeof(Unit);
    unsigned char* const begin = o;
    // Rendered HTML is mostly ASCII even when the str is UCS-2: copy 8-byte blocks of ASCII
    // units in one step. The mask has the bits of each unit that must be zero for ASCII.
    constexpr std::uint64_t kNonAscii = sizeof(Unit) == 1   ? 0x8080808080808080ull
                                        : sizeof(Unit) == 2 ? 0xFF80FF80FF80FF80ull
                                                            : 0xFFFFFF80FFFFFF80ull;
    constexpr std::size_t kPerBlock = 8 / sizeof(Unit);
    std::size_t i = 0;
    while (i < n) {
        if (i + kPerBlock <= n) {
            std::uint64_t block;
            std::memcpy(&block, in + i * sizeof(Unit), 8);
            if ((block & kNonAscii) == 0) {
                for (std::size_t k = 0; k < kPerBlock; ++k) {
                    Unit u;
                    std::memcpy(&u, in + (i + k) * sizeof(Unit), sizeof(Unit));
                    o[k] = static_cast<unsigned char>(u);
                }
                o += kPerBlock;
                i += kPerBlock;
                continue;
            }
        }
        Unit unit;
        std::memcpy(&unit, in + i * sizeof(Unit), sizeof(Unit));  // no alignment assumption
        ++i;
        auto cp = static_cast<std::uint32_t>(unit);
        if (cp < 0x80) {
            *o++ = static_cast<unsigned char>(cp);
            continue;
        }
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
        if (cp < 0x800) {
            *o++ = static_cast<unsigned char>(0xC0 | (cp >> 6));
        } else if (cp < 0x10000) {
            *o++ = static_cast<unsigned char>(0xE0 | (cp >> 12));
            *o++ = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
        } else {
            *o++ = static_cast<unsigned char>(0xF0 | (cp >> 18));
            *o++ = static_cast<unsigned char>(0x80 | ((cp >> 12) & 0x3F));
            *o++ = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
        }
        *o++ = static_cast<unsigned char>(0x80 | (cp & 0x3F));
    }
    return static_cast<std::size_t>(o - begin);
}

// Latin-1 doubles at most; a UCS-2 unit becomes at most 3 bytes (2 bytes in, 3 out); a UCS-4
// unit at most 4 (4 in, 4 out).
std::size_t max_utf8_size(std::size_t bytes, DataKind kind) {
    switch (kind) {
        case DataKind::latin1: return bytes * 2;
        case DataKind::ucs2: return bytes / 2 * 3;
        case DataKind::bytes:
        case DataKind::ucs4: break;
    }
    return bytes;
}

std::size_t encode_utf8(unsigned char* o, std::string_view units, DataKind kind) {
    switch (kind) {
        case DataKind::bytes: std::memcpy(o, units.data(), units.size()); return units.size();
        case DataKind::latin1: return encode_units<std::uint8_t>(o, units.data(), units.size());
        case DataKind::ucs2: return encode_units<std::uint16_t>(o, units.data(), units.size());
        case DataKind::ucs4: return encode_units<std::uint32_t>(o, units.data(), units.size());
    }
    return 0;
}

}  // namespace

void append_utf8(std::string& out, std::string_view units, DataKind kind) {
    const std::size_t start = out.size();
    out.resize(start + max_utf8_size(units.size(), kind));
    const std::size_t n =
        encode_utf8(reinterpret_cast<unsigned char*>(out.data()) + start, units, kind);
    out.resize(start + n);
}

// ---- one file, synchronously ---------------------------------------------------------------

namespace {

std::atomic<std::uint64_t> g_temp_counter{0};

// Creates `dir` (relative to root_fd) and any missing parents. Tries the directory itself first:
// usually only the leaf is missing, so this costs one mkdirat. EEXIST counts as success even if
// the entry is a file: the next openat then fails with ENOTDIR, which names the real problem.
// Returns 0 or an errno value; `failed_dir` names the directory that could not be made.
int make_dirs(int root_fd, const std::string& dir, std::string& failed_dir) {
    if (::mkdirat(root_fd, dir.c_str(), 0777) == 0 || errno == EEXIST) return 0;
    if (errno != ENOENT) {
        failed_dir = dir;
        return errno;
    }
    const std::size_t slash = dir.rfind('/');
    if (slash == std::string::npos) {  // the root itself is gone
        failed_dir = dir;
        return ENOENT;
    }
    if (int err = make_dirs(root_fd, dir.substr(0, slash), failed_dir)) return err;
    if (::mkdirat(root_fd, dir.c_str(), 0777) == 0 || errno == EEXIST) return 0;
    failed_dir = dir;
    return errno;
}

// True when the file at `path` holds exactly `data`; the caller already checked the size.
// Reads at most one byte more than expected so that a single read() both fetches a small file and
// proves its end; stops at the first differing chunk. Any error means "not identical", and the
// normal write path will then report a real failure if there is one.
bool same_content(int root_fd, const char* path, std::string_view data, std::string& scratch) {
    const int fd = ::openat(root_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return false;
    constexpr std::size_t kChunk = std::size_t{1} << 20;
    if (scratch.size() < std::min(kChunk, data.size() + 1))
        scratch.resize(std::min(kChunk, data.size() + 1));
    std::size_t off = 0;
    bool same = true;
    for (;;) {
        const std::size_t want = std::min(scratch.size(), data.size() - off + 1);
        const ssize_t n = ::read(fd, scratch.data(), want);
        if (n < 0) {
            if (errno == EINTR) continue;
            same = false;
            break;
        }
        if (n == 0) {
            same = off == data.size();
            break;
        }
        const auto got = static_cast<std::size_t>(n);
        if (off + got > data.size() || std::memcmp(scratch.data(), data.data() + off, got) != 0) {
            same = false;
            break;
        }
        off += got;
    }
    ::close(fd);
    return same;
}

int write_all(int fd, std::string_view data) {
    const char* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, std::min<std::size_t>(left, std::size_t{1} << 30));
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EIO;  // cannot happen for regular files; never spin
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    return 0;
}

AtomicWriteResult failure(AtomicWriteResult r, int err, std::string operation) {
    r.status = AtomicWriteStatus::failed;
    r.error_number = err;
    r.operation = std::move(operation);
    return r;
}

}  // namespace

AtomicWriteResult write_file_atomic(int root_fd, std::string_view rel_path, std::string_view data,
                                    const AtomicWriteOptions& options, std::string& scratch) {
    AtomicWriteResult result;
    const std::string path(rel_path);  // NUL-terminated for the syscalls
    const std::size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? std::string() : path.substr(0, slash);

    if (options.skip_identical) {
        struct stat st {};
        if (::fstatat(root_fd, path.c_str(), &st, 0) == 0 && S_ISREG(st.st_mode) &&
            static_cast<std::uint64_t>(st.st_size) == data.size() &&
            same_content(root_fd, path.c_str(), data, scratch)) {
            result.status = AtomicWriteStatus::skipped_identical;
            return result;
        }
    }

    // The temp file lives in the target directory so that rename() is atomic (same file system).
    // pid + a process-wide counter make the name unique across writer threads and across
    // processes writing into one tree; O_EXCL guarantees it, and we retry on a stale leftover.
    std::string tmp;
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; ++attempt) {
        tmp = dir.empty() ? std::string() : dir + "/";
        tmp += ".~bengal.";
        tmp += std::to_string(::getpid());
        tmp += '.';
        tmp += std::to_string(g_temp_counter.fetch_add(1, std::memory_order_relaxed));
        tmp += ".tmp";
        fd = ::openat(root_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
                      0666);
        if (fd >= 0) break;
        if (errno == ENOENT && !dir.empty() && !result.created_directory) {
            std::string failed_dir;
            if (int err = make_dirs(root_fd, dir, failed_dir))
                return failure(result, err, "creating directory '" + failed_dir + "'");
            result.created_directory = true;
            continue;
        }
        if (errno == EINTR || errno == EEXIST) continue;
        return failure(result, errno,
                       "creating a temp file in '" + (dir.empty() ? std::string(".") : dir) + "'");
    }
    if (fd < 0) return failure(result, EEXIST, "creating a unique temp file");

    auto abandon = [&](int err, const char* operation) {
        ::unlinkat(root_fd, tmp.c_str(), 0);
        return failure(result, err, operation);
    };

    if (int err = write_all(fd, data)) {
        ::close(fd);
        return abandon(err, "writing the temp file");
    }
    if (options.fsync && ::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        return abandon(err, "syncing the temp file");
    }
    // On Linux the descriptor is released even when close() fails, so no retry; EINTR is not a
    // data error. Other errors (EIO, or ENOSPC on network file systems) mean the bytes are lost.
    if (::close(fd) != 0 && errno != EINTR) return abandon(errno, "closing the temp file");
    if (::renameat(root_fd, tmp.c_str(), root_fd, path.c_str()) != 0)
        return abandon(errno, "renaming the temp file into place");
    result.status = AtomicWriteStatus::written;
    return result;
}

// ---- the write-behind writer ---------------------------------------------------------------

namespace {

using Clock = std::chrono::steady_clock;

// Charged per item on top of its bytes, so that a flood of empty files is bounded too.
constexpr std::size_t kItemOverhead = 128;

struct Item {
    std::string path;
    std::string data;
    std::size_t cost = 0;
    DataKind kind = DataKind::bytes;
};

struct Shard {
    std::deque<Item> queue;
    std::condition_variable cv;
    std::uint64_t enqueued = 0;  // items ever accepted by this shard
    std::uint64_t done = 0;      // items finished (written, skipped, failed or discarded)
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Creates `root` and its missing parents (an absolute or cwd-relative path).
int make_root(const std::string& root) {
    if (::mkdir(root.c_str(), 0777) == 0 || errno == EEXIST) return 0;
    if (errno != ENOENT) return errno;
    std::size_t slash = root.find_last_not_of('/');
    slash = slash == std::string::npos ? std::string::npos : root.rfind('/', slash);
    if (slash == std::string::npos || slash == 0) return ENOENT;
    if (int err = make_root(root.substr(0, slash))) return err;
    if (::mkdir(root.c_str(), 0777) == 0 || errno == EEXIST) return 0;
    return errno;
}

}  // namespace

struct OutputWriter::Impl {
    OutputWriterOptions options;
    std::string root;
    int root_fd = -1;
    pid_t owner_pid = ::getpid();  // checked before any lock: see "fork()" in writer.hpp

    void check_process() const {
        if (::getpid() != owner_pid)
            throw OutputWriterClosed(
                "this OutputWriter was created in another process (before fork()); create a new "
                "one in this process");
    }

    mutable std::mutex mu;
    std::condition_variable space_cv;  // write() waiting for buffer space
    std::condition_variable done_cv;   // flush()/close() waiting for items to finish
    std::vector<std::unique_ptr<Shard>> shards;
    std::vector<std::thread> threads;
    std::size_t buffered = 0;
    bool closing = false;   // write() refused from now on
    bool stopping = false;  // writer threads exit once their queue is empty
    bool closed = false;
    std::optional<OutputIoError> error;
    std::set<std::string> dirs_to_sync;  // fsync mode: directories that got new entries
    OutputWriterStats stats;

    std::mutex close_mu;  // serialises close() calls

    bool fits(std::size_t cost) const {
        return buffered == 0 || buffered + cost <= options.max_buffer_bytes;
    }

    // Precondition: lock held, path normalised, fits(cost) or caller decided to wait already.
    void enqueue_locked(std::string&& path, std::string&& data, std::size_t cost, DataKind kind) {
        Shard& shard =
            *shards[shards.size() == 1 ? 0 : std::hash<std::string>{}(path) % shards.size()];
        shard.queue.push_back(Item{std::move(path), std::move(data), cost, kind});
        ++shard.enqueued;
        buffered += cost;
        stats.queue_high_water_bytes = std::max(stats.queue_high_water_bytes, buffered);
        shard.cv.notify_one();
    }

    void throw_if_unusable_locked() const {
        if (closing) throw OutputWriterClosed();
        if (error) throw *error;
    }

    // First error: remember it, drop everything still queued, wake everyone who waits.
    void record_error_locked(int err, const std::string& path, const std::string& operation) {
        if (error) return;
        error.emplace(err, path, root + "/" + path, operation);
        for (auto& shard : shards) {
            for (const Item& item : shard->queue) buffered -= item.cost;
            stats.files_discarded += shard->queue.size();
            shard->done += shard->queue.size();
            shard->queue.clear();
        }
        space_cv.notify_all();
        done_cv.notify_all();
    }

    void run(std::size_t index) {
        ::pthread_setname_np(::pthread_self(), "bengal-writer");
        Shard& shard = *shards[index];
        std::string scratch;
        // UTF-8 form of a text item. Not a std::string: resizing one zero-fills the worst case
        // (3x the size of a UCS-2 page) for every item before it is overwritten.
        std::unique_ptr<unsigned char[]> text;
        std::size_t text_capacity = 0;
        std::unique_lock lock(mu);
        for (;;) {
            shard.cv.wait(lock, [&] { return !shard.queue.empty() || stopping; });
            if (shard.queue.empty()) return;
            Item item = std::move(shard.queue.front());
            shard.queue.pop_front();
            lock.unlock();

            const auto start = Clock::now();
            AtomicWriteResult r;
            std::size_t size = item.data.size();
            // Nothing may escape a writer thread (std::terminate); the only thing that can
            // throw here is allocation or the test hook.
            try {
                if (options.before_item) options.before_item(item.path);
                std::string_view bytes = item.data;
                if (item.kind != DataKind::bytes) {
                    const std::size_t need = max_utf8_size(item.data.size(), item.kind);
                    if (need > text_capacity) {
                        text.reset();  // free first: never hold both buffers
                        text = std::make_unique_for_overwrite<unsigned char[]>(need);
                        text_capacity = need;
                    }
                    const std::size_t n = encode_utf8(text.get(), item.data, item.kind);
                    bytes = std::string_view(reinterpret_cast<const char*>(text.get()), n);
                    std::string().swap(item.data);
                }
                size = bytes.size();
                r = write_file_atomic(root_fd, item.path, bytes, options.file, scratch);
                if (text_capacity > (std::size_t{4} << 20)) {  // one huge page: do not keep it
                    text.reset();
                    text_capacity = 0;
                }
            } catch (const std::bad_alloc&) {
                r.status = AtomicWriteStatus::failed;
                r.error_number = ENOMEM;
                r.operation = "allocating memory";
            } catch (...) {
                r.status = AtomicWriteStatus::failed;
                r.error_number = EIO;
                r.operation = "an unexpected exception in the writer thread";
            }
            const auto busy = Clock::now() - start;
            // Free the bytes before handing their budget back, so memory really stays bounded.
            std::string().swap(item.data);
            std::string dir;
            if (options.file.fsync && r.status == AtomicWriteStatus::written) {
                const std::size_t slash = item.path.rfind('/');
                dir = slash == std::string::npos ? "." : item.path.substr(0, slash);
            }

            lock.lock();
            stats.seconds_busy += seconds(busy);
            switch (r.status) {
                case AtomicWriteStatus::written:
                    ++stats.files_written;
                    stats.bytes_written += size;
                    break;
                case AtomicWriteStatus::skipped_identical:
                    ++stats.skipped_identical;
                    stats.bytes_skipped += size;
                    break;
                case AtomicWriteStatus::failed:
                    ++stats.files_failed;
                    record_error_locked(r.error_number, item.path, r.operation);
                    break;
            }
            if (r.created_directory) ++stats.directories_created;
            if (!dir.empty()) {
                // A new directory's own entry lives in its parent: sync the whole chain.
                for (;;) {
                    dirs_to_sync.insert(dir);
                    if (!r.created_directory || dir == ".") break;
                    const std::size_t slash = dir.rfind('/');
                    dir = slash == std::string::npos ? "." : dir.substr(0, slash);
                }
            }
            buffered -= item.cost;
            ++shard.done;
            space_cv.notify_all();
            done_cv.notify_all();
        }
    }

    // Waits until every shard has finished the items it had when called. Lock held.
    void wait_done_locked(std::unique_lock<std::mutex>& lock) {
        std::vector<std::uint64_t> target;
        target.reserve(shards.size());
        for (const auto& shard : shards) target.push_back(shard->enqueued);
        done_cv.wait(lock, [&] {
            for (std::size_t i = 0; i < shards.size(); ++i)
                if (shards[i]->done < target[i]) return false;
            return true;
        });
    }

    // fsync mode: make the renames durable. Called without the lock.
    void sync_dirs() {
        std::set<std::string> dirs;
        {
            std::lock_guard lock(mu);
            dirs.swap(dirs_to_sync);
        }
        for (const std::string& dir : dirs) {
            const int fd = ::openat(root_fd, dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            int err = fd < 0 ? errno : 0;
            if (fd >= 0) {
                if (::fsync(fd) != 0) err = errno;
                ::close(fd);
            }
            if (err != 0) {
                std::lock_guard lock(mu);
                record_error_locked(err, dir, "syncing the directory");
            }
        }
    }

    void stop_and_join() {
        {
            std::lock_guard lock(mu);
            stopping = true;
            for (auto& shard : shards) shard->cv.notify_all();
        }
        for (auto& t : threads)
            if (t.joinable()) t.join();
        threads.clear();
    }
};

OutputWriter::OutputWriter(std::string root, OutputWriterOptions options)
    : root_(std::move(root)), impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    if (root_.empty()) root_.push_back('.');  // (not = ".": GCC 12 false -Wrestrict)
    // Keep "/" intact but drop trailing slashes elsewhere, so error paths read root + "/" + rel.
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
    s.root = root_;
    s.options = std::move(options);
    s.options.threads = std::clamp(s.options.threads, 1u, 64u);
    s.stats.max_buffer_bytes = s.options.max_buffer_bytes;
    s.stats.threads = s.options.threads;

    if (int err = make_root(root_)) throw OutputIoError(err, "", root_, "creating the output root");
    s.root_fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s.root_fd < 0) throw OutputIoError(errno, "", root_, "opening the output root");

    try {
        for (unsigned i = 0; i < s.options.threads; ++i)
            s.shards.push_back(std::make_unique<Shard>());
        for (unsigned i = 0; i < s.options.threads; ++i)
            s.threads.emplace_back([&s, i] { s.run(i); });
    } catch (...) {
        s.stop_and_join();
        ::close(s.root_fd);
        throw;
    }
}

OutputWriter::~OutputWriter() {
    if (::getpid() != impl_->owner_pid) {
        // Forked child: the threads are not ours to join (std::thread would terminate if
        // destroyed joinable), and the mutexes may be held by parent threads that do not exist
        // here. Leak the thread handles and the state; release only the descriptor.
        ::close(impl_->root_fd);
        static_cast<void>(impl_.release());
        return;
    }
    try {
        close();
    } catch (...) {
        // Documented: the destructor cannot report; callers who care call close().
    }
    if (!impl_->threads.empty()) impl_->stop_and_join();  // only if close() itself failed early
    if (impl_->root_fd >= 0) ::close(impl_->root_fd);
}

bool OutputWriter::try_write(std::string_view rel_path, std::string& data, DataKind kind) {
    impl_->check_process();
    std::string path;
    if (auto p = normalize_output_path(rel_path, path); p != OutputPathProblem::ok)
        throw InvalidOutputPath(std::string(rel_path), p);
    const std::size_t cost = data.size() + path.size() + kItemOverhead;
    Impl& s = *impl_;
    std::lock_guard lock(s.mu);
    s.throw_if_unusable_locked();
    if (!s.fits(cost)) return false;
    s.enqueue_locked(std::move(path), std::move(data), cost, kind);
    return true;
}

void OutputWriter::write(std::string_view rel_path, std::string data, DataKind kind) {
    impl_->check_process();
    std::string path;
    if (auto p = normalize_output_path(rel_path, path); p != OutputPathProblem::ok)
        throw InvalidOutputPath(std::string(rel_path), p);
    const std::size_t cost = data.size() + path.size() + kItemOverhead;
    Impl& s = *impl_;
    std::unique_lock lock(s.mu);
    s.throw_if_unusable_locked();
    if (!s.fits(cost)) {
        const auto start = Clock::now();
        s.space_cv.wait(lock, [&] { return s.fits(cost) || s.closing || s.error; });
        s.stats.seconds_blocked += seconds(Clock::now() - start);
        s.throw_if_unusable_locked();
    }
    s.enqueue_locked(std::move(path), std::move(data), cost, kind);
}

void OutputWriter::flush() {
    impl_->check_process();
    Impl& s = *impl_;
    {
        std::unique_lock lock(s.mu);
        if (s.closed) throw OutputWriterClosed();
        s.wait_done_locked(lock);
    }
    if (s.options.file.fsync) s.sync_dirs();
    std::lock_guard lock(s.mu);
    if (s.error) throw *s.error;
}

void OutputWriter::close() {
    impl_->check_process();
    Impl& s = *impl_;
    std::lock_guard close_lock(s.close_mu);
    {
        std::lock_guard lock(s.mu);
        if (s.closed) return;
        s.closing = true;
        s.space_cv.notify_all();  // blocked write() calls give up with OutputWriterClosed
    }
    // Writer threads drain their queues before they exit (or discard them after an error).
    s.stop_and_join();
    if (s.options.file.fsync) s.sync_dirs();
    std::lock_guard lock(s.mu);
    s.closed = true;
    if (s.error) throw *s.error;
}

bool OutputWriter::closed() const {
    if (::getpid() != impl_->owner_pid) return true;  // unusable here; see check_process()
    std::lock_guard lock(impl_->mu);
    return impl_->closed;
}

OutputWriterStats OutputWriter::stats() const {
    impl_->check_process();
    std::lock_guard lock(impl_->mu);
    return impl_->stats;
}

}  // namespace bengal
