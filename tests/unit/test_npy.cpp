// SPDX-License-Identifier: MIT
// Tests of the .npy reader/writer: round trips, hand-built files of every supported kind, and
// every error path (exception type and message). Byte buffers are built here, byte by byte.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/npy.hpp"
#include "expect.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using denseam::npy_array;
using bytes = std::vector<std::byte>;

// ---- builders -----------------------------------------------------------------------------

void append(bytes& b, std::string_view s) {
    for (char c : s) b.push_back(static_cast<std::byte>(c));
}

// A .npy file: magic, version major.0, header length, header text (as given), data.
bytes make_npy(int major, std::string_view header, const bytes& data = {}) {
    bytes b;
    append(b, "\x93NUMPY");
    b.push_back(static_cast<std::byte>(major));
    b.push_back(std::byte{0});
    const std::size_t n = header.size();
    b.push_back(static_cast<std::byte>(n & 0xff));
    b.push_back(static_cast<std::byte>((n >> 8) & 0xff));
    if (major != 1) {
        b.push_back(static_cast<std::byte>((n >> 16) & 0xff));
        b.push_back(static_cast<std::byte>((n >> 24) & 0xff));
    }
    append(b, header);
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

std::string dict(std::string_view descr, bool fortran, std::string_view shape) {
    return "{'descr': '" + std::string(descr) +
           "', 'fortran_order': " + (fortran ? "True" : "False") +
           ", 'shape': " + std::string(shape) + ", }\n";
}

// Raw bytes of `values` in little (or big) endian order.
template <class T>
bytes raw(const std::vector<T>& values, bool big_endian = false) {
    bytes b;
    for (T v : values) {
        std::byte tmp[sizeof(T)];
        std::memcpy(tmp, &v, sizeof(T));
        const bool swap = (std::endian::native == std::endian::little) == big_endian;
        for (std::size_t i = 0; i < sizeof(T); ++i) b.push_back(tmp[swap ? sizeof(T) - 1 - i : i]);
    }
    return b;
}

bytes raw_u16(const std::vector<std::uint16_t>& v, bool big_endian = false) {
    return raw(v, big_endian);
}

npy_array parse(const bytes& b) {
    return denseam::parse_npy(b, "buf.npy");
}

// Expects parse_npy(b) to throw denseam::invalid_argument with `fragment` and the name.
void expect_parse_error(const bytes& b, const std::string& fragment) {
    try {
        (void)denseam::parse_npy(b, "buf.npy");
        ADD_FAILURE() << "no exception; expected one containing: " << fragment;
    } catch (const denseam::invalid_argument& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(fragment), std::string::npos) << "message: " << msg;
        EXPECT_NE(msg.find("buf.npy"), std::string::npos) << "message: " << msg;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "wrong exception type: " << e.what();
    }
}

// A temporary directory removed at the end of the test.
using test_support::temp_dir;

bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes b(c.size());
    std::memcpy(b.data(), c.data(), c.size());
    return b;
}

void write_file(const std::string& path, const bytes& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<std::int64_t> shape_of(std::initializer_list<std::int64_t> s) {
    return s;
}

// ---- round trips through the writers -------------------------------------------------------

TEST(NpyWrite, RoundTripFloat32) {
    temp_dir d;
    const std::vector<float> v = {
        1.5f, -0.0f, 3.25e-20f, std::numeric_limits<float>::infinity(), std::nanf(""), 7.0f};
    const auto shape = shape_of({2, 3});
    denseam::write_npy(d.file("a.npy"), v, shape);
    const npy_array a = denseam::read_npy(d.file("a.npy"));
    EXPECT_TRUE(a.is_float32);
    EXPECT_EQ(a.descr, "<f4");
    EXPECT_EQ(a.shape, shape);
    ASSERT_EQ(a.f32.size(), v.size());
    EXPECT_TRUE(a.f64.empty());
    EXPECT_EQ(std::memcmp(a.f32.data(), v.data(), v.size() * sizeof(float)), 0);
    EXPECT_EQ(a.size(), 6);
}

TEST(NpyWrite, RoundTripFloat64) {
    temp_dir d;
    const std::vector<double> v = {1.0, -2.5, 1e300, -std::numeric_limits<double>::infinity()};
    const auto shape = shape_of({4, 1});
    denseam::write_npy(d.file("a.npy"), v, shape);
    const npy_array a = denseam::read_npy(d.file("a.npy"));
    EXPECT_FALSE(a.is_float32);
    EXPECT_EQ(a.descr, "<f8");
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.f64, v);
}

TEST(NpyWrite, RoundTripInt64) {
    temp_dir d;
    const std::vector<std::int64_t> v = {-3, 0, 1LL << 40, 9007199254740992LL};
    const auto shape = shape_of({4});
    denseam::write_npy(d.file("a.npy"), v, shape);
    const npy_array a = denseam::read_npy(d.file("a.npy"));
    EXPECT_EQ(a.descr, "<i8");
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.f64, (std::vector<double>{-3.0, 0.0, 1099511627776.0, 9007199254740992.0}));
}

TEST(NpyWrite, RoundTripInt32) {
    temp_dir d;
    const std::vector<std::int32_t> v = {std::numeric_limits<std::int32_t>::min(), -1, 0, 7, 8, 9};
    const auto shape = shape_of({1, 2, 3});
    denseam::write_npy(d.file("a.npy"), v, shape);
    const npy_array a = denseam::read_npy(d.file("a.npy"));
    EXPECT_EQ(a.descr, "<i4");
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.f64, (std::vector<double>{-2147483648.0, -1, 0, 7, 8, 9}));
}

TEST(NpyWrite, RoundTripUint8) {
    temp_dir d;
    const std::vector<std::uint8_t> v = {0, 1, 128, 255};
    const auto shape = shape_of({2, 2});
    denseam::write_npy(d.file("a.npy"), v, shape);
    const npy_array a = denseam::read_npy(d.file("a.npy"));
    EXPECT_EQ(a.descr, "|u1");
    EXPECT_EQ(a.f64, (std::vector<double>{0, 1, 128, 255}));
}

TEST(NpyWrite, HeaderIsNumpyStyleAndAligned) {
    for (const auto& shape :
         {shape_of({}), shape_of({5}), shape_of({2, 3}), shape_of({1, 1, 1, 7})}) {
        std::int64_t n = 1;
        for (auto s : shape) n *= s;
        const std::vector<double> v(static_cast<std::size_t>(n), 0.5);
        const bytes b = denseam::to_npy_bytes(v, shape);
        ASSERT_GE(b.size(), 10u);
        EXPECT_EQ(static_cast<int>(b[6]), 1);  // version 1.0
        EXPECT_EQ(static_cast<int>(b[7]), 0);
        const std::size_t hlen =
            static_cast<std::size_t>(b[8]) | (static_cast<std::size_t>(b[9]) << 8);
        EXPECT_EQ((10 + hlen) % 64, 0u);
        EXPECT_EQ(static_cast<char>(b[10 + hlen - 1]), '\n');
        const std::string header(reinterpret_cast<const char*>(b.data()) + 10, hlen);
        const std::string expected_start = "{'descr': '<f8', 'fortran_order': False, 'shape': " +
                                           denseam::detail::format_shape(shape) + ", }";
        EXPECT_EQ(header.substr(0, expected_start.size()), expected_start);
        EXPECT_EQ(b.size(), 10 + hlen + v.size() * 8);
        const npy_array a = parse(b);
        EXPECT_EQ(a.shape, shape);
        EXPECT_EQ(a.f64, v);
    }
}

