// SPDX-License-Identifier: MIT
// denseam.range_search: thin binding over denseam::range_search (include/denseam/index.hpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "denseam/index.hpp"

namespace denseam::python {

namespace {

template <class T>
py::array_t<T> to_array(std::vector<T>&& v) {
    auto* heap = new std::vector<T>(std::move(v));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>(static_cast<py::ssize_t>(heap->size()), heap->data(), owner);
}

py::tuple range_search_call(const py::object& memories,
                            const py::object& queries,
                            double radius,
                            const std::string& index,
                            int n_threads) {
    const input_array mem = as_input(memories, "memories", "(n_memories, dim)");
    const input_array qry = as_input(queries, "queries", "(n_queries, dim)");
    exec_options exec;
    exec.n_threads = n_threads;
    const index_kind kind = parse_index_kind(index);
    range_result res;
    if (use_float32(mem, qry)) {
        const auto m = as_matrix<float>(mem);
        const auto q = as_matrix<float>(qry);
        py::gil_scoped_release release;
        res = range_search(m.view, q.view, radius, kind, exec);
    } else {
        const auto m = as_matrix<double>(mem);
        const auto q = as_matrix<double>(qry);
        py::gil_scoped_release release;
        res = range_search(m.view, q.view, radius, kind, exec);
    }
    return py::make_tuple(to_array(std::move(res.offsets)),
                          to_array(std::move(res.indices)),
                          to_array(std::move(res.sq_distances)),
                          std::string(to_string(res.used)));
}

}  // namespace

void register_index(py::module_& m) {
    m.def("range_search",
          &range_search_call,
          py::arg("memories"),
          py::arg("queries"),
          py::arg("radius"),
          py::kw_only(),
          py::arg("index") = "auto",
          py::arg("n_threads") = 0,
          R"doc(Every memory strictly within `radius` of every query, exactly.

    {mu : ||x - xi_mu||^2 < radius^2}, the squared distance summed in float64 (a memory at
    distance exactly `radius` is outside, as in the compact kernels' support rule).

    Returns (offsets, indices, sq_distances, index_used): query i's memories are
    indices[offsets[i]:offsets[i + 1]] (ascending, int64) with their squared distances
    (float64); index_used is the structure that answered ("brute", "kdtree" or "ball").
    index: "auto" (default), "brute", "kdtree" or "ball" (docs/index.md).
    Raises ValueError for bad shapes, non-finite values or radius <= 0.)doc");
}

}  // namespace denseam::python
