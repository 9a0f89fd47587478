// SPDX-License-Identifier: MIT
// The memory store's file (format version 1, docs/store.md): writer and checked reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "denseam/store.hpp"

namespace denseam::detail {

/// What the JSON header of a store file holds.
struct store_header {
    store_dtype dtype = store_dtype::float64;
    std::int64_t size = 0, dim = 0, next_id = 0;
    energy_params params;
    index_kind index = index_kind::automatic;
};

/// The 16-byte magic at offset 0 of every store file.
inline constexpr char store_magic[17] = "DENSEAMSTORE\r\n\x1a\n";
inline constexpr std::uint32_t store_version = 1;

/// FNV-1a-64 of `bytes` continuing from `h` (start with fnv1a_basis).
inline constexpr std::uint64_t fnv1a_basis = 0xcbf29ce484222325ULL;
std::uint64_t fnv1a(std::uint64_t h, std::span<const std::byte> bytes) noexcept;

/// Writes a store file crash-safely (write_file_atomic): `ids` (h.size), `patterns`
/// (h.size x h.dim values of h.dtype, raw bytes). progress(done, total) after each chunk.
void write_store_file(const std::string& path,
                      const store_header& h,
                      std::span<const std::int64_t> ids,
                      std::span<const std::byte> patterns,
                      const store_progress& progress);

/// A checked store file: the header, the ids, and the patterns' bytes inside the mapping.
struct mapped_store_file {
    store_header header;
    std::vector<std::int64_t> ids;
    std::span<const std::byte> patterns;  ///< h.size x h.dim values of h.dtype, 64-byte aligned
    std::shared_ptr<const void> mapping;  ///< unmaps the file when the last copy goes
};

/// Maps and checks a store file: magic, version, header, exact size, checksum, ids (strictly
/// ascending, in [0, next_id)). progress(done, total) while the checksum is verified.
/// @throws invalid_argument naming `path` and the fault.
mapped_store_file read_store_file(const std::string& path, const store_progress& progress);

}  // namespace denseam::detail
