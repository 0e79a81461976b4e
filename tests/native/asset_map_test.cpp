// AssetDependencyMap: both directions of the map and how they change, batch == sequential,
// determinism, persistence (format, atomic replace, every way a file can be bad), and concurrent
// track_page_assets from 8 threads (run this binary under ThreadSanitizer too: docs/assets.md).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bengal_native/asset_map.hpp"

namespace bengal {
namespace {

namespace fs = std::filesystem;
using V = std::vector<std::string>;

std::string page_html(const V& assets) {
    std::string html = "<!doctype html><html><head><title>t</title></head><body>";
    for (const std::string& a : assets) html += "<p>text</p><img src=\"" + a + "\">";
    return html + "</body></html>";
}

class TempDir : public ::testing::Test {
protected:
    fs::path dir;
    void SetUp() override {
        static std::atomic<int> n{0};
        dir = fs::temp_directory_path() /
              ("bengal-asset-map-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    void TearDown() override {
        std::error_code ec;
        fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(dir, ec);
    }
    std::string write(const std::string& name, const std::string& bytes) const {
        const fs::path p = dir / name;
        std::ofstream(p, std::ios::binary) << bytes;
        return p.string();
    }
    static std::string read(const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    std::vector<std::string> entries() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
        std::sort(names.begin(), names.end());
        return names;
    }
};

// ---- semantics ----------------------------------------------------------------------------------

TEST(AssetDependencyMap, TracksBothDirections) {
    AssetDependencyMap m;
    m.track_page_assets("b.md", page_html({"/css/site.css", "/img/b.png"}));
    m.track_page_assets("a.md", page_html({"/img/a.png", "/css/site.css"}));
    EXPECT_EQ(m.assets_for("a.md"), (V{"/img/a.png", "/css/site.css"}));  // document order
    EXPECT_EQ(m.assets_for("b.md"), (V{"/css/site.css", "/img/b.png"}));
    EXPECT_EQ(m.pages_for("/css/site.css"), (V{"a.md", "b.md"}));  // sorted
    EXPECT_EQ(m.pages_for("/img/a.png"), V{"a.md"});
    EXPECT_EQ(m.pages_for("/nope.png"), V{});
    EXPECT_EQ(m.assets_for("nope.md"), V{});
    EXPECT_EQ(m.pages(), (V{"a.md", "b.md"}));
    EXPECT_EQ(m.assets(), (V{"/css/site.css", "/img/a.png", "/img/b.png"}));
    EXPECT_EQ(m.size(), 2u);
    EXPECT_EQ(m.asset_count(), 3u);
    EXPECT_TRUE(m.contains_page("a.md"));
    EXPECT_FALSE(m.contains_page("c.md"));
}

TEST(AssetDependencyMap, RetrackingReplacesAndUnlinks) {
    AssetDependencyMap m;
    m.track_page_assets("a.md", page_html({"/x.png", "/y.png"}));
    m.track_page_assets("b.md", page_html({"/y.png"}));
    m.track_page_assets("a.md", page_html({"/z.png"}));
    EXPECT_EQ(m.assets_for("a.md"), V{"/z.png"});
    EXPECT_EQ(m.pages_for("/x.png"), V{});  // no page left: the asset is gone
    EXPECT_EQ(m.pages_for("/y.png"), V{"b.md"});
    EXPECT_EQ(m.assets(), (V{"/y.png", "/z.png"}));
    // A page that no longer references anything stays tracked, with no assets.
    m.track_page_assets("b.md", "<p>no assets</p>");
    EXPECT_TRUE(m.contains_page("b.md"));
    EXPECT_EQ(m.assets_for("b.md"), V{});
    EXPECT_EQ(m.assets(), V{"/z.png"});
}

TEST(AssetDependencyMap, RemovePageAndClear) {
    AssetDependencyMap m;
    m.track_page_assets("a.md", page_html({"/shared.css", "/a.png"}));
    m.track_page_assets("b.md", page_html({"/shared.css"}));
    EXPECT_TRUE(m.remove_page("a.md"));
    EXPECT_FALSE(m.remove_page("a.md"));
    EXPECT_EQ(m.pages(), V{"b.md"});
    EXPECT_EQ(m.pages_for("/shared.css"), V{"b.md"});
    EXPECT_EQ(m.pages_for("/a.png"), V{});
    EXPECT_EQ(m.asset_count(), 1u);
    m.clear();
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.asset_count(), 0u);
}

TEST(AssetDependencyMap, SetPageAssetsDropsDuplicates) {
    AssetDependencyMap m;
    m.set_page_assets("p", {"/b", "/a", "/b", "/c", "/a"});
    EXPECT_EQ(m.assets_for("p"), (V{"/b", "/a", "/c"}));
    EXPECT_EQ(m.pages_for("/a"), V{"p"});
}

TEST(AssetDependencyMap, BatchModesAgreeWithSequentialCalls) {
    std::vector<std::string> names, htmls;
    for (int i = 0; i < 300; ++i) {
        names.push_back("content/p" + std::to_string(i) + ".md");
        htmls.push_back(page_html({"/css/site.css", "/img/" + std::to_string(i % 37) + ".png",
                                   "/img/unique-" + std::to_string(i) + ".png"}));
    }
    // A page listed twice: the later entry wins.
    names.push_back("content/p0.md");
    htmls.push_back(page_html({"/img/replaced.png"}));
    std::vector<std::pair<std::string_view, std::string_view>> pairs;
    for (std::size_t i = 0; i < names.size(); ++i) pairs.emplace_back(names[i], htmls[i]);

    AssetDependencyMap one_by_one;
    for (const auto& [page, html] : pairs) one_by_one.track_page_assets(page, html);
    for (auto mode : {AssetDependencyMap::Mode::sequential, AssetDependencyMap::Mode::parallel,
                      AssetDependencyMap::Mode::automatic}) {
        AssetDependencyMap m;
        m.track_assets(pairs, mode);
        EXPECT_EQ(m.to_json(), one_by_one.to_json());
        EXPECT_EQ(m.assets_for("content/p0.md"), V{"/img/replaced.png"});
        EXPECT_EQ(m.pages_for("/img/0.png").size(), 8u);  // i % 37 == 0 for 9 pages, minus p0
    }
}

TEST(AssetDependencyMap, JsonIsDeterministicWhateverTheInsertionOrder) {
    AssetDependencyMap a, b;
    for (int i = 0; i < 50; ++i) a.set_page_assets("p" + std::to_string(i), {"/x", "/y"});
    for (int i = 49; i >= 0; --i) b.set_page_assets("p" + std::to_string(i), {"/x", "/y"});
    EXPECT_EQ(a.to_json(), b.to_json());
    const auto doc = nlohmann::json::parse(a.to_json());
    EXPECT_EQ(doc["format"], "bengal-asset-deps");
    EXPECT_EQ(doc["version"], 1);
    EXPECT_EQ(doc["pages"]["p7"], nlohmann::json({"/x", "/y"}));
}

// ---- persistence ------------------------------------------------------------------------------

using AssetMapFiles = TempDir;

TEST_F(AssetMapFiles, SaveLoadRoundTrip) {
    AssetDependencyMap m;
    m.track_page_assets("a.md", page_html({"/img/\xC3\xA9t\xC3\xA9.png", "/css/site.css"}));
    m.track_page_assets("dir/b.md", page_html({"https://cdn.example/x.js", "/css/site.css"}));
    m.set_page_assets("empty.md", {});
    const std::string path = (dir / ".bengal" / "asset_deps.json").string();  // dir is created
    const auto saved = m.save(path);
    ASSERT_TRUE(saved.ok) << saved.message;
    auto loaded = AssetDependencyMap::load(path);
    ASSERT_EQ(loaded.status, AssetMapStatus::ok) << loaded.message;
    EXPECT_EQ(loaded.message, "");
    EXPECT_EQ(loaded.map->to_json(), m.to_json());
    EXPECT_EQ(loaded.map->assets_for("a.md"), m.assets_for("a.md"));
    EXPECT_EQ(loaded.map->pages_for("/css/site.css"), (V{"a.md", "dir/b.md"}));
    EXPECT_TRUE(loaded.map->contains_page("empty.md"));
    // Saving the loaded map gives the same bytes.
    const std::string again = (dir / "again.json").string();
    ASSERT_TRUE(loaded.map->save(again).ok);
    EXPECT_EQ(read(again), read(path));
}

TEST_F(AssetMapFiles, SaveReplacesAtomicallyAndLeavesNoTemporaryFiles) {
    const std::string path = write("deps.json", "old contents");
    AssetDependencyMap m;
    m.set_page_assets("p", {"/a"});
    ASSERT_TRUE(m.save(path).ok);
    EXPECT_EQ(entries(), V{"deps.json"});
    EXPECT_EQ(read(path), m.to_json());
    m.set_page_assets("q", {"/b"});
    ASSERT_TRUE(m.save(path).ok);
    EXPECT_EQ(entries(), V{"deps.json"});
    EXPECT_EQ(AssetDependencyMap::load(path).map->pages(), (V{"p", "q"}));
}

TEST_F(AssetMapFiles, SaveFailuresReportErrnoAndLeaveNothingBehind) {
    AssetDependencyMap m;
    m.set_page_assets("p", {"/a"});
    // The target is a directory: rename fails; the temporary file is removed.
    fs::create_directories(dir / "target");
    auto r = m.save((dir / "target").string());
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error, 0);
    EXPECT_NE(r.message.find("target"), std::string::npos) << r.message;
    EXPECT_EQ(entries(), V{"target"});
    // The parent is a file: the directory cannot be created.
    write("file", "x");
    r = m.save((dir / "file" / "deps.json").string());
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error, 0);
    EXPECT_EQ(read(dir / "file"), "x");
    // A read-only directory (not enforced for root, who may write anywhere).
    if (::geteuid() != 0) {
        fs::create_directories(dir / "ro");
        fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
        r = m.save((dir / "ro" / "deps.json").string());
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(r.error, EACCES);
    }
}

