// SPDX-License-Identifier: MIT
// denseam.energy / grad / energy_and_grad: thin bindings over denseam::energy_and_grad.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <span>
#include <string>
#include <tuple>

#include "bindings.hpp"
#include "denseam/energy.hpp"
#include "denseam/kernels.hpp"

namespace denseam::python {

energy_params make_params(
    const std::string& kernel, double beta, double eps, const std::string& q, int degree) {
    return make_energy_params(kernel, beta, eps, q, degree);
}

std::string float_repr(double v) {
    return py::repr(py::float_(v)).cast<std::string>();
}

namespace {

template <class T>
py::object energy_typed(const input_array& memories,
                        const input_array& queries,
                        const energy_params& params,
                        energy_output what,
                        int n_threads,
                        index_kind index) {
    const matrix_arg<T> mem = as_matrix<T>(memories);
    const matrix_arg<T> qry = as_matrix<T>(queries);
    return energy_outputs<T>(
        qry.view.rows, qry.view.cols, what, [&](std::span<T> e, matrix_view<T> g) {
            call_without_gil(n_threads, [&](const exec_options& exec) {
                exec_options ex = exec;
                ex.index = index;
                energy_and_grad(mem.view, qry.view, params, e, g, {}, ex);
            });
        });
}

}  // namespace

py::object energy_call(const input_array& memories,
                       const input_array& queries,
                       const energy_params& params,
                       energy_output what,
                       int n_threads,
                       index_kind index) {
    validate(params);
    if (use_float32(memories, queries))
        return energy_typed<float>(memories, queries, params, what, n_threads, index);
    return energy_typed<double>(memories, queries, params, what, n_threads, index);
}

namespace {

constexpr const char* energy_doc = R"doc(
Energies of a batch of queries under a Dense Associative Memory.

    E(x) = -Q[ eps + sum_mu F(beta * S(x, xi_mu)) ]

With q = (beta/2) ||x - xi_mu||^2, t = sqrt(q) = ||x - xi_mu|| / R and the support radius
R = sqrt(2/beta), the kernels F are

    lse        exp(-q)                       Gaussian; log-sum-exp energy
    lsr        max(1 - q, 0)                 Epanechnikov; log-sum-ReLU energy (the default)
    triangle   max(1 - t, 0)
    tophat     1[t < 1]
    cosine     cos(pi t / 2) for t < 1
    quartic    (1 - t^2)^2 for t < 1
    triweight  (1 - t^2)^3 for t < 1
    tricube    (1 - t^3)^3 for t < 1
    poly       max(beta x.xi_mu, 0)^degree   rectified polynomial (dot-product similarity)

and Q is ``log`` (E = -(1/beta) log Z, Z = eps + sum_mu F) or ``identity`` (E = -Z);
``q="auto"`` means log for every kernel but poly, identity for poly. A memory at distance
exactly R has zero weight. LSR with eps = 0 is +inf at a query outside every support ball
(a value, not an error).

Kernel density estimates: with M memories in d dimensions,
    log p_Epanechnikov(x) = -beta E_lsr(x) - log M - log c_d,
        c_d = V_d h^d 2/(d+2),  h = sqrt(2/beta),  V_d = pi^(d/2) / Gamma(d/2 + 1)
    (sklearn KernelDensity(kernel="epanechnikov", bandwidth=sqrt(2/beta)).score_samples), and
    log p_Gaussian(x) = -beta E_lse(x) - log M - (d/2) log(2 pi / beta)
    (KernelDensity(kernel="gaussian", bandwidth=1/sqrt(beta))).

Parameters
----------
memories : array_like, shape (M, d)
    Stored patterns xi_mu, M >= 1, finite.
queries : array_like, shape (B, d)
    Query points x, finite.
kernel : str
    One of lse, lsr, triangle, tophat, cosine, quartic, triweight, tricube, poly.
beta : float
    Inverse temperature, finite and > 0. Required (no default).
eps : float
    Added once to Z (paper eq. 3), finite and >= 0.
q : str
    "auto", "log" or "identity".
degree : int
    Exponent of the poly kernel, >= 1.
n_threads : int
    OpenMP threads, 0 for the default. Results do not depend on it.
index : str
    How the memories within a compact kernel's support are found: "auto" (chosen per call
    from the shapes), "brute" (every memory, the GEMM engine), "kdtree" (low d) or "ball"
    (high d). Support sets never depend on it; energies summed through an index may differ
    from the GEMM engine's in rounding. "kdtree" and "ball" need a compact kernel
    (not lse or poly: ValueError).

Returns
-------
numpy.ndarray, shape (B,)
    float32 when memories and queries are both float32, else float64 (other dtypes and
    array-likes are converted once to float64).

Raises
------
ValueError
    Arrays not 2-D, dimensions that differ, NaN/Inf, no memories, beta <= 0, eps < 0, unknown
    kernel, q or index; the message names the shape or value at fault.
KeyboardInterrupt
    Ctrl-C during a long call (checked at tile boundaries, about every 20 ms).

Example
-------
>>> import numpy as np, denseam
>>> xi = np.array([[0.0, 0.0], [1.0, 0.0]])
>>> denseam.energy(xi, [[0.0, 0.0]], kernel="lsr", beta=1.0)  # -log(1 + 0.5)
array([-0.40546511])

The GIL is released during the computation.
)doc";

