// SPDX-License-Identifier: MIT
// Tests of the safetensors reader/writer: round trips (every dtype, scalars, empty tensors,
// metadata), hand-built files with headers written here, every error path (exception type, the
// file's name, one line), files and FIFOs, and a cross-check against a few lines of NumPy.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/safetensors.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using denseam::st_file;
using denseam::st_tensor;
using bytes = std::vector<std::byte>;
using shape_t = std::vector<std::int64_t>;

constexpr const char* kName = "buf.safetensors";
constexpr float kInf = std::numeric_limits<float>::infinity();

// ---- builders -------------------------------------------------------------------------------

void append(bytes& b, std::string_view s) {
    for (const char c : s) b.push_back(static_cast<std::byte>(c));
}

template <class T>
bytes raw(const std::vector<T>& values) {
    bytes b;
    for (const T v : values) {
        std::byte tmp[sizeof(T)];
        std::memcpy(tmp, &v, sizeof(T));
        for (std::size_t i = 0; i < sizeof(T); ++i)
            b.push_back(tmp[std::endian::native == std::endian::little ? i : sizeof(T) - 1 - i]);
    }
    return b;
}

// A file: the 8-byte little-endian header length (`declared`, or the header's real length), the
// header text as given, the data.
bytes make_file(std::string_view header,
                const bytes& data = {},
                std::optional<std::uint64_t> declared = {}) {
    bytes b = raw(std::vector<std::uint64_t>{declared.value_or(header.size())});
    append(b, header);
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

st_file parse(const bytes& b) {
    return denseam::parse_safetensors(b, kName);
}

// The message of the denseam::invalid_argument that `f` throws ("" and a failure if none).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
        ADD_FAILURE() << "no exception";
    } catch (const denseam::invalid_argument& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "wrong exception type: " << e.what();
    }
    return {};
}

// parse_safetensors(b) throws denseam::invalid_argument: one line, starting with the quoted name,
// containing `fragment`.
void expect_parse_error(const bytes& b, const std::string& fragment) {
    const std::string msg = error_of([&] { (void)parse(b); });
    EXPECT_EQ(msg.rfind("'buf.safetensors': ", 0), 0u) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << "missing '" << fragment << "' in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

void expect_write_error(const std::vector<st_tensor>& ts,
                        const std::string& fragment,
                        const std::map<std::string, std::string>& md = {}) {
    const std::string msg = error_of([&] { (void)denseam::to_safetensors_bytes(ts, md); });
    EXPECT_EQ(msg.rfind("to_safetensors_bytes: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << "missing '" << fragment << "' in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

st_tensor f32_tensor(std::string name, shape_t shape, std::vector<float> v) {
    st_tensor t;
    t.name = std::move(name);
    t.dtype = "F32";
    t.shape = std::move(shape);
    t.f32 = std::move(v);
    return t;
}

st_tensor f64_tensor(std::string name, std::string dtype, shape_t shape, std::vector<double> v) {
    st_tensor t;
    t.name = std::move(name);
    t.dtype = std::move(dtype);
    t.shape = std::move(shape);
    t.f64 = std::move(v);
    return t;
}

// Same name, dtype, shape and bit-identical values.
void expect_same(const st_tensor& a, const st_tensor& b) {
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.dtype, b.dtype) << a.name;
    EXPECT_EQ(a.shape, b.shape) << a.name;
    ASSERT_EQ(a.f32.size(), b.f32.size()) << a.name;
    ASSERT_EQ(a.f64.size(), b.f64.size()) << a.name;
    if (!a.f32.empty()) {
        EXPECT_EQ(std::memcmp(a.f32.data(), b.f32.data(), a.f32.size() * sizeof(float)), 0)
            << a.name;
    }
    if (!a.f64.empty()) {
        EXPECT_EQ(std::memcmp(a.f64.data(), b.f64.data(), a.f64.size() * sizeof(double)), 0)
            << a.name;
    }
}

void expect_same(const st_file& f,
                 const std::vector<st_tensor>& ts,
                 const std::map<std::string, std::string>& md) {
    ASSERT_EQ(f.tensors.size(), ts.size());
    for (std::size_t i = 0; i < ts.size(); ++i) expect_same(f.tensors[i], ts[i]);
    EXPECT_EQ(f.metadata, md);
}

using test_support::temp_dir;

bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes b(c.size());
    if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());
    return b;
}

void write_file(const std::string& path, const bytes& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::uint64_t header_length(const bytes& b) {
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint64_t>(b[i]);
    return n;
}

// The tensors of the round-trip tests: F32 and F64, a scalar, empty tensors, awkward values.
std::vector<st_tensor> sample_tensors() {
    return {
        f32_tensor("encoder.0.weight", {2, 3}, {1.5f, -0.0f, 3.25e-20f, kInf, std::nanf(""), 0.1f}),
        f32_tensor("encoder.0.bias", {3}, {1.0f, -2.0f, 1e-45f}),
        f64_tensor("decoder.scale", "F64", {}, {3.141592653589793}),
        f32_tensor("empty", {0, 3}, {}),
        f64_tensor("cube", "F64", {2, 1, 2}, {1e300, -2.5, std::nan(""), -HUGE_VAL}),
        f64_tensor("none", "F64", {0}, {}),
    };
}

// ---- round trips ----------------------------------------------------------------------------

TEST(SafetensorsRoundTrip, F32AndF64ShapesAndMetadata) {
    const auto ts = sample_tensors();
    const std::map<std::string, std::string> md = {{"format", "pt"}, {"note", "\xce\xb2-VAE"}};
    const bytes b = denseam::to_safetensors_bytes(ts, md);

    const std::uint64_t n = header_length(b);
    EXPECT_EQ(n % 8, 0u);
    ASSERT_LE(8 + n, b.size());
    EXPECT_EQ(b.size() - 8 - n, 6 * 4 + 3 * 4 + 8 + 0 + 4 * 8 + 0);  // the data, no padding
    const std::string header(reinterpret_cast<const char*>(b.data()) + 8, n);
    EXPECT_EQ(header.rfind("{\"__metadata__\":", 0), 0u) << header;
    EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));  // padded with spaces

    const st_file f = parse(b);
    expect_same(f, ts, md);  // in the given order
    ASSERT_NE(f.find("decoder.scale"), nullptr);
    EXPECT_EQ(f.find("decoder.scale")->size(), 1);
    EXPECT_EQ(f.find("empty")->size(), 0);
    EXPECT_EQ(f.find("missing"), nullptr);

    temp_dir d;
    const std::string path = d.file("w.safetensors");
    denseam::write_safetensors(path, ts, md);
    EXPECT_EQ(read_file(path), b);
    expect_same(denseam::read_safetensors(path), ts, md);
    // Replacing an existing file leaves nothing else behind.
    denseam::write_safetensors(path, {ts[0]});
    expect_same(denseam::read_safetensors(path), {ts[0]}, {});
    EXPECT_EQ(std::distance(fs::directory_iterator(d.path), {}), 1);
}

