// The only file that includes pybind11: converts Python values to C++ (holding the GIL), calls
// the plain C++ core with the GIL released, and converts the results back.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <md4c.h>

#include <string>
#include <vector>

#include "bengal_native/markdown.hpp"
#include "bengal_native/slug.hpp"
#include "bengal_native/xref_index.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace {

#ifndef BENGAL_VERSION
#define BENGAL_VERSION "0.0.0+unknown"
#endif

// str -> UTF-8 (lone surrogates pass through as invalid bytes and are then replaced with U+FFFD
// by the renderer, with a warning); bytes -> as is.
std::string to_source(const py::handle& obj) {
    if (PyBytes_Check(obj.ptr())) {
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
        return to_source(encoded);
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
        "autolinks"_a = true, "tagfilter"_a = false, "xrefs"_a = true, "directives"_a = true

}  // namespace

PYBIND11_MODULE(bengal_native, m) {
    m.doc() = "bengal's native core: Markdown rendering with ids, TOC and cross-references.";
    m.attr("__version__") = BENGAL_VERSION;
    m.attr("MD4C_VERSION") = "0.4.8";

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
           bool xrefs, bool directives) {
            std::string src = to_source(source);
            const auto opts = make_options(spec_mode, unsafe_html, heading_ids, tables, strikethrough,
                                           tasklists, autolinks, tagfilter, xrefs, directives);
            py::gil_scoped_release release;
            return bengal::render_markdown(src, opts, index);
        },
        "source"_a, BENGAL_RENDER_KWARGS,
        "Render Markdown to HTML with heading ids, TOC, [[xrefs]] and directives.");

    m.def(
        "render_markdown_batch",
        [](const py::iterable& sources, const bengal::XrefIndex* index, bool spec_mode, bool unsafe_html,
           bool heading_ids, bool tables, bool strikethrough, bool tasklists, bool autolinks, bool tagfilter,
           bool xrefs, bool directives) {
            std::vector<std::string> srcs;
            for (const auto& s : sources) srcs.push_back(to_source(s));
            const auto opts = make_options(spec_mode, unsafe_html, heading_ids, tables, strikethrough,
                                           tasklists, autolinks, tagfilter, xrefs, directives);
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
}
