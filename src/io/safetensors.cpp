// SPDX-License-Identifier: MIT
// safetensors reader and writer.
//
// Everything read from a file is untrusted: the header length is checked against the bytes that
// follow (and a fixed limit) before the header is read; the JSON is parsed with a callback that
// refuses repeated keys and nesting deeper than a safetensors header has, so nothing recursive
// runs on hostile input; every size is checked for overflow; the tensors must tile the data
// section exactly; and the decoded size is compared with the physical memory before anything is
// allocated for the data. A stream (pipe, FIFO) is read no further than its header says.
#include "denseam/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <set>
#include <system_error>
#include <type_traits>
#include <unordered_set>
#include <utility>

#include "denseam/error.hpp"
#include "engine/resources.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "io/input.hpp"

namespace denseam {

namespace {

using detail::append_from_stream;
using detail::in_quotes;
using detail::read_some;
using json = nlohmann::json;

constexpr std::size_t kPrefix = 8;                 // the little-endian uint64 header length
constexpr std::uint64_t kMaxHeader = 100'000'000;  // the limit the reference implementation sets
constexpr std::size_t kMaxDims = 64;
constexpr std::size_t kMaxDepth = 3;  // the header object > a tensor entry > its shape list
constexpr std::string_view kMetadataKey = "__metadata__";
constexpr std::string_view kSupported =
    "F16, BF16, F32, F64, I8, I16, I32, I64, U8, U16, U32, U64, BOOL";

// ---- dtypes ---------------------------------------------------------------------------------

enum class elem : std::uint8_t { f16, bf16, f32, f64, i8, i16, i32, i64, u8, u16, u32, u64, b8 };

struct dtype_info {
    std::string_view name;
    elem kind;
    std::size_t itemsize;
};

constexpr dtype_info kDtypes[] = {
    {"F16", elem::f16, 2},
    {"BF16", elem::bf16, 2},
    {"F32", elem::f32, 4},
    {"F64", elem::f64, 8},
    {"I8", elem::i8, 1},
    {"I16", elem::i16, 2},
    {"I32", elem::i32, 4},
    {"I64", elem::i64, 8},
    {"U8", elem::u8, 1},
    {"U16", elem::u16, 2},
    {"U32", elem::u32, 4},
    {"U64", elem::u64, 8},
    {"BOOL", elem::b8, 1},
};

const dtype_info* find_dtype(std::string_view s) {
    for (const dtype_info& d : kDtypes)
        if (d.name == s) return &d;
    return nullptr;
}

bool in_f32(elem k) {
    return k == elem::f16 || k == elem::bf16 || k == elem::f32;
}

// ---- messages -------------------------------------------------------------------------------

// Untrusted text (tensor names, dtypes, parser messages) in quotes, printable and bounded.
std::string printable(std::string_view s, std::size_t max_len = 80) {
    return in_quotes(detail::printable_text(s, max_len));
}

[[noreturn]] void fail(std::string_view name, const std::string& problem) {
    throw invalid_argument(in_quotes(name) + ": " + problem);
}

std::string range(std::uint64_t begin, std::uint64_t end) {
    std::string s(1, '[');
    s += std::to_string(begin);
    s += ", ";
    s += std::to_string(end);
    s += ']';
    return s;
}

// ---- little-endian values -------------------------------------------------------------------

template <std::size_t N>
using uint_of = std::conditional_t<
    N == 1,
    std::uint8_t,
    std::conditional_t<N == 2,
                       std::uint16_t,
                       std::conditional_t<N == 4, std::uint32_t, std::uint64_t>>>;

template <class U>
U byteswap(U u) {
    if constexpr (sizeof(U) == 1) {
        return u;
    } else if constexpr (sizeof(U) == 2) {
        return __builtin_bswap16(u);
    } else if constexpr (sizeof(U) == 4) {
        return __builtin_bswap32(u);
    } else {
        return __builtin_bswap64(u);
    }
}

template <class T>
T load_le(const std::byte* p) {
    uint_of<sizeof(T)> u;
    std::memcpy(&u, p, sizeof u);
    if constexpr (std::endian::native == std::endian::big) u = byteswap(u);
    return std::bit_cast<T>(u);
}

template <class T>
void store_le(std::byte* p, T v) {
    auto u = std::bit_cast<uint_of<sizeof(T)>>(v);
    if constexpr (std::endian::native == std::endian::big) u = byteswap(u);
    std::memcpy(p, &u, sizeof u);
}

float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h >> 15) << 31;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    const std::uint32_t mant = h & 0x3ffu;
    if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
        const float v = std::ldexp(static_cast<float>(mant), -24);
        return sign != 0 ? -v : v;
    }
    if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));  // inf, nan
    return std::bit_cast<float>(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

// The half with exactly the value `f` (NaN: the quiet NaN of its sign), or nothing.
std::optional<std::uint16_t> float_to_half_exact(float f) {
    const auto b = std::bit_cast<std::uint32_t>(f);
    const auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
    const std::uint32_t exp = (b >> 23) & 0xffu;
    const std::uint32_t mant = b & 0x7fffffu;
    if (exp == 0xff) return static_cast<std::uint16_t>(sign | (mant != 0 ? 0x7e00u : 0x7c00u));
    if (exp == 0) {  // zero, or a float subnormal (far below the smallest half)
        if (mant == 0) return sign;
        return std::nullopt;
    }
    const int e = static_cast<int>(exp) - 127;
    if (e > 15 || e < -24) return std::nullopt;
    if (e >= -14) {  // a normal half: the low 13 bits of the mantissa must be zero
        if ((mant & 0x1fffu) != 0) return std::nullopt;
        return static_cast<std::uint16_t>(sign | (static_cast<std::uint32_t>(e + 15) << 10) |
                                          (mant >> 13));
    }
    // a subnormal half m * 2^-24: the value is (2^23 + mant) * 2^(e - 23), so m = that >> shift
    const int shift = 13 + (-14 - e);  // 14 .. 23
    const std::uint32_t full = 0x800000u | mant;
    if ((full & ((1u << shift) - 1)) != 0) return std::nullopt;
    return static_cast<std::uint16_t>(sign | (full >> shift));
}

float bf16_to_float(std::uint16_t h) {
    return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

std::optional<std::uint16_t> float_to_bf16_exact(float f) {
    const auto b = std::bit_cast<std::uint32_t>(f);
    if (std::isnan(f)) return static_cast<std::uint16_t>(((b >> 16) & 0x8000u) | 0x7fc0u);
    if ((b & 0xffffu) != 0) return std::nullopt;
    return static_cast<std::uint16_t>(b >> 16);
}

// ---- the header -----------------------------------------------------------------------------

struct entry {
    std::string name;
    const dtype_info* dt = nullptr;
    std::vector<std::int64_t> shape;
    std::uint64_t count = 0;  // elements
    std::uint64_t begin = 0;  // data_offsets, relative to the data section
    std::uint64_t end = 0;
};

struct header {
    std::vector<entry> tensors;  // in header order
    std::map<std::string, std::string> metadata;
    std::uint64_t data_size = 0;  // bytes of the data section
    double decoded_bytes = 0;     // memory the decoded tensors take
};

// `follow`: the bytes after the 8-byte length (unknown for a stream).
void check_header_length(std::uint64_t n,
                         std::optional<std::uint64_t> follow,
                         std::string_view name) {
    if (follow && n > *follow) {
        fail(name,
             "the header length is " + std::to_string(n) + " bytes but only " +
                 std::to_string(*follow) + " bytes follow (not a safetensors file, or truncated)");
    }
    if (n > kMaxHeader) {
        fail(name,
             "the header length is " + std::to_string(n) + " bytes, more than the limit of " +
                 std::to_string(kMaxHeader) + " (not a safetensors file?)");
    }
}

// The JSON of the header; `order` receives the top-level keys as they appear. Repeated keys (which
// a JSON object may syntactically hold, the last one winning) and deep nesting are refused here.
json parse_json(std::string_view text, std::string_view name, std::vector<std::string>& order) {
    std::vector<std::unordered_set<std::string>> keys;  // one per open object or array
    const json::parser_callback_t callback =
        [&](int /*depth*/, json::parse_event_t event, json& parsed) -> bool {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                if (keys.size() >= kMaxDepth) {
                    fail(name,
                         "the header nests deeper than a safetensors header (an object of "
                         "entries, each with a dtype string and integer lists)");
                }
                keys.emplace_back();
                break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                keys.pop_back();
                break;
            case json::parse_event_t::key: {
                const auto& key = parsed.get_ref<const std::string&>();
                if (!keys.back().insert(key).second) {
                    fail(name,
                         "the header repeats the key " + printable(key) +
                             (keys.size() == 1 ? std::string() : " within one entry"));
                }
                if (keys.size() == 1) order.push_back(key);
                break;
            }
            case json::parse_event_t::value:
                break;
        }
        return true;
    };
    // The parser would stop at a NUL byte and ignore the rest; JSON text never holds one.
    if (const auto nul = text.find('\0'); nul != text.npos) {
        fail(name,
             "the header is not valid JSON: a NUL byte at offset " + std::to_string(nul) +
                 " (headers are padded with spaces)");
    }
    try {
        return json::parse(text.begin(), text.end(), callback);
    } catch (const json::exception& e) {
        std::string_view what = e.what();  // "[json.exception.parse_error.101] parse error at ..."
        if (const auto p = what.find("] "); what.starts_with("[json.") && p != what.npos)
            what.remove_prefix(p + 2);
        fail(name, "the header is not valid JSON: " + printable(what, 200));
    }
}

// A non-negative JSON integer.
std::uint64_t as_count(const json& v, std::string_view name, const std::string& what) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer()) fail(name, what + " is negative (" + v.dump() + ")");
    fail(name, what + " is not a non-negative integer");
}

