// SPDX-License-Identifier: MIT
// Exact strict minima (and flat regions) of any distance-kernel energy in one dimension.
// Kernel facts (compact support, exp-type, the degree of Z' on a piece) come from the kernel
// policies in src/kernels/policies.hpp.
//
// Minima of E = -Q[Z] are the strict maxima of Z(x) = eps + sum K(beta/2 (x - xi)^2) for both
// Q. The line is cut at the breakpoints (patterns, support edges xi +- R); on each piece Z is
// smooth. Polynomial kernels make Z' a polynomial of known degree on a piece: it is
// interpolated exactly at Chebyshev nodes from the kernel policies, and its critical points
// split the piece into intervals where Z' is monotone, so sign changes of the true Z' at those
// points bracket every root. Cosine and LSE pieces are sampled densely instead. Breakpoints
// are checked from one-sided derivatives (cusps of the triangle kernel).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/minima.hpp"
#include "kernels/policies.hpp"

namespace denseam {

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// The policy traits of a validated kernel (src/kernels/policies.hpp).
const detail::kernel_info& kernel_traits(kernel_kind k) {
    const detail::kernel_info* info = detail::find_kernel_info(k);
    if (!info) throw invalid_argument("invalid kernel enum value");
    return *info;
}

class kernel_sum {
  public:
    kernel_sum(std::vector<double> xs, const energy_params& p)
        : x_(std::move(xs)), p_(p), beta_(p.beta), lse_(kernel_traits(p.kernel).exp_type) {}

    // Z(x) - eps, with a log-scale shift for the Gaussian: returns s with sum = s * exp(-shift).
    double sum(double x, double& shift) const {
        shift = 0.0;
        if (lse_) {
            double qmin = inf;
            for (double xi : x_) qmin = std::min(qmin, 0.5 * beta_ * (x - xi) * (x - xi));
            shift = qmin;
        }
        double s = 0.0;
        for (double xi : x_) {
            const double q = 0.5 * beta_ * (x - xi) * (x - xi);
            s += lse_ ? std::exp(-(q - shift)) : detail::kernel_value(p_, q);
        }
        return s;
    }

    // Z'(x) up to a positive factor, and the sum of the absolute terms (same factor).
    double slope(double x, double* scale = nullptr) const {
        double shift = 0.0;
        if (lse_) {
            double qmin = inf;
            for (double xi : x_) qmin = std::min(qmin, 0.5 * beta_ * (x - xi) * (x - xi));
            shift = qmin;
        }
        double s = 0.0, a = 0.0;
        for (double xi : x_) {
            const double q = 0.5 * beta_ * (x - xi) * (x - xi);
            const double w = lse_ ? std::exp(-(q - shift)) : detail::kernel_weight(p_, q);
            const double term = -w * (x - xi);
            s += term;
            a += std::abs(term);
        }
        if (scale) *scale = a;
        return s;
    }

    double energy(double x) const {
        double shift = 0.0;
        const double s = sum(x, shift);
        const bool log_q = resolved_q(p_) == q_kind::log;
        if (lse_ && p_.eps == 0.0) {
            // log Z = log s - shift
            return (log_q ? -(std::log(s) - shift) / beta_ : -s * std::exp(-shift)) + 0.0;
        }
        const double z = p_.eps + s * std::exp(-shift);
        if (!log_q) return -z + 0.0;
        return detail::log_energy(z, beta_);
    }

    // Z - eps (unshifted), for comparisons of flat levels.
    double level(double x) const {
        double shift = 0.0;
        const double s = sum(x, shift);
        return s * std::exp(-shift);
    }

