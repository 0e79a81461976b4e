#include "bengal_native/fsscan.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

fs::path make_tree() {
    fs::path root = fs::temp_directory_path() / ("bengal-fsscan-" + std::to_string(getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "a/b");
    fs::create_directories(root / ".git");
    std::ofstream(root / "top.md") << "x";
    std::ofstream(root / "a/b/deep.md") << "hello";
    std::ofstream(root / ".git/config") << "hidden";
    std::ofstream(root / "a/.swp") << "";
    std::ofstream(root / "a/x~") << "";
    std::ofstream(root / "a/#x#") << "";
    fs::create_directory_symlink(root / "a", root / "a/loop");  // never followed
    fs::create_symlink(root / "top.md", root / "a/link.md");     // followed
    fs::create_symlink(root / "missing", root / "a/dangling");  // skipped
    return root;
}

}  // namespace

TEST(FsScan, FindsFilesSkipsIgnoredAndDirectoryLinks) {
    fs::path root = make_tree();
    auto found = bengal::scan_tree(root.string(), "content/", true);
    std::vector<std::string> names;
    for (const auto& f : found) names.push_back(f.path);
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"content/a/b/deep.md", "content/a/link.md", "content/top.md"}));
    for (const auto& f : found) {
        if (f.path == "content/a/b/deep.md") EXPECT_EQ(f.size, 5);
        EXPECT_GT(f.mtime_ns, 0);
    }
    auto all = bengal::scan_tree(root.string(), "", false);
    EXPECT_EQ(all.size(), 7u);  // + .git/config, a/.swp, a/x~, a/#x#
    fs::remove_all(root);
}

TEST(FsScan, MissingBaseIsEmpty) {
    EXPECT_TRUE(bengal::scan_tree("/nonexistent/bengal/dir", "", true).empty());
    auto st = bengal::stat_files("/nonexistent/bengal/dir", {"a", "b"});
    ASSERT_EQ(st.size(), 2u);
    EXPECT_EQ(st[0].size, -1);
}

TEST(FsScan, StatFilesReportsMissingAndDirectories) {
    fs::path root = make_tree();
    auto st = bengal::stat_files(root.string(), {"top.md", "a", "nope", "a/link.md", "", "/etc/passwd"});
    ASSERT_EQ(st.size(), 6u);
    EXPECT_EQ(st[0].size, 1);
    EXPECT_EQ(st[1].size, -1);  // a directory
    EXPECT_EQ(st[2].size, -1);
    EXPECT_EQ(st[3].size, 1);   // through the link
    EXPECT_EQ(st[4].size, -1);
    EXPECT_EQ(st[5].size, -1);  // absolute paths are not below base
    fs::remove_all(root);
}

TEST(FsScan, IgnoredNames) {
    EXPECT_TRUE(bengal::ignored_name(".x"));
    EXPECT_TRUE(bengal::ignored_name("x~"));
    EXPECT_TRUE(bengal::ignored_name("#x#"));
    EXPECT_TRUE(bengal::ignored_name("__pycache__"));
    EXPECT_TRUE(bengal::ignored_name("#"));
    EXPECT_FALSE(bengal::ignored_name("#x"));
    EXPECT_FALSE(bengal::ignored_name("a.md"));
}

TEST(FsScan, StatPackedMatchesStatFiles) {
    fs::path root = make_tree();
    const std::vector<std::string> rels{"top.md", "nope", "a/link.md"};
    const auto st = bengal::stat_files(root.string(), rels);
    const std::string joined = std::string("top.md") + '\0' + "nope" + '\0' + "a/link.md";
    const std::string packed = bengal::stat_packed(root.string(), joined);
    ASSERT_EQ(packed.size(), 48u);
    auto get = [&packed](std::size_t at) {
        std::uint64_t u = 0;
        for (int b = 7; b >= 0; --b) u = (u << 8) | static_cast<unsigned char>(packed[at + b]);
        return static_cast<std::int64_t>(u);
    };
    EXPECT_EQ(get(0), st[0].mtime_ns);
    EXPECT_EQ(get(8), 1);
    EXPECT_EQ(get(16), 0);  // missing: mtime 0, size -1
    EXPECT_EQ(get(24), -1);
    EXPECT_EQ(get(40), st[2].size);
    EXPECT_TRUE(bengal::stat_packed(root.string(), "").empty());
    fs::remove_all(root);
}

TEST(FsScan, NamesThatAreNotUtf8AreSkippedAndReported) {
    fs::path root = make_tree();
    std::ofstream(root / "a/bad\xff.md") << "x";
    fs::create_directories(root / "bad\xfe" / "sub");
    std::ofstream(root / "bad\xfe/sub/inner.md") << "x";
    std::vector<std::string> bad;
    auto found = bengal::scan_tree(root.string(), "c/", true, &bad);
    for (const auto& f : found) EXPECT_EQ(f.path.find("bad"), std::string::npos) << f.path;
    std::sort(bad.begin(), bad.end());
    ASSERT_EQ(bad.size(), 2u);
    EXPECT_EQ(bad[0], "c/a/bad\xEF\xBF\xBD.md");
    EXPECT_EQ(bad[1], "c/bad\xEF\xBF\xBD");
    fs::remove_all(root);
}
