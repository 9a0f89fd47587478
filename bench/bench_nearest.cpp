// SPDX-License-Identifier: MIT
// BSTOR's all-pairs nearest-neighbour pass (nearest_distinct_neighbours) over Fashion-MNIST's
// 60,000 x 784 training images, beside two SGEMM baselines measured in the same process:
//   full   the N x N x d product X X^T (OpenBLAS, all threads, in row blocks of 1024 into one
//          reused buffer): what a pass without symmetry or pruning would cost;
//   tiles  the 512 x 512 x d tile products over i <= j that the pass would run without pruning,
//          on denseam's thread team (the pass's GEMM work alone, no epilogue).
// Ratios > 1 mean the pass is faster than the baseline. The reference computes energies and
// gradients of all 60k images against all 60k in 60 chunked GPU calls for ONE beta; the pass
// gives the preserved count at every beta.
//
// Usage: bench_nearest [--n 60000] [--random] [--threads T] [--no-full]
//   --random: uniform [0,1) data of the same shape instead of Fashion-MNIST.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "denseam/datasets.hpp"
#include "denseam/neighbours.hpp"
#include "engine/gemm.hpp"
#include "engine/parallel.hpp"

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t n = 60000;
    bool random = false, full = true;
    int threads = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--n" && i + 1 < argc)
            n = std::atoll(argv[++i]);
        else if (a == "--random")
            random = true;
        else if (a == "--no-full")
            full = false;
        else if (a == "--threads" && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr,
                         "usage: bench_nearest [--n N] [--random] [--threads T] [--no-full]\n");
            return 2;
        }
    }
    std::vector<double> x;
    std::int64_t d = 784;
    std::string what;
    if (!random) {
        try {
            const denseam::image_set s = denseam::load_dataset("fashion-mnist");
            n = std::min(n, s.n);
            d = s.height * s.width;
            x.assign(s.images.begin(), s.images.begin() + n * d);
            what = "Fashion-MNIST train";
        } catch (const std::exception& e) {
            std::fprintf(stderr, "bench_nearest: %s; using random data\n", e.what());
            random = true;
        }
    }
    if (random) {
        std::mt19937_64 rng(1);
        x.resize(static_cast<std::size_t>(n * d));
        for (auto& v : x) v = double(rng() >> 11) * 0x1.0p-53;
        what = "uniform random";
    }
    denseam::exec_options ex;
    ex.n_threads = threads;
    const int team = denseam::resolved_threads(ex);
    std::printf("%s, N = %lld, d = %lld, %d threads\n",
                what.c_str(),
                static_cast<long long>(n),
                static_cast<long long>(d),
                team);

    double t0 = now();
    const denseam::nearest_result r =
        denseam::nearest_distinct_neighbours({x.data(), n, d}, {}, ex);
    const double t_pass = now() - t0;
    std::printf(
        "nearest-neighbour pass: %.2f s (%lld tiles: %lld skipped, %lld partial; %lld "
        "rows rechecked in double)\n",
        t_pass,
        static_cast<long long>(r.tiles),
        static_cast<long long>(r.tiles_skipped),
        static_cast<long long>(r.tiles_partial),
        static_cast<long long>(r.rechecked));

    std::vector<float> xf(x.begin(), x.end());
    // tiles: the upper-triangle 512 x 512 products on denseam's team.
    constexpr std::int64_t TB = 512;
    const std::int64_t nb = (n + TB - 1) / TB;
    std::vector<std::pair<std::int64_t, std::int64_t>> items;
    for (std::int64_t i = 0; i < nb; ++i)
        for (std::int64_t j = i; j < nb; ++j) items.emplace_back(i, j);
    t0 = now();
    denseam::detail::parallel_for(
        static_cast<std::int64_t>(items.size()),
        ex,
        denseam::detail::parallel_options{},
        [&]() { return std::vector<float>(static_cast<std::size_t>(TB * TB)); },
        [&](std::vector<float>& c, std::int64_t it) {
            const auto [bi, bj] = items[static_cast<std::size_t>(it)];
            const std::int64_t ni = std::min(TB, n - bi * TB), nj = std::min(TB, n - bj * TB);
            denseam::detail::gemm(denseam::detail::gemm_op::transposed,
                                  ni,
                                  nj,
                                  d,
                                  1.0f,
                                  xf.data() + bi * TB * d,
                                  d,
                                  xf.data() + bj * TB * d,
                                  d,
                                  0.0f,
                                  c.data(),
                                  TB);
        });
    const double t_tiles = now() - t0;
    const double flops_half = double(items.size()) * 2.0 * TB * TB * double(d);
    std::printf("SGEMM tiles i <= j (same team): %.2f s, %.1f GFLOP/s\n",
                t_tiles,
                flops_half / t_tiles * 1e-9);
    std::printf("pass / tiles: %.1f %% of the tiles' SGEMM time (ratio %.2f)\n",
                100.0 * t_pass / t_tiles,
                t_tiles / t_pass);
    if (full) {
        constexpr std::int64_t RB = 1024;
        std::vector<float> c(static_cast<std::size_t>(RB * n));
        t0 = now();
        for (std::int64_t i0 = 0; i0 < n; i0 += RB) {
            const std::int64_t ni = std::min(RB, n - i0);
            cblas_sgemm(CblasRowMajor,
                        CblasNoTrans,
                        CblasTrans,
                        int(ni),
                        int(n),
                        int(d),
                        1.0f,
                        xf.data() + i0 * d,
                        int(d),
                        xf.data(),
                        int(d),
                        0.0f,
                        c.data(),
                        int(n));
        }
        const double t_full = now() - t0;
        std::printf("SGEMM full N x N x d (OpenBLAS threads): %.2f s, %.1f GFLOP/s\n",
                    t_full,
                    2.0 * double(n) * double(n) * double(d) / t_full * 1e-9);
        std::printf(
            "pass vs same-shape SGEMM: %.2fx faster (the pass does at most half the "
            "products and skips tiles by norm)\n",
            t_full / t_pass);
    }
    return 0;
}
