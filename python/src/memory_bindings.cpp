// SPDX-License-Identifier: MIT
// denseam.Memory: a live set of stored patterns with stable ids and its energy, backed by
// denseam::memory_store (include/denseam/store.hpp): every energy and retrieval is the store's.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "denseam/energy.hpp"
#include "denseam/retrieval.hpp"
#include "denseam/store.hpp"
#include "engine/validate.hpp"

namespace denseam::python {

namespace {

/// Runs f() with the GIL released. Every call into the store does: add/remove wait for running
/// queries, and a query's Ctrl-C check takes the GIL, so a thread that held the GIL while it
/// waited for the store could deadlock with it.
template <class F>
auto without_gil(F&& f) -> decltype(f()) {
    py::gil_scoped_release release;
    return f();
}

/// "queries have dimension 3 but memories have dimension 4" (`memory_has` = "memories have"),
/// before the store is asked.
void check_dim(const input_array& a, std::int64_t dim, const char* memory_has) {
    if (a.cols() != dim)
        throw py::value_error(a.name + " have dimension " + std::to_string(a.cols()) + " but " +
                              memory_has + " dimension " + std::to_string(dim));
}

/// The store and what the bindings keep beside it: a cache of the patterns array (rebuilt after
/// an update, tracked by `version`, which the GIL protects).
class memory {
  public:
    explicit memory(memory_store s) : store_(std::make_unique<memory_store>(std::move(s))) {}

    memory_store& store() { return *store_; }
    const memory_store& store() const { return *store_; }
    const energy_params& params() const { return store_->params(); }
    std::int64_t dim() const { return store_->dim(); }
    bool is_float32() const { return store_->dtype() == store_dtype::float32; }
    std::int64_t size() const {
        return without_gil([&] { return store_->size(); });
    }
    index_kind requested_index() const {
        return without_gil([&] { return store_->info().index; });
    }

    /// Adds the rows of `in` (float32 stays float32, everything else float64); returns the ids.
    std::vector<std::int64_t> add(const input_array& in, int n_threads) {
        check_dim(in, dim(), "the memory has");
        std::vector<std::int64_t> ids;
        auto run = [&](const auto& view) {
            call_without_gil(n_threads,
                             [&](const exec_options& exec) { ids = store_->add(view, exec); });
        };
        if (in.is_float32())
            run(as_matrix<float>(in).view);
        else
            run(as_matrix<double>(in).view);
        ++version_;
        return ids;
    }

    void remove(const std::vector<std::int64_t>& ids) {
        without_gil([&] { store_->remove(ids); });
        ++version_;
    }

    /// The live patterns (size x dim) in the store's dtype, a read-only view of a cached,
    /// read-only array.
    py::array patterns_view() const {
        const std::uint64_t v = version_;
        if (cache_version_ != v || !cache_) {
            std::vector<double> x = without_gil([&] { return store_->patterns(); });
            const auto rows = static_cast<py::ssize_t>(dim() > 0 ? x.size() / dim() : 0);
            const auto cols = static_cast<py::ssize_t>(dim());
            py::array a;
            if (is_float32())  // the values were float32: converting back is exact
                a = vector_to_array(std::vector<float>(x.begin(), x.end()), {rows, cols});
            else
                a = vector_to_array(std::move(x), {rows, cols});
            a.attr("setflags")(py::arg("write") = false);
            // An update that finished while the GIL was released makes this copy stale.
            if (version_ != v) return a;
            cache_ = a;
            cache_version_ = v;
        }
        const py::array& c = *cache_;
        return py::array(
            c.dtype(), {c.shape(0), c.shape(1)}, {c.strides(0), c.strides(1)}, c.data(), c);
    }

