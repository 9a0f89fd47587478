// SPDX-License-Identifier: MIT
// Image data and the BSTOR/PXLE core against naive double loops written here: the exact nearest
// distinct neighbour pass (duplicates, ties, norm-gap tile skipping, thread independence), the
// IDX parser and reader (every dtype, every error, raw and gzip), image sets, the LSR fixed
// point's GEMM support sets against its per-query path (bit for bit), run_bstor and run_pxle.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "denseam/datasets.hpp"
#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "denseam/neighbours.hpp"
#include "denseam/retrieval.hpp"
#include "expect.hpp"
#include "oracle.hpp"
#include "temp_dir.hpp"

using namespace denseam;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- naive oracles ---------------------------------------------------------------------------

// ||a - b||^2 accumulated in double in coordinate order (the library's definition of the exact
// distance), written out here. Most data below lie on a dyadic grid (a few fractional bits, a
// few integer bits) so that every difference, square and sum is exact: the oracle's sums are then
// the library's bit for bit whatever the compiler does with them (contracting t * t + s into an
// FMA or not, which GCC decides per call site and per vectorised body or scalar tail).
double sq(const double* a, const double* b, std::int64_t d) {
    double s = 0.0;
    for (std::int64_t k = 0; k < d; ++k) {
        const double t = a[k] - b[k];
        s += t * t;
    }
    return s;
}

/// n values (rng() mod 2^bits) / 2^bits in [0, 1): exact on a 2^-bits grid.
std::vector<double> dyadic_uniform(std::int64_t n, std::uint64_t seed, int bits) {
    std::mt19937_64 rng(seed);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = std::ldexp(double(rng() >> (64 - bits)), -bits);
    return v;
}

/// v rounded to a multiple of 2^-bits.
double on_grid(double v, int bits) {
    return std::ldexp(std::round(std::ldexp(v, bits)), -bits);
}

struct nn_ref {
    std::vector<double> d2;
    std::vector<std::int64_t> index, dups;
};

// O(N^2 d) over the pairs i < j. Every row sees its partners in increasing index order, so a
// strict < keeps the smallest index among equally near ones.
nn_ref naive_nearest(const std::vector<double>& x, std::int64_t n, std::int64_t d) {
    nn_ref r{std::vector<double>(static_cast<std::size_t>(n), kInf),
             std::vector<std::int64_t>(static_cast<std::size_t>(n), -1),
             std::vector<std::int64_t>(static_cast<std::size_t>(n), 0)};
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = i + 1; j < n; ++j) {
            const double s = sq(&x[i * d], &x[j * d], d);
            if (s == 0.0) {
                ++r.dups[i];
                ++r.dups[j];
                continue;
            }
            if (s < r.d2[i]) {
                r.d2[i] = s;
                r.index[i] = j;
            }
            if (s < r.d2[j]) {
                r.d2[j] = s;
                r.index[j] = i;
            }
        }
    return r;
}

nearest_result nearest(const std::vector<double>& x, std::int64_t d, int threads = 0) {
    exec_options ex;
    ex.n_threads = threads;
    return nearest_distinct_neighbours(
        make_matrix_view<const double>(x.data(), static_cast<std::int64_t>(x.size()) / d, d),
        {},
        ex);
}

// `rel` = 0: sq_distance bit for bit (dyadic data); else within a relative `rel`.
void expect_same_as_naive(const std::vector<double>& x,
                          std::int64_t d,
                          const nearest_result& r,
                          double rel = 0.0) {
    const auto n = static_cast<std::int64_t>(x.size()) / d;
    const nn_ref ref = naive_nearest(x, n, d);
    ASSERT_EQ(r.sq_distance.size(), static_cast<std::size_t>(n));
    ASSERT_EQ(r.index.size(), static_cast<std::size_t>(n));
    ASSERT_EQ(r.duplicates.size(), static_cast<std::size_t>(n));
    int bad = 0;
    for (std::int64_t i = 0; i < n && bad < 10; ++i) {
        const bool same_d2 = rel == 0.0 ? r.sq_distance[i] == ref.d2[i]
                                        : std::abs(r.sq_distance[i] - ref.d2[i]) <= rel * ref.d2[i];
        const bool ok = same_d2 && r.index[i] == ref.index[i] && r.duplicates[i] == ref.dups[i];
        EXPECT_TRUE(ok) << "row " << i << ": got (" << r.sq_distance[i] << ", " << r.index[i]
                        << ", " << r.duplicates[i] << "), naive (" << ref.d2[i] << ", "
                        << ref.index[i] << ", " << ref.dups[i] << ")";
        bad += !ok;
    }
    EXPECT_EQ(r.tiles, ((n + 511) / 512) * ((n + 511) / 512 + 1) / 2);
}

void copy_row(std::vector<double>& x, std::int64_t d, std::int64_t from, std::int64_t to) {
    std::copy(x.begin() + from * d, x.begin() + (from + 1) * d, x.begin() + to * d);
}

// Uniform [0, 1) data on a 2^-10 grid with exact duplicates (one row with 12 copies, so that all 8
// float candidates of those rows are duplicates and the rows must be rescanned in double) and exact
// ties (two rows at the same distance from a third; the smaller index must win whichever of
// them the float pass ranks first).
struct dup_tie_set {
    std::int64_t n = 1800, d = 40;
    std::vector<double> x;
    std::vector<std::int64_t> many_copies;  // the 13 identical rows
};

