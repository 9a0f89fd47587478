// SPDX-License-Identifier: MIT
// NumPy .npy reader and writer (format versions 1.0, 2.0 and 3.0).
//
// Everything read from a file is untrusted: the header is parsed by a small bounded Python-literal
// parser (no recursion deeper than kMaxDepth), every size is checked for overflow, and the data
// size is compared with what the file holds, and with the physical memory, before anything is
// allocated. A stream (pipe, FIFO, device) is read no further than its header says, and never
// more than one chunk ahead of the bytes that arrive. fuzz/fuzz_npy.cpp runs parse_npy under
// libFuzzer + ASan + UBSan.
#include "denseam/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "denseam/error.hpp"
#include "engine/resources.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "io/input.hpp"

namespace denseam {

namespace {

using detail::append_from_stream;
using detail::fd_guard;
using detail::in_quotes;
using detail::read_some;

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr std::size_t kMaxDims = 64;     // numpy allows 32 (64 since numpy 2.0)
constexpr int kMaxDepth = 16;            // nesting of (), [], {} in the header
constexpr std::size_t kWriteAlign = 64;  // numpy aligns the data to 64 bytes

// Printable, bounded rendering of untrusted header text for error messages.
std::string sanitize(std::string_view s, std::size_t max_len = 120) {
    return detail::printable_text(s, max_len);
}

[[noreturn]] void fail(std::string_view name, const std::string& problem) {
    throw invalid_argument(in_quotes(name) + ": " + problem);
}

// ---- byte order ---------------------------------------------------------------------------

inline std::uint16_t bswap(std::uint16_t v) {
    return __builtin_bswap16(v);
}
inline std::uint32_t bswap(std::uint32_t v) {
    return __builtin_bswap32(v);
}
inline std::uint64_t bswap(std::uint64_t v) {
    return __builtin_bswap64(v);
}

template <class U>
U load_bits(const std::byte* p, bool swap) {
    U u;
    std::memcpy(&u, p, sizeof(U));
    return swap ? bswap(u) : u;
}

template <class T>
T load(const std::byte* p, bool swap) {
    if constexpr (sizeof(T) == 1) {
        T v;
        std::memcpy(&v, p, 1);
        return v;
    } else {
        using U =
            std::conditional_t<sizeof(T) == 2,
                               std::uint16_t,
                               std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;
        return std::bit_cast<T>(load_bits<U>(p, swap));
    }
}

template <class T>
void store_le(std::byte* p, T v) {
    if constexpr (sizeof(T) == 1) {
        std::memcpy(p, &v, 1);
    } else {
        using U =
            std::conditional_t<sizeof(T) == 2,
                               std::uint16_t,
                               std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;
        U u = std::bit_cast<U>(v);
        if constexpr (std::endian::native == std::endian::big) u = bswap(u);
        std::memcpy(p, &u, sizeof(U));
    }
}

float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h >> 15) << 31;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    const std::uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        // zero or subnormal: mant * 2^-24, exact in float
        const float v = std::ldexp(static_cast<float>(mant), -24);
        return sign ? -v : v;
    }
    if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf, nan
    return std::bit_cast<float>(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

// ---- dtype ----------------------------------------------------------------------------------

enum class elem : std::uint8_t { f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, u8, b1 };

struct dtype_info {
    elem kind = elem::f8;
    std::size_t itemsize = 8;
    bool swap = false;
};

[[noreturn]] void unsupported_dtype(std::string_view name,
                                    std::string_view descr,
                                    const std::string& why) {
    fail(name,
         "unsupported dtype '" + sanitize(descr, 40) + "' (" + why +
             "); supported: float16/32/64, int8/16/32/64, uint8/16/32/64, bool");
}

dtype_info parse_dtype(std::string_view descr, std::string_view name) {
    std::string_view d = descr;
    char order = '=';
    if (!d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=')) {
        order = d[0];
        d.remove_prefix(1);
    }
    if (d.empty()) unsupported_dtype(name, descr, "empty type");
    const char kind = d[0];
    std::string_view rest = d.substr(1);
    switch (kind) {
        case 'c':
            unsupported_dtype(name, descr, "complex");
        case 'O':
            unsupported_dtype(name, descr, "Python objects");
        case 'S':
        case 'a':
            unsupported_dtype(name, descr, "byte strings");
        case 'U':
            unsupported_dtype(name, descr, "unicode strings");
        case 'V':
            unsupported_dtype(name, descr, "raw void bytes");
        case 'M':
            unsupported_dtype(name, descr, "datetime");
        case 'm':
            unsupported_dtype(name, descr, "timedelta");
        default:
            break;
    }
    if (kind == '?' && rest.empty()) return {elem::b1, 1, false};
    unsigned size = 0;
    const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), size);
    if (rest.empty() || ec != std::errc{} || ptr != rest.data() + rest.size())
        unsupported_dtype(name, descr, "not a numeric type");
    dtype_info info;
    info.itemsize = size;
    switch (kind) {
        case 'f':
            if (size == 2)
                info.kind = elem::f2;
            else if (size == 4)
                info.kind = elem::f4;
            else if (size == 8)
                info.kind = elem::f8;
            else
                unsupported_dtype(name, descr, "float of " + std::to_string(size) + " bytes");
            break;
        case 'i':
        case 'u': {
            const bool s = kind == 'i';
            if (size == 1)
                info.kind = s ? elem::i1 : elem::u1;
            else if (size == 2)
                info.kind = s ? elem::i2 : elem::u2;
            else if (size == 4)
                info.kind = s ? elem::i4 : elem::u4;
            else if (size == 8)
                info.kind = s ? elem::i8 : elem::u8;
            else
                unsupported_dtype(name, descr, "integer of " + std::to_string(size) + " bytes");
            break;
        }
        case 'b':
            if (size != 1)
                unsupported_dtype(name, descr, "bool of " + std::to_string(size) + " bytes");
            info.kind = elem::b1;
            break;
        default:
            unsupported_dtype(name, descr, "unknown type code");
    }
    const bool little = std::endian::native == std::endian::little;
    info.swap = info.itemsize > 1 && ((order == '<' && !little) || (order == '>' && little));
    return info;
}

