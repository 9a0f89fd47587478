// SPDX-License-Identifier: MIT
#include "cpu/gemm.hpp"

#include <cblas.h>

namespace denseam::detail {

namespace {
blasint to_blas(std::int64_t v) {
    return static_cast<blasint>(v);
}
}  // namespace

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
             std::int64_t ldc) {
    cblas_sgemm(CblasRowMajor,
                CblasNoTrans,
                CblasTrans,
                to_blas(m),
                to_blas(n),
                to_blas(k),
                alpha,
                a,
                to_blas(lda),
                b,
                to_blas(ldb),
                beta,
                c,
                to_blas(ldc));
}
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
             std::int64_t ldc) {
    cblas_dgemm(CblasRowMajor,
                CblasNoTrans,
                CblasTrans,
                to_blas(m),
                to_blas(n),
                to_blas(k),
                alpha,
                a,
                to_blas(lda),
                b,
                to_blas(ldb),
                beta,
                c,
                to_blas(ldc));
}
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
             std::int64_t ldc) {
    cblas_sgemm(CblasRowMajor,
                CblasNoTrans,
                CblasNoTrans,
                to_blas(m),
                to_blas(n),
                to_blas(k),
                alpha,
                a,
                to_blas(lda),
                b,
                to_blas(ldb),
                beta,
                c,
                to_blas(ldc));
}
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
             std::int64_t ldc) {
    cblas_dgemm(CblasRowMajor,
                CblasNoTrans,
                CblasNoTrans,
                to_blas(m),
                to_blas(n),
                to_blas(k),
                alpha,
                a,
                to_blas(lda),
                b,
                to_blas(ldb),
                beta,
                c,
                to_blas(ldc));
}

}  // namespace denseam::detail
