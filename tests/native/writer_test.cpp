// OutputWriter: atomic writes, identical-skip, path rules, ordering, back-pressure and real I/O
// failures (read-only directory, full file system, file size limit, file/directory clashes).

#include "bengal_native/writer.hpp"

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using bengal::OutputIoError;
using bengal::OutputPathProblem;
using bengal::OutputWriter;
using bengal::OutputWriterOptions;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void put_file(const fs::path& p, const std::string& data) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
}

// Every entry below `dir` whose name marks it as one of our temp files.
std::vector<std::string> temp_leftovers(const fs::path& dir) {
    std::vector<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.path().filename().string().rfind(".~bengal.", 0) == 0) found.push_back(e.path());
    return found;
}

struct stat stat_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st;
}

class WriterTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "bengal-writer-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        root_ = dir_ / "out";
    }
    void TearDown() override {
        std::error_code ec;
        fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
        for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::end(it);
             it.increment(ec))
            if (it->is_directory()) fs::permissions(it->path(), fs::perms::owner_all,
                                                    fs::perm_options::add, ec);
        fs::remove_all(dir_, ec);
    }
    fs::path dir_;
    fs::path root_;
};

// A gate the writer thread waits on (through before_item) until the test opens it.
struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    std::atomic<int> entered{0};
    void wait() {
        ++entered;
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return open; });
    }
    void release() {
        {
            std::lock_guard lock(mu);
            open = true;
        }
        cv.notify_all();
    }
};

}  // namespace

// ---- path rules --------------------------------------------------------------------------------

