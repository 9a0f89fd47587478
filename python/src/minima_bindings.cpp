// SPDX-License-Identifier: MIT
// Bindings of include/denseam/minima.hpp and beta.hpp: find_minima, beta_range, choose_beta,
// emergence_window.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "denseam/beta.hpp"
#include "denseam/minima.hpp"

namespace denseam::python {

namespace {

py::object namespace_of(py::dict d) {
    return py::module_::import("types").attr("SimpleNamespace")(**d);
}

/// The patterns as a float64 matrix (exact decisions are made in double precision).
struct patterns_arg {
    input_array input;
    matrix_arg<double> matrix;
    explicit patterns_arg(const py::handle& obj)
        : input(as_input(obj, "patterns", "(n_patterns, dim)")), matrix(as_matrix<double>(input)) {}
};

py::object find_minima(const py::handle& patterns,
                       double beta,
                       double eps,
                       const std::string& strategy,
                       double novelty_threshold,
                       std::int64_t max_candidates,
                       bool basin_radius,
                       int n_threads) {
    const patterns_arg pat(patterns);
    minima_options o;
    o.strategy = parse_minima_strategy(strategy);
    o.novelty_threshold = novelty_threshold;
    o.max_candidates = max_candidates;
    o.basin_radius = basin_radius;
    minima_result r;
    call_without_gil(n_threads, [&](const exec_options& exec) {
        r = find_lsr_minima(pat.matrix.view, beta, eps, o, exec);
    });
    const auto k = static_cast<py::ssize_t>(r.minima.size());
    const auto d = static_cast<py::ssize_t>(pat.matrix.view.cols);
    py::array_t<double> pos({k, d}), energy(k), hess(k), basin(k), nearest(k);
    py::array_t<bool> stored(k), novel(k);
    std::vector<std::int64_t> offsets{0}, indices;
    for (py::ssize_t i = 0; i < k; ++i) {
        const minimum& m = r.minima[static_cast<std::size_t>(i)];
        std::copy(m.position.begin(), m.position.end(), pos.mutable_data(i, 0));
        energy.mutable_at(i) = m.energy;
        hess.mutable_at(i) = m.hessian_scale;
        basin.mutable_at(i) = m.basin_radius;
        nearest.mutable_at(i) = m.nearest_distance;
        stored.mutable_at(i) = m.stored;
        novel.mutable_at(i) = m.novel;
        indices.insert(indices.end(), m.support.begin(), m.support.end());
        offsets.push_back(static_cast<std::int64_t>(indices.size()));
    }
    py::dict out;
    out["positions"] = pos;
    out["energy"] = energy;
    out["hessian_scale"] = hess;
    out["basin_radius"] = basin;
    out["nearest_distance"] = nearest;
    out["is_stored"] = stored;
    out["is_novel"] = novel;
    out["support"] = py::make_tuple(
        py::array_t<std::int64_t>(static_cast<py::ssize_t>(offsets.size()), offsets.data()),
        py::array_t<std::int64_t>(static_cast<py::ssize_t>(indices.size()), indices.data()));
    out["stored"] = r.stored;
    out["emergent"] = r.emergent;
    out["novel"] = r.novel;
    out["total"] = r.stored + r.emergent;
    out["candidates"] = r.candidates;
    out["status"] = std::string(to_string(r.status));
    out["strategy"] = r.strategy_used;
    out["seconds"] = r.seconds;
    return namespace_of(out);
}

constexpr const char* find_minima_doc = R"doc(
Every strict local minimum of the LSR (Epanechnikov) energy, exactly.

