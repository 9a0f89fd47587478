// SPDX-License-Identifier: MIT
// Bindings of include/denseam/clam.hpp: the private functions _clam_fit, _clam_assign,
// _clam_loss and _clam_defaults behind the estimator denseam.ClAM (python/denseam/cluster.py),
// which does the scikit-learn-style validation; these calls validate again (ValueError).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "denseam/clam.hpp"
#include "denseam/error.hpp"

namespace denseam::python {

namespace {

clam_dynamics make_dynamics(
    const std::string& kernel, double beta, std::int64_t steps, double alpha, double eps) {
    clam_dynamics d;
    d.kernel = parse_kernel(kernel);
    d.beta = beta;
    d.steps = steps;
    d.alpha = alpha;
    d.eps = eps;
    return d;
}

using f64_array = py::array_t<double, py::array::c_style | py::array::forcecast>;

/// A C-contiguous float64 copy (or view) of a 1-D array-like; ValueError names it.
f64_array vector_arg(const py::handle& obj, const std::string& name) {
    const input_array in{py::module_::import("numpy").attr("asarray")(obj), name};
    auto a = f64_array::ensure(in.array);
    if (!a || a.ndim() != 1)
        throw invalid_argument(name + " must be a 1-D array, got an array of shape " +
                               shape_string(in.array));
    return a;
}

}  // namespace

void register_clam(py::module_& m) {
    const clam_options od{};
    const clam_dynamics dd{};

    m.def(
        "_clam_defaults",
        [] {
            const clam_options o{};
            py::dict d;
            d["n_clusters"] = o.n_clusters;
            d["kernel"] = std::string(to_string(o.dynamics.kernel));
            d["steps"] = o.dynamics.steps;
            d["alpha"] = o.dynamics.alpha;
            d["eps"] = o.dynamics.eps;
            d["mask_prob"] = o.mask_prob;
            d["lr"] = o.learning_rate;
            d["epochs"] = o.epochs;
            d["batch_size"] = o.batch_size;
            d["tol"] = o.tol;
            d["patience"] = o.patience;
            return d;
        },
        "The defaults of the C++ clam_options (the estimator denseam.ClAM takes its own from "
        "here).");

    m.def(
        "_clam_fit",
        [](const py::handle& x,
           std::int64_t n_clusters,
           const std::string& kernel,
           double beta,
           std::int64_t steps,
           double alpha,
           double eps,
           double mask_prob,
           double lr,
           std::int64_t epochs,
           std::int64_t batch_size,
           std::uint64_t seed,
           double tol,
           std::int64_t patience,
           const py::object& progress,
           int n_threads) {
            const input_array in = as_input(x, "X", "(n_samples, n_features)");
            const matrix_arg<double> xm = as_matrix<double>(in);
            clam_options o;
            o.n_clusters = n_clusters;
            o.dynamics = make_dynamics(kernel, beta, steps, alpha, eps);
            o.mask_prob = mask_prob;
            o.learning_rate = lr;
            o.epochs = epochs;
            o.batch_size = batch_size;
            o.seed = seed;
            o.tol = tol;
            o.patience = patience;
            if (!progress.is_none()) {
                // Called from the fit loop (outside any parallel region) with the GIL released;
                // a Python exception raised by the callback propagates out of clam_fit.
                o.progress = [&progress](std::int64_t epoch, double loss) {
                    py::gil_scoped_acquire acquire;
                    progress(epoch, loss);
                };
            }
            clam_result r;
            call_without_gil(n_threads,
                             [&](const exec_options& exec) { r = clam_fit(xm.view, o, exec); });
            const auto k = static_cast<py::ssize_t>(n_clusters);
            const auto d = static_cast<py::ssize_t>(xm.view.cols);
            const auto n = static_cast<py::ssize_t>(r.labels.size());
            const auto n_hist = static_cast<py::ssize_t>(r.loss_history.size());
            py::dict out;
            out["prototypes"] = vector_to_array(std::move(r.prototypes), {k, d});
            out["labels"] = vector_to_array(std::move(r.labels), {n});
            out["loss_history"] = vector_to_array(std::move(r.loss_history), {n_hist});
            out["n_epochs"] = r.n_epochs;
            out["best_loss"] = r.best_loss;
            out["beta"] = r.beta;
            out["fill"] = vector_to_array(std::move(r.fill), {d});
            return out;
        },
        R"doc(_clam_fit(x, *, n_clusters, kernel, beta, steps, alpha, eps, mask_prob, lr, epochs, batch_size, seed, tol, patience, progress=None, n_threads=0) -> dict

Private: clam_fit on x (n, d) (converted to float64). beta = 0 chooses beta from the data.
progress(epoch, loss) is called after each epoch. Returns prototypes (k, d), labels (n,) int64,
loss_history (n_epochs,), n_epochs, best_loss, beta (the beta used), fill (d,).)doc",
        py::arg("x"),
        py::kw_only(),
        py::arg("n_clusters") = od.n_clusters,
        py::arg("kernel") = std::string(to_string(od.dynamics.kernel)),
        py::arg("beta") = 0.0,
        py::arg("steps") = od.dynamics.steps,
        py::arg("alpha") = od.dynamics.alpha,
        py::arg("eps") = 0.0,
        py::arg("mask_prob") = od.mask_prob,
        py::arg("lr") = od.learning_rate,
        py::arg("epochs") = od.epochs,
        py::arg("batch_size") = od.batch_size,
        py::arg("seed") = od.seed,
        py::arg("tol") = od.tol,
        py::arg("patience") = od.patience,
        py::arg("progress") = py::none(),
        py::arg("n_threads") = 0);