TEST(OutputPath, NormalisesHarmlessSpellings) {
    std::string out;
    struct Case {
        const char* in;
        const char* want;
    } cases[] = {
        {"index.html", "index.html"},       {"a/b/c.html", "a/b/c.html"},
        {"a//b.html", "a/b.html"},          {"./a/./b.html", "a/b.html"},
        {"a/.hidden", "a/.hidden"},         {"...", "..."},
        {"a/..b/c", "a/..b/c"},             {"ab:c.html", "ab:c.html"},
        {"a/c:d.html", "a/c:d.html"},
        {"über/straße.html", "über/straße.html"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(bengal::normalize_output_path(c.in, out), OutputPathProblem::ok) << c.in;
        EXPECT_EQ(out, c.want) << c.in;
    }
}

TEST(OutputPath, RefusesEscapesAndNonsense) {
    using P = OutputPathProblem;
    std::string out;
    const std::pair<std::string, P> cases[] = {
        {"", P::empty},
        {".", P::empty},
        {"./", P::empty},
        {"//", P::absolute},
        {"/etc/passwd", P::absolute},
        {"..", P::parent_segment},
        {"../x.html", P::parent_segment},
        {"a/../../x", P::parent_segment},
        {"a/../b", P::parent_segment},  // stays inside, but refused: no lexical tricks at all
        {"a/..", P::parent_segment},
        {std::string("a\0b.html", 8), P::nul_byte},
        {std::string("../\0", 4), P::nul_byte},
        {"..\\..\\x.html", P::backslash},
        {"a\\b.html", P::backslash},
        {"C:x.html", P::drive_letter},
        {"c:/x.html", P::drive_letter},
        {"./x:y.html", P::drive_letter},
        {"a/b/", P::trailing_slash},
        {"a/b/.", P::trailing_slash},
    };
    for (const auto& [in, want] : cases) {
        EXPECT_EQ(bengal::normalize_output_path(in, out), want) << in;
        EXPECT_TRUE(out.empty()) << in;
    }
}

TEST_F(WriterTest, InvalidPathIsRefusedInTheCallingThreadAndNothingIsWritten) {
    OutputWriter w(root_.string());
    try {
        w.write("../escape.html", "x");
        FAIL() << "expected InvalidOutputPath";
    } catch (const bengal::InvalidOutputPath& e) {
        EXPECT_EQ(e.problem(), OutputPathProblem::parent_segment);
        EXPECT_EQ(e.path(), "../escape.html");
        EXPECT_NE(std::string(e.what()).find("../escape.html"), std::string::npos);
    }
    EXPECT_THROW(w.write("/abs.html", "x"), bengal::InvalidOutputPath);
    EXPECT_THROW(w.write(std::string("a\0b", 3), "x"), bengal::InvalidOutputPath);
    // A refused path does not poison the writer.
    w.write("ok.html", "fine");
    w.close();
    EXPECT_FALSE(fs::exists(dir_ / "escape.html"));
    EXPECT_EQ(read_file(root_ / "ok.html"), "fine");
    EXPECT_EQ(w.stats().files_written, 1u);
}

// ---- text payloads -----------------------------------------------------------------------------

namespace {

// The textbook encoder, one code point at a time, as the reference.
std::string reference_utf8(std::uint32_t cp) {
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
    std::string out;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return out;
}

template <typename Unit>
std::string units_of(const std::vector<std::uint32_t>& cps) {
    std::string raw(cps.size() * sizeof(Unit), '\0');
    for (std::size_t i = 0; i < cps.size(); ++i) {
        const auto u = static_cast<Unit>(cps[i]);
        std::memcpy(raw.data() + i * sizeof(Unit), &u, sizeof(Unit));
    }
    return raw;
}

}  // namespace

TEST(Utf8Payload, EveryCodePointMatchesTheReferenceEncoder) {
    // Each code point surrounded by ASCII runs of varying length, so that both the 8-byte ASCII
    // block path and the per-unit path see it at every alignment.
    std::vector<std::uint32_t> ucs4_cps;
    std::string want4, want2, want1;
    std::vector<std::uint32_t> ucs2_cps, latin1_cps;
    for (std::uint32_t cp = 0; cp <= 0x10FFFF + 2; ++cp) {
        if (cp > 0x3000 && cp < 0xD700 && cp % 97 != 0) continue;   // sample the big planes,
        if (cp > 0x10100 && cp < 0x10F000 && cp % 997 != 0) continue;  // keep every edge
        const std::size_t pad = cp % 11;
        for (std::size_t k = 0; k < pad; ++k) {
            ucs4_cps.push_back('a' + k);
            want4 += static_cast<char>('a' + k);
        }
        ucs4_cps.push_back(cp);
        want4 += reference_utf8(cp);
        if (cp <= 0xFFFF) {
            for (std::size_t k = 0; k < pad; ++k) {
                ucs2_cps.push_back('a' + k);
                want2 += static_cast<char>('a' + k);
            }
            ucs2_cps.push_back(cp);
            want2 += reference_utf8(cp);
        }
        if (cp <= 0xFF) {
            latin1_cps.push_back(cp);
            want1 += reference_utf8(cp);
        }
    }
    std::string got;
    bengal::append_utf8(got, units_of<std::uint32_t>(ucs4_cps), bengal::DataKind::ucs4);
    EXPECT_EQ(got, want4);
    got.clear();
    bengal::append_utf8(got, units_of<std::uint16_t>(ucs2_cps), bengal::DataKind::ucs2);
    EXPECT_EQ(got, want2);
    got = "prefix:";
    bengal::append_utf8(got, units_of<std::uint8_t>(latin1_cps), bengal::DataKind::latin1);
    EXPECT_EQ(got, "prefix:" + want1);
    got.clear();
    bengal::append_utf8(got, "as is \xff", bengal::DataKind::bytes);
    EXPECT_EQ(got, "as is \xff");
}

TEST_F(WriterTest, TextItemsAreEncodedOnTheWriterThread) {
    const std::vector<std::uint32_t> cps = {'<', 'p', '>', 0xE9, 0x201C, 0x1F600, 0xD800, '<'};
    OutputWriter w(root_.string(), {.threads = 2});
    w.write("ucs4.html", units_of<std::uint32_t>(cps), bengal::DataKind::ucs4);
    w.write("ucs2.html", units_of<std::uint16_t>({'a', 0xE9, 0x201C}), bengal::DataKind::ucs2);
    w.write("latin1.html", units_of<std::uint8_t>({'a', 0xE9}), bengal::DataKind::latin1);
    w.close();
    EXPECT_EQ(read_file(root_ / "ucs4.html"),
              "<p>\xC3\xA9\xE2\x80\x9C\xF0\x9F\x98\x80\xEF\xBF\xBD<");  // lone surrogate: U+FFFD
    EXPECT_EQ(read_file(root_ / "ucs2.html"), "a\xC3\xA9\xE2\x80\x9C");
    EXPECT_EQ(read_file(root_ / "latin1.html"), "a\xC3\xA9");
    // Stats count the bytes on disk, not the raw units.
    EXPECT_EQ(w.stats().bytes_written, 16u + 6 + 3);
}

// ---- writing -----------------------------------------------------------------------------------

TEST_F(WriterTest, WritesFilesCreatingRootAndDirectories) {
    const fs::path deep_root = root_ / "not" / "yet";
    OutputWriter w(deep_root.string(), {.threads = 2});
    w.write("index.html", "<h1>home</h1>");
    w.write("blog/2024/post/index.html", "post");
    w.write("blog/2024/other/index.html", std::string(100000, 'x'));
    w.write("empty.txt", "");
    w.write("a//b/./c.css", "body{}");
    w.close();
    EXPECT_EQ(read_file(deep_root / "index.html"), "<h1>home</h1>");
    EXPECT_EQ(read_file(deep_root / "blog/2024/post/index.html"), "post");
    EXPECT_EQ(read_file(deep_root / "blog/2024/other/index.html"), std::string(100000, 'x'));
    EXPECT_TRUE(fs::is_regular_file(deep_root / "empty.txt"));
    EXPECT_EQ(fs::file_size(deep_root / "empty.txt"), 0u);
    EXPECT_EQ(read_file(deep_root / "a/b/c.css"), "body{}");
    const auto st = w.stats();
    EXPECT_EQ(st.files_written, 5u);
    EXPECT_EQ(st.skipped_identical, 0u);
    EXPECT_EQ(st.bytes_written, 13u + 4 + 100000 + 0 + 6);
    EXPECT_EQ(st.files_failed, 0u);
    EXPECT_GE(st.directories_created, 3u);
    EXPECT_GT(st.seconds_busy, 0.0);
    EXPECT_EQ(st.threads, 2u);
    EXPECT_TRUE(temp_leftovers(dir_).empty());
}

TEST_F(WriterTest, RootThatIsAFileIsAnErrorAtConstruction) {
    put_file(dir_ / "file", "x");
    try {
        OutputWriter w((dir_ / "file").string());
        FAIL() << "expected OutputIoError";
    } catch (const OutputIoError& e) {
        EXPECT_EQ(e.error_number(), ENOTDIR);
        EXPECT_EQ(e.full_path(), (dir_ / "file").string());
    }
}

TEST_F(WriterTest, IdenticalBytesAreNotRewritten) {
    const std::string big(3 << 20, 'b');  // larger than one compare chunk
    {
        OutputWriter w(root_.string());
        w.write("same.html", "same");
        w.write("big.bin", big);
        w.write("changed.html", "old!");
        w.write("grown.html", "old");
        w.write("big-tail.bin", big);
        w.close();
    }
    // Backdate everything so that a rewrite would be visible even on coarse-mtime file systems.
    for (const char* name :
         {"same.html", "big.bin", "changed.html", "grown.html", "big-tail.bin"}) {
        const timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
        ASSERT_EQ(::utimensat(AT_FDCWD, (root_ / name).c_str(), times, 0), 0);
    }
    const auto ino_same = stat_of(root_ / "same.html").st_ino;
    const auto ino_changed = stat_of(root_ / "changed.html").st_ino;
    std::string big_tail = big;
    big_tail.back() = 'c';  // same size, differs only in the last byte of the last chunk

    OutputWriter w(root_.string());
    w.write("same.html", "same");
    w.write("big.bin", big);
    w.write("changed.html", "new!");  // same size, different bytes
    w.write("grown.html", "older");   // different size
    w.write("big-tail.bin", big_tail);
    w.close();

    EXPECT_EQ(stat_of(root_ / "same.html").st_mtim.tv_sec, 1000000000);
    EXPECT_EQ(stat_of(root_ / "same.html").st_ino, ino_same);
    EXPECT_EQ(stat_of(root_ / "big.bin").st_mtim.tv_sec, 1000000000);
    EXPECT_NE(stat_of(root_ / "changed.html").st_mtim.tv_sec, 1000000000);
    EXPECT_NE(stat_of(root_ / "changed.html").st_ino, ino_changed);  // replaced by rename
    EXPECT_EQ(read_file(root_ / "changed.html"), "new!");
    EXPECT_EQ(read_file(root_ / "grown.html"), "older");
    EXPECT_EQ(read_file(root_ / "big-tail.bin"), big_tail);
    const auto st = w.stats();
    EXPECT_EQ(st.skipped_identical, 2u);
    EXPECT_EQ(st.bytes_skipped, 4u + big.size());
    EXPECT_EQ(st.files_written, 3u);
}

TEST_F(WriterTest, SkipIdenticalCanBeTurnedOff) {
    put_file(root_ / "a.html", "same");
    const timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (root_ / "a.html").c_str(), times, 0), 0);
    OutputWriterOptions opt;
    opt.file.skip_identical = false;
    OutputWriter w(root_.string(), opt);
    w.write("a.html", "same");
    w.close();
    EXPECT_NE(stat_of(root_ / "a.html").st_mtim.tv_sec, 1000000000);
    EXPECT_EQ(w.stats().files_written, 1u);
}