constexpr const char* grad_doc = R"doc(
Gradients dE/dx of the energy (see denseam.energy for E, the kernels and the arguments).

For Q = log:  grad E(x) = -(1/beta) grad Z / Z, and for the distance kernels
grad Z = -beta sum_mu w_mu (x - xi_mu) with w = -dF/dq; e.g. LSR gives
grad E(x) = sum_{mu in B(x)} (x - xi_mu) / Z(x), B(x) = {mu : ||x - xi_mu|| < R}, and LSE gives
grad E(x) = x - sum_mu softmax_mu(-(beta/2)||x - xi_mu||^2) xi_mu. Outside every support the
gradient is 0.

Returns
-------
numpy.ndarray, shape (B, d), dtype as for denseam.energy.

Example
-------
>>> denseam.grad([[0.0], [1.0]], [[0.25]], kernel="lse", beta=2.0)
array([[-0.12754067]])
)doc";

constexpr const char* energy_and_grad_doc = R"doc(
Energies and gradients in one pass (see denseam.energy and denseam.grad).

Returns
-------
(E, G) : tuple of numpy.ndarray with shapes (B,) and (B, d).

Example
-------
>>> E, G = denseam.energy_and_grad(np.eye(3), np.zeros((5, 3)), kernel="lsr", beta=1.5)
>>> E.shape, G.shape
((5,), (5, 3))
)doc";

}  // namespace

void register_energy(py::module_& m) {
    const exec_options exec_defaults{};
    auto def = [&](const char* name, energy_output what, const char* doc) {
        auto fn = [what](const py::object& memories,
                         const py::object& queries,
                         const std::string& kernel,
                         double beta,
                         double eps,
                         const std::string& q,
                         int degree,
                         int n_threads,
                         const std::string& index) {
            const energy_params p = make_params(kernel, beta, eps, q, degree);
            const index_kind ix = parse_index_kind(index);
            const input_array mem = as_input(memories, "memories", "(n_memories, dim)");
            const input_array qry = as_input(queries, "queries", "(n_queries, dim)");
            return energy_call(mem, qry, p, what, n_threads, ix);
        };
        std::apply(
            [&](const auto&... kwargs) {
                m.def(name,
                      fn,
                      doc,
                      py::arg("memories"),
                      py::arg("queries"),
                      py::kw_only(),
                      kwargs...,
                      py::arg("n_threads") = exec_defaults.n_threads,
                      index_kwarg_arg());
            },
            energy_kwarg_args());
    };
    def("energy", energy_output::energy, energy_doc);
    def("grad", energy_output::grad, grad_doc);
    def("energy_and_grad", energy_output::both, energy_and_grad_doc);
}

}  // namespace denseam::python
