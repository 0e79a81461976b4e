// Write-behind output: the one component that writes files under the output directory. Callers
// hand over (relative path, bytes) and go back to rendering; writer threads drain a bounded queue,
// write each file atomically (temp file in the same directory + rename) and leave files whose
// bytes are already identical untouched. Plain C++: no Python here. Design notes and measurements:
// docs/output-writer.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace bengal {

// ---- relative path rules -------------------------------------------------------------------

// Why a relative output path was refused.
enum class OutputPathProblem {
    ok,
    empty,           // "", or only "." / "/" separators after normalisation
    absolute,        // starts with '/'
    parent_segment,  // a ".." segment anywhere, even one that would stay inside root
    nul_byte,        // an embedded NUL would silently truncate the path in the kernel
    backslash,       // "..\\x" or "C:\\x" escapes on Windows; refused everywhere for portability
    drive_letter,    // "C:..." as the first segment (Windows drive-relative)
    trailing_slash,  // "a/b/" names a directory, not a file
};

// Human-readable reason for a problem (static storage).
const char* describe(OutputPathProblem problem) noexcept;

// Checks `rel_path` lexically and writes its normal form to `normalized` (empty and "."
// segments dropped: "a//./b.html" -> "a/b.html"), so that two spellings of one file are one key.
// Symlinks inside the root are followed when writing: the root belongs to the site, and this
// check guards against paths computed from content, not against a hostile output directory.
OutputPathProblem normalize_output_path(std::string_view rel_path, std::string& normalized);

// Thrown by OutputWriter::write (in the calling thread) for a refused path.
class InvalidOutputPath : public std::invalid_argument {
public:
    InvalidOutputPath(std::string path, OutputPathProblem problem);
    const std::string& path() const noexcept { return path_; }
    OutputPathProblem problem() const noexcept { return problem_; }

private:
    std::string path_;
    OutputPathProblem problem_;
};

// Thrown by write()/flush() after close() has begun, and by every call in a forked child (the
// writer threads exist only in the process that created the writer).
class OutputWriterClosed : public std::logic_error {
public:
    OutputWriterClosed() : std::logic_error("I/O operation on a closed OutputWriter") {}
    explicit OutputWriterClosed(const char* why) : std::logic_error(why) {}
};

// An I/O failure while writing one output file. code() carries the errno value (generic
// category); path() is the relative output path, full_path() the path as opened (root + path),
// operation() what was being done ("creating directory 'a/b'", "renaming the temp file", ...).
class OutputIoError : public std::system_error {
public:
    OutputIoError(int error_number, std::string path, std::string full_path, std::string operation);
    const std::string& path() const noexcept { return path_; }
    const std::string& full_path() const noexcept { return full_path_; }
    const std::string& operation() const noexcept { return operation_; }
    int error_number() const noexcept { return code().value(); }

private:
    std::string path_;
    std::string full_path_;
    std::string operation_;
};

// ---- text payloads -------------------------------------------------------------------------

// What the bytes handed to OutputWriter::write are. `bytes` is written as is. The others are raw
// fixed-width code units in native byte order (Python's internal str layouts: Latin-1, UCS-2,
// UCS-4), converted to UTF-8 on the writer thread, so a caller holding a lock (the GIL) only
// copies memory instead of encoding. Callers must not pass surrogates (U+D800-U+DFFF) or values
// above U+10FFFF; if they do anyway, each becomes U+FFFD: the output is always valid UTF-8.
enum class DataKind { bytes, latin1, ucs2, ucs4 };

// Appends the UTF-8 form of `units` (interpreted per `kind`) to `out`. A trailing partial code
// unit is ignored.
void append_utf8(std::string& out, std::string_view units, DataKind kind);

// ---- one file, synchronously ---------------------------------------------------------------

struct AtomicWriteOptions {
    // fsync the temp file before renaming it. Off by default: a site's output is reproducible
    // from its sources, so what matters is that a reader (web server, rsync) never sees a half
    // written file, which rename alone guarantees. Durability across a power loss costs one
    // fsync per file (docs/output-writer.md has the measured price).
    bool fsync = false;
    // Compare with the existing file (size first, then bytes) and leave it untouched if equal.
    bool skip_identical = true;
};

enum class AtomicWriteStatus { written, skipped_identical, failed };

struct AtomicWriteResult {
    AtomicWriteStatus status = AtomicWriteStatus::failed;
    int error_number = 0;        // errno when failed
    std::string operation;       // what failed, when failed
    bool created_directory = false;  // parent directories had to be created
};