  private:
    std::vector<double> x_;
    energy_params p_;
    double beta_;
    bool lse_;
};

// Polynomial with ascending coefficients on s in [-1, 1].
using poly = std::vector<double>;

double peval(const poly& c, double s) {
    double v = 0.0;
    for (std::size_t i = c.size(); i-- > 0;) v = v * s + c[i];
    return v;
}

poly pderiv(const poly& c) {
    poly d;
    for (std::size_t i = 1; i < c.size(); ++i) d.push_back(static_cast<double>(i) * c[i]);
    return d;
}

// Interpolates values at nodes (Vandermonde solve with partial pivoting, n <= 9).
poly interpolate(const std::vector<double>& s, const std::vector<double>& v) {
    const std::size_t n = s.size();
    std::vector<double> a(n * (n + 1));
    for (std::size_t i = 0; i < n; ++i) {
        double p = 1.0;
        for (std::size_t j = 0; j < n; ++j) {
            a[i * (n + 1) + j] = p;
            p *= s[i];
        }
        a[i * (n + 1) + n] = v[i];
    }
    for (std::size_t col = 0; col < n; ++col) {
        std::size_t piv = col;
        for (std::size_t r = col + 1; r < n; ++r)
            if (std::abs(a[r * (n + 1) + col]) > std::abs(a[piv * (n + 1) + col])) piv = r;
        for (std::size_t j = 0; j <= n; ++j) std::swap(a[col * (n + 1) + j], a[piv * (n + 1) + j]);
        const double d = a[col * (n + 1) + col];
        if (d == 0.0) continue;
        for (std::size_t r = 0; r < n; ++r) {
            if (r == col) continue;
            const double f = a[r * (n + 1) + col] / d;
            if (f == 0.0) continue;
            for (std::size_t j = col; j <= n; ++j) a[r * (n + 1) + j] -= f * a[col * (n + 1) + j];
        }
    }
    poly c(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double d = a[i * (n + 1) + i];
        c[i] = d == 0.0 ? 0.0 : a[i * (n + 1) + n] / d;
    }
    return c;
}

// Bisection of a function with f(lo) and f(hi) of opposite signs, to full precision.
template <class F>
double bisect(F&& f, double lo, double hi) {
    double flo = f(lo);
    for (int it = 0; it < 200; ++it) {
        const double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        const double fm = f(mid);
        if (fm == 0.0) return mid;
        if ((fm > 0.0) == (flo > 0.0)) {
            lo = mid;
            flo = fm;
        } else {
            hi = mid;
        }
    }
    return 0.5 * (lo + hi);
}

// Real critical points of p inside (-1, 1), sorted (recursive isolation through p').
std::vector<double> real_roots(const poly& p) {
    std::size_t deg = p.size();
    while (deg > 0 && p[deg - 1] == 0.0) --deg;
    if (deg <= 1) return {};
    poly q(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(deg));
    if (deg == 2) {
        const double r = -q[0] / q[1];
        if (r > -1.0 && r < 1.0) return {r};
        return {};
    }
    std::vector<double> pts{-1.0};
    for (double c : real_roots(pderiv(q))) pts.push_back(c);
    pts.push_back(1.0);
    std::vector<double> out;
    for (std::size_t i = 0; i + 1 < pts.size(); ++i) {
        const double a = pts[i], b = pts[i + 1];
        const double fa = peval(q, a), fb = peval(q, b);
        if (fa == 0.0 && i > 0) {
            out.push_back(a);
            continue;
        }
        if ((fa < 0.0 && fb > 0.0) || (fa > 0.0 && fb < 0.0))
            out.push_back(bisect([&](double s) { return peval(q, s); }, a, b));
    }
    return out;
}

struct piece {
    double lo, hi;
    bool flat = false;
    bool supported = false;
    double level = 0.0;  // Z - eps on a flat piece
};

}  // namespace