TEST(SafetensorsRoundTrip, NoTensors) {
    const bytes b = denseam::to_safetensors_bytes({});
    EXPECT_EQ(b.size(), 16u);
    EXPECT_EQ(header_length(b), 8u);
    const st_file f = parse(b);
    EXPECT_TRUE(f.tensors.empty());
    EXPECT_TRUE(f.metadata.empty());
    EXPECT_TRUE(parse(make_file("{\"__metadata__\": {}}")).tensors.empty());
}

TEST(SafetensorsRoundTrip, IntegerAndBoolDtypes) {
    const double two63 = 9223372036854775808.0;
    const std::vector<st_tensor> ts = {
        f64_tensor("i8", "I8", {3}, {-128, 127, 0}),
        f64_tensor("i16", "I16", {2}, {-32768, 32767}),
        f64_tensor("i32", "I32", {2}, {-2147483648.0, 2147483647.0}),
        f64_tensor("i64", "I64", {3}, {-two63, 9007199254740992.0, -1}),
        f64_tensor("u8", "U8", {2}, {0, 255}),
        f64_tensor("u16", "U16", {1}, {65535}),
        f64_tensor("u32", "U32", {1}, {4294967295.0}),
        f64_tensor("u64", "U64", {2}, {2 * two63 - 2048, 0}),
        f64_tensor("mask", "BOOL", {2, 2}, {0, 1, 1, 0}),
    };
    const bytes b = denseam::to_safetensors_bytes(ts);
    expect_same(parse(b), ts, {});
    EXPECT_EQ(b.size() - 8 - header_length(b), 3 + 4 + 8 + 24 + 2 + 2 + 4 + 16 + 4);
}

// Every 16-bit pattern of F16 and BF16 reads to the float it denotes and is written back to the
// same bits (a NaN as the quiet NaN of its sign).
void check_all_16_bit(const std::string& dtype,
                      float (*expected)(std::uint16_t),
                      std::uint16_t quiet_nan) {
    std::vector<std::uint16_t> bits(65536);
    for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<std::uint16_t>(i);
    const bytes b = make_file(
        "{\"h\":{\"dtype\":\"" + dtype + "\",\"shape\":[256,256],\"data_offsets\":[0,131072]}}",
        raw(bits));
    const st_file f = parse(b);
    ASSERT_EQ(f.tensors.size(), 1u);
    const st_tensor& t = f.tensors[0];
    EXPECT_EQ(t.dtype, dtype);
    EXPECT_EQ(t.shape, (shape_t{256, 256}));
    ASSERT_EQ(t.f32.size(), bits.size());
    EXPECT_TRUE(t.f64.empty());
    std::vector<std::uint16_t> want = bits;
    int mismatches = 0;
    for (std::size_t i = 0; i < bits.size(); ++i) {
        const float e = expected(bits[i]);
        const bool same =
            std::isnan(e)
                ? std::isnan(t.f32[i]) && std::signbit(t.f32[i]) == std::signbit(e)
                : std::bit_cast<std::uint32_t>(t.f32[i]) == std::bit_cast<std::uint32_t>(e);
        if (!same && ++mismatches < 5) ADD_FAILURE() << dtype << " bits " << bits[i];
        if (std::isnan(e)) want[i] = static_cast<std::uint16_t>((bits[i] & 0x8000u) | quiet_nan);
    }
    const bytes back = denseam::to_safetensors_bytes(f.tensors);
    const bytes data(back.end() - 131072, back.end());
    EXPECT_EQ(data, raw(want));
}