TEST_F(AssetMapFiles, MissingAndUnreadable) {
    auto r = AssetDependencyMap::load((dir / "nope.json").string());
    EXPECT_EQ(r.status, AssetMapStatus::missing);
    ASSERT_NE(r.map, nullptr);
    EXPECT_EQ(r.map->size(), 0u);
    r = AssetDependencyMap::load((dir / "nope" / "deeper.json").string());
    EXPECT_EQ(r.status, AssetMapStatus::missing);
    r = AssetDependencyMap::load(dir.string());  // a directory
    EXPECT_EQ(r.status, AssetMapStatus::unreadable);
    EXPECT_NE(r.message, "");
    EXPECT_EQ(r.map->size(), 0u);
}

TEST_F(AssetMapFiles, EveryTruncationIsCorrupt) {
    AssetDependencyMap m;
    m.track_page_assets("a.md", page_html({"/x.png", "/y.png"}));
    m.track_page_assets("b.md", page_html({"/x.png"}));
    const std::string text = m.to_json();
    // The trailing newline is optional: dropping only it still parses.
    for (std::size_t n = 0; n + 1 < text.size(); ++n) {
        const auto r = AssetDependencyMap::from_json(std::string_view(text).substr(0, n));
        EXPECT_EQ(r.status, AssetMapStatus::corrupt) << "prefix " << n;
        ASSERT_NE(r.map, nullptr);
        EXPECT_EQ(r.map->size(), 0u);
    }
    const std::string path = write("cut.json", text.substr(0, text.size() / 2));
    EXPECT_EQ(AssetDependencyMap::load(path).status, AssetMapStatus::corrupt);
}