std::string type_of(const json& v) {
    return v.type_name();  // "object", "array", "string", "number", "boolean", "null"
}

entry parse_entry(const std::string& key, const json& v, std::string_view name) {
    const std::string who = "tensor " + printable(key);
    if (!v.is_object()) {
        fail(name,
             who + ": the entry is a JSON " + type_of(v) +
                 ", not an object of dtype, shape and data_offsets");
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets") {
            fail(name,
                 who + ": unexpected key " + printable(it.key()) +
                     " (an entry has exactly dtype, shape and data_offsets)");
        }
    }
    for (const char* k : {"dtype", "shape", "data_offsets"})
        if (!v.contains(k)) fail(name, who + ": missing key '" + k + "'");

    entry e;
    e.name = key;
    const json& dt = v.at("dtype");
    if (!dt.is_string()) fail(name, who + ": dtype is a JSON " + type_of(dt) + ", not a string");
    e.dt = find_dtype(dt.get_ref<const std::string&>());
    if (e.dt == nullptr) {
        fail(name,
             who + ": unsupported dtype " + printable(dt.get_ref<const std::string&>(), 40) +
                 " (supported: " + std::string(kSupported) + ")");
    }

    const json& sh = v.at("shape");
    if (!sh.is_array()) fail(name, who + ": shape is a JSON " + type_of(sh) + ", not a list");
    if (sh.size() > kMaxDims) {
        fail(name,
             who + ": shape has " + std::to_string(sh.size()) + " dimensions (at most " +
                 std::to_string(kMaxDims) + ")");
    }
    for (const json& d : sh) {
        const std::uint64_t n = as_count(d, name, who + ": a dimension of the shape");
        if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            fail(name, who + ": dimension " + std::to_string(n) + " overflows 64 bits");
        e.shape.push_back(static_cast<std::int64_t>(n));
    }
    // The elements of the non-zero dimensions must fit, whatever the order of the axes.
    std::uint64_t count = 1;
    bool has_zero = false;
    for (const std::int64_t d : e.shape) {
        if (d == 0) {
            has_zero = true;
        } else if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count)) {
            fail(name,
                 who + ": shape " + detail::format_shape(e.shape) +
                     " has more elements than 64 bits count");
        }
    }
    e.count = has_zero ? 0 : count;
    std::uint64_t nbytes = 0;
    if (__builtin_mul_overflow(e.count, e.dt->itemsize, &nbytes)) {
        fail(name,
             who + ": shape " + detail::format_shape(e.shape) + " of dtype " +
                 std::string(e.dt->name) + " has more bytes than 64 bits count");
    }

    const json& off = v.at("data_offsets");
    if (!off.is_array() || off.size() != 2)
        fail(name, who + ": data_offsets is not a list [begin, end]");
    e.begin = as_count(off[0], name, who + ": the begin of data_offsets");
    e.end = as_count(off[1], name, who + ": the end of data_offsets");
    if (e.begin > e.end)
        fail(name, who + ": data_offsets " + range(e.begin, e.end) + " end before they begin");
    if (e.end - e.begin != nbytes) {
        fail(name,
             who + ": shape " + detail::format_shape(e.shape) + " of dtype " +
                 std::string(e.dt->name) + " takes " + std::to_string(nbytes) +
                 " bytes but data_offsets " + range(e.begin, e.end) + " span " +
                 std::to_string(e.end - e.begin));
    }
    return e;
}

