// SPDX-License-Identifier: MIT
// The store file, version 1 (docs/store.md, "File format"):
//
//   offset 0          magic "DENSEAMSTORE\r\n\x1a\n" (16 bytes)
//   16                u32 version (1)
//   20                u32 header bytes H
//   24                JSON header (H bytes), zero padding to a multiple of 64
//   ids_at            i64 ids (size), zero padding to a multiple of 64
//   data_at           patterns (size x dim values of dtype, row-major)
//   data_at + data    u64 FNV-1a-64 of every byte before it
//
// All little-endian. Everything read is untrusted: each size is checked for overflow and the
// exact file size derived from the header is compared with the file's before anything is
// allocated or read beyond the header; the checksum is verified before the contents are used.
#include "store/store_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <system_error>

#include "denseam/error.hpp"
#include "io/files.hpp"
#include "io/format.hpp"

namespace denseam::detail {

static_assert(std::endian::native == std::endian::little,
              "the store file is little-endian; this build assumes a little-endian machine");

namespace {

constexpr std::int64_t prefix_bytes = 24;  // magic, version, header length
constexpr std::int64_t align = 64;
constexpr std::int64_t max_header_bytes = std::int64_t(1) << 20;
constexpr std::size_t chunk = std::size_t(4) << 20;  // progress and checksum granularity

std::int64_t align_up(std::int64_t v) {
    return (v + align - 1) / align * align;
}

std::int64_t element_bytes(store_dtype t) {
    return t == store_dtype::float32 ? 4 : 8;
}

// Byte offsets of a file with this header (sizes checked by the caller).
struct layout {
    std::int64_t ids_at, data_at, data_bytes, checksum_at, total;
};

// nullopt-free: returns false when the sizes overflow a 63-bit file offset.
bool make_layout(std::int64_t header_bytes, const store_header& h, layout& l) {
    constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max() / 4;
    const std::int64_t e = element_bytes(h.dtype);
    if (h.size < 0 || h.dim < 1 || h.size > max / 8 || h.size > max / e / h.dim) return false;
    l.ids_at = align_up(prefix_bytes + header_bytes);
    l.data_at = align_up(l.ids_at + 8 * h.size);
    l.data_bytes = h.size * h.dim * e;
    if (l.data_bytes > max - l.data_at) return false;
    l.checksum_at = l.data_at + l.data_bytes;
    l.total = l.checksum_at + 8;
    return true;
}

std::string header_json(const store_header& h) {
    nlohmann::ordered_json j;
    j["dtype"] = std::string(to_string(h.dtype));
    j["size"] = h.size;
    j["dim"] = h.dim;
    j["next_id"] = h.next_id;
    j["kernel"] = std::string(to_string(h.params.kernel));
    j["beta"] = h.params.beta;
    j["eps"] = h.params.eps;
    j["q"] = std::string(to_string(h.params.q));
    j["degree"] = h.params.degree;
    j["index"] = std::string(to_string(h.index));
    return j.dump();
}

template <class T>
std::span<const std::byte> bytes_of(const T& v) {
    return std::as_bytes(std::span<const T, 1>(&v, 1));
}

// A read-only private mapping of a whole file, unmapped when the last owner goes.
struct mapping {
    void* data = nullptr;
    std::size_t size = 0;
    mapping(void* d, std::size_t n) : data(d), size(n) {}
    mapping(const mapping&) = delete;
    mapping& operator=(const mapping&) = delete;
    ~mapping() {
        if (data != nullptr) ::munmap(data, size);
    }
};

struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::uint64_t fnv1a(std::uint64_t h, std::span<const std::byte> bytes) noexcept {
    constexpr std::uint64_t prime = 0x100000001b3ULL;
    for (const std::byte b : bytes) {
        h ^= static_cast<std::uint64_t>(b);
        h *= prime;
    }
    return h;
}

void write_store_file(const std::string& path,
                      const store_header& h,
                      std::span<const std::int64_t> ids,
                      std::span<const std::byte> patterns,
                      const store_progress& progress) {
    const std::string json = header_json(h);
    const auto header_bytes = static_cast<std::int64_t>(json.size());
    layout l{};
    if (!make_layout(header_bytes, h, l) || static_cast<std::int64_t>(ids.size()) != h.size ||
        static_cast<std::int64_t>(patterns.size()) != l.data_bytes)
        throw std::logic_error("write_store_file: inconsistent sizes");
    write_file_atomic(path, l.total, [&](const byte_sink& sink) {
        std::uint64_t hash = fnv1a_basis;
        std::int64_t done = 0;
        auto put = [&](std::span<const std::byte> b) {
            hash = fnv1a(hash, b);
            sink(b);
            done += static_cast<std::int64_t>(b.size());
        };
        // Large parts go in chunks, with a progress report after each.
        auto put_chunked = [&](std::span<const std::byte> b) {
            for (std::size_t at = 0; at < b.size(); at += chunk) {
                put(b.subspan(at, std::min(chunk, b.size() - at)));
                if (progress) progress(done, l.total);
            }
        };
        static const std::array<std::byte, align> zeros{};
        const std::uint32_t version = store_version, hlen = static_cast<std::uint32_t>(json.size());
        put(std::as_bytes(std::span<const char>(store_magic, 16)));
        put(bytes_of(version));
        put(bytes_of(hlen));
        put(std::as_bytes(std::span<const char>(json.data(), json.size())));
        put(std::span(zeros).first(
            static_cast<std::size_t>(l.ids_at - prefix_bytes - header_bytes)));
        put_chunked(std::as_bytes(ids));
        put(std::span(zeros).first(static_cast<std::size_t>(l.data_at - l.ids_at - 8 * h.size)));
        put_chunked(patterns);
        const std::uint64_t sum = hash;
        sink(bytes_of(sum));
        done += 8;
        if (progress) progress(done, l.total);
    });
}

namespace {

// Header fields, each checked for presence and type; messages name the file and the field.
struct header_reader {
    const nlohmann::json& j;
    const std::string& where;  // "'path'"