TEST_F(WriterTest, SameFileUnderASymlinkOrAsADirectoryEntryIsNotConfused) {
    // An identical file behind a symlink counts as identical; a symlink to different content is
    // replaced by a regular file (rename replaces the link, never writes through it).
    put_file(dir_ / "elsewhere.html", "shared");
    fs::create_directories(root_);
    fs::create_symlink(dir_ / "elsewhere.html", root_ / "same.html");
    fs::create_symlink(dir_ / "elsewhere.html", root_ / "diff.html");
    OutputWriter w(root_.string());
    w.write("same.html", "shared");
    w.write("diff.html", "mine");
    w.close();
    EXPECT_TRUE(fs::is_symlink(root_ / "same.html"));
    EXPECT_FALSE(fs::is_symlink(root_ / "diff.html"));
    EXPECT_EQ(read_file(root_ / "diff.html"), "mine");
    EXPECT_EQ(read_file(dir_ / "elsewhere.html"), "shared");
    EXPECT_EQ(w.stats().skipped_identical, 1u);
}

TEST_F(WriterTest, LastWriteToAPathWinsWithManyThreads) {
    for (int session = 0; session < 5; ++session) {
        OutputWriter w(root_.string(), {.max_buffer_bytes = 4096, .threads = 4});
        for (int i = 0; i < 200; ++i) {
            w.write("page-" + std::to_string(i % 7) + ".html",
                    std::to_string(session) + ":" + std::to_string(i));
            // Different spellings of one file are one path.
            w.write(i % 2 ? "dir//same.html" : "./dir/same.html", "v" + std::to_string(i));
        }
        w.close();
        EXPECT_EQ(read_file(root_ / "dir/same.html"), "v199");
        for (int k = 0; k < 7; ++k) {
            const int last = 199 - ((199 - k) % 7);
            EXPECT_EQ(read_file(root_ / ("page-" + std::to_string(k) + ".html")),
                      std::to_string(session) + ":" + std::to_string(last));
        }
    }
    EXPECT_TRUE(temp_leftovers(dir_).empty());
}