  private:
    std::unique_ptr<memory_store> store_;
    std::uint64_t version_ = 0;
    mutable std::optional<py::array> cache_;
    mutable std::uint64_t cache_version_ = 0;
};

memory memory_from_patterns(const py::object& patterns,
                            const energy_params& params,
                            index_kind index,
                            int n_threads) {
    validate(params);
    const input_array in = as_input(patterns, "patterns", "(n_memories, dim)");
    // The checks and messages of the free functions (2-D, non-empty, finite).
    auto make = [&](const auto& view, store_dtype dtype) {
        using T = std::remove_cvref_t<decltype(*view.data)>;
        detail::check_memories_queries(view, matrix_view<const T>(view.data, 0, view.cols));
        memory m(memory_store(view.cols, params, dtype, index));
        call_without_gil(n_threads, [&](const exec_options& exec) { m.store().add(view, exec); });
        return m;
    };
    if (in.is_float32()) return make(as_matrix<float>(in).view, store_dtype::float32);
    return make(as_matrix<double>(in).view, store_dtype::float64);
}

/// Ids from an array-like of integers (a scalar is one id).
std::vector<std::int64_t> as_ids(const py::object& ids) {
    py::array a = py::module_::import("numpy").attr("asarray")(ids);
    const char kind = a.dtype().kind();
    if (a.size() > 0 && kind != 'i' && kind != 'u')
        throw py::value_error("ids must be integers, got an array of dtype " + dtype_string(a));
    if (a.ndim() > 1)
        throw py::value_error("ids must be a 1-D sequence of integers, got an array of shape " +
                              shape_string(a));
    auto c = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    return std::vector<std::int64_t>(c.data(), c.data() + c.size());
}

py::array_t<std::int64_t> ids_array(std::vector<std::int64_t>&& ids) {
    const auto n = static_cast<py::ssize_t>(ids.size());
    return vector_to_array(std::move(ids), {n});
}

/// E, G or (E, G) of queries: float32 results for a float32 memory and float32 queries, else
/// float64 (the store's arithmetic either way; exact conversions).
py::object memory_energy(const memory& self,
                         const py::object& queries,
                         energy_output what,
                         int n_threads) {
    const input_array qry = as_input(queries, "queries", "(n_queries, dim)");
    check_dim(qry, self.dim(), "memories have");
    const matrix_arg<double> q = as_matrix<double>(qry);
    const std::int64_t n = q.view.rows, d = q.view.cols;
    auto compute = [&](std::span<double> e, matrix_view<double> g) {
        call_without_gil(n_threads, [&](const exec_options& exec) {
            self.store().energy_and_grad(q.view, e, g, {}, exec);
        });
    };
    if (!(self.is_float32() && qry.is_float32()))
        return energy_outputs<double>(n, d, what, compute);
    return energy_outputs<float>(n, d, what, [&](std::span<float> e, matrix_view<float> g) {
        std::vector<double> e64(e.size()), g64(g.empty() ? 0 : static_cast<std::size_t>(n * d));
        compute(e64, g.empty() ? matrix_view<double>{} : make_matrix_view(g64.data(), n, d));
        for (std::size_t i = 0; i < e.size(); ++i) e[i] = static_cast<float>(e64[i]);
        for (std::size_t i = 0; i < g64.size(); ++i) g.data[i] = static_cast<float>(g64[i]);
    });
}

py::object memory_retrieve(const memory& self,
                           const py::object& queries,
                           const retrieve_kwargs& kw) {
    const input_array qry = as_input(queries, "queries", "(n_queries, dim)");
    check_dim(qry, self.dim(), "memories have");
    const retrieve_options options = make_options(kw, self.params(), qry.cols());
    const matrix_arg<double> q = as_matrix<double>(qry);
    retrieve_result<double> r;
    call_without_gil(kw.n_threads, [&](const exec_options& exec) {
        r = self.store().retrieve(q.view, options, exec);
    });
    const kernel_kind kernel = self.params().kernel;
    if (!(self.is_float32() && qry.is_float32()))
        return retrieval_result_object(std::move(r), qry.cols(), options.method, kernel);
    retrieve_result<float> f;
    f.states.assign(r.states.begin(), r.states.end());
    f.energy.assign(r.energy.begin(), r.energy.end());
    f.status = std::move(r.status);
    f.steps = std::move(r.steps);
    f.support = std::move(r.support);
    return retrieval_result_object(std::move(f), qry.cols(), options.method, kernel);
}

std::string memory_repr(const memory& m) {
    const energy_params& p = m.params();
    std::string s = "Memory(n_memories=" + std::to_string(m.size()) +
                    ", dim=" + std::to_string(m.dim()) +
                    ", dtype=" + (m.is_float32() ? "float32" : "float64") + ", kernel='" +
                    std::string(to_string(p.kernel)) + "', beta=" + float_repr(p.beta) +
                    ", eps=" + float_repr(p.eps);
    if (p.q != energy_params{}.q) s += ", q='" + std::string(to_string(p.q)) + "'";
    if (p.kernel == kernel_kind::poly) s += ", degree=" + std::to_string(p.degree);
    const index_kind ix = m.requested_index();
    if (ix != index_kind::automatic) s += ", index='" + std::string(to_string(ix)) + "'";
    return s + ")";
}

py::dict memory_info(const memory& m) {
    const store_info i = without_gil([&] { return m.store().info(); });
    py::dict d;
    d["size"] = i.size;
    d["dim"] = i.dim;
    d["next_id"] = i.next_id;
    d["dtype"] = std::string(to_string(i.dtype));
    d["kernel"] = std::string(to_string(i.params.kernel));
    d["beta"] = i.params.beta;
    d["eps"] = i.params.eps;
    d["q"] = std::string(to_string(i.params.q));
    d["degree"] = i.params.degree;
    d["index"] = std::string(to_string(i.index));
    d["index_used"] = std::string(to_string(i.index_used));
    d["bytes"] = i.bytes;
    return d;
}

std::string path_string(const py::object& path) {
    return py::module_::import("os").attr("fsdecode")(path).cast<std::string>();
}

/// Pickle state: (patterns, kernel, beta, eps, q, degree, ids, next_id, index). The first six
/// are the state of the Memory of earlier versions, which unpickles with ids 0..n-1.
py::tuple memory_state(const memory& m) {
    const energy_params& p = m.params();
    const store_info i = without_gil([&] { return m.store().info(); });
    return py::make_tuple(m.patterns_view(),
                          std::string(to_string(p.kernel)),
                          p.beta,
                          p.eps,
                          std::string(to_string(p.q)),
                          p.degree,
                          ids_array(without_gil([&] { return m.store().ids(); })),
                          i.next_id,
                          std::string(to_string(i.index)));
}

memory memory_from_state(const py::tuple& t) {
    if (t.size() != 6 && t.size() != 9) throw py::value_error("invalid Memory state");
    const energy_params p = make_params(t[1].cast<std::string>(),
                                        t[2].cast<double>(),
                                        t[3].cast<double>(),
                                        t[4].cast<std::string>(),
                                        t[5].cast<int>());
    if (t.size() == 6) return memory_from_patterns(t[0], p, index_kind::automatic, 0);
    const input_array in = as_input(t[0], "patterns", "(n_memories, dim)");
    const std::vector<std::int64_t> ids = as_ids(t[6]);
    const auto next_id = t[7].cast<std::int64_t>();
    const index_kind index = parse_index_kind(t[8].cast<std::string>());
    if (static_cast<std::int64_t>(ids.size()) != in.rows() ||
        (!ids.empty() && (ids.front() < 0 || ids.back() >= next_id)))
        throw py::value_error("invalid Memory state (ids)");
    memory m(memory_store(
        in.cols(), p, in.is_float32() ? store_dtype::float32 : store_dtype::float64, index));
    // The store hands out ids in order only: the rows go in at their ids with zero rows in the
    // gaps, which are removed again (the ids and next_id come back as they were).
    auto restore = [&](const auto& view) {
        using T = std::remove_cvref_t<decltype(*view.data)>;
        const std::int64_t d = view.cols;
        std::vector<T> all(static_cast<std::size_t>(next_id * d), T(0));
        for (std::int64_t r = 0; r < view.rows; ++r)
            for (std::int64_t k = 0; k < d; ++k)
                all[static_cast<std::size_t>(ids[static_cast<std::size_t>(r)] * d + k)] =
                    view(r, k);
        std::vector<std::int64_t> gaps;
        std::size_t r = 0;
        for (std::int64_t id = 0; id < next_id; ++id) {
            if (r < ids.size() && ids[r] == id)
                ++r;
            else
                gaps.push_back(id);
        }
        without_gil([&] {
            m.store().add(matrix_view<const T>(all.data(), next_id, d));
            m.store().remove(gaps);
        });
    };
    if (in.is_float32())
        restore(as_matrix<float>(in).view);
    else
        restore(as_matrix<double>(in).view);
    return m;
}

constexpr const char* memory_doc = R"doc(
A Dense Associative Memory: stored patterns xi_mu (M, d) with stable ids and the energy
E(x) = -Q[ eps + sum_mu F(beta * S(x, xi_mu)) ] (see denseam.energy for kernels and Q).

Memory(patterns, *, kernel="lsr", beta, eps=..., q="auto", degree=..., index="auto")
    (beta is required); the patterns get the ids 0..M-1.
Memory.empty(dim, *, kernel="lsr", beta, ..., dtype="float64", index="auto")
    a memory without patterns (energies and retrieval need at least one).
Memory.load(path)
    a memory written by save().

The memory is a live store (denseam::memory_store): add(patterns) returns the new patterns' ids
(0, 1, 2, ... in order of addition, never reused), remove(ids) takes patterns out, and the
other patterns keep their ids. Energies and retrievals after any adds and removes equal those of
a Memory built from scratch from the live patterns (`patterns`, in id order); support sets
(RetrievalResult.support) hold ids. For compact kernels the store keeps a range index
(`index`: "auto", "brute", "kdtree" or "ball"), updated on add/remove.

The patterns are copied in: float32 when the first patterns (or `dtype`) are float32, float64
otherwise; a float32 memory computes in float32 (queries are rounded to float32). Results are
float32 for a float32 memory and float32 queries, float64 otherwise. `patterns` is a read-only
array of the live patterns. A Memory pickles (patterns, ids and parameters); calls may run
from several threads at once, and add/remove wait for running calls (and calls for them).

Example
-------
>>> mem = denseam.Memory(np.array([[0.0, 0.0], [4.0, 0.0]]), kernel="lsr", beta=0.5)
>>> mem
Memory(n_memories=2, dim=2, dtype=float64, kernel='lsr', beta=0.5, eps=0.0)
>>> mem.energy([[1.0, 0.0]])  # -(1/beta) log(1 - (beta/2) * 1^2)
array([0.57536414])
>>> mem.retrieve([[0.5, 0.5]]).states
array([[0., 0.]])
>>> mem.add([[8.0, 0.0]]), mem.ids
(array([2]), array([0, 1, 2]))
>>> mem.remove([1]); mem.retrieve([[7.5, 0.5]]).support_sets()
[array([2])]
)doc";

}  // namespace

