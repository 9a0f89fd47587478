// SPDX-License-Identifier: MIT
#include "io/metadata.hpp"

#include <charconv>
#include <cmath>

#include "denseam/error.hpp"
#include "io/format.hpp"

namespace denseam::detail {

double metadata_number(const std::map<std::string, std::string>& m,
                       const std::string& key,
                       std::optional<double> fallback,
                       const std::string& path) {
    const auto it = m.find(key);
    if (it == m.end()) {
        if (fallback) return *fallback;
        throw invalid_argument(in_quotes(path) + ": metadata has no " + key);
    }
    double v = 0.0;
    const char* b = it->second.data();
    const auto r = std::from_chars(b, b + it->second.size(), v);
    if (r.ec != std::errc() || r.ptr != b + it->second.size() || !std::isfinite(v))
        throw invalid_argument(in_quotes(path) + ": metadata " + key + " = " +
                               in_quotes(printable_text(it->second, 40)) +
                               " is not a finite number");
    return v;
}

std::int64_t metadata_integer(const std::map<std::string, std::string>& m,
                              const std::string& key,
                              std::optional<std::int64_t> fallback,
                              std::int64_t lo,
                              std::int64_t hi,
                              const std::string& path) {
    std::optional<double> fb;
    if (fallback) fb = static_cast<double>(*fallback);
    const double v = metadata_number(m, key, fb, path);
    if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi) && v == std::floor(v)))
        throw invalid_argument(in_quotes(path) + ": metadata " + key + " = " + shortest(v) +
                               " is not an integer in [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
    return static_cast<std::int64_t>(v);
}

}  // namespace denseam::detail
