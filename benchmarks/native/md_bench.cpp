// bengal_md_bench: md4c's own HTML renderer (md_html) vs bengal::render_markdown on the same
// in-memory corpus, single thread, in one process. benchmarks/bench_markdown.py runs it; see
// benchmarks/README.md.
//
//   bengal_md_bench [--repeat N] [--xref-keys FILE] [--list FILE] [FILE...]
//
// Every FILE (and every path listed one per line in --list FILE) is one Markdown document (a
// body, front matter already stripped). --xref-keys FILE holds "key<TAB>url<TAB>title" lines for
// the XrefIndex, so [[xrefs]] resolve as they would in a build. Files are read before any timing.
// After one untimed warm-up pass of each renderer, N rounds run each renderer once over the whole
// corpus, alternating which goes first so that drift (frequency scaling, other load) hits both.
// Prints one JSON object to stdout; MB means 10^6 bytes of Markdown input.

#include <md4c-html.h>
#include <md4c.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bengal_native/markdown.hpp"
#include "bengal_native/xref_index.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
    int repeat = 5;
    std::string xref_keys;
    std::vector<std::string> files;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::cerr << "bengal_md_bench: " << message << "\n"
              << "usage: bengal_md_bench [--repeat N] [--xref-keys FILE] [--list FILE] [FILE...]\n";
    std::exit(2);
}

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return !in.bad();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) lines.push_back(std::move(line));
    }
    return lines;
}

Args parse_args(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(std::string(a) + " needs a value");
            return argv[++i];
        };
        if (a == "--repeat") {
            const std::string v = value();
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (end == v.c_str() || *end != '\0' || n < 1 || n > 1000)
                usage_error("--repeat wants an integer from 1 to 1000, not '" + v + "'");
            args.repeat = static_cast<int>(n);
        } else if (a == "--xref-keys") {
            args.xref_keys = value();
        } else if (a == "--list") {
            const std::string list = value();
            std::string text;
            if (!read_file(list, text)) usage_error("cannot read list file " + list);
            for (auto& line : split_lines(text)) args.files.push_back(std::move(line));
        } else if (a == "-h" || a == "--help") {
            usage_error("help requested");
        } else if (a.size() > 1 && a.front() == '-') {
            usage_error("unknown option " + std::string(a));
        } else {
            args.files.emplace_back(a);
        }
    }
    if (args.files.empty()) usage_error("no input files");
    return args;
}

// Output sink for md_html: appends into a std::string that is cleared, not freed, per document.
void append_output(const MD_CHAR* text, MD_SIZE size, void* userdata) {
    static_cast<std::string*>(userdata)->append(text, size);
}

// The md4c parser extensions bengal turns on by default (see parser_flags in markdown.cpp):
// tables, strikethrough, task lists, permissive autolinks, wiki links.
constexpr unsigned kParserFlags = MD_DIALECT_GITHUB | MD_FLAG_WIKILINKS;
// bengal writes void elements as "<br />"; ask md_html for the same so both emit equal shapes.
constexpr unsigned kRendererFlags = MD_HTML_FLAG_XHTML;

struct Pass {
    double seconds = 0;
    std::size_t html_bytes = 0;
};

Pass run_md_html(const std::vector<std::string>& docs, std::string& buffer) {
    Pass pass;
    const auto start = Clock::now();
    for (const auto& doc : docs) {
        buffer.clear();
        md_html(doc.data(), static_cast<MD_SIZE>(doc.size()), &append_output, &buffer, kParserFlags,
                kRendererFlags);
        pass.html_bytes += buffer.size();
    }
    pass.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return pass;
}

Pass run_bengal(const std::vector<std::string>& docs, const bengal::RenderOptions& options,
                const bengal::XrefIndex& index) {
    Pass pass;
    const auto start = Clock::now();
    for (const auto& doc : docs) {
        // The whole result (TOC, xrefs, images, warnings) is built and dropped, as a build would.
        const bengal::RenderResult result = bengal::render_markdown(doc, options, &index);
        pass.html_bytes += result.html.size();
    }
    pass.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return pass;
}

struct Series {
    std::vector<double> seconds;
    std::size_t html_bytes = 0;

