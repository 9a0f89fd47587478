// SPDX-License-Identifier: MIT
// The MPI job (context), its collective helpers (comm.hpp) and the agreement on errors.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "denseam/error.hpp"
#include "dist/comm.hpp"

namespace denseam::dist {

bool available() noexcept {
    return true;
}

context::context() : impl_(std::make_unique<impl>()) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
        int provided = 0;
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &impl_->comm);
    // Errors of MPI calls are returned, not fatal: comm helpers turn them into exceptions, which
    // end the job through abort() (a collective step cannot be recovered).
    MPI_Comm_set_errhandler(impl_->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(impl_->comm, &impl_->rank);
    MPI_Comm_size(impl_->comm, &impl_->size);
    MPI_Comm node;
    MPI_Comm_split_type(impl_->comm, MPI_COMM_TYPE_SHARED, impl_->rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &impl_->local_size);
    MPI_Comm_free(&node);
}

context::~context() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    MPI_Comm_free(&impl_->comm);
    MPI_Finalize();
}

int context::rank() const noexcept {
    return impl_->rank;
}
int context::size() const noexcept {
    return impl_->size;
}
const traffic& context::local_traffic() const noexcept {
    return impl_->sent;
}
traffic& context::local_traffic() noexcept {
    return impl_->sent;
}

traffic context::job_traffic() {
    std::int64_t v[4] = {impl_->sent.bytes_sent,
                         impl_->sent.messages,
                         impl_->sent.requests,
                         impl_->sent.requests_broadcast};
    std::int64_t total[4] = {0, 0, 0, 0};
    MPI_Allreduce(v, total, 4, MPI_INT64_T, MPI_SUM, impl_->comm);
    return {total[0], total[1], total[2], total[3]};
}

int context::default_threads() const {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return std::max(1, cores / std::max(1, impl_->local_size));
}

void context::agree(const std::function<void()>& f) {
    std::string msg;
    int code = 0;
    try {
        f();
    } catch (const agreed_error& e) {
        msg = e.what();
        code = e.code();
    } catch (const invalid_argument& e) {
        msg = e.what();
        code = 2;
    } catch (const std::bad_alloc&) {
        msg = "out of memory";
        code = 1;
    } catch (const std::exception& e) {
        msg = e.what();
        code = 1;
    }
    // The lowest failing rank speaks for all.
    int mine = code != 0 ? impl_->rank : impl_->size, first = impl_->size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, impl_->comm);
    if (first == impl_->size) return;
    int head[2] = {code, static_cast<int>(std::min<std::size_t>(msg.size(), 4096))};
    MPI_Bcast(head, 2, MPI_INT, first, impl_->comm);
    msg.resize(static_cast<std::size_t>(head[1]));
    MPI_Bcast(msg.data(), head[1], MPI_CHAR, first, impl_->comm);
    if (impl_->size > 1) msg += " (rank " + std::to_string(first) + ")";
    throw agreed_error(msg, head[0], first);
}

void context::abort(const std::string& message, int code) {
    std::fprintf(stderr, "denseam: error: %s (rank %d)\n", message.c_str(), impl_->rank);
    std::fflush(stderr);
    MPI_Abort(impl_->comm, code);
    std::_Exit(code);
}

void context::broadcast(std::vector<std::byte>& bytes) {
    std::int64_t n = static_cast<std::int64_t>(bytes.size());
    MPI_Bcast(&n, 1, MPI_INT64_T, 0, impl_->comm);
    bytes.resize(static_cast<std::size_t>(n));
    if (n > INT_MAX) throw backend_error("a broadcast of more than 2^31 bytes");
    if (n > 0) MPI_Bcast(bytes.data(), static_cast<int>(n), MPI_BYTE, 0, impl_->comm);
    if (impl_->rank == 0 && impl_->size > 1) {
        impl_->sent.bytes_sent += n * (impl_->size - 1);
        impl_->sent.messages += impl_->size - 1;
    }
}

void context::broadcast(std::vector<std::int64_t>& values) {
    std::vector<std::byte> b(values.size() * sizeof(std::int64_t));
    std::memcpy(b.data(), values.data(), b.size());
    broadcast(b);
    values.resize(b.size() / sizeof(std::int64_t));
    std::memcpy(values.data(), b.data(), b.size());
}

namespace comm {

namespace {

std::vector<int> to_int(const std::vector<std::int64_t>& v, const char* what) {
    std::vector<int> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] < 0 || v[i] > INT_MAX)
            throw backend_error(std::string("an MPI exchange of more than 2^31 values (") + what +
                                ")");
        out[i] = static_cast<int>(v[i]);
    }
    return out;
}

std::vector<int> displs(const std::vector<int>& counts, const char* what) {
    std::vector<int> d(counts.size(), 0);
    std::int64_t s = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        if (s > INT_MAX)
            throw backend_error(std::string("an MPI exchange too large (") + what + ")");
        d[i] = static_cast<int>(s);
        s += counts[i];
    }
    if (s > INT_MAX) throw backend_error(std::string("an MPI exchange too large (") + what + ")");
    return d;
}

void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) throw backend_error(std::string("MPI call failed: ") + what);
}

