// SPDX-License-Identifier: MIT
// denseam: random-feature maps of the Gaussian kernel and the distributed memory (DrDAM) built
// on them: one vector T of Y features holds any number of patterns.
//
//   kernel      k(x, y) = exp(-beta/2 ||x - y||^2)          (the lse kernel of kernels.hpp)
//   features    k(x, y) ~ <phi(x), phi(y)>,  phi : R^d -> R^Y, random, seeded
//   memory      T = sum_mu phi(xi_mu)                         (Y doubles, whatever M is)
//   energy      E~(x) = -(1/beta) log <phi(x), T>            ~ the lse energy of the patterns
//
// The projections omega_i = sqrt(beta) s_i, s_i ~ N(0, I_d), are regenerated from (seed, row)
// block by block whenever they are needed, never stored (unless cache_projections is set):
// the memory holds O(Y) numbers plus a block. docs/drdam.md has the math and the choice of map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "denseam/energy.hpp"
#include "denseam/exec.hpp"
#include "denseam/matrix_view.hpp"
#include "denseam/retrieval.hpp"

namespace denseam {

/// The random-feature map phi of the Gaussian kernel exp(-beta/2 ||x - y||^2); u_i = omega_i.x.
///   fourier        sqrt(2/Y) [cos u_1, sin u_1, ..., cos u_{Y/2}, sin u_{Y/2}]  (Y/2 projections,
///                  Y even; the reference's default "SinCos"). Bounded features; <phi(x), T> can
///                  be <= 0 far from every pattern.
///   fourier_phase  sqrt(2/Y) [cos(u_i + b_i)], b_i ~ U[0, 2 pi)  (Y projections; "Cos"). About
///                  as accurate as fourier at equal Y (docs/drdam.md), for twice the projections.
///   positive       Y^-1/2 [exp(u_i - beta ||x||^2)]  (Y projections; Performer's positive
///                  features, "Exp"). <phi(x), T> > 0 always; relative error grows with the
///                  distance to the patterns.
enum class feature_kind { fourier, fourier_phase, positive };

/// "fourier", "fourier-phase", "positive".
std::string_view to_string(feature_kind k) noexcept;
/// Parses the names of to_string (also "fourier_phase", "sincos" for fourier, "cos" for
/// fourier_phase, "exp" for positive). @throws denseam::invalid_argument naming the choices.
feature_kind parse_feature_kind(std::string_view name);

/// What defines a feature map: with the same parameters (and dim) the map is the same, bit for
/// bit, on every machine, at every thread count and with or without cached projections.
struct feature_params {
    feature_kind kind = feature_kind::fourier;
    /// Y: the number of features, the length of T (fourier: even; >= 2).
    std::int64_t n_features = 65536;
    /// beta > 0: the kernel's inverse variance; the projections are sqrt(beta) s_i.
    double beta = 1.0;
    std::uint64_t seed = 0;
    /// Orthogonal random features: the s_i come in groups of dim mutually orthogonal
    /// directions (Haar-random), each scaled by an independent chi_dim norm, so that every s_i
    /// is still N(0, I). Lower variance; regenerating a group costs a dim x dim QR (O(dim^3)),
    /// so for large dim use cache_projections.
    bool orthogonal = false;
};

/// The number of random projections (rows omega_i) of a map: Y/2 for fourier, Y otherwise.
std::int64_t n_projections(const feature_params& params) noexcept;

/// Throws denseam::invalid_argument for a bad kind/Y/beta (one line naming the value).
void validate(const feature_params& params, std::int64_t dim);

/// The projections s_i (unscaled, N(0, I)), rows [first, first + out.rows) of the map's
/// n_projections x dim matrix, as float: exactly the values every computation uses. `out` has
/// dim columns. Cost: O(rows * dim) (orthogonal: plus the QR of each group touched).
void projections(const feature_params& params,
                 std::int64_t dim,
                 std::int64_t first,
                 matrix_view<float> out);

/// The random phases b_i of fourier_phase (n_projections values in [0, 2 pi)); empty otherwise.
/// @throws denseam::invalid_argument for bad params.
std::vector<double> phases(const feature_params& params);

/// phi(x) for each row of x (n x dim) into out (n x Y), in double. For checking and teaching;
/// the memory never forms phi of its queries. @throws denseam::invalid_argument on bad shapes.
void feature_map(const feature_params& params,
                 matrix_view<const double> x,
                 matrix_view<double> out,
                 const exec_options& exec = {});

/// Options of a distributed_memory that change speed and memory, never a result.
struct distributed_options {
    /// Keep the n_projections x dim float projections (4 * Y * dim bytes for positive and
    /// fourier_phase, half for fourier) instead of regenerating them at each call.
    bool cache_projections = false;
};

/// Per-query status of an approximate energy: ok, or unsupported where <phi(x), T> <= 0
/// (fourier maps far from the patterns, or an empty memory): energy +inf, gradient 0.
using feature_energy_status = energy_status;

/// A Dense Associative Memory in distributed form (DrDAM): the patterns are summed into one
/// vector T of Y random features; adding or removing a pattern changes T, never its size.
///
///   E~(x) = -(1/beta) log <phi(x), T>
///   grad E~(x) = -(1/beta) J_phi(x)^T T / <phi(x), T>
///
/// As Y grows, E~ and its gradient converge to the lse energy E(x) = -(1/beta) log sum_mu
/// exp(-beta/2 ||x - xi_mu||^2) and its gradient, with errors of order 1/sqrt(Y) (relative to
/// the kernel sum).
///
/// Thread safety: const member functions may be called from several threads at once; add,
/// remove and set_options need exclusive access. Results do not depend on the thread count.
class distributed_memory {
  public:
    /// An empty memory (T = 0) of patterns of dimension dim >= 1.
    /// @throws denseam::invalid_argument for dim < 1 or bad params; for cache_projections, if
    ///         the cache would not fit in the machine's memory.
    distributed_memory(std::int64_t dim,
                       const feature_params& params,
                       const distributed_options& options = {});

