// SPDX-License-Identifier: MIT
// libFuzzer target for the memory store's file reader (src/store/store_file.cpp). The input is a
// whole store file whose last 8 bytes are replaced by the FNV-1a-64 checksum of the rest, so that
// mutations reach the header, id and size checks instead of stopping at the checksum. Every input
// must either load or throw denseam::invalid_argument; a load must give ids strictly ascending in
// [0, next_id) and exactly size x dim values, and memory_store::load of the same file must agree.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/store.hpp"
#include "store/store_file.hpp"

namespace {

const std::string& scratch() {
    static const std::string path = [] {
        char tmpl[] = "/tmp/denseam_fuzz_store_XXXXXX";
        const int fd = ::mkstemp(tmpl);
        if (fd < 0) std::abort();
        ::close(fd);
        return std::string(tmpl);
    }();
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::byte> file(reinterpret_cast<const std::byte*>(data),
                                reinterpret_cast<const std::byte*>(data) + size);
    if (file.size() >= 8) {
        const std::uint64_t h = denseam::detail::fnv1a(denseam::detail::fnv1a_basis,
                                                       std::span(file.data(), file.size() - 8));
        std::memcpy(file.data() + file.size() - 8, &h, 8);
    }
    {
        FILE* f = std::fopen(scratch().c_str(), "wb");
        if (f == nullptr) std::abort();
        if (!file.empty() && std::fwrite(file.data(), 1, file.size(), f) != file.size())
            std::abort();
        std::fclose(f);
    }
    denseam::detail::mapped_store_file m;
    try {
        m = denseam::detail::read_store_file(scratch(), {});
    } catch (const denseam::invalid_argument&) {
        return 0;
    }
    const auto& h = m.header;
    if (h.size < 0 || h.dim < 1 || static_cast<std::int64_t>(m.ids.size()) != h.size) std::abort();
    for (std::size_t i = 0; i < m.ids.size(); ++i)
        if (m.ids[i] < 0 || m.ids[i] >= h.next_id || (i > 0 && m.ids[i] <= m.ids[i - 1]))
            std::abort();
    const std::size_t elem = h.dtype == denseam::store_dtype::float32 ? 4 : 8;
    if (m.patterns.size() != static_cast<std::size_t>(h.size * h.dim) * elem) std::abort();
    // The store built from it: loads (or refuses with invalid_argument, e.g. a non-finite value)
    // and then holds exactly those ids.
    try {
        const denseam::memory_store s = denseam::memory_store::load(scratch());
        if (s.ids() != m.ids) std::abort();
    } catch (const denseam::invalid_argument&) {
    }
    return 0;
}