// Independent definitions of the two formats.
float half_value(std::uint16_t h) {
    const int e = (h >> 10) & 31;
    const int m = h & 1023;
    const float sign = (h & 0x8000u) != 0 ? -1.0f : 1.0f;
    if (e == 31) return m == 0 ? sign * kInf : std::copysign(std::nanf(""), sign);
    if (e == 0) return sign * std::ldexp(static_cast<float>(m), -24);
    return sign * std::ldexp(1.0f + static_cast<float>(m) / 1024.0f, e - 15);
}

float bfloat_value(std::uint16_t h) {
    const int e = (h >> 7) & 255;
    const int m = h & 127;
    const float sign = (h & 0x8000u) != 0 ? -1.0f : 1.0f;
    if (e == 255) return m == 0 ? sign * kInf : std::copysign(std::nanf(""), sign);
    if (e == 0) return sign * std::ldexp(static_cast<float>(m), -133);
    return sign * std::ldexp(1.0f + static_cast<float>(m) / 128.0f, e - 127);
}

TEST(SafetensorsRoundTrip, EveryF16Value) {
    check_all_16_bit("F16", half_value, 0x7e00);
}

TEST(SafetensorsRoundTrip, EveryBF16Value) {
    check_all_16_bit("BF16", bfloat_value, 0x7fc0);
}

// ---- hand-built files -----------------------------------------------------------------------

TEST(SafetensorsParse, HandBuiltHeader) {
    // Keys out of alphabetical order, metadata last, whitespace and padding as a writer may leave.
    const std::string header =
        "{\n  \"zeta\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]},\n"
        "  \"alpha\": {\"shape\": [], \"data_offsets\": [0, 8], \"dtype\": \"F64\"},\n"
        "  \"__metadata__\": {\"format\": \"pt\", \"epoch\": \"3\"}\n}   ";
    bytes data = raw(std::vector<double>{0.1});
    const bytes z = raw(std::vector<float>{1.5f, -2.0f});
    data.insert(data.end(), z.begin(), z.end());
    const st_file f = parse(make_file(header, data));
    ASSERT_EQ(f.tensors.size(), 2u);
    EXPECT_EQ(f.tensors[0].name, "zeta");  // header order
    EXPECT_EQ(f.tensors[0].dtype, "F32");
    EXPECT_EQ(f.tensors[0].shape, (shape_t{2}));
    EXPECT_EQ(f.tensors[0].f32, (std::vector<float>{1.5f, -2.0f}));
    EXPECT_TRUE(f.tensors[0].uses_f32());
    EXPECT_EQ(f.tensors[0].to_f64(), (std::vector<double>{1.5, -2.0}));
    EXPECT_EQ(f.tensors[1].name, "alpha");
    EXPECT_EQ(f.tensors[1].shape, shape_t{});
    EXPECT_EQ(f.tensors[1].f64, (std::vector<double>{0.1}));
    EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"epoch", "3"}}));
}