minima_1d_result find_minima_1d(std::span<const double> patterns,
                                const energy_params& params,
                                const minima_1d_options& options) {
    validate(params);
    if (patterns.empty()) throw invalid_argument("patterns must not be empty");
    for (std::size_t i = 0; i < patterns.size(); ++i)
        if (!std::isfinite(patterns[i]))
            throw invalid_argument("patterns: non-finite value at " + std::to_string(i));
    if (!std::isfinite(options.novelty_threshold) || options.novelty_threshold < 0.0)
        throw invalid_argument("novelty_threshold must be finite and >= 0");
    minima_1d_result res;
    const detail::kernel_info& kernel = kernel_traits(params.kernel);
    if (!kernel.distance) return res;  // poly: concave energy, no minima

    const std::vector<double> xs(patterns.begin(), patterns.end());
    const kernel_sum f(xs, params);
    const double radius = std::sqrt(2.0 / params.beta);
    const bool compact = kernel.compact;
    std::vector<double> bp;
    for (double x : xs) {
        bp.push_back(x);
        if (compact) {
            bp.push_back(x - radius);
            bp.push_back(x + radius);
        }
    }
    std::sort(bp.begin(), bp.end());
    bp.erase(std::unique(bp.begin(), bp.end()), bp.end());
    const double span = std::max(radius, bp.back() - bp.front());
    const double delta = 1e-10 * span;  // one-sided offset from a breakpoint

    auto slope = [&](double x) { return f.slope(x); };
    // Sign of Z' with cancellation below 1e-12 of the sum of the absolute terms read as 0
    // (e.g. the exactly opposite slopes of two triangle kernels).
    auto sign_of_slope = [&](double x) {
        double scale = 0.0;
        const double v = f.slope(x, &scale);
        if (std::abs(v) <= 1e-12 * scale) return 0;
        return v > 0.0 ? 1 : -1;
    };
    std::vector<double> found;  // strict maxima of Z
    auto add_if_max = [&](double a, double b) {
        // Z' > 0 at a and < 0 at b: a maximum of Z in between.
        if (sign_of_slope(a) > 0 && sign_of_slope(b) < 0) found.push_back(bisect(slope, a, b));
    };

    // Degree of Z' on a piece (from the kernel policy); -1 = not polynomial (sample).
    const int deg = kernel.slope_degree;
    std::vector<piece> pieces;
    for (std::size_t i = 0; i + 1 < bp.size(); ++i) {
        piece pc{bp[i], bp[i + 1]};
        const double a = pc.lo + delta, b = pc.hi - delta;
        if (!(a < b)) continue;
        const double mid = 0.5 * (pc.lo + pc.hi);
        pc.level = f.level(mid);
        pc.supported = pc.level > 0.0;
        // Sample points: Chebyshev nodes for the interpolation, plus a dense grid for the
        // non-polynomial kernels.
        const int n_nodes = deg >= 0 ? deg + 2 : 129;
        std::vector<double> s(static_cast<std::size_t>(n_nodes)), v(s.size());
        bool all_zero = true;
        for (int k = 0; k < n_nodes; ++k) {
            s[k] = deg >= 0 ? std::cos(std::numbers::pi * (2.0 * k + 1.0) / (2.0 * n_nodes))
                            : -1.0 + 2.0 * k / (n_nodes - 1.0);
            const double x = mid + 0.5 * (b - a) * s[k];
            double scale = 0.0;
            v[k] = f.slope(x, &scale);
            if (std::abs(v[k]) > 1e-12 * scale) all_zero = false;
        }
        if (all_zero) {
            pc.flat = true;
            pieces.push_back(pc);
            continue;
        }
        pieces.push_back(pc);
        if (!pc.supported) continue;
        auto to_x = [&](double si) { return mid + 0.5 * (b - a) * si; };
        std::vector<double> pts;  // monotone intervals of Z' (polynomial) or the sample grid
        if (deg >= 1) {
            // Degree-deg interpolant through deg+1 of the nodes; its critical points.
            std::vector<double> s_fit(s.begin(), s.begin() + deg + 1),
                v_fit(v.begin(), v.begin() + deg + 1);
            const poly pz = interpolate(s_fit, v_fit);
            pts.push_back(a);
            for (double c : real_roots(pderiv(pz))) pts.push_back(to_x(c));
            pts.push_back(b);
        } else if (deg == 0) {
            pts = {a, b};  // Z' constant on the piece
        } else {
            for (int k = 0; k < n_nodes; ++k) pts.push_back(to_x(s[k]));
            pts.front() = a;
            pts.back() = b;
        }
        for (std::size_t k = 0; k + 1 < pts.size(); ++k) {
            if (k > 0 && sign_of_slope(pts[k]) == 0) {
                // A zero on a grid point: a maximum if Z' changes from + to - there.
                if (sign_of_slope(pts[k - 1]) > 0 && sign_of_slope(pts[k + 1]) < 0)
                    found.push_back(pts[k]);
                continue;
            }
            add_if_max(pts[k], pts[k + 1]);
        }
    }
    // Breakpoints: one-sided slopes (cusps, and smooth maxima that sit exactly on a
    // breakpoint such as a lone pattern).
    for (double x : bp) {
        const double a = x - delta, b = x + delta;
        if (sign_of_slope(a) > 0 && sign_of_slope(b) < 0 && f.level(x) > 0.0)
            found.push_back(bisect(slope, a, b));
    }
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(),
                            found.end(),
                            [&](double p, double q) { return std::abs(p - q) <= 4 * delta; }),
                found.end());

    for (double x : found) {
        minimum_1d m;
        m.position = x;
        m.energy = f.energy(x);
        double best = inf;
        for (std::size_t i = 0; i < xs.size(); ++i) {
            const double dd = std::abs(x - xs[i]);
            if (dd < best) {
                best = dd;
                m.nearest = static_cast<std::int64_t>(i);
            }
        }
        m.nearest_distance = best;
        m.stored = best <= 1e-9 * radius;
        if (m.stored) {
            m.position = xs[static_cast<std::size_t>(m.nearest)];
            m.energy = f.energy(m.position);
            m.nearest_distance = 0.0;
        }
        m.novel = !m.stored && m.nearest_distance >= options.novelty_threshold;
        (m.stored ? res.stored : res.emergent) += 1;
        res.novel += m.novel;
        res.minima.push_back(m);
    }

    // Flat regions: merge adjacent flat supported pieces at the same level.
    auto same_level = [](double u, double w) {
        return std::abs(u - w) <= 1e-12 * std::max(std::abs(u), std::abs(w));
    };
    for (std::size_t i = 0; i < pieces.size();) {
        if (!pieces[i].flat || !pieces[i].supported) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j + 1 < pieces.size() && pieces[j + 1].flat && pieces[j + 1].supported &&
               pieces[j + 1].hi > pieces[j + 1].lo && pieces[j + 1].lo == pieces[j].hi &&
               same_level(pieces[j + 1].level, pieces[i].level))
            ++j;
        flat_interval fi;
        fi.lo = pieces[i].lo;
        fi.hi = pieces[j].hi;
        fi.energy = f.energy(0.5 * (pieces[i].lo + pieces[i].hi));
        const double lvl = pieces[i].level;
        // Lower on the left: a lower flat level, Z increasing into the interval, or the
        // unsupported outside.
        auto side_lower = [&](bool left) {
            const bool exists = left ? i > 0 && pieces[i - 1].hi == pieces[i].lo
                                     : j + 1 < pieces.size() && pieces[j + 1].lo == pieces[j].hi;
            if (!exists) return true;  // beyond the outermost support edge: Z = eps
            const piece& nb = left ? pieces[i - 1] : pieces[j + 1];
            if (nb.flat) return nb.level < lvl && !same_level(nb.level, lvl);
            const int s1 = left ? sign_of_slope(fi.lo - delta) : sign_of_slope(fi.hi + delta);
            return left ? s1 > 0 : s1 < 0;
        };
        fi.is_minimum = side_lower(true) && side_lower(false);
        res.flat.push_back(fi);
        i = j + 1;
    }
    return res;
}

}  // namespace denseam