dup_tie_set make_dup_tie_set() {
    dup_tie_set s;
    const std::int64_t n = s.n, d = s.d;
    s.x = dyadic_uniform(n * d, 101, 10);
    copy_row(s.x, d, 5, 100);
    copy_row(s.x, d, 5, 900);
    copy_row(s.x, d, 5, 1700);
    s.many_copies = {7};
    for (std::int64_t t : {60, 200, 333, 512, 513, 700, 1023, 1024, 1200, 1511, 1600, 1799}) {
        copy_row(s.x, d, 7, t);
        s.many_copies.push_back(t);
    }
    // Ties: rows offset from a third along one coordinate (exact on the grid).
    auto offset = [&](std::int64_t from, std::int64_t to, std::int64_t k, double delta) {
        copy_row(s.x, d, from, to);
        s.x[to * d + k] += delta;
    };
    offset(20, 30, 3, -0.125);     // the smaller index below
    offset(20, 1500, 3, 0.125);    // and the larger one above
    offset(40, 41, 9, 0.0625);     // the smaller index above
    offset(40, 1400, 9, -0.0625);  // the larger one below
    // four at one distance from row 50, over two coordinates
    offset(50, 1300, 0, 0.25);
    offset(50, 1100, 0, -0.25);
    offset(50, 800, 1, 0.25);
    offset(50, 300, 1, -0.25);
    return s;
}

// ---- 1. the nearest distinct neighbour pass ----------------------------------------------------

TEST(ImagesNearest, RandomWithDuplicatesAndTies) {
    const auto s = make_dup_tie_set();
    const auto r = nearest(s.x, s.d);
    expect_same_as_naive(s.x, s.d, r);
    // The pieces the data was built with.
    EXPECT_EQ(r.duplicates[5], 3);
    EXPECT_EQ(r.duplicates[1700], 3);
    for (auto i : s.many_copies) EXPECT_EQ(r.duplicates[i], 12) << i;
    EXPECT_EQ(r.index[20], 30);
    EXPECT_EQ(r.sq_distance[20], 0.125 * 0.125);
    EXPECT_EQ(r.index[40], 41);
    EXPECT_EQ(r.index[50], 300);
    EXPECT_EQ(r.sq_distance[50], 0.0625);
    // Every one of the 13 copies has only duplicates among its 8 float candidates.
    EXPECT_GE(r.rechecked, 13);
    EXPECT_GT(r.tiles, 1);
}

// Values on a coarse grid: exact ties everywhere (many rows' nearest distance is shared by
// several rows), and duplicate rows.
TEST(ImagesNearest, CoarseGridManyTies) {
    const std::int64_t n = 1300, d = 12;
    std::mt19937_64 rng(3);
    std::vector<double> x(static_cast<std::size_t>(n * d));
    for (auto& v : x) v = double(rng() % 5) / 4.0;
    for (std::int64_t i = 0; i < 40; ++i) copy_row(x, d, i, n - 1 - i);
    const auto r = nearest(x, d);
    expect_same_as_naive(x, d, r);
    const nn_ref ref = naive_nearest(x, n, d);
    // The grid does make ties: some row has two or more rows at its nearest distance.
    std::int64_t tied = 0;
    for (std::int64_t i = 0; i < n && tied == 0; ++i) {
        int at = 0;
        for (std::int64_t j = 0; j < n; ++j)
            at += j != i && sq(&x[i * d], &x[j * d], d) == ref.d2[i];
        tied += at >= 2;
    }
    EXPECT_GT(tied, 0);
}

// Clusters at very different norms (and one spread over three decades of norm): the rows sorted
// by norm give tiles whose norms differ by far more than their rows' nearest distances, which
// the pass skips entirely or multiplies only partly. On a 2^-14 grid with norms below 1000, every
// squared distance is a multiple of 2^-28 below 2^22: exact.
TEST(ImagesNearest, VaryingNormsSkipTiles) {
    const std::int64_t d = 16, per = 600;
    const std::vector<double> radius = {1.0, 6.0, 36.0};
    std::mt19937_64 rng(11);
    std::normal_distribution<double> g(0.0, 1.0);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> x;
    for (double rad : radius) {
        std::vector<double> c(static_cast<std::size_t>(d));
        double nc = 0.0;
        for (auto& v : c) {
            v = g(rng);
            nc += v * v;
        }
        for (auto& v : c) v *= rad / std::sqrt(nc);
        for (std::int64_t i = 0; i < per; ++i)
            for (std::int64_t k = 0; k < d; ++k)
                x.push_back(on_grid(c[k] + 0.02 * rad * g(rng), 14));
    }
    // Points on random directions at norms log-uniform in [1, 1000].
    for (std::int64_t i = 0; i < per; ++i) {
        std::vector<double> v(static_cast<std::size_t>(d));
        double nv = 0.0;
        for (auto& t : v) {
            t = g(rng);
            nv += t * t;
        }
        const double rad = std::pow(10.0, 3.0 * u(rng));
        for (auto& t : v) x.push_back(on_grid(t * rad / std::sqrt(nv), 14));
    }
    expect_same_as_naive(x, d, nearest(x, d));
    // Skipping depends on the thresholds a thread already holds: with one thread (every tile in
    // the fixed order, the diagonal ones first) it is certain.
    const auto r = nearest(x, d, 1);
    expect_same_as_naive(x, d, r);
    EXPECT_GT(r.tiles_skipped + r.tiles_partial, 0)
        << "tiles " << r.tiles << " skipped " << r.tiles_skipped << " partial " << r.tiles_partial;
}