void parse_metadata(const json& v, std::map<std::string, std::string>& out, std::string_view name) {
    if (!v.is_object()) {
        fail(name,
             "__metadata__ is a JSON " + type_of(v) + ", not an object of strings to strings");
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (!it.value().is_string()) {
            fail(name,
                 "__metadata__: the value of " + printable(it.key()) + " is a JSON " +
                     type_of(it.value()) + ", not a string");
        }
        out.emplace(it.key(), it.value().get<std::string>());
    }
}

// The tensors must tile the data section: no hole, no overlap, nothing past its end. For a stream
// (`data_size` unknown) the data section is taken to end where the last tensor ends.
void check_layout(header& h, std::optional<std::uint64_t> data_size, std::string_view name) {
    std::uint64_t size = 0;
    for (const entry& e : h.tensors) size = std::max(size, e.end);
    if (data_size) {
        for (const entry& e : h.tensors) {
            if (e.end > *data_size) {
                fail(name,
                     "tensor " + printable(e.name) + ": data_offsets " + range(e.begin, e.end) +
                         " go past the end of the data, which has " + std::to_string(*data_size) +
                         " bytes after the header (is the file truncated?)");
            }
        }
        size = *data_size;
    }
    h.data_size = size;

    std::vector<std::size_t> order(h.tensors.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const entry& x = h.tensors[a];
        const entry& y = h.tensors[b];
        return std::tie(x.begin, x.end, a) < std::tie(y.begin, y.end, b);
    });
    std::uint64_t covered = 0;  // the data before `covered` belongs to the tensors seen
    const entry* last = nullptr;
    for (const std::size_t i : order) {
        const entry& e = h.tensors[i];
        if (e.begin > covered) {
            fail(name,
                 "the data has a hole: bytes " + std::to_string(covered) + " to " +
                     std::to_string(e.begin) + " after the header belong to no tensor");
        }
        if (e.begin < covered) {
            fail(name,
                 "tensors " + printable(last->name) + " and " + printable(e.name) +
                     " overlap (data_offsets " + range(last->begin, last->end) + " and " +
                     range(e.begin, e.end) + ")");
        }
        if (e.end > e.begin) {
            covered = e.end;
            last = &e;
        }
    }
    if (covered < size) {
        fail(name,
             "the data has a hole: bytes " + std::to_string(covered) + " to " +
                 std::to_string(size) + " after the header belong to no tensor");
    }
    h.decoded_bytes = 0;
    for (const entry& e : h.tensors)
        h.decoded_bytes += static_cast<double>(e.count) * (in_f32(e.dt->kind) ? 4.0 : 8.0);
}