// A file of one tensor per dtype, each header entry written out here.
TEST(SafetensorsParse, HandBuiltEveryDtype) {
    std::string header = "{";
    bytes data;
    auto add = [&](const std::string& name,
                   const std::string& dtype,
                   const std::string& shape,
                   const bytes& values) {
        const std::size_t begin = data.size();
        data.insert(data.end(), values.begin(), values.end());
        if (header.size() > 1) header += ", ";
        header += "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape +
                  ", \"data_offsets\": [" + std::to_string(begin) + ", " +
                  std::to_string(data.size()) + "]}";
    };
    add("f32", "F32", "[2]", raw(std::vector<float>{1.5f, -2.0f}));
    add("f64", "F64", "[]", raw(std::vector<double>{0.1}));
    add("f16", "F16", "[3]", raw(std::vector<std::uint16_t>{0x3c00, 0xc000, 0x0001}));
    add("bf16", "BF16", "[2]", raw(std::vector<std::uint16_t>{0x3f80, 0xc049}));
    add("i64", "I64", "[2]", raw(std::vector<std::int64_t>{-5, std::int64_t{1} << 40}));
    add("i32", "I32", "[1, 1]", raw(std::vector<std::int32_t>{-7}));
    add("i16", "I16", "[1]", raw(std::vector<std::int16_t>{-300}));
    add("i8", "I8", "[2]", raw(std::vector<std::int8_t>{-1, 127}));
    add("u8", "U8", "[3]", raw(std::vector<std::uint8_t>{0, 200, 255}));
    add("u16", "U16", "[1]", raw(std::vector<std::uint16_t>{65535}));
    add("u32", "U32", "[1]", raw(std::vector<std::uint32_t>{4000000000u}));
    add("u64", "U64", "[1]", raw(std::vector<std::uint64_t>{std::uint64_t{1} << 63}));
    add("bool", "BOOL", "[3]", raw(std::vector<std::uint8_t>{0, 1, 2}));
    header += "}";
    const st_file f = parse(make_file(header, data));
    ASSERT_EQ(f.tensors.size(), 13u);
    auto f32_of = [&](const char* name) { return f.find(name)->f32; };
    auto f64_of = [&](const char* name) { return f.find(name)->f64; };
    EXPECT_EQ(f32_of("f32"), (std::vector<float>{1.5f, -2.0f}));
    EXPECT_EQ(f64_of("f64"), (std::vector<double>{0.1}));
    EXPECT_EQ(f32_of("f16"), (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24)}));
    EXPECT_EQ(f32_of("bf16"), (std::vector<float>{1.0f, -3.140625f}));
    EXPECT_EQ(f64_of("i64"), (std::vector<double>{-5.0, 1099511627776.0}));
    EXPECT_EQ(f64_of("i32"), (std::vector<double>{-7.0}));
    EXPECT_EQ(f.find("i32")->shape, (shape_t{1, 1}));
    EXPECT_EQ(f64_of("i16"), (std::vector<double>{-300.0}));
    EXPECT_EQ(f64_of("i8"), (std::vector<double>{-1.0, 127.0}));
    EXPECT_EQ(f64_of("u8"), (std::vector<double>{0.0, 200.0, 255.0}));
    EXPECT_EQ(f64_of("u16"), (std::vector<double>{65535.0}));
    EXPECT_EQ(f64_of("u32"), (std::vector<double>{4000000000.0}));
    EXPECT_EQ(f64_of("u64"), (std::vector<double>{9223372036854775808.0}));
    EXPECT_EQ(f64_of("bool"), (std::vector<double>{0.0, 1.0, 1.0}));
    for (const st_tensor& t : f.tensors)
        EXPECT_EQ(t.uses_f32(), t.f64.empty()) << t.name;  // one vector per dtype, as documented
}

TEST(SafetensorsParse, ZeroSizedTensorsAnywhere) {
    // Empty tensors may sit at any offset within (or at the end of) the data.
    const bytes b = make_file(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"c\":{\"dtype\":\"I64\",\"shape\":[3,0],\"data_offsets\":[4,4]}}",
        raw(std::vector<float>{2.0f}));
    const st_file f = parse(b);
    ASSERT_EQ(f.tensors.size(), 3u);
    EXPECT_TRUE(f.find("a")->f32.empty());
    EXPECT_EQ(f.find("b")->f32, (std::vector<float>{2.0f}));
    EXPECT_EQ(f.find("c")->shape, (shape_t{3, 0}));
}

// ---- parse errors ---------------------------------------------------------------------------

