// SPDX-License-Identifier: MIT
#include "io/format.hpp"

#include <charconv>

namespace denseam::detail {

std::string shortest(double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, r.ptr);
    // Written as a float, like Python's repr: "-1.0", not "-1".
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

std::string format_shape(std::span<const std::int64_t> shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) s += ", ";
        s += std::to_string(shape[i]);
    }
    if (shape.size() == 1) s += ",";
    return s + ")";
}

std::string printable_text(std::string_view s, std::size_t max_len) {
    std::string out;
    for (std::size_t i = 0; i < s.size() && i < max_len; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    if (s.size() > max_len) out += "...";
    return out;
}

std::string in_quotes(std::string_view s) {
    std::string out(1, '\'');
    out.append(s);
    out.push_back('\'');
    return out;
}

}  // namespace denseam::detail
