// SPDX-License-Identifier: MIT
// libFuzzer target for the .npy parser. Any input must either parse or throw
// denseam::invalid_argument; anything else (a crash, a sanitizer report, another exception, an
// inconsistent result) is a bug. Accepted arrays are also written back and re-read: the round
// trip must reproduce the shape and every value bit for bit.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "denseam/error.hpp"
#include "denseam/npy.hpp"

namespace {

template <class T>
void check_round_trip(const denseam::npy_array& a, const std::vector<T>& values) {
    const auto bytes = denseam::to_npy_bytes(std::span<const T>(values), a.shape);
    const denseam::npy_array b = denseam::parse_npy(bytes, "round trip");
    const std::vector<T>& again = [&]() -> const std::vector<T>& {
        if constexpr (sizeof(T) == 4)
            return b.f32;
        else
            return b.f64;
    }();
    if (b.shape != a.shape || b.is_float32 != a.is_float32 || again.size() != values.size() ||
        (!values.empty() &&
         std::memcmp(again.data(), values.data(), values.size() * sizeof(T)) != 0))
        std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    denseam::npy_array a;
    try {
        a = denseam::parse_npy(bytes, "fuzz input");
    } catch (const denseam::invalid_argument&) {
        return 0;
    }
    std::int64_t n = 1;
    for (const std::int64_t d : a.shape) {
        if (d < 0) std::abort();
        n *= d;
    }
    const std::size_t stored = a.is_float32 ? a.f32.size() : a.f64.size();
    const std::size_t unused = a.is_float32 ? a.f64.size() : a.f32.size();
    if (n != a.size() || static_cast<std::size_t>(n) != stored || unused != 0) std::abort();
    if (a.is_float32)
        check_round_trip(a, a.f32);
    else
        check_round_trip(a, a.f64);
    return 0;
}
