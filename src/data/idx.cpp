// SPDX-License-Identifier: MIT
// IDX files (MNIST, Fashion-MNIST), raw or gzip. Everything read is untrusted: the header is
// checked first, and the data length must match the dimensions exactly.
#include <zlib.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "denseam/datasets.hpp"
#include "denseam/error.hpp"
#include "engine/resources.hpp"
#include "io/format.hpp"

namespace denseam {
namespace {

[[noreturn]] void fail(std::string_view name, const std::string& what) {
    throw invalid_argument(detail::in_quotes(std::string(name)) +
                           " is not a valid IDX file: " + what);
}

std::size_t dtype_size(std::uint8_t t) {
    switch (t) {
        case 0x08:
        case 0x09:
            return 1;
        case 0x0B:
            return 2;
        case 0x0C:
        case 0x0D:
            return 4;
        case 0x0E:
            return 8;
        default:
            return 0;
    }
}

struct idx_header {
    std::uint8_t dtype = 0;
    std::vector<std::int64_t> shape;
    std::uint64_t count = 1;   // values
    std::uint64_t nbytes = 0;  // data bytes
    std::size_t header_bytes = 0;
};

std::uint32_t be32(const std::byte* p) {
    return (std::uint32_t(std::to_integer<std::uint8_t>(p[0])) << 24) |
           (std::uint32_t(std::to_integer<std::uint8_t>(p[1])) << 16) |
           (std::uint32_t(std::to_integer<std::uint8_t>(p[2])) << 8) |
           std::uint32_t(std::to_integer<std::uint8_t>(p[3]));
}

/// The first 4 bytes: magic and dtype; returns the number of dimensions.
int parse_magic(std::span<const std::byte> b, std::string_view name, idx_header& h) {
    if (b.size() < 4) fail(name, "the file ends inside the 4-byte magic number");
    if (b[0] != std::byte{0} || b[1] != std::byte{0}) {
        const auto gz = b[0] == std::byte{0x1f} && b[1] == std::byte{0x8b};
        fail(name,
             gz ? "wrong magic number (a gzip stream inside the gzip stream?)"
                : "wrong magic number (the first two bytes must be 0; is it an IDX file?)");
    }
    h.dtype = std::to_integer<std::uint8_t>(b[2]);
    if (dtype_size(h.dtype) == 0) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02X", unsigned(h.dtype));
        fail(name,
             std::string("unknown dtype byte ") + hex +
                 " (expected 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32 or "
                 "0x0E float64)");
    }
    const int nd = std::to_integer<int>(b[3]);
    if (nd < 1 || nd > 8) fail(name, "it declares " + std::to_string(nd) + " dimensions (1..8)");
    return nd;
}

/// Dimensions (after the magic), the value count and the data size.
void parse_dims(std::span<const std::byte> b, int nd, std::string_view name, idx_header& h) {
    if (b.size() < 4 + 4 * std::size_t(nd))
        fail(name, "the file ends inside the header (" + std::to_string(nd) + " dimensions)");
    h.shape.clear();
    h.count = 1;
    for (int k = 0; k < nd; ++k) {
        const std::uint32_t d = be32(b.data() + 4 + 4 * k);
        h.shape.push_back(d);
        // uint32 dimensions: the product of up to 8 could overflow 64 bits; cap at 2^62.
        if (d != 0 && h.count > (std::uint64_t(1) << 62) / d)
            fail(name, "its dimensions multiply to more than 2^62 values");
        h.count *= d;
    }
    h.nbytes = h.count * dtype_size(h.dtype);
    h.header_bytes = 4 + 4 * std::size_t(nd);
}

std::string shape_text(const std::vector<std::int64_t>& s) {
    std::string t;
    for (std::size_t i = 0; i < s.size(); ++i) t += (i ? " x " : "") + std::to_string(s[i]);
    return t;
}

void check_length(const idx_header& h, std::uint64_t got, std::string_view name, bool at_least) {
    if (got < h.nbytes || (!at_least && got > h.nbytes)) {
        fail(name,
             "its dimensions " + shape_text(h.shape) + " need " + std::to_string(h.nbytes) +
                 " data bytes but " + (got < h.nbytes ? "only " : "") + std::to_string(got) +
                 (got < h.nbytes ? " follow (truncated)" : " follow (trailing data)"));
    }
}

template <class U>
U load_be(const std::byte* p) {
    U v;
    std::memcpy(&v, p, sizeof(U));
    if constexpr (std::endian::native == std::endian::little) {
        if constexpr (sizeof(U) == 2) v = __builtin_bswap16(v);
        if constexpr (sizeof(U) == 4) v = __builtin_bswap32(v);
        if constexpr (sizeof(U) == 8) v = __builtin_bswap64(v);
    }
    return v;
}

void decode(const idx_header& h, const std::byte* data, idx_array& out) {
    out.shape = h.shape;
    out.dtype = h.dtype;
    out.values.resize(h.count);
    double* v = out.values.data();
    const std::size_t n = h.count;
    switch (h.dtype) {
        case 0x08:
            for (std::size_t i = 0; i < n; ++i) v[i] = std::to_integer<std::uint8_t>(data[i]);
            break;
        case 0x09:
            for (std::size_t i = 0; i < n; ++i)
                v[i] = static_cast<std::int8_t>(std::to_integer<std::uint8_t>(data[i]));
            break;
        case 0x0B:
            for (std::size_t i = 0; i < n; ++i)
                v[i] = static_cast<std::int16_t>(load_be<std::uint16_t>(data + 2 * i));
            break;
        case 0x0C:
            for (std::size_t i = 0; i < n; ++i)
                v[i] = static_cast<std::int32_t>(load_be<std::uint32_t>(data + 4 * i));
            break;
        case 0x0D:
            for (std::size_t i = 0; i < n; ++i)
                v[i] = std::bit_cast<float>(load_be<std::uint32_t>(data + 4 * i));
            break;
        default:
            for (std::size_t i = 0; i < n; ++i)
                v[i] = std::bit_cast<double>(load_be<std::uint64_t>(data + 8 * i));
            break;
    }
}

struct gz_closer {
    void operator()(gzFile f) const { gzclose(f); }
};

/// Reads up to `n` bytes; returns how many were read. Throws on a corrupt stream.
std::uint64_t gz_read(gzFile f, std::byte* dst, std::uint64_t n, const std::string& path) {
    std::uint64_t got = 0;
    while (got < n) {
        const auto chunk = static_cast<unsigned>(std::min<std::uint64_t>(n - got, 1u << 30));
        const int r = gzread(f, dst + got, chunk);
        if (r < 0) {
            int code = 0;
            const char* msg = gzerror(f, &code);
            if (code == Z_ERRNO)
                throw invalid_argument("cannot read " + detail::in_quotes(path) + ": " +
                                       std::strerror(errno));
            fail(path, std::string("corrupt gzip stream (") + (msg ? msg : "zlib error") + ")");
        }
        if (r == 0) {
            int code = 0;
            const char* msg = gzerror(f, &code);
            if (code != Z_OK && code != Z_STREAM_END)
                fail(path,
                     std::string("corrupt or truncated gzip stream (") +
                         (msg ? msg : "zlib error") + ")");
            break;
        }
        got += static_cast<std::uint64_t>(r);
    }
    return got;
}

}  // namespace