header parse_header(std::string_view text,
                    std::optional<std::uint64_t> data_size,
                    std::string_view name) {
    std::vector<std::string> order;
    const json root = parse_json(text, name, order);
    if (!root.is_object()) fail(name, "the header is a JSON " + type_of(root) + ", not an object");
    header h;
    h.tensors.reserve(order.size());
    for (const std::string& key : order) {
        const json& v = *root.find(key);
        if (key == kMetadataKey) {
            parse_metadata(v, h.metadata, name);
        } else {
            h.tensors.push_back(parse_entry(key, v, name));
        }
    }
    check_layout(h, data_size, name);
    return h;
}

// ---- decoding -------------------------------------------------------------------------------

st_tensor shell_of(const entry& e) {
    st_tensor t;
    t.name = e.name;
    t.dtype = std::string(e.dt->name);
    t.shape = e.shape;
    return t;
}

template <class T, class Out, class F>
void convert(std::vector<Out>& out, const std::byte* src, std::size_t n, F f) {
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<Out>(f(load_le<T>(src + i * sizeof(T))));
}

// `src`: the e.end - e.begin bytes of the tensor.
st_tensor decode(const entry& e, const std::byte* src) {
    st_tensor t = shell_of(e);
    const auto n = static_cast<std::size_t>(e.count);
    const auto same = [](auto v) { return v; };
    switch (e.dt->kind) {
        case elem::f16:
            convert<std::uint16_t>(t.f32, src, n, half_to_float);
            break;
        case elem::bf16:
            convert<std::uint16_t>(t.f32, src, n, bf16_to_float);
            break;
        case elem::f32:
            convert<float>(t.f32, src, n, same);
            break;
        case elem::f64:
            convert<double>(t.f64, src, n, same);
            break;
        case elem::i8:
            convert<std::int8_t>(t.f64, src, n, same);
            break;
        case elem::i16:
            convert<std::int16_t>(t.f64, src, n, same);
            break;
        case elem::i32:
            convert<std::int32_t>(t.f64, src, n, same);
            break;
        case elem::i64:
            convert<std::int64_t>(t.f64, src, n, same);
            break;
        case elem::u8:
            convert<std::uint8_t>(t.f64, src, n, same);
            break;
        case elem::u16:
            convert<std::uint16_t>(t.f64, src, n, same);
            break;
        case elem::u32:
            convert<std::uint32_t>(t.f64, src, n, same);
            break;
        case elem::u64:
            convert<std::uint64_t>(t.f64, src, n, same);
            break;
        case elem::b8:
            convert<std::uint8_t>(t.f64, src, n, [](std::uint8_t b) { return b != 0 ? 1 : 0; });
            break;
    }
    return t;
}

