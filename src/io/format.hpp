// SPDX-License-Identifier: MIT
// Numbers and shapes in messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace denseam::detail {

/// `v` as the shortest decimal text that parses back to it (std::to_chars), written as a float
/// like Python's repr: "0.1", "1e-300", "-1.0", "-0.0", "inf", "nan". Error messages quote values
/// with it (never "-0.000000" for -1e-300).
std::string shortest(double v);

/// A shape spelled as Python prints it, for messages: "(3, 4)", "(5,)", "()".
std::string format_shape(std::span<const std::int64_t> shape);

/// Untrusted text (from a file header) for a message: printable ASCII kept, other bytes as \xNN,
/// cut after `max_len` characters with "...".
std::string printable_text(std::string_view s, std::size_t max_len);

/// `s` in single quotes, how messages name files and values: 'data.npy'.
std::string in_quotes(std::string_view s);

}  // namespace denseam::detail
