// SPDX-License-Identifier: MIT
#include "engine/resources.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "denseam/error.hpp"

namespace denseam::detail {

std::uint64_t physical_memory() noexcept {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page <= 0) return 0;
    return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
}

std::string format_bytes(double bytes) {
    if (!std::isfinite(bytes)) return "an unbounded amount";
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 6) {
        bytes /= 1024.0;
        ++u;
    }
    char buf[64];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%.0f %s", bytes, units[u]);
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", bytes, units[u]);
    return buf;
}

void require_memory(double bytes, const std::string& what) {
    const std::uint64_t have = physical_memory();
    if (have == 0 && std::isfinite(bytes)) return;
    if (std::isfinite(bytes) && bytes <= static_cast<double>(have)) return;
    throw invalid_argument(what + " needs about " + format_bytes(bytes) +
                           ", more than this machine's " + format_bytes(static_cast<double>(have)) +
                           " of memory");
}

}  // namespace denseam::detail
