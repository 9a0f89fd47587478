// SPDX-License-Identifier: MIT
// denseam.Memory: a set of stored patterns with its energy, bound to the same calls as the free
// functions (energy_call / retrieve_call).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "bindings.hpp"
#include "denseam/energy.hpp"
#include "denseam/retrieval.hpp"
#include "engine/validate.hpp"

namespace denseam::python {

namespace {

/// Stored patterns (a private, read-only, C-contiguous float32 or float64 copy) + the energy.
class memory {
  public:
    memory(const py::object& patterns, const energy_params& params) : params_(params) {
        validate(params_);
        const input_array in = as_input(patterns, "patterns", "(n_memories, dim)");
        if (in.is_float32())
            patterns_ = private_copy<float>(in);
        else
            patterns_ = private_copy<double>(in);
    }

    const py::array& array() const { return patterns_; }
    const energy_params& params() const { return params_; }
    std::int64_t size() const { return patterns_.shape(0); }
    std::int64_t dim() const { return patterns_.shape(1); }
    input_array as_memories() const { return {patterns_, "memories"}; }

    /// A read-only view (its base is the private copy, which is read-only too).
    py::array patterns_view() const {
        return py::array(patterns_.dtype(),
                         {patterns_.shape(0), patterns_.shape(1)},
                         {patterns_.strides(0), patterns_.strides(1)},
                         patterns_.data(),
                         patterns_);
    }

  private:
    template <class T>
    static py::array private_copy(const input_array& in) {
        const matrix_arg<T> src = as_matrix<T>(in);
        detail::check_memories_queries(src.view,
                                       matrix_view<const T>(src.view.data, 0, src.view.cols));
        py::array out = copy_to_array<T>(src.view);
        out.attr("setflags")(py::arg("write") = false);
        return out;
    }

    py::array patterns_;
    energy_params params_;
};

std::string memory_repr(const memory& m) {
    const energy_params& p = m.params();
    std::string s = "Memory(n_memories=" + std::to_string(m.size()) +
                    ", dim=" + std::to_string(m.dim()) + ", dtype=" + dtype_string(m.array()) +
                    ", kernel='" + std::string(to_string(p.kernel)) +
                    "', beta=" + float_repr(p.beta) + ", eps=" + float_repr(p.eps);
    if (p.q != energy_params{}.q) s += ", q='" + std::string(to_string(p.q)) + "'";
    if (p.kernel == kernel_kind::poly) s += ", degree=" + std::to_string(p.degree);
    return s + ")";
}

constexpr const char* memory_doc = R"doc(
A Dense Associative Memory: stored patterns xi_mu (M, d) and the energy
E(x) = -Q[ eps + sum_mu F(beta * S(x, xi_mu)) ] (see denseam.energy for kernels and Q).

Memory(patterns, *, kernel="lsr", beta, eps=..., q="auto", degree=...)  (beta is required)

The constructor validates everything once (2-D, M >= 1, finite, beta > 0, ...; ValueError
otherwise) and keeps a private, read-only, C-contiguous copy of the patterns: float32 when the
input is float32, float64 for any other input. Changing the array passed in afterwards does not
change the memory; `patterns` is a read-only view of the copy. Memories pickle (patterns and
parameters) and are safe to share between threads (they are never modified).

Queries follow the dtype rule of denseam.energy: float32 results when both the patterns and
the queries are float32, float64 otherwise.

Example
-------
>>> mem = denseam.Memory(np.array([[0.0, 0.0], [4.0, 0.0]]), kernel="lsr", beta=0.5)
>>> mem
Memory(n_memories=2, dim=2, dtype=float64, kernel='lsr', beta=0.5, eps=0.0)
>>> mem.energy([[1.0, 0.0]])  # -(1/beta) log(1 - (beta/2) * 1^2)
array([0.57536414])
>>> mem.retrieve([[0.5, 0.5]]).states
array([[0., 0.]])
)doc";

}  // namespace

void register_memory(py::module_& m) {
    const exec_options exec_defaults{};
    py::class_<memory> cls(m, "Memory", memory_doc);
    std::apply(
        [&](const auto&... kwargs) {
            cls.def(py::init([](const py::object& patterns,
                                const std::string& kernel,
                                double beta,
                                double eps,
                                const std::string& q,
                                int degree) {
                        return memory(patterns, make_params(kernel, beta, eps, q, degree));
                    }),
                    py::arg("patterns"),
                    py::kw_only(),
                    kwargs...);
        },
        energy_kwarg_args());
    cls.def_property_readonly(
           "patterns", &memory::patterns_view, "The stored patterns (M, d), a read-only view")
        .def_property_readonly("dim", &memory::dim, "Dimension d of the patterns")
        .def_property_readonly("n_memories", &memory::size, "Number M of stored patterns")
        .def_property_readonly(
            "dtype", [](const memory& self) { return self.array().dtype(); }, "float32 or float64")
        .def_property_readonly(
            "kernel",
            [](const memory& self) { return std::string(to_string(self.params().kernel)); })
        .def_property_readonly("beta", [](const memory& self) { return self.params().beta; })
        .def_property_readonly("eps", [](const memory& self) { return self.params().eps; })
        .def_property_readonly(
            "q", [](const memory& self) { return std::string(to_string(self.params().q)); })
        .def_property_readonly("degree", [](const memory& self) { return self.params().degree; })
        .def("__len__", &memory::size)
        .def("__repr__", &memory_repr);

    auto def_energy = [&](const char* name, energy_output what, const char* doc) {
        cls.def(
            name,
            [what](const memory& self, const py::object& queries, int n_threads) {
                const input_array qry = as_input(queries, "queries", "(n_queries, dim)");
                return energy_call(self.as_memories(), qry, self.params(), what, n_threads);
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
            const input_array qry = as_input(queries, "queries", "(n_queries, dim)");
            return retrieve_call(self.as_memories(), qry, self.params(), kw);
        });
    std::apply(
        [&](const auto&... kwargs) {
            cls.def("retrieve",
                    std::move(retrieve_fn),
                    "Retrieve from queries (B, d) by descent on this memory's energy; the "
                    "keywords (their defaults, and the options that are errors for a method) and "
                    "the returned RetrievalResult are those of denseam.retrieve.",
                    py::arg("queries"),
                    py::kw_only(),
                    kwargs...);
        },
        retrieve_kwarg_args());

    cls.def(py::pickle(
        [](const memory& self) {
            const energy_params& p = self.params();
            return py::make_tuple(self.array(),
                                  std::string(to_string(p.kernel)),
                                  p.beta,
                                  p.eps,
                                  std::string(to_string(p.q)),
                                  p.degree);
        },
        [](const py::tuple& t) {
            if (t.size() != 6) throw py::value_error("invalid Memory state");
            return memory(t[0],
                          make_params(t[1].cast<std::string>(),
                                      t[2].cast<double>(),
                                      t[3].cast<double>(),
                                      t[4].cast<std::string>(),
                                      t[5].cast<int>()));
        }));
}

}  // namespace denseam::python
