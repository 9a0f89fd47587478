// SPDX-License-Identifier: MIT
// Bindings of include/denseam/gmm.hpp: GaussianMixture and sample_around.
#include <pybind11/stl.h>

#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "denseam/gmm.hpp"

namespace denseam::python {

namespace {

/// np.ascontiguousarray(obj, dtype=float64); ValueError names the argument when that fails.
py::array_t<double> as_float64(const py::handle& obj, const char* name) {
    py::array a;
    try {
        a = py::module_::import("numpy").attr("asarray")(obj);
    } catch (py::error_already_set& e) {
        throw py::value_error(std::string(name) + " is not array-like (" + e.what() + ")");
    }
    const char kind = a.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
        throw py::value_error(std::string(name) + " has dtype " + dtype_string(a) +
                              "; expected real numbers");
    return py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
}

std::vector<double> to_vector(const py::array_t<double>& a) {
    return {a.data(), a.data() + a.size()};
}

gaussian_mixture make_mixture(const py::handle& weights,
                              const py::handle& means,
                              const py::handle& covariances) {
    const auto w = as_float64(weights, "weights");
    const auto mu = as_float64(means, "means");
    const auto cov = as_float64(covariances, "covariances");
    if (w.ndim() != 1)
        throw py::value_error("weights must be a 1-D array of shape (k,), got shape " +
                              shape_string(w));
    if (mu.ndim() != 2)
        throw py::value_error("means must be a 2-D array of shape (k, dim), got shape " +
                              shape_string(mu));
    gaussian_mixture g;
    g.k = w.shape(0);
    g.dim = mu.shape(1);
    if (mu.shape(0) != g.k)
        throw py::value_error("means has shape " + shape_string(mu) +
                              " but weights has k = " + std::to_string(g.k) + " entries");
    const std::string expect = "(" + std::to_string(g.k) + ",), (" + std::to_string(g.k) + ", " +
                               std::to_string(g.dim) + ") or (" + std::to_string(g.k) + ", " +
                               std::to_string(g.dim) + ", " + std::to_string(g.dim) + ")";
    const bool ok = cov.ndim() >= 1 && cov.ndim() <= 3 && cov.shape(0) == g.k &&
                    (cov.ndim() < 2 || cov.shape(1) == g.dim) &&
                    (cov.ndim() < 3 || cov.shape(2) == g.dim);
    if (!ok)
        throw py::value_error("covariances has shape " + shape_string(cov) + "; expected " +
                              expect + " (isotropic, diagonal or full)");
    g.kind = cov.ndim() == 1   ? covariance_kind::isotropic
             : cov.ndim() == 2 ? covariance_kind::diagonal
                               : covariance_kind::full;
    g.weights = to_vector(w);
    g.means = to_vector(mu);
    g.covariances = to_vector(cov);
    g.validate();
    return g;
}

py::array_t<double> covariances_array(const gaussian_mixture& g) {
    std::vector<py::ssize_t> shape{static_cast<py::ssize_t>(g.k)};
    if (g.kind != covariance_kind::isotropic) shape.push_back(static_cast<py::ssize_t>(g.dim));
    if (g.kind == covariance_kind::full) shape.push_back(static_cast<py::ssize_t>(g.dim));
    return vector_to_array(std::vector<double>(g.covariances), std::move(shape));
}

constexpr const char* class_doc = R"doc(
A mixture of k Gaussians in dim dimensions (paper.md 2.4):

    p(x) = sum_i w_i N(x | mu_i, Sigma_i)

GaussianMixture(weights, means, covariances): weights (k,) >= 0 summing to 1 (within 1e-9),
means (k, dim), covariances of shape (k,) (isotropic: Sigma_i = c_i I), (k, dim) (diagonal
variances) or (k, dim, dim) (full, symmetric positive definite); the covariance kind follows the
shape. ValueError names the argument at fault. GaussianMixture.random(k, dim, sigma, seed) is
the LOGL0 "true distribution" (means uniform in [0, 1)^dim, Sigma = sigma^2 I, equal weights).

Properties (copies): k, dim, covariance_kind ("isotropic" | "diagonal" | "full"), weights,
means, covariances. Pickles; to_json()/from_json() round-trip exactly.

Example:
    >>> import numpy as np, denseam
    >>> g = denseam.GaussianMixture([1.0], [[0.0, 0.0]], [0.01])
    >>> round(float(g.log_density([[0.0, 0.0]])[0]), 6)  # -(d/2) log(2 pi sigma^2)
    2.767293
)doc";

constexpr const char* sample_around_doc = R"doc(
n_per_center query points around every row of centers (M, d), at radius scale R = radius;
returns (M * n_per_center, d), center by center.

kind: "shell" (uniform on the shell 0.98 R <= r <= 0.9999 R: normalised-Gaussian direction,
volume-uniform radius), "ball" (uniform in the ball of radius R), or the reference code's biased
samplers "reference-shell" / "reference-ball" (direction: a uniform point of [-1, 1]^d
normalised, which favours the cube's diagonals; radius uniform in [0.98 R, 0.9999 R] / [0, R]),
kept only to reproduce the paper's numbers.

The points of center m depend only on (seed, m) (not on the other centers) and scale with R.
)doc";

}  // namespace

