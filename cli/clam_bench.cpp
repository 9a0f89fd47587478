// SPDX-License-Identifier: MIT
// `denseam clam-bench`: ClAM vs k-means on offline data sets. The benchmark is the Python module
// denseam.clam_bench (scikit-learn's k-means and metrics beside denseam.ClAM); this command finds
// the package that belongs to this executable and runs it (scripts.hpp).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "scripts.hpp"

namespace denseam::cli {

run_fn add_clam_bench(CLI::App& sub) {
    struct opts {
        std::string out = "clam-bench";
        bool quick = false, large = false, no_plot = false;
        std::vector<std::string> datasets;
        std::int64_t seed = 0;
        int threads = 0;
    };
    auto o = std::make_shared<opts>();
    sub.add_option("--out,-o", o->out, "Output folder")->capture_default_str();
    sub.add_flag("--quick", o->quick, "Small grid, 100 k-means starts (a smoke run: seconds)");
    sub.add_flag("--large",
                 o->large,
                 "Also the 10,000 MNIST digits and Fashion-MNIST's 60,000 images (long)");
    sub.add_option("--datasets",
                   o->datasets,
                   "Data sets: iris, wine, breast-cancer, digits, blobs, mnist-digits, "
                   "fashion-mnist (default: the first five; with --large all)")
        ->delimiter(',');
    sub.add_option("--seed", o->seed, "Seed of ClAM, k-means, the blobs and the samples")
        ->capture_default_str();
    sub.add_option("--threads", o->threads, "Threads of ClAM and scikit-learn (0: all cores)")
        ->capture_default_str();
    sub.add_flag("--no-plot", o->no_plot, "No PNG");
    sub.footer(
        "Silhouette, NMI and ARI of ClAM-LSE, ClAM-LSR (each over a small beta x lr grid, chosen "
        "by silhouette), k-means (n_init 10) and the best of 1000 k-means starts, on "
        "standardised data, beside the paper's claim. Writes clam_bench.jsonl, clam_grid.jsonl, "
        "clam_bench.md, clam_bench.png and labels/*.npy in --out; the summary table on stdout. "
        "Runs `python3 -m denseam.clam_bench` (Debian's /usr/bin/python3, or $DENSEAM_PYTHON) "
        "with the package of this executable on PYTHONPATH: <bin>/../python in a build tree "
        "(build the target _denseam), <bin>/../lib/python3.*/dist-packages when installed, or "
        "$DENSEAM_PYTHONPATH. The grid and every setting: pydoc3 denseam.clam_bench.\n"
        "Example:\n  denseam clam-bench --quick --datasets iris,blobs --out results/clam");
    return [o]() {
        if (o->seed < 0 || o->seed > 4294967295LL)
            throw invalid_argument("--seed must be in [0, 2^32) (got " + std::to_string(o->seed) +
                                   ")");
        if (o->threads < 0)
            throw invalid_argument("--threads must be >= 0 (got " + std::to_string(o->threads) +
                                   ")");
        if (o->out.empty()) throw invalid_argument("--out must not be empty");
        std::vector<std::string> args{"--out",
                                      o->out,
                                      "--seed",
                                      std::to_string(o->seed),
                                      "--threads",
                                      std::to_string(o->threads)};
        if (o->quick) args.emplace_back("--quick");
        if (o->large) args.emplace_back("--large");
        if (o->no_plot) args.emplace_back("--no-plot");
        if (!o->datasets.empty()) {
            std::string list;
            for (const auto& d : o->datasets) list += (list.empty() ? "" : ",") + d;
            args.insert(args.end(), {"--datasets", list});
        }
        const std::string root = find_python_package_root("clam_bench.py");
        const script_result r = run_python_module("denseam.clam_bench", args, root, "clam_bench");
        if (r.exit_code == 0) return exit_ok;
        if (r.exit_code == exit_usage) throw invalid_argument(r.error);
        std::string msg = "clam-bench: " + r.error;
        if (r.error.find("No module named") != std::string::npos)
            msg +=
                " (the package denseam with clam_bench.py was not found: build the target "
                "_denseam, or set DENSEAM_PYTHONPATH to the folder holding denseam/)";
        throw backend_error(msg);
    };
}

}  // namespace denseam::cli
