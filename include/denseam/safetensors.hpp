// SPDX-License-Identifier: MIT
// denseam: safetensors files (named tensors, e.g. a network's weights) in and out.
//
// The format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each tensor
// name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data that follows the
// header), an optional "__metadata__" object of strings, then the data: little-endian, C order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace denseam {

/// One named tensor, in C (row-major) order. The values are kept in one of two vectors, chosen
/// by the dtype; the other one is empty:
///   - f32: "F32", "F16" and "BF16" (every half and bfloat16 value is exactly a float);
///   - f64: "F64", the integers "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64" (exact,
///     except I64/U64 values beyond 2^53, which are rounded to the nearest double) and "BOOL"
///     (0 or 1; a nonzero byte reads as 1).
/// A scalar has shape {} and one value; a shape with a zero dimension has no values.
struct st_tensor {
    std::string name;  ///< e.g. "encoder.0.weight"
    std::string dtype = "F32";
    std::vector<std::int64_t> shape;
    std::vector<float> f32;
    std::vector<double> f64;

    /// The number of elements: the product of the shape (1 for a scalar).
    std::int64_t size() const noexcept;
    /// Whether `dtype` keeps its values in f32 (F32, F16, BF16) rather than f64.
    bool uses_f32() const noexcept;
    /// The values as double (a copy; exact for the f32 dtypes).
    std::vector<double> to_f64() const;
};

/// The contents of a safetensors file.
struct st_file {
    std::vector<st_tensor> tensors;  ///< in the order of the header
    std::map<std::string, std::string> metadata;

    /// The tensor called `name`, or nullptr. Cost: a linear scan.
    const st_tensor* find(std::string_view name) const;
};

/// Parse safetensors bytes; `name` is used in error messages. Everything is checked: the header
/// length (at most the bytes that follow, and at most 100,000,000 bytes); the header is a JSON
/// object with no repeated key; each tensor entry has exactly the keys "dtype" (a supported one:
/// F16, BF16, F32, F64, I8, I16, I32, I64, U8, U16, U32, U64, BOOL), "shape" (at most 64
/// non-negative integers) and "data_offsets" ([begin, end] with end - begin = the elements times
/// the item size); "__metadata__", if present, maps strings to strings; the tensors cover the data
/// section exactly once, with no overlap, no hole and nothing past its end.
/// @throws denseam::invalid_argument, a one-line message that starts with `name` in quotes and
///         says what is wrong (and which tensor); or "reading 'name' needs about ..." when the
///         decoded tensors would not fit in the machine's physical memory.
st_file parse_safetensors(std::span<const std::byte> bytes, std::string_view name);

/// Read a safetensors file; errors name the path (missing, unreadable, or any parse_safetensors
/// error). The header is read and checked before the data; data larger than the machine's
/// physical memory is refused before anything is allocated for it. A pipe or FIFO is read no
/// further than the header says. Cost: one read of the file. Thread-safe.
st_file read_safetensors(const std::string& path);

/// Serialise `tensors` (laid out one after the other in the given order, with no padding) and
/// `metadata` (written first, as "__metadata__", when not empty). The header is padded with
/// spaces to a multiple of 8 bytes. Every dtype that parse_safetensors reads can be written,
/// from the vector that st_tensor documents for it.
/// @throws denseam::invalid_argument if a name is repeated or is "__metadata__", a name or
///         metadata string is not valid UTF-8, a dtype is unknown, a shape has a negative
///         dimension or more than 64, the values do not match the shape (or sit in the other
///         vector), or a value is not exactly representable in its dtype (e.g. 0.1 as F16, 2.5 as
///         I32, 2 as BOOL; NaN is accepted for the float dtypes). Cost: one pass over the data.
std::vector<std::byte> to_safetensors_bytes(
    const std::vector<st_tensor>& tensors, const std::map<std::string, std::string>& metadata = {});

/// Write what to_safetensors_bytes returns to `path` atomically: a temporary file in the same
/// directory, flushed and renamed, so no partial file is ever left behind; only a regular file
/// (or the regular file a symbolic link names) is replaced.
/// @throws denseam::invalid_argument as to_safetensors_bytes, or if `path` names something other
///         than a regular file or lies in a missing directory; denseam::backend_error if the
///         file cannot be written. Thread-safe for distinct paths.
void write_safetensors(const std::string& path,
                       const std::vector<st_tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace denseam
