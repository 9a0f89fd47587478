// SPDX-License-Identifier: MIT
// Thin typed wrappers over CBLAS GEMM for row-major operands.
#pragma once

#include <cstdint>

namespace denseam::detail {

/// C (m x n, ldc) = alpha * A (m x k, lda) * B^T (B is n x k, ldb) + beta * C.
void gemm_nt(std::int64_t m,
             std::int64_t n,
             std::int64_t k,
             float alpha,
             const float* a,
             std::int64_t lda,
             const float* b,
             std::int64_t ldb,
             float beta,
             float* c,
             std::int64_t ldc);
void gemm_nt(std::int64_t m,
             std::int64_t n,
             std::int64_t k,
             double alpha,
             const double* a,
             std::int64_t lda,
             const double* b,
             std::int64_t ldb,
             double beta,
             double* c,
             std::int64_t ldc);
/// C (m x n, ldc) = alpha * A (m x k, lda) * B (k x n, ldb) + beta * C.
void gemm_nn(std::int64_t m,
             std::int64_t n,
             std::int64_t k,
             float alpha,
             const float* a,
             std::int64_t lda,
             const float* b,
             std::int64_t ldb,
             float beta,
             float* c,
             std::int64_t ldc);
void gemm_nn(std::int64_t m,
             std::int64_t n,
             std::int64_t k,
             double alpha,
             const double* a,
             std::int64_t lda,
             const double* b,
             std::int64_t ldb,
             double beta,
             double* c,
             std::int64_t ldc);

}  // namespace denseam::detail