// Values that are not on a grid: the squared distances' last bits depend on how the compiler
// evaluated each sum (see sq), so they are compared to a relative 1e-14; indices and duplicate
// counts exactly. An odd dimension, so that vectorised loops have scalar tails.
TEST(ImagesNearest, OffGridData) {
    const std::int64_t n = 1100, d = 37;
    std::vector<double> x = oracle::uniform(n * d, 31);
    copy_row(x, d, 2, 700);
    for (std::int64_t t = 0; t < 9; ++t) copy_row(x, d, 9, 1000 + t);
    const auto r = nearest(x, d);
    expect_same_as_naive(x, d, r, 1e-14);
    EXPECT_EQ(r.duplicates[9], 9);
    EXPECT_GE(r.rechecked, 10);
}

TEST(ImagesNearest, TinySets) {
    {  // N = 1
        const std::vector<double> x = {0.5, -1.0, 2.0};
        const auto r = nearest(x, 3);
        ASSERT_EQ(r.sq_distance.size(), 1u);
        EXPECT_EQ(r.sq_distance[0], kInf);
        EXPECT_EQ(r.index[0], -1);
        EXPECT_EQ(r.duplicates[0], 0);
    }
    {  // N = 2, distinct
        const std::vector<double> x = {0.5, -1.0, 2.0, 1.5, 1.0, 0.0};
        const auto r = nearest(x, 3);
        const double e = 1.0 + 4.0 + 4.0;
        EXPECT_EQ(r.sq_distance, (std::vector<double>{e, e}));
        EXPECT_EQ(r.index, (std::vector<std::int64_t>{1, 0}));
        EXPECT_EQ(r.duplicates, (std::vector<std::int64_t>{0, 0}));
    }
    {  // N = 2, identical
        const std::vector<double> x = {0.25, 0.25};
        const auto r = nearest(x, 1);
        EXPECT_EQ(r.sq_distance, (std::vector<double>{kInf, kInf}));
        EXPECT_EQ(r.index, (std::vector<std::int64_t>{-1, -1}));
        EXPECT_EQ(r.duplicates, (std::vector<std::int64_t>{1, 1}));
    }
    {  // all identical but one
        std::vector<double> x;
        for (int i = 0; i < 11; ++i) x.insert(x.end(), {1.0, 2.0});
        x.insert(x.end(), {1.0, 2.5});
        const auto r = nearest(x, 2);
        expect_same_as_naive(x, 2, r);
        EXPECT_EQ(r.duplicates[0], 10);
        EXPECT_EQ(r.index[0], 11);
        EXPECT_EQ(r.index[11], 0);
        EXPECT_EQ(r.sq_distance[11], 0.25);
    }
    {  // every row identical
        const std::vector<double> x(20 * 3, 0.75);
        const auto r = nearest(x, 3);
        for (std::int64_t i = 0; i < 20; ++i) {
            EXPECT_EQ(r.sq_distance[i], kInf);
            EXPECT_EQ(r.index[i], -1);
            EXPECT_EQ(r.duplicates[i], 19);
        }
    }
    expect_invalid(
        [] {
            const std::vector<double> x = {0.0, std::nan("")};
            nearest(x, 1);
        },
        "patterns");
    expect_invalid([] { nearest_distinct_neighbours(matrix_view<const double>{}); }, "patterns");
}

// ---- 2. thread independence ------------------------------------------------------------------

TEST(ImagesNearest, SameResultForEveryThreadCount) {
    const auto s = make_dup_tie_set();
    std::vector<double> wide = dyadic_uniform(1100 * 8, 5, 12);
    for (std::int64_t i = 0; i < 1100; ++i)  // norms over two decades
        for (std::int64_t k = 0; k < 8; ++k) wide[i * 8 + k] *= 1.0 + double(i % 97);
    for (const auto& [x, d] : {std::pair{s.x, s.d}, std::pair{wide, std::int64_t(8)}}) {
        const auto one = nearest(x, d, 1);
        for (int t : {2, 3}) {
            const auto r = nearest(x, d, t);
            EXPECT_EQ(r.sq_distance, one.sq_distance) << t;
            EXPECT_EQ(r.index, one.index) << t;
            EXPECT_EQ(r.duplicates, one.duplicates) << t;
            EXPECT_EQ(r.rechecked, one.rechecked) << t;
            EXPECT_EQ(r.tiles, one.tiles) << t;
        }
    }
}

// ---- 3. IDX ----------------------------------------------------------------------------------

using bytes = std::vector<std::byte>;

void put_be(bytes& b, std::uint64_t v, int n) {
    for (int k = n - 1; k >= 0; --k) b.push_back(static_cast<std::byte>((v >> (8 * k)) & 0xff));
}

bytes idx_header(int dtype, const std::vector<std::uint32_t>& dims) {
    bytes b = {std::byte{0},
               std::byte{0},
               static_cast<std::byte>(dtype),
               static_cast<std::byte>(dims.size())};
    for (auto v : dims) put_be(b, v, 4);
    return b;
}

bytes with_data(bytes b, const std::vector<int>& data) {
    for (int v : data) b.push_back(static_cast<std::byte>(v));
    return b;
}

