// SPDX-License-Identifier: MIT
// The pieces of the `denseam._denseam` extension: one registration function per capability
// (called from module.cpp) and the shared calls that the Memory class reuses.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>

#include "denseam/exec.hpp"
#include "denseam/index.hpp"
#include "denseam/kernels.hpp"
#include "denseam/retrieval.hpp"
#include "numpy_views.hpp"

namespace denseam::python {

namespace py = pybind11;

void register_energy(py::module_& m);     // energy_bindings.cpp
void register_retrieval(py::module_& m);  // retrieval_bindings.cpp
void register_memory(py::module_& m);     // memory_bindings.cpp
void register_minima(py::module_& m);     // minima_bindings.cpp
void register_gmm(py::module_& m);        // gmm_bindings.cpp
void register_images(py::module_& m);     // image_bindings.cpp
void register_vae(py::module_& m);        // vae_bindings.cpp
void register_features(py::module_& m);   // features_bindings.cpp
void register_clam(py::module_& m);       // clam_bindings.cpp
void register_index(py::module_& m);      // index_bindings.cpp

/// energy_params from the Python keywords; parses the names and validates (ValueError).
energy_params make_params(
    const std::string& kernel, double beta, double eps, const std::string& q, int degree);

/// Python spelling of a double, e.g. 2.5, 1e-08 (repr of a float).
std::string float_repr(double v);

/// What an energy call returns.
enum class energy_output { energy, grad, both };

/// The arrays an energy call returns: E (n,) and, when `what` asks for it, G (n, d) in T, filled
/// by compute(e, g) (g is an empty view when only E is wanted); returns E, G or (E, G). Shared by
/// the explicit memories (energy_call) and DistributedMemory.
template <class T, class Compute>
py::object energy_outputs(std::int64_t n, std::int64_t d, energy_output what, Compute&& compute) {
    const bool want_grad = what != energy_output::energy;
    const auto pn = static_cast<py::ssize_t>(n), pd = static_cast<py::ssize_t>(d);
    py::array_t<T> e(pn);
    py::array_t<T> g = want_grad ? py::array_t<T>({pn, pd}) : py::array_t<T>(0);
    compute(std::span<T>(e.mutable_data(), static_cast<std::size_t>(n)),
            want_grad ? make_matrix_view(g.mutable_data(), n, d) : matrix_view<T>{});
    switch (what) {
        case energy_output::energy:
            return e;
        case energy_output::grad:
            return g;
        case energy_output::both:
            break;
    }
    return py::make_tuple(e, g);
}

/// The energy call of the free functions: picks float32 or float64 from the inputs' dtypes,
/// releases the GIL and honours Ctrl-C; `index` is exec_options::index. Returns E (B,), G (B, d)
/// or (E, G).
py::object energy_call(const input_array& memories,
                       const input_array& queries,
                       const energy_params& params,
                       energy_output what,
                       int n_threads,
                       index_kind index = index_kind::automatic);

/// The `index` keyword (exec_options::index) of denseam.energy/grad/energy_and_grad and
/// denseam.retrieve, after n_threads; the C++ parameter that receives it is a const std::string&.
inline auto index_kwarg_arg() {
    return py::arg("index") = std::string(to_string(exec_options{}.index));
}

/// The energy keywords of energy/grad/energy_and_grad, retrieve and Memory, after `*`:
/// kernel, beta (required: no silent default), eps, q, degree; the C++ parameters that receive
/// them are (const std::string&, double, double, const std::string&, int).
inline auto energy_kwarg_args() {
    const energy_params d{};
    return std::make_tuple(py::arg("kernel") = std::string(to_string(d.kernel)),
                           py::arg("beta"),
                           py::arg("eps") = d.eps,
                           py::arg("q") = std::string(to_string(d.q)),
                           py::arg("degree") = d.degree);
}

/// The keyword arguments of retrieve() that are not energy parameters, in the order of their
/// Python signature (retrieve_kwarg_args). An empty optional or None means "not given": the
/// library default of retrieve_options applies, and an option that does nothing for the chosen
/// method is an error naming it (retrieve_call).
struct retrieve_kwargs {
    std::string method;
    std::int64_t steps = 0;
    py::object lr;
    std::optional<double> lr_end;
    std::optional<double> tol;
    py::object clamp;
    py::object noise;
    std::optional<double> noise_end;
    py::object beta_schedule;
    std::optional<std::uint64_t> seed;
    std::optional<std::string> precision;
    int n_threads = 0;