TEST(NpyWrite, ToBytesFloat32AndEmpty) {
    const std::vector<float> none;
    const npy_array a = parse(denseam::to_npy_bytes(none, shape_of({0, 3})));
    EXPECT_TRUE(a.is_float32);
    EXPECT_EQ(a.shape, shape_of({0, 3}));
    EXPECT_EQ(a.size(), 0);
    EXPECT_TRUE(a.f32.empty());
    const auto m = a.matrix_f32("memories");
    EXPECT_EQ(m.rows, 0);
    EXPECT_EQ(m.cols, 3);
}

TEST(NpyWrite, ZeroDimensional) {
    const std::vector<double> one = {42.0};
    const npy_array a = parse(denseam::to_npy_bytes(one, {}));
    EXPECT_TRUE(a.shape.empty());
    EXPECT_EQ(a.size(), 1);
    EXPECT_EQ(a.f64, one);
}

TEST(NpyWrite, ShapeMismatchIsInvalidArgument) {
    temp_dir d;
    const std::vector<double> v(5, 1.0);
    expect_throw_msg<denseam::invalid_argument>(
        [&] {
            denseam::write_npy(d.file("a.npy"), v, shape_of({2, 3}));
        },
        {"a.npy", "(2, 3)", "6 elements", "5"});
    expect_throw_msg<denseam::invalid_argument>(
        [&] { denseam::write_npy(d.file("a.npy"), v, shape_of({-5})); }, {"negative"});
    expect_throw_msg<denseam::invalid_argument>(
        [&] {
            (void)denseam::to_npy_bytes(v, shape_of({1LL << 40, 1LL << 40}));
        },
        {"overflow"});
    EXPECT_EQ(d.count_entries(), 0u);
}

TEST(NpyWrite, MissingDirectoryIsBadInputNamingPath) {
    temp_dir d;
    const std::string path = d.file("no/such/dir/a.npy");
    const std::vector<float> v = {1.0f};
    expect_throw_msg<denseam::invalid_argument>([&] { denseam::write_npy(path, v, shape_of({1})); },
                                                {path, "does not exist"});
    EXPECT_EQ(d.count_entries(), 0u);
}

TEST(NpyWrite, OntoADirectoryLeavesNoTemporary) {
    temp_dir d;
    fs::create_directory(d.path / "sub");
    const std::vector<float> v = {1.0f};
    // A directory is not a regular file: refused as bad input, before anything is written.
    expect_throw_msg<denseam::invalid_argument>(
        [&] { denseam::write_npy(d.file("sub"), v, shape_of({1})); },
        {d.file("sub"), "is a directory", "only regular files"});
    EXPECT_EQ(d.count_entries(), 1u);  // only "sub"
    expect_throw_msg<denseam::invalid_argument>(
        [&] { denseam::detail::write_file_atomic(d.file("sub") + "/", std::string_view("x")); },
        {"sub", "names a directory"});
    expect_throw_msg<denseam::invalid_argument>(
        [&] { denseam::detail::write_file_atomic("", std::string_view("x")); }, {"empty"});
}

TEST(NpyWrite, AtomicWriteReplacesAndLeavesNothingElse) {
    temp_dir d;
    const std::string path = d.file("out.json");
    denseam::detail::write_file_atomic(path, std::string_view("first"));
    denseam::detail::write_file_atomic(path, std::string_view("second, longer"));
    const bytes b = read_file(path);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.data()), b.size()), "second, longer");
    EXPECT_EQ(d.count_entries(), 1u);
    // relative path (no directory part) works too
    const fs::path old = fs::current_path();
    fs::current_path(d.path);
    denseam::detail::write_file_atomic("rel.txt", std::string_view(""));
    fs::current_path(old);
    EXPECT_TRUE(fs::exists(d.path / "rel.txt"));
    EXPECT_EQ(fs::file_size(d.path / "rel.txt"), 0u);
}

// ---- hand-built files ----------------------------------------------------------------------

TEST(NpyParse, Version1LittleEndianFloat64) {
    const npy_array a =
        parse(make_npy(1, dict("<f8", false, "(2, 3)"), raw<double>({1, 2, 3, 4, 5, 6})));
    EXPECT_FALSE(a.is_float32);
    EXPECT_EQ(a.shape, shape_of({2, 3}));
    EXPECT_EQ(a.f64, (std::vector<double>{1, 2, 3, 4, 5, 6}));
    const auto m = a.matrix_f64("memories");
    EXPECT_EQ(m.rows, 2);
    EXPECT_EQ(m.cols, 3);
    EXPECT_EQ(m.ld, 3);
    EXPECT_EQ(m(1, 2), 6.0);
}

TEST(NpyParse, Version2And3) {
    for (int major : {2, 3}) {
        const npy_array a =
            parse(make_npy(major, dict("<f4", false, "(3,)"), raw<float>({1, 2, 3})));
        EXPECT_TRUE(a.is_float32);
        EXPECT_EQ(a.shape, shape_of({3}));
        EXPECT_EQ(a.f32, (std::vector<float>{1, 2, 3}));
    }
    // a version 2 header longer than 65535 bytes (padding) is fine
    std::string h = dict("<f8", false, "(1,)");
    h.insert(h.size() - 1, std::string(70000, ' '));
    EXPECT_EQ(parse(make_npy(2, h, raw<double>({9}))).f64, std::vector<double>{9});
}

TEST(NpyParse, BigEndian) {
    const npy_array f =
        parse(make_npy(1, dict(">f4", false, "(2,)"), raw<float>({1.5f, -2}, true)));
    EXPECT_EQ(f.f32, (std::vector<float>{1.5f, -2}));
    EXPECT_EQ(f.descr, ">f4");
    const npy_array d =
        parse(make_npy(1, dict(">f8", false, "(2,)"), raw<double>({1e-300, 3}, true)));
    EXPECT_EQ(d.f64, (std::vector<double>{1e-300, 3}));
    const npy_array i =
        parse(make_npy(1, dict(">i4", false, "(2,)"), raw<std::int32_t>({-7, 1 << 20}, true)));
    EXPECT_EQ(i.f64, (std::vector<double>{-7, 1 << 20}));
    const npy_array u =
        parse(make_npy(1, dict(">u2", false, "(2,)"), raw<std::uint16_t>({65535, 258}, true)));
    EXPECT_EQ(u.f64, (std::vector<double>{65535, 258}));
    const npy_array l =
        parse(make_npy(1, dict(">i8", false, "(1,)"), raw<std::int64_t>({-(1LL << 50)}, true)));
    EXPECT_EQ(l.f64, (std::vector<double>{-1125899906842624.0}));
    const npy_array ul =
        parse(make_npy(1, dict(">u4", false, "(1,)"), raw<std::uint32_t>({4000000000u}, true)));
    EXPECT_EQ(ul.f64, (std::vector<double>{4000000000.0}));
}

