// SPDX-License-Identifier: MIT
// `denseam akem`: the all-kernel emergence study (paper.md 3.4) with exact 1-D minima.
#include <cstdio>
#include <filesystem>

#include "common.hpp"
#include "denseam/experiments.hpp"
#include "io/files.hpp"
#include "plots.hpp"

namespace denseam::cli {

run_fn add_akem(CLI::App& sub) {
    struct opts {
        std::string out = "akem";
        bool no_plot = false;
        std::vector<std::string> kernels;
        std::vector<double> widths;
        int grid = akem_options{}.grid_points;
    };
    auto o = std::make_shared<opts>();
    sub.add_option("--out,-o", o->out, "Output folder (akem.json, akem.png)")
        ->capture_default_str();
    sub.add_option("--kernels", o->kernels, "Kernels (comma list; default: the paper's 8)")
        ->delimiter(',');
    sub.add_option("--widths", o->widths, "Half-widths h (comma list; default: the paper's 7)")
        ->delimiter(',');
    sub.add_option("--grid-points", o->grid, "Landscape points on [-2, 2] for the figure")
        ->capture_default_str();
    sub.add_flag("--no-plot", o->no_plot, "Write the data only");
    sub.footer(
        "Two patterns at -1 and +1; for every kernel and half-width h (beta = 2/h^2 for compact "
        "kernels, 1/h^2 for the Gaussian) the TRUE strict minima (exact 1-D analysis) and the "
        "flat intervals. Table cells: S+E = strict minima near a pattern (within 0.1) + "
        "emergent ones; =L a flat minimum of total length L; ~L flat intervals of total length "
        "L that are not minima; ! marks global emergence (both patterns kept as minima and an "
        "emergent one, paper Def. 2).\nExample:\n  denseam akem --out results/akem");
    return [o]() {
        akem_options ao;
        if (!o->kernels.empty()) {
            ao.kernels.clear();
            for (const auto& k : o->kernels) ao.kernels.push_back(parse_kernel(k));
        }
        if (!o->widths.empty()) ao.widths = o->widths;
        ao.grid_points = o->grid;
        detail::file_plan files;
        files.output_dir("--out", o->out);
        const std::string json = (std::filesystem::path(o->out) / "akem.json").string();
        const std::string png = (std::filesystem::path(o->out) / "akem.png").string();
        files.output("--out", json);
        if (!o->no_plot) files.external_output("--out", png);
        const akem_result r =
            with_option_names({{"grid_points", "--grid-points"}, {"half-width h", "--widths h"}},
                              [&] { return run_akem(ao); });
        files.set(json, to_json(r));
        files.commit();
        std::printf("%-13s", "kernel \\ h");
        for (double h : ao.widths) std::printf(" %-13g", h);
        std::printf("\n");
        for (std::int64_t k = 0; k < r.n_kernels; ++k) {
            std::printf(
                "%-13s",
                std::string(akem_kernel_name(ao.kernels[static_cast<std::size_t>(k)])).c_str());
            for (std::int64_t w = 0; w < r.n_widths; ++w) {
                const akem_panel& p = r.panels[static_cast<std::size_t>(k * r.n_widths + w)];
                double flat_min = 0.0, flat_other = 0.0;
                for (const auto& f : p.minima.flat)
                    (f.is_minimum ? flat_min : flat_other) += f.hi - f.lo;
                char cell[64];
                int n = std::snprintf(cell,
                                      sizeof cell,
                                      "%lld+%lld",
                                      static_cast<long long>(p.near_pattern),
                                      static_cast<long long>(p.emergent));
                if (p.global_emergence)
                    n += std::snprintf(cell + n, sizeof cell - static_cast<std::size_t>(n), "!");
                if (p.flat_minima > 0)
                    n += std::snprintf(
                        cell + n, sizeof cell - static_cast<std::size_t>(n), " =%.2f", flat_min);
                if (flat_other > 0.0)
                    std::snprintf(
                        cell + n, sizeof cell - static_cast<std::size_t>(n), " ~%.2f", flat_other);
                std::printf(" %-13s", cell);
            }
            std::printf("\n");
        }
        std::printf(
            "S+E: strict minima within 0.1 of a pattern + emergent; =L flat minimum of "
            "length L; ~L flat, not a minimum; ! global emergence (both patterns kept + an "
            "emergent "
            "minimum). data: %s\n",
            json.c_str());
        if (!o->no_plot) {
            std::fflush(stdout);
            run_plot_script({"akem", json, files.target(png)});
            std::printf("figure: %s\n", png.c_str());
        }
        return exit_ok;
    };
}

}  // namespace denseam::cli