idx_array parse_idx(std::span<const std::byte> bytes, std::string_view name) {
    idx_header h;
    const int nd = parse_magic(bytes, name, h);
    parse_dims(bytes, nd, name, h);
    check_length(h, bytes.size() - h.header_bytes, name, false);
    idx_array out;
    decode(h, bytes.data() + h.header_bytes, out);
    return out;
}

idx_array read_idx(const std::string& path) {
    std::error_code ec;
    errno = 0;
    std::unique_ptr<gzFile_s, gz_closer> f(gzopen(path.c_str(), "rb"));
    if (!f) {
        throw invalid_argument("cannot open " + detail::in_quotes(path) + ": " +
                               (errno ? std::strerror(errno) : "out of memory"));
    }
    gzbuffer(f.get(), 1 << 17);
    std::byte head[4 + 4 * 8];
    std::uint64_t got = gz_read(f.get(), head, 4, path);
    idx_header h;
    const int nd = parse_magic({head, static_cast<std::size_t>(got)}, path, h);
    got += gz_read(f.get(), head + 4, 4 * std::uint64_t(nd), path);
    parse_dims({head, static_cast<std::size_t>(got)}, nd, path, h);
    detail::require_memory(double(h.nbytes) + 8.0 * double(h.count),
                           detail::in_quotes(path) + " (" + shape_text(h.shape) + " values)");
    std::vector<std::byte> data(static_cast<std::size_t>(h.nbytes) + 1);
    const std::uint64_t n = gz_read(f.get(), data.data(), h.nbytes + 1, path);
    check_length(h, n, path, false);
    idx_array out;
    decode(h, data.data(), out);
    return out;
}

}  // namespace denseam