TEST(NpyParse, FortranOrder2DIsTransposed) {
    // The 2x3 matrix [[1,2,3],[4,5,6]] stored column by column.
    const npy_array a =
        parse(make_npy(1, dict("<f8", true, "(2, 3)"), raw<double>({1, 4, 2, 5, 3, 6})));
    EXPECT_EQ(a.shape, shape_of({2, 3}));
    EXPECT_EQ(a.f64, (std::vector<double>{1, 2, 3, 4, 5, 6}));
    // float32, big-endian Fortran
    const npy_array b =
        parse(make_npy(1, dict(">f4", true, "(2, 3)"), raw<float>({1, 4, 2, 5, 3, 6}, true)));
    EXPECT_EQ(b.f32, (std::vector<float>{1, 2, 3, 4, 5, 6}));
    // integers in Fortran order
    const npy_array c =
        parse(make_npy(1, dict("<i2", true, "(3, 2)"), raw<std::int16_t>({1, 3, 5, 2, 4, 6})));
    EXPECT_EQ(c.f64, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(NpyParse, FortranOrder3DIsTransposed) {
    const std::int64_t d0 = 2, d1 = 3, d2 = 4;
    std::vector<double> f(static_cast<std::size_t>(d0 * d1 * d2));
    // value(i,j,k) = 100 i + 10 j + k, stored with i fastest
    for (std::int64_t k = 0; k < d2; ++k)
        for (std::int64_t j = 0; j < d1; ++j)
            for (std::int64_t i = 0; i < d0; ++i)
                f[static_cast<std::size_t>(i + d0 * (j + d1 * k))] =
                    static_cast<double>(100 * i + 10 * j + k);
    const npy_array a = parse(make_npy(1, dict("<f8", true, "(2, 3, 4)"), raw(f)));
    ASSERT_EQ(a.f64.size(), f.size());
    for (std::int64_t i = 0; i < d0; ++i)
        for (std::int64_t j = 0; j < d1; ++j)
            for (std::int64_t k = 0; k < d2; ++k)
                EXPECT_EQ(a.f64[static_cast<std::size_t>((i * d1 + j) * d2 + k)],
                          100 * i + 10 * j + k);
}

TEST(NpyParse, FortranOrder1DAndEmpty) {
    EXPECT_EQ(parse(make_npy(1, dict("<f8", true, "(3,)"), raw<double>({1, 2, 3}))).f64,
              (std::vector<double>{1, 2, 3}));
    EXPECT_TRUE(parse(make_npy(1, dict("<f8", true, "(0, 3)"))).f64.empty());
    EXPECT_EQ(parse(make_npy(1, dict("<f8", true, "()"), raw<double>({5}))).f64,
              std::vector<double>{5});
}

TEST(NpyParse, IntegersAndBoolBecomeDouble) {
    EXPECT_EQ(parse(make_npy(1, dict("|i1", false, "(3,)"), raw<std::int8_t>({-128, 0, 127}))).f64,
              (std::vector<double>{-128, 0, 127}));
    EXPECT_EQ(parse(make_npy(1, dict("|u1", false, "(2,)"), raw<std::uint8_t>({0, 255}))).f64,
              (std::vector<double>{0, 255}));
    EXPECT_EQ(
        parse(make_npy(1, dict("<i2", false, "(2,)"), raw<std::int16_t>({-32768, 32767}))).f64,
        (std::vector<double>{-32768, 32767}));
    EXPECT_EQ(parse(make_npy(1, dict("<u2", false, "(1,)"), raw<std::uint16_t>({65535}))).f64,
              (std::vector<double>{65535}));
    EXPECT_EQ(parse(make_npy(1, dict("<u4", false, "(1,)"), raw<std::uint32_t>({4294967295u}))).f64,
              (std::vector<double>{4294967295.0}));
    // int64/uint64 beyond 2^53 round to the nearest double
    const npy_array big = parse(
        make_npy(1,
                 dict("<i8", false, "(2,)"),
                 raw<std::int64_t>({(1LL << 53) + 1, std::numeric_limits<std::int64_t>::min()})));
    EXPECT_EQ(big.f64, (std::vector<double>{9007199254740992.0, -9223372036854775808.0}));
    const npy_array ubig =
        parse(make_npy(1,
                       dict("<u8", false, "(1,)"),
                       raw<std::uint64_t>({std::numeric_limits<std::uint64_t>::max()})));
    EXPECT_EQ(ubig.f64, (std::vector<double>{18446744073709551616.0}));
    const npy_array b =
        parse(make_npy(1, dict("|b1", false, "(2, 2)"), raw<std::uint8_t>({1, 0, 0, 1})));
    EXPECT_FALSE(b.is_float32);
    EXPECT_EQ(b.descr, "|b1");
    EXPECT_EQ(b.f64, (std::vector<double>{1, 0, 0, 1}));
    EXPECT_EQ(parse(make_npy(1, dict("?", false, "(2,)"), raw<std::uint8_t>({0, 1}))).f64,
              (std::vector<double>{0, 1}));
    // a 'little-endian' or native mark on a 1-byte type is harmless
    EXPECT_EQ(parse(make_npy(1, dict("<u1", false, "(1,)"), raw<std::uint8_t>({7}))).f64,
              std::vector<double>{7});
    EXPECT_EQ(parse(make_npy(1, dict("=i1", false, "(1,)"), raw<std::int8_t>({-7}))).f64,
              std::vector<double>{-7});
}

TEST(NpyParse, HalfPrecisionBecomesFloat32) {
    const std::vector<std::uint16_t> h = {
        0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x8000, 0x3555};
    for (bool big : {false, true}) {
        const npy_array a =
            parse(make_npy(1, dict(big ? ">f2" : "<f2", false, "(9,)"), raw_u16(h, big)));
        EXPECT_TRUE(a.is_float32);
        ASSERT_EQ(a.f32.size(), 9u);
        EXPECT_EQ(a.f32[0], 1.0f);
        EXPECT_EQ(a.f32[1], -2.0f);
        EXPECT_EQ(a.f32[2], 65504.0f);
        EXPECT_EQ(a.f32[3], std::ldexp(1.0f, -24));
        EXPECT_EQ(a.f32[4], std::ldexp(1023.0f, -24));
        EXPECT_EQ(a.f32[5], std::numeric_limits<float>::infinity());
        EXPECT_EQ(a.f32[6], -std::numeric_limits<float>::infinity());
        EXPECT_EQ(a.f32[7], 0.0f);
        EXPECT_TRUE(std::signbit(a.f32[7]));
        EXPECT_EQ(a.f32[8], 0.333251953125f);
    }
    const npy_array n = parse(make_npy(1, dict("<f2", false, "(1,)"), raw_u16({0x7e00})));
    EXPECT_TRUE(std::isnan(n.f32[0]));
}

TEST(NpyParse, HeaderSyntaxVariants) {
    const bytes data = raw<double>({1, 2});
    const std::vector<std::string> headers = {
        "{'shape': (2,), 'fortran_order': False, 'descr': '<f8'}",  // any key order, no comma
        "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (2,)}",  // double quotes
        "{  'descr'  :  '<f8'  ,\t'fortran_order':False,'shape':( 2 , ),  }   \n",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }\n",  // Python 2 long
        "{u'descr': u'<f8', u'fortran_order': False, u'shape': (2,)}",   // Python 2 unicode
        "\n {'descr': '<f8', 'fortran_order': False, 'shape': (+2,)}\n\n",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,),}",
        "{'descr': '<f\\8', 'fortran_order': False, 'shape': (2,),}",  // escaped char
        "{'descr': '<f8', 'fortran_order': False, 'shape': ((2),)}",   // (2) is just 2
    };
    for (const auto& h : headers) {
        SCOPED_TRACE(h);
        const npy_array a = parse(make_npy(1, h, data));
        EXPECT_EQ(a.shape, shape_of({2}));
        EXPECT_EQ(a.f64, (std::vector<double>{1, 2}));
    }
    // 2-D with trailing comma, and 0-d
    EXPECT_EQ(parse(make_npy(1, dict("<f8", false, "(1, 2,)"), data)).shape, shape_of({1, 2}));
    const npy_array z = parse(make_npy(1, dict("<f8", false, "()"), raw<double>({3})));
    EXPECT_TRUE(z.shape.empty());
    EXPECT_EQ(z.size(), 1);
    EXPECT_EQ(z.f64, std::vector<double>{3});
}

