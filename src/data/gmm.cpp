// SPDX-License-Identifier: MIT
// Gaussian mixtures (include/denseam/gmm.hpp, paper.md 2.4).
#include "denseam/gmm.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <sstream>
#include <string>

#include "denseam/error.hpp"
#include "engine/rng.hpp"

namespace denseam {

namespace {

using json = nlohmann::json;
using matrix_rm = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

covariance_kind parse_kind(const std::string& s) {
    if (s == "isotropic") return covariance_kind::isotropic;
    if (s == "diagonal") return covariance_kind::diagonal;
    if (s == "full") return covariance_kind::full;
    throw invalid_argument("gaussian_mixture: unknown covariance '" + s +
                           "' (choose isotropic, diagonal or full)");
}

std::size_t covariance_size(covariance_kind c, std::int64_t k, std::int64_t dim) {
    switch (c) {
        case covariance_kind::isotropic:
            return static_cast<std::size_t>(k);
        case covariance_kind::diagonal:
            return static_cast<std::size_t>(k * dim);
        case covariance_kind::full:
            return static_cast<std::size_t>(k * dim * dim);
    }
    return 0;
}

std::string num(double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
}

void check_size(const char* field, std::size_t got, std::size_t expected, const std::string& why) {
    if (got != expected)
        throw invalid_argument(std::string("gaussian_mixture: ") + field + " has " +
                               std::to_string(got) + " values, expected " +
                               std::to_string(expected) + " (" + why + ")");
}

void check_finite(const char* field, const std::vector<double>& v) {
    for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i]))
            throw invalid_argument(std::string("gaussian_mixture: ") + field + "[" +
                                   std::to_string(i) + "] is not finite (" + num(v[i]) + ")");
}

// Per-component constants of log N: for isotropic/diagonal the inverse variances, for full the
// lower Cholesky factor L (Sigma = L L^T); log_norm = log w - (d/2) log(2 pi) - (1/2) log det.
struct component_cache {
    std::vector<double> log_norm;
    std::vector<double> inv_var;  // isotropic: k; diagonal: k * dim
    std::vector<matrix_rm> chol;  // full: k factors
};

component_cache prepare(const gaussian_mixture& g) {
    component_cache c;
    const auto k = static_cast<std::size_t>(g.k);
    const auto d = static_cast<double>(g.dim);
    const double half_d_log_2pi = 0.5 * d * std::log(2.0 * std::numbers::pi);
    c.log_norm.resize(k);
    if (g.kind == covariance_kind::isotropic) c.inv_var.resize(k);
    if (g.kind == covariance_kind::diagonal) c.inv_var.resize(k * static_cast<std::size_t>(g.dim));
    for (std::size_t i = 0; i < k; ++i) {
        double log_det = 0.0;
        switch (g.kind) {
            case covariance_kind::isotropic:
                c.inv_var[i] = 1.0 / g.covariances[i];
                log_det = d * std::log(g.covariances[i]);
                break;
            case covariance_kind::diagonal:
                for (std::int64_t j = 0; j < g.dim; ++j) {
                    const std::size_t at =
                        i * static_cast<std::size_t>(g.dim) + static_cast<std::size_t>(j);
                    c.inv_var[at] = 1.0 / g.covariances[at];
                    log_det += std::log(g.covariances[at]);
                }
                break;
            case covariance_kind::full: {
                const auto n = static_cast<Eigen::Index>(g.dim);
                Eigen::Map<const matrix_rm> s(
                    g.covariances.data() + i * static_cast<std::size_t>(g.dim * g.dim), n, n);
                Eigen::LLT<matrix_rm> llt(s);
                if (llt.info() != Eigen::Success)
                    throw invalid_argument("gaussian_mixture: covariances[" + std::to_string(i) +
                                           "] is not positive definite");
                matrix_rm l = llt.matrixL();
                for (Eigen::Index j = 0; j < n; ++j) {
                    if (!(l(j, j) > 0.0) || !std::isfinite(l(j, j)))
                        throw invalid_argument("gaussian_mixture: covariances[" +
                                               std::to_string(i) + "] is not positive definite");
                    log_det += 2.0 * std::log(l(j, j));
                }
                c.chol.push_back(std::move(l));
                break;
            }
        }
        const double w = g.weights[i];
        const double log_w = w > 0.0 ? std::log(w) : -std::numeric_limits<double>::infinity();
        c.log_norm[i] = log_w - half_d_log_2pi - 0.5 * log_det;
    }
    return c;
}