// ---- header: a bounded parser for the Python dict literal ----------------------------------

struct py_value {
    enum class kind : std::uint8_t { string, integer, boolean, none, tuple, list, dict };
    kind k = kind::none;
    std::string text;          // string contents, or the integer literal as written
    std::int64_t integer = 0;  // when k == integer and !too_large
    bool negative = false;     // integer < 0
    bool too_large = false;    // |integer| does not fit in int64
    bool boolean = false;
    std::vector<py_value> items;  // tuple/list elements; dict: key, value, key, value, ...
};

class header_parser {
  public:
    header_parser(std::string_view text, std::string_view name) : s_(text), name_(name) {}

    py_value parse_document() {
        skip_ws();
        if (peek() != '{') error("expected '{' at the start of the header");
        py_value v = parse_value(0);
        skip_ws();
        if (pos_ != s_.size()) error("unexpected text after the closing '}'");
        return v;
    }

  private:
    std::string_view s_;
    std::string_view name_;
    std::size_t pos_ = 0;

    [[noreturn]] void error(const std::string& what) const {
        fail(name_,
             "malformed header: " + what + " at column " + std::to_string(pos_ + 1) + " of \"" +
                 sanitize(s_) + "\"");
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    bool at_end() const { return pos_ >= s_.size(); }
    void skip_ws() {
        while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' ||
                             s_[pos_] == '\r' || s_[pos_] == '\f' || s_[pos_] == '\v'))
            ++pos_;
    }
    static bool is_ident(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    }

    py_value parse_value(int depth) {
        if (depth > kMaxDepth) error("nesting too deep");
        skip_ws();
        if (at_end()) error("unexpected end of header");
        const char c = peek();
        if (c == '{') return parse_sequence(depth, '}', py_value::kind::dict);
        if (c == '(') return parse_sequence(depth, ')', py_value::kind::tuple);
        if (c == '[') return parse_sequence(depth, ']', py_value::kind::list);
        if (c == '\'' || c == '"') return parse_string();
        if ((c == 'u' || c == 'U' || c == 'b' || c == 'B') && pos_ + 1 < s_.size() &&
            (s_[pos_ + 1] == '\'' || s_[pos_ + 1] == '"')) {
            ++pos_;  // Python 2 era u'...' / b'...' prefixes
            return parse_string();
        }
        if (c == '-' || c == '+' || (c >= '0' && c <= '9')) return parse_integer();
        if (is_ident(c)) {
            const std::size_t start = pos_;
            while (!at_end() && is_ident(peek())) ++pos_;
            const std::string_view word = s_.substr(start, pos_ - start);
            py_value v;
            if (word == "True" || word == "False") {
                v.k = py_value::kind::boolean;
                v.boolean = word == "True";
            } else if (word == "None") {
                v.k = py_value::kind::none;
            } else {
                pos_ = start;
                error("unexpected name '" + sanitize(word, 40) + "'");
            }
            return v;
        }
        error("unexpected character '" + sanitize(s_.substr(pos_, 1)) + "'");
    }

    py_value parse_string() {
        const char quote = s_[pos_++];
        py_value v;
        v.k = py_value::kind::string;
        while (true) {
            if (at_end()) error("unterminated string");
            const char c = s_[pos_++];
            if (c == quote) break;
            if (c == '\n') error("line break inside a string");
            if (c == '\\') {
                if (at_end()) error("unterminated string");
                v.text += s_[pos_++];
            } else {
                v.text += c;
            }
        }
        return v;
    }

    py_value parse_integer() {
        py_value v;
        v.k = py_value::kind::integer;
        const std::size_t start = pos_;
        if (peek() == '-' || peek() == '+') {
            v.negative = peek() == '-';
            ++pos_;
            skip_ws();
        }
        const std::size_t digits = pos_;
        std::uint64_t mag = 0;
        while (!at_end() && peek() >= '0' && peek() <= '9') {
            const auto dgt = static_cast<std::uint64_t>(peek() - '0');
            if (mag > (std::numeric_limits<std::uint64_t>::max() - dgt) / 10)
                v.too_large = true;
            else
                mag = mag * 10 + dgt;
            ++pos_;
        }
        if (pos_ == digits) error("expected a digit");
        if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long literal
        if (!at_end() && (is_ident(peek()) || peek() == '.')) error("expected an integer");
        v.text = std::string(s_.substr(start, pos_ - start));
        const auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        if (mag > max) v.too_large = true;
        if (!v.too_large)
            v.integer =
                v.negative ? -static_cast<std::int64_t>(mag) : static_cast<std::int64_t>(mag);
        if (mag == 0) v.negative = false;
        return v;
    }

    // (a, b,)  [a, b]  {k: v, k: v,}  — a one-element tuple needs its comma, as in Python.
    py_value parse_sequence(int depth, char close, py_value::kind k) {
        ++pos_;
        py_value v;
        v.k = k;
        bool saw_comma = false;
        while (true) {
            skip_ws();
            if (at_end())
                error("unexpected end of header (missing '" + std::string(1, close) + "')");
            if (peek() == close) {
                ++pos_;
                break;
            }
            v.items.push_back(parse_value(depth + 1));
            skip_ws();
            if (k == py_value::kind::dict) {
                if (peek() != ':') error("expected ':' after a key");
                ++pos_;
                v.items.push_back(parse_value(depth + 1));
                skip_ws();
            }
            if (at_end()) {
                error("unexpected end of header (missing '" + std::string(1, close) + "')");
            } else if (peek() == ',') {
                ++pos_;
                saw_comma = true;
            } else if (peek() != close) {
                error("expected ',' or '" + std::string(1, close) + "'");
            }
        }
        if (k == py_value::kind::tuple && v.items.size() == 1 && !saw_comma) {
            py_value inner = std::move(v.items[0]);  // (x) is just x in Python
            return inner;
        }
        return v;
    }
};

