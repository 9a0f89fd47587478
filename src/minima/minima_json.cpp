// SPDX-License-Identifier: MIT
// JSON of the minima results (include/denseam/minima.hpp: to_json, summary_json).
#include <cmath>
#include <nlohmann/json.hpp>

#include "denseam/minima.hpp"

namespace denseam {

std::vector<double> positions_of(const std::vector<minimum>& minima) {
    std::vector<double> out;
    for (const minimum& m : minima) out.insert(out.end(), m.position.begin(), m.position.end());
    return out;
}

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

std::string summary_json(const minima_result& r) {
    nlohmann::ordered_json j;
    j["stored"] = r.stored;
    j["emergent"] = r.emergent;
    j["total"] = r.stored + r.emergent;
    j["novel"] = r.novel;
    j["candidates"] = r.candidates;
    j["status"] = std::string(to_string(r.status));
    j["strategy"] = r.strategy_used;
    j["exact"] = r.status == minima_status::complete;
    j["seconds"] = r.seconds;
    return j.dump();
}

std::string to_json(const minima_curve& c) {
    nlohmann::ordered_json j;
    j["breakpoints"] = c.breakpoints;
    j["stored"] = c.stored;
    j["emergent"] = c.emergent;
    j["candidates"] = c.candidates;
    j["status"] = std::string(to_string(c.status));
    j["exact"] = c.status == minima_status::complete;
    j["strategy"] = "gray";
    j["seconds"] = c.seconds;
    j["note"] =
        "interval i is (breakpoints[i-1], breakpoints[i]) in beta, with breakpoints[-1] = 0 and "
        "breakpoints[K] = +inf";
    return j.dump();
}

std::string to_json(const minima_1d_result& r) {
    nlohmann::ordered_json minima = nlohmann::ordered_json::array(),
                           flat = nlohmann::ordered_json::array();
    for (const auto& m : r.minima) {
        nlohmann::ordered_json one;
        one["position"] = m.position;
        one["energy"] = m.energy;
        one["stored"] = m.stored;
        one["novel"] = m.novel;
        one["nearest"] = m.nearest;
        one["nearest_distance"] = m.nearest_distance;
        minima.push_back(one);
    }
    for (const auto& f : r.flat) {
        nlohmann::ordered_json one;
        one["lo"] = f.lo;
        one["hi"] = f.hi;
        one["energy"] = f.energy;
        one["is_minimum"] = f.is_minimum;
        flat.push_back(one);
    }
    nlohmann::ordered_json j;
    j["stored"] = r.stored;
    j["emergent"] = r.emergent;
    j["total"] = r.stored + r.emergent;
    j["novel"] = r.novel;
    j["minima"] = minima;
    j["flat"] = flat;
    return j.dump();
}

}  // namespace denseam