// `data`: the whole data section.
st_file decode_all(const header& h, const std::byte* data) {
    st_file f;
    f.metadata = h.metadata;
    f.tensors.reserve(h.tensors.size());
    for (const entry& e : h.tensors) f.tensors.push_back(decode(e, data + e.begin));
    return f;
}

// ---- encoding -------------------------------------------------------------------------------

[[noreturn]] void not_exact(const std::string& who, std::size_t i, double v, std::string_view dt) {
    throw invalid_argument(who + ": element " + std::to_string(i) + " (" + detail::shortest(v) +
                           ") is not exactly representable as " + std::string(dt));
}

template <class I>
void encode_int(const std::vector<double>& v, std::byte* dst, const std::string& who, elem k) {
    const double hi = std::ldexp(1.0, std::numeric_limits<I>::digits);  // 2^63 for int64
    const double lo = std::is_signed_v<I> ? -hi : 0.0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double x = v[i];
        const bool ok = k == elem::b8 ? (x == 0.0 || x == 1.0)
                                      : (x >= lo && x < hi && x == std::trunc(x));  // NaN: false
        if (!ok) not_exact(who, i, x, k == elem::b8 ? "BOOL (0 or 1)" : "an integer of this dtype");
        store_le(dst + i * sizeof(I), static_cast<I>(x));
    }
}

template <class F>
void encode_half(const std::vector<float>& v, std::byte* dst, const std::string& who, F to_bits) {
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::optional<std::uint16_t> bits = to_bits(v[i]);
        if (!bits) not_exact(who, i, v[i], "a 16-bit float of this dtype");
        store_le(dst + i * 2, *bits);
    }
}

