// SPDX-License-Identifier: MIT
// `denseam fig1`: the data and the figure of the paper's Fig. 1 (paper.md 3.1); `denseam demo`:
// its minima only, printed with their energies and written as JSON.
#include <cstdio>
#include <filesystem>

#include "common.hpp"
#include "denseam/experiments.hpp"
#include "io/files.hpp"
#include "plots.hpp"

namespace denseam::cli {

namespace {

// The table of minima per panel (stored, emergent, the paper's count, positions; with
// `energies`, each 1-D minimum's energy too). True when every count matches paper.md 3.1.
bool print_fig1_table(const fig1_result& r, bool energies) {
    bool all = true;
    std::printf("%-7s %-4s %6s %8s %8s %9s %7s  %s\n",
                "panel",
                "F",
                "beta",
                "minima",
                "stored",
                "emergent",
                "paper",
                energies ? "positions (energy)" : "positions");
    for (const auto& p : r.panels) {
        int emergent = 0;
        std::string where;
        for (const auto& m : p.search.minima) {
            if (!m.stored) ++emergent;
            char buf[96];
            const char* sep = where.empty() ? "" : ", ";
            if (p.dim != 1)
                std::snprintf(
                    buf, sizeof buf, "%s(%+.3f,%+.3f)", sep, m.position[0], m.position[1]);
            else if (energies)
                std::snprintf(buf, sizeof buf, "%s%+.4f (%.4f)", sep, m.position[0], m.energy);
            else
                std::snprintf(buf, sizeof buf, "%s%+.4f", sep, m.position[0]);
            where += buf;
        }
        const int n = static_cast<int>(p.search.minima.size());
        const bool ok = n == p.paper_minima && emergent == p.paper_emergent;
        all = all && ok;
        std::printf("%-7s %-4s %6.2f %8d %8d %9d %4d %s  %s\n",
                    p.name.c_str(),
                    std::string(to_string(p.params.kernel)).c_str(),
                    p.params.beta,
                    n,
                    n - emergent,
                    emergent,
                    p.paper_minima,
                    ok ? "ok" : "!!",
                    where.c_str());
    }
    return all;
}

}  // namespace

run_fn add_fig1(CLI::App& sub) {
    struct opts {
        std::string out = "fig1";
        bool no_plot = false;
        int n1 = fig1_options{}.n_1d, n2 = fig1_options{}.n_2d;
    };
    auto o = std::make_shared<opts>();
    sub.add_option("--out,-o", o->out, "Output folder (fig1.json, fig1.png)")
        ->capture_default_str();
    sub.add_option("--n1d", o->n1, "Landscape points on [-2.1, 2.1]")->capture_default_str();
    sub.add_option("--n2d", o->n2, "Landscape points per axis on [-3,3] x [-3.5,2]")
        ->capture_default_str();
    sub.add_flag("--no-plot", o->no_plot, "Write the data only");
    sub.footer(
        "The energies of the 1-D pair {-1,+1} (LSR beta 0.4, 0.9, 2.1 with eps 1e-6; LSE beta "
        "0.4, 1.5, 4.11) and of the 2-D triangle (LSR beta 0.3, 0.6, 1.1, 2.1) on the paper's "
        "grids, with their TRUE minima (exact enumeration / exact 1-D analysis) marked stored or "
        "emergent, and the figure drawn by python/denseam/plots.py under /usr/bin/python3.\n"
        "Example:\n  denseam fig1 --out results/fig1");
    return [o]() {
        fig1_options fo;
        fo.landscapes = true;
        fo.n_1d = o->n1;
        fo.n_2d = o->n2;
        detail::file_plan files;
        files.output_dir("--out", o->out);
        const std::string json = (std::filesystem::path(o->out) / "fig1.json").string();
        const std::string png = (std::filesystem::path(o->out) / "fig1.png").string();
        files.output("--out", json);
        if (!o->no_plot) files.external_output("--out", png);
        const fig1_result r =
            with_option_names({{"n_1d", "--n1d"}, {"n_2d", "--n2d"}}, [&] { return run_fig1(fo); });
        files.set(json, to_json(r));
        files.commit();
        const bool all = print_fig1_table(r, false);
        std::printf("%s; data: %s\n",
                    all ? "all minimum counts match paper.md 3.1" : "MISMATCH with paper.md 3.1",
                    json.c_str());
        if (!o->no_plot) {
            std::fflush(stdout);
            run_plot_script({"fig1", json, files.target(png)});
            std::printf("figure: %s\n", png.c_str());
        }
        return all ? exit_ok : exit_runtime;
    };
}

run_fn add_demo(CLI::App& sub) {
    auto out = std::make_shared<std::string>("fig1_minima.json");
    sub.add_option("--out,-o", *out, "Write the results here (JSON)")->capture_default_str();
    sub.footer(
        "Finds the minima of the paper's Fig. 1 energies (1-D pair {-1,+1} under LSR and LSE, "
        "2-D equilateral triangle under LSR) exactly (LSR: the exact enumerator; LSE: exact 1-D "
        "analysis), and "
        "compares the counts with the paper.\nExample:\n  denseam demo --out fig1.json");
    return [out]() {
        detail::file_plan files;
        files.output("--out", *out);
        const fig1_result r = run_fig1();
        files.set(*out, to_json(r));
        files.commit();
        const bool all = print_fig1_table(r, true);
        std::printf("%s; results written to %s\n",
                    all ? "all minimum counts match paper.md 3.1" : "MISMATCH with paper.md 3.1",
                    out->c_str());
        return all ? exit_ok : exit_runtime;
    };
}

}  // namespace denseam::cli