// ---- errors ---------------------------------------------------------------------------------

TEST(NpyErrors, BadMagic) {
    expect_parse_error({}, "not a .npy file");
    bytes text;
    append(text, "hello, world, this is text\n");
    expect_parse_error(text, "not a .npy file");
    bytes almost;
    append(almost, "\x93NUMPZ\x01\x00\x00\x00");
    expect_parse_error(almost, "not a .npy file");
    bytes partial;
    append(partial, "\x93NUM");
    expect_parse_error(partial, "not a .npy file");
}

TEST(NpyErrors, TruncatedPreamble) {
    bytes b;
    append(b, "\x93NUMPY\x01");
    expect_parse_error(b, "malformed header");
    b.push_back(std::byte{0});
    b.push_back(std::byte{5});
    expect_parse_error(b, "malformed header");
    bytes v2;
    append(v2, "\x93NUMPY\x02");
    v2.push_back(std::byte{0});
    v2.push_back(std::byte{5});
    v2.push_back(std::byte{0});
    v2.push_back(std::byte{0});
    expect_parse_error(v2, "malformed header");
}

TEST(NpyErrors, UnsupportedVersion) {
    for (int major : {0, 4, 255}) {
        bytes b = make_npy(1, dict("<f8", false, "(1,)"), raw<double>({1}));
        b[6] = static_cast<std::byte>(major);
        expect_parse_error(b, "unsupported .npy format version " + std::to_string(major) + ".0");
    }
    bytes b = make_npy(1, dict("<f8", false, "(1,)"), raw<double>({1}));
    b[7] = std::byte{1};
    expect_parse_error(b, "unsupported .npy format version 1.1");
}

TEST(NpyErrors, HeaderLongerThanFile) {
    bytes b = make_npy(1, dict("<f8", false, "(1,)"));
    b[8] = std::byte{0xff};
    b[9] = std::byte{0xff};
    expect_parse_error(b, "malformed header: the header length is 65535 bytes");
    bytes v2 = make_npy(2, dict("<f8", false, "(1,)"));
    v2[11] = std::byte{0xff};
    expect_parse_error(v2, "malformed header");
}

TEST(NpyErrors, MalformedHeaders) {
    const bytes one = raw<double>({1});
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", "expected '{'"},
        {"   \n", "expected '{'"},
        {"['descr', '<f8']", "expected '{'"},
        {"{'descr': '<f8', 'fortran_order': False}", "missing key 'shape'"},
        {"{'fortran_order': False, 'shape': (1,)}", "missing key 'descr'"},
        {"{'descr': '<f8', 'shape': (1,)}", "missing key 'fortran_order'"},
        {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}",
         "duplicate key 'descr'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1}",
         "unexpected key 'extra'"},
        {"{1: '<f8', 'fortran_order': False, 'shape': (1,)}", "a key is not a string"},
        {"{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}",
         "'fortran_order' must be True or False"},
        {"{'descr': '<f8', 'fortran_order': None, 'shape': (1,)}",
         "'fortran_order' must be True or False"},
        {"{'descr': '<f8', 'fortran_order': false, 'shape': (1,)}", "unexpected name 'false'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': 1}", "'shape' must be a tuple"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1)}", "'shape' must be a tuple"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': [1]}", "'shape' must be a tuple"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': ('1',)}", "'shape' must be a tuple"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1.0,)}", "expected an integer"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1x,)}", "expected an integer"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (-,)}", "expected a digit"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,)", "missing '}'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,", "missing ')'"},
        {"{'descr': '<f8', 'fortran_order': False 'shape': (1,)}", "expected ',' or '}'"},
        {"{'descr' '<f8', 'fortran_order': False, 'shape': (1,)}", "expected ':'"},
        {"{'descr': '<f8, 'fortran_order': False, 'shape': (1,)}", "expected ',' or '}'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} x", "unexpected text after"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}}", "unexpected text after"},
        {"{'descr': '<f8\n', 'fortran_order': False, 'shape': (1,)}", "line break inside a string"},
        {"{'descr': '<f8", "unterminated string"},
        {"{'descr': '<f8\\", "unterminated string"},
        {"{'descr': @}", "unexpected character '@'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': " + std::string(40, '(') + "1,",
         "nesting too deep"},
        {"{'descr': 3, 'fortran_order': False, 'shape': (1,)}", "'descr' is not a string"},
        {std::string("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}") + '\0',
         "unexpected text after"},
    };
    for (const auto& [header, fragment] : cases) {
        SCOPED_TRACE(header);
        expect_parse_error(make_npy(1, header, one), fragment);
        expect_parse_error(make_npy(3, header, one), fragment);
    }
}