void encode(const st_tensor& t, const dtype_info& dt, std::byte* dst, const std::string& who) {
    switch (dt.kind) {
        case elem::f16:
            encode_half(t.f32, dst, who, float_to_half_exact);
            break;
        case elem::bf16:
            encode_half(t.f32, dst, who, float_to_bf16_exact);
            break;
        case elem::f32:
            for (std::size_t i = 0; i < t.f32.size(); ++i) store_le(dst + i * 4, t.f32[i]);
            break;
        case elem::f64:
            for (std::size_t i = 0; i < t.f64.size(); ++i) store_le(dst + i * 8, t.f64[i]);
            break;
        case elem::i8:
            encode_int<std::int8_t>(t.f64, dst, who, dt.kind);
            break;
        case elem::i16:
            encode_int<std::int16_t>(t.f64, dst, who, dt.kind);
            break;
        case elem::i32:
            encode_int<std::int32_t>(t.f64, dst, who, dt.kind);
            break;
        case elem::i64:
            encode_int<std::int64_t>(t.f64, dst, who, dt.kind);
            break;
        case elem::u8:
        case elem::b8:
            encode_int<std::uint8_t>(t.f64, dst, who, dt.kind);
            break;
        case elem::u16:
            encode_int<std::uint16_t>(t.f64, dst, who, dt.kind);
            break;
        case elem::u32:
            encode_int<std::uint32_t>(t.f64, dst, who, dt.kind);
            break;
        case elem::u64:
            encode_int<std::uint64_t>(t.f64, dst, who, dt.kind);
            break;
    }
}

// `who` starts every message: "to_safetensors_bytes" or "write_safetensors 'path'".
std::vector<std::byte> serialise(const std::vector<st_tensor>& tensors,
                                 const std::map<std::string, std::string>& metadata,
                                 const std::string& who) {
    const auto json_string = [&](const std::string& s, const std::string& what) {
        try {
            return json(s).dump();
        } catch (const json::exception&) {
            throw invalid_argument(who + ": " + what + " is not valid UTF-8");
        }
    };
    std::string head = "{";
    if (!metadata.empty()) {
        head += "\"__metadata__\":{";
        for (const auto& [k, v] : metadata) {
            head += json_string(k, "metadata key " + printable(k)) + ":" +
                    json_string(v, "the metadata value of " + printable(k)) + ",";
        }
        head.back() = '}';
        head += ',';
    }
    std::set<std::string_view> names;
    std::vector<const dtype_info*> dtypes;
    std::uint64_t offset = 0;
    for (const st_tensor& t : tensors) {
        const std::string what = "tensor " + printable(t.name);
        if (t.name == kMetadataKey) {
            throw invalid_argument(who + ": '__metadata__' names the metadata and cannot name a " +
                                   "tensor");
        }
        if (!names.insert(t.name).second)
            throw invalid_argument(who + ": " + what + " appears more than once");
        const dtype_info* dt = find_dtype(t.dtype);
        if (dt == nullptr) {
            throw invalid_argument(who + ": " + what + ": unsupported dtype " +
                                   printable(t.dtype, 40) +
                                   " (supported: " + std::string(kSupported) + ")");
        }
        if (t.shape.size() > kMaxDims) {
            throw invalid_argument(who + ": " + what + ": shape has " +
                                   std::to_string(t.shape.size()) + " dimensions (at most " +
                                   std::to_string(kMaxDims) + ")");
        }
        std::uint64_t count = 1;
        bool has_zero = false;
        for (const std::int64_t d : t.shape) {
            if (d < 0) {
                throw invalid_argument(who + ": " + what + ": shape " +
                                       detail::format_shape(t.shape) + " has a negative dimension");
            }
            if (d == 0) {
                has_zero = true;
            } else if (__builtin_mul_overflow(count, static_cast<std::uint64_t>(d), &count)) {
                throw invalid_argument(who + ": " + what + ": shape " +
                                       detail::format_shape(t.shape) + " overflows 64 bits");
            }
        }
        if (has_zero) count = 0;
        const bool f = in_f32(dt->kind);
        const char* used = f ? "f32" : "f64";
        const char* unused = f ? "f64" : "f32";
        const std::size_t have = f ? t.f32.size() : t.f64.size();
        const std::size_t stray = f ? t.f64.size() : t.f32.size();
        if (stray != 0) {
            throw invalid_argument(who + ": " + what + ": dtype " + std::string(dt->name) +
                                   " keeps its values in " + used + ", but " + unused + " holds " +
                                   std::to_string(stray));
        }
        if (have != count) {
            throw invalid_argument(who + ": " + what + ": shape " + detail::format_shape(t.shape) +
                                   " has " + std::to_string(count) + " elements but " + used +
                                   " holds " + std::to_string(have));
        }
        const std::uint64_t nbytes = count * dt->itemsize;  // no overflow: `have` values exist
        std::string dims;
        for (const std::int64_t d : t.shape) {
            if (!dims.empty()) dims += ',';
            dims += std::to_string(d);
        }
        head += json_string(t.name, "the name of " + what) + ":{\"dtype\":\"" +
                std::string(dt->name) + "\",\"shape\":[" + dims + "],\"data_offsets\":[" +
                std::to_string(offset) + "," + std::to_string(offset + nbytes) + "]},";
        offset += nbytes;
        dtypes.push_back(dt);
    }
    if (head.back() == ',') head.pop_back();
    head += '}';
    head.append((8 - head.size() % 8) % 8, ' ');

    std::vector<std::byte> out(kPrefix + head.size() + offset);
    store_le(out.data(), static_cast<std::uint64_t>(head.size()));
    std::memcpy(out.data() + kPrefix, head.data(), head.size());
    std::byte* p = out.data() + kPrefix + head.size();
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        encode(tensors[i], *dtypes[i], p, who + ": tensor " + printable(tensors[i].name));
        p += static_cast<std::size_t>(tensors[i].size()) * dtypes[i]->itemsize;
    }
    return out;
}

