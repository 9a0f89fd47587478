// SPDX-License-Identifier: MIT
// denseam: non-owning row-major matrix view used by every public function.
#pragma once

#include <cstdint>
#include <span>
#include <type_traits>

namespace denseam {

/// A non-owning view of a row-major matrix: element (i, j) is data[i * ld + j], ld >= cols.
/// `T = const float` marks an input. Trivially copyable; pass by value.
template <class T>
struct matrix_view {
    T* data = nullptr;
    std::int64_t rows = 0;
    std::int64_t cols = 0;
    std::int64_t ld = 0;  ///< row stride in elements

    constexpr matrix_view() = default;
    constexpr matrix_view(T* d, std::int64_t r, std::int64_t c, std::int64_t stride = -1)
        : data(d), rows(r), cols(c), ld(stride < 0 ? c : stride) {}
    /// A view of non-const T converts to a view of const T.
    template <class U,
              class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
    constexpr matrix_view(matrix_view<U> o)  // NOLINT(google-explicit-constructor)
        : data(o.data), rows(o.rows), cols(o.cols), ld(o.ld) {}

    constexpr T* row(std::int64_t i) const { return data + i * ld; }
    constexpr T& operator()(std::int64_t i, std::int64_t j) const { return data[i * ld + j]; }
    constexpr bool empty() const { return data == nullptr || rows == 0; }
    constexpr std::span<T> row_span(std::int64_t i) const {
        return {row(i), static_cast<std::size_t>(cols)};
    }
};

template <class T>
constexpr matrix_view<T> make_matrix_view(T* data, std::int64_t rows, std::int64_t cols) {
    return matrix_view<T>(data, rows, cols, cols);
}

}  // namespace denseam