TEST(NpyErrors, UnsupportedDtypes) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"<c16", "unsupported dtype '<c16' (complex)"},
        {"<c8", "unsupported dtype '<c8' (complex)"},
        {"|O", "unsupported dtype '|O' (Python objects)"},
        {"|S5", "unsupported dtype '|S5' (byte strings)"},
        {"<U3", "unsupported dtype '<U3' (unicode strings)"},
        {"|V8", "unsupported dtype '|V8' (raw void bytes)"},
        {"<M8[ns]", "unsupported dtype '<M8[ns]' (datetime)"},
        {"<m8[s]", "unsupported dtype '<m8[s]' (timedelta)"},
        {"<f16", "unsupported dtype '<f16' (float of 16 bytes)"},
        {"<f3", "unsupported dtype '<f3' (float of 3 bytes)"},
        {"<i16", "unsupported dtype '<i16' (integer of 16 bytes)"},
        {"<u0", "unsupported dtype '<u0' (integer of 0 bytes)"},
        {"|b2", "unsupported dtype '|b2' (bool of 2 bytes)"},
        {"<x4", "unsupported dtype '<x4' (unknown type code)"},
        {"<f", "unsupported dtype '<f' (not a numeric type)"},
        {"<f8x", "unsupported dtype '<f8x' (not a numeric type)"},
        {"<f99999999999", "unsupported dtype '<f99999999999' (not a numeric type)"},
        {"<", "unsupported dtype '<' (empty type)"},
        {"", "unsupported dtype '' (empty type)"},
    };
    for (const auto& [descr, fragment] : cases) {
        SCOPED_TRACE(descr);
        expect_parse_error(make_npy(1, dict(descr, false, "(1,)"), raw<double>({1, 2})), fragment);
    }
    expect_parse_error(
        make_npy(1,
                 "{'descr': [('a', '<i4'), ('b', '<f8')], 'fortran_order': False, 'shape': (1,)}"),
        "unsupported dtype (structured");
    expect_parse_error(
        make_npy(1, "{'descr': {'names': ['a']}, 'fortran_order': False, 'shape': (1,)}"),
        "unsupported dtype (structured");
    expect_parse_error(
        make_npy(1, "{'descr': ('<f8', (2,)), 'fortran_order': False, 'shape': (1,)}"),
        "unsupported dtype (sub-array");
}

TEST(NpyErrors, TruncatedAndTrailingData) {
    const bytes five = raw<double>({1, 2, 3, 4, 5});
    expect_parse_error(make_npy(1, dict("<f8", false, "(2, 3)"), five),
                       "data is truncated: expected 48 bytes, found 40");
    expect_parse_error(make_npy(1, dict("<f8", false, "(2, 3)")),
                       "data is truncated: expected 48 bytes, found 0");
    expect_parse_error(make_npy(1, dict("<f8", false, "(2, 2)"), five),
                       "trailing garbage: 8 bytes after the 32 bytes of data");
    expect_parse_error(make_npy(1, dict("<f8", false, "(0,)"), raw<std::uint8_t>({1})),
                       "trailing garbage: 1 bytes");
    // every prefix of a valid file fails cleanly
    const bytes good = make_npy(1, dict("<f4", true, "(2, 3)"), raw<float>({1, 2, 3, 4, 5, 6}));
    for (std::size_t n = 0; n < good.size(); ++n) {
        const bytes prefix(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
        EXPECT_THROW((void)parse(prefix), denseam::invalid_argument) << "prefix " << n;
    }
    EXPECT_NO_THROW((void)parse(good));
}

TEST(NpyErrors, AbsurdShapes) {
    expect_parse_error(make_npy(1, dict("<f8", false, "(-3, 4)")), "dimension -3 is negative");
    expect_parse_error(make_npy(1, dict("<f8", false, "(- 3,)")), "dimension - 3 is negative");
    expect_parse_error(make_npy(1, dict("<f8", false, "(99999999999999999999999,)")),
                       "dimension 99999999999999999999999 overflows 64 bits");
    expect_parse_error(make_npy(1, dict("<f8", false, "(9223372036854775808,)")),
                       "overflows 64 bits");
    expect_parse_error(make_npy(1, dict("<f8", false, "(4294967296, 4294967296)")),
                       "the number of elements overflows 64 bits");
    expect_parse_error(make_npy(1, dict("<f8", false, "(4611686018427387904,)")), "the data size");
    // 10^18 elements: a clean error, no allocation
    expect_parse_error(
        make_npy(1, dict("<f8", false, "(1000000000, 1000000000)"), raw<double>({1})),
        "data is truncated: expected 8000000000000000000 bytes, found 8");
    expect_parse_error(make_npy(1, dict("|u1", false, "(9223372036854775807,)")),
                       "data is truncated: expected 9223372036854775807 bytes, found 0");
    // a zero dimension makes any other (representable) dimension harmless
    const npy_array z = parse(make_npy(1, dict("<f8", false, "(0, 9223372036854775807)")));
    EXPECT_EQ(z.size(), 0);
    EXPECT_TRUE(z.f64.empty());
    std::string many = "(";
    for (int i = 0; i < 65; ++i) many += "1, ";
    many += ")";
    expect_parse_error(make_npy(1, dict("<f8", false, many), raw<double>({1})),
                       "65 dimensions (at most 64)");
    std::string ok = "(";
    for (int i = 0; i < 64; ++i) ok += "1, ";
    ok += ")";
    EXPECT_EQ(parse(make_npy(1, dict("<f8", false, ok), raw<double>({1}))).shape.size(), 64u);
}

TEST(NpyErrors, RandomMutationsNeverCrash) {
    const bytes good = make_npy(1, dict("<f8", true, "(2, 3)"), raw<double>({1, 2, 3, 4, 5, 6}));
    std::mt19937 rng(12345);
    int accepted = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        bytes b = good;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const std::size_t pos = rng() % b.size();
            switch (rng() % 3) {
                case 0:
                    b[pos] = static_cast<std::byte>(rng() & 0xff);
                    break;
                case 1:
                    b.erase(b.begin() + static_cast<std::ptrdiff_t>(pos));
                    break;
                default:
                    b.insert(b.begin() + static_cast<std::ptrdiff_t>(pos),
                             static_cast<std::byte>("(),:'0123456789{}[] -\n"[rng() % 22]));
            }
            if (b.empty()) break;
        }
        try {
            const npy_array a = parse(b);
            ++accepted;
            EXPECT_EQ(static_cast<std::size_t>(a.size()),
                      a.is_float32 ? a.f32.size() : a.f64.size());
        } catch (const denseam::invalid_argument&) {
        }
    }
    EXPECT_GT(accepted, 0);
}

