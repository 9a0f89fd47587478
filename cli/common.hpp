// SPDX-License-Identifier: MIT
// Shared pieces of the denseam CLI: the subcommand table, array loading and output helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/exec.hpp"
#include "denseam/kernels.hpp"
#include "denseam/matrix_view.hpp"
#include "denseam/npy.hpp"

namespace denseam::cli {

/// Exit codes of the tool.
inline constexpr int exit_ok = 0;
inline constexpr int exit_runtime = 1;
inline constexpr int exit_usage = 2;

/// A subcommand: `add` declares its options on `sub` and returns the function that runs it.
using run_fn = std::function<int()>;
run_fn add_energy(CLI::App& sub);
run_fn add_retrieve(CLI::App& sub);
run_fn add_info(CLI::App& sub);
run_fn add_demo(CLI::App& sub);
run_fn add_lmin0(CLI::App& sub);
run_fn add_fig1(CLI::App& sub);
run_fn add_akem(CLI::App& sub);
run_fn add_minima(CLI::App& sub);
run_fn add_logl0(CLI::App& sub);
run_fn add_dataset(CLI::App& sub);
run_fn add_bstor(CLI::App& sub);
run_fn add_pxle(CLI::App& sub);
run_fn add_qbvae(CLI::App& sub);
run_fn add_vae(CLI::App& sub);
run_fn add_drdam(CLI::App& sub);
run_fn add_drdam_study(CLI::App& sub);
run_fn add_cluster(CLI::App& sub);
run_fn add_clam_bench(CLI::App& sub);
run_fn add_store(CLI::App& sub);

/// A 2-D float64 or float32 array loaded from a .npy file, with its name for messages.
struct loaded_matrix {
    std::string path;
    npy_array array;
    std::int64_t rows() const { return array.shape[0]; }
    std::int64_t cols() const { return array.shape[1]; }
};

/// Read `path` and require a 2-D array; `what` ("memories", "queries") names it in errors.
loaded_matrix load_matrix(const std::string& path, const std::string& what);

/// Memories and queries for a computation: both loaded and checked (2-D, finite, non-empty
/// memories, equal dimensions), and the precision chosen from `dtype` ("auto": float32 when both
/// files are float32; "float32"; "float64").
struct loaded_pair {
    loaded_matrix memories, queries;
    bool float32 = false;
};
/// The precision `dtype` asks for ("auto": float32 when both inputs are float32; "float32";
/// "float64"); throws invalid_argument for another name.
bool computes_in_float32(const std::string& dtype, bool memories_f32, bool queries_f32);

loaded_pair load_memories_queries(const std::string& memories_path,
                                  const std::string& queries_path,
                                  const std::string& dtype);

/// Convert `m` to double precision (copy) or to float, as the computation needs.
std::vector<double> as_f64(const loaded_matrix& m);
std::vector<float> as_f32(const loaded_matrix& m);
/// as_f32 for T = float, as_f64 for T = double.
template <class T>
std::vector<T> as_vector(const loaded_matrix& m) {
    if constexpr (sizeof(T) == 4)
        return as_f32(m);
    else
        return as_f64(m);
}

/// Options shared by every subcommand that takes an energy (--kernel --beta --eps --q --degree).
struct energy_cli_options {
    std::string kernel = std::string(to_string(energy_params{}.kernel));
    double beta = 0.0;
    double eps = energy_params{}.eps;
    std::string q = std::string(to_string(energy_params{}.q));
    int degree = energy_params{}.degree;
    void add_to(CLI::App& sub);
    energy_params to_params() const;  ///< parses and validates (invalid_argument on error)
};

/// exec_options for `--threads N`: N >= 0 (0: all cores), else invalid_argument naming the flag.
exec_options make_exec(int threads);

/// The help of `--index` (exec_options::index) on the commands that take it.
inline constexpr const char* index_flag_help =
    "Range index for compact kernels: auto, brute, kdtree or ball (same support sets and fixed "
    "points; energies may differ in rounding)";
/// The index_kind of `--index VALUE`; invalid_argument naming the flag and the choices.
index_kind parse_index_flag(const std::string& value);

/// Runs f(); a denseam::invalid_argument from the library is rethrown with its field names
/// replaced by this command's option names, e.g. {{"n_2d", "--n2d"}}, so that the message
/// names the option the user typed.
template <class F>
auto with_option_names(std::initializer_list<std::pair<std::string_view, std::string_view>> names,
                       F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const invalid_argument& e) {
        std::string msg = e.what();
        for (const auto& [field, option] : names)
            for (std::size_t at = msg.find(field); at != std::string::npos;
                 at = msg.find(field, at + option.size()))
                msg.replace(at, field.size(), option);
        throw invalid_argument(msg);
    }
}

/// An in-place progress bar on stderr (done/total `unit`, elapsed time, ETA), drawn at most every
/// 0.1 s unless forced; does nothing when `on` is false.
class progress_bar {
  public:
    progress_bar(bool on, std::int64_t total, std::string unit);
    void update(double done, const std::string& what, bool force = false);
    void set_total(std::int64_t total) { total_ = total; }
    void clear_line();  ///< erase the bar (before printing a line of results)
    void finish();      ///< end the bar's line

  private:
    using clock = std::chrono::steady_clock;
    bool on_;
    std::int64_t total_;
    std::string unit_;
    clock::time_point t0_, last_{};
};

/// Print one JSON object on stdout (pretty if requested) followed by a newline.
void print_json(const nlohmann::json& j);

}  // namespace denseam::cli
