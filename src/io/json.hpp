// SPDX-License-Identifier: MIT
// Numbers in JSON output.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>

namespace denseam::detail {

/// A value for JSON output: finite numbers as numbers; NaN, +inf and -inf as the strings "nan",
/// "inf" and "-inf" (JSON has no literals for them; Python's float() reads all three back).
inline nlohmann::json json_number(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return v;
}

}  // namespace denseam::detail
