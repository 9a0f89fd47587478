// SPDX-License-Identifier: MIT
// denseam: the paper's experiments as library functions (the CLI, Python and tests run these).
// Output fields and their mapping to the reference experiments: docs/experiments.md.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "denseam/beta.hpp"
#include "denseam/features.hpp"
#include "denseam/gmm.hpp"
#include "denseam/minima.hpp"
#include "denseam/minima_search.hpp"
#include "denseam/retrieval.hpp"

namespace denseam {

/// The content of a pattern set as 16 hex digits (64-bit FNV-1a over its shape and its float64
/// values, row by row). Resume keys of the experiments include it for sets read from files, so
/// a changed file never resumes from the lines of the old one. Cost: O(M d).
std::string pattern_set_hash(matrix_view<const double> patterns);

// ---- Fig. 1 (paper.md 3.1) -------------------------------------------------------------------

/// One panel of the paper's Fig. 1 (paper.md section 3.1).
struct fig1_panel {
    std::string name;  ///< "1d-lsr", "1d-lse" or "2d-lsr"
    energy_params params;
    std::int64_t dim = 1;
    std::vector<double> patterns;  ///< (n_patterns x dim)
    /// The TRUE minima (exact: find_lsr_minima() for LSR, find_minima_1d() for LSE), in the
    /// search_result container: n_starts = 0, hits = 0. `stored` means: LSR, the support is one
    /// pattern; LSE, within 0.1 of a pattern (the reference's "preserved" rule; LSE never has a
    /// minimum exactly at a pattern). `hessian_min_eigenvalue` is |S|/Z for LSR and E'' for LSE.
    search_result search;
    std::vector<double> basin_radius;  ///< LSR: Thm. 2 radius r* per minimum; LSE: empty
    std::vector<flat_interval> flat;   ///< 1-D: constant-energy intervals (supported region)
    std::string method;                ///< "exact-lsr" or "exact-1d"
    int paper_minima = 0;              ///< true minimum count stated in paper.md 3.1 / V1 / V3
    int paper_emergent = 0;            ///< of which emergent (LSR) / away from the patterns (LSE)
    /// Landscape (only with fig1_options::landscapes): energies on the paper's grid,
    /// (grid_y.size() x grid_x.size()) row-major; grid_y is empty in 1-D. `unsupported` is 1
    /// where no pattern supports the point (LSR: the plateau -(1/beta) log eps).
    std::vector<double> grid_x, grid_y, energy;
    std::vector<std::uint8_t> unsupported;
};

struct fig1_result {
    std::vector<fig1_panel> panels;
};

/// Options of run_fig1().
struct fig1_options {
    bool landscapes = false;  ///< also evaluate the energies on the paper's grids
    int n_1d = 200;           ///< points on [-2.1, 2.1] (paper: 200)
    int n_2d = 200;           ///< points per axis on [-3, 3] x [-3.5, 2] (paper: 200 x 200)
};

/// Fig. 1: the 1-D pair {-1, +1} (LSR at beta 0.4, 0.9, 2.1 with Fig. 1's eps = 1e-6; LSE at
/// beta 0.4, 1.5, 4.11) and the 2-D equilateral triangle (-1,0), (1,0), (0,-sqrt 3) (LSR at beta
/// 0.3, 0.6, 1.1, 2.1). The minima are exact: every LSR minimum from the enumerator
/// (find_lsr_minima), the LSE minima from the exact 1-D analysis (find_minima_1d), so none is a
/// grid artefact and none is missed. Counts 1,3,2 / 1,2,2 / 1,4,7,3 with 1,1,0 / 1,2,0 / 1,1,4,0
/// emergent. Cost: milliseconds, plus 40,000 energies per 2-D landscape.
fig1_result run_fig1(const exec_options& exec = {});
fig1_result run_fig1(const fig1_options& options, const exec_options& exec = {});

/// The result as a JSON document (field names documented in docs/experiments.md).
std::string to_json(const fig1_result& r);

// ---- LMIN0: counting every minimum of random pattern sets (paper.md 3.2) -------------------

/// How LMIN0 draws its pattern sets.
///   reference  the authors' generator (paper.md 2.3): 3M points uniform in [0,1)^d, sorted
///              lexicographically (with duplicates removed), the first M kept. Biased: the
///              first coordinate is confined to about [0, 1/3]. Exists to reproduce the paper.
///   uniform    M points uniform in [0,1)^d.
/// Both use std::mt19937_64 seeded with `seed` (53-bit doubles from the top bits); JAX's
/// threefry streams cannot be reproduced, so the sets differ from the paper's draw by draw.
enum class lmin0_generator { reference, uniform };
std::string_view to_string(lmin0_generator g) noexcept;  ///< "reference", "uniform"
/// Parse "reference", "uniform"; throws denseam::invalid_argument naming the choices.
lmin0_generator parse_lmin0_generator(std::string_view name);

/// M x d pattern set (row-major) drawn by `g`. @throws invalid_argument unless M, d >= 1.
std::vector<double> generate_patterns(lmin0_generator g,
                                      std::int64_t n_patterns,
                                      std::int64_t dim,
                                      std::uint64_t seed);

/// `n` betas over [beta_min, beta_max] of beta_range() (beta.hpp: 2/d .. 8/r_min^2): linear
/// (np.linspace, the reference's code) or geometric (np.geomspace, the paper's text); the last
/// point is beta_max exactly, where the closest pair's supports are tangent (degenerate: see
/// docs/experiments.md). n = 1 gives beta_min. @throws invalid_argument for n < 1.
std::vector<double> lmin0_betas(const beta_range_result& range, int n, bool geometric);

/// One LMIN0 result line (one pattern set at one beta), with the reference's field names.
struct lmin0_row {
    double beta = 0.0;
    /// beta_min, beta_max; JSON r_min = range.radius_min (the reference's R_min = half the
    /// closest distance), r_max = range.radius_max = sqrt(d), min_distance = range.r_min.
    beta_range_result range;
    std::int64_t num_old_mems = 0;  ///< stored minima (distinct points, exact)
    std::int64_t num_new_mems = 0;  ///< emergent minima
    /// Share of [0,1)^d within R of some pattern: support_coverage() (beta.hpp) with
    /// num_vol_samples Monte-Carlo samples of a fixed seed, one pass for every beta.
    double vol_coverage = 0.0;
    std::int64_t num_vol_samples = 0;
    std::int64_t n_patterns = 0, dim = 0;  ///< M, d
    std::uint64_t seed = 0;
    int nbetas = 0, beta_idx = 0;
    std::string generator;        ///< "reference", "uniform" or "file"
    std::string patterns;         ///< the .npy path for "file", else empty
    std::string patterns_hash;    ///< pattern_set_hash() of the set (filled by run_lmin0)
    std::string grid;             ///< "linear", "geometric" or "list"
    std::int64_t candidates = 0;  ///< subsets examined by the exact pass (shared by its betas)
    std::string status;           ///< minima_status of the pass ("complete" unless limited)
    double seconds = 0.0;         ///< wall time of the pattern set's pass + coverage (shared)
};

/// Options of run_lmin0().
struct lmin0_options {
    /// Betas to evaluate. Empty: the grid lmin0_betas(range, nbetas, geometric) of the set.
    std::vector<double> betas;
    int nbetas = 50;
    bool geometric = false;
    /// Of the grid, evaluate only these indices (empty: all). Lets a resumed sweep skip betas.
    std::vector<int> only;
    std::int64_t vol_samples = 1000000;  ///< 0 skips the coverage (vol_coverage NaN)
    std::uint64_t vol_seed = 0;          ///< fixed for every beta, like the reference
    std::int64_t max_candidates = 0;     ///< passed to the enumerator (0 = no limit)
    minima_progress progress;            ///< progress of the exact pass
};

/// LMIN0 for one pattern set: the exact stored/emergent counts at every beta from ONE pass
/// (count_lsr_minima_at) and the coverage of every beta from one nearest-pattern pass
/// (support_coverage, unit cube). Fills
/// every field but seed, generator and patterns (the caller knows them).
/// @throws invalid_argument for bad patterns/options.
std::vector<lmin0_row> run_lmin0(matrix_view<const double> patterns,
                                 const lmin0_options& options = {},
                                 const exec_options& exec = {});

/// One JSON line (no trailing newline) with the reference's field names plus ours.
std::string to_json(const lmin0_row& row);

/// The configuration an LMIN0 line answers, as a key: generator, M, d, seed and beta, plus the
/// patterns' content hash for sets read from a file. A resumed sweep skips the configurations
/// whose key is already in its output.
std::string resume_key(const lmin0_row& row);
/// resume_key() of an LMIN0 JSON line. @throws invalid_argument naming the missing or
/// malformed field when `line` is not an LMIN0 result line.
std::string lmin0_line_key(std::string_view line);

// ---- AKEM: emergence for every kernel in 1-D (paper.md 3.4) -------------------------------

/// One AKEM panel: two patterns at -1, +1 under one kernel at half-width h.
struct akem_panel {
    kernel_kind kernel = kernel_kind::lsr;
    double h = 0.0;
    energy_params params;           ///< beta = 2/h^2 (compact kernels, R = h) or 1/h^2 (lse)
    minima_1d_result minima;        ///< the true strict minima and the flat intervals
    std::int64_t near_pattern = 0;  ///< strict minima within novelty_threshold of a pattern
    std::int64_t emergent = 0;      ///< strict minima farther than that (minimum_1d::novel)
    std::int64_t flat_minima = 0;   ///< flat intervals that are (non-strict) minima
    double flat_length = 0.0;       ///< total length of all flat intervals
    /// Paper Def. 2 in this panel: every pattern keeps a strict minimum within
    /// novelty_threshold of it AND there is an emergent one (a single minimum left after the
    /// bumps merge is not emergence).
    bool global_emergence = false;
    std::vector<double> energy;  ///< on akem_result::grid (+inf where unsupported)
};

struct akem_options {
    /// Paper order: Gaussian, Triangle, Uniform, Triweight, Quartic, Tricube, Cosine,
    /// Epanechnikov.
    std::vector<kernel_kind> kernels = {kernel_kind::lse,
                                        kernel_kind::triangle,
                                        kernel_kind::tophat,
                                        kernel_kind::triweight,
                                        kernel_kind::quartic,
                                        kernel_kind::tricube,
                                        kernel_kind::cosine,
                                        kernel_kind::lsr};
    std::vector<double> widths = {0.2, 0.5, 1.5, 1.9, 2.0, 2.3, 3.0};
    double novelty_threshold = 0.1;
    int grid_points = 1000;  ///< landscape on [-2, 2] (0: none)
};

struct akem_result {
    std::vector<double> centers = {-1.0, 1.0};
    std::vector<double> grid;        ///< landscape abscissae
    std::vector<akem_panel> panels;  ///< kernel-major: panels[k * widths + w]
    std::int64_t n_kernels = 0, n_widths = 0;
};

/// AKEM: exact minima (find_minima_1d) of every kernel x half-width. Cost: milliseconds.
akem_result run_akem(const akem_options& options = {}, const exec_options& exec = {});

/// The paper's name of a kernel in the AKEM figure ("Gaussian", "Epanechnikov", ...).
std::string_view akem_kernel_name(kernel_kind k) noexcept;

/// The result as a JSON document (docs/experiments.md).
std::string to_json(const akem_result& r);

// ---- LOGL0: are emergent memories good samples? (paper.md 3.3) ----------------------------

/// Options of run_logl0(): one pattern set, one energy, some betas of its grid.
struct logl0_options {
    kernel_kind energy = kernel_kind::lsr;  ///< lsr (exact fixed point) or lse (gradient descent)
    int nbetas = 20;                        ///< geometric grid over [2/d, 8/r_min^2]
    std::vector<int> only;                  ///< grid indices to evaluate (empty: all)
    std::int64_t n_queries = 500;           ///< N queries per stored pattern
    sampler_kind sampler = sampler_kind::shell;
    std::uint64_t query_seed = 0;  ///< seed of sample_around (the same for every beta/energy)
    std::int64_t depth = 13000;    ///< LSE: gradient steps (the reference's depth)
    double lr_start = 0.01, lr_end = 1e-5;  ///< LSE: schedule::cosine(lr_start, lr_end)
    double tol = 1e-6;  ///< LSE: a query stops once max|grad| < tol (0: fixed depth)
    /// LSE: gradient arithmetic; single = float32 like the reference (state kept in double).
    gradient_precision precision = gradient_precision::single;
    double novelty_threshold = 0.1;  ///< novel = farther than this from every pattern
    /// LSE sound recoverability: pattern mu counts when the mean-shift fixed point started at
    /// xi_mu converges (max|grad| < tol, at most `depth` iterations) within recover_distance
    /// of xi_mu.
    double recover_distance = 0.1;
    double dedup_tol = 1e-3;  ///< LSE: converged states closer than this are one minimum
    bool samples = true;      ///< keep the per-sample log-likelihoods and novelty flags
};

/// One LOGL0 result line (one pattern set, energy and beta), the reference's field names.
struct logl0_row {
    double beta = 0.0;
    int beta_idx = 0, nbetas = 0;
    beta_range_result range;
    std::string energy;  ///< "lsr" or "lse"
    double og_mems_avg_gradnorm = 0.0;
    std::int64_t og_mems_recoverable = 0;        ///< LSR exact; LSE: ||grad||/sqrt(beta) < 0.1
    std::int64_t og_mems_recoverable_sound = 0;  ///< LSR: = og_mems_recoverable; LSE: see options
    double avg_novelty_distance = 0.0;
    /// LSR: distinct support sets reached; LSE: the reference's truncated grid cells.
    std::int64_t num_unique_retrievals = 0;
    std::int64_t num_unique_points = 0;  ///< LSR: bitwise-distinct states (= support sets)
    std::int64_t num_unique_minima = 0;  ///< LSE: distinct converged states (within dedup_tol)
    std::int64_t num_novel = 0;
    double avg_logl = 0.0;
    std::vector<double> sample_logl;  ///< rounded to 4 decimals (empty unless options.samples)
    std::vector<std::uint8_t> sample_is_novel;
    std::int64_t num_queries = 0;      ///< M * N
    std::int64_t num_dropped = 0;      ///< rows with NaN/Inf (dropped from every metric)
    std::int64_t num_converged = 0;    ///< LSE: stopped early (max|grad| < tol); LSR: true minima
    std::int64_t num_unsupported = 0;  ///< LSR: queries outside every support (left as is)
    double mean_steps = 0.0;           ///< gradient steps / support-set evaluations per query
    double seconds = 0.0;              ///< wall time of this beta
    // Arguments (filled by the caller where it knows them).
    std::int64_t k = 0, dim = 0, n_patterns = 0, n_per_pattern = 0, depth = 0;
    double true_sigma = 0.0, lr_start = 0.0, lr_end = 0.0, tol = 0.0;
    std::string precision;  ///< LSE: "single" or "double" gradient arithmetic; LSR: "double"
    std::uint64_t seed = 0;
    std::string sampler, patterns;
    std::string patterns_hash;  ///< pattern_set_hash() for a set read from a file, else empty
};

/// LOGL0 for one pattern set (M x d) under the true distribution `gmm`: per beta of the
/// geometric grid, queries around every pattern at R = sqrt(2/beta), retrieval (LSR: exact
/// fixed point; LSE: cosine-schedule gradient descent with per-query early stopping) and the
/// metrics of paper.md 3.3 plus sound ones. Fills every field but k, true_sigma, seed and
/// patterns. @throws invalid_argument for bad patterns/options.
std::vector<logl0_row> run_logl0(matrix_view<const double> patterns,
                                 const gaussian_mixture& gmm,
                                 const logl0_options& options = {},
                                 const exec_options& exec = {});

/// The pattern set and GMM of one LOGL0 run: gmm = gaussian_mixture::random(k, d, sigma, seed),
/// patterns = gmm.sample(M, logl0_pattern_seed(seed)); queries use logl0_query_seed(seed).
std::uint64_t logl0_pattern_seed(std::uint64_t seed) noexcept;
std::uint64_t logl0_query_seed(std::uint64_t seed) noexcept;
/// The `precision` field of a LOGL0 row: "single" or "double" gradient arithmetic for LSE,
/// "double" for LSR (exact fixed point).
std::string_view logl0_precision_name(kernel_kind energy, gradient_precision p) noexcept;

/// One JSON line (no trailing newline) with the reference's field names plus ours.
std::string to_json(const logl0_row& row);

/// The configuration a LOGL0 line answers, as a key: every argument that changes its result
/// (k, d, M, seed, true_sigma, energy, nbetas, beta_idx, N, sampler, depth, lr_start, lr_end,
/// tol, precision, and the patterns' content hash for a set read from a file).
std::string resume_key(const logl0_row& row);
/// resume_key() of a LOGL0 JSON line. @throws invalid_argument when `line` is not a LOGL0
/// result line.
std::string logl0_line_key(std::string_view line);

/// A LOGL0 sweep: every (k, d, M, seed) pattern set under every energy.
struct logl0_sweep {
    std::vector<std::int64_t> ks, ds, ms;
    std::vector<std::uint64_t> seeds;
    std::vector<kernel_kind> energies;
    std::int64_t n_per_pattern = 500;  ///< N
    int nbetas = 20;
};
/// The paper's sweep ("paper": k in {5, 10}, d in {8, 16}, M in {25, 100}, seeds 3-7, LSR and
/// LSE, N = 500, 20 betas: 1,600 runs) or the main job's ("reduced": the paper's headline panel,
/// k = 10, d = 8, M = 25, seeds 3-7, both energies, N = 500, 20 betas: 200 runs).
/// @throws invalid_argument for another name.
logl0_sweep logl0_sweep_preset(std::string_view name);

// ---- BSTOR: every training image stored at once (paper.md 3.5) ----------------------------

/// Options of run_bstor().
struct bstor_options {
    double beta = 0.11;     ///< the paper's (R = sqrt(2/beta) = 4.264 for 784-d pixels in [0, 1])
    double preserve = 0.5;  ///< target share of preserved images for bstor_result::beta_for_share
    /// The seed image: the reference's hard-coded 38, or -1 for a preserved image drawn with
    /// `seed` (the paper's "random seed image").
    std::int64_t seed_index = 38;
    std::int64_t sub_size = 16;  ///< the sub-memory: the seed + (sub_size - 1) interacting images
    std::uint64_t seed = 10;     ///< the draw of the sub-memory and of the retrieval starts
    /// The reference draws the sub-memory with replacement from the interacting images
    /// (including the seed itself); the default draws distinct images other than the seed.
    bool with_replacement = false;
    /// Random fixed-point starts for the full memory's emergent minima near the seed (besides the
    /// sub-memory's minima, which are always used as starts); 0: skip the full-memory search.
    std::int64_t n_starts = 64;
    /// Progress: (stage, done, total), stage "neighbours" or "retrieval"; calling thread only.
    std::function<void(std::string_view stage, std::int64_t done, std::int64_t total)> progress;
};

/// A minimum of the sub-memory, checked against the full memory.
struct bstor_sub_minimum {
    minimum m;                                 ///< support: indices into bstor_result::sub_indices
    std::vector<std::int64_t> support_images;  ///< the same support as image indices
    /// Strict support of m.position over ALL N images: {j : ||x - xi_j||^2 < R^2}.
    std::vector<std::int64_t> full_support;
    bool on_boundary = false;  ///< some image lies exactly at distance R
    /// A strict minimum of the full N-image energy: no image on the boundary and the full support
    /// has the same distinct images as the sub-memory support, with proportional multiplicities
    /// (so its mean is m.position).
    bool full_minimum = false;
};

/// Result of run_bstor(). Fields and the reference: docs/experiments.md, "BSTOR".
struct bstor_result {
    std::int64_t n = 0, dim = 0;
    double beta = 0.0, radius = 0.0;
    /// Per image: squared distance to its nearest distinct image (+inf if none) and the number
    /// of exact duplicates (nearest_distinct_neighbours()).
    std::vector<double> nn_sq_distance;
    std::vector<std::int64_t> duplicates;
    std::int64_t with_duplicates = 0;  ///< images with at least one exact duplicate
    std::int64_t rechecked = 0;        ///< rows scanned in double by the neighbour pass
    /// Image i is preserved (an exact fixed point, a strict minimum) at beta iff no distinct image
    /// lies strictly inside R: nn_sq_distance[i] >= 2 / beta.
    std::int64_t preserved = 0;
    double preserved_fraction = 0.0;
    /// The preserved count as a step function of beta: preserved(beta) = curve_count[k] for
    /// curve_beta[k] <= beta < curve_beta[k+1] and curve_floor below curve_beta[0]. Each
    /// curve_beta is the smallest double beta at which 2 / beta <= nn_sq_distance of an image, so
    /// the curve is exact at every double beta, breakpoints included.
    std::vector<double> curve_beta;
    std::vector<std::int64_t> curve_count;
    std::int64_t curve_floor = 0;  ///< images preserved at every beta (only duplicates or alone)
    double preserve = 0.0;         ///< the target share asked for
    double beta_for_share = 0.0;   ///< smallest beta preserving at least ceil(preserve N) images
    std::int64_t seed_index = 0;
    bool seed_preserved = false;
    std::int64_t seed_interacting = 0;      ///< OTHER images closer than 2R to the seed
    std::vector<std::int64_t> sub_indices;  ///< the sub-memory (seed first)
    minima_result sub_minima;               ///< every minimum of the sub-memory, exactly
    std::vector<bstor_sub_minimum> sub;     ///< per sub-memory minimum (same order)
    std::int64_t sub_full_minima = 0;       ///< sub-memory minima that are full-memory minima
    /// Emergent minima of the FULL memory found by exact fixed-point retrieval over all N images
    /// from the sub-memory minima and n_starts random points between the seed and interacting
    /// images; distinct support sets, sorted by support size then indices. support = image
    /// indices; stored = false; basin_radius NaN.
    std::vector<minimum> full_emergent;
    std::int64_t starts = 0;              ///< fixed-point starts run
    std::int64_t starts_stored = 0;       ///< of which ended at a stored image
    std::int64_t starts_not_minimum = 0;  ///< of which ended with an image on a boundary
    double seconds_neighbours = 0.0, seconds = 0.0;
    /// preserved count at `beta` from the curve (the same rule as `preserved`).
    std::int64_t preserved_at(double beta) const noexcept;
};

/// BSTOR: all N images as one LSR memory (eps = 0). The preserved count and curve come from one
/// exact all-pairs nearest-neighbour pass; then the seed image, its interacting images, the
/// sub-memory's exact minima each checked against the full memory, and the full memory's own
/// emergent minima near the seed.
/// @param images (N x d), N >= 2, finite
/// @throws denseam::invalid_argument for bad images or options (seed_index outside [-1, N),
///         beta <= 0, preserve outside (0, 1], sub_size < 1, n_starts < 0).
/// Cost: the neighbour pass (N^2 d flops in float), O(N d) per seed row and per check,
/// retrieval O(steps N d) per start.
bstor_result run_bstor(matrix_view<const double> images,
                       const bstor_options& options = {},
                       const exec_options& exec = {});

/// The result as JSON (docs/experiments.md): counts, curve, seed, sub-memory minima with their
/// full-memory checks, full-memory emergent minima (supports; positions go to .npy files).
std::string to_json(const bstor_result& r);

// ---- PXLE: pixel-space emergence (paper.md 3.6) --------------------------------------------

struct pxle_options {
    std::int64_t n_images = 8;
    std::uint64_t seed = 2;
    bool with_replacement = false;  ///< the reference's draw (may repeat an image)
    double beta = 0.0;              ///< > 0: use it; 0: beta_fraction * beta_max
    double beta_fraction = 0.4;     ///< the reference's 0.4
};

struct pxle_result {
    std::vector<std::int64_t> indices;  ///< the images drawn (A, B, ... in this order)
    std::int64_t dim = 0;
    std::vector<double> patterns;  ///< (n_images x dim)
    double beta = 0.0;
    double beta_max = 0.0;  ///< 8 / r^2, r the closest distinct pair: every support disjoint
    double r_min = 0.0;
    minima_result minima;              ///< every minimum at beta, exactly
    std::vector<std::string> letters;  ///< per minimum: the letters of its support ("ACF")
    minima_curve curve;                ///< the exact count-vs-beta curve
    /// The beta intervals of global emergence: every distinct image a minimum and at least one
    /// emergent minimum (from the curve). Open intervals; adjacent curve intervals are merged, so
    /// the curve breakpoints inside one (degenerate betas, a support tangent) are excluded.
    std::vector<std::pair<double, double>> global_emergence;
    bool global_emergence_at_beta = false;
};

/// PXLE: a few images, beta = beta_fraction * beta_max, every minimum exactly and the beta
/// intervals of global emergence. @param images (N x d), N >= 1.
/// @throws denseam::invalid_argument for bad images or options (n_images outside [2, 30], more
///         than N without replacement, or fewer than two distinct images drawn).
pxle_result run_pxle(matrix_view<const double> images,
                     const pxle_options& options = {},
                     const exec_options& exec = {});

std::string to_json(const pxle_result& r);

// ---- QBVAE: emergent memories of latent codes (paper.md 3.7, QBVAE3) ---------------------------

/// Options of run_qbvae() (the reference's mnist10 configuration by default).
struct qbvae_options {
    std::int64_t n_mems = 24;  ///< latents stored, drawn without replacement
    std::uint64_t seed = 8;    ///< the draw
    double target_k = 5.0;     ///< choose_beta's mean neighbour count, self included
    double beta = 0.0;         ///< > 0: use it instead of choose_beta
    /// LSE at the same beta: gradient descent from every stored latent, the reference's final
    /// settings (8000 steps, constant step 0.02, no early stop), unique states counted after
    /// rounding to 1 decimal (the reference's count) and as distinct converged points.
    std::int64_t lse_steps = 8000;
    double lse_step_size = 0.02;
    /// The minima search of minima_search.hpp for the LSE energy (starts: the stored latents,
    /// their pairwise midpoints and lse_search_random points of the bounding box grown by R).
    std::int64_t lse_search_random = 1000;
};

struct qbvae_result {
    std::vector<std::int64_t> indices;  ///< the latents stored (rows of the input), draw order
    std::int64_t dim = 0;
    std::vector<double> patterns;  ///< (n_mems x dim), Xi
    double beta = 0.0;
    choose_beta_result chosen;  ///< choose_beta(Xi, target_k) (unused when options.beta > 0)
    minima_result lsr;          ///< every LSR minimum at beta, exactly
    /// LSE descent: final states (n_mems x dim), the reference's unique count (rounded to 1
    /// decimal) and the distinct converged states (within 1e-6, max-norm).
    std::vector<double> lse_states;
    std::int64_t lse_unique_rounded = 0;
    std::int64_t lse_unique_states = 0;
    search_result lse_search;  ///< LSE minima found by the multi-start search
};

/// QBVAE3 on given latent codes (an encoder's means, N x d): draw n_mems of them, beta from
/// choose_beta (paper Algorithm 2), every LSR minimum exactly (stored = preserved patterns,
/// emergent = new memories), and LSE at the same beta by descent from every stored latent and by
/// the multi-start minima search. Decoding the minima to images is the caller's (the VAE).
/// @throws denseam::invalid_argument for bad latents or options (n_mems outside [2, N]).
qbvae_result run_qbvae(matrix_view<const double> latents,
                       const qbvae_options& options = {},
                       const exec_options& exec = {});

/// The result as JSON: indices, beta, choose_beta diagnostics, LSR counts and minima (supports,
/// stored, energy), LSE counts (descent: rounded and distinct; search: minima, stored), paper.
std::string to_json(const qbvae_result& r);

// ---- DrDAM: distributed memories vs explicit ones (issue 13; docs/drdam.md) -----------------

/// (a) Error of the distributed energy and gradient against the exact lse engine vs Y.
/// Data like the DrDAM paper's Figs. 3-4: n_patterns random binary patterns with entries in
/// {0, 1/sqrt(d)}, queries = the first n_queries patterns plus N(0, query_noise^2 / d) noise.
struct drdam_error_options {
    std::vector<std::int64_t> dims = {16, 64, 784};
    std::vector<double> betas = {10.0, 30.0, 50.0};
    std::vector<std::int64_t> n_features = {256, 1024, 4096, 16384, 65536, 131072};
    std::vector<feature_kind> kinds = {feature_kind::fourier, feature_kind::positive};
    std::int64_t n_patterns = 100;
    std::int64_t n_queries = 32;
    std::int64_t n_seeds = 3;  ///< feature maps per configuration (errors averaged)
    double query_noise = 0.1;
    std::uint64_t seed = 0;
    /// progress(done, total) over the (d, beta, kind, Y, seed) evaluations.
    std::function<void(std::int64_t, std::int64_t)> progress;
};

struct drdam_error_row {
    std::int64_t dim = 0;
    double beta = 0.0;
    feature_kind kind = feature_kind::fourier;
    std::int64_t n_features = 0;
    double energy_mae = 0.0;       ///< mean |E~ - E| over the supported queries and seeds
    double energy_rel_mae = 0.0;   ///< mean |exp(-beta (E~ - E)) - 1|: relative kernel-sum error
    double grad_mae = 0.0;         ///< mean |dE~/dx_k - dE/dx_k| (the reference's gradient error)
    double grad_norm_mean = 0.0;   ///< mean |dE/dx_k| of the exact gradient, for scale
    std::int64_t unsupported = 0;  ///< query evaluations with <phi(x), T> <= 0 (excluded)
    double seconds = 0.0;          ///< build + evaluate, all seeds
};

/// Least-squares fit log(energy_mae) = slope log(Y) + intercept per (d, beta, kind).
struct drdam_error_fit {
    std::int64_t dim = 0;
    double beta = 0.0;
    feature_kind kind = feature_kind::fourier;
    double slope = 0.0, intercept = 0.0;
    double grad_slope = 0.0;
};

struct drdam_error_result {
    std::vector<drdam_error_row> rows;
    std::vector<drdam_error_fit> fits;
};

/// Throws denseam::invalid_argument naming the field (and the value) at fault: empty lists,
/// dims < 1, betas/n_features/kinds that make no valid feature map, n_queries > n_patterns...
void validate(const drdam_error_options& options);

/// @throws denseam::invalid_argument as validate().
drdam_error_result run_drdam_error(const drdam_error_options& options = {},
                                   const exec_options& exec = {});

/// (b) Pattern completion of occluded images: n_patterns images scaled to unit norm are stored;
/// each query is a stored image with its bottom `occlude` fraction of rows set to 0 and the rest
/// clamped; both the explicit memory (lse, method gradient) and the distributed memories descend
/// for `steps` steps of `step_size`; distances between the final states.
struct drdam_retrieval_options {
    std::int64_t n_patterns = 20;
    std::int64_t height = 28, width = 28;  ///< the images' shape (rows are occluded)
    double occlude = 0.5;
    std::vector<double> betas = {10.0, 30.0};
    std::vector<std::int64_t> n_features = {4096, 16384, 65536};
    std::vector<feature_kind> kinds = {feature_kind::fourier};
    std::int64_t steps = 50;
    double step_size = 0.2;
    std::uint64_t seed = 0;  ///< the draw of the images and the feature maps
    std::function<void(std::int64_t, std::int64_t)> progress;
};

struct drdam_retrieval_row {
    double beta = 0.0;
    feature_kind kind = feature_kind::fourier;
    std::int64_t n_features = 0;
    double distance_mean = 0.0;  ///< mean ||x_T(DrDAM) - x_T(MrDAM)|| over the queries
    double distance_max = 0.0;
    double agree = 0.0;    ///< share of queries whose two final states are nearest the same image
    double correct = 0.0;  ///< share of DrDAM final states nearest their own stored image
    std::int64_t out_of_support = 0;  ///< queries stopped where <phi(x), T> <= 0
    double seconds = 0.0;
    std::int64_t state_offset = 0;  ///< first row of its final states in drdam_states
};

struct drdam_retrieval_result {
    std::vector<std::int64_t> indices;  ///< images drawn
    std::int64_t dim = 0;
    std::vector<double> patterns;       ///< (n_patterns x dim), unit norm
    std::vector<double> queries;        ///< (n_patterns x dim), occluded
    std::vector<std::int64_t> clamped;  ///< the visible coordinates
    std::vector<double> betas;          ///< the options' betas, in order
    std::vector<double> mrdam_states;   ///< (betas x n_patterns x dim)
    std::vector<double> mrdam_correct;  ///< per beta: share nearest their own image
    std::vector<drdam_retrieval_row> rows;
    std::vector<double> drdam_states;  ///< (rows x n_patterns x dim)
};

/// Throws denseam::invalid_argument naming the field at fault, for images of n_images rows and
/// dim columns (dim must be height * width; at least 2 rows so that one stays visible).
void validate(const drdam_retrieval_options& options, std::int64_t n_images, std::int64_t dim);

/// @param images (N x height*width), N >= n_patterns. @throws denseam::invalid_argument as
///        validate().
drdam_retrieval_result run_drdam_retrieval(matrix_view<const double> images,
                                           const drdam_retrieval_options& options = {},
                                           const exec_options& exec = {});

/// (c) Bytes of the three designs for each M, at the given dim and map (see footprint()).
struct drdam_bytes_row {
    std::int64_t n_patterns = 0, dim = 0, n_features = 0;
    memory_footprint bytes;
};
std::vector<drdam_bytes_row> drdam_bytes(const std::vector<std::int64_t>& n_patterns,
                                         const std::vector<std::int64_t>& dims,
                                         const feature_params& params);

/// JSON Lines (one object per row) and the summary JSON of the study.
std::string to_jsonl(const drdam_error_result& r);
std::string to_jsonl(const drdam_retrieval_result& r);
std::string to_jsonl(const std::vector<drdam_bytes_row>& rows);
std::string drdam_summary_json(const drdam_error_result* error,
                               const drdam_retrieval_result* retrieval,
                               const std::vector<drdam_bytes_row>* bytes);

}  // namespace denseam