std::vector<double> flatten_numbers(const json& j, const char* field) {
    std::vector<double> out;
    auto rec = [&](auto&& self, const json& v) -> void {
        if (v.is_array()) {
            for (const auto& e : v) self(self, e);
        } else if (v.is_number()) {
            out.push_back(v.get<double>());
        } else {
            throw invalid_argument(std::string("gaussian_mixture JSON: '") + field +
                                   "' must hold numbers (nested arrays allowed), found " +
                                   v.type_name());
        }
    };
    rec(rec, j);
    return out;
}

json nest(const std::vector<double>& v, std::int64_t outer, std::int64_t inner) {
    json a = json::array();
    for (std::int64_t i = 0; i < outer; ++i) {
        json row = json::array();
        for (std::int64_t j = 0; j < inner; ++j)
            row.push_back(v[static_cast<std::size_t>(i * inner + j)]);
        a.push_back(std::move(row));
    }
    return a;
}

}  // namespace

gaussian_mixture gaussian_mixture::random(std::int64_t k,
                                          std::int64_t dim,
                                          double sigma,
                                          std::uint64_t seed) {
    if (k < 1)
        throw invalid_argument("gaussian_mixture::random: k must be >= 1 (got " +
                               std::to_string(k) + ")");
    if (dim < 1)
        throw invalid_argument("gaussian_mixture::random: dim must be >= 1 (got " +
                               std::to_string(dim) + ")");
    if (!std::isfinite(sigma) || !(sigma > 0.0))
        throw invalid_argument("gaussian_mixture::random: sigma must be finite and > 0 (got " +
                               num(sigma) + ")");
    gaussian_mixture g;
    g.k = k;
    g.dim = dim;
    g.kind = covariance_kind::isotropic;
    g.weights.assign(static_cast<std::size_t>(k), 1.0 / static_cast<double>(k));
    g.means.resize(static_cast<std::size_t>(k * dim));
    std::mt19937_64 rng(seed);
    for (double& v : g.means) v = detail::unit_double(rng);
    g.covariances.assign(static_cast<std::size_t>(k), sigma * sigma);
    g.validate();  // sigma^2 can underflow to 0 or overflow
    return g;
}

void gaussian_mixture::validate() const {
    if (k < 1)
        throw invalid_argument("gaussian_mixture: k must be >= 1 (got " + std::to_string(k) + ")");
    if (dim < 1)
        throw invalid_argument("gaussian_mixture: dim must be >= 1 (got " + std::to_string(dim) +
                               ")");
    const auto uk = static_cast<std::size_t>(k);
    check_size("weights", weights.size(), uk, "k = " + std::to_string(k));
    check_size("means",
               means.size(),
               uk * static_cast<std::size_t>(dim),
               "k x dim = " + std::to_string(k) + " x " + std::to_string(dim));
    const std::size_t nc = covariance_size(kind, k, dim);
    check_size("covariances",
               covariances.size(),
               nc,
               std::string(to_string(kind)) + " covariance, k = " + std::to_string(k) +
                   ", dim = " + std::to_string(dim));
    check_finite("weights", weights);
    check_finite("means", means);
    check_finite("covariances", covariances);
    double sum = 0.0;
    for (std::size_t i = 0; i < uk; ++i) {
        if (weights[i] < 0.0)
            throw invalid_argument("gaussian_mixture: weights[" + std::to_string(i) +
                                   "] is negative (" + num(weights[i]) + ")");
        sum += weights[i];
    }
    if (!(std::abs(sum - 1.0) <= 1e-9))
        throw invalid_argument(
            "gaussian_mixture: weights must sum to 1 within 1e-9 (sum = " + num(sum) + ")");
    if (kind != covariance_kind::full) {
        for (std::size_t i = 0; i < nc; ++i)
            if (!(covariances[i] > 0.0))
                throw invalid_argument("gaussian_mixture: covariances[" + std::to_string(i) +
                                       "] must be > 0 (variance, got " + num(covariances[i]) + ")");
        return;
    }
    const auto d = static_cast<std::size_t>(dim);
    for (std::size_t i = 0; i < uk; ++i) {
        const double* s = covariances.data() + i * d * d;
        for (std::size_t a = 0; a < d; ++a)
            for (std::size_t b = a + 1; b < d; ++b) {
                const double x = s[a * d + b], y = s[b * d + a];
                const double scale = std::sqrt(std::abs(s[a * d + a] * s[b * d + b]));
                if (std::abs(x - y) > 1e-12 * std::max(scale, std::abs(x) + std::abs(y)))
                    throw invalid_argument("gaussian_mixture: covariances[" + std::to_string(i) +
                                           "] is not symmetric (entry (" + std::to_string(a) +
                                           ", " + std::to_string(b) + "))");
            }
    }
    (void)prepare(*this);  // the Cholesky test of positive definiteness
}

