// SPDX-License-Identifier: MIT
// The output files and the summary counts of a retrieval, shared by `denseam retrieve` and
// `denseam drdam --retrieve`.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "denseam/npy.hpp"
#include "denseam/retrieval.hpp"
#include "io/files.hpp"

namespace denseam::cli {

/// Sets the states (n x d) to `out` and, when their paths are not empty, the energies (n) and the
/// uint8 status codes (n) in `files`; returns {"status_counts": every status with its count,
/// "mean_steps": mean steps per query}.
template <class T>
nlohmann::json set_retrieval_outputs(const retrieve_result<T>& r,
                                     std::int64_t n,
                                     std::int64_t d,
                                     const std::string& out,
                                     const std::string& energy_out,
                                     const std::string& status_out,
                                     detail::file_plan& files) {
    const std::int64_t shape_x[] = {n, d}, shape_n[] = {n};
    files.set(out, to_npy_bytes(std::span<const T>(r.states), shape_x));
    if (!energy_out.empty())
        files.set(energy_out, to_npy_bytes(std::span<const T>(r.energy), shape_n));
    if (!status_out.empty()) {
        std::vector<std::uint8_t> s(r.status.size());
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(r.status[i]);
        files.set(status_out, to_npy_bytes(std::span<const std::uint8_t>(s), shape_n));
    }
    std::map<std::string, std::int64_t> counts;
    for (auto s : {retrieval_status::converged,
                   retrieval_status::max_steps,
                   retrieval_status::out_of_support,
                   retrieval_status::non_finite,
                   retrieval_status::not_minimum})
        counts[std::string(to_string(s))] = 0;
    double mean_steps = 0;
    for (std::size_t i = 0; i < r.status.size(); ++i) {
        counts[std::string(to_string(r.status[i]))]++;
        mean_steps += static_cast<double>(r.steps[i]);
    }
    if (n > 0) mean_steps /= static_cast<double>(n);
    return {{"status_counts", counts}, {"mean_steps", mean_steps}};
}

}  // namespace denseam::cli