std::string entry(const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

const bytes kFour = raw(std::vector<float>{1.0f});

TEST(SafetensorsErrors, HeaderLengthBeyondTheFile) {
    const std::string h = "{\"a\":" + entry("F32", "[1]", "[0,4]") + "}";
    expect_parse_error(make_file(h, kFour, 1000), "header length is 1000 bytes but only");
    expect_parse_error(make_file(h, kFour, ~std::uint64_t{0}), "not a safetensors file");
    expect_parse_error(bytes(5), "5 bytes, fewer than the 8-byte header length");
    expect_parse_error(bytes{}, "fewer than the 8-byte header length");
}

TEST(SafetensorsErrors, HeaderNotJson) {
    expect_parse_error(make_file("{\"a\": "), "the header is not valid JSON");
    expect_parse_error(make_file(""), "not valid JSON");
    expect_parse_error(make_file("{'a': 1}"), "not valid JSON");
    expect_parse_error(make_file("{\"\xff\": {}}"), "not valid JSON");  // not UTF-8
    expect_parse_error(make_file(std::string("{}\0\0", 4)), "a NUL byte at offset 2");
    expect_parse_error(make_file(std::string("{}\0{\"a\": 1}", 11)), "not valid JSON");
    expect_parse_error(make_file("{} {}"), "not valid JSON");
    expect_parse_error(make_file("{\"a\": 1e999}"), "not valid JSON");
}

TEST(SafetensorsErrors, HeaderNotAnObject) {
    expect_parse_error(make_file("[1, 2]"), "the header is a JSON array, not an object");
    expect_parse_error(make_file("42      "), "the header is a JSON number, not an object");
    expect_parse_error(make_file("\"F32\""), "JSON string, not an object");
    expect_parse_error(make_file("{\"a\": [1]}"), "tensor 'a': the entry is a JSON array");
}

TEST(SafetensorsErrors, UnknownDtype) {
    for (const std::string dt : {"F8_E4M3", "f32", "C64", "", "STRING"}) {
        expect_parse_error(make_file("{\"a\":" + entry(dt, "[1]", "[0,4]") + "}", kFour),
                           "tensor 'a': unsupported dtype '" + dt + "' (supported: F16,");
    }
    expect_parse_error(
        make_file("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", kFour),
        "tensor 'a': dtype is a JSON number, not a string");
}

TEST(SafetensorsErrors, ShapeAndOffsetSizeMismatch) {
    const bytes data(24);
    expect_parse_error(make_file("{\"w\":" + entry("F32", "[2,3]", "[0,20]") + "}", data),
                       "tensor 'w': shape (2, 3) of dtype F32 takes 24 bytes but data_offsets "
                       "[0, 20] span 20");
    expect_parse_error(make_file("{\"w\":" + entry("F64", "[]", "[0,4]") + "}", kFour),
                       "shape () of dtype F64 takes 8 bytes");
    expect_parse_error(make_file("{\"w\":" + entry("F32", "[0,3]", "[0,4]") + "}", kFour),
                       "takes 0 bytes");
}

TEST(SafetensorsErrors, OffsetsOutOfRange) {
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[1]", "[4,8]") + "}", kFour),
                       "tensor 'a': data_offsets [4, 8] go past the end of the data, which has 4 "
                       "bytes");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[1]", "[8,4]") + "}", kFour),
                       "data_offsets [8, 4] end before they begin");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[1]", "[-4,0]") + "}", kFour),
                       "the begin of data_offsets is negative (-4)");
    expect_parse_error(
        make_file("{\"a\":" + entry("F32", "[1]", "[18446744073709551616,4]") + "}", kFour),
        "the begin of data_offsets is not a non-negative integer");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[1]", "[0,4.0]") + "}", kFour),
                       "the end of data_offsets is not a non-negative integer");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[1]", "[0,4,8]") + "}", kFour),
                       "data_offsets is not a list [begin, end]");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[1]", "{}") + "}", kFour),
                       "data_offsets is not a list [begin, end]");
    // A huge end whose span matches an absurd shape: the overflow checks, not arithmetic, answer.
    expect_parse_error(
        make_file(
            "{\"a\":" + entry("U8", "[18446744073709551615]", "[0,18446744073709551615]") + "}",
            kFour),
        "overflows 64 bits");
    expect_parse_error(
        make_file("{\"a\":" + entry("F64", "[4294967296,4294967296]", "[0,4]") + "}", kFour),
        "has more elements than 64 bits count");
    expect_parse_error(
        make_file("{\"a\":" + entry("F64", "[2305843009213693952]", "[0,4]") + "}", kFour),
        "has more bytes than 64 bits count");
}

TEST(SafetensorsErrors, OverlappingTensors) {
    const bytes data(12);
    expect_parse_error(make_file("{\"a\":" + entry("F64", "[1]", "[0,8]") +
                                     ",\"b\":" + entry("F64", "[1]", "[4,12]") + "}",
                                 data),
                       "tensors 'a' and 'b' overlap (data_offsets [0, 8] and [4, 12])");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[3]", "[0,12]") +
                                     ",\"b\":" + entry("F32", "[1]", "[0,4]") + "}",
                                 data),
                       "overlap");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[3]", "[0,12]") +
                                     ",\"b\":" + entry("F32", "[0]", "[4,4]") + "}",
                                 data),
                       "tensors 'a' and 'b' overlap");
}

TEST(SafetensorsErrors, HoleInTheData) {
    const bytes data(12);
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[1]", "[0,4]") +
                                     ",\"b\":" + entry("F32", "[1]", "[8,12]") + "}",
                                 data),
                       "the data has a hole: bytes 4 to 8 after the header belong to no tensor");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[1]", "[4,8]") + "}", bytes(8)),
                       "bytes 0 to 4 after the header belong to no tensor");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[1]", "[0,4]") + "}", bytes(5)),
                       "bytes 4 to 5 after the header belong to no tensor");
    expect_parse_error(make_file("{}", bytes(1)), "bytes 0 to 1 after the header");
}

TEST(SafetensorsErrors, TruncatedData) {
    bytes b = denseam::to_safetensors_bytes(sample_tensors());
    b.resize(b.size() - 3);
    expect_parse_error(b,
                       "tensor 'cube': data_offsets [44, 76] go past the end of the data, "
                       "which has 73 bytes after the header (is the file truncated?)");
}

TEST(SafetensorsErrors, MissingOrUnexpectedKey) {
    expect_parse_error(make_file("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", kFour),
                       "tensor 'a': missing key 'dtype'");
    expect_parse_error(make_file("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", kFour),
                       "tensor 'a': missing key 'shape'");
    expect_parse_error(make_file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", kFour),
                       "tensor 'a': missing key 'data_offsets'");
    expect_parse_error(
        make_file(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"offsets\":[0,4]}}",
            kFour),
        "tensor 'a': unexpected key 'offsets' (an entry has exactly dtype, shape and "
        "data_offsets)");
}