    [[noreturn]] void fail(const std::string& what) const {
        throw invalid_argument(where + ": bad store header: " + what);
    }
    const nlohmann::json& field(const char* key) const {
        const auto it = j.find(key);
        if (it == j.end()) fail(std::string("no '") + key + "' field");
        return *it;
    }
    std::int64_t integer(const char* key) const {
        const auto& v = field(key);
        if (v.is_number_unsigned()) {
            const auto u = v.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                fail(std::string("'") + key + "' is too large");
            return static_cast<std::int64_t>(u);
        }
        if (!v.is_number_integer()) fail(std::string("'") + key + "' is not an integer");
        return v.get<std::int64_t>();
    }
    double number(const char* key) const {
        const auto& v = field(key);
        if (!v.is_number()) fail(std::string("'") + key + "' is not a number");
        return v.get<double>();
    }
    std::string text(const char* key) const {
        const auto& v = field(key);
        if (!v.is_string()) fail(std::string("'") + key + "' is not a string");
        return v.get<std::string>();
    }
};

store_header parse_header(std::string_view text, const std::string& where) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw invalid_argument(
            where + ": bad store header (not JSON: " + printable_text(e.what(), 120) + ")");
    }
    const header_reader r{j, where};
    if (!j.is_object()) r.fail("not a JSON object");
    store_header h;
    try {
        h.dtype = parse_store_dtype(r.text("dtype"));
        h.index = parse_index_kind(r.text("index"));
        const std::int64_t degree = r.integer("degree");
        if (degree < 1 || degree > std::numeric_limits<int>::max())
            r.fail("'degree' = " + std::to_string(degree) + " is out of range");
        h.params = make_energy_params(r.text("kernel"),
                                      r.number("beta"),
                                      r.number("eps"),
                                      r.text("q"),
                                      static_cast<int>(degree));
    } catch (const invalid_argument& e) {
        const std::string msg = e.what();
        if (msg.rfind(where, 0) == 0) throw;
        r.fail(msg);
    }
    if (h.index != index_kind::automatic && h.index != index_kind::brute &&
        !has_compact_support(h.params.kernel))
        r.fail("index '" + std::string(to_string(h.index)) + "' with kernel '" +
               std::string(to_string(h.params.kernel)) + "' (it needs a compact kernel)");
    h.size = r.integer("size");
    h.dim = r.integer("dim");
    h.next_id = r.integer("next_id");
    if (h.dim < 1) r.fail("'dim' = " + std::to_string(h.dim) + " (must be >= 1)");
    if (h.size < 0) r.fail("'size' = " + std::to_string(h.size) + " (must be >= 0)");
    if (h.next_id < h.size)
        r.fail("'next_id' = " + std::to_string(h.next_id) +
               " is below 'size' = " + std::to_string(h.size));
    return h;
}

}  // namespace