    /// T += sum_i phi(patterns_i) (patterns: n x dim, finite). The features are computed and
    /// summed in double, in a fixed order. positive maps: a pattern with beta ||xi||^2 > 700
    /// (whose features would underflow double) is refused.
    /// @throws denseam::invalid_argument naming the row at fault; T is unchanged on error.
    /// Cost: 2 n Y dim flops (a double GEMM) plus the projections.
    void add(matrix_view<const double> patterns, const exec_options& exec = {});
    void add(matrix_view<const float> patterns, const exec_options& exec = {});
    /// T -= sum_i phi(patterns_i): undoes add() of the same patterns (to rounding). The memory
    /// cannot tell whether they were added; it refuses to remove more patterns than it holds.
    void remove(matrix_view<const double> patterns, const exec_options& exec = {});
    void remove(matrix_view<const float> patterns, const exec_options& exec = {});
    /// Empties the memory (T = 0, size 0).
    void clear() noexcept;

    /// Approximate energies (and gradients) of a batch of queries (n x dim), in T's arithmetic
    /// for float, in double for double. grad may be an empty view; status may be empty.
    /// @throws denseam::invalid_argument on shape mismatch or non-finite queries;
    ///         denseam::interrupted when exec.interrupt says so.
    /// Cost: 2 n P dim flops for the energies (P = n_projections), twice that with the
    /// gradient, both through GEMM; plus regenerating the projections (unless cached).
    void energy_and_grad(matrix_view<const float> queries,
                         std::span<float> energy,
                         matrix_view<float> grad,
                         std::span<energy_status> status = {},
                         const exec_options& exec = {}) const;
    void energy_and_grad(matrix_view<const double> queries,
                         std::span<double> energy,
                         matrix_view<double> grad,
                         std::span<energy_status> status = {},
                         const exec_options& exec = {}) const;

    /// Gradient descent on E~: x <- x - alpha_t (grad E~(x) + sigma_t n) with the step-size and
    /// noise schedules, tol and clamped coordinates of retrieve_options (method must be
    /// gradient; a beta schedule is refused: beta is part of the map). A query where
    /// <phi(x), T> <= 0 stops with status out_of_support; energies are those of the final states.
    /// @throws denseam::invalid_argument for bad queries/options.
    template <class T>
    retrieve_result<T> retrieve(matrix_view<const T> queries,
                                const retrieve_options& options,
                                const exec_options& exec = {}) const;

    /// Number of patterns held (adds minus removes).
    std::int64_t size() const noexcept { return count_; }
    std::int64_t dim() const noexcept { return dim_; }
    const feature_params& params() const noexcept { return params_; }
    const distributed_options& options() const noexcept { return options_; }
    /// T, the Y features (double).
    std::span<const double> features() const noexcept { return features_; }
    /// Bytes this memory holds: T (8 Y) plus the projection cache, if any.
    std::int64_t bytes() const noexcept;
    /// Changes the options (builds or drops the projection cache). Not thread-safe.
    void set_options(const distributed_options& options);

    /// Writes the memory to a safetensors file (tensor "features", F64 [Y]; metadata: format,
    /// version, kind, n_features, beta (shortest round-trip text), seed, dim, count,
    /// orthogonal), atomically. @throws as write_safetensors.
    void save(const std::string& path) const;
    /// The bytes save() writes (for callers that write files their own way).
    std::vector<std::byte> to_bytes() const;
    /// Reads a file written by save(). @throws denseam::invalid_argument, one line naming the
    /// file, for a missing/corrupt/foreign file or inconsistent metadata.
    static distributed_memory load(const std::string& path,
                                   const distributed_options& options = {});
    /// Builds a memory from saved parts (validated as load does).
    static distributed_memory from_parts(std::int64_t dim,
                                         const feature_params& params,
                                         std::vector<double> features,
                                         std::int64_t count,
                                         const distributed_options& options = {});

    struct projection_cache;  ///< internal

  private:
    template <class T>
    void update(matrix_view<const T> patterns, double sign, const exec_options& exec);

    std::int64_t dim_ = 0;
    feature_params params_;
    distributed_options options_;
    std::vector<double> features_;
    std::int64_t count_ = 0;
    std::shared_ptr<const projection_cache> cache_;
};

/// The number of bytes of each design holding M patterns of dimension dim with the map `params`:
/// explicit memories (MrDAM, float: 4 M dim), this distributed memory (8 Y, T only) and the
/// reference implementation's (its stored float projection, n_projections x dim, plus a float
/// T: 4 P dim + 4 Y).
struct memory_footprint {
    std::int64_t explicit_bytes = 0;
    std::int64_t distributed_bytes = 0;
    std::int64_t reference_bytes = 0;
    /// The smallest M at which the distributed memory is smaller than the explicit one.
    std::int64_t break_even_patterns = 0;
};
/// @throws denseam::invalid_argument for n_patterns < 0, dim < 1 or bad params.
memory_footprint footprint(std::int64_t n_patterns, std::int64_t dim, const feature_params& params);

}  // namespace denseam
