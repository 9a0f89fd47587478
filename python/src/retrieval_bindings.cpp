// SPDX-License-Identifier: MIT
// denseam.retrieve and the RetrievalResult it returns: thin bindings over denseam::retrieve.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "denseam/retrieval.hpp"

namespace denseam::python {

namespace {

constexpr std::array all_statuses = {retrieval_status::converged,
                                     retrieval_status::max_steps,
                                     retrieval_status::out_of_support,
                                     retrieval_status::non_finite,
                                     retrieval_status::not_minimum};
// The position of a status in all_statuses is its code (status_counts and
// retrieval_status_names rely on it).
static_assert([] {
    for (std::size_t k = 0; k < all_statuses.size(); ++k)
        if (static_cast<std::size_t>(all_statuses[k]) != k) return false;
    return true;
}());

/// What retrieve() returns: arrays only, so it pickles and compares easily.
struct retrieval_result {
    py::array states;                         ///< (B, d), dtype of the computation
    py::array energy;                         ///< (B,)
    py::array status;                         ///< (B,) uint8 codes of denseam::retrieval_status
    py::array steps;                          ///< (B,) int64
    py::object support_offsets = py::none();  ///< (B + 1,) int64, LSR fixed point only
    py::object support_indices = py::none();  ///< int64
    std::string method;
    std::string kernel;