TEST_F(WriterTest, ManyProducersManyWritersSharedDirectories) {
    constexpr int kProducers = 4;
    constexpr int kPerProducer = 300;
    OutputWriterOptions opt;
    opt.max_buffer_bytes = 16 * 1024;
    opt.threads = 3;
    OutputWriter w(root_.string(), opt);
    std::vector<std::thread> producers;
    for (int p = 0; p < kProducers; ++p) {
        producers.emplace_back([&w, p] {
            for (int i = 0; i < kPerProducer; ++i) {
                // Writers race to create the same deep directories.
                const std::string path = "d" + std::to_string(i % 10) + "/x/y/z/p" +
                                         std::to_string(p) + "-" + std::to_string(i) + ".html";
                w.write(path, std::string(static_cast<std::size_t>(i % 50) * 37, 'a' + p) + path);
            }
        });
    }
    for (auto& t : producers) t.join();
    w.close();
    for (int p = 0; p < kProducers; ++p)
        for (int i = 0; i < kPerProducer; ++i) {
            const std::string path = "d" + std::to_string(i % 10) + "/x/y/z/p" + std::to_string(p) +
                                     "-" + std::to_string(i) + ".html";
            ASSERT_EQ(read_file(root_ / path),
                      std::string(static_cast<std::size_t>(i % 50) * 37, 'a' + p) + path);
        }
    const auto st = w.stats();
    EXPECT_EQ(st.files_written, static_cast<std::uint64_t>(kProducers * kPerProducer));
    EXPECT_EQ(st.files_failed, 0u);
    // The bound: never more than the budget (every item here is far smaller than it).
    EXPECT_LE(st.queue_high_water_bytes, opt.max_buffer_bytes);
    EXPECT_GT(st.queue_high_water_bytes, 0u);
    EXPECT_TRUE(temp_leftovers(dir_).empty());
}

