// SPDX-License-Identifier: MIT
#include "cpu/gemm.hpp"

#include <cblas.h>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace denseam::detail {

namespace {
blasint to_blas(std::int64_t v) {
    return static_cast<blasint>(v);
}
}  // namespace

blas_single_thread_scope::blas_single_thread_scope()
    : blas_threads_(openblas_get_num_threads()), omp_threads_(1) {
#ifdef _OPENMP
    omp_threads_ = omp_get_max_threads();
#endif
    if (blas_threads_ != 1) openblas_set_num_threads(1);
}

blas_single_thread_scope::~blas_single_thread_scope() {
    // OpenBLAS's OpenMP build also sets the OpenMP thread count in openblas_set_num_threads:
    // restore both as they were.
    if (blas_threads_ != 1) openblas_set_num_threads(blas_threads_);
#ifdef _OPENMP
    omp_set_num_threads(omp_threads_);
#endif
}

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
