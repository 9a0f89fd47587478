// SPDX-License-Identifier: MIT
// `denseam demo`: the Fig. 1 minima of the paper, printed and written as JSON.
#include <cstdio>
#include <iostream>

#include "common.hpp"
#include "denseam/experiments.hpp"
#include "io/files.hpp"

namespace denseam::cli {

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
        bool all = true;
        std::printf("%-7s %-4s %6s %8s %8s %9s %7s  %s\n",
                    "panel",
                    "F",
                    "beta",
                    "minima",
                    "stored",
                    "emergent",
                    "paper",
                    "positions (energy)");
        for (const auto& p : r.panels) {
            int stored = 0, emergent = 0;
            std::string where;
            for (const auto& m : p.search.minima) {
                (m.stored ? stored : emergent)++;
                char buf[96];
                if (p.dim == 1)
                    std::snprintf(buf,
                                  sizeof buf,
                                  "%s%+.4f (%.4f)",
                                  where.empty() ? "" : ", ",
                                  m.position[0],
                                  m.energy);
                else
                    std::snprintf(buf,
                                  sizeof buf,
                                  "%s(%+.3f,%+.3f)",
                                  where.empty() ? "" : ", ",
                                  m.position[0],
                                  m.position[1]);
                where += buf;
            }
            const bool ok = static_cast<int>(p.search.minima.size()) == p.paper_minima &&
                            emergent == p.paper_emergent;
            all = all && ok;
            std::printf("%-7s %-4s %6.2f %8zu %8d %9d %4d %s  %s\n",
                        p.name.c_str(),
                        std::string(to_string(p.params.kernel)).c_str(),
                        p.params.beta,
                        p.search.minima.size(),
                        stored,
                        emergent,
                        p.paper_minima,
                        ok ? "ok" : "!!",
                        where.c_str());
        }
        std::printf("%s; results written to %s\n",
                    all ? "all minimum counts match paper.md 3.1" : "MISMATCH with paper.md 3.1",
                    out->c_str());
        return all ? exit_ok : exit_runtime;
    };
}

}  // namespace denseam::cli