void count_sent(context& ctx, const std::vector<std::int64_t>& sendcounts, std::size_t elem) {
    auto& t = ctx.local_traffic();
    for (int r = 0; r < ctx.size(); ++r) {
        if (r == ctx.rank() || sendcounts[static_cast<std::size_t>(r)] == 0) continue;
        t.bytes_sent += sendcounts[static_cast<std::size_t>(r)] * static_cast<std::int64_t>(elem);
        ++t.messages;
    }
}

}  // namespace

std::vector<double> alltoallv(context& ctx,
                              const std::vector<double>& send,
                              const std::vector<std::int64_t>& sendcounts,
                              const std::vector<std::int64_t>& recvcounts) {
    const auto sc = to_int(sendcounts, "all-to-all"), rc = to_int(recvcounts, "all-to-all");
    const auto sd = displs(sc, "all-to-all"), rd = displs(rc, "all-to-all");
    const std::size_t total =
        static_cast<std::size_t>(rd.back()) + static_cast<std::size_t>(rc.back());
    std::vector<double> recv(total);
    check(MPI_Alltoallv(send.data(),
                        sc.data(),
                        sd.data(),
                        MPI_DOUBLE,
                        recv.data(),
                        rc.data(),
                        rd.data(),
                        MPI_DOUBLE,
                        ctx.internals().comm),
          "MPI_Alltoallv");
    count_sent(ctx, sendcounts, sizeof(double));
    return recv;
}

std::vector<double> alltoallv_counted(context& ctx,
                                      const std::vector<double>& send,
                                      const std::vector<std::int64_t>& sendcounts,
                                      std::vector<std::int64_t>& recvcounts) {
    recvcounts.assign(static_cast<std::size_t>(ctx.size()), 0);
    check(MPI_Alltoall(sendcounts.data(),
                       1,
                       MPI_INT64_T,
                       recvcounts.data(),
                       1,
                       MPI_INT64_T,
                       ctx.internals().comm),
          "MPI_Alltoall");
    return alltoallv(ctx, send, sendcounts, recvcounts);
}

std::vector<double> allgatherv(context& ctx,
                               const std::vector<double>& mine,
                               std::vector<std::int64_t>& counts) {
    const std::int64_t n = static_cast<std::int64_t>(mine.size());
    counts.assign(static_cast<std::size_t>(ctx.size()), 0);
    check(MPI_Allgather(&n, 1, MPI_INT64_T, counts.data(), 1, MPI_INT64_T, ctx.internals().comm),
          "MPI_Allgather");
    const auto c = to_int(counts, "all-gather");
    const auto d = displs(c, "all-gather");
    std::vector<double> all(static_cast<std::size_t>(d.back()) +
                            static_cast<std::size_t>(c.back()));
    check(MPI_Allgatherv(mine.data(),
                         static_cast<int>(n),
                         MPI_DOUBLE,
                         all.data(),
                         c.data(),
                         d.data(),
                         MPI_DOUBLE,
                         ctx.internals().comm),
          "MPI_Allgatherv");
    if (n > 0 && ctx.size() > 1) {
        ctx.local_traffic().bytes_sent +=
            n * static_cast<std::int64_t>(sizeof(double)) * (ctx.size() - 1);
        ctx.local_traffic().messages += ctx.size() - 1;
    }
    return all;
}

std::vector<double> gatherv(context& ctx,
                            const std::vector<double>& mine,
                            std::vector<std::int64_t>& counts) {
    const std::int64_t n = static_cast<std::int64_t>(mine.size());
    counts.assign(static_cast<std::size_t>(ctx.size()), 0);
    check(MPI_Gather(&n, 1, MPI_INT64_T, counts.data(), 1, MPI_INT64_T, 0, ctx.internals().comm),
          "MPI_Gather");
    std::vector<double> all;
    std::vector<int> c, d;
    if (ctx.rank() == 0) {
        c = to_int(counts, "gather");
        d = displs(c, "gather");
        all.resize(static_cast<std::size_t>(d.back()) + static_cast<std::size_t>(c.back()));
    }
    if (n > INT_MAX) throw backend_error("an MPI gather of more than 2^31 values");
    check(MPI_Gatherv(mine.data(),
                      static_cast<int>(n),
                      MPI_DOUBLE,
                      all.data(),
                      c.data(),
                      d.data(),
                      MPI_DOUBLE,
                      0,
                      ctx.internals().comm),
          "MPI_Gatherv");
    if (ctx.rank() != 0 && n > 0) {
        ctx.local_traffic().bytes_sent += n * static_cast<std::int64_t>(sizeof(double));
        ++ctx.local_traffic().messages;
    }
    return all;
}

void broadcast(context& ctx, std::vector<double>& values) {
    std::vector<std::byte> b(values.size() * sizeof(double));
    if (!b.empty()) std::memcpy(b.data(), values.data(), b.size());
    ctx.broadcast(b);
    values.resize(b.size() / sizeof(double));
    if (!b.empty()) std::memcpy(values.data(), b.data(), b.size());
}

std::int64_t sum(context& ctx, std::int64_t v) {
    std::int64_t s = 0;
    check(MPI_Allreduce(&v, &s, 1, MPI_INT64_T, MPI_SUM, ctx.internals().comm), "MPI_Allreduce");
    return s;
}

double max(context& ctx, double v) {
    double m = 0;
    check(MPI_Allreduce(&v, &m, 1, MPI_DOUBLE, MPI_MAX, ctx.internals().comm), "MPI_Allreduce");
    return m;
}

}  // namespace comm

}  // namespace denseam::dist