// ---- the parsed header ----------------------------------------------------------------------

struct npy_header {
    std::size_t data_offset = 0;
    std::string descr;
    dtype_info dtype;
    bool fortran = false;
    std::vector<std::int64_t> shape;
    std::int64_t count = 0;    // number of elements
    std::uint64_t nbytes = 0;  // count * itemsize
};

// Checks magic, version and header length; returns {start of header text, length of it}.
// `bytes` may be just a prefix of the file (at least 12 bytes when the file has them).
std::pair<std::size_t, std::size_t> parse_preamble(std::span<const std::byte> bytes,
                                                   std::string_view name) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    if (n < kMagic.size() || std::memcmp(p, kMagic.data(), kMagic.size()) != 0) {
        throw invalid_argument(in_quotes(name) +
                               " is not a .npy file (it does not start with \\x93NUMPY)");
    }
    if (n < 8) fail(name, "malformed header: the file ends inside the preamble");
    const int major = p[6];
    const int minor = p[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
        fail(name,
             "unsupported .npy format version " + std::to_string(major) + "." +
                 std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
    }
    const std::size_t start = major == 1 ? 10 : 12;
    if (n < start) fail(name, "malformed header: the file ends inside the preamble");
    std::size_t len = 0;
    if (major == 1) {
        len = static_cast<std::size_t>(p[8]) | (static_cast<std::size_t>(p[9]) << 8);
    } else {
        len = static_cast<std::size_t>(p[8]) | (static_cast<std::size_t>(p[9]) << 8) |
              (static_cast<std::size_t>(p[10]) << 16) | (static_cast<std::size_t>(p[11]) << 24);
    }
    return {start, len};
}

