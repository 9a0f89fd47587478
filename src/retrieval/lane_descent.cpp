// SPDX-License-Identifier: MIT
// The lane descent (lane_descent.hpp) compiled once per instruction set, and chosen at run time:
// 32 lanes for AVX-512 (x86-64-v4), run only where the CPU has it, and 8 lanes for the build's
// baseline (x86-64-v3) (the lanes' accumulators must fit the register file: two AVX-512
// registers of floats per lane vector, or one AVX2 register). Both are the same code, so they do
// the same arithmetic lane by lane (only the neighbour lists, kept per group of lanes, may
// differ, below double rounding). set_lane_width_override forces either (tests).
//
// How the AVX-512 build is made safe: only the entry point block_32 carries the instruction
// set, as a function attribute (target("arch=x86-64-v4")); block_8 is compiled with the flags
// of the build. The whole body (lane::block's members, all always_inline) is inlined into them,
// so it is compiled for the instruction set of the entry point it is inlined into, and nothing
// else is. This translation unit must NOT be compiled with -march=x86-64-v4, nor carry a
// file-wide #pragma GCC target: every inline function and std:: template instantiated here
// (std::vector's members, std::min, the kernel policies, the engine helpers) would then be
// emitted with AVX-512 instructions as a weak (COMDAT) definition, one copy of which the linker
// keeps for the whole program, other translation units' callers included: an illegal
// instruction on a CPU without AVX-512, far from here. With the attribute, what the entry point
// calls without inlining stays a baseline function (the attribute is not inherited by
// callees), correct on every CPU. AddressSanitizer builds (and compilers other than GCC) have
// no AVX-512 build: the 8 lanes run everywhere there.
#include "retrieval/lane_descent.hpp"

#include <atomic>
#include <string>
#include <type_traits>

#include "denseam/error.hpp"
#include "engine/parallel.hpp"
#include "retrieval/methods.hpp"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_ADDRESS__)
#define DENSEAM_HAVE_AVX512_BUILD 1
#define DENSEAM_TARGET_AVX512 __attribute__((target("arch=x86-64-v4")))
#else
#define DENSEAM_HAVE_AVX512_BUILD 0
#define DENSEAM_TARGET_AVX512
#endif

