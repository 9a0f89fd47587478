// SPDX-License-Identifier: MIT
// denseam: NumPy .npy files in and out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "denseam/matrix_view.hpp"

namespace denseam {

/// An array read from a .npy file, in C (row-major) order and native byte order.
/// float32 files stay float32 (`f32`); float64 files, and integer and bool files (converted
/// exactly or to the nearest double), are float64 (`f64`). Exactly one of f32/f64 is used.
struct npy_array {
    std::vector<std::int64_t> shape;
    bool is_float32 = false;
    std::vector<float> f32;
    std::vector<double> f64;
    std::string descr;  ///< the file's dtype descriptor, e.g. "<f4", ">i8", "|b1"

    std::int64_t size() const noexcept;
    /// View of a 2-D array; throws denseam::invalid_argument (naming `what` and the shape) if
    /// the array is not 2-D or has the other dtype.
    matrix_view<const float> matrix_f32(std::string_view what) const;
    matrix_view<const double> matrix_f64(std::string_view what) const;
    /// The array converted to double (a copy when it is float32).
    std::vector<double> to_f64() const;
};

/// Parse .npy bytes (format versions 1.0, 2.0, 3.0; little or big endian; C or Fortran order;
/// dtypes f2/f4/f8, i1/i2/i4/i8, u1/u2/u4/u8, b1). `name` is used in error messages.
/// @throws denseam::invalid_argument naming `name` and what is wrong: bad magic, unsupported
///         version, malformed header, unsupported dtype (complex, object, structured, strings,
///         ...), data shorter or longer than the shape says, absurd shapes.
npy_array parse_npy(std::span<const std::byte> bytes, std::string_view name);

/// Read a .npy file; errors name the path (missing, unreadable, or any parse_npy error). A pipe,
/// FIFO or device is read no further than its header says (the magic is checked first); a
/// declared size beyond the machine's physical memory is refused before anything is allocated.
/// Cost: one read of the file (native float32/float64 C-order data goes straight into place).
/// Thread-safe.
npy_array read_npy(const std::string& path);

/// Rows [begin, end) of a 2-D .npy file, for a process that holds a share of a large memory set
/// (src/dist): from a regular file in C order only the header and those rows' bytes are read (one
/// positioned read); a Fortran-order file, pipe or device is read whole and the rows kept. The
/// array has shape (end - begin, cols) and read_npy's element conversion.
/// @throws denseam::invalid_argument naming the path: every read_npy error, a file that is not
///         2-D, or 0 <= begin <= end <= rows violated (the message gives the file's rows).
npy_array read_npy_rows(const std::string& path, std::int64_t begin, std::int64_t end);

/// The shape of a .npy file and whether read_npy gives float32, from its header alone (a regular
/// file; anything else is read whole). Errors as read_npy's.
struct npy_shape {
    std::vector<std::int64_t> shape;
    bool is_float32 = false;
};
npy_shape read_npy_shape(const std::string& path);

/// Write a C-order little-endian .npy (version 1.0) file of `shape`. The file is written to a
/// temporary name in the same directory, flushed and renamed, so no partial file is ever left
/// behind; only a regular file (or the regular file a symbolic link names) is replaced.
/// @throws denseam::invalid_argument if the product of `shape` differs from data.size() or
///         `path` names something other than a regular file (a FIFO, a device, a directory) or
///         lies in a missing directory; denseam::backend_error if the file cannot be written
///         (message names the path). Cost: one pass over the data. Thread-safe for distinct
///         paths.
void write_npy(const std::string& path,
               std::span<const float> data,
               std::span<const std::int64_t> shape);
void write_npy(const std::string& path,
               std::span<const double> data,
               std::span<const std::int64_t> shape);
void write_npy(const std::string& path,
               std::span<const std::int64_t> data,
               std::span<const std::int64_t> shape);
void write_npy(const std::string& path,
               std::span<const std::int32_t> data,
               std::span<const std::int64_t> shape);
void write_npy(const std::string& path,
               std::span<const std::uint8_t> data,
               std::span<const std::int64_t> shape);

/// Serialise to .npy bytes (what write_npy writes).
std::vector<std::byte> to_npy_bytes(std::span<const double> data,
                                    std::span<const std::int64_t> shape);
std::vector<std::byte> to_npy_bytes(std::span<const float> data,
                                    std::span<const std::int64_t> shape);
std::vector<std::byte> to_npy_bytes(std::span<const std::int64_t> data,
                                    std::span<const std::int64_t> shape);
std::vector<std::byte> to_npy_bytes(std::span<const std::int32_t> data,
                                    std::span<const std::int64_t> shape);
std::vector<std::byte> to_npy_bytes(std::span<const std::uint8_t> data,
                                    std::span<const std::int64_t> shape);

}  // namespace denseam
