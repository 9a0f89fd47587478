// SPDX-License-Identifier: MIT
// Naive double-precision oracle for the energy family, written from the definitions in terms of
// t = ||x - xi|| / R (a different parameterisation from the library's q = t^2), with no tiling,
// no BLAS and no shared code with src/.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "denseam/kernels.hpp"

namespace oracle {

struct result {
    std::vector<double> energy;  // (B)
    std::vector<double> grad;    // (B x d)
    std::vector<double> gscale;  // (B) max over components of sum_mu |term|, for tolerances
};

// K(t) and dK/dt for a compact or Gaussian kernel written as a function of t.
inline void kernel_t(denseam::kernel_kind k, double t, double& K, double& dK) {
    using denseam::kernel_kind;
    const double pi = std::numbers::pi;
    const bool in = t < 1.0;
    switch (k) {
        case kernel_kind::lse:
            K = std::exp(-t * t);
            dK = -2 * t * K;
            return;
        case kernel_kind::lsr:
            K = in ? 1 - t * t : 0;
            dK = in ? -2 * t : 0;
            return;
        case kernel_kind::triangle:
            K = in ? 1 - t : 0;
            dK = (in && t > 0) ? -1 : 0;
            return;
        case kernel_kind::tophat:
            K = in ? 1 : 0;
            dK = 0;
            return;
        case kernel_kind::cosine:
            K = in ? std::cos(pi * t / 2) : 0;
            dK = in ? -(pi / 2) * std::sin(pi * t / 2) : 0;
            return;
        case kernel_kind::quartic:
            K = in ? std::pow(1 - t * t, 2) : 0;
            dK = in ? -4 * t * (1 - t * t) : 0;
            return;
        case kernel_kind::triweight:
            K = in ? std::pow(1 - t * t, 3) : 0;
            dK = in ? -6 * t * std::pow(1 - t * t, 2) : 0;
            return;
        case kernel_kind::tricube:
            K = in ? std::pow(1 - t * t * t, 3) : 0;
            dK = in ? -9 * t * t * std::pow(1 - t * t * t, 2) : 0;
            return;
        case kernel_kind::poly:
            break;
    }
    K = dK = 0;
}

// Energies and gradients for B queries (row-major B x d) against M memories (M x d).
inline result evaluate(const std::vector<double>& mem,
                       std::int64_t M,
                       const std::vector<double>& q,
                       std::int64_t B,
                       std::int64_t d,
                       const denseam::energy_params& p) {
    using denseam::kernel_kind;
    const double beta = p.beta, R = std::sqrt(2.0 / beta);
    const bool log_q = denseam::resolved_q(p) == denseam::q_kind::log;
    result out{std::vector<double>(B), std::vector<double>(B * d, 0.0), std::vector<double>(B)};
    for (std::int64_t b = 0; b < B; ++b) {
        const double* x = &q[b * d];
        std::vector<double> K(M), dKdx(M * d, 0.0);
        double shift = 0;  // log-scale shift for the Gaussian
        if (p.kernel == kernel_kind::lse) {
            shift = -1e300;
            for (std::int64_t m = 0; m < M; ++m) {
                double d2 = 0;
                for (std::int64_t k = 0; k < d; ++k)
                    d2 += (x[k] - mem[m * d + k]) * (x[k] - mem[m * d + k]);
                shift = std::max(shift, -beta / 2 * d2);
            }
        }
        for (std::int64_t m = 0; m < M; ++m) {
            const double* xi = &mem[m * d];
            if (p.kernel == kernel_kind::poly) {
                double dot = 0;
                for (std::int64_t k = 0; k < d; ++k) dot += x[k] * xi[k];
                const double z = beta * dot;
                K[m] = z > 0 ? std::pow(z, p.degree) : 0;
                const double df = z > 0 ? p.degree * std::pow(z, p.degree - 1) : 0;
                for (std::int64_t k = 0; k < d; ++k) dKdx[m * d + k] = df * beta * xi[k];
                continue;
            }
            double d2 = 0;
            for (std::int64_t k = 0; k < d; ++k) d2 += (x[k] - xi[k]) * (x[k] - xi[k]);
            const double dist = std::sqrt(d2), t = dist / R;
            double Kt, dKt;
            kernel_t(p.kernel, t, Kt, dKt);
            if (p.kernel == kernel_kind::lse) {
                // Scaled by exp(-shift) to stay finite: K = exp(-t^2 - shift).
                Kt = std::exp(-beta / 2 * d2 - shift);
                dKt = -2 * t * Kt;
            }
            K[m] = Kt;
            if (dist > 0)
                for (std::int64_t k = 0; k < d; ++k)
                    dKdx[m * d + k] = dKt * (x[k] - xi[k]) / (R * dist);
        }
        double Z = 0;
        for (double v : K) Z += v;
        // Z_true = eps + exp(shift) * Z
        const double lse_scale = p.kernel == kernel_kind::lse ? std::exp(shift) : 1.0;
        double Ztrue = p.eps + lse_scale * Z;
        double logZ =
            p.kernel == kernel_kind::lse && p.eps == 0 ? std::log(Z) + shift : std::log(Ztrue);
        std::vector<double> abs_sum(d, 0.0);
        if (log_q) {
            out.energy[b] = -logZ / beta;
            const double c =
                -1.0 /
                (beta * (p.kernel == kernel_kind::lse && p.eps == 0 ? Z : Ztrue / lse_scale));
            for (std::int64_t m = 0; m < M; ++m)
                for (std::int64_t k = 0; k < d; ++k) {
                    out.grad[b * d + k] += c * dKdx[m * d + k];
                    abs_sum[k] += std::abs(c * dKdx[m * d + k]);
                }
            if (Z == 0 && p.eps == 0) {
                out.energy[b] = INFINITY;
                std::fill(out.grad.begin() + b * d, out.grad.begin() + (b + 1) * d, 0.0);
            }
        } else {
            out.energy[b] = -Ztrue;
            for (std::int64_t m = 0; m < M; ++m)
                for (std::int64_t k = 0; k < d; ++k) {
                    out.grad[b * d + k] -= lse_scale * dKdx[m * d + k];
                    abs_sum[k] += std::abs(lse_scale * dKdx[m * d + k]);
                }
        }
        out.gscale[b] = *std::max_element(abs_sum.begin(), abs_sum.end());
    }
    return out;
}

/// Energy parameters of kernel k at beta, the rest default.
inline denseam::energy_params make(denseam::kernel_kind k, double beta) {
    denseam::energy_params p;
    p.kernel = k;
    p.beta = beta;
    return p;
}

/// n uniform values in [lo, hi) from std::mt19937_64(seed).
inline std::vector<double> uniform(std::int64_t n,
                                   std::uint64_t seed,
                                   double lo = 0,
                                   double hi = 1) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<double> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

}  // namespace oracle
