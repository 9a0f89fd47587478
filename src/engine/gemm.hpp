// SPDX-License-Identifier: MIT
// A thin typed wrapper over CBLAS GEMM for row-major operands, and the BLAS thread control.
#pragma once

#include <cstdint>

namespace denseam::detail {

/// While alive, BLAS calls made by this thread run single-threaded; the thread's OpenMP thread
/// count is restored on destruction. Needed when denseam's own OpenMP team has a single thread:
/// OpenBLAS (OpenMP build) then sees no active parallel region and would thread each tile GEMM
/// itself, which changes the last bits of results with the thread count (and costs far more than
/// it gains on tile-sized GEMMs).
///
/// Only the calling thread's OpenMP ICV (omp_set_num_threads) is changed: OpenBLAS's OpenMP
/// build decides per call from omp_get_max_threads() of the calling thread. OpenBLAS's global
/// thread count is never touched: changing it (openblas_set_num_threads) frees the per-thread
/// buffers of GEMMs that other threads are running, which gave wrong results under concurrent
/// calls (tests/python/test_threads.py). Builds other than OpenMP are set to one thread once, at
/// the first use (blas_init_once), since they have no per-thread control.
class blas_single_thread_scope {
  public:
    blas_single_thread_scope();
    ~blas_single_thread_scope();
    blas_single_thread_scope(const blas_single_thread_scope&) = delete;
    blas_single_thread_scope& operator=(const blas_single_thread_scope&) = delete;

  private:
    int omp_threads_;
};

/// What gemm does with its B operand.
enum class gemm_op { plain, transposed };

/// C (m x n, ldc) = alpha * A (m x k, lda) * op(B) + beta * C, all row-major, with op(B) = B
/// (k x n, ldb) for gemm_op::plain and B^T (B is n x k, ldb) for gemm_op::transposed. T is float
/// (cblas_sgemm) or double (cblas_dgemm).
template <class T>
void gemm(gemm_op op_b,
          std::int64_t m,
          std::int64_t n,
          std::int64_t k,
          T alpha,
          const T* a,
          std::int64_t lda,
          const T* b,
          std::int64_t ldb,
          T beta,
          T* c,
          std::int64_t ldc);

}  // namespace denseam::detail
