// SPDX-License-Identifier: MIT
// denseam.retrieve and the RetrievalResult it returns: thin bindings over denseam::retrieve.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "denseam/retrieval.hpp"

namespace denseam::python {

namespace {

constexpr std::array all_statuses = {retrieval_status::converged,
                                     retrieval_status::max_steps,
                                     retrieval_status::out_of_support,
                                     retrieval_status::non_finite};

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

retrieve_options make_options(const retrieve_kwargs& kw, std::int64_t dim) {
    retrieve_options o;
    o.method = parse_method(kw.method);
    o.max_steps = kw.steps;
    o.tol = kw.tol;
    o.step_size = make_schedule(kw.lr, kw.lr_end, "lr", "lr_end");
    o.noise = make_schedule(kw.noise, kw.noise_end, "noise", "noise_end");
    if (!kw.beta_schedule.is_none())
        o.beta = make_schedule(kw.beta_schedule, std::nullopt, "beta_schedule", "");
    o.clamp = make_clamp(kw.clamp, dim);
    o.seed = kw.seed;
    o.precision = parse_precision(kw.precision);
    return o;
}

template <class T>
py::object retrieve_typed(const input_array& memories,
                          const input_array& queries,
                          const energy_params& params,
                          const retrieve_options& options,
                          int n_threads) {
    const matrix_arg<T> mem = as_matrix<T>(memories);
    const matrix_arg<T> qry = as_matrix<T>(queries);
    retrieve_result<T> r;
    call_without_gil(n_threads, [&](const exec_options& exec) {
        r = retrieve<T>(mem.view, qry.view, params, options, exec);
    });
    const auto n = static_cast<py::ssize_t>(qry.view.rows);
    const auto d = static_cast<py::ssize_t>(qry.view.cols);
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
    out.method = std::string(to_string(options.method));
    out.kernel = std::string(to_string(params.kernel));
    return py::cast(std::move(out));
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

constexpr const char* retrieve_doc = R"doc(
Retrieve memories: run each query downhill on the energy E (see denseam.energy) to a state.

method="fixed-point"
    lsr: paper Algorithm 1 with the strict rule S = {mu : ||x - xi_mu|| < R}, R = sqrt(2/beta):
    x <- mean(xi_mu for mu in S) until S repeats (distances and means in double precision). The
    result is an exact local minimum x* = mean(S) with its support set S; `steps` counts
    support-set evaluations (>= 2 for a supported start). A start outside every support is
    returned unchanged with status out_of_support.
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
    The energy, as in denseam.energy.
method : str
    "fixed-point" or "gradient".
steps : int
    Gradient steps, or the maximum number of fixed-point iterations.
lr : float or 1-D array_like
    Step size of gradient descent: a constant, the start of a cosine decay (with lr_end), or
    one value per step (the last value repeats).
lr_end : float or None
    Final step size of the cosine schedule lr_t = lr ((1 - a)(1 + cos(pi t / steps))/2 + a),
    a = lr_end / lr.
tol : float
    Convergence tolerance (0: gradient descent never stops early).
clamp : None, sequence of int, or boolean mask of length d
    Coordinates held fixed (pattern completion; gradient method only).
noise, noise_end : float or 1-D array_like, float or None
    Noise level sigma_t, scheduled like lr.
beta_schedule : None or 1-D array_like
    Per-step beta_t for gradient descent (annealing); None uses beta.
seed : int
    Seed of the noise.
precision : str
    Gradient descent: "state" evaluates the gradient in the dtype of the states; "single"
    in float32 while float64 states, the update and the stopping test stay float64 (the
    reference's float32 arithmetic; about twice as fast).
n_threads : int
    OpenMP threads, 0 for the default.

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
    Codes of denseam.RetrievalStatus: 0 converged, 1 max_steps, 2 out_of_support, 3 non_finite.
status_names : ndarray (B,) str
    The same as strings ("converged", "max-steps", "out-of-support", "non-finite").
converged : ndarray (B,) bool
    status == converged.
steps : ndarray (B,) int64
    Gradient steps or fixed-point iterations per query.
support : (offsets, indices) or None
    LSR fixed point only: the final strict support sets in CSR form, query i's set being
    indices[offsets[i]:offsets[i + 1]]; support_sets() gives them as a list of arrays.
)doc";

}  // namespace

py::object retrieve_call(const input_array& memories,
                         const input_array& queries,
                         const energy_params& params,
                         const retrieve_kwargs& kw) {
    validate(params);
    const retrieve_options options = make_options(kw, queries.cols());
    if (use_float32(memories, queries))
        return retrieve_typed<float>(memories, queries, params, options, kw.n_threads);
    return retrieve_typed<double>(memories, queries, params, options, kw.n_threads);
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

    const energy_params defaults{};
    const retrieve_options rdefaults{};
    const exec_options exec_defaults{};
    m.def(
        "retrieve",
        [](const py::object& memories,
           const py::object& queries,
           const std::string& kernel,
           double beta,
           double eps,
           const std::string& q,
           int degree,
           const std::string& method,
           std::int64_t steps,
           const py::object& lr,
           std::optional<double> lr_end,
           double tol,
           const py::object& clamp,
           const py::object& noise,
           std::optional<double> noise_end,
           const py::object& beta_schedule,
           std::uint64_t seed,
           const std::string& precision,
           int n_threads) {
            const energy_params p = make_params(kernel, beta, eps, q, degree);
            const input_array mem = as_input(memories, "memories", "(n_memories, dim)");
            const input_array qry = as_input(queries, "queries", "(n_queries, dim)");
            const retrieve_kwargs kw{.method = method,
                                     .steps = steps,
                                     .lr = lr,
                                     .lr_end = lr_end,
                                     .tol = tol,
                                     .clamp = clamp,
                                     .noise = noise,
                                     .noise_end = noise_end,
                                     .beta_schedule = beta_schedule,
                                     .seed = seed,
                                     .precision = precision,
                                     .n_threads = n_threads};
            return retrieve_call(mem, qry, p, kw);
        },
        retrieve_doc,
        py::arg("memories"),
        py::arg("queries"),
        py::kw_only(),
        py::arg("kernel") = std::string(to_string(defaults.kernel)),
        py::arg("beta") = defaults.beta,
        py::arg("eps") = defaults.eps,
        py::arg("q") = std::string(to_string(defaults.q)),
        py::arg("degree") = defaults.degree,
        py::arg("method") = std::string(to_string(rdefaults.method)),
        py::arg("steps") = rdefaults.max_steps,
        py::arg("lr") = rdefaults.step_size.start,
        py::arg("lr_end") = py::none(),
        py::arg("tol") = rdefaults.tol,
        py::arg("clamp") = py::none(),
        py::arg("noise") = rdefaults.noise.start,
        py::arg("noise_end") = py::none(),
        py::arg("beta_schedule") = py::none(),
        py::arg("seed") = rdefaults.seed,
        py::arg("precision") = std::string(to_string(rdefaults.precision)),
        py::arg("n_threads") = exec_defaults.n_threads);
}

}  // namespace denseam::python