    std::int64_t size() const { return status.shape(0); }
    py::object support() const {
        if (support_offsets.is_none()) return py::none();
        return py::make_tuple(support_offsets, support_indices);
    }
};

/// A schedule from a number (constant, or cosine decay to `end`) or a 1-D sequence of per-step
/// values. `name` and `end_name` are the Python keywords, for messages.
schedule make_schedule(const py::object& value,
                       std::optional<double> end,
                       const char* name,
                       const char* end_name) {
    py::array a = py::module_::import("numpy").attr("asarray")(value, "float64");
    if (a.ndim() == 0) {
        const double v = *static_cast<const double*>(a.data());
        if (!end) return schedule::constant(v);
        return schedule::cosine(v, *end);
    }
    if (a.ndim() != 1)
        throw py::value_error(std::string(name) +
                              " must be a number or a 1-D sequence of per-step values, got an "
                              "array of shape " +
                              shape_string(a));
    if (end)
        throw py::value_error(std::string(end_name) + " applies to a number " + name +
                              " (cosine schedule), not to per-step values");
    auto c = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
    const double* p = c.data();
    return schedule::from_values(std::vector<double>(p, p + c.size()));
}

/// Clamped coordinates from None, a sequence of indices or a boolean mask of length dim.
std::vector<std::int64_t> make_clamp(const py::object& clamp, std::int64_t dim) {
    std::vector<std::int64_t> out;
    if (clamp.is_none()) return out;
    py::array a = py::module_::import("numpy").attr("asarray")(clamp);
    if (a.size() == 0) return out;
    if (a.ndim() != 1)
        throw py::value_error(
            "clamp must be a 1-D sequence of coordinate indices or a boolean "
            "mask, got an array of shape " +
            shape_string(a));
    const char kind = a.dtype().kind();
    if (kind == 'b') {
        if (a.shape(0) != dim)
            throw py::value_error("a boolean clamp mask must have one entry per coordinate (" +
                                  std::to_string(dim) + "), got shape " + shape_string(a));
        auto m = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(a);
        for (py::ssize_t k = 0; k < m.size(); ++k)
            if (m.data()[k]) out.push_back(k);
        return out;
    }
    if (kind != 'i' && kind != 'u')
        throw py::value_error("clamp must hold integer coordinate indices or booleans, got dtype " +
                              dtype_string(a));
    auto idx = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    out.assign(idx.data(), idx.data() + idx.size());
    return out;
}

bool given(const py::object& value) {
    return !value.is_none();
}
template <class T>
bool given(const std::optional<T>& value) {
    return value.has_value();
}

/// noise given as a number other than 0 (per-step values count as noise).
bool has_noise(const py::object& noise) {
    if (noise.is_none()) return false;
    py::array a = py::module_::import("numpy").attr("asarray")(noise, "float64");
    return a.ndim() != 0 || *static_cast<const double*>(a.data()) != 0.0;
}

/// An option given for a method (or kernel) on which it has no effect is an error naming it.
void check_options_apply(const retrieve_kwargs& kw,
                         retrieval_method method,
                         const energy_params& params) {
    if (method == retrieval_method::fixed_point) {
        const std::pair<const char*, bool> gradient_only[] = {
            {"lr", given(kw.lr)},
            {"lr_end", given(kw.lr_end)},
            {"clamp", given(kw.clamp)},
            {"noise", given(kw.noise)},
            {"noise_end", given(kw.noise_end)},
            {"beta_schedule", given(kw.beta_schedule)},
            {"seed", given(kw.seed)},
            {"precision", given(kw.precision)},
        };
        for (const auto& [name, is_given] : gradient_only)
            if (is_given)
                throw py::value_error(std::string(name) +
                                      " has no effect with method='fixed-point' (it is for "
                                      "method='gradient')");
        if (params.kernel == kernel_kind::lsr && given(kw.tol))
            throw py::value_error(
                "tol has no effect with method='fixed-point' and kernel='lsr' (the iteration "
                "stops when the support set repeats; tol is for method='gradient' and the "
                "mean-shift of the other kernels)");
        return;
    }
    const bool noisy = has_noise(kw.noise);
    if (given(kw.noise_end) && !noisy)
        throw py::value_error("noise_end needs noise (a cosine schedule from 0 stays 0)");
    if (given(kw.seed) && !noisy) throw py::value_error("seed has no effect without noise");
}

}  // namespace

/// retrieve_options{} with the options given in `kw`.
retrieve_options make_options(const retrieve_kwargs& kw,
                              const energy_params& params,
                              std::int64_t dim) {
    retrieve_options o;
    o.method = parse_method(kw.method);
    check_options_apply(kw, o.method, params);
    o.max_steps = kw.steps;
    if (kw.tol) o.tol = *kw.tol;
    if (given(kw.lr) || kw.lr_end)
        o.step_size = make_schedule(
            given(kw.lr) ? kw.lr : py::float_(o.step_size.start), kw.lr_end, "lr", "lr_end");
    if (given(kw.noise)) o.noise = make_schedule(kw.noise, kw.noise_end, "noise", "noise_end");
    if (given(kw.beta_schedule))
        o.beta = make_schedule(kw.beta_schedule, std::nullopt, "beta_schedule", "");
    o.clamp = make_clamp(kw.clamp, dim);
    if (kw.seed) o.seed = *kw.seed;
    if (kw.precision) o.precision = parse_precision(*kw.precision);
    return o;
}

namespace {

template <class T>
py::object to_result_object(retrieve_result<T>&& r,
                            std::int64_t dim,
                            retrieval_method method,
                            kernel_kind kernel) {
    const auto n = static_cast<py::ssize_t>(r.status.size());
    const auto d = static_cast<py::ssize_t>(dim);
    retrieval_result out;
    out.states = vector_to_array(std::move(r.states), {n, d});
    out.energy = vector_to_array(std::move(r.energy), {n});
    std::vector<std::uint8_t> codes(r.status.size());
    for (std::size_t i = 0; i < codes.size(); ++i)
        codes[i] = static_cast<std::uint8_t>(r.status[i]);
    out.status = vector_to_array(std::move(codes), {n});
    out.steps = vector_to_array(std::move(r.steps), {n});
    if (!r.support.offsets.empty()) {
        const auto n_idx = static_cast<py::ssize_t>(r.support.indices.size());
        out.support_offsets = vector_to_array(std::move(r.support.offsets), {n + 1});
        out.support_indices = vector_to_array(std::move(r.support.indices), {n_idx});
    }
    out.method = std::string(to_string(method));
    out.kernel = std::string(to_string(kernel));
    return py::cast(std::move(out));
}

template <class T>
py::object retrieve_typed(const input_array& memories,
                          const input_array& queries,
                          const energy_params& params,
                          const retrieve_options& options,
                          int n_threads,
                          index_kind index) {
    const matrix_arg<T> mem = as_matrix<T>(memories);
    const matrix_arg<T> qry = as_matrix<T>(queries);
    retrieve_result<T> r;
    call_without_gil(n_threads, [&](const exec_options& exec) {
        exec_options ex = exec;
        ex.index = index;
        r = retrieve<T>(mem.view, qry.view, params, options, ex);
    });
    return to_result_object(std::move(r), qry.view.cols, options.method, params.kernel);
}

/// Number of queries per status, in code order (every status present, zeros included).
std::vector<std::pair<std::string, py::ssize_t>> count_statuses(const retrieval_result& r) {
    std::vector<py::ssize_t> n(all_statuses.size(), 0);
    auto codes = py::array_t<std::uint8_t>::ensure(r.status);
    for (py::ssize_t i = 0; i < codes.size(); ++i)
        if (codes.data()[i] < n.size()) ++n[codes.data()[i]];
    std::vector<std::pair<std::string, py::ssize_t>> out;
    for (std::size_t k = 0; k < all_statuses.size(); ++k)
        out.emplace_back(std::string(to_string(all_statuses[k])), n[k]);
    return out;
}

py::dict status_counts(const retrieval_result& r) {
    py::dict d;
    for (const auto& [name, count] : count_statuses(r)) d[py::str(name)] = count;
    return d;
}

std::string result_repr(const retrieval_result& r) {
    std::string s = "RetrievalResult(n_queries=" + std::to_string(r.size()) +
                    ", dim=" + std::to_string(r.states.shape(1)) +
                    ", dtype=" + dtype_string(r.states) + ", method='" + r.method + "', kernel='" +
                    r.kernel + "', status={";
    bool first = true;
    for (const auto& [name, count] : count_statuses(r)) {
        if (count == 0) continue;
        s += (first ? "'" : ", '") + name + "': " + std::to_string(count);
        first = false;
    }
    s += "}";
    auto steps = py::array_t<std::int64_t>::ensure(r.steps);
    if (steps.size() > 0) {
        std::int64_t mx = 0;
        for (py::ssize_t i = 0; i < steps.size(); ++i) mx = std::max(mx, steps.data()[i]);
        s += ", max_steps_taken=" + std::to_string(mx);
    }
    return s + ")";
}

constexpr const char* retrieve_doc_template = R"doc(
Retrieve memories: run each query downhill on the energy E (see denseam.energy) to a state.

method="fixed-point"
    lsr: paper Algorithm 1 with the strict rule S = {mu : ||x - xi_mu|| < R}, R = sqrt(2/beta):
    x <- mean(xi_mu for mu in S) until S repeats (distances and means in double precision). A
    converged result is an exact strict local minimum x* = mean(S) with its support set S;
    status not_minimum when a memory lies exactly on the support boundary of the final x (at
    distance R: outside S, yet the energy decreases towards it, so x is no minimum). `steps`
    counts support-set evaluations (>= 2 for a supported start). A start outside every support
    is returned unchanged with status out_of_support.
    lse and the other smooth compact kernels: mean-shift x <- sum_mu w_mu xi_mu / sum_mu w_mu,
    w = -dF/dq (softmax weights for lse), until max_i |dx_i| < tol. poly and tophat have none.
method="gradient"
    x <- x - lr_t (grad E(x; beta_t) + noise_t n), n ~ N(0, I) seeded by (seed, query, step),
    clamped coordinates fixed, for `steps` steps; a query stops once max_i |dE/dx_i| < tol.

Parameters
----------
memories : array_like, shape (M, d)
queries : array_like, shape (B, d)
    Start states.
kernel, beta, eps, q, degree :
    The energy, as in denseam.energy; beta is required.
method : str
    "fixed-point" or "gradient".
steps : int
    Gradient steps, or the maximum number of fixed-point iterations.

The options below default to None: not given, the library's value (shown) applies. Given with a
method on which it has no effect, an option is a ValueError naming it: lr, lr_end, clamp, noise,
noise_end, beta_schedule, seed and precision are for method="gradient" only; tol for gradient
descent and the mean-shift (not the lsr fixed point, which stops when S repeats); noise_end and
seed need noise.

lr : float or 1-D array_like or None (default {lr})
    Step size of gradient descent: a constant, the start of a cosine decay (with lr_end), or
    one value per step (the last value repeats).
lr_end : float or None
    Final step size of the cosine schedule lr_t = lr ((1 - a)(1 + cos(pi t / steps))/2 + a),
    a = lr_end / lr.
tol : float or None (default {tol})
    Convergence tolerance (0: gradient descent never stops early).
clamp : None, sequence of int, or boolean mask of length d
    Coordinates held fixed (pattern completion).
noise : float or 1-D array_like or None (default {noise}: no noise)
    Noise level sigma_t, scheduled like lr.
noise_end : float or None
    Final noise level of a cosine schedule from noise.
beta_schedule : None or 1-D array_like
    Per-step beta_t for gradient descent (annealing); None uses beta.
seed : int or None (default {seed})
    Seed of the noise.
precision : str or None (default "{precision}")
    Gradient descent: "state" evaluates the gradient in the dtype of the states; "single"
    in float32 while float64 states, the update and the stopping test stay float64 (the
    reference's float32 arithmetic; about twice as fast).
n_threads : int
    OpenMP threads, 0 for the default.
index : str
    How the memories within a compact kernel's support are found: "auto", "brute",
    "kdtree" or "ball" (see denseam.energy). Support sets and fixed points never depend on
    it; energies summed through an index may differ in rounding.

Returns
-------
RetrievalResult
    states (B, d), energy (B,), status (B,) uint8 codes (see denseam.RetrievalStatus),
    steps (B,) int64, support (offsets, indices) for the LSR fixed point else None.
    float32 when memories and queries are both float32, else float64.

Example
-------
>>> xi = np.array([[0.0, 0.0], [4.0, 0.0]])
>>> res = denseam.retrieve(xi, [[0.3, -0.2], [3.0, 1.0]], kernel="lsr", beta=0.5)
>>> res.states
array([[0., 0.],
       [4., 0.]])
>>> res.support_sets()
[array([0]), array([1])]
)doc";

constexpr const char* result_doc = R"doc(
The outcome of denseam.retrieve / Memory.retrieve for a batch of B queries.

Attributes
----------
states : ndarray (B, d)
    Final states.
energy : ndarray (B,)
    Energy of each final state (+inf for an unsupported LSR state with eps = 0).
status : ndarray (B,) uint8
    Codes of denseam.RetrievalStatus: 0 converged, 1 max_steps, 2 out_of_support, 3 non_finite,
    4 not_minimum (LSR fixed point stopped at x = mean(S) with a memory exactly on its support
    boundary: not a local minimum, the energy decreases towards that memory).
status_names : ndarray (B,) str
    The same as strings ("converged", "max-steps", "out-of-support", "non-finite",
    "not-minimum").
converged : ndarray (B,) bool
    status == converged.
steps : ndarray (B,) int64
    Gradient steps or fixed-point iterations per query.
support : (offsets, indices) or None
    LSR fixed point only: the final strict support sets in CSR form, query i's set being
    indices[offsets[i]:offsets[i + 1]]; support_sets() gives them as a list of arrays.
)doc";

/// retrieve_doc_template with the library's defaults of the options that are None in the
/// signature filled in.
std::string retrieve_doc() {
    const retrieve_options d{};
    std::string doc = retrieve_doc_template;
    auto fill = [&doc](const std::string& key, const std::string& value) {
        for (auto at = doc.find(key); at != std::string::npos;
             at = doc.find(key, at + value.size()))
            doc.replace(at, key.size(), value);
    };
    fill("{lr}", float_repr(d.step_size.start));
    fill("{tol}", float_repr(d.tol));
    fill("{noise}", float_repr(d.noise.start));
    fill("{seed}", std::to_string(d.seed));
    fill("{precision}", std::string(to_string(d.precision)));
    return doc;
}

}  // namespace

