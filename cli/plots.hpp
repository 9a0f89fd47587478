// SPDX-License-Identifier: MIT
// Running the plotting script (python/denseam/plots.py under /usr/bin/python3) from the CLI.
// Plots are a convenience: when Python, matplotlib or the script is missing the data commands
// still succeed and print a warning.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace denseam::cli {

/// The plotting script: $DENSEAM_PLOTS, else python/denseam/plots.py of the source tree (found
/// from the executable, build/<preset>/bin/denseam, or from this file's compile-time path),
/// else <prefix>/share/denseam/plots.py. Empty when none exists.
inline std::string find_plot_script() {
    namespace fs = std::filesystem;
    if (const char* env = std::getenv("DENSEAM_PLOTS")) return env;
    std::vector<fs::path> candidates;
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path bin = exe.parent_path();
        candidates.push_back(bin / "../../../python/denseam/plots.py");
        candidates.push_back(bin / "../../python/denseam/plots.py");
        candidates.push_back(bin / "../share/denseam/plots.py");
    }
    candidates.push_back(fs::path(__FILE__).parent_path() / "../python/denseam/plots.py");
    for (const auto& c : candidates)
        if (fs::is_regular_file(c, ec)) return fs::weakly_canonical(c, ec).string();
    return {};
}

inline std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

/// Run `plots.py <args...>` (its output goes to stderr). Returns true on success; on any
/// failure prints "denseam: warning: ..." and returns false.
inline bool run_plot_script(const std::vector<std::string>& args) {
    const std::string script = find_plot_script();
    if (script.empty()) {
        std::cerr << "denseam: warning: plotting script python/denseam/plots.py not found (set "
                     "DENSEAM_PLOTS); no figure made\n";
        return false;
    }
    std::string python = "python3";
    if (const char* env = std::getenv("DENSEAM_PYTHON"))
        python = env;
    else if (access("/usr/bin/python3", X_OK) == 0)
        python = "/usr/bin/python3";
    std::string cmd = shell_quote(python) + " " + shell_quote(script);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " 1>&2";
    std::cout.flush();
    const int rc = std::system(cmd.c_str());
    if (rc != 0) {
        std::cerr << "denseam: warning: plotting failed (" << python << " " << script
                  << "; matplotlib missing?); the data files are complete\n";
        return false;
    }
    return true;
}

}  // namespace denseam::cli