    m.def(
        "_clam_assign",
        [](const py::handle& x,
           const py::handle& prototypes,
           const std::string& kernel,
           double beta,
           std::int64_t steps,
           double alpha,
           double eps,
           int n_threads) {
            const input_array xin = as_input(x, "X", "(n_samples, n_features)");
            const input_array pin = as_input(prototypes, "prototypes", "(n_clusters, n_features)");
            const matrix_arg<double> xm = as_matrix<double>(xin);
            const matrix_arg<double> pm = as_matrix<double>(pin);
            const clam_dynamics dyn = make_dynamics(kernel, beta, steps, alpha, eps);
            clam_assignment a;
            call_without_gil(n_threads, [&](const exec_options& exec) {
                a = clam_assign(xm.view, pm.view, dyn, exec);
            });
            const auto n = static_cast<py::ssize_t>(xm.view.rows);
            const auto d = static_cast<py::ssize_t>(xm.view.cols);
            return py::make_tuple(vector_to_array(std::move(a.labels), {n}),
                                  vector_to_array(std::move(a.states), {n, d}));
        },
        R"doc(_clam_assign(x, prototypes, *, kernel, beta, steps, alpha, eps, n_threads=0) -> (labels, states)

Private: T unmasked steps from each row of x (n, d), then the nearest prototype: labels (n,)
int64 and the final states (n, d).)doc",
        py::arg("x"),
        py::arg("prototypes"),
        py::kw_only(),
        py::arg("kernel") = std::string(to_string(dd.kernel)),
        py::arg("beta"),
        py::arg("steps") = dd.steps,
        py::arg("alpha") = dd.alpha,
        py::arg("eps") = 0.0,
        py::arg("n_threads") = 0);

    m.def(
        "_clam_loss",
        [](const py::handle& x,
           const py::handle& mask,
           const py::handle& fill,
           const py::handle& prototypes,
           const std::string& kernel,
           double beta,
           std::int64_t steps,
           double alpha,
           double eps,
           bool with_grad,
           int n_threads) -> py::object {
            const input_array xin = as_input(x, "X", "(n_samples, n_features)");
            const input_array min = as_input(mask, "mask", "(n_samples, n_features)");
            const input_array pin = as_input(prototypes, "prototypes", "(n_clusters, n_features)");
            const matrix_arg<double> xm = as_matrix<double>(xin);
            const matrix_arg<double> mm = as_matrix<double>(min);
            const matrix_arg<double> pm = as_matrix<double>(pin);
            const f64_array f = vector_arg(fill, "fill");
            const clam_dynamics dyn = make_dynamics(kernel, beta, steps, alpha, eps);
            const std::span<const double> fs(f.data(), static_cast<std::size_t>(f.shape(0)));
            const std::int64_t k = pm.view.rows, d = pm.view.cols;
            std::vector<double> g(with_grad ? static_cast<std::size_t>(k * d) : 0);
            double loss = 0.0;
            call_without_gil(n_threads, [&](const exec_options& exec) {
                const matrix_view<double> gv =
                    with_grad ? matrix_view<double>(g.data(), k, d) : matrix_view<double>{};
                loss = clam_loss(xm.view, mm.view, fs, pm.view, dyn, gv, exec);
            });
            if (!with_grad) return py::float_(loss);
            return py::make_tuple(
                loss,
                vector_to_array(std::move(g),
                                {static_cast<py::ssize_t>(k), static_cast<py::ssize_t>(d)}));
        },
        R"doc(_clam_loss(x, mask, fill, prototypes, *, kernel, beta, steps, alpha, grad=False, n_threads=0) -> float or (float, array)

Private: the ClAM loss L = 1/(n d) sum_i sum_k mask_ik (v_T,ik - x_ik)^2 of x (n, d) under mask
(n, d; 1 = masked, starts at fill (d,) and moves) and prototypes (k, d); with grad=True also
dL/dprototypes (k, d) by the adjoint of the T steps.)doc",
        py::arg("x"),
        py::arg("mask"),
        py::arg("fill"),
        py::arg("prototypes"),
        py::kw_only(),
        py::arg("kernel") = std::string(to_string(dd.kernel)),
        py::arg("beta"),
        py::arg("steps") = dd.steps,
        py::arg("alpha") = dd.alpha,
        py::arg("eps") = 0.0,
        py::arg("grad") = false,
        py::arg("n_threads") = 0);
}

}  // namespace denseam::python
