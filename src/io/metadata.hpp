// SPDX-License-Identifier: MIT
// Numbers kept as text in a file's string metadata (safetensors "__metadata__"): parsed strictly,
// with errors that name the file and the key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace denseam::detail {

/// The finite number stored under `key`; `fallback` when the key is absent (or, without one,
/// invalid_argument "'path': metadata has no key"). invalid_argument naming path, key and text
/// when the text is not exactly a finite number.
double metadata_number(const std::map<std::string, std::string>& m,
                       const std::string& key,
                       std::optional<double> fallback,
                       const std::string& path);

/// An integer in [lo, hi] stored under `key` (as metadata_number, then the range check).
std::int64_t metadata_integer(const std::map<std::string, std::string>& m,
                              const std::string& key,
                              std::optional<std::int64_t> fallback,
                              std::int64_t lo,
                              std::int64_t hi,
                              const std::string& path);

}  // namespace denseam::detail
