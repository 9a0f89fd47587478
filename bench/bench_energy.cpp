// SPDX-License-Identifier: MIT
// Energy + gradient throughput beside a plain SGEMM of the same shape, measured in the same run.
//
// Effective rate = 4 B M d flops / time: the two GEMMs an energy+gradient needs (distances and
// sum_mu w_mu xi_mu); the epilogue's kernel evaluations are not counted. The ratio to the SGEMM
// baseline (2 B M d flops, C = Q X^T) is printed per shape. Run with OPENBLAS_CORETYPE set (the
// scripts do) and see bench/README.md for recorded numbers.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <map>
#include <random>
#include <vector>

#include "denseam/energy.hpp"

namespace {

struct data {
    std::vector<float> mem, qry, out_e, out_g, c;
};

data& get(std::int64_t B, std::int64_t M, std::int64_t d) {
    static std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, data> cache;
    auto key = std::make_tuple(B, M, d);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    data x;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    x.mem.resize(M * d);
    x.qry.resize(B * d);
    for (auto& v : x.mem) v = u(rng);
    for (auto& v : x.qry) v = u(rng);
    x.out_e.resize(B);
    x.out_g.resize(B * d);
    return cache.emplace(key, std::move(x)).first->second;
}

std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, double> sgemm_rate;

void BM_Sgemm(benchmark::State& st) {
    const std::int64_t B = st.range(0), M = st.range(1), d = st.range(2);
    auto& x = get(B, M, d);
    // The full B x M product in one call: the fastest thing BLAS can do with these operands.
    x.c.resize(static_cast<std::size_t>(B * M));
    for (auto _ : st)
        cblas_sgemm(CblasRowMajor,
                    CblasNoTrans,
                    CblasTrans,
                    B,
                    M,
                    d,
                    1.f,
                    x.qry.data(),
                    d,
                    x.mem.data(),
                    d,
                    0.f,
                    x.c.data(),
                    M);
    const double flops = 2.0 * B * M * d;
    st.counters["GFLOPs"] =
        benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    sgemm_rate[{B, M, d}] = flops * st.iterations() / 1e9 / st.iterations();
    x.c.clear();
    x.c.shrink_to_fit();
}

void BM_EnergyGrad(benchmark::State& st, denseam::kernel_kind k) {
    const std::int64_t B = st.range(0), M = st.range(1), d = st.range(2);
    auto& x = get(B, M, d);
    denseam::energy_params p;
    p.kernel = k;
    p.beta = 12.0 / d;  // R^2 = d/6, the mean squared distance: every tile has support
    for (auto _ : st)
        denseam::energy_and_grad(denseam::make_matrix_view<const float>(x.mem.data(), M, d),
                                 denseam::make_matrix_view<const float>(x.qry.data(), B, d),
                                 p,
                                 std::span(x.out_e),
                                 denseam::make_matrix_view(x.out_g.data(), B, d));
    st.counters["GFLOPs"] =
        benchmark::Counter(4.0 * B * M * d * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void shapes(benchmark::internal::Benchmark* b) {
    b->Args({1024, 60000, 784})
        ->Args({4096, 1000, 32})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
}

BENCHMARK(BM_Sgemm)->Apply(shapes)->MinTime(2.0);
BENCHMARK_CAPTURE(BM_EnergyGrad, lse, denseam::kernel_kind::lse)->Apply(shapes)->MinTime(2.0);
BENCHMARK_CAPTURE(BM_EnergyGrad, lsr, denseam::kernel_kind::lsr)->Apply(shapes)->MinTime(2.0);

// Prints the ratio of each energy+gradient rate to the SGEMM rate of the same shape.
class ratio_reporter : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            auto it = r.counters.find("GFLOPs");
            if (it == r.counters.end()) continue;
            const std::string name = r.benchmark_name();
            rates_[name] = it->second.value;
            if (name.rfind("BM_Sgemm", 0) == 0) continue;
            // The shape is the "/B/M/d..." part that follows the benchmark's own name.
            const std::string shape = name.substr(name.find_first_of("0123456789") - 1);
            auto base = rates_.find("BM_Sgemm" + shape);
            if (base != rates_.end())
                std::printf("  -> %s: %.1f GFLOP/s effective = %.1f%% of SGEMM (%.1f GFLOP/s)\n",
                            name.c_str(),
                            it->second.value,
                            100.0 * it->second.value / base->second,
                            base->second);
        }
    }

  private:
    std::map<std::string, double> rates_;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    ratio_reporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    benchmark::Shutdown();
}
