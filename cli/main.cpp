// SPDX-License-Identifier: MIT
// The denseam command-line tool: subcommand table, top-level error handling and exit codes.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "common.hpp"
#include "denseam/version.hpp"

namespace {

// OpenBLAS chooses its kernels when the library is loaded, before main() runs, and it misses
// AVX-512 on recent CPUs unless OPENBLAS_CORETYPE says so. Re-executing ourselves once with the
// variable set is the only way to get the fast kernels for a user who did not set it.
void ensure_openblas_coretype(char** argv) {
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr || std::getenv("DENSEAM_NO_REEXEC") != nullptr)
        return;
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    bool avx512 = false;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("flags", 0) == 0) {
            avx512 = line.find(" avx512f") != std::string::npos;
            break;
        }
    }
    if (!avx512) return;
    setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 1);
    execv("/proc/self/exe", argv);  // returns only on failure; then carry on as we are
}

// Under mpirun/srun with --distributed, errors found before the MPI job starts (options, usage)
// are found by every rank alike: only rank 0 prints them (the launchers' rank variables; MPI is
// not initialised yet). Every rank still exits with the code.
bool silent_rank(int argc, char** argv) {
    bool distributed = false;
    for (int i = 1; i < argc; ++i)
        distributed = distributed || std::string(argv[i]) == "--distributed";
    if (!distributed) return false;
    for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"}) {
        const char* r = std::getenv(v);
        if (r != nullptr && *r != '\0') return std::string(r) != "0";
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    ensure_openblas_coretype(argv);
    if (silent_rank(argc, argv)) std::cerr.setstate(std::ios::failbit);  // rank 0 speaks
    using namespace denseam::cli;
    CLI::App app{
        "denseam: Dense Associative Memories (LSE, LSR/Epanechnikov and other kernels): energies, "
        "retrieval and the experiments of 'Dense Associative Memory with Epanechnikov Energy'."};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("denseam ") + DENSEAM_VERSION_STRING);

    std::map<CLI::App*, run_fn> commands;
    auto add = [&](const char* name, const char* help, run_fn (*setup)(CLI::App&)) {
        CLI::App* sub = app.add_subcommand(name, help);
        commands[sub] = setup(*sub);
    };
    add("energy", "Energies (and gradients) of queries under a memory", add_energy);
    add("retrieve",
        "Retrieve memories from queries (fixed point or gradient descent)",
        add_retrieve);
    add("info", "Describe a .npy file: shape, dtype, finiteness", add_info);
    add("demo", "Fig. 1 minima of the paper (1-D pair, 2-D triangle) as JSON", add_demo);
    add("lmin0",
        "LMIN0: exact minima counts of random pattern sets over beta (JSON Lines)",
        add_lmin0);
    add("fig1", "Fig. 1 landscapes with their true minima (JSON + PNG)", add_fig1);
    add("akem", "AKEM: true minima of 8 kernels x 7 half-widths in 1-D (JSON + PNG)", add_akem);
    add("minima",
        "Every local minimum, exactly (LSR in any d, any kernel in 1-D), or the count-vs-beta "
        "curve",
        add_minima);
    add("logl0",
        "LOGL0: log-likelihood, uniqueness, novelty of retrievals, LSR vs LSE (JSONL)",
        add_logl0);
    add("dataset",
        "Write an image data set (fashion-mnist, mnist-digits, sklearn-digits) as .npy",
        add_dataset);
    add("bstor",
        "BSTOR: every image stored at once; exact preserved count/curve, seed, full-memory minima",
        add_bstor);
    add("pxle", "PXLE: pixel-space emergence of a few images, exactly (JSON + PNG)", add_pxle);
    add("qbvae",
        "QBVAE3 on latent codes: exact LSR minima of stored latents vs LSE at the same beta",
        add_qbvae);
    add("vae",
        "beta-VAE: train on images, encode images, decode latents (safetensors weights)",
        add_vae);
    add("drdam",
        "Distributed memory (DrDAM): random-feature energies, gradients and retrieval, build/save",
        add_drdam);
    add("drdam-study",
        "DrDAM study: error vs Y, retrieval of occluded images vs MrDAM, bytes (JSONL + PNG)",
        add_drdam_study);
    add("cluster",
        "Clustering with associative memories (ClAM, LSE or LSR): labels and prototypes",
        add_cluster);
    add("clam-bench",
        "ClAM vs k-means: silhouette, NMI, ARI on offline data sets (Markdown + PNG)",
        add_clam_bench);
    add("store",
        "A live memory store file: create, add, remove, info, retrieve (stable ids, range index)",
        add_store);

    // An empty value ("--beta ''", "--out=") is never meant; the option parser would read it as
    // 0 or as no file at all.
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool opt = a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9');
        if (opt && a.back() == '=') {
            std::cerr << "denseam: error: option " << a.substr(0, a.size() - 1)
                      << " was given an empty value\n";
            return exit_usage;
        }
        if (opt && a.find('=') == std::string::npos && i + 1 < argc && argv[i + 1][0] == '\0') {
            std::cerr << "denseam: error: option " << a << " was given an empty value\n";
            return exit_usage;
        }
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    } catch (const CLI::ParseError& e) {
        // One line, like every other error of the tool.
        std::string what = e.what();
        for (char& c : what)
            if (c == '\n') c = ' ';
        std::string sub;
        for (const CLI::App* s : app.get_subcommands()) sub = " " + s->get_name();
        std::cerr << "denseam: error: " << what << " (see denseam" << sub << " --help)\n";
        return exit_usage;
    }
    try {
        for (auto& [sub, run] : commands)
            if (sub->parsed()) return run();
    } catch (const denseam::invalid_argument& e) {
        std::cerr << "denseam: error: " << e.what() << "\n";
        return exit_usage;
    } catch (const std::invalid_argument& e) {
        std::cerr << "denseam: error: " << e.what() << "\n";
        return exit_usage;
    } catch (const std::exception& e) {
        std::cerr << "denseam: error: " << e.what() << "\n";
        return exit_runtime;
    }
    return exit_usage;
}