// ---- files ----------------------------------------------------------------------------------

void read_exact(
    int fd, std::byte* dst, std::uint64_t n, std::uint64_t offset, const std::string& path) {
    if (read_some(fd, dst, n, static_cast<std::int64_t>(offset), path) != n)
        fail(path, "the file ended early (it shrank while being read)");
}

void require_memory_for(const header& h, double extra, const std::string& path) {
    detail::require_memory(h.decoded_bytes + extra, "reading " + in_quotes(path));
}

std::string_view as_text(const std::byte* p, std::size_t n) {
    return {reinterpret_cast<const char*>(p), n};
}

st_file read_stream(int fd, const std::string& path) {
    std::vector<std::byte> head;
    if (append_from_stream(fd, head, kPrefix, path) < kPrefix)
        fail(path, "not a safetensors file: it ends within the 8-byte header length");
    const auto n = load_le<std::uint64_t>(head.data());
    check_header_length(n, std::nullopt, path);
    const std::uint64_t got_header = append_from_stream(fd, head, n, path);
    if (got_header < n) {
        fail(path,
             "the header length is " + std::to_string(n) + " bytes but only " +
                 std::to_string(got_header) +
                 " bytes follow (not a safetensors file, or "
                 "truncated)");
    }
    const header h = parse_header(
        as_text(head.data() + kPrefix, static_cast<std::size_t>(n)), std::nullopt, path);
    require_memory_for(h, static_cast<double>(h.data_size), path);
    std::vector<std::byte> data;
    const std::uint64_t got = append_from_stream(fd, data, h.data_size, path);
    if (got < h.data_size) {
        fail(path,
             "the data is truncated: the tensors take " + std::to_string(h.data_size) +
                 " bytes after the header but only " + std::to_string(got) + " follow");
    }
    std::byte extra{};
    if (read_some(fd, &extra, 1, -1, path) != 0) {
        fail(path,
             "the data has a hole: the bytes from " + std::to_string(h.data_size) +
                 " after the header on belong to no tensor");
    }
    return decode_all(h, data.data());
}

}  // namespace

// ---- public API -----------------------------------------------------------------------------

std::int64_t st_tensor::size() const noexcept {
    std::uint64_t n = 1;  // unsigned: an absurd hand-made shape wraps instead of being UB
    for (const std::int64_t d : shape) n *= static_cast<std::uint64_t>(d);
    return static_cast<std::int64_t>(n);
}