TEST_F(WriterTest, FullBufferBlocksTheProducerUntilTheWriterCatchesUp) {
    Gate gate;
    OutputWriterOptions opt;
    opt.threads = 1;
    const std::string payload(1000, 'p');
    const std::size_t item_cost = payload.size() + std::string("f00.html").size() + 128;
    opt.max_buffer_bytes = 4 * item_cost;  // room for exactly four items
    opt.before_item = [&gate](std::string_view) { gate.wait(); };
    OutputWriter w(root_.string(), opt);

    std::atomic<int> accepted{0};
    std::thread producer([&] {
        for (int i = 0; i < 20; ++i) {
            char name[16];
            std::snprintf(name, sizeof name, "f%02d.html", i);
            w.write(name, payload);
            ++accepted;
        }
    });
    // The writer holds item 0 at the gate (still counted: its bytes are not written yet), so the
    // producer gets exactly four items in and then has to wait.
    // Generous: under a sanitizer on a loaded machine the producer may start late.
    for (int spin = 0; spin < 2000 && accepted.load() < 4; ++spin)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    EXPECT_EQ(accepted.load(), 4);
    EXPECT_EQ(w.stats().queue_high_water_bytes, 4 * item_cost);
    std::string probe = payload;
    EXPECT_FALSE(w.try_write("probe.html", probe));  // the non-blocking form says "would block"
    EXPECT_EQ(probe, payload);                        // and leaves the data with the caller

    gate.release();
    producer.join();
    w.close();
    const auto st = w.stats();
    EXPECT_EQ(accepted.load(), 20);
    EXPECT_EQ(st.files_written, 20u);
    EXPECT_LE(st.queue_high_water_bytes, opt.max_buffer_bytes);
    EXPECT_GT(st.seconds_blocked, 0.1);
}

TEST_F(WriterTest, AnItemLargerThanTheWholeBufferIsStillAccepted) {
    OutputWriterOptions opt;
    opt.max_buffer_bytes = 100;
    OutputWriter w(root_.string(), opt);
    const std::string big(10000, 'B');
    for (int i = 0; i < 5; ++i) w.write("big" + std::to_string(i), big);
    w.close();
    const auto st = w.stats();
    EXPECT_EQ(st.files_written, 5u);
    // Never two of them at once: the bound is max(budget, largest item).
    EXPECT_EQ(st.queue_high_water_bytes, big.size() + 4 + 128);
}

TEST_F(WriterTest, FlushWaitsForTheDiskAndTheWriterStaysUsable) {
    OutputWriter w(root_.string(), {.threads = 2});
    for (int i = 0; i < 100; ++i) w.write("a/" + std::to_string(i), std::to_string(i));
    w.flush();
    for (int i = 0; i < 100; ++i)
        ASSERT_EQ(read_file(root_ / "a" / std::to_string(i)), std::to_string(i));
    w.write("after-flush.html", "yes");
    w.flush();
    EXPECT_EQ(read_file(root_ / "after-flush.html"), "yes");
    w.close();
    w.close();  // idempotent
    EXPECT_TRUE(w.closed());
    EXPECT_THROW(w.write("late.html", "x"), bengal::OutputWriterClosed);
    EXPECT_THROW(w.flush(), bengal::OutputWriterClosed);
    EXPECT_EQ(w.stats().files_written, 101u);
}

TEST_F(WriterTest, DestructorFinishesQueuedWrites) {
    {
        OutputWriter w(root_.string(), {.threads = 2});
        for (int i = 0; i < 50; ++i) w.write("x/" + std::to_string(i), "data");
    }
    for (int i = 0; i < 50; ++i) EXPECT_EQ(read_file(root_ / "x" / std::to_string(i)), "data");
}