TEST(SafetensorsErrors, DuplicateKeys) {
    const std::string e = entry("F32", "[1]", "[0,4]");
    expect_parse_error(make_file("{\"a\":" + e + ",\"a\":" + e + "}", kFour),
                       "the header repeats the key 'a'");
    expect_parse_error(
        make_file("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,"
                  "4]}}",
                  kFour),
        "the header repeats the key 'dtype' within one entry");
    expect_parse_error(
        make_file("{\"__metadata__\":{\"k\":\"1\"},\"a\":" + e + ",\"__metadata__\":{}}", kFour),
        "repeats the key '__metadata__'");
}

TEST(SafetensorsErrors, BadShape) {
    expect_parse_error(make_file("{\"a\":" + entry("F32", "4", "[0,4]") + "}", kFour),
                       "tensor 'a': shape is a JSON number, not a list");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[-1]", "[0,4]") + "}", kFour),
                       "a dimension of the shape is negative (-1)");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[1.0]", "[0,4]") + "}", kFour),
                       "a dimension of the shape is not a non-negative integer");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[true]", "[0,4]") + "}", kFour),
                       "not a non-negative integer");
    std::string many = "[1";
    for (int i = 0; i < 64; ++i) many += ",1";
    expect_parse_error(make_file("{\"a\":" + entry("F32", many + "]", "[0,4]") + "}", kFour),
                       "shape has 65 dimensions (at most 64)");
    expect_parse_error(make_file("{\"a\":" + entry("F32", "[[1]]", "[0,4]") + "}", kFour),
                       "the header nests deeper than a safetensors header");
}

TEST(SafetensorsErrors, BadMetadata) {
    expect_parse_error(make_file("{\"__metadata__\": [\"a\"]}"),
                       "__metadata__ is a JSON array, not an object of strings to strings");
    expect_parse_error(make_file("{\"__metadata__\": {\"epoch\": 3}}"),
                       "__metadata__: the value of 'epoch' is a JSON number, not a string");
    expect_parse_error(make_file("{\"__metadata__\": {\"x\": {\"y\": {}}}}"), "nests deeper");
}

TEST(SafetensorsErrors, HostileNamesArePrintedSafely) {
    const std::string h = "{\"a\\nb\\u0000\":" + entry("F32", "[2]", "[0,4]") + "}";
    expect_parse_error(make_file(h, kFour), "tensor 'a\\x0ab\\x00': shape (2,)");
    const std::string deep(100000, '[');  // refused at the fourth level, not parsed recursively
    expect_parse_error(make_file(deep), "nests deeper");
}

// ---- writer errors --------------------------------------------------------------------------

TEST(SafetensorsWrite, ValuesNotRepresentable) {
    auto one = [](const char* dtype, double v) { return f64_tensor("t", dtype, {1}, {v}); };
    expect_write_error({one("I32", 2.5)}, "tensor 't': element 0 (2.5) is not exactly");
    expect_write_error({one("BOOL", 2)}, "(2.0) is not exactly representable as BOOL");
    expect_write_error({one("U8", 256)}, "(256.0) is not exactly");
    expect_write_error({one("U32", -1)}, "(-1.0) is not exactly");
    expect_write_error({one("I64", std::nan(""))}, "(nan) is not exactly");
    expect_write_error({one("I64", 9223372036854775808.0)}, "is not exactly");
    expect_write_error({one("U64", 18446744073709551616.0)}, "is not exactly");
    expect_write_error({one("I8", HUGE_VAL)}, "(inf) is not exactly");
    st_tensor h = f32_tensor("h", {2}, {1.0f, 0.1f});
    h.dtype = "F16";
    expect_write_error({h}, "tensor 'h': element 1 (0.10000000149011612) is not exactly");
    h.f32 = {1.0f, 70000.0f};
    expect_write_error({h}, "element 1 (70000.0)");
    h.f32 = {std::ldexp(1.0f, -25), 0.0f};
    expect_write_error({h}, "element 0");
    h.f32 = {std::ldexp(3.0f, -24), std::nanf("")};  // 3 * 2^-24: a subnormal half; NaN is fine
    EXPECT_EQ(parse(denseam::to_safetensors_bytes({h})).tensors[0].f32[0], std::ldexp(3.0f, -24));
    h.dtype = "BF16";
    h.f32 = {1.5f, 1.1f};
    expect_write_error({h}, "element 1 (1.100000023841858)");
}