// Writes `data` to `rel_path` (already normalised, see normalize_output_path) below the directory
// open as `root_fd`: temp file ".~bengal.<pid>.<n>.tmp" in the target directory (O_EXCL, unique
// per process and call), every byte written, optional fsync, close, rename over the final name.
// Missing parent directories are created; a concurrent creator of the same directory is fine.
// On failure the temp file is removed, so the final name holds either its old content or the new
// one, never a prefix. `scratch` is a reusable read buffer for the identical-content check.
// Never throws except std::bad_alloc. Thread-safe (no shared state besides an atomic counter).
AtomicWriteResult write_file_atomic(int root_fd, std::string_view rel_path, std::string_view data,
                                    const AtomicWriteOptions& options, std::string& scratch);

// ---- the write-behind writer ---------------------------------------------------------------

struct OutputWriterOptions {
    // Bytes that may be queued or in flight (data + path + a per-item overhead) before write()
    // blocks. One item larger than the whole budget is still accepted when nothing else is
    // buffered, so the high-water mark never exceeds max(max_buffer_bytes, largest item).
    std::size_t max_buffer_bytes = std::size_t{64} << 20;
    // Writer threads. Paths are sharded by hash, one FIFO queue per thread, so two writes of the
    // same path are always handled by the same thread in call order: the last write wins.
    // 2 by measurement (docs/output-writer.md): on ext4 a second thread writes a burst of small
    // files ~1.5x faster (the kernel work runs on both cores); 4 gains nothing more on 2 cores
    // and costs the renderer CPU; in the render+write loop 1 and 2 are equal.
    unsigned threads = 2;
    AtomicWriteOptions file;
    // Instrumentation hook, called on a writer thread before each item is processed (tests use
    // it to stall the writer and observe back-pressure). Must not call back into the writer.
    std::function<void(std::string_view rel_path)> before_item;
};

struct OutputWriterStats {
    std::uint64_t files_written = 0;
    std::uint64_t skipped_identical = 0;
    std::uint64_t bytes_written = 0;
    std::uint64_t bytes_skipped = 0;     // bytes of skipped-identical files
    std::uint64_t files_failed = 0;      // items whose write failed (the first one is raised)
    std::uint64_t files_discarded = 0;   // queued items dropped after the first error
    std::uint64_t directories_created = 0;  // items that had to create parent directories
    double seconds_busy = 0;             // time writer threads spent on items, summed over threads
    double seconds_blocked = 0;          // time write() callers spent waiting for buffer space
    std::size_t queue_high_water_bytes = 0;
    std::size_t max_buffer_bytes = 0;
    unsigned threads = 0;
};

// Lifecycle: construct (creates `root` if missing; throws OutputIoError if it cannot), write()
// any number of times from any number of threads, flush() to wait for the disk, close() once
// (further close() calls do nothing). The destructor closes and swallows errors, so call close()
// to learn about them.
//
// Errors: the first I/O error is recorded (path, errno, operation) and everything still queued is
// discarded (counted in files_discarded): a failed build is going to be rebuilt anyway, and a full
// disk should not be hammered with thousands more attempts. From then on write() and flush()
// throw that OutputIoError, and close() throws it (once, from the call that closes).
//
// All member functions are thread-safe. Writer threads never call user code except before_item.
//
// fork(): a child process inherits the object but not its threads. In the child every call
// throws OutputWriterClosed and the destructor only releases memory and the root descriptor (it
// never joins threads that do not exist there, nor touches a mutex a parent thread may have held).
// Create a new writer in the child instead.
class OutputWriter {
public:
    OutputWriter(std::string root, OutputWriterOptions options = {});
    ~OutputWriter();
    OutputWriter(const OutputWriter&) = delete;
    OutputWriter& operator=(const OutputWriter&) = delete;

    // Validates `rel_path` (throws InvalidOutputPath), then enqueues; blocks while the buffer is
    // full. Throws OutputWriterClosed after close() began, OutputIoError after an I/O error.
    // The buffer is charged data.size() (the raw size for text kinds: what is actually held).
    void write(std::string_view rel_path, std::string data, DataKind kind = DataKind::bytes);

    // Like write() but never blocks: returns false (leaving `data` untouched) when the item does
    // not fit in the buffer right now. Lets a caller holding a lock (the Python binding holds the
    // GIL) take the fast path and only release it when it really has to wait.
    bool try_write(std::string_view rel_path, std::string& data,
                   DataKind kind = DataKind::bytes);

    // Waits until every write() that returned is on disk (renamed into place; with fsync also
    // synced, including the directories), then throws the first error if there was one.
    void flush();

    // flush(), then stops and joins the writer threads. Idempotent.
    void close();

    bool closed() const;
    OutputWriterStats stats() const;
    const std::string& root() const noexcept { return root_; }

private:
    struct Impl;
    std::string root_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bengal
