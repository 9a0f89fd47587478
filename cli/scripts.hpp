// SPDX-License-Identifier: MIT
// Running a module of the Python package (`python -m denseam.<module>`) from the CLI, for the
// commands that are Python scripts over the compiled module (clam-bench: scikit-learn's k-means
// and metrics beside denseam.ClAM). The figures-only script has its own runner (plots.hpp),
// with the same interpreter (find_python).
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "denseam/error.hpp"

extern char** environ;

namespace denseam::cli {

/// The interpreter: $DENSEAM_PYTHON, else Debian's /usr/bin/python3 (it has NumPy, scikit-learn
/// and matplotlib) when executable, else python3 from PATH.
inline std::string find_python() {
    if (const char* env = std::getenv("DENSEAM_PYTHON"); env != nullptr && *env != '\0') return env;
    if (access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
    return "python3";
}

/// The folder to put on PYTHONPATH so that `import denseam` finds the package that belongs to
/// this executable, with `module_file` (e.g. "clam_bench.py") in it:
///  - $DENSEAM_PYTHONPATH when set (used as given);
///  - <bin>/../python: a build tree (build/<preset>/bin/denseam; the _denseam target builds the
///    package in build/<preset>/python/denseam, compiled module and .py files together);
///  - <bin>/../lib/python3.*/dist-packages: an installed prefix (`cmake --install`, component
///    python, puts the package there).
/// Empty when none has it: the interpreter's own path decides (a package installed elsewhere).
inline std::string find_python_package_root(const std::string& module_file) {
    namespace fs = std::filesystem;
    if (const char* env = std::getenv("DENSEAM_PYTHONPATH"); env != nullptr && *env != '\0')
        return env;
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    const fs::path prefix = exe.parent_path().parent_path();
    std::vector<fs::path> roots{prefix / "python"};
    for (fs::directory_iterator it(prefix / "lib", ec), end; !ec && it != end; it.increment(ec))
        if (it->path().filename().string().rfind("python3", 0) == 0)
            roots.push_back(it->path() / "dist-packages");
    for (const auto& root : roots)
        if (fs::is_regular_file(root / "denseam" / module_file, ec))
            return fs::weakly_canonical(root, ec).string();
    return {};
}

/// How a script ended: its exit status and its error line ("<prog>: error: " stripped; the last
/// line it wrote when it failed without one).
struct script_result {
    int exit_code = 0;
    std::string error;
};

/// Runs `<python> -m <module> <args...>` with PYTHONPATH = `root` (when not empty) before the
/// caller's. Its stdout is ours; its stderr is forwarded line by line: its own lines
/// ("<prog>: ...", progress) as they come, other lines one line late, except the error line
/// "<prog>: error: ..." (or, on a failure without one, the last other line), which is returned
/// instead. Ctrl-C reaches the
/// script, which reports it; this process waits for it. Throws backend_error when the
/// interpreter cannot be started or the script is killed by a signal.
inline script_result run_python_module(const std::string& module,
                                       const std::vector<std::string>& args,
                                       const std::string& root,
                                       const std::string& prog) {
    const std::string python = find_python();
    std::vector<std::string> argv_s{python, "-m", module};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (!root.empty()) {
        const char* old = std::getenv("PYTHONPATH");
        const std::string path = old != nullptr && *old != '\0' ? root + ":" + old : root;
        setenv("PYTHONPATH", path.c_str(), 1);
    }
    int fds[2];
    if (pipe(fds) != 0)
        throw backend_error("cannot create a pipe: " + std::string(strerror(errno)));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::cout.flush();
    std::cerr.flush();
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, python.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        throw backend_error("cannot run " + python + " (" + strerror(rc) +
                            "): set DENSEAM_PYTHON to a Python 3 with NumPy and scikit-learn");
    }
    // The script handles Ctrl-C (one line, complete files); we only wait for it.
    struct sigaction ignore {
    }, old_int{};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ignore, &old_int);
    const std::string marker = prog + ": error: ";
    script_result res;
    std::string held;
    if (FILE* in = fdopen(fds[0], "r")) {
        char* line = nullptr;
        std::size_t cap = 0;
        ssize_t len = 0;
        while ((len = getline(&line, &cap, in)) >= 0) {
            std::string s(line, static_cast<std::size_t>(len));
            while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
            if (s.rfind(marker, 0) == 0) {
                res.error = s.substr(marker.size());
            } else if (s.rfind(prog + ": ", 0) == 0) {
                std::cerr << s << '\n' << std::flush;  // progress: at once
            } else if (s.find_first_not_of(" \t") != std::string::npos) {
                // Another line (the interpreter's, a warning): held one line back, so that the
                // last one becomes the error message of a failure instead of being shown twice.
                if (!held.empty()) std::cerr << held << '\n' << std::flush;
                held = s;
            }
        }
        std::free(line);
        std::fclose(in);
    } else {
        close(fds[0]);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    sigaction(SIGINT, &old_int, nullptr);
    if (WIFSIGNALED(status))
        throw backend_error(python + " -m " + module + " was killed by signal " +
                            std::to_string(WTERMSIG(status)));
    res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (res.exit_code != 0 && res.error.empty()) {
        res.error = held.empty() ? python + " -m " + module + " exited with status " +
                                       std::to_string(res.exit_code)
                                 : held;
    } else if (!held.empty()) {
        std::cerr << held << '\n' << std::flush;
    }
    return res;
}

}  // namespace denseam::cli