py::object retrieval_result_object(retrieve_result<float>&& r,
                                   std::int64_t dim,
                                   retrieval_method method,
                                   kernel_kind kernel) {
    return to_result_object(std::move(r), dim, method, kernel);
}

py::object retrieval_result_object(retrieve_result<double>&& r,
                                   std::int64_t dim,
                                   retrieval_method method,
                                   kernel_kind kernel) {
    return to_result_object(std::move(r), dim, method, kernel);
}

py::object retrieve_call(const input_array& memories,
                         const input_array& queries,
                         const energy_params& params,
                         const retrieve_kwargs& kw,
                         index_kind index) {
    validate(params);
    const retrieve_options options = make_options(kw, params, queries.cols());
    if (use_float32(memories, queries))
        return retrieve_typed<float>(memories, queries, params, options, kw.n_threads, index);
    return retrieve_typed<double>(memories, queries, params, options, kw.n_threads, index);
}

void register_retrieval(py::module_& m) {
    m.def(
        "retrieval_status_names",
        []() {
            std::vector<std::string> names;
            for (auto s : all_statuses) names.emplace_back(to_string(s));
            return names;
        },
        "Names of the retrieval status codes 0, 1, 2, ... (as used by RetrievalResult.status).");

    py::class_<retrieval_result>(m, "RetrievalResult", result_doc)
        .def_readonly("states", &retrieval_result::states)
        .def_readonly("energy", &retrieval_result::energy)
        .def_readonly("status", &retrieval_result::status)
        .def_readonly("steps", &retrieval_result::steps)
        .def_readonly("method", &retrieval_result::method)
        .def_readonly("kernel", &retrieval_result::kernel)
        .def_property_readonly("support",
                               &retrieval_result::support,
                               "(offsets, indices) CSR support sets (LSR fixed point) or None")
        .def_readonly("support_offsets", &retrieval_result::support_offsets)
        .def_readonly("support_indices", &retrieval_result::support_indices)
        .def_property_readonly(
            "status_names",
            [](const retrieval_result& r) {
                std::vector<std::string> names;
                auto codes = py::array_t<std::uint8_t>::ensure(r.status);
                for (py::ssize_t i = 0; i < codes.size(); ++i)
                    names.emplace_back(to_string(static_cast<retrieval_status>(codes.data()[i])));
                return py::module_::import("numpy").attr("array")(names, "U");
            },
            "Per-query status as strings")
        .def_property_readonly(
            "converged",
            [](const retrieval_result& r) {
                auto codes = py::array_t<std::uint8_t>::ensure(r.status);
                py::array_t<bool> out(codes.size());
                for (py::ssize_t i = 0; i < codes.size(); ++i)
                    out.mutable_data()[i] =
                        codes.data()[i] == static_cast<std::uint8_t>(retrieval_status::converged);
                return out;
            },
            "Boolean mask of the queries whose status is converged")
        .def(
            "support_sets",
            [](const retrieval_result& r) {
                py::list out;
                if (r.support_offsets.is_none()) return out;
                auto off = py::array_t<std::int64_t>::ensure(r.support_offsets);
                for (py::ssize_t i = 0; i + 1 < off.size(); ++i)
                    out.append(r.support_indices[py::slice(off.data()[i], off.data()[i + 1], 1)]);
                return out;
            },
            "LSR fixed point: the support set of each query as a list of int64 index arrays "
            "(views into support_indices); an empty list for other methods.")
        .def("status_counts",
             &status_counts,
             "Number of queries per status name, e.g. {'converged': 9, 'max-steps': 1, ...}")
        .def("__len__", &retrieval_result::size)
        .def("__repr__", &result_repr)
        .def(py::pickle(
            [](const retrieval_result& r) {
                return py::make_tuple(r.states,
                                      r.energy,
                                      r.status,
                                      r.steps,
                                      r.support_offsets,
                                      r.support_indices,
                                      r.method,
                                      r.kernel);
            },
            [](const py::tuple& t) {
                if (t.size() != 8) throw py::value_error("invalid RetrievalResult state");
                retrieval_result r;
                r.states = t[0].cast<py::array>();
                r.energy = t[1].cast<py::array>();
                r.status = t[2].cast<py::array>();
                r.steps = t[3].cast<py::array>();
                r.support_offsets = t[4];
                r.support_indices = t[5];
                r.method = t[6].cast<std::string>();
                r.kernel = t[7].cast<std::string>();
                return r;
            }));

    auto retrieve_fn = with_retrieve_kwargs_and_index<const py::object&,
                                                      const py::object&,
                                                      const std::string&,
                                                      double,
                                                      double,
                                                      const std::string&,
                                                      int>([](const py::object& memories,
                                                              const py::object& queries,
                                                              const std::string& kernel,
                                                              double beta,
                                                              double eps,
                                                              const std::string& q,
                                                              int degree,
                                                              const retrieve_kwargs& kw,
                                                              const std::string& index) {
        const energy_params p = make_params(kernel, beta, eps, q, degree);
        const index_kind ix = parse_index_kind(index);
        const input_array mem = as_input(memories, "memories", "(n_memories, dim)");
        const input_array qry = as_input(queries, "queries", "(n_queries, dim)");
        return retrieve_call(mem, qry, p, kw, ix);
    });
    const std::string doc = retrieve_doc();
    std::apply(
        [&](const auto&... kwargs) {
            m.def("retrieve",
                  std::move(retrieve_fn),
                  doc.c_str(),
                  py::arg("memories"),
                  py::arg("queries"),
                  py::kw_only(),
                  kwargs...);
        },
        std::tuple_cat(
            energy_kwarg_args(), retrieve_kwarg_args(), std::make_tuple(index_kwarg_arg())));
}

}  // namespace denseam::python