namespace denseam::detail {

namespace {

// Whether the AVX-512 build runs on this CPU.
bool wide_vectors() {
#if DENSEAM_HAVE_AVX512_BUILD
    static const bool wide =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    return wide;
#else
    return false;
#endif
}

// 0 = automatic, else the lane width forced by set_lane_width_override.
std::atomic<int> lane_override{0};

// The entry points: one work item through 32 or 8 lanes (the body inlined, see above).
template <class P, class T, class C, class Poll>
DENSEAM_TARGET_AVX512 void block_32(const lane::setup<T>& s, std::int64_t item, Poll& poll) {
    lane::block<P, T, C, 32>(s, item).run(poll);
}

template <class P, class T, class C, class Poll>
void block_8(const lane::setup<T>& s, std::int64_t item, Poll& poll) {
    lane::block<P, T, C, 8>(s, item).run(poll);
}

template <class P, class T, class C, int lanes>
void descend(const retrieval_call<T>& call,
             const std::vector<char>& clamped,
             retrieve_result<T>& res) {
    const auto mem = call.memories;
    const auto& prm = call.params;
    const auto& opt = call.options;
    lane::setup<T> s{prm, opt, res};
    s.n_mem = mem.rows;
    s.dim = mem.cols;
    s.n = static_cast<std::int64_t>(res.steps.size());
    s.memd.resize(static_cast<std::size_t>(s.n_mem * s.dim));
    for (std::int64_t m = 0; m < s.n_mem; ++m)
        for (std::int64_t k = 0; k < s.dim; ++k)
            s.memd[static_cast<std::size_t>(m * s.dim + k)] = static_cast<double>(mem(m, k));
    const bool use_beta_schedule = uses_beta_schedule(opt);
    s.log_q = resolved_q(prm) == q_kind::log;
    s.beta_schedule = use_beta_schedule;
    s.table_len = std::max<std::int64_t>(1, std::min(opt.max_steps, s.table_cap));
    const auto steps = static_cast<std::size_t>(s.table_len);
    s.alpha.resize(steps);
    s.betas.resize(steps);
    s.sigma.resize(steps);
    for (std::int64_t t = 0; t < s.table_len; ++t) {
        const auto st = static_cast<std::size_t>(t);
        s.alpha[st] = opt.step_size.at(t, opt.max_steps);
        s.betas[st] = use_beta_schedule ? opt.beta.at(t, opt.max_steps) : prm.beta;
        s.sigma[st] = opt.noise.at(t, opt.max_steps);
        s.any_noise = s.any_noise || s.sigma[st] != 0.0;
    }
    if (opt.max_steps > s.table_len)  // noise that starts only after the table
        s.any_noise =
            s.any_noise || !(opt.noise.type == schedule::kind::constant && opt.noise.start == 0.0);
    s.prune = P::distance && !use_beta_schedule && s.n_mem > 1;
    s.hb_fixed = 0.5 * prm.beta;
    s.cut = 40.0 + std::log(static_cast<double>(s.n_mem));
    // Skin: half the support radius sqrt(2 / beta) (the distance a shell query starts from).
    s.skin = 0.5 * std::sqrt(2.0 / prm.beta);
    s.keep_dim.resize(static_cast<std::size_t>(s.dim));
    for (std::int64_t k = 0; k < s.dim; ++k)
        s.keep_dim[static_cast<std::size_t>(k)] = clamped[static_cast<std::size_t>(k)] ? 0.0 : 1.0;
    constexpr std::int64_t item_queries = lane::item_lane_queries * lanes;
    parallel_for(
        (s.n + item_queries - 1) / item_queries, call.exec, [&](std::int64_t item, auto& poll) {
            if constexpr (lanes == 32)
                block_32<P, T, C>(s, item, poll);
            else
                block_8<P, T, C>(s, item, poll);
        });
}

}  // namespace

bool wide_lanes_available() {
    return wide_vectors();
}

void set_lane_width_override(int lanes) {
    if (lanes != 0 && lanes != 8 && lanes != 32)
        throw invalid_argument("lane width must be 0 (automatic), 8 or 32 (got " +
                               std::to_string(lanes) + ")");
    if (lanes == 32 && !wide_vectors())
        throw invalid_argument(
            "lane width 32 needs the AVX-512 build of the lane descent and a CPU with AVX-512 "
            "(this build or CPU has none)");
    lane_override.store(lanes, std::memory_order_relaxed);
}

int lane_width() {
    const int forced = lane_override.load(std::memory_order_relaxed);
    if (forced != 0) return forced;
    return wide_vectors() ? 32 : 8;
}

template <class T>
void lane_descent(const retrieval_call<T>& call,
                  const std::vector<char>& clamped,
                  retrieve_result<T>& res) {
    const auto& opt = call.options;
    [[maybe_unused]] const int lanes = lane_width();  // 8 only without the AVX-512 build
    with_kernel(call.params.kernel, [&](auto policy) {
        using P = decltype(policy);
        const auto run = [&]<int L>() {
            if constexpr (std::is_same_v<T, float>)
                descend<P, T, float, L>(call, clamped, res);
            else if (opt.precision == gradient_precision::single)
                descend<P, T, float, L>(call, clamped, res);
            else
                descend<P, T, double, L>(call, clamped, res);
        };
#if DENSEAM_HAVE_AVX512_BUILD
        if (lanes == 32)
            run.template operator()<32>();
        else
#endif
            run.template operator()<8>();
    });
}

template void lane_descent(const retrieval_call<float>&,
                           const std::vector<char>&,
                           retrieve_result<float>&);
template void lane_descent(const retrieval_call<double>&,
                           const std::vector<char>&,
                           retrieve_result<double>&);

}  // namespace denseam::detail