std::vector<double> gaussian_mixture::sample(std::int64_t n,
                                             std::uint64_t seed,
                                             std::vector<std::int64_t>* labels) const {
    validate();
    if (n < 0)
        throw invalid_argument("gaussian_mixture::sample: n must be >= 0 (got " +
                               std::to_string(n) + ")");
    const component_cache c = prepare(*this);
    const auto un = static_cast<std::size_t>(n);
    const auto d = static_cast<std::size_t>(dim);
    std::mt19937_64 rng(seed);
    detail::normal_stream normal(rng);

    // Categorical labels by inverse CDF over the cumulative weights (a weight-0 component
    // is never chosen: its interval is empty).
    std::vector<double> cum(static_cast<std::size_t>(k));
    double acc = 0.0;
    for (std::size_t i = 0; i < cum.size(); ++i) cum[i] = (acc += weights[i]);
    std::vector<std::int64_t> lab(un);
    for (auto& l : lab) {
        const double u = detail::unit_double(rng) * acc;
        auto it = std::upper_bound(cum.begin(), cum.end(), u);
        auto i = static_cast<std::size_t>(it - cum.begin());
        if (i >= cum.size()) i = cum.size() - 1;
        while (weights[i] == 0.0 && i > 0) --i;  // rounding at the top end
        l = static_cast<std::int64_t>(i);
    }

    std::vector<double> x(un * d);
    std::vector<double> z(d);
    for (std::size_t s = 0; s < un; ++s) {
        const auto i = static_cast<std::size_t>(lab[s]);
        double* row = x.data() + s * d;
        const double* mu = means.data() + i * d;
        for (auto& v : z) v = normal();
        switch (kind) {
            case covariance_kind::isotropic: {
                const double sd = std::sqrt(covariances[i]);
                for (std::size_t j = 0; j < d; ++j) row[j] = mu[j] + sd * z[j];
                break;
            }
            case covariance_kind::diagonal:
                for (std::size_t j = 0; j < d; ++j)
                    row[j] = mu[j] + std::sqrt(covariances[i * d + j]) * z[j];
                break;
            case covariance_kind::full: {
                const matrix_rm& l = c.chol[i];
                for (std::size_t a = 0; a < d; ++a) {
                    double t = 0.0;
                    for (std::size_t b = 0; b <= a; ++b)
                        t += l(static_cast<Eigen::Index>(a), static_cast<Eigen::Index>(b)) * z[b];
                    row[a] = mu[a] + t;
                }
                break;
            }
        }
    }
    if (labels) *labels = std::move(lab);
    return x;
}