npy_header parse_header_text(std::string_view text, std::string_view name) {
    const py_value dict = header_parser(text, name).parse_document();
    const py_value* descr = nullptr;
    const py_value* fortran = nullptr;
    const py_value* shape = nullptr;
    for (std::size_t i = 0; i + 1 < dict.items.size(); i += 2) {
        const py_value& key = dict.items[i];
        if (key.k != py_value::kind::string) fail(name, "malformed header: a key is not a string");
        const py_value** slot = key.text == "descr"           ? &descr
                                : key.text == "fortran_order" ? &fortran
                                : key.text == "shape"         ? &shape
                                                              : nullptr;
        if (slot == nullptr)
            fail(name, "malformed header: unexpected key '" + sanitize(key.text, 40) + "'");
        if (*slot != nullptr)
            fail(name, "malformed header: duplicate key '" + sanitize(key.text, 40) + "'");
        *slot = &dict.items[i + 1];
    }
    if (descr == nullptr) fail(name, "malformed header: missing key 'descr'");
    if (fortran == nullptr) fail(name, "malformed header: missing key 'fortran_order'");
    if (shape == nullptr) fail(name, "malformed header: missing key 'shape'");

    npy_header h;
    switch (descr->k) {
        case py_value::kind::string:
            break;
        case py_value::kind::list:
        case py_value::kind::dict:
            fail(name,
                 "unsupported dtype (structured: the descr is a list of fields); supported: "
                 "float16/32/64, int8/16/32/64, uint8/16/32/64, bool");
        case py_value::kind::tuple:
            fail(name,
                 "unsupported dtype (sub-array: the descr is a tuple); supported: "
                 "float16/32/64, int8/16/32/64, uint8/16/32/64, bool");
        default:
            fail(name, "malformed header: 'descr' is not a string");
    }
    h.descr = descr->text;
    h.dtype = parse_dtype(h.descr, name);

    if (fortran->k != py_value::kind::boolean)
        fail(name, "malformed header: 'fortran_order' must be True or False");
    h.fortran = fortran->boolean;

    if (shape->k != py_value::kind::tuple)
        fail(name, "malformed header: 'shape' must be a tuple of integers, e.g. (3, 4)");
    if (shape->items.size() > kMaxDims) {
        fail(name,
             "invalid shape: " + std::to_string(shape->items.size()) + " dimensions (at most " +
                 std::to_string(kMaxDims) + ")");
    }
    for (const py_value& d : shape->items) {
        if (d.k != py_value::kind::integer)
            fail(name, "malformed header: 'shape' must be a tuple of integers, e.g. (3, 4)");
        if (d.negative) fail(name, "invalid shape: dimension " + d.text + " is negative");
        if (d.too_large)
            fail(name, "invalid shape: dimension " + sanitize(d.text, 40) + " overflows 64 bits");
        h.shape.push_back(d.integer);
    }
    // The element count of the non-zero dimensions must fit, whatever the order of the axes.
    std::int64_t count = 1;
    bool has_zero = false;
    for (const std::int64_t d : h.shape) {
        if (d == 0) {
            has_zero = true;
        } else if (__builtin_mul_overflow(count, d, &count)) {
            fail(name,
                 "invalid shape " + detail::format_shape(h.shape) +
                     ": the number of elements overflows 64 bits");
        }
    }
    h.count = has_zero ? 0 : count;
    std::int64_t nbytes = 0;
    if (__builtin_mul_overflow(h.count, static_cast<std::int64_t>(h.dtype.itemsize), &nbytes)) {
        fail(name,
             "invalid shape " + detail::format_shape(h.shape) + ": the data size (" +
                 std::to_string(h.count) + " elements of " + std::to_string(h.dtype.itemsize) +
                 " bytes) overflows 64 bits");
    }
    h.nbytes = static_cast<std::uint64_t>(nbytes);
    return h;
}

// Parses everything up to the data; `bytes` holds at least the whole header (the caller checks
// that header_start + header_len <= the file size before calling).
npy_header parse_header(std::span<const std::byte> bytes, std::string_view name) {
    const auto [start, len] = parse_preamble(bytes, name);
    if (len > bytes.size() - start) {
        fail(name,
             "malformed header: the header length is " + std::to_string(len) + " bytes but only " +
                 std::to_string(bytes.size() - start) + " follow");
    }
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + start, len);
    npy_header h = parse_header_text(text, name);
    h.data_offset = start + len;
    return h;
}

// `available`: the bytes that follow the header. `open_ended`: they come from a stream read no
// further than one byte past the data, so an excess means "more bytes" of unknown number.
void check_data_size(const npy_header& h,
                     std::uint64_t available,
                     std::string_view name,
                     bool open_ended = false) {
    if (available < h.nbytes) {
        fail(name,
             "data is truncated: expected " + std::to_string(h.nbytes) + " bytes, found " +
                 std::to_string(available) + " (shape " + detail::format_shape(h.shape) +
                 ", dtype '" + sanitize(h.descr, 40) + "')");
    }
    if (available > h.nbytes) {
        const std::string extra = open_ended ? "more" : std::to_string(available - h.nbytes);
        fail(name,
             "trailing garbage: " + extra + " bytes after the " + std::to_string(h.nbytes) +
                 " bytes of data (shape " + detail::format_shape(h.shape) + ", dtype '" +
                 sanitize(h.descr, 40) + "')");
    }
}

