// SPDX-License-Identifier: MIT
#include "common.hpp"

#include <iostream>

#include "denseam/energy.hpp"

namespace denseam::cli {

loaded_matrix load_matrix(const std::string& path, const std::string& what) {
    loaded_matrix m{path, read_npy(path)};
    if (m.array.shape.size() != 2)
        throw invalid_argument(what + " '" + path +
                               "' must be a 2-D array (rows x dim), got shape " +
                               format_shape(m.array.shape));
    const std::string name = what + " '" + path + "'";
    if (m.rows() == 0)
        throw invalid_argument(name + " is empty (shape (0, " + std::to_string(m.cols()) + "))");
    if (m.array.is_float32)
        check_finite(m.array.matrix_f32(name), name.c_str());
    else
        check_finite(m.array.matrix_f64(name), name.c_str());
    return m;
}

loaded_pair load_memories_queries(const std::string& memories_path,
                                  const std::string& queries_path,
                                  const std::string& dtype) {
    if (dtype != "auto" && dtype != "float32" && dtype != "float64")
        throw invalid_argument("unknown --dtype '" + dtype + "' (auto, float32, float64)");
    loaded_pair p{load_matrix(memories_path, "memories"), load_matrix(queries_path, "queries")};
    if (p.memories.cols() != p.queries.cols())
        throw invalid_argument("queries '" + queries_path + "' have dimension " +
                               std::to_string(p.queries.cols()) + " but memories '" +
                               memories_path + "' have dimension " +
                               std::to_string(p.memories.cols()));
    p.float32 = dtype == "float32" ||
                (dtype == "auto" && p.memories.array.is_float32 && p.queries.array.is_float32);
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
                   "Separation function: lse, lsr, triangle, tophat, cosine, quartic, triweight, "
                   "tricube, poly")
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
    energy_params p;
    p.kernel = parse_kernel(kernel);
    p.beta = beta;
    p.eps = eps;
    p.q = parse_q(q);
    p.degree = degree;
    validate(p);
    return p;
}

void print_json(const nlohmann::json& j) {
    std::cout << j.dump(2) << std::endl;
}

}  // namespace denseam::cli