void gaussian_mixture::log_density(matrix_view<const double> x, std::span<double> out) const {
    validate();
    if (x.rows > 0 && x.cols != dim)
        throw invalid_argument("gaussian_mixture::log_density: x has " + std::to_string(x.cols) +
                               " columns, expected dim = " + std::to_string(dim));
    if (x.rows < 0 || out.size() != static_cast<std::size_t>(x.rows))
        throw invalid_argument("gaussian_mixture::log_density: out has " +
                               std::to_string(out.size()) + " entries, expected " +
                               std::to_string(x.rows) + " (one per row of x)");
    const component_cache c = prepare(*this);
    const auto uk = static_cast<std::size_t>(k);
    const auto d = static_cast<std::size_t>(dim);
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> term(uk);
    Eigen::VectorXd diff(static_cast<Eigen::Index>(d));
    for (std::int64_t r = 0; r < x.rows; ++r) {
        const double* xr = x.row(r);
        bool nan = false;
        for (std::size_t i = 0; i < uk; ++i) {
            if (c.log_norm[i] == -inf) {
                term[i] = -inf;
                continue;
            }
            const double* mu = means.data() + i * d;
            double q = 0.0;
            switch (kind) {
                case covariance_kind::isotropic:
                    for (std::size_t j = 0; j < d; ++j) q += (xr[j] - mu[j]) * (xr[j] - mu[j]);
                    q *= c.inv_var[i];
                    break;
                case covariance_kind::diagonal:
                    for (std::size_t j = 0; j < d; ++j)
                        q += (xr[j] - mu[j]) * (xr[j] - mu[j]) * c.inv_var[i * d + j];
                    break;
                case covariance_kind::full:
                    for (std::size_t j = 0; j < d; ++j)
                        diff[static_cast<Eigen::Index>(j)] = xr[j] - mu[j];
                    c.chol[i].triangularView<Eigen::Lower>().solveInPlace(diff);
                    q = diff.squaredNorm();
                    break;
            }
            term[i] = c.log_norm[i] - 0.5 * q;
            if (std::isnan(term[i])) nan = true;
        }
        if (nan) {
            out[static_cast<std::size_t>(r)] = std::numeric_limits<double>::quiet_NaN();
            continue;
        }
        const double mx = *std::max_element(term.begin(), term.end());
        if (!std::isfinite(mx)) {  // every term -inf (x infinitely far): log p = -inf
            out[static_cast<std::size_t>(r)] = mx;
            continue;
        }
        double s = 0.0;
        for (double t : term) s += std::exp(t - mx);
        out[static_cast<std::size_t>(r)] = mx + std::log(s);
    }
}

std::string gaussian_mixture::to_json() const {
    validate();
    json j;
    j["k"] = k;
    j["dim"] = dim;
    j["covariance"] = std::string(to_string(kind));
    j["weights"] = weights;
    j["means"] = nest(means, k, dim);
    switch (kind) {
        case covariance_kind::isotropic:
            j["covariances"] = covariances;
            break;
        case covariance_kind::diagonal:
            j["covariances"] = nest(covariances, k, dim);
            break;
        case covariance_kind::full: {
            json a = json::array();
            for (std::int64_t i = 0; i < k; ++i) {
                std::vector<double> block(covariances.begin() + i * dim * dim,
                                          covariances.begin() + (i + 1) * dim * dim);
                a.push_back(nest(block, dim, dim));
            }
            j["covariances"] = std::move(a);
            break;
        }
    }
    return j.dump();
}

gaussian_mixture gaussian_mixture::from_json(const std::string& text) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw invalid_argument(std::string("gaussian_mixture JSON: cannot parse (") + e.what() +
                               ")");
    }
    if (!j.is_object())
        throw invalid_argument("gaussian_mixture JSON: expected an object, found " +
                               std::string(j.type_name()));
    for (const char* f : {"k", "dim", "covariance", "weights", "means", "covariances"})
        if (!j.contains(f))
            throw invalid_argument(std::string("gaussian_mixture JSON: missing field '") + f + "'");
    auto integer = [&](const char* f) {
        const json& v = j.at(f);
        if (!v.is_number_integer())
            throw invalid_argument(std::string("gaussian_mixture JSON: '") + f +
                                   "' must be an integer");
        return v.get<std::int64_t>();
    };
    if (!j.at("covariance").is_string())
        throw invalid_argument("gaussian_mixture JSON: 'covariance' must be a string");
    gaussian_mixture g;
    g.k = integer("k");
    g.dim = integer("dim");
    g.kind = parse_kind(j.at("covariance").get<std::string>());
    g.weights = flatten_numbers(j.at("weights"), "weights");
    g.means = flatten_numbers(j.at("means"), "means");
    g.covariances = flatten_numbers(j.at("covariances"), "covariances");
    g.validate();
    return g;
}

std::string_view to_string(covariance_kind c) noexcept {
    switch (c) {
        case covariance_kind::isotropic:
            return "isotropic";
        case covariance_kind::diagonal:
            return "diagonal";
        case covariance_kind::full:
            return "full";
    }
    return "isotropic";
}

}  // namespace denseam