// ---- read_npy -------------------------------------------------------------------------------

TEST(NpyRead, MissingFileNamesPathAndReason) {
    temp_dir d;
    const std::string path = d.file("nope.npy");
    expect_throw_msg<denseam::invalid_argument>(
        [&] { (void)denseam::read_npy(path); },
        {"cannot open '" + path + "': No such file or directory"});
}

TEST(NpyRead, DirectoryIsAnError) {
    temp_dir d;
    expect_throw_msg<denseam::invalid_argument>([&] { (void)denseam::read_npy(d.path.string()); },
                                                {d.path.string(), "directory"});
}

TEST(NpyRead, ParseErrorsNameThePath) {
    temp_dir d;
    const std::string path = d.file("short.npy");
    write_file(path, make_npy(1, dict("<f8", false, "(2, 3)"), raw<double>({1, 2})));
    expect_throw_msg<denseam::invalid_argument>(
        [&] { (void)denseam::read_npy(path); },
        {path, "data is truncated: expected 48 bytes, found 16"});
    write_file(path, make_npy(1, dict("<f8", false, "(1,)"), raw<double>({1, 2})));
    expect_throw_msg<denseam::invalid_argument>([&] { (void)denseam::read_npy(path); },
                                                {path, "trailing garbage"});
    write_file(path, {});
    expect_throw_msg<denseam::invalid_argument>([&] { (void)denseam::read_npy(path); },
                                                {path, "not a .npy file"});
    bytes hdr = make_npy(1, dict("<f8", false, "(1,)"));
    hdr[8] = std::byte{0xff};
    write_file(path, hdr);
    expect_throw_msg<denseam::invalid_argument>([&] { (void)denseam::read_npy(path); },
                                                {path, "malformed header"});
    write_file(path, make_npy(1, dict("<c16", false, "(1,)"), raw<double>({1, 2})));
    expect_throw_msg<denseam::invalid_argument>([&] { (void)denseam::read_npy(path); },
                                                {path, "unsupported dtype '<c16' (complex)"});
}

TEST(NpyRead, EveryKindFromAFile) {
    temp_dir d;
    const std::string path = d.file("k.npy");
    write_file(path,
               make_npy(1, dict(">f8", true, "(2, 3)"), raw<double>({1, 4, 2, 5, 3, 6}, true)));
    EXPECT_EQ(denseam::read_npy(path).f64, (std::vector<double>{1, 2, 3, 4, 5, 6}));
    write_file(path, make_npy(2, dict("<i4", false, "(3,)"), raw<std::int32_t>({-1, 0, 1})));
    EXPECT_EQ(denseam::read_npy(path).f64, (std::vector<double>{-1, 0, 1}));
    write_file(path, make_npy(3, dict("<f4", false, "()"), raw<float>({2.5f})));
    const npy_array a = denseam::read_npy(path);
    EXPECT_TRUE(a.shape.empty());
    EXPECT_EQ(a.f32, std::vector<float>{2.5f});
    // a compact header without spaces or newline
    write_file(
        path,
        make_npy(
            1, "{'descr':'|u1','fortran_order':False,'shape':(3,)}", raw<std::uint8_t>({1, 2, 3})));
    EXPECT_EQ(denseam::read_npy(path).f64, (std::vector<double>{1, 2, 3}));
}

TEST(NpyRead, FromAPipe) {
    temp_dir d;
    const std::string path = d.file("fifo.npy");
    ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
    std::vector<double> v(300000);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i) * 0.5;
    const bytes b = denseam::to_npy_bytes(v, shape_of({1000, 300}));
    std::thread writer([&] { write_file(path, b); });
    const npy_array a = denseam::read_npy(path);
    writer.join();
    EXPECT_EQ(a.shape, shape_of({1000, 300}));
    EXPECT_EQ(a.f64, v);
}

// ---- read_npy on streams (pipes, FIFOs, devices) -------------------------------------------
// A stream is read piece by piece: the preamble, the header it announces, the data the header
// declares (if it fits in memory), then at most one more byte; never "everything until EOF".

// Writes `b` into the FIFO `path` from another thread, with SIGPIPE blocked there: when the reader
// stops early, write() fails with EPIPE instead of killing the test. `error` is the errno of the
// failed write (0: everything was written), `written` how much went in.
struct fifo_writer {
    std::thread thread;
    int error = 0;
    std::size_t written = 0;

    fifo_writer(const std::string& path, bytes b) {
        thread = std::thread([this, path, b = std::move(b)] {
            sigset_t block;
            sigemptyset(&block);
            sigaddset(&block, SIGPIPE);
            pthread_sigmask(SIG_BLOCK, &block, nullptr);
            const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
            if (fd < 0) {
                error = errno;
                return;
            }
            while (written < b.size()) {
                const ssize_t w = ::write(fd, b.data() + written, b.size() - written);
                if (w < 0) {
                    if (errno == EINTR) continue;
                    error = errno;
                    break;
                }
                written += static_cast<std::size_t>(w);
            }
            ::close(fd);
        });
    }
    fifo_writer(const fifo_writer&) = delete;
    fifo_writer& operator=(const fifo_writer&) = delete;
    ~fifo_writer() { join(); }
    void join() {
        if (thread.joinable()) thread.join();
    }
};

std::string make_fifo(const temp_dir& d, const std::string& name) {
    const std::string path = d.file(name);
    if (::mkfifo(path.c_str(), 0600) != 0) throw std::runtime_error("mkfifo failed");
    return path;
}

// read_npy(path) with `b` fed through a FIFO; returns the writer's errno (0, or EPIPE when the
// reader stopped before taking everything) through `writer_error`.
npy_array read_through_fifo(const temp_dir& d, const bytes& b, int* writer_error = nullptr) {
    const std::string path = make_fifo(d, "stream.npy");
    fifo_writer w(path, b);
    auto finish = [&] {
        w.join();
        if (writer_error != nullptr) *writer_error = w.error;
    };
    try {
        npy_array a = denseam::read_npy(path);
        finish();
        return a;
    } catch (...) {
        finish();
        throw;
    }
}

// The message of the error read_npy(path) throws, computed in a child process that is killed
// after `seconds`: a reader that never stops is a failure of the test, not a hang of it.
std::string read_npy_error_within(const std::string& path, int seconds) {
    int fds[2];
    if (::pipe(fds) != 0) return "<pipe failed>";
    const pid_t pid = ::fork();
    if (pid < 0) return "<fork failed>";
    if (pid == 0) {
        ::close(fds[0]);
        std::string msg;
        try {
            (void)denseam::read_npy(path);
            msg = "<no exception>";
        } catch (const denseam::invalid_argument& e) {
            msg = e.what();
        } catch (const std::exception& e) {
            msg = std::string("<wrong exception type> ") + e.what();
        }
        const ssize_t w = ::write(fds[1], msg.data(), msg.size());
        ::_exit(w == static_cast<ssize_t>(msg.size()) ? 0 : 1);
    }
    ::close(fds[1]);
    std::string msg;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    bool timed_out = false;
    while (true) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fds[0], POLLIN, 0};
        const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            timed_out = true;
            break;
        }
        char buf[4096];
        const ssize_t r = ::read(fds[0], buf, sizeof buf);
        if (r <= 0) break;
        msg.append(buf, static_cast<std::size_t>(r));
    }
    ::close(fds[0]);
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (timed_out) return "<still reading after " + std::to_string(seconds) + " s>";
    return msg;
}

