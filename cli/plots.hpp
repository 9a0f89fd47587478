// SPDX-License-Identifier: MIT
// Running the plotting script (python/denseam/plots.py under /usr/bin/python3) from the CLI.
// A figure that was asked for and cannot be made is an error (exit 1) after the data is written.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "denseam/error.hpp"
#include "scripts.hpp"

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

/// Run `plots.py <args...>`; its messages go to stderr. A figure the user asked for that cannot
/// be made is an error: throws denseam::backend_error (exit 1) with the script's one-line error
/// (the data files written before are complete, and the message says so).
inline void run_plot_script(const std::vector<std::string>& args) {
    const std::string script = find_plot_script();
    if (script.empty())
        throw backend_error(
            "plotting script python/denseam/plots.py not found (set DENSEAM_PLOTS, or use "
            "the data files: they are complete)");
    const std::string python = find_python();
    char err_path[] = "/tmp/denseam-plot-XXXXXX";
    const int fd = mkstemp(err_path);
    if (fd < 0) throw backend_error("plotting failed: cannot create a temporary file");
    close(fd);
    std::string cmd = shell_quote(python) + " " + shell_quote(script);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " 1>&2 2>" + shell_quote(err_path);
    std::cout.flush();
    const int rc = std::system(cmd.c_str());
    std::string last, line;
    {
        std::ifstream in(err_path);
        while (std::getline(in, line)) {
            if (line.find_first_not_of(" \t") == std::string::npos) continue;
            if (rc == 0) std::cerr << line << "\n";  // the script's notes ("wrote x.png")
            last = line;
        }
    }
    std::remove(err_path);
    if (rc != 0) {
        if (last.empty())
            last = WIFEXITED(rc) ? "exit status " + std::to_string(WEXITSTATUS(rc))
                                 : "killed by signal " + std::to_string(WTERMSIG(rc));
        throw backend_error("plotting failed (" + python + " " + script + "): " + last +
                            "; the data files are complete");
    }
}

}  // namespace denseam::cli