TEST(ImagesIdx, EveryDtype) {
    {
        const auto a =
            parse_idx(with_data(idx_header(0x08, {2, 3}), {0, 1, 127, 128, 254, 255}), "u8");
        EXPECT_EQ(a.dtype, 0x08);
        EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
        EXPECT_EQ(a.size(), 6);
        EXPECT_EQ(a.values, (std::vector<double>{0, 1, 127, 128, 254, 255}));
    }
    {
        const auto a = parse_idx(with_data(idx_header(0x09, {4}), {0x00, 0x7f, 0x80, 0xff}), "i8");
        EXPECT_EQ(a.dtype, 0x09);
        EXPECT_EQ(a.values, (std::vector<double>{0, 127, -128, -1}));
    }
    {
        const auto a =
            parse_idx(with_data(idx_header(0x0B, {1, 5}),
                                {0x00, 0x01, 0xff, 0xff, 0x80, 0x00, 0x7f, 0xff, 0x12, 0x34}),
                      "i16");
        EXPECT_EQ(a.shape, (std::vector<std::int64_t>{1, 5}));
        EXPECT_EQ(a.values, (std::vector<double>{1, -1, -32768, 32767, 0x1234}));
    }
    {
        bytes b = idx_header(0x0C, {2, 2});
        for (std::uint32_t v : {0x00000001u, 0xffffffffu, 0x80000000u, 0x01020304u})
            put_be(b, v, 4);
        const auto a = parse_idx(b, "i32");
        EXPECT_EQ(a.values, (std::vector<double>{1, -1, -2147483648.0, 16909060}));
    }
    {
        const std::vector<float> f = {1.5f,
                                      -0.1f,
                                      std::numeric_limits<float>::denorm_min(),
                                      -std::numeric_limits<float>::max(),
                                      0.0f,
                                      -0.0f};
        bytes b = idx_header(0x0D, {3, 1, 2});
        for (float v : f) put_be(b, std::bit_cast<std::uint32_t>(v), 4);
        const auto a = parse_idx(b, "f32");
        EXPECT_EQ(a.shape, (std::vector<std::int64_t>{3, 1, 2}));
        ASSERT_EQ(a.values.size(), f.size());
        for (std::size_t i = 0; i < f.size(); ++i)
            EXPECT_EQ(std::bit_cast<std::uint64_t>(a.values[i]),
                      std::bit_cast<std::uint64_t>(static_cast<double>(f[i])))
                << i;
    }
    {
        const std::vector<double> v = {0.1, -2.5, 1e300, std::numeric_limits<double>::denorm_min()};
        bytes b = idx_header(0x0E, {4});
        for (double t : v) put_be(b, std::bit_cast<std::uint64_t>(t), 8);
        const auto a = parse_idx(b, "f64");
        EXPECT_EQ(a.dtype, 0x0E);
        EXPECT_EQ(a.values, v);
    }
}

TEST(ImagesIdx, ParseErrorsNameTheInput) {
    const std::string name = "sample-images.idx";
    auto bad = [&](const bytes& b, const std::string& what) {
        expect_throw_msg<denseam::invalid_argument>([&] { parse_idx(b, name); }, {name, what});
        EXPECT_THROW(parse_idx(b, name), denseam::invalid_argument);
    };
    bad(with_data({}, {0x01, 0x00, 0x08, 0x01, 0, 0, 0, 1, 7}), "magic");
    bad(with_data({}, {0x00, 0x02, 0x08, 0x01, 0, 0, 0, 1, 7}), "magic");
    bad(with_data({}, {0x00, 0x00}), "magic");
    bad(with_data(idx_header(0x0A, {1}), {7}), "dtype");
    bad(with_data(idx_header(0x0A, {1}), {7}), "0x0A");
    bad(with_data({}, {0x00, 0x00, 0x08, 0x00}), "0 dimensions");
    bad(with_data({}, {0x00, 0x00, 0x08, 0x02, 0, 0, 0, 2, 0, 0}), "header");
    bad(with_data(idx_header(0x08, {4}), {1, 2, 3}), "truncated");
    bad(with_data(idx_header(0x0B, {2}), {1, 2, 3}), "truncated");
    bad(with_data(idx_header(0x08, {2}), {1, 2, 3}), "trailing");
    bad(with_data(idx_header(0x0E, {1}), {0, 0, 0, 0, 0, 0, 0, 0, 0}), "trailing");
}

// A temporary directory removed at the end of the test.
using test_support::temp_dir;