TEST(AssetMapFromJson, WrongShapes) {
    const auto status = [](const char* text) { return AssetDependencyMap::from_json(text).status; };
    EXPECT_EQ(status(""), AssetMapStatus::corrupt);
    EXPECT_EQ(status("garbage"), AssetMapStatus::corrupt);
    EXPECT_EQ(status("[]"), AssetMapStatus::corrupt);
    EXPECT_EQ(status("null"), AssetMapStatus::corrupt);
    EXPECT_EQ(status("{}"), AssetMapStatus::corrupt);
    EXPECT_EQ(status(R"({"format":"other","version":1,"pages":{}})"), AssetMapStatus::corrupt);
    EXPECT_EQ(status(R"({"format":7,"version":1,"pages":{}})"), AssetMapStatus::corrupt);
    EXPECT_EQ(status(R"({"format":"bengal-asset-deps","pages":{}})"), AssetMapStatus::corrupt);
    EXPECT_EQ(status(R"({"format":"bengal-asset-deps","version":"1","pages":{}})"),
              AssetMapStatus::corrupt);
    EXPECT_EQ(status(R"({"format":"bengal-asset-deps","version":1.5,"pages":{}})"),
              AssetMapStatus::corrupt);
    EXPECT_EQ(status(R"({"format":"bengal-asset-deps","version":2,"pages":{}})"),
              AssetMapStatus::version_mismatch);
    EXPECT_EQ(status(R"({"format":"bengal-asset-deps","version":0,"pages":{}})"),
              AssetMapStatus::version_mismatch);
    EXPECT_EQ(status(R"({"format":"bengal-asset-deps","version":-1,"pages":{}})"),
              AssetMapStatus::version_mismatch);
    EXPECT_EQ(status(R"({"format":"bengal-asset-deps","version":1})"), AssetMapStatus::corrupt);
    EXPECT_EQ(status(R"({"format":"bengal-asset-deps","version":1,"pages":[]})"),
              AssetMapStatus::corrupt);
    EXPECT_EQ(status(R"({"format":"bengal-asset-deps","version":1,"pages":{"p":"/a"}})"),
              AssetMapStatus::corrupt);
    EXPECT_EQ(status(R"({"format":"bengal-asset-deps","version":1,"pages":{"p":["/a",3]}})"),
              AssetMapStatus::corrupt);
    EXPECT_EQ(status("{\"format\":\"bengal-asset-deps\",\"version\":1,\"pages\":{\"p\":[\"\xFF\"]}}"),
              AssetMapStatus::corrupt);  // invalid UTF-8 is not JSON
    // Extra keys are tolerated (a later version 1 writer may add information).
    const auto ok = AssetDependencyMap::from_json(
        R"({"format":"bengal-asset-deps","version":1,"generator":"x","pages":{"p":["/a","/a"]}})");
    EXPECT_EQ(ok.status, AssetMapStatus::ok);
    EXPECT_EQ(ok.map->assets_for("p"), V{"/a"});
    EXPECT_NE(AssetDependencyMap::from_json(R"({"format":"bengal-asset-deps","version":2,"pages":{}})")
                  .message.find("version 2"),
              std::string::npos);
}