TEST_F(WriterTest, FsyncModeWritesTheSameFiles) {
    OutputWriterOptions opt;
    opt.threads = 2;
    opt.file.fsync = true;
    OutputWriter w(root_.string(), opt);
    for (int i = 0; i < 20; ++i)
        w.write("s/" + std::to_string(i % 4) + "/" + std::to_string(i), "x");
    w.write("top.html", "t");
    w.flush();
    w.close();
    EXPECT_EQ(w.stats().files_written, 21u);
    EXPECT_EQ(read_file(root_ / "s/3/19"), "x");
}

// ---- failures ----------------------------------------------------------------------------------

TEST_F(WriterTest, AFileWhereADirectoryIsNeededFailsWithEnotdir) {
    put_file(root_ / "blog", "i am a file");
    OutputWriter w(root_.string(), {.threads = 1});  // one FIFO: ok.html is written first
    w.write("ok.html", "fine");
    w.write("blog/post/index.html", "post");
    try {
        w.flush();
        FAIL() << "expected OutputIoError";
    } catch (const OutputIoError& e) {
        EXPECT_EQ(e.error_number(), ENOTDIR);
        EXPECT_EQ(e.code(), std::errc::not_a_directory);
        EXPECT_EQ(e.path(), "blog/post/index.html");
        EXPECT_EQ(e.full_path(), root_.string() + "/blog/post/index.html");
        EXPECT_NE(std::string(e.what()).find("blog/post/index.html"), std::string::npos);
    }
    // Sticky: later writes are rejected with the same error, and close() reports it once.
    try {
        w.write("later.html", "x");
        FAIL() << "expected OutputIoError";
    } catch (const OutputIoError& e) {
        EXPECT_EQ(e.path(), "blog/post/index.html");
    }
    EXPECT_THROW(w.close(), OutputIoError);
    EXPECT_NO_THROW(w.close());
    EXPECT_EQ(read_file(root_ / "blog"), "i am a file");
    EXPECT_EQ(read_file(root_ / "ok.html"), "fine");
    EXPECT_FALSE(fs::exists(root_ / "later.html"));
    EXPECT_EQ(w.stats().files_failed, 1u);
    EXPECT_TRUE(temp_leftovers(dir_).empty());
}

TEST_F(WriterTest, ADirectoryWhereAFileShouldBeFailsWithEisdir) {
    put_file(root_ / "index.html" / "child", "occupied");
    OutputWriter w(root_.string(), {.threads = 2});
    w.write("index.html", "<html>");
    try {
        w.close();
        FAIL() << "expected OutputIoError";
    } catch (const OutputIoError& e) {
        EXPECT_EQ(e.error_number(), EISDIR);
        EXPECT_EQ(e.path(), "index.html");
        EXPECT_EQ(e.operation(), "renaming the temp file into place");
    }
    EXPECT_TRUE(fs::is_directory(root_ / "index.html"));
    EXPECT_TRUE(temp_leftovers(dir_).empty());
}

TEST_F(WriterTest, QueuedItemsAreDiscardedAfterTheFirstErrorAndNothingDeadlocks) {
    put_file(root_ / "blocker", "file");
    Gate gate;
    OutputWriterOptions opt;
    opt.threads = 1;
    opt.max_buffer_bytes = 1 << 20;
    opt.before_item = [&gate](std::string_view) { gate.wait(); };
    OutputWriter w(root_.string(), opt);
    w.write("blocker/first.html", "fails");  // ENOTDIR once the gate opens
    for (int i = 0; i < 50; ++i) w.write("queued/" + std::to_string(i), "never written");
    gate.release();
    EXPECT_THROW(w.flush(), OutputIoError);
    EXPECT_THROW(w.flush(), OutputIoError);  // sticky
    EXPECT_THROW(w.close(), OutputIoError);
    const auto st = w.stats();
    EXPECT_EQ(st.files_failed, 1u);
    EXPECT_EQ(st.files_discarded, 50u);
    EXPECT_EQ(st.files_written, 0u);
    EXPECT_FALSE(fs::exists(root_ / "queued"));
}