void register_gmm(py::module_& m) {
    py::class_<gaussian_mixture> cls(m, "GaussianMixture", class_doc);
    cls.def(py::init(&make_mixture), py::arg("weights"), py::arg("means"), py::arg("covariances"));
    cls.def_static(
        "random",
        [](std::int64_t k, std::int64_t dim, double sigma, std::uint64_t seed) {
            return gaussian_mixture::random(k, dim, sigma, seed);
        },
        "The reference's k_mixtures_in_d: means uniform in [0, 1)^dim (std::mt19937_64(seed)), "
        "covariance sigma^2 I, weights 1/k.",
        py::arg("k"),
        py::arg("dim"),
        py::arg("sigma"),
        py::arg("seed") = 0);
    cls.def_property_readonly("k", [](const gaussian_mixture& g) { return g.k; });
    cls.def_property_readonly("dim", [](const gaussian_mixture& g) { return g.dim; });
    cls.def_property_readonly("covariance_kind", [](const gaussian_mixture& g) {
        return std::string(to_string(g.kind));
    });
    cls.def_property_readonly("weights", [](const gaussian_mixture& g) {
        return vector_to_array(std::vector<double>(g.weights), {static_cast<py::ssize_t>(g.k)});
    });
    cls.def_property_readonly("means", [](const gaussian_mixture& g) {
        return vector_to_array(std::vector<double>(g.means),
                               {static_cast<py::ssize_t>(g.k), static_cast<py::ssize_t>(g.dim)});
    });
    cls.def_property_readonly("covariances", &covariances_array);
    cls.def(
        "sample",
        [](const gaussian_mixture& g, std::int64_t n, std::uint64_t seed) {
            std::vector<double> x;
            std::vector<std::int64_t> labels;
            {
                py::gil_scoped_release release;
                x = g.sample(n, seed, &labels);
            }
            const auto rows = static_cast<py::ssize_t>(labels.size());
            return py::make_tuple(
                vector_to_array(std::move(x), {rows, static_cast<py::ssize_t>(g.dim)}),
                vector_to_array(std::move(labels), {rows}));
        },
        "n samples: (X (n, dim) float64, labels (n,) int64 component indices); deterministic "
        "for a seed.",
        py::arg("n"),
        py::arg("seed") = 0);
    cls.def(
        "log_density",
        [](const gaussian_mixture& g, const py::handle& x) {
            const input_array in = as_input(x, "X", "(n, dim)");
            const matrix_arg<double> mat = as_matrix<double>(in);
            if (mat.view.cols != g.dim)
                throw py::value_error("X has shape " + shape_string(in.array) + "; expected (n, " +
                                      std::to_string(g.dim) + ")");
            std::vector<double> out(static_cast<std::size_t>(mat.view.rows));
            {
                py::gil_scoped_release release;
                g.log_density(mat.view, out);
            }
            const auto rows = static_cast<py::ssize_t>(out.size());
            return vector_to_array(std::move(out), {rows});
        },
        "log p(x) for each row of X (n, dim), by a max-shifted log-sum-exp over components.",
        py::arg("X"));
    cls.def("to_json",
            &gaussian_mixture::to_json,
            "JSON text {k, dim, covariance, weights, means, covariances} (exact round trip).");
    cls.def_static("from_json",
                   &gaussian_mixture::from_json,
                   "A mixture from to_json's text; ValueError on bad input.",
                   py::arg("text"));
    cls.def("__repr__", [](const gaussian_mixture& g) {
        return "GaussianMixture(k=" + std::to_string(g.k) + ", dim=" + std::to_string(g.dim) +
               ", covariance_kind='" + std::string(to_string(g.kind)) + "')";
    });
    cls.def(py::pickle([](const gaussian_mixture& g) { return py::make_tuple(g.to_json()); },
                       [](const py::tuple& t) {
                           if (t.size() != 1)
                               throw py::value_error("invalid GaussianMixture state");
                           return gaussian_mixture::from_json(t[0].cast<std::string>());
                       }));

    m.def(
        "sample_around",
        [](const py::handle& centers,
           std::int64_t n_per_center,
           double radius,
           const std::string& kind,
           std::uint64_t seed) {
            const sampler_kind sk = parse_sampler(kind);
            const input_array in = as_input(centers, "centers", "(M, d)");
            const matrix_arg<double> mat = as_matrix<double>(in);
            std::vector<double> out;
            {
                py::gil_scoped_release release;
                out = sample_around(mat.view, n_per_center, radius, sk, seed);
            }
            const auto d = static_cast<py::ssize_t>(mat.view.cols);
            const auto rows = d > 0 ? static_cast<py::ssize_t>(out.size()) / d : 0;
            return vector_to_array(std::move(out), {rows, d});
        },
        sample_around_doc,
        py::arg("centers"),
        py::arg("n_per_center"),
        py::arg("radius"),
        py::arg("kind") = "shell",
        py::arg("seed") = 0);
}

}  // namespace denseam::python