TEST(SafetensorsWrite, BadTensors) {
    const st_tensor a = f32_tensor("a", {2}, {1.0f, 2.0f});
    expect_write_error({a, a}, "tensor 'a' appears more than once");
    expect_write_error({f32_tensor("__metadata__", {}, {1.0f})},
                       "'__metadata__' names the metadata");
    st_tensor t = a;
    t.dtype = "F8_E5M2";
    expect_write_error({t}, "tensor 'a': unsupported dtype 'F8_E5M2'");
    expect_write_error({f32_tensor("a", {3}, {1.0f, 2.0f})},
                       "tensor 'a': shape (3,) has 3 elements but f32 holds 2");
    expect_write_error({f32_tensor("a", {-1, -2}, {1.0f, 2.0f})}, "has a negative dimension");
    t = a;
    t.f64 = {1.0};
    expect_write_error({t}, "dtype F32 keeps its values in f32, but f64 holds 1");
    expect_write_error({f64_tensor("a", "I64", {2}, {})}, "shape (2,) has 2 elements but f64");
    expect_write_error({f32_tensor("bad\xff", {0}, {})}, "the name of tensor 'bad\\xff'");
    expect_write_error({a}, "metadata value of 'k' is not valid UTF-8", {{"k", "\xc3"}});
    expect_write_error({a}, "metadata key '\\xc3' is not valid UTF-8", {{"\xc3", "v"}});
}

// ---- files ----------------------------------------------------------------------------------

TEST(SafetensorsFile, ErrorsNameThePath) {
    temp_dir d;
    const std::string path = d.file("t.safetensors");
    bytes b = denseam::to_safetensors_bytes(sample_tensors());
    b.pop_back();
    write_file(path, b);
    std::string msg = error_of([&] { (void)denseam::read_safetensors(path); });
    EXPECT_EQ(msg.rfind("'" + path + "': ", 0), 0u) << msg;
    EXPECT_NE(msg.find("is the file truncated?"), std::string::npos) << msg;

    write_file(path, make_file("{}", {}, 64));
    msg = error_of([&] { (void)denseam::read_safetensors(path); });
    EXPECT_NE(msg.find("'" + path + "': the header length is 64 bytes but only 2"),
              std::string::npos)
        << msg;

    msg = error_of([&] { (void)denseam::read_safetensors(d.file("missing.safetensors")); });
    EXPECT_NE(msg.find("cannot open '" + d.file("missing.safetensors") + "'"), std::string::npos)
        << msg;
    msg = error_of([&] { (void)denseam::read_safetensors(d.path.string()); });
    EXPECT_NE(msg.find("it is a directory"), std::string::npos) << msg;

    msg = error_of([&] { denseam::write_safetensors(d.path.string(), sample_tensors()); });
    EXPECT_NE(msg.find(d.path.string()), std::string::npos) << msg;
    msg = error_of([&] { denseam::write_safetensors(d.file("no/such/dir.st"), sample_tensors()); });
    EXPECT_NE(msg.find("no/such/dir.st"), std::string::npos) << msg;
    // A bad tensor is reported before the file is touched.
    write_file(path, kFour);
    msg = error_of([&] { denseam::write_safetensors(path, {f32_tensor("a", {2}, {1.0f})}); });
    EXPECT_EQ(msg.rfind("write_safetensors '" + path + "': tensor 'a'", 0), 0u) << msg;
    EXPECT_EQ(read_file(path), kFour);
}

TEST(SafetensorsFile, MoreThanMemoryIsRefused) {
    // A sparse file whose U8 data fits in memory but not as the doubles it is decoded to.
    temp_dir d;
    const std::string path = d.file("sparse.safetensors");
    const std::uint64_t memory = static_cast<std::uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
                                 static_cast<std::uint64_t>(::sysconf(_SC_PAGE_SIZE));
    const std::uint64_t n = memory / 8 + 1;
    const std::string s = std::to_string(n);
    const bytes head = make_file("{\"big\":" + entry("U8", "[" + s + "]", "[0," + s + "]") + "}");
    write_file(path, head);
    std::error_code ec;
    fs::resize_file(path, head.size() + n, ec);
    if (ec) GTEST_SKIP() << "cannot make a sparse file of " << n << " bytes: " << ec.message();
    const std::string msg = error_of([&] { (void)denseam::read_safetensors(path); });
    EXPECT_EQ(msg.rfind("reading '" + path + "' needs about ", 0), 0u) << msg;
    EXPECT_NE(msg.find("more than this machine's"), std::string::npos) << msg;
}

