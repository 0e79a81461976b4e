// The only file that includes pybind11: converts Python values to C++ (holding the GIL), calls
// the plain C++ core with the GIL released, and converts the results back.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>  // assets (issue 3)

#include <md4c.h>

#include <exception>  // output writer (issue 3)
#include <filesystem>  // assets (issue 3)
#include <optional>    // assets (issue 3)
#include <string>
#include <tuple>
#include <string_view>  // assets (issue 3)
#include <vector>

#include "bengal_native/asset_map.hpp"  // assets (issue 3)
#include "bengal_native/fsscan.hpp"     // change detection (issue 5)
#include "bengal_native/assets.hpp"     // assets (issue 3)
#include "bengal_native/markdown.hpp"
#include "bengal_native/parallel.hpp"
#include "bengal_native/slug.hpp"
#include "bengal_native/xref_index.hpp"
#include "bengal_native/writer.hpp"  // output writer (issue 3)

namespace py = pybind11;
using namespace pybind11::literals;

namespace {

#ifndef BENGAL_VERSION
#define BENGAL_VERSION "0.0.0+unknown"
#endif

// str -> UTF-8 (lone surrogates pass through as invalid bytes and are then replaced with U+FFFD
// by the renderer, with a warning); bytes -> as is. `valid` is set to false unless the bytes are
// known to be valid UTF-8 (a str without surrogates).
std::string to_source(const py::handle& obj, bool& valid) {
    if (PyBytes_Check(obj.ptr())) {
        valid = false;
        char* data = nullptr;
        Py_ssize_t size = 0;
        PyBytes_AsStringAndSize(obj.ptr(), &data, &size);
        return std::string(data, static_cast<std::size_t>(size));
    }
    if (PyUnicode_Check(obj.ptr())) {
        Py_ssize_t size = 0;
        const char* data = PyUnicode_AsUTF8AndSize(obj.ptr(), &size);
        if (data != nullptr) return std::string(data, static_cast<std::size_t>(size));
        PyErr_Clear();
        py::object encoded =
            py::reinterpret_steal<py::object>(PyUnicode_AsEncodedString(obj.ptr(), "utf-8", "surrogatepass"));
        if (!encoded) throw py::error_already_set();
        return to_source(encoded, valid);
    }
    throw py::type_error("Markdown source must be str or bytes, not " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
}

bengal::RenderOptions make_options(bool spec_mode, bool unsafe_html, bool heading_ids, bool tables,
                                   bool strikethrough, bool tasklists, bool autolinks, bool tagfilter,
                                   bool xrefs, bool directives) {
    bengal::RenderOptions o;
    o.spec_mode = spec_mode;
    o.unsafe_html = unsafe_html;
    o.heading_ids = heading_ids;
    o.tables = tables;
    o.strikethrough = strikethrough;
    o.tasklists = tasklists;
    o.autolinks = autolinks;
    o.tagfilter = tagfilter;
    o.xrefs = xrefs;
    o.directives = directives;
    return o;
}

#define BENGAL_RENDER_KWARGS                                                                     \
    py::kw_only(), "xref_index"_a = py::none(), "spec_mode"_a = false, "unsafe_html"_a = true,  \
        "heading_ids"_a = true, "tables"_a = true, "strikethrough"_a = true, "tasklists"_a = true, \
        "autolinks"_a = true, "tagfilter"_a = false, "xrefs"_a = true, "directives"_a = true,         \
        "url_prefix"_a = ""

}  // namespace

PYBIND11_MODULE(bengal_native, m) {
    m.doc() = "bengal's native core: Markdown rendering with ids, TOC and cross-references.";
    m.attr("__version__") = BENGAL_VERSION;
    m.attr("MD4C_VERSION") = "0.4.8";

    // Change detection (issue 5): one native pass instead of a DirEntry per file in Python.
    m.def(
        "scan_tree",
        [](const std::string& base, const std::string& prefix, py::dict out, bool skip_ignored,
           std::optional<py::list> bad) {
            std::vector<bengal::FileStamp> found;
            std::vector<std::string> bad_names;
            {
                py::gil_scoped_release nogil;
                found = bengal::scan_tree(base, prefix, skip_ignored, &bad_names);
            }
            for (const bengal::FileStamp& f : found) {
                py::list v(2);
                v[0] = py::int_(f.mtime_ns);
                v[1] = py::int_(f.size);
                out[py::str(f.path)] = std::move(v);
            }
            if (bad)
                for (const std::string& b : bad_names) bad->append(py::str(b));
        },
        "base"_a, "prefix"_a, "out"_a, "skip_ignored"_a = true, "bad"_a = py::none(),
        "Add [mtime_ns, size] of every regular file below base to out, keyed prefix + relative "
        "POSIX path (ignored names skipped; symlinked files followed, symlinked directories not). "
        "Names that are not UTF-8 are skipped and, if `bad` is a list, appended to it (U+FFFD "
        "for the bad bytes).");
    m.def(
        "stat_files",
        [](const std::string& base, const std::vector<std::string>& rels) {
            std::vector<bengal::FileStamp> found;
            {
                py::gil_scoped_release nogil;
                found = bengal::stat_files(base, rels);
            }
            py::dict out;
            for (const bengal::FileStamp& f : found) {
                if (f.size < 0) continue;
                py::list v(2);
                v[0] = py::int_(f.mtime_ns);
                v[1] = py::int_(f.size);
                out[py::str(f.path)] = std::move(v);
            }
            return out;
        },
        "base"_a, "rels"_a,
        "{rel: [mtime_ns, size]} for every rel that names a regular file below base.");
    m.def(
        "stat_packed",
        [](const std::string& base, const std::string& joined) {
            std::string packed;
            {
                py::gil_scoped_release nogil;
                packed = bengal::stat_packed(base, joined);
            }
            return py::bytes(packed);
        },
        "base"_a, "joined"_a,
        "(mtime_ns, size) of every NUL-separated path below base, as 16 little-endian bytes per "
        "path (mtime 0 and size -1 for a missing path or one that is not a regular file).");

    py::class_<bengal::TocEntry>(m, "TocEntry")
        .def_readonly("level", &bengal::TocEntry::level)
        .def_readonly("id", &bengal::TocEntry::id)
        .def_readonly("text", &bengal::TocEntry::text)
        .def("__iter__",
             [](const bengal::TocEntry& e) { return py::iter(py::make_tuple(e.level, e.id, e.text)); })
        .def("__eq__",
             [](const bengal::TocEntry& a, const py::object& b) {
                 return py::bool_(py::make_tuple(a.level, a.id, a.text).equal(py::tuple(b)));
             })
        .def("__repr__", [](const bengal::TocEntry& e) {
            return "TocEntry(level=" + std::to_string(e.level) + ", id=" + std::string(py::repr(py::str(e.id))) +
                   ", text=" + std::string(py::repr(py::str(e.text))) + ")";
        });

    py::class_<bengal::XrefRecord>(m, "XrefRef")
        .def_readonly("target", &bengal::XrefRecord::target)
        .def_readonly("text", &bengal::XrefRecord::text)
        .def_readonly("url", &bengal::XrefRecord::url)
        .def_readonly("line", &bengal::XrefRecord::line)
        .def_readonly("resolved", &bengal::XrefRecord::resolved)
        .def("__repr__", [](const bengal::XrefRecord& x) {
            return "XrefRef(target=" + std::string(py::repr(py::str(x.target))) +
                   ", url=" + std::string(py::repr(py::str(x.url))) + ", line=" + std::to_string(x.line) +
                   ", resolved=" + (x.resolved ? "True" : "False") + ")";
        });

    py::class_<bengal::RenderWarning>(m, "RenderWarning")
        .def_readonly("line", &bengal::RenderWarning::line)
        .def_readonly("message", &bengal::RenderWarning::message)
        .def("__str__",
             [](const bengal::RenderWarning& w) {
                 return w.line > 0 ? "line " + std::to_string(w.line) + ": " + w.message : w.message;
             })
        .def("__repr__", [](const bengal::RenderWarning& w) {
            return "RenderWarning(line=" + std::to_string(w.line) +
                   ", message=" + std::string(py::repr(py::str(w.message))) + ")";
        });

    py::class_<bengal::RenderResult>(m, "RenderResult")
        .def_readonly("html", &bengal::RenderResult::html)
        .def_readonly("toc", &bengal::RenderResult::toc)
        .def_readonly("xrefs", &bengal::RenderResult::xrefs)
        .def_readonly("images", &bengal::RenderResult::images)
        .def_readonly("warnings", &bengal::RenderResult::warnings)
        .def_readonly("words", &bengal::RenderResult::words)
        .def_readonly("summary", &bengal::RenderResult::summary)
        .def_property_readonly("broken_xrefs",
                               [](const bengal::RenderResult& r) {
                                   std::vector<bengal::XrefRecord> out;
                                   for (const auto& x : r.xrefs)
                                       if (!x.resolved) out.push_back(x);
                                   return out;
                               })
        .def("__repr__", [](const bengal::RenderResult& r) {
            return "<RenderResult html=" + std::to_string(r.html.size()) + " bytes, " +
                   std::to_string(r.toc.size()) + " headings, " + std::to_string(r.xrefs.size()) +
                   " xrefs, " + std::to_string(r.warnings.size()) + " warnings>";
        });

    py::class_<bengal::XrefIndex>(m, "XrefIndex")
        .def(py::init<>())
        .def("add", &bengal::XrefIndex::add, "key"_a, "url"_a, "title"_a,
             "Add a key; returns False (keeping the first target) when the key exists.")
        .def(
            "add_many",
            [](bengal::XrefIndex& idx, const std::vector<std::tuple<std::string, std::string, std::string>>& entries) {
                std::size_t added = 0;
                for (const auto& [key, url, title] : entries) {
                    if (idx.add(key, url, title)) ++added;
                }
                return added;
            },
            "entries"_a, "add() for each (key, url, title) in order; returns how many were new.")
        .def(
            "lookup",
            [](const bengal::XrefIndex& idx, const std::string& key) -> py::object {
                const bengal::XrefTarget* t = idx.find(key);
                if (t == nullptr) return py::none();
                return py::make_tuple(t->url, t->title);
            },
            "key"_a)
        .def("keys", &bengal::XrefIndex::keys)
        .def("__len__", &bengal::XrefIndex::size)
        .def("__contains__", [](const bengal::XrefIndex& idx, const std::string& k) { return idx.contains(k); })
        .def_static("normalize_path", &bengal::XrefIndex::normalize_path, "key"_a);

    m.def(
        "render_markdown",
        [](const py::object& source, const bengal::XrefIndex* index, bool spec_mode, bool unsafe_html,
           bool heading_ids, bool tables, bool strikethrough, bool tasklists, bool autolinks, bool tagfilter,
           bool xrefs, bool directives, const std::string& url_prefix) {
            bool valid = true;
            std::string src = to_source(source, valid);
            auto opts = make_options(spec_mode, unsafe_html, heading_ids, tables, strikethrough, tasklists,
                                     autolinks, tagfilter, xrefs, directives);
            opts.input_is_valid_utf8 = valid;
            opts.url_prefix = url_prefix;
            py::gil_scoped_release release;
            return bengal::render_markdown(src, opts, index);
        },
        "source"_a, BENGAL_RENDER_KWARGS,
        "Render Markdown to HTML with heading ids, TOC, [[xrefs]] and directives.");

    m.def(
        "render_markdown_batch",
        [](const py::iterable& sources, const bengal::XrefIndex* index, bool spec_mode, bool unsafe_html,
           bool heading_ids, bool tables, bool strikethrough, bool tasklists, bool autolinks, bool tagfilter,
           bool xrefs, bool directives, const std::string& url_prefix) {
            std::vector<std::string> srcs;
            bool valid = true;
            for (const auto& s : sources) srcs.push_back(to_source(s, valid));
            auto opts = make_options(spec_mode, unsafe_html, heading_ids, tables, strikethrough, tasklists,
                                     autolinks, tagfilter, xrefs, directives);
            opts.input_is_valid_utf8 = valid;
            opts.url_prefix = url_prefix;
            std::vector<bengal::RenderResult> results;
            {
                py::gil_scoped_release release;
                results = bengal::render_markdown_batch(srcs, opts, index);
            }
            return results;
        },
        "sources"_a, BENGAL_RENDER_KWARGS,
        "Render many documents in parallel (oneTBB, GIL released); same results as sequential calls.");

    m.def(
        "slugify",
        [](const std::string& text) {
            py::gil_scoped_release release;
            return bengal::slugify(text);
        },
        "text"_a, "The heading-id slug rule (docs/heading-ids.md); may return ''.");

    m.def("known_directives", &bengal::known_directives);

    m.def(
        "release_worker_threads",
        [] {
            py::gil_scoped_release release;
            return bengal::release_worker_threads();
        },
        "Stop oneTBB's worker threads (call before os.fork()); they restart on next use.");
    m.def("default_concurrency", &bengal::default_concurrency,
          "Threads oneTBB uses by default (respects the CPU affinity mask).");

    // ---- output writer (issue 3) ----
    {
        // File system bytes -> str the way os.fsdecode does (undecodable bytes round-trip).
        // Static so that the exception translator, which must be captureless, can use it.
        static const auto fs_decode = [](const std::string& bytes) {
            PyObject* s = PyUnicode_DecodeFSDefaultAndSize(
                bytes.data(), static_cast<Py_ssize_t>(bytes.size()));
            if (s == nullptr) throw py::error_already_set();
            return py::reinterpret_steal<py::str>(s);
        };
        // OSError(errno, strerror, filename): Python picks the subclass from errno
        // (PermissionError, IsADirectoryError, NotADirectoryError, ...) as built-in open() does.
        py::register_local_exception_translator([](std::exception_ptr p) {
            try {
                if (p) std::rethrow_exception(p);
            } catch (const bengal::OutputIoError& e) {
                try {
                    const std::string reason =
                        e.code().message() + " (bengal OutputWriter: " + e.operation() + ")";
                    py::object exc = py::reinterpret_steal<py::object>(
                        PyObject_CallFunction(PyExc_OSError, "isO", e.error_number(),
                                              reason.c_str(), fs_decode(e.full_path()).ptr()));
                    if (!exc) return;  // the construction error is set instead
                    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
                } catch (py::error_already_set& err) {
                    err.restore();
                }
            } catch (const bengal::InvalidOutputPath& e) {
                try {
                    py::str message = py::str("invalid output path {!r}: {}")
                                          .format(fs_decode(e.path()),
                                                  bengal::describe(e.problem()));
                    PyErr_SetObject(PyExc_ValueError, message.ptr());
                } catch (py::error_already_set& err) {
                    err.restore();
                }
            } catch (const bengal::OutputWriterClosed& e) {
                PyErr_SetString(PyExc_ValueError, e.what());
            }
        });

        // str / bytes / os.PathLike -> file system bytes (os.fsencode), so surrogate-escaped
        // names round-trip exactly.
        auto fs_bytes = [](const py::handle& obj) {
            py::object fspath = py::reinterpret_steal<py::object>(PyOS_FSPath(obj.ptr()));
            if (fspath && PyUnicode_Check(fspath.ptr()))
                fspath = py::reinterpret_steal<py::object>(PyUnicode_EncodeFSDefault(fspath.ptr()));
            char* data = nullptr;
            Py_ssize_t size = 0;
            if (!fspath || PyBytes_AsStringAndSize(fspath.ptr(), &data, &size) != 0)
                throw py::error_already_set();
            return std::string(data, static_cast<std::size_t>(size));
        };
        // str -> its code units as stored (ASCII and Latin-1 bytes, UCS-2, UCS-4): a memcpy under
        // the GIL, the UTF-8 encoding happens on the writer thread (measured: encoding a 20 KB
        // non-ASCII page costs ~28 us, more than the rest of write()). A str with lone
        // surrogates takes the strict encoder instead, which raises UnicodeEncodeError: invalid
        // UTF-8 is never written silently. Anything with the buffer protocol (bytes, bytearray,
        // memoryview) -> its bytes.
        auto output_bytes = [](const py::handle& obj) -> std::pair<std::string, bengal::DataKind> {
            PyObject* o = obj.ptr();
            if (PyUnicode_Check(o)) {
                const auto n = static_cast<std::size_t>(PyUnicode_GET_LENGTH(o));
                const void* raw = PyUnicode_DATA(o);
                const int kind = PyUnicode_KIND(o);
                auto copy = [&](std::size_t unit, bengal::DataKind k) {
                    return std::pair{std::string(static_cast<const char*>(raw), n * unit), k};
                };
                auto has_surrogate = [n](const auto* units) {
                    // Branch-free OR-reduction (no early exit) so that the compiler vectorises it.
                    unsigned found = 0;
                    for (std::size_t i = 0; i < n; ++i)
                        found |= static_cast<unsigned>(units[i] - 0xD800u < 0x800u);
                    return found != 0;
                };
                if (PyUnicode_IS_ASCII(o)) return copy(1, bengal::DataKind::bytes);
                if (kind == PyUnicode_1BYTE_KIND) return copy(1, bengal::DataKind::latin1);
                if (kind == PyUnicode_2BYTE_KIND &&
                    !has_surrogate(static_cast<const Py_UCS2*>(raw)))
                    return copy(2, bengal::DataKind::ucs2);
                if (kind == PyUnicode_4BYTE_KIND &&
                    !has_surrogate(static_cast<const Py_UCS4*>(raw)))
                    return copy(4, bengal::DataKind::ucs4);
                Py_ssize_t size = 0;
                const char* data = PyUnicode_AsUTF8AndSize(o, &size);  // raises for surrogates
                if (data == nullptr) throw py::error_already_set();
                return {std::string(data, static_cast<std::size_t>(size)), bengal::DataKind::bytes};
            }
            if (!PyObject_CheckBuffer(obj.ptr()))
                throw py::type_error("OutputWriter.write() data must be str or bytes-like, not " +
                                     std::string(py::str(py::type::of(obj).attr("__name__"))));
            Py_buffer view;
            if (PyObject_GetBuffer(obj.ptr(), &view, PyBUF_SIMPLE) != 0)
                throw py::error_already_set();
            std::string out(static_cast<const char*>(view.buf), static_cast<std::size_t>(view.len));
            PyBuffer_Release(&view);
            return {std::move(out), bengal::DataKind::bytes};
        };

        py::class_<bengal::OutputWriter>(
            m, "OutputWriter",
            "Write-behind output: writer threads write files atomically (temp + rename), skip "
            "identical files, and raise the first I/O error from flush()/close(). See "
            "docs/output-writer.md.")
            .def(py::init([fs_bytes](const py::object& root, double max_buffer_mb, int threads,
                                     bool fsync) {
                     if (!(max_buffer_mb >= 0.0 && max_buffer_mb <= 1024.0 * 1024.0))
                         throw py::value_error("max_buffer_mb must be between 0 and 1048576");
                     if (threads < 1 || threads > 64)
                         throw py::value_error("threads must be between 1 and 64");
                     bengal::OutputWriterOptions o;
                     o.max_buffer_bytes = static_cast<std::size_t>(max_buffer_mb * 1024.0 * 1024.0);
                     o.threads = static_cast<unsigned>(threads);
                     o.file.fsync = fsync;
                     return std::make_unique<bengal::OutputWriter>(fs_bytes(root), std::move(o));
                 }),
                 "root"_a, "max_buffer_mb"_a = 64.0, "threads"_a = 2, py::kw_only(),
                 "fsync"_a = false)
            .def(
                "write",
                [fs_bytes, output_bytes](bengal::OutputWriter& w, const py::object& rel_path,
                                         const py::object& data) {
                    const std::string path = fs_bytes(rel_path);
                    auto [bytes, kind] = output_bytes(data);
                    // Fast path with the GIL held (it never blocks); release it only to wait.
                    if (w.try_write(path, bytes, kind)) return;
                    py::gil_scoped_release release;
                    w.write(path, std::move(bytes), kind);
                },
                "rel_path"_a, "data"_a,
                "Queue one file; blocks (GIL released) while the buffer is full. ValueError for "
                "a path that is empty, absolute, has '..', NUL or a backslash; OSError after an "
                "I/O error.")
            .def(
                "flush",
                [](bengal::OutputWriter& w) {
                    py::gil_scoped_release release;
                    w.flush();
                },
                "Wait until everything queued is on disk; raise the first I/O error (OSError).")
            .def(
                "close",
                [](bengal::OutputWriter& w) {
                    py::gil_scoped_release release;
                    w.close();
                },
                "flush(), then stop the writer threads. Idempotent; raises the first I/O error "
                "once.")
            .def_property_readonly("closed", &bengal::OutputWriter::closed)
            .def_property_readonly("root",
                                   [](const bengal::OutputWriter& w) {
                                       return fs_decode(w.root());
                                   })
            .def("stats",
                 [](const bengal::OutputWriter& w) {
                     const bengal::OutputWriterStats s = w.stats();
                     py::dict d;
                     d["files_written"] = s.files_written;
                     d["skipped_identical"] = s.skipped_identical;
                     d["bytes_written"] = s.bytes_written;
                     d["bytes_skipped"] = s.bytes_skipped;
                     d["files_failed"] = s.files_failed;
                     d["files_discarded"] = s.files_discarded;
                     d["directories_created"] = s.directories_created;
                     d["seconds_busy"] = s.seconds_busy;
                     d["seconds_blocked"] = s.seconds_blocked;
                     d["queue_high_water_bytes"] = s.queue_high_water_bytes;
                     d["max_buffer_bytes"] = s.max_buffer_bytes;
                     d["threads"] = s.threads;
                     return d;
                 })
            .def("__enter__", [](const py::object& self) { return self; })
            .def(
                "__exit__",
                [](bengal::OutputWriter& w, const py::object& exc_type, const py::object& exc,
                   const py::object&) {
                    if (exc_type.is_none()) {
                        py::gil_scoped_release release;
                        w.close();
                        return false;
                    }
                    // The body failed: still join the threads, but let the body's exception
                    // propagate. A different writer error is attached as a note, not lost.
                    try {
                        py::gil_scoped_release release;
                        w.close();
                    } catch (const bengal::OutputIoError& e) {
                        const bool same = py::isinstance(exc, py::handle(PyExc_OSError)) &&
                                          py::hasattr(exc, "errno") &&
                                          py::int_(e.error_number()).equal(exc.attr("errno"));
                        if (!same && py::hasattr(exc, "add_note"))
                            exc.attr("add_note")("bengal OutputWriter also failed: " +
                                                 std::string(e.what()));
                    }
                    return false;
                },
                "exc_type"_a, "exc"_a, "tb"_a)
            .def("__repr__", [](const bengal::OutputWriter& w) {
                std::string out = "<OutputWriter root=";
                out += py::repr(fs_decode(w.root()));
                try {
                    const auto s = w.stats();
                    out += " written=" + std::to_string(s.files_written) +
                           " skipped=" + std::to_string(s.skipped_identical);
                } catch (const bengal::OutputWriterClosed&) {
                    // forked child: no stats to show
                }
                return out + (w.closed() ? " closed>" : ">");
            });
    }
    // ---- end output writer (issue 3) ----
    // ---- assets (issue 3) ----
    // extract_assets / extract_assets_batch and AssetDependencyMap (src/bengal_native/assets.hpp,
    // asset_map.hpp). HTML is read in place: a str's UTF-8 form (cached inside the str object) or
    // a bytes object's buffer is immutable and stays alive while `keep` holds a reference, so the
    // scanner can read it with the GIL released without a copy. Nothing Python is touched then.
    {
        using bengal::AssetDependencyMap;
        using bengal::AssetRef;

        // A view of the HTML in `obj` (str or bytes), valid while `keep` lives.
        auto html_view = [](const py::handle& obj, std::vector<py::object>& keep) -> std::string_view {
            char* data = nullptr;
            Py_ssize_t size = 0;
            if (PyBytes_Check(obj.ptr())) {
                PyBytes_AsStringAndSize(obj.ptr(), &data, &size);
                keep.push_back(py::reinterpret_borrow<py::object>(obj));
                return {data, static_cast<std::size_t>(size)};
            }
            if (PyUnicode_Check(obj.ptr())) {
                const char* utf8 = PyUnicode_AsUTF8AndSize(obj.ptr(), &size);
                if (utf8 != nullptr) {
                    keep.push_back(py::reinterpret_borrow<py::object>(obj));
                    return {utf8, static_cast<std::size_t>(size)};
                }
                // Lone surrogates (not encodable as UTF-8): one U+FFFD each, through a UTF-16
                // round trip, as a browser's conversion to a scalar-value string does.
                PyErr_Clear();
                py::object encoded = py::reinterpret_borrow<py::object>(obj)
                                         .attr("encode")("utf-16-le", "surrogatepass")
                                         .attr("decode")("utf-16-le", "replace")
                                         .attr("encode")("utf-8");
                PyBytes_AsStringAndSize(encoded.ptr(), &data, &size);
                keep.push_back(encoded);
                return {data, static_cast<std::size_t>(size)};
            }
            throw py::type_error("HTML must be str or bytes, not " +
                                 std::string(py::str(py::type::of(obj).attr("__name__"))));
        };

        // AssetRef is a struct sequence (like os.stat_result): an immutable tuple
        // (url, tag, attr, is_external) with named fields. Built through the C API because a
        // page has dozens of references and a pybind11 instance per reference would cost more
        // than scanning the page.
        static PyStructSequence_Field asset_ref_fields[] = {
            {"url", "entity-decoded, trimmed URL (a srcset candidate, a CSS url() value, ...)"},
            {"tag", "lower-case element name: img, link, style, ..."},
            {"attr", "attribute: src, srcset, href, poster, data, imagesrcset, style; '' for <style> text"},
            {"is_external", "http:, https:, another non-excluded scheme, or protocol-relative //host"},
            {nullptr, nullptr}};
        static PyStructSequence_Desc asset_ref_desc = {
            "bengal_native.AssetRef",
            "One asset reference of a page: (url, tag, attr, is_external). docs/assets.md.",
            asset_ref_fields, 4};
        PyTypeObject* asset_ref_type = PyStructSequence_NewType(&asset_ref_desc);
        if (asset_ref_type == nullptr) throw py::error_already_set();
        // The reference NewType returned is never released: the converters below use the type
        // for as long as the process lives, even if the module attribute is replaced.
        m.add_object("AssetRef", py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(asset_ref_type)));

        auto refs_to_list = [asset_ref_type](const std::vector<AssetRef>& refs) -> py::list {
            // Tag and attribute names repeat within a page: reuse their str objects.
            std::vector<std::pair<std::string_view, py::object>> names;
            auto name = [&names](const std::string& s) -> py::object {
                for (const auto& [k, v] : names)
                    if (k == s) return v;
                py::str v(s);
                if (names.size() < 16) names.emplace_back(s, v);
                return v;
            };
            py::list out(refs.size());
            for (std::size_t i = 0; i < refs.size(); ++i) {
                const AssetRef& r = refs[i];
                auto item = py::reinterpret_steal<py::object>(PyStructSequence_New(asset_ref_type));
                if (!item) throw py::error_already_set();
                // PyStructSequence_SetItem steals the references.
                PyStructSequence_SetItem(item.ptr(), 0, py::str(r.url).release().ptr());
                PyStructSequence_SetItem(item.ptr(), 1, name(r.tag).release().ptr());
                PyStructSequence_SetItem(item.ptr(), 2, name(r.attr).release().ptr());
                PyStructSequence_SetItem(item.ptr(), 3, py::bool_(r.is_external).release().ptr());
                PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), item.release().ptr());
            }
            return out;
        };

        m.def(
            "extract_assets",
            [html_view, refs_to_list](const py::object& html) {
                std::vector<py::object> keep;
                const std::string_view view = html_view(html, keep);
                std::vector<AssetRef> refs;
                {
                    py::gil_scoped_release release;
                    refs = bengal::extract_assets(view);
                }
                return refs_to_list(refs);
            },
            "html"_a,
            "Asset references of a rendered page, first-seen order, de-duplicated (docs/assets.md).");

        m.def(
            "extract_assets_batch",
            [html_view, refs_to_list](const py::iterable& docs) {
                std::vector<py::object> keep;
                std::vector<std::string_view> views;
                for (const auto& d : docs) views.push_back(html_view(d, keep));
                std::vector<std::vector<AssetRef>> results;
                {
                    py::gil_scoped_release release;
                    results = bengal::extract_assets_batch(views);
                }
                py::list out(results.size());
                for (std::size_t i = 0; i < results.size(); ++i)
                    PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), refs_to_list(results[i]).release().ptr());
                return out;
            },
            "docs"_a, "extract_assets for many pages in parallel (oneTBB, GIL released).");

        py::enum_<bengal::AssetMapStatus>(m, "AssetMapStatus",
                                          "What AssetDependencyMap.load found (anything but OK "
                                          "comes with an empty map).")
            .value("OK", bengal::AssetMapStatus::ok)
            .value("MISSING", bengal::AssetMapStatus::missing)
            .value("UNREADABLE", bengal::AssetMapStatus::unreadable)
            .value("CORRUPT", bengal::AssetMapStatus::corrupt)
            .value("VERSION_MISMATCH", bengal::AssetMapStatus::version_mismatch);

        // Every call that takes the map's lock releases the GIL first, so a Python thread waiting
        // for the lock never blocks the thread that holds it.
        py::class_<AssetDependencyMap>(m, "AssetDependencyMap",
                                       "page -> assets and asset -> pages; thread-safe; saved to "
                                       "and loaded from versioned JSON.")
            .def(py::init<>())
            .def(
                "track_page_assets",
                [html_view](AssetDependencyMap& self, const std::string& page, const py::object& html) {
                    std::vector<py::object> keep;
                    const std::string_view view = html_view(html, keep);
                    py::gil_scoped_release release;
                    self.track_page_assets(page, view);
                },
                "page"_a, "html"_a, "Replace the page's assets by those extracted from its HTML.")
            .def(
                "track_assets",
                [html_view](AssetDependencyMap& self, const py::iterable& pages, std::optional<bool> parallel) {
                    std::vector<py::object> keep;
                    std::vector<std::string> names;
                    std::vector<std::string_view> views;
                    for (const auto& item : pages) {
                        // A 2-character str is a sequence of length 2 too: refuse it explicitly.
                        if (PyUnicode_Check(item.ptr()) || PyBytes_Check(item.ptr()) ||
                            !py::isinstance<py::sequence>(item) || py::len(item) != 2)
                            throw py::type_error(
                                "track_assets expects (page, html) pairs (for a dict, pass .items())");
                        const auto pair = py::reinterpret_borrow<py::sequence>(item);
                        names.push_back(pair[0].cast<std::string>());
                        views.push_back(html_view(pair[1], keep));
                    }
                    std::vector<std::pair<std::string_view, std::string_view>> batch;
                    batch.reserve(names.size());
                    for (std::size_t i = 0; i < names.size(); ++i) batch.emplace_back(names[i], views[i]);
                    const auto mode = !parallel.has_value() ? AssetDependencyMap::Mode::automatic
                                      : *parallel           ? AssetDependencyMap::Mode::parallel
                                                            : AssetDependencyMap::Mode::sequential;
                    py::gil_scoped_release release;
                    self.track_assets(batch, mode);
                },
                "pages"_a, py::kw_only(), "parallel"_a = py::none(),
                "track_page_assets for (page, html) pairs; extraction in parallel above the measured "
                "cut-over (parallel=None) or as forced (True/False); applied in input order.")
            .def(
                "set_page_assets",
                [](AssetDependencyMap& self, const std::string& page, std::vector<std::string> assets) {
                    py::gil_scoped_release release;
                    self.set_page_assets(page, std::move(assets));
                },
                "page"_a, "assets"_a)
            .def(
                "remove_page",
                [](AssetDependencyMap& self, const std::string& page) {
                    py::gil_scoped_release release;
                    return self.remove_page(page);
                },
                "page"_a)
            .def("clear", &AssetDependencyMap::clear, py::call_guard<py::gil_scoped_release>())
            .def("assets_for", &AssetDependencyMap::assets_for, "page"_a,
                 py::call_guard<py::gil_scoped_release>(), "The page's assets in first-seen order.")
            .def("pages_for", &AssetDependencyMap::pages_for, "asset"_a,
                 py::call_guard<py::gil_scoped_release>(), "Pages referencing the asset, sorted.")
            .def("pages", &AssetDependencyMap::pages, py::call_guard<py::gil_scoped_release>())
            .def("assets", &AssetDependencyMap::assets, py::call_guard<py::gil_scoped_release>())
            .def("asset_count", &AssetDependencyMap::asset_count, py::call_guard<py::gil_scoped_release>())
            .def("__len__", &AssetDependencyMap::size, py::call_guard<py::gil_scoped_release>())
            .def("__contains__", &AssetDependencyMap::contains_page, "page"_a,
                 py::call_guard<py::gil_scoped_release>())
            .def("to_json", &AssetDependencyMap::to_json, py::call_guard<py::gil_scoped_release>())
            .def(
                "save",
                [](const AssetDependencyMap& self, const std::filesystem::path& path) {
                    AssetDependencyMap::SaveResult r;
                    {
                        py::gil_scoped_release release;
                        r = self.save(path.string());
                    }
                    if (!r.ok) {
                        // OSError(errno, message, filename) becomes the errno's subclass
                        // (PermissionError, IsADirectoryError, ...).
                        PyErr_SetObject(PyExc_OSError, py::make_tuple(r.error, r.message, path.string()).ptr());
                        throw py::error_already_set();
                    }
                },
                "path"_a, "Write atomically (temp file, fsync, rename, fsync dir); OSError on failure.")
            .def_static(
                "load",
                [](const std::filesystem::path& path) {
                    AssetDependencyMap::LoadResult r;
                    {
                        py::gil_scoped_release release;
                        r = AssetDependencyMap::load(path.string());
                    }
                    if (!r.map) r.map = std::make_unique<AssetDependencyMap>();
                    return py::make_tuple(py::cast(std::move(r.map)), r.status, r.message);
                },
                "path"_a,
                "(map, status, message): never raises for a bad file; the map is empty unless "
                "status is AssetMapStatus.OK.")
            .def("__repr__", [](const AssetDependencyMap& self) {
                std::size_t pages = 0, assets = 0;
                {
                    py::gil_scoped_release release;
                    pages = self.size();
                    assets = self.asset_count();
                }
                return "<AssetDependencyMap " + std::to_string(pages) + " pages, " + std::to_string(assets) +
                       " assets>";
            });
    }
    // ---- end assets (issue 3) ----
}