// "8.0 GiB": a byte count for messages.
// The header is untrusted: a declared data size beyond the machine's physical memory is refused
// before anything is allocated for it (a stream could otherwise feed it until memory runs out; a
// sparse regular file can really hold that many bytes).
void check_fits_in_memory(const npy_header& h, std::string_view name) {
    const std::uint64_t memory = detail::physical_memory();
    if (memory == 0 || h.nbytes <= memory) return;  // unknown: nothing to compare with
    fail(name,
         "the header declares shape " + detail::format_shape(h.shape) + " of dtype '" +
             sanitize(h.descr, 40) + "' = " + std::to_string(h.nbytes) + " bytes (" +
             detail::format_bytes(static_cast<double>(h.nbytes)) + "), more than this machine's " +
             detail::format_bytes(static_cast<double>(memory)) + " of memory");
}

// Decodes `h.count` elements from `src` into out (C order). A Fortran-order file lists the
// elements with the first index varying fastest; an odometer maps each to its C offset.
template <class Out, class Decode>
void decode_into(std::vector<Out>& out, const std::byte* src, const npy_header& h, Decode dec) {
    const auto n = static_cast<std::size_t>(h.count);
    const std::size_t step = h.dtype.itemsize;
    out.resize(n);
    if (!h.fortran || h.shape.size() < 2) {
        for (std::size_t i = 0; i < n; ++i) out[i] = dec(src + i * step);
        return;
    }
    if (n == 0) return;
    const std::size_t ndim = h.shape.size();
    std::vector<std::int64_t> idx(ndim, 0), cstride(ndim, 1);
    for (std::size_t k = ndim - 1; k-- > 0;) cstride[k] = cstride[k + 1] * h.shape[k + 1];
    std::int64_t c = 0;
    for (std::size_t i = 0; i < n; ++i) {
        out[static_cast<std::size_t>(c)] = dec(src + i * step);
        for (std::size_t k = 0; k < ndim; ++k) {
            c += cstride[k];
            if (++idx[k] < h.shape[k]) break;
            c -= cstride[k] * h.shape[k];
            idx[k] = 0;
        }
    }
}

// `data` holds exactly h.nbytes bytes.
npy_array decode(const npy_header& h, const std::byte* data) {
    npy_array a;
    a.shape = h.shape;
    a.descr = h.descr;
    const bool sw = h.dtype.swap;
    auto to_double = [&](auto tag) {
        using T = decltype(tag);
        decode_into(a.f64, data, h, [sw](const std::byte* p) {
            return static_cast<double>(load<T>(p, sw));
        });
    };
    switch (h.dtype.kind) {
        case elem::f2:
            a.is_float32 = true;
            decode_into(a.f32, data, h, [sw](const std::byte* p) {
                return half_to_float(load_bits<std::uint16_t>(p, sw));
            });
            break;
        case elem::f4:
            a.is_float32 = true;
            if (!sw && !h.fortran && h.count > 0) {
                a.f32.resize(static_cast<std::size_t>(h.count));
                std::memcpy(a.f32.data(), data, h.nbytes);
            } else {
                decode_into(
                    a.f32, data, h, [sw](const std::byte* p) { return load<float>(p, sw); });
            }
            break;
        case elem::f8:
            if (!sw && !h.fortran && h.count > 0) {
                a.f64.resize(static_cast<std::size_t>(h.count));
                std::memcpy(a.f64.data(), data, h.nbytes);
            } else {
                decode_into(
                    a.f64, data, h, [sw](const std::byte* p) { return load<double>(p, sw); });
            }
            break;
        case elem::i1:
            to_double(std::int8_t{});
            break;
        case elem::i2:
            to_double(std::int16_t{});
            break;
        case elem::i4:
            to_double(std::int32_t{});
            break;
        case elem::i8:
            to_double(std::int64_t{});
            break;
        case elem::u1:
            to_double(std::uint8_t{});
            break;
        case elem::u2:
            to_double(std::uint16_t{});
            break;
        case elem::u4:
            to_double(std::uint32_t{});
            break;
        case elem::u8:
            to_double(std::uint64_t{});
            break;
        case elem::b1:
            decode_into(
                a.f64, data, h, [](const std::byte* p) { return *p != std::byte{0} ? 1.0 : 0.0; });
            break;
    }
    return a;
}

// ---- writing --------------------------------------------------------------------------------