std::uint64_t physical_memory() {
    return static_cast<std::uint64_t>(::sysconf(_SC_PHYS_PAGES)) *
           static_cast<std::uint64_t>(::sysconf(_SC_PAGE_SIZE));
}

// A size of at least 1 KiB as read_npy words it in messages, e.g. "23.5 GiB".
std::string memory_text(std::uint64_t n) {
    const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = static_cast<double>(n) / 1024.0;
    std::size_t u = 0;
    while (v >= 1024.0 && u + 1 < std::size(units)) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

TEST(NpyStream, ValidFifosOfEveryVersionReadExactly) {
    temp_dir d;
    // larger than the 4 MiB read chunk, format 3.0
    std::vector<float> v(1300 * 1000);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 4099) - 7.25f;
    bytes big = denseam::to_npy_bytes(v, shape_of({1300, 1000}));
    big[6] = std::byte{3};  // the 1.0 and 3.0 preambles differ only in the header length width
    big.insert(big.begin() + 10, 2, std::byte{0});
    const npy_array a = read_through_fifo(d, big);
    EXPECT_EQ(a.shape, shape_of({1300, 1000}));
    ASSERT_TRUE(a.is_float32);
    EXPECT_EQ(a.f32, v);

    fs::remove(d.file("stream.npy"));
    const npy_array b = read_through_fifo(
        d, make_npy(2, dict(">i2", true, "(2, 3)"), raw<std::int16_t>({1, -4, 2, 5, -3, 6}, true)));
    EXPECT_EQ(b.shape, shape_of({2, 3}));
    EXPECT_EQ(b.f64, (std::vector<double>{1, 2, -3, -4, 5, 6}));

    fs::remove(d.file("stream.npy"));
    const npy_array e = read_through_fifo(d, make_npy(1, dict("<f8", false, "(0, 3)")));
    EXPECT_EQ(e.shape, shape_of({0, 3}));
    EXPECT_TRUE(e.f64.empty());
}

TEST(NpyStream, DevZeroAndDevUrandomAreRefusedAtOnce) {
    for (const std::string dev : {"/dev/zero", "/dev/urandom"}) {
        // A reader that kept reading would be killed after 10 s (a hang, not a speed test).
        const std::string msg = read_npy_error_within(dev, 10);
        EXPECT_EQ(msg, "'" + dev + "' is not a .npy file (it does not start with \\x93NUMPY)");
    }
}

TEST(NpyStream, HugeDeclaredShapeIsRefusedBeforeTheData) {
    temp_dir d;
    // 10^14 float64 = 800 TB declared, followed by 8 MiB of data: more than a pipe buffers, so the
    // writer sees EPIPE unless the reader takes it.
    bytes b = make_npy(1, dict("<f8", false, "(10000000, 10000000)"));
    b.resize(b.size() + (std::size_t{8} << 20), std::byte{0x3f});
    int writer_error = 0;
    expect_throw_msg<denseam::invalid_argument>(
        [&] { (void)read_through_fifo(d, b, &writer_error); },
        {"'" + d.file("stream.npy") + "': the header declares shape (10000000, 10000000) of " +
         "dtype '<f8' = 800000000000000 bytes (727.6 TiB), more than this machine's " +
         memory_text(physical_memory()) + " of memory"});
    EXPECT_EQ(writer_error, EPIPE) << "the reader took the data it had refused";
}

TEST(NpyStream, EarlyEndIsTruncated) {
    temp_dir d;
    // 8 MB declared (two read chunks), 5 MB delivered
    bytes b = make_npy(1, dict("<f8", false, "(1000, 1000)"));
    b.resize(b.size() + 5000000, std::byte{0});
    expect_throw_msg<denseam::invalid_argument>(
        [&] { (void)read_through_fifo(d, b); },
        {"'" + d.file("stream.npy") + "': data is truncated: expected 8000000 bytes, found " +
         "5000000 (shape (1000, 1000), dtype '<f8')"});
    fs::remove(d.file("stream.npy"));
    // inside the header
    b = make_npy(1, dict("<f8", false, "(1000, 1000)"));
    const std::size_t header_len = b.size() - 10;
    b.resize(30);
    expect_throw_msg<denseam::invalid_argument>(
        [&] { (void)read_through_fifo(d, b); },
        {"malformed header: the header length is " + std::to_string(header_len) +
         " bytes but only 20 follow"});
    fs::remove(d.file("stream.npy"));
    // inside the preamble
    b.resize(9);
    expect_throw_msg<denseam::invalid_argument>(
        [&] { (void)read_through_fifo(d, b); },
        {"malformed header: the file ends inside the preamble"});
}

TEST(NpyStream, TrailingBytesAreRefusedAfterReadingOneOfThem) {
    temp_dir d;
    bytes b = make_npy(1, dict("<f8", false, "(4, 3)"), raw<double>(std::vector<double>(12, 1.5)));
    append(b, "junk");
    const std::string msg = "'" + d.file("stream.npy") +
                            "': trailing garbage: more bytes after the 96 bytes of data (shape (4, "
                            "3), dtype '<f8')";
    expect_throw_msg<denseam::invalid_argument>([&] { (void)read_through_fifo(d, b); }, {msg});
    fs::remove(d.file("stream.npy"));
    // an endless tail (8 MiB here, more than a pipe buffers) is not read to its end
    b.resize(b.size() + (std::size_t{8} << 20), std::byte{0});
    int writer_error = 0;
    expect_throw_msg<denseam::invalid_argument>(
        [&] { (void)read_through_fifo(d, b, &writer_error); }, {msg});
    EXPECT_EQ(writer_error, EPIPE) << "the reader went on reading past the data";
}

TEST(NpyRead, SparseFileDeclaringMoreThanMemoryIsRefused) {
    // A regular file whose bytes do exist (a sparse hole) but do not fit in memory.
    temp_dir d;
    const std::string path = d.file("sparse.npy");
    const std::uint64_t n = physical_memory() + 1;
    const bytes head = make_npy(1, dict("|u1", false, "(" + std::to_string(n) + ",)"));
    write_file(path, head);
    std::error_code ec;
    fs::resize_file(path, head.size() + n, ec);
    if (ec) GTEST_SKIP() << "cannot make a sparse file of " << n << " bytes: " << ec.message();
    expect_throw_msg<denseam::invalid_argument>(
        [&] { (void)denseam::read_npy(path); },
        {"'" + path + "': the header declares shape (" + std::to_string(n) +
         ",) of dtype '|u1' = " + std::to_string(n) + " bytes (" + memory_text(n) +
         "), more than this machine's " + memory_text(physical_memory()) + " of memory"});
}

