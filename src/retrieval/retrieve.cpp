// SPDX-License-Identifier: MIT
// Public entry points of include/denseam/retrieval.hpp: validation and dispatch.
#include <cmath>
#include <numbers>
#include <string>

#include "denseam/error.hpp"
#include "denseam/retrieval.hpp"
#include "engine/validate.hpp"
#include "io/format.hpp"
#include "retrieval/methods.hpp"

namespace denseam {

double schedule::at(std::int64_t t, std::int64_t n_steps) const noexcept {
    switch (type) {
        case kind::constant:
            return start;
        case kind::cosine: {
            const double a = start != 0.0 ? end / start : 0.0;
            const double frac = n_steps > 0 ? std::min(1.0, static_cast<double>(t) / n_steps) : 1.0;
            return start * ((1.0 - a) * 0.5 * (1.0 + std::cos(std::numbers::pi * frac)) + a);
        }
        case kind::values:
            if (values.empty()) return 0.0;
            return values[static_cast<std::size_t>(
                std::min<std::int64_t>(t, static_cast<std::int64_t>(values.size()) - 1))];
    }
    return start;
}

std::string_view to_string(retrieval_method m) noexcept {
    return m == retrieval_method::fixed_point ? "fixed-point" : "gradient";
}

std::string_view to_string(retrieval_status s) noexcept {
    switch (s) {
        case retrieval_status::converged:
            return "converged";
        case retrieval_status::max_steps:
            return "max-steps";
        case retrieval_status::out_of_support:
            return "out-of-support";
        case retrieval_status::non_finite:
            return "non-finite";
        case retrieval_status::not_minimum:
            return "not-minimum";
    }
    return "unknown";
}

retrieval_method parse_method(std::string_view name) {
    if (name == "fixed-point" || name == "fixed_point") return retrieval_method::fixed_point;
    if (name == "gradient") return retrieval_method::gradient;
    throw invalid_argument("unknown retrieval method '" + std::string(name) +
                           "' (choose fixed-point or gradient)");
}

std::string_view to_string(gradient_precision p) noexcept {
    return p == gradient_precision::single ? "single" : "state";
}

gradient_precision parse_precision(std::string_view name) {
    if (name == "state" || name == "double") return gradient_precision::state;
    if (name == "single" || name == "float") return gradient_precision::single;
    throw invalid_argument("unknown gradient precision '" + std::string(name) +
                           "' (choose state or single)");
}

namespace {

void check_schedule(const schedule& s, const char* what) {
    auto bad = [&](double v) { return !std::isfinite(v); };
    if (bad(s.start) || bad(s.end))
        throw invalid_argument(std::string(what) + " schedule has a non-finite value");
    for (double v : s.values)
        if (bad(v)) throw invalid_argument(std::string(what) + " schedule has a non-finite value");
    if (s.type == schedule::kind::values && s.values.empty())
        throw invalid_argument(std::string(what) + " schedule has no values");
}

}  // namespace

namespace detail {

void check_retrieve_options(const retrieve_options& options, std::int64_t dim) {
    if (options.max_steps < 0)
        throw invalid_argument("max_steps must be >= 0 (got " + std::to_string(options.max_steps) +
                               ")");
    if (!std::isfinite(options.tol) || options.tol < 0.0)
        throw invalid_argument("tol must be finite and >= 0 (got " + detail::shortest(options.tol) +
                               ")");
    for (auto c : options.clamp)
        if (c < 0 || c >= dim)
            throw invalid_argument("clamped coordinate " + std::to_string(c) +
                                   " is out of range for dimension " + std::to_string(dim));
    check_schedule(options.step_size, "step size");
    check_schedule(options.noise, "noise");
    check_schedule(options.beta, "beta");
    if (options.beta.type != schedule::kind::constant || options.beta.start > 0.0) {
        bool ok = options.beta.start > 0.0 || options.beta.type == schedule::kind::values;
        for (double v : options.beta.values) ok = ok && v > 0.0;
        if (options.beta.type == schedule::kind::cosine) ok = ok && options.beta.end > 0.0;
        if (!ok) throw invalid_argument("beta schedule values must be > 0");
    }
}

}  // namespace detail

namespace detail {

template <class T>
retrieve_result<T> retrieve_indexed(matrix_view<const T> memories,
                                    matrix_view<const T> queries,
                                    const energy_params& params,
                                    const retrieve_options& options,
                                    const exec_options& exec,
                                    const range_index<T>* index) {
    validate(params);
    const double coord_max = detail::check_memories_queries(memories, queries);
    detail::check_energy_range(memories, coord_max, params);
    detail::check_retrieve_options(options, queries.cols);
    const detail::retrieval_call<T> call{memories, queries, params, options, exec, index};
    if (options.method == retrieval_method::fixed_point) {
        if (!options.clamp.empty())
            throw invalid_argument("clamped coordinates need method 'gradient'");
        switch (params.kernel) {
            case kernel_kind::lsr:
                return detail::lsr_fixed_point(call);
            case kernel_kind::poly:
            case kernel_kind::tophat:
                throw invalid_argument("kernel '" + std::string(to_string(params.kernel)) +
                                       "' has no fixed-point iteration; use method 'gradient'");
            default:
                if (resolved_q(params) != q_kind::log)
                    throw invalid_argument("the fixed-point iteration needs Q = log");
                return detail::mean_shift(call);
        }
    }
    return detail::gradient_descent(call);
}

template retrieve_result<float> retrieve_indexed(matrix_view<const float>,
                                                 matrix_view<const float>,
                                                 const energy_params&,
                                                 const retrieve_options&,
                                                 const exec_options&,
                                                 const range_index<float>*);
template retrieve_result<double> retrieve_indexed(matrix_view<const double>,
                                                  matrix_view<const double>,
                                                  const energy_params&,
                                                  const retrieve_options&,
                                                  const exec_options&,
                                                  const range_index<double>*);

}  // namespace detail

template <class T>
retrieve_result<T> retrieve(matrix_view<const T> memories,
                            matrix_view<const T> queries,
                            const energy_params& params,
                            const retrieve_options& options,
                            const exec_options& exec) {
    return detail::retrieve_indexed(memories,
                                    queries,
                                    params,
                                    options,
                                    exec,
                                    static_cast<const detail::range_index<T>*>(nullptr));
}

template retrieve_result<float> retrieve(matrix_view<const float>,
                                         matrix_view<const float>,
                                         const energy_params&,
                                         const retrieve_options&,
                                         const exec_options&);
template retrieve_result<double> retrieve(matrix_view<const double>,
                                          matrix_view<const double>,
                                          const energy_params&,
                                          const retrieve_options&,
                                          const exec_options&);

}  // namespace denseam