std::int64_t checked_count(std::span<const std::int64_t> shape,
                           std::size_t n_data,
                           std::string_view who) {
    if (shape.size() > kMaxDims) {
        throw invalid_argument(std::string(who) + ": " + std::to_string(shape.size()) +
                               " dimensions (at most " + std::to_string(kMaxDims) + ")");
    }
    std::int64_t count = 1;
    bool has_zero = false;
    for (const std::int64_t d : shape) {
        if (d < 0) {
            throw invalid_argument(std::string(who) + ": shape " + detail::format_shape(shape) +
                                   " has a negative dimension");
        }
        if (d == 0) {
            has_zero = true;
        } else if (__builtin_mul_overflow(count, d, &count)) {
            throw invalid_argument(std::string(who) + ": shape " + detail::format_shape(shape) +
                                   " overflows 64 bits");
        }
    }
    if (has_zero) count = 0;
    if (static_cast<std::uint64_t>(count) != n_data) {
        throw invalid_argument(std::string(who) + ": shape " + detail::format_shape(shape) +
                               " has " + std::to_string(count) + " elements but the data has " +
                               std::to_string(n_data));
    }
    return count;
}

template <class T>
std::vector<std::byte> npy_bytes(std::span<const T> data,
                                 std::span<const std::int64_t> shape,
                                 std::string_view descr,
                                 std::string_view who) {
    checked_count(shape, data.size(), who);
    std::string header = "{'descr': '" + std::string(descr) +
                         "', 'fortran_order': False, 'shape': " + detail::format_shape(shape) +
                         ", }";
    const std::size_t unpadded = kMagic.size() + 4 + header.size() + 1;
    header.append((kWriteAlign - unpadded % kWriteAlign) % kWriteAlign, ' ');
    header += '\n';
    const std::size_t hlen = header.size();  // < 65536: at most 64 dims of <= 20 digits
    std::vector<std::byte> out(kMagic.size() + 4 + hlen + data.size() * sizeof(T));
    std::memcpy(out.data(), kMagic.data(), kMagic.size());
    out[6] = std::byte{1};
    out[7] = std::byte{0};
    out[8] = static_cast<std::byte>(hlen & 0xff);
    out[9] = static_cast<std::byte>(hlen >> 8);
    std::memcpy(out.data() + 10, header.data(), hlen);
    std::byte* p = out.data() + 10 + hlen;
    if constexpr (std::endian::native == std::endian::little) {
        if (!data.empty()) std::memcpy(p, data.data(), data.size() * sizeof(T));
    } else {
        for (std::size_t i = 0; i < data.size(); ++i) store_le(p + i * sizeof(T), data[i]);
    }
    return out;
}

template <class T>
void write_npy_impl(const std::string& path,
                    std::span<const T> data,
                    std::span<const std::int64_t> shape,
                    std::string_view descr) {
    const auto bytes = npy_bytes(data, shape, descr, "write_npy " + in_quotes(path));
    detail::write_file_atomic(path, bytes);
}

// Pipes, FIFOs and devices: the size is not known in advance, and the stream may never end
// (/dev/zero). Read the preamble, then exactly the header it announces, then exactly the data the
// header declares (checked against the physical memory first), then at most one more byte.
npy_array read_npy_stream(int fd, const std::string& path) {
    std::vector<std::byte> head;
    append_from_stream(fd, head, kMagic.size() + 2, path);  // magic and version
    if (head.size() == kMagic.size() + 2 &&
        std::memcmp(head.data(), kMagic.data(), kMagic.size()) == 0) {
        const std::size_t preamble = head[6] == std::byte{1} ? 10 : 12;
        append_from_stream(fd, head, preamble - head.size(), path);  // the header length
    }
    const auto [start, len] = parse_preamble(head, path);  // throws on a wrong magic at once
    const std::uint64_t got_header = append_from_stream(fd, head, len, path);
    if (got_header < len) {
        fail(path,
             "malformed header: the header length is " + std::to_string(len) + " bytes but only " +
                 std::to_string(got_header) + " follow");
    }
    const npy_header h = parse_header(head, path);
    check_fits_in_memory(h, path);

    std::vector<std::byte> data;
    const std::uint64_t got = append_from_stream(fd, data, h.nbytes, path);
    check_data_size(h, got, path);  // truncated
    std::byte extra{};
    const std::uint64_t r = read_some(fd, &extra, 1, -1, path);
    check_data_size(h, got + r, path, /*open_ended=*/true);
    return decode(h, data.data());
}

}  // namespace

// ---- public API -----------------------------------------------------------------------------