mapped_store_file read_store_file(const std::string& path, const store_progress& progress) {
    const std::string where = in_quotes(path);
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
    fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
    if (fd.fd < 0)
        throw invalid_argument("cannot open store " + where + ": " +
                               std::generic_category().message(errno));
    struct stat st {};
    if (::fstat(fd.fd, &st) != 0)
        throw invalid_argument("cannot read store " + where + ": " +
                               std::generic_category().message(errno));
    if (S_ISDIR(st.st_mode))
        throw invalid_argument(where + " is a directory, not a denseam store file");
    if (!S_ISREG(st.st_mode))
        throw invalid_argument(where + " is not a regular file (a denseam store is read from one)");
    const auto file_bytes = static_cast<std::int64_t>(st.st_size);
    if (file_bytes == 0) throw invalid_argument(where + " is empty: not a denseam store file");

    void* addr =
        ::mmap(nullptr, static_cast<std::size_t>(file_bytes), PROT_READ, MAP_PRIVATE, fd.fd, 0);
    if (addr == MAP_FAILED)
        throw invalid_argument("cannot map store " + where + ": " +
                               std::generic_category().message(errno));
    auto map = std::make_shared<const mapping>(addr, static_cast<std::size_t>(file_bytes));
    const auto* base = static_cast<const std::byte*>(addr);
    auto truncated = [&](std::int64_t expected) {
        return invalid_argument(where + ": truncated: expected " + std::to_string(expected) +
                                " bytes, found " + std::to_string(file_bytes));
    };

    const std::int64_t magic_seen = std::min<std::int64_t>(file_bytes, 16);
    if (std::memcmp(base, store_magic, static_cast<std::size_t>(magic_seen)) != 0)
        throw invalid_argument(where + ": not a denseam store file (no store magic)");
    if (file_bytes < prefix_bytes) throw truncated(prefix_bytes);
    std::uint32_t version = 0, hlen = 0;
    std::memcpy(&version, base + 16, 4);
    std::memcpy(&hlen, base + 20, 4);
    if (version != store_version)
        throw invalid_argument(where + ": unsupported store version " + std::to_string(version) +
                               " (this build reads version " + std::to_string(store_version) + ")");
    if (hlen > max_header_bytes)
        throw invalid_argument(where + ": bad store header (" + std::to_string(hlen) +
                               " bytes, more than " + std::to_string(max_header_bytes) + ")");
    if (file_bytes < prefix_bytes + hlen) throw truncated(prefix_bytes + hlen);
    const store_header h = parse_header(
        std::string_view(reinterpret_cast<const char*>(base + prefix_bytes), hlen), where);
    layout l{};
    if (!make_layout(hlen, h, l))
        throw invalid_argument(where + ": bad store header: " + std::to_string(h.size) + " x " +
                               std::to_string(h.dim) + " patterns are too many");
    if (file_bytes < l.total) throw truncated(l.total);
    if (file_bytes > l.total)
        throw invalid_argument(where + ": unexpected size: expected " + std::to_string(l.total) +
                               " bytes, found " + std::to_string(file_bytes) +
                               " (data after the checksum)");

    std::uint64_t hash = fnv1a_basis;
    for (std::int64_t at = 0; at < l.checksum_at;) {
        const std::int64_t n =
            std::min<std::int64_t>(static_cast<std::int64_t>(chunk), l.checksum_at - at);
        hash = fnv1a(hash, std::span(base + at, static_cast<std::size_t>(n)));
        at += n;
        if (progress) progress(at, l.total);
    }
    std::uint64_t stored = 0;
    std::memcpy(&stored, base + l.checksum_at, 8);
    if (hash != stored) throw invalid_argument(where + ": checksum mismatch (corrupt file)");
    if (progress) progress(l.total, l.total);

    mapped_store_file f;
    f.header = h;
    f.ids.resize(static_cast<std::size_t>(h.size));
    if (h.size > 0)
        std::memcpy(f.ids.data(), base + l.ids_at, static_cast<std::size_t>(8 * h.size));
    for (std::size_t i = 0; i < f.ids.size(); ++i) {
        const std::int64_t id = f.ids[i];
        if (id < 0 || id >= h.next_id || (i > 0 && id <= f.ids[i - 1]))
            throw invalid_argument(where + ": bad store: id " + std::to_string(id) +
                                   " at position " + std::to_string(i) +
                                   " is not in ascending order within [0, next_id = " +
                                   std::to_string(h.next_id) + ")");
    }
    f.patterns = std::span(base + l.data_at, static_cast<std::size_t>(l.data_bytes));
    f.mapping = std::move(map);
    return f;
}

}  // namespace denseam::detail