// ---- npy_array accessors --------------------------------------------------------------------

TEST(NpyArray, MatrixViewsCheckShapeAndDtype) {
    const npy_array f = parse(make_npy(1, dict("<f4", false, "(2, 2)"), raw<float>({1, 2, 3, 4})));
    EXPECT_EQ(f.matrix_f32("memories")(1, 0), 3.0f);
    expect_throw_msg<denseam::invalid_argument>([&] { (void)f.matrix_f64("memories"); },
                                                {"memories", "float64", "float32", "(2, 2)"});
    const npy_array v =
        parse(make_npy(1, dict("<f8", false, "(5,)"), raw<double>({1, 2, 3, 4, 5})));
    expect_throw_msg<denseam::invalid_argument>([&] { (void)v.matrix_f64("queries"); },
                                                {"queries", "2-D", "(5,)"});
    const npy_array z = parse(make_npy(1, dict("<f8", false, "()"), raw<double>({1})));
    expect_throw_msg<denseam::invalid_argument>([&] { (void)z.matrix_f64("queries"); },
                                                {"queries", "2-D", "()"});
    const npy_array t =
        parse(make_npy(1, dict("<f4", false, "(1, 2, 2)"), raw<float>({1, 2, 3, 4})));
    expect_throw_msg<denseam::invalid_argument>([&] { (void)t.matrix_f32("memories"); },
                                                {"memories", "(1, 2, 2)"});
    npy_array bad;  // hand-made, inconsistent
    bad.shape = {2, 2};
    bad.f64 = {1.0};
    expect_throw_msg<denseam::invalid_argument>([&] { (void)bad.matrix_f64("x"); },
                                                {"x", "(2, 2)", "1 stored"});
}

TEST(NpyArray, ToF64) {
    const npy_array f = parse(make_npy(1, dict("<f4", false, "(2,)"), raw<float>({0.1f, -3})));
    EXPECT_EQ(f.to_f64(), (std::vector<double>{static_cast<double>(0.1f), -3.0}));
    const npy_array d = parse(make_npy(1, dict("<f8", false, "(2,)"), raw<double>({0.1, -3})));
    EXPECT_EQ(d.to_f64(), (std::vector<double>{0.1, -3.0}));
}

TEST(NpyArray, FormatShape) {
    EXPECT_EQ(denseam::detail::format_shape({}), "()");
    EXPECT_EQ(denseam::detail::format_shape(shape_of({5})), "(5,)");
    EXPECT_EQ(denseam::detail::format_shape(shape_of({3, 4})), "(3, 4)");
}

}  // namespace

// ---- rows of a file (a rank's share of a memory set) -----------------------------------------

TEST(NpyRows, EveryRangeEqualsTheSliceOfTheWholeFile) {
    temp_dir d;
    const std::string p = d.file("m.npy");
    std::vector<double> v(7 * 3);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = 0.5 * static_cast<double>(i) - 3.0;
    const auto shape = shape_of({7, 3});
    denseam::write_npy(p, std::span<const double>(v), shape);
    for (std::int64_t b = 0; b <= 7; ++b)
        for (std::int64_t e = b; e <= 7; ++e) {
            const npy_array a = denseam::read_npy_rows(p, b, e);
            ASSERT_EQ(a.shape, shape_of({e - b, 3}));
            ASSERT_FALSE(a.is_float32);
            const std::vector<double> want(v.begin() + b * 3, v.begin() + e * 3);
            ASSERT_EQ(a.f64, want) << b << ".." << e;
        }
    const denseam::npy_shape s = denseam::read_npy_shape(p);
    EXPECT_EQ(s.shape, shape);
    EXPECT_FALSE(s.is_float32);
}

TEST(NpyRows, ConvertedTypesFortranOrderAndFloat32) {
    temp_dir d;
    // int16 big-endian and Fortran order (read whole, then sliced): rows 1..3 of a 4 x 2 array.
    const std::vector<std::int16_t> f_order = {1, 2, 3, 4, -5, -6, -7, -8};  // columns
    const std::string p = d.file("f.npy");
    write_file(p, make_npy(1, dict(">i2", true, "(4, 2)"), raw(f_order, true)));
    const npy_array a = denseam::read_npy_rows(p, 1, 3);
    EXPECT_EQ(a.shape, shape_of({2, 2}));
    EXPECT_EQ(a.f64, (std::vector<double>{2, -6, 3, -7}));
    const std::string q = d.file("q.npy");
    const std::vector<float> w = {1.5f, -2.5f, 3.5f, 4.5f, 5.5f, 6.5f};
    denseam::write_npy(q, std::span<const float>(w), shape_of({3, 2}));
    const npy_array b = denseam::read_npy_rows(q, 2, 3);
    EXPECT_TRUE(b.is_float32);
    EXPECT_EQ(b.f32, (std::vector<float>{5.5f, 6.5f}));
    EXPECT_TRUE(denseam::read_npy_shape(q).is_float32);
}

TEST(NpyRows, BadRangesAndShapesNameTheFile) {
    temp_dir d;
    const std::string p = d.file("m.npy");
    const std::vector<double> v(6, 1.0);
    denseam::write_npy(p, std::span<const double>(v), shape_of({3, 2}));
    for (auto [b, e] : {std::pair<std::int64_t, std::int64_t>{-1, 1}, {2, 1}, {0, 4}}) {
        try {
            (void)denseam::read_npy_rows(p, b, e);
            FAIL() << "no error for rows " << b << ".." << e;
        } catch (const denseam::invalid_argument& ex) {
            EXPECT_NE(std::string(ex.what()).find(p), std::string::npos) << ex.what();
            EXPECT_NE(std::string(ex.what()).find("3 rows"), std::string::npos) << ex.what();
        }
    }
    const std::string one = d.file("v.npy");
    denseam::write_npy(one, std::span<const double>(v), shape_of({6}));
    EXPECT_THROW((void)denseam::read_npy_rows(one, 0, 1), denseam::invalid_argument);
    // Truncated data: the file size is checked against the header before any row is read.
    bytes t = read_file(p);
    t.resize(t.size() - 8);
    write_file(p, t);
    EXPECT_THROW((void)denseam::read_npy_rows(p, 0, 1), denseam::invalid_argument);
    EXPECT_THROW((void)denseam::read_npy_shape(p), denseam::invalid_argument);
    EXPECT_THROW((void)denseam::read_npy_rows(d.file("missing.npy"), 0, 0),
                 denseam::invalid_argument);
}