std::int64_t npy_array::size() const noexcept {
    std::uint64_t n = 1;  // unsigned: a hand-made absurd shape wraps instead of being UB
    for (const std::int64_t d : shape) n *= static_cast<std::uint64_t>(d);
    return static_cast<std::int64_t>(n);
}

namespace {
template <class T>
matrix_view<const T> matrix_of(const npy_array& a,
                               const std::vector<T>& v,
                               bool want_f32,
                               std::string_view what) {
    const char* want = want_f32 ? "float32" : "float64";
    if (a.shape.size() != 2) {
        throw invalid_argument(std::string(what) + " must be a 2-D " + want +
                               " array (rows x dim), got shape " + detail::format_shape(a.shape));
    }
    if (a.is_float32 != want_f32) {
        throw invalid_argument(std::string(what) + " must be a " + want + " array, got " +
                               (a.is_float32 ? "float32" : "float64") + " of shape " +
                               detail::format_shape(a.shape));
    }
    if (a.shape[0] < 0 || a.shape[1] < 0 ||
        static_cast<std::uint64_t>(a.shape[0]) * static_cast<std::uint64_t>(a.shape[1]) !=
            v.size()) {
        throw invalid_argument(std::string(what) + ": shape " + detail::format_shape(a.shape) +
                               " does not match the " + std::to_string(v.size()) +
                               " stored elements");
    }
    return matrix_view<const T>(v.data(), a.shape[0], a.shape[1], a.shape[1]);
}
}  // namespace

matrix_view<const float> npy_array::matrix_f32(std::string_view what) const {
    return matrix_of(*this, f32, true, what);
}

matrix_view<const double> npy_array::matrix_f64(std::string_view what) const {
    return matrix_of(*this, f64, false, what);
}

std::vector<double> npy_array::to_f64() const {
    if (is_float32) return {f32.begin(), f32.end()};
    return f64;
}

npy_array parse_npy(std::span<const std::byte> bytes, std::string_view name) {
    const npy_header h = parse_header(bytes, name);
    check_data_size(h, bytes.size() - h.data_offset, name);
    return decode(h, bytes.data() + h.data_offset);
}

namespace {

// A regular file's header, checked against the file size (the data itself is not read yet).
npy_header read_regular_header(const fd_guard& f,
                               std::uint64_t file_size,
                               const std::string& path) {
    std::vector<std::byte> head(static_cast<std::size_t>(std::min<std::uint64_t>(file_size, 12)));
    std::uint64_t r = read_some(f.fd, head.data(), head.size(), 0, path);
    head.resize(static_cast<std::size_t>(r));
    const auto [start, len] = parse_preamble(head, path);
    if (start + len > file_size) {
        fail(path,
             "malformed header: the header length is " + std::to_string(len) + " bytes but only " +
                 std::to_string(file_size - start) + " follow");
    }
    head.resize(start + len);
    r = read_some(f.fd, head.data(), head.size(), 0, path);
    if (static_cast<std::size_t>(r) != head.size())
        fail(path, "malformed header: the file ends inside the header");
    const npy_header h = parse_header(head, path);
    check_data_size(h, file_size - h.data_offset, path);
    return h;
}

// `nbytes` bytes at `offset` of the data into dst.
void read_exactly(const fd_guard& f,
                  std::byte* dst,
                  std::uint64_t nbytes,
                  std::uint64_t offset,
                  const std::string& path) {
    const std::uint64_t got = read_some(f.fd, dst, nbytes, static_cast<std::int64_t>(offset), path);
    if (got != nbytes) {
        fail(path,
             "data is truncated: expected " + std::to_string(nbytes) + " bytes, found " +
                 std::to_string(got) + " (the file shrank while being read)");
    }
}

}  // namespace

npy_array read_npy(const std::string& path) {
    const detail::input_file in = detail::open_input(path);
    const fd_guard& f = in.file;
    if (!in.regular) return read_npy_stream(f.fd, path);

    // Regular file: read the header, check the sizes against the file size, then read the data;
    // native float32/float64 in C order go straight into place (no second copy of a large array).
    const npy_header h = read_regular_header(f, in.size, path);
    check_fits_in_memory(h, path);
    auto read_data = [&](std::byte* dst) { read_exactly(f, dst, h.nbytes, h.data_offset, path); };
    const bool as_is = !h.dtype.swap && (!h.fortran || h.shape.size() < 2);
    if (as_is && (h.dtype.kind == elem::f4 || h.dtype.kind == elem::f8)) {
        npy_array a;
        a.shape = h.shape;
        a.descr = h.descr;
        a.is_float32 = h.dtype.kind == elem::f4;
        if (a.is_float32) {
            a.f32.resize(static_cast<std::size_t>(h.count));
            read_data(reinterpret_cast<std::byte*>(a.f32.data()));
        } else {
            a.f64.resize(static_cast<std::size_t>(h.count));
            read_data(reinterpret_cast<std::byte*>(a.f64.data()));
        }
        return a;
    }
    std::vector<std::byte> data(static_cast<std::size_t>(h.nbytes));
    read_data(data.data());
    return decode(h, data.data());
}