void register_memory(py::module_& m) {
    const exec_options exec_defaults{};
    const std::string auto_index(to_string(index_kind::automatic));
    py::class_<memory> cls(m, "Memory", memory_doc);
    std::apply(
        [&](const auto&... kwargs) {
            cls.def(py::init([](const py::object& patterns,
                                const std::string& kernel,
                                double beta,
                                double eps,
                                const std::string& q,
                                int degree,
                                const std::string& index) {
                        const energy_params p = make_params(kernel, beta, eps, q, degree);
                        return memory_from_patterns(patterns, p, parse_index_kind(index), 0);
                    }),
                    py::arg("patterns"),
                    py::kw_only(),
                    kwargs...,
                    py::arg("index") = auto_index);
            cls.def_static(
                "empty",
                [](std::int64_t dim,
                   const std::string& kernel,
                   double beta,
                   double eps,
                   const std::string& q,
                   int degree,
                   const std::string& dtype,
                   const std::string& index) {
                    const energy_params p = make_params(kernel, beta, eps, q, degree);
                    return memory(
                        memory_store(dim, p, parse_store_dtype(dtype), parse_index_kind(index)));
                },
                "A Memory of dimension dim >= 1 without patterns (add them with add()); dtype "
                "\"float32\" or \"float64\" is the element type of the patterns it will hold.",
                py::arg("dim"),
                py::kw_only(),
                kwargs...,
                py::arg("dtype") = std::string(to_string(store_dtype::float64)),
                py::arg("index") = auto_index);
        },
        energy_kwarg_args());
    cls.def_property_readonly("patterns",
                              &memory::patterns_view,
                              "The live patterns (M, d) in id order, a read-only array")
        .def_property_readonly(
            "ids",
            [](const memory& self) {
                return ids_array(without_gil([&] { return self.store().ids(); }));
            },
            "The live patterns' ids (M,), int64, ascending (row i of `patterns` has id ids[i])")
        .def_property_readonly("dim", &memory::dim, "Dimension d of the patterns")
        .def_property_readonly("n_memories", &memory::size, "Number M of live patterns")
        .def_property_readonly(
            "dtype",
            [](const memory& self) {
                return self.is_float32() ? py::dtype::of<float>() : py::dtype::of<double>();
            },
            "float32 or float64")
        .def_property_readonly(
            "kernel",
            [](const memory& self) { return std::string(to_string(self.params().kernel)); })
        .def_property_readonly("beta", [](const memory& self) { return self.params().beta; })
        .def_property_readonly("eps", [](const memory& self) { return self.params().eps; })
        .def_property_readonly(
            "q", [](const memory& self) { return std::string(to_string(self.params().q)); })
        .def_property_readonly("degree", [](const memory& self) { return self.params().degree; })
        .def_property_readonly(
            "index",
            [](const memory& self) { return std::string(to_string(self.requested_index())); },
            "The range index asked for at creation: auto, brute, kdtree or ball")
        .def("__len__", &memory::size)
        .def("__repr__", &memory_repr)
        .def("info",
             &memory_info,
             "dict: size, dim, next_id (the id the next pattern gets), dtype, kernel, beta, eps, "
             "q, degree, index (asked for), index_used (the kind the index has now), bytes (in "
             "memory)");

    cls.def(
        "add",
        [](memory& self, const py::object& patterns, int n_threads) {
            const input_array in = as_input(patterns, "patterns", "(n, dim)");
            return ids_array(self.add(in, n_threads));
        },
        "Add patterns (n, d), finite; returns their ids (n,) int64 (next_id, next_id + 1, ...). "
        "All or nothing: a bad row leaves the memory unchanged (ValueError).",
        py::arg("patterns"),
        py::kw_only(),
        py::arg("n_threads") = exec_defaults.n_threads);
    cls.def(
        "remove",
        [](memory& self, const py::object& ids) { self.remove(as_ids(ids)); },
        "Remove the patterns with these ids (a sequence of distinct live ids). All or nothing: "
        "an unknown, removed or repeated id is a ValueError naming it and changes nothing.",
        py::arg("ids"));
    cls.def(
        "save",
        [](const memory& self, const py::object& path) {
            const std::string p = path_string(path);
            without_gil([&] { self.store().save(p); });
        },
        "Write the memory to a store file (the format of `denseam store`), crash-safely: the "
        "file is replaced only once the new one is complete.",
        py::arg("path"));
    cls.def_static(
        "load",
        [](const py::object& path) {
            const std::string p = path_string(path);
            return memory(without_gil([&] { return memory_store::load(p); }));
        },
        "Read a Memory from a store file (save(), `denseam store`); a missing, corrupt, truncated "
        "or foreign file is a ValueError naming it.",
        py::arg("path"));

    auto def_energy = [&](const char* name, energy_output what, const char* doc) {
        cls.def(
            name,
            [what](const memory& self, const py::object& queries, int n_threads) {
                return memory_energy(self, queries, what, n_threads);
            },
            doc,
            py::arg("queries"),
            py::kw_only(),
            py::arg("n_threads") = exec_defaults.n_threads);
    };
    def_energy("energy",
               energy_output::energy,
               "Energies E(x) of queries (B, d) -> (B,); see denseam.energy.");
    def_energy("grad",
               energy_output::grad,
               "Gradients dE/dx of queries (B, d) -> (B, d); see denseam.grad.");
    def_energy("energy_and_grad",
               energy_output::both,
               "(E, G) of queries (B, d) -> ((B,), (B, d)); see denseam.energy_and_grad.");

    auto retrieve_fn = with_retrieve_kwargs<const memory&, const py::object&>(
        [](const memory& self, const py::object& queries, const retrieve_kwargs& kw) {
            return memory_retrieve(self, queries, kw);
        });
    std::apply(
        [&](const auto&... kwargs) {
            cls.def("retrieve",
                    std::move(retrieve_fn),
                    "Retrieve from queries (B, d) by descent on this memory's energy; the "
                    "keywords (their defaults, and the options that are errors for a method) and "
                    "the returned RetrievalResult are those of denseam.retrieve; support sets "
                    "hold ids.",
                    py::arg("queries"),
                    py::kw_only(),
                    kwargs...);
        },
        retrieve_kwarg_args());

    cls.def(py::pickle(&memory_state, &memory_from_state));
}

}  // namespace denseam::python