TEST_F(WriterTest, AProducerBlockedOnAFullBufferIsReleasedByAnError) {
    put_file(root_ / "blocker", "file");
    Gate gate;
    OutputWriterOptions opt;
    opt.threads = 1;
    opt.max_buffer_bytes = 600;
    opt.before_item = [&gate](std::string_view) { gate.wait(); };
    OutputWriter w(root_.string(), opt);
    w.write("blocker/x.html", std::string(400, 'x'));
    std::atomic<bool> threw{false};
    std::thread producer([&] {
        try {
            w.write("second.html", std::string(400, 'y'));  // does not fit: blocks
        } catch (const OutputIoError&) {
            threw = true;
        }
    });
    for (int spin = 0; spin < 2000 && gate.entered.load() == 0; ++spin)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gate.release();
    producer.join();
    EXPECT_THROW(w.close(), OutputIoError);
    // The error is recorded before the failed item's bytes leave the budget, so the woken
    // producer (or a late one) always sees it: no hang, and its item never reaches the disk.
    EXPECT_TRUE(threw.load());
    EXPECT_EQ(w.stats().files_failed, 1u);
    EXPECT_FALSE(fs::exists(root_ / "second.html"));
}

TEST_F(WriterTest, CloseReleasesAProducerBlockedOnAFullBuffer) {
    Gate gate;
    OutputWriterOptions opt;
    opt.threads = 1;
    opt.max_buffer_bytes = 600;
    opt.before_item = [&gate](std::string_view) { gate.wait(); };
    OutputWriter w(root_.string(), opt);
    w.write("one.html", std::string(400, 'x'));
    std::atomic<bool> closed_error{false};
    std::thread producer([&] {
        try {
            w.write("two.html", std::string(400, 'y'));
        } catch (const bengal::OutputWriterClosed&) {
            closed_error = true;
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::thread closer([&] { w.close(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gate.release();
    closer.join();
    producer.join();
    EXPECT_TRUE(closed_error.load());
    EXPECT_EQ(read_file(root_ / "one.html"), std::string(400, 'x'));
    EXPECT_FALSE(fs::exists(root_ / "two.html"));
}

namespace {

// Clears CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the effective set of the
// calling thread only (Linux credentials are per thread; threads it creates inherit them), so a
// root test process can observe real permission checks without touching its other threads.
bool drop_dac_capabilities_for_this_thread() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) return false;
    for (int cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER})
        data[cap / 32].effective &= ~(1u << (cap % 32));
    return ::syscall(SYS_capset, &header, data) == 0;
}

}  // namespace

TEST_F(WriterTest, ReadOnlyDirectoryFailsWithEaccesAndKeepsTheOldFile) {
    put_file(root_ / "locked" / "page.html", "old content");
    fs::permissions(root_ / "locked", fs::perms(0555));
    bool dropped = true;
    std::string outcome;
    int err = 0;
    std::string failed_path;
    // Run the writer (and so its threads) in a thread whose credentials we may reduce.
    std::thread runner([&] {
        if (::geteuid() == 0 && !drop_dac_capabilities_for_this_thread()) {
            dropped = false;
            return;
        }
        OutputWriter w(root_.string(), {.threads = 2});
        try {
            // write() itself throws once the error is recorded (sticky), so it is inside too.
            w.write("free.html", "ok");
            w.write("locked/page.html", "new content");
            w.write("locked/sub/new.html", "new");
            w.close();
            outcome = "no error";
        } catch (const OutputIoError& e) {
            outcome = "error";
            err = e.error_number();
            failed_path = e.path();
        }
    });
    runner.join();
    if (!dropped) GTEST_SKIP() << "running as root and capset() is not permitted here";
    ASSERT_EQ(outcome, "error");
    EXPECT_EQ(err, EACCES);
    EXPECT_TRUE(failed_path == "locked/page.html" || failed_path == "locked/sub/new.html")
        << failed_path;
    EXPECT_EQ(read_file(root_ / "locked" / "page.html"), "old content");
    EXPECT_TRUE(temp_leftovers(dir_).empty());
}

namespace {

// Mounts a tmpfs of `size` on `where` for the scope; empty error() means it worked.
class ScopedTmpfs {
public:
    ScopedTmpfs(const fs::path& where, const char* size) : where_(where) {
        fs::create_directories(where);
        const std::string opts = std::string("size=") + size + ",mode=0755";
        if (::mount("tmpfs", where.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) == 0)
            mounted_ = true;
        else
            error_ = std::strerror(errno);
    }
    ~ScopedTmpfs() {
        if (mounted_) ::umount2(where_.c_str(), MNT_DETACH);
    }
    const std::string& error() const { return error_; }

private:
    fs::path where_;
    bool mounted_ = false;
    std::string error_;
};

}  // namespace

TEST_F(WriterTest, FullFileSystemFailsWithEnospcAndLeavesNoPartialFile) {
    ScopedTmpfs tmpfs(root_, "256k");
    if (!tmpfs.error().empty())
        GTEST_SKIP() << "cannot mount a small tmpfs here (needs root / CAP_SYS_ADMIN): "
                     << tmpfs.error();
    put_file(root_ / "keep.html", "old keep");
    OutputWriter w(root_.string(), {.threads = 1});  // one FIFO: small.html is written first
    w.write("small.html", std::string(10000, 's'));
    w.write("keep.html", std::string(600 * 1024, 'k'));  // larger than the whole file system
    try {
        w.close();
        FAIL() << "expected OutputIoError";
    } catch (const OutputIoError& e) {
        EXPECT_EQ(e.error_number(), ENOSPC);
        EXPECT_EQ(e.path(), "keep.html");
        EXPECT_EQ(e.operation(), "writing the temp file");
    }
    EXPECT_EQ(read_file(root_ / "small.html"), std::string(10000, 's'));
    EXPECT_EQ(read_file(root_ / "keep.html"), "old keep");  // old content, not a prefix
    EXPECT_TRUE(temp_leftovers(root_).empty());
    // The space of the abandoned temp file was given back: a small file fits again.
    OutputWriter again(root_.string());
    again.write("after.html", std::string(50000, 'a'));
    EXPECT_NO_THROW(again.close());
}

TEST_F(WriterTest, FileSizeLimitFailsWithEfbigInAChildProcess) {
    // RLIMIT_FSIZE is per process, so it is set in a forked child; the child calls the synchronous
    // write path (no threads: a forked child of a threaded process must not start any).
    fs::create_directories(root_);
    const int root_fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_fd, 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::signal(SIGXFSZ, SIG_IGN);  // otherwise the kernel kills us instead of returning EFBIG
        const rlimit lim{64 * 1024, 64 * 1024};
        if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(100);
        std::string scratch;
        const auto r = bengal::write_file_atomic(root_fd, "dir/huge.bin",
                                                 std::string(256 * 1024, 'h'), {}, scratch);
        const auto ok = bengal::write_file_atomic(root_fd, "dir/small.bin",
                                                  std::string(1024, 's'), {}, scratch);
        if (ok.status != bengal::AtomicWriteStatus::written) ::_exit(101);
        ::_exit(r.status == bengal::AtomicWriteStatus::failed ? r.error_number : 0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ::close(root_fd);
    ASSERT_TRUE(WIFEXITED(status)) << "child died with signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), EFBIG);
    EXPECT_FALSE(fs::exists(root_ / "dir/huge.bin"));
    EXPECT_EQ(read_file(root_ / "dir/small.bin"), std::string(1024, 's'));
    EXPECT_TRUE(temp_leftovers(root_).empty());
}

TEST_F(WriterTest, AForkedChildCannotUseTheParentsWriterAndDoesNotHang) {
    auto w = std::make_unique<OutputWriter>(root_.string(), OutputWriterOptions{.threads = 2});
    w->write("before-fork.html", "parent");
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // Only async-signal-safe-ish work and no new threads here; exit codes report failures.
        int code = 0;
        try {
            w->write("child.html", "child");
            code = 1;
        } catch (const bengal::OutputWriterClosed&) {
        }
        try {
            w->flush();
            code = 2;
        } catch (const bengal::OutputWriterClosed&) {
        }
        if (!w->closed()) code = 3;
        w.reset();  // must neither join the (absent) threads nor terminate
        ::_exit(code);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child died with signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0);
    w->write("after-fork.html", "parent");
    w->close();
    EXPECT_EQ(read_file(root_ / "before-fork.html"), "parent");
    EXPECT_EQ(read_file(root_ / "after-fork.html"), "parent");
    EXPECT_FALSE(fs::exists(root_ / "child.html"));
}
