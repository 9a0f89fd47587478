// SPDX-License-Identifier: MIT
#include "engine/gemm.hpp"

#include <cblas.h>

#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace denseam::detail {

namespace {
blasint to_blas(std::int64_t v) {
    return static_cast<blasint>(v);
}
}  // namespace

namespace {
// OpenBLAS built with pthreads (or any build without per-call thread control) would thread every
// call from every thread; denseam never wants that (its own teams call BLAS on tiles), so such a
// build is set to one thread once. The OpenMP build (Debian's libopenblas0-openmp, what the
// setup installs) decides per call from the caller's OpenMP ICV and is left alone.
void blas_init_once() {
    static const bool done = [] {
        if (openblas_get_parallel() != 2) openblas_set_num_threads(1);  // 2: OpenMP build
        return true;
    }();
    (void)done;
}
}  // namespace

blas_single_thread_scope::blas_single_thread_scope() : omp_threads_(1) {
    blas_init_once();
#ifdef _OPENMP
    omp_threads_ = omp_get_max_threads();
    if (omp_threads_ != 1) omp_set_num_threads(1);
#endif
}

blas_single_thread_scope::~blas_single_thread_scope() {
#ifdef _OPENMP
    if (omp_threads_ != 1) omp_set_num_threads(omp_threads_);
#endif
}

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
          std::int64_t ldc) {
    blas_init_once();
    const auto tb = op_b == gemm_op::transposed ? CblasTrans : CblasNoTrans;
    constexpr auto call = [] {
        if constexpr (std::is_same_v<T, float>)
            return cblas_sgemm;
        else
            return cblas_dgemm;
    }();
    call(CblasRowMajor,
         CblasNoTrans,
         tb,
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

#define DENSEAM_INSTANTIATE(T)       \
    template void gemm(gemm_op,      \
                       std::int64_t, \
                       std::int64_t, \
                       std::int64_t, \
                       T,            \
                       const T*,     \
                       std::int64_t, \
                       const T*,     \
                       std::int64_t, \
                       T,            \
                       T*,           \
                       std::int64_t);
DENSEAM_INSTANTIATE(float)
DENSEAM_INSTANTIATE(double)
#undef DENSEAM_INSTANTIATE

}  // namespace denseam::detail