    E(x) = -(1/beta) log(eps + sum_mu max(1 - (beta/2) ||x - xi_mu||^2, 0))

x is a minimum iff x = mean(S) for a subset S whose members are all closer than R = sqrt(2/beta)
to x and every other pattern farther (a pattern at exactly R is outside). Decided in double
precision; minima are distinct points. Same results as `denseam minima` on the command line.

Parameters: patterns (M, d) array-like; beta > 0; eps >= 0; strategy "auto", "gray" (one pass
over all 2^M subsets, M <= 62) or "clique" (cliques of the interaction graph, output-sensitive);
novelty_threshold (emergent minima at least this far from every pattern are novel);
max_candidates (0: no limit; otherwise stop with status "candidate_limit").

Returns a namespace: positions (K, d), support (offsets, indices) CSR, energy, hessian_scale
(|S|/Z: the Hessian is hessian_scale * I), basin_radius (Thm. 2 r*), nearest_distance,
is_stored, is_novel (K,), and stored, emergent, novel, total, candidates, status, strategy,
seconds.

Example:
    >>> import numpy as np, denseam
    >>> r = denseam.find_minima(np.array([[-1.0], [1.0]]), beta=0.9)
    >>> r.positions.ravel().tolist(), r.stored, r.emergent
    ([-1.0, 0.0, 1.0], 2, 1)
)doc";

}  // namespace

void register_minima(py::module_& m) {
    const minima_options defaults;
    m.def("find_minima",
          &find_minima,
          find_minima_doc,
          py::arg("patterns"),
          py::kw_only(),
          py::arg("beta"),
          py::arg("eps") = 0.0,
          py::arg("strategy") = std::string(to_string(defaults.strategy)),
          py::arg("novelty_threshold") = defaults.novelty_threshold,
          py::arg("max_candidates") = defaults.max_candidates,
          py::arg("basin_radius") = defaults.basin_radius,
          py::arg("n_threads") = 0);
    m.def(
        "beta_range",
        [](const py::handle& patterns) {
            const patterns_arg pat(patterns);
            const beta_range_result r = beta_range(pat.matrix.view);
            py::dict d;
            d["beta_min"] = r.beta_min;
            d["beta_max"] = r.beta_max;
            d["r_min"] = r.r_min;
            d["radius_min"] = r.radius_min;
            d["radius_max"] = r.radius_max;
            return namespace_of(d);
        },
        "beta range of a pattern set (paper.md 2.2): beta_min = 2/d (R = sqrt(d), the unit cube's "
        "diagonal) to beta_max = 8/r_min^2 (R = r_min/2: all supports disjoint), r_min the "
        "smallest "
        "non-zero pairwise distance.",
        py::arg("patterns"));
    m.def(
        "emergence_window",
        [](const py::handle& patterns) {
            const patterns_arg pat(patterns);
            const emergence_window_result r = emergence_window(pat.matrix.view);
            py::dict d;
            d["beta_lo"] = r.beta_lo;
            d["beta_hi"] = r.beta_hi;
            d["r"] = r.r;
            d["pair"] = py::make_tuple(r.first, r.second);
            return namespace_of(d);
        },
        "The guaranteed global-emergence window (8/(3 r^2), 8/r^2) of paper.md 1.5, r the closest "
        "pair distance: inside it every pattern is a minimum and the closest pair's midpoint is an "
        "emergent one.",
        py::arg("patterns"));
    m.def(
        "choose_beta",
        [](const py::handle& patterns, double target_k) {
            const patterns_arg pat(patterns);
            const choose_beta_result r = choose_beta(pat.matrix.view, target_k);
            py::dict d;
            d["beta"] = r.beta;
            d["beta_critical"] = r.beta_critical;
            d["critical_distance"] = r.critical_distance;
            d["mean_neighbours"] = r.mean_neighbours;
            return namespace_of(d);
        },
        "beta by target neighbour count (paper Algorithm 2): the mean over patterns of #{nu : "
        "||xi_mu - xi_nu|| < 2R}, each pattern counting itself, reaches target_k. Returns beta, "
        "beta_critical (the jump point), critical_distance and mean_neighbours.",
        py::arg("patterns"),
        py::arg("target_k"));
}

}  // namespace denseam::python
