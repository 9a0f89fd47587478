// SPDX-License-Identifier: MIT
// `denseam drdam-study`: the DrDAM experiments (docs/drdam.md). Parse, call the library, write
// the JSON Lines, arrays and figures.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "denseam/experiments.hpp"
#include "denseam/features.hpp"
#include "engine/resources.hpp"
#include "image_source.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "plots.hpp"

namespace denseam::cli {

namespace {

std::vector<feature_kind> parse_kinds(const std::vector<std::string>& names,
                                      const std::string& option) {
    std::vector<feature_kind> out;
    for (const auto& n : names) {
        try {
            out.push_back(parse_feature_kind(n));
        } catch (const invalid_argument& e) {
            throw invalid_argument(option + ": " + e.what());
        }
    }
    return out;
}

}  // namespace

run_fn add_drdam_study(CLI::App& sub) {
    struct opts {
        image_source src;
        std::string out = "drdam";
        std::vector<std::string> parts = {"error", "retrieval", "bytes"};
        drdam_error_options eo;
        drdam_retrieval_options ro;
        std::vector<std::string> kinds = {"fourier", "positive"};
        std::vector<std::string> retrieval_kinds = {"fourier"};
        std::vector<std::int64_t> bytes_m = {20, 1000, 10000, 60000, 1000000};
        std::vector<std::int64_t> bytes_dims = {784, 12288};
        std::int64_t bytes_y = 65536;
        bool quick = false, no_plot = false, progress = false, no_progress = false;
        int threads = 0;
    };
    auto o = std::make_shared<opts>();
    o->src.declare(sub, "mnist-digits");
    sub.add_option("--out,-o", o->out, "Output folder")->capture_default_str();
    sub.add_option("--parts", o->parts, "Which parts: error, retrieval, bytes")
        ->delimiter(',')
        ->capture_default_str();
    sub.add_flag("--quick", o->quick, "Small sizes (a smoke run: seconds)");
    sub.add_option("--dims", o->eo.dims, "(a) pattern dimensions")
        ->delimiter(',')
        ->capture_default_str();
    sub.add_option("--betas", o->eo.betas, "(a) betas")->delimiter(',')->capture_default_str();
    sub.add_option("--Y", o->eo.n_features, "(a) numbers of features")
        ->delimiter(',')
        ->capture_default_str();
    sub.add_option("--features", o->kinds, "(a) feature maps: fourier, fourier-phase, positive")
        ->delimiter(',')
        ->capture_default_str();
    sub.add_option("--patterns", o->eo.n_patterns, "(a) random binary patterns stored")
        ->capture_default_str();
    sub.add_option("--queries", o->eo.n_queries, "(a) noisy queries")->capture_default_str();
    sub.add_option("--seeds", o->eo.n_seeds, "(a) feature maps per configuration")
        ->capture_default_str();
    sub.add_option("--seed", o->eo.seed, "Seed of the data and the maps")->capture_default_str();
    sub.add_option("--retrieval-patterns", o->ro.n_patterns, "(b) images stored")
        ->capture_default_str();
    sub.add_option("--retrieval-betas", o->ro.betas, "(b) betas")
        ->delimiter(',')
        ->capture_default_str();
    sub.add_option("--retrieval-Y", o->ro.n_features, "(b) numbers of features")
        ->delimiter(',')
        ->capture_default_str();
    sub.add_option("--retrieval-features", o->retrieval_kinds, "(b) feature maps")
        ->delimiter(',')
        ->capture_default_str();
    sub.add_option("--steps", o->ro.steps, "(b) descent steps")->capture_default_str();
    sub.add_option("--step-size", o->ro.step_size, "(b) descent step size")->capture_default_str();
    sub.add_option("--occlude", o->ro.occlude, "(b) share of image rows hidden (bottom)")
        ->capture_default_str();
    sub.add_option("--bytes-M", o->bytes_m, "(c) numbers of patterns")
        ->delimiter(',')
        ->capture_default_str();
    sub.add_option("--bytes-dims", o->bytes_dims, "(c) dimensions")
        ->delimiter(',')
        ->capture_default_str();
    sub.add_option("--bytes-Y", o->bytes_y, "(c) features")->capture_default_str();
    sub.add_flag("--no-plot", o->no_plot, "Write the data only");
    sub.add_flag("--progress", o->progress, "Progress bar on stderr even when not a terminal");
    sub.add_flag("--no-progress", o->no_progress, "No progress bar");
    sub.add_option("--threads", o->threads, "OpenMP threads (0: default)")->capture_default_str();
    sub.footer(
        "(a) error: energy and gradient of the distributed memory (DrDAM) against the exact lse "
        "engine vs Y, for random binary patterns in d = 16, 64, 784 at several beta, with the "
        "fitted log-log slope (theory -1/2). (b) retrieval: occluded images (bottom rows hidden, "
        "the rest clamped) completed by the explicit memory (MrDAM) and by DrDAM; distance between "
        "the final states vs Y and beta. (c) bytes: explicit memories vs DrDAM's T vs the "
        "reference's stored projection. Writes drdam.json, drdam_error.jsonl, "
        "drdam_retrieval.jsonl, drdam_bytes.jsonl, drdam_retrieval_*.npy, drdam_error.png, "
        "drdam_retrieval.png.\nExample:\n  denseam drdam-study --quick --out results/drdam");
    return [o]() {
        bool want_error = false, want_retrieval = false, want_bytes = false;
        for (const auto& p : o->parts) {
            if (p == "error")
                want_error = true;
            else if (p == "retrieval")
                want_retrieval = true;
            else if (p == "bytes")
                want_bytes = true;
            else
                throw invalid_argument("--parts: unknown part " + detail::in_quotes(p) +
                                       " (choose error, retrieval, bytes)");
        }
        drdam_error_options eo = o->eo;
        drdam_retrieval_options ro = o->ro;
        eo.kinds = parse_kinds(o->kinds, "--features");
        ro.kinds = parse_kinds(o->retrieval_kinds, "--retrieval-features");
        ro.seed = eo.seed;
        if (o->quick) {
            eo.dims = {16, 64};
            eo.betas = {10.0};
            eo.n_features = {256, 1024, 4096};
            eo.n_patterns = 20;
            eo.n_queries = 8;
            eo.n_seeds = 2;
            ro.n_patterns = 6;
            ro.betas = {10.0};
            ro.n_features = {1024, 4096};
            ro.steps = 20;
        }
        detail::file_plan files;
        files.output_dir("--out", o->out);
        const std::string json = path_in(o->out, "drdam.json");
        const std::string err_jsonl = path_in(o->out, "drdam_error.jsonl");
        const std::string ret_jsonl = path_in(o->out, "drdam_retrieval.jsonl");
        const std::string bytes_jsonl = path_in(o->out, "drdam_bytes.jsonl");
        const std::string pat_npy = path_in(o->out, "drdam_retrieval_patterns.npy");
        const std::string qry_npy = path_in(o->out, "drdam_retrieval_queries.npy");
        const std::string mr_npy = path_in(o->out, "drdam_retrieval_mrdam.npy");
        const std::string dr_npy = path_in(o->out, "drdam_retrieval_drdam.npy");
        const std::string err_png = path_in(o->out, "drdam_error.png");
        const std::string ret_png = path_in(o->out, "drdam_retrieval.png");
        files.output("--out", json);
        if (want_error) files.output("--out", err_jsonl);
        if (want_retrieval)
            for (const auto* p : {&ret_jsonl, &pat_npy, &qry_npy, &mr_npy, &dr_npy})
                files.output("--out", *p);
        if (want_bytes) files.output("--out", bytes_jsonl);
        if (!o->no_plot) {
            if (want_error) files.external_output("--out", err_png);
            if (want_retrieval) files.external_output("--out", ret_png);
        }
        const exec_options ex = make_exec(o->threads);
        std::vector<drdam_bytes_row> bytes;
        if (want_bytes) {
            feature_params fp;
            fp.n_features = o->bytes_y;
            try {
                validate(fp, 1);
            } catch (const invalid_argument& e) {
                throw invalid_argument("--bytes-Y = " + std::to_string(o->bytes_y) + ": " +
                                       e.what());
            }
            bytes = with_option_names({{"n_patterns", "--bytes-M"}, {"dim", "--bytes-dims"}},
                                      [&] { return drdam_bytes(o->bytes_m, o->bytes_dims, fp); });
        }
        image_set images;
        if (want_retrieval) {
            images = o->src.load(files);
            ro.height = images.height;
            ro.width = images.width;
        }
        // Every option is checked before any part runs.
        const auto error_names = {
            std::pair<std::string_view, std::string_view>{"n_queries", "--queries"},
            {"n_patterns", "--patterns"},
            {"n_seeds", "--seeds"},
            {"dims", "--dims"},
            {"betas", "--betas"},
            {"n_features", "--Y"},
            {"kinds", "--features"}};
        const auto retrieval_names = {
            std::pair<std::string_view, std::string_view>{"n_patterns", "--retrieval-patterns"},
            {"occlude", "--occlude"},
            {"steps", "--steps"},
            {"step_size", "--step-size"},
            {"betas", "--retrieval-betas"},
            {"n_features", "--retrieval-Y"},
            {"kinds", "--retrieval-features"}};
        if (want_error) with_option_names(error_names, [&] { validate(eo); });
        if (want_retrieval)
            with_option_names(retrieval_names,
                              [&] { validate(ro, images.n, images.height * images.width); });
        const bool bar_on = show_progress(o->progress, o->no_progress);
        drdam_error_result er;
        if (want_error) {
            progress_bar bar(bar_on, 1, "maps");
            eo.progress = [&](std::int64_t done, std::int64_t total) {
                bar.set_total(total);
                bar.update(double(done), "(a) error vs Y");
            };
            er = with_option_names(error_names, [&] { return run_drdam_error(eo, ex); });
            bar.finish();
            files.set(err_jsonl, to_jsonl(er));
            for (const auto& f : er.fits)
                std::printf("error d=%lld beta=%g %s: energy slope %.3f, gradient slope %.3f\n",
                            static_cast<long long>(f.dim),
                            f.beta,
                            std::string(to_string(f.kind)).c_str(),
                            f.slope,
                            f.grad_slope);
        }
        drdam_retrieval_result rr;
        if (want_retrieval) {
            progress_bar bar(bar_on, 1, "runs");
            ro.progress = [&](std::int64_t done, std::int64_t total) {
                bar.set_total(total);
                bar.update(double(done), "(b) retrieval");
            };
            rr = with_option_names(retrieval_names,
                                   [&] { return run_drdam_retrieval(images.view(), ro, ex); });
            bar.finish();
            const auto m = static_cast<std::int64_t>(rr.indices.size());
            files.set(ret_jsonl, to_jsonl(rr));
            files.set(pat_npy, npy_bytes(rr.patterns, m, rr.dim));
            files.set(qry_npy, npy_bytes(rr.queries, m, rr.dim));
            files.set(mr_npy,
                      npy_bytes(rr.mrdam_states,
                                static_cast<std::int64_t>(rr.mrdam_states.size()) / rr.dim,
                                rr.dim));
            files.set(dr_npy,
                      npy_bytes(rr.drdam_states,
                                static_cast<std::int64_t>(rr.drdam_states.size()) / rr.dim,
                                rr.dim));
            for (std::size_t b = 0; b < rr.betas.size(); ++b)
                std::printf("retrieval beta=%g: MrDAM completes %.0f %% of the images\n",
                            rr.betas[b],
                            100.0 * rr.mrdam_correct[b]);
            for (const auto& row : rr.rows)
                std::printf(
                    "retrieval beta=%g %s Y=%lld: |DrDAM - MrDAM| mean %.4f max %.4f, same image "
                    "%.0f %%, stopped %lld\n",
                    row.beta,
                    std::string(to_string(row.kind)).c_str(),
                    static_cast<long long>(row.n_features),
                    row.distance_mean,
                    row.distance_max,
                    100.0 * row.agree,
                    static_cast<long long>(row.out_of_support));
        }
        if (want_bytes) {
            files.set(bytes_jsonl, to_jsonl(bytes));
            for (const auto& b : bytes)
                std::printf(
                    "bytes M=%lld d=%lld Y=%lld: explicit %s, DrDAM %s, reference %s "
                    "(DrDAM smaller from M = %lld)\n",
                    static_cast<long long>(b.n_patterns),
                    static_cast<long long>(b.dim),
                    static_cast<long long>(b.n_features),
                    detail::format_bytes(double(b.bytes.explicit_bytes)).c_str(),
                    detail::format_bytes(double(b.bytes.distributed_bytes)).c_str(),
                    detail::format_bytes(double(b.bytes.reference_bytes)).c_str(),
                    static_cast<long long>(b.bytes.break_even_patterns));
        }
        files.set(json,
                  drdam_summary_json(want_error ? &er : nullptr,
                                     want_retrieval ? &rr : nullptr,
                                     want_bytes ? &bytes : nullptr));
        files.commit();
        std::printf("data: %s\n", json.c_str());
        if (!o->no_plot) {
            std::fflush(stdout);
            if (want_error) {
                run_plot_script({"drdam-error", err_jsonl, files.target(err_png)});
                std::printf("figure: %s\n", err_png.c_str());
            }
            if (want_retrieval) {
                run_plot_script(
                    {"drdam-retrieval",
                     json,
                     files.target(ret_png),
                     "--shape",
                     std::to_string(images.height) + "," + std::to_string(images.width)});
                std::printf("figure: %s\n", ret_png.c_str());
            }
        }
        return exit_ok;
    };
}

}  // namespace denseam::cli