bool st_tensor::uses_f32() const noexcept {
    return dtype == "F32" || dtype == "F16" || dtype == "BF16";
}

std::vector<double> st_tensor::to_f64() const {
    if (uses_f32()) return {f32.begin(), f32.end()};
    return f64;
}

const st_tensor* st_file::find(std::string_view name) const {
    for (const st_tensor& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

st_file parse_safetensors(std::span<const std::byte> bytes, std::string_view name) {
    if (bytes.size() < kPrefix) {
        fail(name,
             "not a safetensors file: " + std::to_string(bytes.size()) +
                 " bytes, fewer than the 8-byte header length");
    }
    const auto n = load_le<std::uint64_t>(bytes.data());
    check_header_length(n, bytes.size() - kPrefix, name);
    const auto hlen = static_cast<std::size_t>(n);
    const header h =
        parse_header(as_text(bytes.data() + kPrefix, hlen), bytes.size() - kPrefix - hlen, name);
    detail::require_memory(h.decoded_bytes, "reading " + in_quotes(name));
    return decode_all(h, bytes.data() + kPrefix + hlen);
}

st_file read_safetensors(const std::string& path) {
    const detail::input_file in = detail::open_input(path);
    const detail::fd_guard& f = in.file;
    if (!in.regular) return read_stream(f.fd, path);

    // A regular file: the header is read and checked against the file size first; then each
    // tensor is read (F32 and F64 straight into place on a little-endian machine).
    const std::uint64_t file_size = in.size;
    if (file_size < kPrefix) {
        fail(path,
             "not a safetensors file: " + std::to_string(file_size) +
                 " bytes, fewer than the 8-byte header length");
    }
    std::byte prefix[kPrefix];
    read_exact(f.fd, prefix, kPrefix, 0, path);
    const auto n = load_le<std::uint64_t>(prefix);
    check_header_length(n, file_size - kPrefix, path);
    std::vector<std::byte> text(static_cast<std::size_t>(n));
    read_exact(f.fd, text.data(), n, kPrefix, path);
    const header h = parse_header(as_text(text.data(), text.size()), file_size - kPrefix - n, path);
    text = {};
    require_memory_for(h, 0.0, path);

    const std::uint64_t data_start = kPrefix + n;
    st_file out;
    out.metadata = h.metadata;
    out.tensors.reserve(h.tensors.size());
    std::vector<std::byte> buf;
    constexpr bool little = std::endian::native == std::endian::little;
    for (const entry& e : h.tensors) {
        const std::uint64_t nbytes = e.end - e.begin;
        const std::uint64_t at = data_start + e.begin;
        if (little && (e.dt->kind == elem::f32 || e.dt->kind == elem::f64)) {
            st_tensor t = shell_of(e);
            std::byte* dst = nullptr;
            if (e.dt->kind == elem::f32) {
                t.f32.resize(static_cast<std::size_t>(e.count));
                dst = reinterpret_cast<std::byte*>(t.f32.data());
            } else {
                t.f64.resize(static_cast<std::size_t>(e.count));
                dst = reinterpret_cast<std::byte*>(t.f64.data());
            }
            if (nbytes > 0) read_exact(f.fd, dst, nbytes, at, path);
            out.tensors.push_back(std::move(t));
        } else {
            buf.resize(static_cast<std::size_t>(nbytes));
            if (nbytes > 0) read_exact(f.fd, buf.data(), nbytes, at, path);
            out.tensors.push_back(decode(e, buf.data()));
        }
    }
    return out;
}

std::vector<std::byte> to_safetensors_bytes(const std::vector<st_tensor>& tensors,
                                            const std::map<std::string, std::string>& metadata) {
    return serialise(tensors, metadata, "to_safetensors_bytes");
}

void write_safetensors(const std::string& path,
                       const std::vector<st_tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    const auto bytes = serialise(tensors, metadata, "write_safetensors " + in_quotes(path));
    detail::write_file_atomic(path, bytes);
}

}  // namespace denseam