    /// The members' types in order: the C++ parameters bound to retrieve_kwarg_args().
    using fields = std::tuple<std::string,
                              std::int64_t,
                              py::object,
                              std::optional<double>,
                              std::optional<double>,
                              py::object,
                              py::object,
                              std::optional<double>,
                              py::object,
                              std::optional<std::uint64_t>,
                              std::optional<std::string>,
                              int>;
};

/// The Python keywords of retrieve_kwargs, in member order, with their defaults: the single
/// list behind denseam.retrieve and Memory.retrieve. None where "not given" matters; the
/// effective defaults are those of retrieve_options{} (the docstring states them).
inline auto retrieve_kwarg_args() {
    const retrieve_options d{};
    const exec_options e{};
    return std::make_tuple(py::arg("method") = std::string(to_string(d.method)),
                           py::arg("steps") = d.max_steps,
                           py::arg("lr") = py::none(),
                           py::arg("lr_end") = py::none(),
                           py::arg("tol") = py::none(),
                           py::arg("clamp") = py::none(),
                           py::arg("noise") = py::none(),
                           py::arg("noise_end") = py::none(),
                           py::arg("beta_schedule") = py::none(),
                           py::arg("seed") = py::none(),
                           py::arg("precision") = py::none(),
                           py::arg("n_threads") = e.n_threads);
}

static_assert(std::tuple_size_v<retrieve_kwargs::fields> ==
                  std::tuple_size_v<decltype(retrieve_kwarg_args())>,
              "one Python keyword per retrieve_kwargs member");

/// The function pybind11 binds for a retrieve-like call: parameters (Pre..., the fields of
/// retrieve_kwargs) -> f(pre..., retrieve_kwargs{fields...}). Bind it with the arguments of
/// Pre followed by retrieve_kwarg_args().
template <class... Pre, class F>
auto with_retrieve_kwargs(F f) {
    return [&f]<class... Field>(std::tuple<Field...>*) {
        return [f = std::move(f)](Pre... pre, Field... fields) -> py::object {
            return f(std::forward<Pre>(pre)..., retrieve_kwargs{std::move(fields)...});
        };
    }(static_cast<retrieve_kwargs::fields*>(nullptr));
}

/// The function pybind11 binds for denseam.retrieve: parameters (Pre..., the fields of
/// retrieve_kwargs, index) -> f(pre..., retrieve_kwargs{fields...}, index). Bind it with the
/// arguments of Pre followed by retrieve_kwarg_args() and index_kwarg_arg().
template <class... Pre, class F>
auto with_retrieve_kwargs_and_index(F f) {
    return [&f]<class... Field>(std::tuple<Field...>*) {
        return [f = std::move(f)](
                   Pre... pre, Field... fields, const std::string& index) -> py::object {
            return f(std::forward<Pre>(pre)..., retrieve_kwargs{std::move(fields)...}, index);
        };
    }(static_cast<retrieve_kwargs::fields*>(nullptr));
}

/// retrieve_options{} with the options given in `kw` for an energy `params` and dimension `dim`
/// (ValueError for an option that does nothing with the chosen method, bad schedules/clamps).
retrieve_options make_options(const retrieve_kwargs& kw,
                              const energy_params& params,
                              std::int64_t dim);

/// A denseam.RetrievalResult holding `r` (states of dimension dim).
py::object retrieval_result_object(retrieve_result<float>&& r,
                                   std::int64_t dim,
                                   retrieval_method method,
                                   kernel_kind kernel);
py::object retrieval_result_object(retrieve_result<double>&& r,
                                   std::int64_t dim,
                                   retrieval_method method,
                                   kernel_kind kernel);

/// The retrieval of denseam.retrieve (`index`: exec_options::index); returns a RetrievalResult.
py::object retrieve_call(const input_array& memories,
                         const input_array& queries,
                         const energy_params& params,
                         const retrieve_kwargs& kw,
                         index_kind index = index_kind::automatic);

}  // namespace denseam::python