TEST(AssetMapFromJson, DeepNestingAndRandomBytes) {
    EXPECT_EQ(AssetDependencyMap::from_json(std::string(100000, '[')).status,
              AssetMapStatus::corrupt);
    const std::string deep = std::string(20000, '[') + std::string(20000, ']');
    EXPECT_EQ(AssetDependencyMap::from_json(deep).status, AssetMapStatus::corrupt);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 2000; ++i) {
        std::string s(rng() % 200, '\0');
        for (char& c : s) c = static_cast<char>(rng() & 0xFF);
        if (i % 2 == 0 && !s.empty()) s[0] = '{';
        const auto r = AssetDependencyMap::from_json(s);
        EXPECT_NE(r.status, AssetMapStatus::ok);
        ASSERT_NE(r.map, nullptr);
    }
}

// ---- concurrency ------------------------------------------------------------------------------

TEST(AssetDependencyMapThreads, EightThreadsHammerTrackPageAssets) {
    // Each thread owns 40 pages and re-tracks them with changing assets, removes and re-adds
    // some, and reads the shared assets and other threads' pages meanwhile. The final state is
    // fully determined (each thread's last writes), whatever the interleaving.
    constexpr int kThreads = 8, kPages = 40, kRounds = 12;
    AssetDependencyMap m;
    std::atomic<bool> go{false};
    std::atomic<long> reads{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            while (!go.load()) std::this_thread::yield();
            for (int round = 0; round < kRounds; ++round) {
                for (int p = 0; p < kPages; ++p) {
                    const std::string page = "t" + std::to_string(t) + "/p" + std::to_string(p);
                    m.track_page_assets(page, page_html({"/shared.css",
                                                         "/r" + std::to_string(round) + ".png",
                                                         "/own/" + page + ".png"}));
                    if (p % 7 == round % 7) m.remove_page(page);
                    reads += static_cast<long>(m.pages_for("/shared.css").size());
                    reads += static_cast<long>(m.assets_for("t" + std::to_string((t + 1) % kThreads) +
                                                            "/p" + std::to_string(p))
                                                   .size());
                    if (p % 10 == 0) reads += static_cast<long>(m.assets().size() + m.size());
                }
            }
        });
    }
    go = true;
    for (auto& th : threads) th.join();
    EXPECT_GT(reads.load(), 0);

    // In the last round (round 11), pages with p % 7 == 11 % 7 == 4 were removed.
    V expected_pages;
    for (int t = 0; t < kThreads; ++t)
        for (int p = 0; p < kPages; ++p)
            if (p % 7 != 4) expected_pages.push_back("t" + std::to_string(t) + "/p" + std::to_string(p));
    std::sort(expected_pages.begin(), expected_pages.end());
    EXPECT_EQ(m.pages(), expected_pages);
    EXPECT_EQ(m.pages_for("/shared.css"), expected_pages);
    EXPECT_EQ(m.pages_for("/r11.png"), expected_pages);
    EXPECT_EQ(m.pages_for("/r10.png"), V{});
    for (const std::string& page : expected_pages)
        EXPECT_EQ(m.assets_for(page), (V{"/shared.css", "/r11.png", "/own/" + page + ".png"}));
    EXPECT_EQ(m.asset_count(), 2 + expected_pages.size());
}

TEST(AssetDependencyMapThreads, ConcurrentBatchesAndReaders) {
    // track_assets from several threads at once (each a parallel batch) while readers query.
    AssetDependencyMap m;
    std::vector<std::thread> threads;
    std::vector<std::vector<std::string>> names(4), htmls(4);
    for (int t = 0; t < 4; ++t)
        for (int i = 0; i < 50; ++i) {
            names[t].push_back("b" + std::to_string(t) + "/" + std::to_string(i));
            htmls[t].push_back(page_html({"/common.js", "/b" + std::to_string(t) + ".png"}));
        }
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            std::vector<std::pair<std::string_view, std::string_view>> pairs;
            for (std::size_t i = 0; i < names[t].size(); ++i) pairs.emplace_back(names[t][i], htmls[t][i]);
            m.track_assets(pairs, AssetDependencyMap::Mode::parallel);
        });
        threads.emplace_back([&] {
            for (int i = 0; i < 200; ++i) (void)m.pages_for("/common.js");
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(m.pages_for("/common.js").size(), 200u);
    EXPECT_EQ(m.pages_for("/b2.png").size(), 50u);
}

}  // namespace
}  // namespace bengal