void write_file(const std::string& path, const bytes& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::uint32_t crc32_of(const bytes& b) {
    std::uint32_t c = 0xffffffffu;
    for (std::byte x : b) {
        c ^= std::to_integer<std::uint32_t>(x);
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

// A gzip member (RFC 1952) holding `b` in stored deflate blocks (RFC 1951 BTYPE 00), written by
// hand: header, blocks of at most 65535 bytes, CRC-32 and length, little-endian.
bytes gzip_stored(const bytes& b) {
    bytes g = with_data({}, {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff});
    auto le = [&](std::uint32_t v, int n) {
        for (int k = 0; k < n; ++k) g.push_back(static_cast<std::byte>((v >> (8 * k)) & 0xff));
    };
    std::size_t pos = 0;
    do {
        const std::size_t len = std::min<std::size_t>(b.size() - pos, 65535);
        const bool last = pos + len == b.size();
        g.push_back(static_cast<std::byte>(last ? 1 : 0));
        le(static_cast<std::uint32_t>(len), 2);
        le(static_cast<std::uint32_t>(~len & 0xffff), 2);
        g.insert(g.end(),
                 b.begin() + static_cast<std::ptrdiff_t>(pos),
                 b.begin() + static_cast<std::ptrdiff_t>(pos + len));
        pos += len;
    } while (pos < b.size());
    le(crc32_of(b), 4);
    le(static_cast<std::uint32_t>(b.size()), 4);
    return g;
}

TEST(ImagesIdx, ReadRawAndGzipFiles) {
    temp_dir dir;
    // 3 images of 150 x 200 uint8 (90,000 bytes: two stored blocks).
    bytes b = idx_header(0x08, {3, 150, 200});
    std::vector<double> expected;
    std::mt19937_64 rng(1);
    for (int i = 0; i < 3 * 150 * 200; ++i) {
        const auto v = static_cast<int>(rng() % 256);
        b.push_back(static_cast<std::byte>(v));
        expected.push_back(v);
    }
    // The format comes from the content: the raw file is named .gz and the gzip one is not.
    const std::string raw = dir.file("raw.idx.gz"), gz = dir.file("packed.idx");
    write_file(raw, b);
    write_file(gz, gzip_stored(b));
    for (const auto& path : {raw, gz}) {
        const auto a = read_idx(path);
        EXPECT_EQ(a.shape, (std::vector<std::int64_t>{3, 150, 200})) << path;
        EXPECT_EQ(a.dtype, 0x08);
        EXPECT_EQ(a.values, expected) << path;
    }
    // float64 through gzip.
    bytes f = idx_header(0x0E, {2});
    put_be(f, std::bit_cast<std::uint64_t>(0.1), 8);
    put_be(f, std::bit_cast<std::uint64_t>(-3.0), 8);
    write_file(dir.file("f64.gz"), gzip_stored(f));
    EXPECT_EQ(read_idx(dir.file("f64.gz")).values, (std::vector<double>{0.1, -3.0}));

    // Errors name the path.
    const std::string missing = dir.file("no-such-file.idx");
    expect_throw_msg<denseam::invalid_argument>([&] { read_idx(missing); }, {missing});
    bytes trailing = b;
    trailing.push_back(std::byte{0});
    write_file(dir.file("trailing.gz"), gzip_stored(trailing));
    expect_throw_msg<denseam::invalid_argument>([&] { read_idx(dir.file("trailing.gz")); },
                                                {dir.file("trailing.gz"), "trailing"});
    bytes short_data(b.begin(), b.end() - 1);
    write_file(dir.file("short.idx"), short_data);
    expect_throw_msg<denseam::invalid_argument>([&] { read_idx(dir.file("short.idx")); },
                                                {dir.file("short.idx"), "truncated"});
    bytes bad_magic = b;
    bad_magic[1] = std::byte{3};
    write_file(dir.file("magic.gz"), gzip_stored(bad_magic));
    expect_throw_msg<denseam::invalid_argument>([&] { read_idx(dir.file("magic.gz")); },
                                                {dir.file("magic.gz"), "magic"});
    // A gzip stream cut short, and one whose CRC does not match its data.
    const bytes g = gzip_stored(b);
    write_file(dir.file("cut.gz"), bytes(g.begin(), g.begin() + 50000));
    expect_throw_msg<denseam::invalid_argument>([&] { read_idx(dir.file("cut.gz")); },
                                                {dir.file("cut.gz")});
    bytes bad_crc = g;
    bad_crc[bad_crc.size() - 8] ^= std::byte{0x5a};
    write_file(dir.file("crc.gz"), bad_crc);
    expect_throw_msg<denseam::invalid_argument>([&] { read_idx(dir.file("crc.gz")); },
                                                {dir.file("crc.gz")});
}

TEST(ImagesSet, MakeImageSet) {
    const auto s = make_image_set(oracle::uniform(3 * 16, 2), 3, 16);
    EXPECT_EQ(s.n, 3);
    EXPECT_EQ(s.height, 4);
    EXPECT_EQ(s.width, 4);
    EXPECT_EQ(s.name, "images");
    const auto v = s.view();
    EXPECT_EQ(v.rows, 3);
    EXPECT_EQ(v.cols, 16);
    EXPECT_EQ(v(2, 5), s.images[2 * 16 + 5]);
    const auto r = make_image_set(std::vector<double>(2 * 15, 0.5), 2, 15, 3, 5, "rect");
    EXPECT_EQ(r.height, 3);
    EXPECT_EQ(r.width, 5);
    EXPECT_EQ(r.name, "rect");
    expect_invalid([] { make_image_set(std::vector<double>(2 * 15), 2, 15); }, "square");
    expect_invalid([] { make_image_set(std::vector<double>(2 * 15), 2, 15, 5, 5); }, "shape");
    expect_invalid([] { make_image_set(std::vector<double>(7), 2, 4); }, "images");
    std::vector<double> nan(8, 0.0);
    nan[6] = std::nan("");
    expect_invalid([&] { make_image_set(nan, 2, 4); }, "not finite");
}

// ---- 4. LSR fixed point: batched GEMM support sets == per-query sets --------------------------

template <class T>
std::vector<std::int64_t> support_of(const retrieve_result<T>& r, std::size_t i) {
    return {r.support.indices.begin() + r.support.offsets[i],
            r.support.indices.begin() + r.support.offsets[i + 1]};
}

TEST(ImagesLsrGemm, BatchEqualsSingleQueriesBitForBit) {
    // 3000 x 1403 memories (>= 2^22 values): 299 clusters of 10 around centres in [0, 1]^d, 8
    // identical memories at the origin, and two far memories A, B at squared distance exactly
    // R^2 = 8 (beta = 1/4: q = 1 exactly, B on the boundary of A and A on that of B).
    const std::int64_t M = 3000, d = 1403, per = 10;
    const double beta = 0.25;
    std::mt19937_64 rng(21);
    std::normal_distribution<double> g(0.0, 1.0);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    // Member-to-midpoint of two members: 1.5 s^2 d = R^2 at s^2 = 8 / (1.5 d): supports vary.
    const double s = std::sqrt(8.0 / (1.5 * double(d)));
    std::vector<double> mem(static_cast<std::size_t>(M * d));
    for (std::int64_t c = 0; c < 299; ++c) {
        std::vector<double> centre(static_cast<std::size_t>(d));
        for (auto& v : centre) v = u(rng);
        for (std::int64_t m = c * per; m < (c + 1) * per; ++m)
            for (std::int64_t k = 0; k < d; ++k) mem[m * d + k] = centre[k] + s * g(rng);
    }
    const std::int64_t A = M - 2, B = M - 1;
    for (std::int64_t k = 0; k < d; ++k) mem[A * d + k] = mem[B * d + k] = 3.0;
    mem[B * d + 0] += 2.0;
    mem[B * d + 1] += 2.0;

    std::vector<double> q;
    auto add_mid = [&](std::int64_t a, std::int64_t b, double t) {
        for (std::int64_t k = 0; k < d; ++k)
            q.push_back((1.0 - t) * mem[a * d + k] + t * mem[b * d + k]);
    };
    for (std::int64_t c : {0, 17, 45, 100, 201, 297})  // within a cluster
        add_mid(c * per + 1, c * per + 4, c == 45 ? 0.3 : 0.5);
    for (std::int64_t m : {std::int64_t(3), std::int64_t(1234), std::int64_t(2997), A})
        add_mid(m, m, 0.0);  // memories (2997: origin)
    add_mid(12, 2500, 0.5);  // between clusters: none
    add_mid(B, B, 0.0);
    add_mid(A, B, 0.125);  // near A: both A and B inside, converges to their midpoint
    add_mid(5, 6, 0.75);
    for (std::int64_t k = 0; k < 2 * d; ++k) q.push_back(k < d ? -4.0 : 0.5 * u(rng) + 1.2);
    const std::int64_t nq = static_cast<std::int64_t>(q.size()) / d;
    ASSERT_EQ(nq, 16);

    energy_params p;
    p.kernel = kernel_kind::lsr;
    p.beta = beta;
    p.eps = 0.0;
    retrieve_options o;
    o.method = retrieval_method::fixed_point;
    const auto memv = make_matrix_view<const double>(mem.data(), M, d);
    const auto batch =
        retrieve<double>(memv, make_matrix_view<const double>(q.data(), nq, d), p, o);
    std::set<retrieval_status> seen;
    std::int64_t multi = 0;
    for (std::int64_t i = 0; i < nq; ++i) {
        const auto one =
            retrieve<double>(memv, make_matrix_view<const double>(&q[i * d], 1, d), p, o);
        for (std::int64_t k = 0; k < d; ++k)
            ASSERT_EQ(std::bit_cast<std::uint64_t>(batch.states[i * d + k]),
                      std::bit_cast<std::uint64_t>(one.states[k]))
                << "query " << i << " coordinate " << k;
        EXPECT_EQ(std::bit_cast<std::uint64_t>(batch.energy[i]),
                  std::bit_cast<std::uint64_t>(one.energy[0]))
            << i;
        EXPECT_EQ(batch.status[i], one.status[0]) << i;
        EXPECT_EQ(batch.steps[i], one.steps[0]) << i;
        EXPECT_EQ(support_of(batch, i), support_of(one, 0)) << i;
        seen.insert(batch.status[i]);
        multi += support_of(batch, i).size() >= 2 && batch.status[i] == retrieval_status::converged;
    }
    // The data exercises every outcome: emergent minima, stored ones, no support, a boundary.
    EXPECT_TRUE(seen.count(retrieval_status::converged));
    EXPECT_TRUE(seen.count(retrieval_status::out_of_support));
    EXPECT_TRUE(seen.count(retrieval_status::not_minimum));
    EXPECT_GE(multi, 3);
    EXPECT_EQ(batch.status[9], retrieval_status::not_minimum);   // A, with B at exactly R
    EXPECT_EQ(batch.status[11], retrieval_status::not_minimum);  // B, with A at exactly R
    EXPECT_EQ(batch.status[12], retrieval_status::converged);
    EXPECT_EQ(support_of(batch, 12), (std::vector<std::int64_t>{A, B}));
    EXPECT_EQ(support_of(batch, 8),
              (std::vector<std::int64_t>{2990, 2991, 2992, 2993, 2994, 2995, 2996, 2997}));
    EXPECT_EQ(batch.status[10], retrieval_status::out_of_support);
    // Threads do not change the batch either.
    exec_options one_thread;
    one_thread.n_threads = 1;
    const auto serial =
        retrieve<double>(memv, make_matrix_view<const double>(q.data(), nq, d), p, o, one_thread);
    EXPECT_EQ(serial.states, batch.states);
    EXPECT_EQ(serial.support.indices, batch.support.indices);
    EXPECT_EQ(serial.steps, batch.steps);
}

// ---- 5. BSTOR --------------------------------------------------------------------------------

std::int64_t naive_preserved(const nn_ref& ref, double beta) {
    std::int64_t c = 0;
    for (double v : ref.d2) c += v >= 2.0 / beta;
    return c;
}

std::vector<std::int64_t> strict_support(const std::vector<double>& x,
                                         std::int64_t n,
                                         std::int64_t d,
                                         const double* c,
                                         double r2,
                                         bool& boundary) {
    std::vector<std::int64_t> s;
    boundary = false;
    for (std::int64_t j = 0; j < n; ++j) {
        const double v = sq(c, &x[j * d], d);
        if (v < r2) s.push_back(j);
        boundary = boundary || v == r2;
    }
    return s;
}

TEST(ImagesBstor, MatchesNaiveCounts) {
    const std::int64_t n = 600, d = 30;
    // 8-bit "pixels" k / 256: every squared distance exact (see sq).
    std::vector<double> x = dyadic_uniform(n * d, 77, 8);
    copy_row(x, d, 3, 50);
    copy_row(x, d, 3, 51);
    copy_row(x, d, 10, 400);
    const auto view = make_matrix_view<const double>(x.data(), n, d);
    const nn_ref ref = naive_nearest(x, n, d);
    std::vector<double> sorted = ref.d2;
    std::sort(sorted.begin(), sorted.end());

    bstor_options o;
    o.seed_index = 3;
    o.sub_size = 4;
    o.n_starts = 0;
    o.preserve = 0.5;
    // Betas at which about 10 %, 50 % and 90 % of the images are preserved.
    for (double frac : {0.9, 0.5, 0.1}) {
        o.beta = 2.0 / sorted[static_cast<std::size_t>(frac * double(n))];
        const auto r = run_bstor(view, o);
        EXPECT_EQ(r.preserved, naive_preserved(ref, o.beta)) << o.beta;
        EXPECT_EQ(r.preserved_at(o.beta), r.preserved);
        EXPECT_DOUBLE_EQ(r.preserved_fraction, double(r.preserved) / double(n));
        EXPECT_EQ(r.radius, std::sqrt(2.0 / o.beta));
        EXPECT_EQ(r.nn_sq_distance, ref.d2);
        EXPECT_EQ(r.duplicates, ref.dups);
        EXPECT_EQ(r.with_duplicates, 5);
        std::int64_t inter = 0;
        for (std::int64_t j = 0; j < n; ++j)
            inter += j != 3 && sq(&x[3 * d], &x[j * d], d) < 4.0 * (2.0 / o.beta);
        EXPECT_EQ(r.seed_interacting, inter);
        EXPECT_EQ(r.seed_preserved, ref.d2[3] >= 2.0 / o.beta);
    }
    const auto r = run_bstor(view, o);
    // The curve: exact at every double beta, its breakpoints and their predecessors included.
    ASSERT_FALSE(r.curve_beta.empty());
    EXPECT_EQ(r.curve_floor, 0);
    EXPECT_EQ(r.curve_count.back(), n);
    for (std::size_t k = 0; k < r.curve_beta.size(); ++k) {
        if (k > 0) {
            EXPECT_LT(r.curve_beta[k - 1], r.curve_beta[k]);
            EXPECT_LT(r.curve_count[k - 1], r.curve_count[k]);
        }
        const double b = r.curve_beta[k], below = std::nextafter(b, 0.0);
        EXPECT_EQ(r.preserved_at(b), naive_preserved(ref, b)) << b;
        EXPECT_EQ(r.preserved_at(below), naive_preserved(ref, below)) << below;
        EXPECT_LT(naive_preserved(ref, below), naive_preserved(ref, b)) << b;
    }
    for (double b : {1e-3, 0.05, 0.3, 1.0, 3.0, 30.0, 1e6})
        EXPECT_EQ(r.preserved_at(b), naive_preserved(ref, b)) << b;
    // beta_for_share: the smallest double beta preserving at least half the images.
    EXPECT_GE(naive_preserved(ref, r.beta_for_share), n / 2);
    EXPECT_LT(naive_preserved(ref, std::nextafter(r.beta_for_share, 0.0)), n / 2);
}

TEST(ImagesBstor, MinimaAreExactOverAllImages) {
    // Clustered images so that the seed's neighbourhood holds emergent minima of the full memory.
    const std::int64_t n = 600, d = 30;
    std::mt19937_64 rng(8);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> x(static_cast<std::size_t>(n * d));
    std::vector<double> centres = oracle::uniform(20 * d, 9);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t k = 0; k < d; ++k)
            x[i * d + k] =
                on_grid(std::clamp(centres[(i % 20) * d + k] + 0.15 * (u(rng) - 0.5), 0.0, 1.0), 8);
    copy_row(x, d, 4, 44);
    const auto view = make_matrix_view<const double>(x.data(), n, d);
    bstor_options o;
    o.seed_index = 4;
    o.sub_size = 10;
    o.n_starts = 48;
    o.seed = 3;
    // R^2 = 0.12: about half the within-cluster distances (d2 about 2 d 0.15^2 / 12).
    o.beta = 2.0 / 0.12;
    const double r2 = 2.0 / o.beta;
    const auto r = run_bstor(view, o);
    std::int64_t inter = 0;
    for (std::int64_t j = 0; j < n; ++j) inter += j != 4 && sq(&x[4 * d], &x[j * d], d) < 4.0 * r2;
    EXPECT_EQ(r.seed_interacting, inter);
    ASSERT_EQ(r.sub.size(), r.sub_minima.minima.size());
    ASSERT_FALSE(r.sub.empty());
    for (const auto& s : r.sub) {
        std::vector<std::int64_t> imgs;
        for (auto i : s.m.support) imgs.push_back(r.sub_indices[static_cast<std::size_t>(i)]);
        EXPECT_EQ(s.support_images, imgs);
        bool boundary = false;
        EXPECT_EQ(s.full_support, strict_support(x, n, d, s.m.position.data(), r2, boundary));
        EXPECT_EQ(s.on_boundary, boundary);
    }
    ASSERT_FALSE(r.full_emergent.empty()) << "no emergent minimum near the seed: retune the data";
    for (std::size_t k = 0; k < r.full_emergent.size(); ++k) {
        const minimum& m = r.full_emergent[k];
        bool boundary = true;
        EXPECT_EQ(m.support, strict_support(x, n, d, m.position.data(), r2, boundary)) << k;
        EXPECT_FALSE(boundary) << k;
        EXPECT_FALSE(m.stored);
        ASSERT_GE(m.support.size(), 2u);
        bool distinct = false;
        for (auto j : m.support) distinct = distinct || sq(&x[j * d], &x[m.support[0] * d], d) > 0;
        EXPECT_TRUE(distinct) << k;
        for (std::int64_t c = 0; c < d; ++c) {
            double mean = 0.0;
            for (auto j : m.support) mean += x[j * d + c];
            EXPECT_NEAR(m.position[c], mean / double(m.support.size()), 1e-12);
        }
        if (k > 0) {
            const auto& prev = r.full_emergent[k - 1].support;
            EXPECT_TRUE(prev.size() < m.support.size() ||
                        (prev.size() == m.support.size() && prev < m.support));
        }
    }
}

// ---- 6. PXLE against a brute force over all 2^8 - 1 subsets ------------------------------------

// Supports of every strict LSR minimum: subsets S whose centroid has every member strictly inside
// R and every other pattern strictly outside.
std::set<std::vector<std::int64_t>> brute_force_minima(const std::vector<double>& p,
                                                       std::int64_t m,
                                                       std::int64_t d,
                                                       double beta) {
    const double r2 = 2.0 / beta;
    std::set<std::vector<std::int64_t>> out;
    for (std::uint32_t mask = 1; mask < (1u << m); ++mask) {
        std::vector<std::int64_t> s;
        for (std::int64_t i = 0; i < m; ++i)
            if (mask >> i & 1u) s.push_back(i);
        std::vector<double> c(static_cast<std::size_t>(d), 0.0);
        for (auto i : s)
            for (std::int64_t k = 0; k < d; ++k) c[k] += p[i * d + k];
        for (auto& v : c) v /= double(s.size());
        bool ok = true;
        for (std::int64_t i = 0; i < m && ok; ++i) {
            const double v = sq(c.data(), &p[i * d], d);
            ok = (mask >> i & 1u) ? v < r2 : v > r2;
        }
        if (ok) out.insert(s);
    }
    return out;
}

TEST(ImagesPxle, MatchesBruteForce) {
    std::int64_t total_emergent = 0, cases = 0;
    // 20 images drawn 8 without replacement, and 5 images drawn 8 with replacement (duplicates:
    // identical patterns are always together in a support).
    for (const auto& [n, replace] : {std::pair{std::int64_t(20), false}, {std::int64_t(5), true}})
        for (std::uint64_t seed : {1, 2, 5}) {
            const std::int64_t d = 24;
            const std::vector<double> x = dyadic_uniform(n * d, 300 + seed, 8);
            const auto view = make_matrix_view<const double>(x.data(), n, d);
            for (double beta : {0.0, 0.5, 2.0}) {
                pxle_options o;
                o.n_images = 8;
                o.seed = seed;
                o.beta = beta;
                o.with_replacement = replace;
                const auto r = run_pxle(view, o);
                ASSERT_EQ(r.indices.size(), 8u);
                if (!replace) {
                    EXPECT_EQ(std::set<std::int64_t>(r.indices.begin(), r.indices.end()).size(),
                              8u);
                }
                for (std::size_t i = 0; i < 8; ++i)
                    for (std::int64_t k = 0; k < d; ++k)
                        ASSERT_EQ(r.patterns[i * d + k], x[r.indices[i] * d + k]);
                double dmin = kInf;
                std::int64_t distinct = 8;
                for (std::int64_t i = 0; i < 8; ++i) {
                    bool seen_before = false;
                    for (std::int64_t j = 0; j < 8; ++j) {
                        const double v = sq(&r.patterns[i * d], &r.patterns[j * d], d);
                        if (j != i && v > 0) dmin = std::min(dmin, v);
                        seen_before = seen_before || (j < i && v == 0);
                    }
                    distinct -= seen_before;
                }
                EXPECT_NEAR(r.r_min, std::sqrt(dmin), 1e-12);
                EXPECT_NEAR(r.beta_max, 8.0 / dmin, 1e-12 * r.beta_max);
                if (beta == 0.0) {
                    EXPECT_DOUBLE_EQ(r.beta, 0.4 * r.beta_max);
                } else {
                    EXPECT_EQ(r.beta, beta);
                }
                const auto expect = brute_force_minima(r.patterns, 8, d, r.beta);
                std::set<std::vector<std::int64_t>> got;
                std::int64_t emergent = 0;
                for (std::size_t k = 0; k < r.minima.minima.size(); ++k) {
                    const auto& m = r.minima.minima[k];
                    got.insert(m.support);
                    bool several = false;
                    for (auto i : m.support)
                        several =
                            several || sq(&r.patterns[i * d], &r.patterns[m.support[0] * d], d) > 0;
                    emergent += several;
                    EXPECT_EQ(m.stored, !several);
                    std::string letters;
                    for (auto i : m.support) letters += static_cast<char>('A' + i);
                    EXPECT_EQ(r.letters[k], letters);
                }
                EXPECT_EQ(got, expect) << "n " << n << " seed " << seed << " beta " << r.beta;
                EXPECT_EQ(r.minima.emergent, emergent);
                // The curve agrees at this beta.
                const auto at = r.curve.interval(r.beta);
                EXPECT_EQ(r.curve.stored[at] + r.curve.emergent[at],
                          static_cast<std::int64_t>(expect.size()));
                EXPECT_EQ(r.curve.emergent[at], emergent);
                EXPECT_EQ(r.curve.stored.back(), distinct);
                EXPECT_EQ(r.global_emergence_at_beta, r.minima.stored == distinct && emergent >= 1);
                total_emergent += emergent;
                ++cases;
            }
        }
    EXPECT_EQ(cases, 18);
    EXPECT_GT(total_emergent, 10);
}

}  // namespace
