// SPDX-License-Identifier: MIT
// src/dist in a build without MPI: available() is false and every entry point says so.
#include <cstdlib>
#include <string>

#include "denseam/error.hpp"
#include "dist/dist.hpp"

namespace denseam::dist {

namespace {
[[noreturn]] void unavailable() {
    throw invalid_argument(
        "this denseam was built without MPI (install libopenmpi-dev and "
        "openmpi-bin, then rebuild)");
}
}  // namespace

bool available() noexcept {
    return false;
}

struct context::impl {};

context::context() {
    unavailable();
}
context::~context() = default;
int context::rank() const noexcept {
    return 0;
}
int context::size() const noexcept {
    return 1;
}
void context::agree(const std::function<void()>& f) {
    f();
}
void context::abort(const std::string&, int code) {
    std::_Exit(code);
}
void context::broadcast(std::vector<std::byte>&) {}
void context::broadcast(std::vector<std::int64_t>&) {}
const traffic& context::local_traffic() const noexcept {
    static const traffic none;
    return none;
}
traffic& context::local_traffic() noexcept {
    static traffic none;
    return none;
}
traffic context::job_traffic() {
    return {};
}
int context::default_threads() const {
    return 1;
}

template <class T>
shard<T> load_shard(context&, const std::string&, partition, const exec_options&) {
    unavailable();
}
template <class T>
void energy_and_grad(context&,
                     const shard<T>&,
                     matrix_view<const T>,
                     const energy_params&,
                     std::span<T>,
                     matrix_view<T>,
                     std::span<energy_status>,
                     bool,
                     std::int64_t,
                     const exec_options&) {
    unavailable();
}
template <class T>
retrieve_result<T> retrieve(context&,
                            const shard<T>&,
                            matrix_view<const T>,
                            const energy_params&,
                            const retrieve_options&,
                            std::int64_t,
                            const exec_options&) {
    unavailable();
}
minima_result find_lsr_minima(context&,
                              matrix_view<const double>,
                              double,
                              double,
                              const minima_options&,
                              const exec_options&) {
    unavailable();
}

template shard<float> load_shard(context&, const std::string&, partition, const exec_options&);
template shard<double> load_shard(context&, const std::string&, partition, const exec_options&);
template void energy_and_grad(context&,
                              const shard<float>&,
                              matrix_view<const float>,
                              const energy_params&,
                              std::span<float>,
                              matrix_view<float>,
                              std::span<energy_status>,
                              bool,
                              std::int64_t,
                              const exec_options&);
template void energy_and_grad(context&,
                              const shard<double>&,
                              matrix_view<const double>,
                              const energy_params&,
                              std::span<double>,
                              matrix_view<double>,
                              std::span<energy_status>,
                              bool,
                              std::int64_t,
                              const exec_options&);
template retrieve_result<float> retrieve(context&,
                                         const shard<float>&,
                                         matrix_view<const float>,
                                         const energy_params&,
                                         const retrieve_options&,
                                         std::int64_t,
                                         const exec_options&);
template retrieve_result<double> retrieve(context&,
                                          const shard<double>&,
                                          matrix_view<const double>,
                                          const energy_params&,
                                          const retrieve_options&,
                                          std::int64_t,
                                          const exec_options&);

}  // namespace denseam::dist
