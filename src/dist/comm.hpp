// SPDX-License-Identifier: MIT
// The MPI calls of src/dist, in one place (internal; the only header that includes mpi.h). Every
// helper is collective over the job's communicator and counts what this rank sends to the others
// (payload bytes and messages) into the context's traffic.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <vector>

#include "dist/dist.hpp"

namespace denseam::dist {

struct context::impl {
    MPI_Comm comm = MPI_COMM_NULL;
    int rank = 0, size = 1, local_size = 1;
    traffic sent;
};

namespace comm {

/// All-to-all of doubles whose counts both sides know: send[sdispl(r) .. + sendcounts[r]) goes
/// to rank r; returns what every rank sent here, in rank order (recvcounts[r] from rank r).
std::vector<double> alltoallv(context& ctx,
                              const std::vector<double>& send,
                              const std::vector<std::int64_t>& sendcounts,
                              const std::vector<std::int64_t>& recvcounts);

/// alltoallv() when the receivers do not know the counts: they are exchanged first (one
/// all-to-all of one integer per pair) and returned in recvcounts.
std::vector<double> alltoallv_counted(context& ctx,
                                      const std::vector<double>& send,
                                      const std::vector<std::int64_t>& sendcounts,
                                      std::vector<std::int64_t>& recvcounts);

/// Every rank's `mine`, concatenated in rank order, on every rank (counts: per rank).
std::vector<double> allgatherv(context& ctx,
                               const std::vector<double>& mine,
                               std::vector<std::int64_t>& counts);

/// Every rank's `mine`, concatenated in rank order, on rank 0 (empty elsewhere).
std::vector<double> gatherv(context& ctx,
                            const std::vector<double>& mine,
                            std::vector<std::int64_t>& counts);

/// `values` of rank 0 on every rank (any length).
void broadcast(context& ctx, std::vector<double>& values);

std::int64_t sum(context& ctx, std::int64_t v);
double max(context& ctx, double v);

}  // namespace comm

}  // namespace denseam::dist
