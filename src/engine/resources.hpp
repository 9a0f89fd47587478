// SPDX-License-Identifier: MIT
// Memory limits: sizes from users are checked against the machine before memory is allocated.
#pragma once

#include <cstdint>
#include <string>

namespace denseam::detail {

/// Physical memory of this machine in bytes (0 when unknown).
std::uint64_t physical_memory() noexcept;

/// "1.6 GB", "23.4 GiB"-style text of a byte count.
std::string format_bytes(double bytes);

/// Throws denseam::invalid_argument "<what> needs about <bytes>, more than this machine's
/// <physical memory> of memory" when `bytes` exceeds the physical memory (or is not finite).
/// `what` names the option or value responsible, e.g. "n_2d = 100000 (the 2-D landscapes)".
void require_memory(double bytes, const std::string& what);

}  // namespace denseam::detail
