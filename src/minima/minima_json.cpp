// SPDX-License-Identifier: MIT
// JSON of the exact LSR minima (include/denseam/minima.hpp, to_json).
#include <cmath>
#include <nlohmann/json.hpp>

#include "denseam/minima.hpp"

namespace denseam {

std::string to_json(const minima_result& r) {
    nlohmann::ordered_json offsets = nlohmann::ordered_json::array({0}),
                           indices = nlohmann::ordered_json::array(),
                           energy = nlohmann::ordered_json::array(),
                           hess = nlohmann::ordered_json::array(),
                           basin = nlohmann::ordered_json::array(),
                           nearest = nlohmann::ordered_json::array(),
                           nearest_d = nlohmann::ordered_json::array(),
                           stored = nlohmann::ordered_json::array(),
                           novel = nlohmann::ordered_json::array();
    std::int64_t total = 0;
    for (const auto& m : r.minima) {
        for (auto s : m.support) indices.push_back(s);
        total += static_cast<std::int64_t>(m.support.size());
        offsets.push_back(total);
        energy.push_back(m.energy);
        hess.push_back(m.hessian_scale);
        basin.push_back(std::isfinite(m.basin_radius) ? nlohmann::ordered_json(m.basin_radius)
                                                      : nlohmann::ordered_json(nullptr));
        nearest.push_back(m.nearest);
        nearest_d.push_back(m.nearest_distance);
        stored.push_back(m.stored);
        novel.push_back(m.novel);
    }
    nlohmann::ordered_json j;
    j["offsets"] = offsets;
    j["indices"] = indices;
    j["energy"] = energy;
    j["hessian_scale"] = hess;
    j["basin_radius"] = basin;
    j["nearest"] = nearest;
    j["nearest_distance"] = nearest_d;
    j["stored"] = stored;
    j["novel"] = novel;
    return j.dump();
}

}  // namespace denseam