npy_shape read_npy_shape(const std::string& path) {
    const detail::input_file in = detail::open_input(path);
    if (!in.regular) {
        const npy_array a = read_npy_stream(in.file.fd, path);
        return {a.shape, a.is_float32};
    }
    const npy_header h = read_regular_header(in.file, in.size, path);
    return {h.shape, h.dtype.kind == elem::f4 || h.dtype.kind == elem::f2};
}

npy_array read_npy_rows(const std::string& path, std::int64_t begin, std::int64_t end) {
    auto check_rows = [&](const std::vector<std::int64_t>& shape) {
        if (shape.size() != 2)
            fail(path,
                 "rows can be read only from a 2-D array (rows x dim), got shape " +
                     detail::format_shape(shape));
        if (!(0 <= begin && begin <= end && end <= shape[0]))
            fail(path,
                 "rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") asked for, but the array has " + std::to_string(shape[0]) + " rows");
    };
    const detail::input_file in = detail::open_input(path);
    std::optional<npy_header> h;
    if (in.regular) {
        h = read_regular_header(in.file, in.size, path);
        check_rows(h->shape);
    }
    if (!in.regular || h->fortran) {
        npy_array a = in.regular ? read_npy(path) : read_npy_stream(in.file.fd, path);
        check_rows(a.shape);
        const std::int64_t cols = a.shape[1];
        const auto lo = static_cast<std::ptrdiff_t>(begin * cols),
                   hi = static_cast<std::ptrdiff_t>(end * cols);
        if (a.is_float32)
            a.f32 = std::vector<float>(a.f32.begin() + lo, a.f32.begin() + hi);
        else
            a.f64 = std::vector<double>(a.f64.begin() + lo, a.f64.begin() + hi);
        a.shape[0] = end - begin;
        return a;
    }
    npy_header part = *h;
    const std::uint64_t row_bytes = static_cast<std::uint64_t>(h->shape[1]) * h->dtype.itemsize;
    part.shape[0] = end - begin;
    part.count = part.shape[0] * part.shape[1];
    part.nbytes = row_bytes * static_cast<std::uint64_t>(end - begin);
    check_fits_in_memory(part, path);
    std::vector<std::byte> data(static_cast<std::size_t>(part.nbytes));
    read_exactly(in.file,
                 data.data(),
                 part.nbytes,
                 h->data_offset + row_bytes * static_cast<std::uint64_t>(begin),
                 path);
    return decode(part, data.data());
}

void write_npy(const std::string& path,
               std::span<const float> data,
               std::span<const std::int64_t> shape) {
    write_npy_impl(path, data, shape, "<f4");
}
void write_npy(const std::string& path,
               std::span<const double> data,
               std::span<const std::int64_t> shape) {
    write_npy_impl(path, data, shape, "<f8");
}
void write_npy(const std::string& path,
               std::span<const std::int64_t> data,
               std::span<const std::int64_t> shape) {
    write_npy_impl(path, data, shape, "<i8");
}
void write_npy(const std::string& path,
               std::span<const std::int32_t> data,
               std::span<const std::int64_t> shape) {
    write_npy_impl(path, data, shape, "<i4");
}
void write_npy(const std::string& path,
               std::span<const std::uint8_t> data,
               std::span<const std::int64_t> shape) {
    write_npy_impl(path, data, shape, "|u1");
}

std::vector<std::byte> to_npy_bytes(std::span<const double> data,
                                    std::span<const std::int64_t> shape) {
    return npy_bytes(data, shape, "<f8", "to_npy_bytes");
}
std::vector<std::byte> to_npy_bytes(std::span<const float> data,
                                    std::span<const std::int64_t> shape) {
    return npy_bytes(data, shape, "<f4", "to_npy_bytes");
}
std::vector<std::byte> to_npy_bytes(std::span<const std::int64_t> data,
                                    std::span<const std::int64_t> shape) {
    return npy_bytes(data, shape, "<i8", "to_npy_bytes");
}
std::vector<std::byte> to_npy_bytes(std::span<const std::int32_t> data,
                                    std::span<const std::int64_t> shape) {
    return npy_bytes(data, shape, "<i4", "to_npy_bytes");
}
std::vector<std::byte> to_npy_bytes(std::span<const std::uint8_t> data,
                                    std::span<const std::int64_t> shape) {
    return npy_bytes(data, shape, "|u1", "to_npy_bytes");
}

}  // namespace denseam
