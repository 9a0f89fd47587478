// SPDX-License-Identifier: MIT
// Names, parsing and validation of the energy parameters (include/denseam/kernels.hpp).
#include <array>
#include <cmath>
#include <span>
#include <string>

#include "denseam/error.hpp"
#include "denseam/exec.hpp"
#include "denseam/kernels.hpp"
#include "io/format.hpp"
#include "kernels/policies.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace denseam {

namespace {
// Kernel names come from the policies (src/kernels/policies.hpp), in enum order.
constexpr auto kernel_name_table = [] {
    std::array<std::string_view, detail::kernel_count> names{};
    for (std::size_t i = 0; i < names.size(); ++i) names[i] = detail::kernel_table[i].name;
    return names;
}();
constexpr std::array<std::string_view, 3> q_name_table = {"auto", "log", "identity"};

std::string join_names(std::span<const std::string_view> names) {
    std::string out;
    for (auto n : names) {
        if (!out.empty()) out += ", ";
        out += n;
    }
    return out;
}
}  // namespace

std::string_view to_string(kernel_kind k) noexcept {
    const auto* info = detail::find_kernel_info(k);
    return info ? info->name : std::string_view("?");
}

std::string_view to_string(q_kind q) noexcept {
    return q_name_table[static_cast<std::size_t>(q)];
}

kernel_kind parse_kernel(std::string_view name) {
    for (std::size_t i = 0; i < kernel_name_table.size(); ++i)
        if (kernel_name_table[i] == name) return static_cast<kernel_kind>(i);
    throw invalid_argument("unknown kernel '" + std::string(name) +
                           "' (choose one of: " + join_names(kernel_name_table) + ")");
}

q_kind parse_q(std::string_view name) {
    for (std::size_t i = 0; i < q_name_table.size(); ++i)
        if (q_name_table[i] == name) return static_cast<q_kind>(i);
    throw invalid_argument("unknown Q '" + std::string(name) +
                           "' (choose one of: " + join_names(q_name_table) + ")");
}

std::vector<std::string> kernel_names() {
    return {kernel_name_table.begin(), kernel_name_table.end()};
}

bool has_compact_support(kernel_kind k) noexcept {
    const auto* info = detail::find_kernel_info(k);
    return info && info->compact;
}

bool uses_distance(kernel_kind k) noexcept {
    const auto* info = detail::find_kernel_info(k);
    return info && info->distance;
}

q_kind resolved_q(const energy_params& p) noexcept {
    if (p.q != q_kind::automatic) return p.q;
    return uses_distance(p.kernel) ? q_kind::log : q_kind::identity;
}

void validate(const energy_params& p) {
    if (static_cast<std::size_t>(p.kernel) >= kernel_name_table.size())
        throw invalid_argument("invalid kernel enum value");
    if (!std::isfinite(p.beta) || !(p.beta > 0.0))
        throw invalid_argument("beta must be finite and > 0 (got " + detail::shortest(p.beta) +
                               ")");
    if (!std::isfinite(p.eps) || p.eps < 0.0)
        throw invalid_argument("eps must be finite and >= 0 (got " + detail::shortest(p.eps) + ")");
    if (p.degree < 1)
        throw invalid_argument("degree must be >= 1 (got " + std::to_string(p.degree) + ")");
}

energy_params make_energy_params(
    std::string_view kernel, double beta, double eps, std::string_view q, int degree) {
    energy_params p;
    p.kernel = parse_kernel(kernel);
    p.beta = beta;
    p.eps = eps;
    p.q = parse_q(q);
    p.degree = degree;
    validate(p);
    return p;
}

int resolved_threads(const exec_options& opts) noexcept {
    if (opts.n_threads > 0) return opts.n_threads;
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void validate(const exec_options& opts) {
    if (opts.n_threads < 0)
        throw invalid_argument("n_threads must be >= 0 (0: the OpenMP default), got " +
                               std::to_string(opts.n_threads));
}

}  // namespace denseam