// read_safetensors on a FIFO fed `b` from another thread (SIGPIPE blocked there, in case the
// reader stops early).
st_file read_through_fifo(const temp_dir& d, const bytes& b) {
    const std::string path = d.file("fifo.safetensors");
    std::error_code ec;
    fs::remove(path, ec);
    if (::mkfifo(path.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
    std::thread writer([path, b] {
        sigset_t block;
        sigemptyset(&block);
        sigaddset(&block, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &block, nullptr);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return;
        std::size_t done = 0;
        while (done < b.size()) {
            const ssize_t r = ::write(fd, b.data() + done, b.size() - done);
            if (r <= 0) break;
            done += static_cast<std::size_t>(r);
        }
        ::close(fd);
    });
    try {
        st_file f = denseam::read_safetensors(path);
        writer.join();
        return f;
    } catch (...) {
        writer.join();
        throw;
    }
}

TEST(SafetensorsFile, Fifo) {
    temp_dir d;
    const auto ts = sample_tensors();
    bytes b = denseam::to_safetensors_bytes(ts, {{"k", "v"}});
    expect_same(read_through_fifo(d, b), ts, {{"k", "v"}});

    bytes longer = b;
    longer.push_back(std::byte{0});
    std::string msg = error_of([&] { (void)read_through_fifo(d, longer); });
    EXPECT_NE(msg.find("the data has a hole: the bytes from 76 after the header on"),
              std::string::npos)
        << msg;
    b.resize(b.size() - 5);
    msg = error_of([&] { (void)read_through_fifo(d, b); });
    EXPECT_NE(msg.find("the data is truncated: the tensors take 76 bytes after the header but "
                       "only 71 follow"),
              std::string::npos)
        << msg;
    msg = error_of([&] { (void)read_through_fifo(d, make_file("{}", {}, 100)); });
    EXPECT_NE(msg.find("fifo.safetensors': the header length is 100 bytes but only 2 bytes"),
              std::string::npos)
        << msg;
    msg = error_of([&] { (void)read_through_fifo(d, make_file("{}", {}, 200'000'000)); });
    EXPECT_NE(msg.find("more than the limit of 100000000"), std::string::npos) << msg;
}

// ---- a cross-check with NumPy ---------------------------------------------------------------

// Reads the file named by argv[1] with nothing but json, struct and NumPy and prints, per tensor
// in file order, "name dtype dims bits..." (the values as float64, bit patterns in decimal), then
// the metadata and two layout facts: (8 + header length) % 8 and whether the data ends with the
// last tensor.
constexpr const char* kNumpyReader = R"(
import json, struct, sys
import numpy as np
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n].decode("utf-8"))
d = b[8 + n:]
meta = h.pop("__metadata__", {})
kinds = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1", "BOOL": "?"}
end = 0
for k, v in h.items():
    lo, hi = v["data_offsets"]
    if v["dtype"] == "BF16":
        a = (np.frombuffer(d[lo:hi], "<u2").astype("<u4") * np.uint32(65536)).view("<f4")
    else:
        a = np.frombuffer(d[lo:hi], kinds[v["dtype"]])
    a = a.reshape(v["shape"])
    end = max(end, hi)
    bits = a.astype("<f8").ravel().view("<u8")
    print(k, v["dtype"], ",".join(str(s) for s in a.shape), " ".join(str(x) for x in bits))
print("meta", json.dumps(meta, sort_keys=True))
print("layout", (8 + n) % 8, end == len(d))
)";

TEST(SafetensorsNumpy, CrossCheck) {
    if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
    if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "NumPy is not installed";

    st_tensor h = f32_tensor("h", {3}, {1.0f, -2.0f, 65504.0f});
    h.dtype = "F16";
    st_tensor bf = f32_tensor("bf", {2}, {1.0f, -3.140625f});
    bf.dtype = "BF16";
    const std::vector<st_tensor> ts = {
        f32_tensor("encoder.0.weight", {2, 3}, {1.5f, -0.0f, 3.25e-20f, kInf, -7.0f, 0.1f}),
        f32_tensor("encoder.0.bias", {3}, {1.0f, -2.0f, 1e-45f}),
        f64_tensor("decoder.scale", "F64", {}, {0.1}),
        f32_tensor("empty", {0, 3}, {}),
        h,
        bf,
        f64_tensor("i", "I32", {2, 1}, {-7, 123456}),
        f64_tensor("l", "I64", {1}, {-9007199254740992.0}),
        f64_tensor("m", "BOOL", {2}, {1, 0}),
        f64_tensor("u", "U8", {2}, {0, 255}),
    };
    temp_dir d;
    const std::string path = d.file("cross.safetensors");
    denseam::write_safetensors(path, ts, {{"format", "pt"}});

    std::string expected;
    for (const st_tensor& t : ts) {
        expected += t.name + " " + t.dtype + " ";
        for (std::size_t i = 0; i < t.shape.size(); ++i) {
            if (i > 0) expected += ',';
            expected += std::to_string(t.shape[i]);
        }
        expected += " ";
        const std::vector<double> v = t.to_f64();
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i > 0) expected += ' ';
            expected += std::to_string(std::bit_cast<std::uint64_t>(v[i]));
        }
        expected += "\n";
    }
    expected += "meta {\"format\": \"pt\"}\nlayout 0 True\n";

    const std::string cmd =
        "/usr/bin/python3 -c '" + std::string(kNumpyReader) + "' '" + path + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    while (const std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    const int status = ::pclose(p);
    EXPECT_EQ(status, 0) << out;
    EXPECT_EQ(out, expected);
}

}  // namespace