    nlohmann::json to_json(std::size_t input_bytes) const {
        std::vector<double> sorted = seconds;
        std::sort(sorted.begin(), sorted.end());
        const std::size_t n = sorted.size();
        const double median = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        const double best = sorted.front();
        const double mb = static_cast<double>(input_bytes) / 1e6;
        return {
            {"seconds", seconds},
            {"best_s", best},
            {"median_s", median},
            {"mb_per_s_best", mb / best},
            {"mb_per_s_median", mb / median},
            {"html_bytes", html_bytes},
        };
    }
};

}  // namespace

int main(int argc, char** argv) {
    const Args args = parse_args(argc, argv);

    std::vector<std::string> docs;
    docs.reserve(args.files.size());
    std::size_t input_bytes = 0;
    for (const auto& path : args.files) {
        std::string text;
        if (!read_file(path, text)) {
            std::cerr << "bengal_md_bench: cannot read " << path << "\n";
            return 2;
        }
        if (text.size() >= std::numeric_limits<MD_SIZE>::max()) {
            std::cerr << "bengal_md_bench: " << path << " is too large for md4c\n";
            return 2;
        }
        input_bytes += text.size();
        docs.push_back(std::move(text));
    }

    bengal::XrefIndex index;
    if (!args.xref_keys.empty()) {
        std::string text;
        if (!read_file(args.xref_keys, text)) {
            std::cerr << "bengal_md_bench: cannot read " << args.xref_keys << "\n";
            return 2;
        }
        for (const auto& line : split_lines(text)) {
            const std::size_t t1 = line.find('\t');
            const std::size_t t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
            if (t2 == std::string::npos) {
                std::cerr << "bengal_md_bench: " << args.xref_keys
                          << ": expected key<TAB>url<TAB>title, got: " << line << "\n";
                return 2;
            }
            index.add(std::string_view(line).substr(0, t1),
                      std::string_view(line).substr(t1 + 1, t2 - t1 - 1),
                      std::string_view(line).substr(t2 + 1));
        }
    }

    const bengal::RenderOptions defaults;
    // The same renderer with bengal's additions off (ids, xrefs, directives): what is left is
    // the cost of our emitter against md_html's, parse for parse.
    bengal::RenderOptions plain;
    plain.heading_ids = false;
    plain.xrefs = false;
    plain.directives = false;

    std::string buffer;
    Series md, full, bare;
    // Warm-up: caches, page faults, allocator pools; results unused.
    run_md_html(docs, buffer);
    run_bengal(docs, defaults, index);
    run_bengal(docs, plain, index);

    for (int r = 0; r < args.repeat; ++r) {
        auto time_md = [&] {
            const Pass p = run_md_html(docs, buffer);
            md.seconds.push_back(p.seconds);
            md.html_bytes = p.html_bytes;
        };
        auto time_full = [&] {
            const Pass p = run_bengal(docs, defaults, index);
            full.seconds.push_back(p.seconds);
            full.html_bytes = p.html_bytes;
        };
        auto time_bare = [&] {
            const Pass p = run_bengal(docs, plain, index);
            bare.seconds.push_back(p.seconds);
            bare.html_bytes = p.html_bytes;
        };
        if (r % 2 == 0) {
            time_md();
            time_full();
            time_bare();
        } else {
            time_bare();
            time_full();
            time_md();
        }
    }

    nlohmann::json out;
    out["documents"] = docs.size();
    out["bytes"] = input_bytes;
    out["repeat"] = args.repeat;
    out["xref_keys"] = index.size();
    out["md_html"] = md.to_json(input_bytes);
    out["bengal"] = full.to_json(input_bytes);
    out["bengal_plain"] = bare.to_json(input_bytes);
    out["ratio_bengal_vs_md_html"] =
        out["bengal"]["mb_per_s_median"].get<double>() / out["md_html"]["mb_per_s_median"].get<double>();
    out["ratio_bengal_plain_vs_md_html"] = out["bengal_plain"]["mb_per_s_median"].get<double>() /
                                           out["md_html"]["mb_per_s_median"].get<double>();
    out["md4c_flags"] = kParserFlags;
#if defined(__OPTIMIZE__)
    out["optimized"] = true;
#else
    out["optimized"] = false;
#endif
#if defined(__VERSION__)
    out["compiler"] = __VERSION__;
#endif
    std::cout << out.dump(2) << "\n";
    return 0;
}
