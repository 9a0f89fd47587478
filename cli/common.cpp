// SPDX-License-Identifier: MIT
#include "common.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "denseam/energy.hpp"
#include "denseam/index.hpp"
#include "engine/validate.hpp"
#include "io/format.hpp"

namespace denseam::cli {

loaded_matrix load_matrix(const std::string& path, const std::string& what) {
    loaded_matrix m{path, read_npy(path)};
    if (m.array.shape.size() != 2)
        throw invalid_argument(what + " '" + path +
                               "' must be a 2-D array (rows x dim), got shape " +
                               detail::format_shape(m.array.shape));
    const std::string name = what + " '" + path + "'";
    if (m.rows() == 0 || m.cols() == 0)
        throw invalid_argument(name + " is empty (shape " + detail::format_shape(m.array.shape) +
                               ")");
    if (m.array.is_float32)
        detail::check_finite(m.array.matrix_f32(name), name.c_str());
    else
        detail::check_finite(m.array.matrix_f64(name), name.c_str());
    return m;
}

bool computes_in_float32(const std::string& dtype, bool memories_f32, bool queries_f32) {
    if (dtype != "auto" && dtype != "float32" && dtype != "float64")
        throw invalid_argument("unknown --dtype '" + dtype + "' (auto, float32, float64)");
    return dtype == "float32" || (dtype == "auto" && memories_f32 && queries_f32);
}

loaded_pair load_memories_queries(const std::string& memories_path,
                                  const std::string& queries_path,
                                  const std::string& dtype) {
    (void)computes_in_float32(dtype, false, false);  // the name, before reading anything
    loaded_pair p{load_matrix(memories_path, "memories"), load_matrix(queries_path, "queries")};
    if (p.memories.cols() != p.queries.cols())
        throw invalid_argument("queries '" + queries_path + "' have dimension " +
                               std::to_string(p.queries.cols()) + " but memories '" +
                               memories_path + "' have dimension " +
                               std::to_string(p.memories.cols()));
    p.float32 = computes_in_float32(dtype, p.memories.array.is_float32, p.queries.array.is_float32);
    return p;
}

std::vector<double> as_f64(const loaded_matrix& m) {
    return m.array.to_f64();
}

std::vector<float> as_f32(const loaded_matrix& m) {
    if (m.array.is_float32) return m.array.f32;
    return {m.array.f64.begin(), m.array.f64.end()};
}

void energy_cli_options::add_to(CLI::App& sub) {
    sub.add_option("--kernel,-k",
                   kernel,
                   [] {
                       std::string names;
                       for (const auto& k : kernel_names())
                           names += (names.empty() ? "" : ", ") + k;
                       return "Separation function: " + names;
                   }())
        ->capture_default_str();
    sub.add_option("--beta,-b", beta, "Inverse temperature beta > 0 (support radius sqrt(2/beta))")
        ->required();
    sub.add_option("--eps", eps, "Constant added once inside the log (paper eq. 3), >= 0")
        ->capture_default_str();
    sub.add_option("--q",
                   q,
                   "Outer function: auto (log for distance kernels, identity for poly), "
                   "log, identity")
        ->capture_default_str();
    sub.add_option("--degree", degree, "Exponent n of the poly kernel")->capture_default_str();
}

energy_params energy_cli_options::to_params() const {
    return make_energy_params(kernel, beta, eps, q, degree);
}

exec_options make_exec(int threads) {
    if (threads < 0)
        throw invalid_argument("--threads must be >= 0 (0: all cores), got " +
                               std::to_string(threads));
    exec_options ex;
    ex.n_threads = threads;
    return ex;
}

index_kind parse_index_flag(const std::string& value) {
    try {
        return parse_index_kind(value);
    } catch (const invalid_argument& e) {
        throw invalid_argument(std::string("--index: ") + e.what());
    }
}

progress_bar::progress_bar(bool on, std::int64_t total, std::string unit)
    : on_(on), total_(total), unit_(std::move(unit)), t0_(clock::now()) {}

void progress_bar::update(double done, const std::string& what, bool force) {
    if (!on_) return;
    const auto now = clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double f = total_ > 0 ? std::min(1.0, done / static_cast<double>(total_)) : 0.0;
    const int width = 30, fill = static_cast<int>(f * width);
    const double secs = std::chrono::duration<double>(now - t0_).count();
    // No estimate before the first unit is done (never "eta 0s" at 0 %).
    char eta[32] = "     ?";
    if (done > 0 && total_ > 0)
        std::snprintf(
            eta, sizeof eta, "%5.0fs", secs / done * (static_cast<double>(total_) - done));
    std::fprintf(stderr,
                 "\r[%s%s] %5.1f%% %lld/%lld %s %7.1fs eta %6s  %-36s",
                 std::string(static_cast<std::size_t>(fill), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - fill), '.').c_str(),
                 100.0 * f,
                 static_cast<long long>(done),
                 static_cast<long long>(total_),
                 unit_.c_str(),
                 secs,
                 eta,
                 what.c_str());
    std::fflush(stderr);
}

void progress_bar::clear_line() {
    if (on_) std::fputs("\r\033[K", stderr);
}

void progress_bar::finish() {
    if (on_) std::fputs("\n", stderr);
}

void print_json(const nlohmann::json& j) {
    std::cout << j.dump(2) << std::endl;
}

}  // namespace denseam::cli
