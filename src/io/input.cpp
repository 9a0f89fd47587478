// SPDX-License-Identifier: MIT
#include "io/input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "denseam/error.hpp"
#include "io/format.hpp"

namespace denseam::detail {

fd_guard::~fd_guard() {
    if (fd >= 0) ::close(fd);
}

std::string errno_message(int err) {
    return std::generic_category().message(err);
}

void read_error(const std::string& path, int err) {
    throw invalid_argument("cannot read " + in_quotes(path) + ": " + errno_message(err));
}

input_file open_input(const std::string& path) {
    input_file in{fd_guard(::open(path.c_str(), O_RDONLY | O_CLOEXEC))};
    if (in.file.fd < 0)
        throw invalid_argument("cannot open " + in_quotes(path) + ": " + errno_message(errno));
    struct stat st {};
    if (::fstat(in.file.fd, &st) != 0) read_error(path, errno);
    if (S_ISDIR(st.st_mode))
        throw invalid_argument("cannot read " + in_quotes(path) + ": it is a directory");
    in.regular = S_ISREG(st.st_mode);
    in.size = in.regular ? static_cast<std::uint64_t>(st.st_size) : 0;
    return in;
}

std::uint64_t read_some(
    int fd, std::byte* dst, std::uint64_t n, std::int64_t offset, const std::string& path) {
    std::uint64_t got = 0;
    while (got < n) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(n - got, 1u << 30));
        const ssize_t r =
            offset < 0
                ? ::read(fd, dst + got, want)
                : ::pread(
                      fd, dst + got, want, static_cast<off_t>(offset) + static_cast<off_t>(got));
        if (r < 0) {
            if (errno == EINTR) continue;
            read_error(path, errno);
        }
        if (r == 0) break;
        got += static_cast<std::uint64_t>(r);
    }
    return got;
}

std::uint64_t append_from_stream(int fd,
                                 std::vector<std::byte>& buf,
                                 std::uint64_t n,
                                 const std::string& path) {
    constexpr std::uint64_t kChunk = std::uint64_t{4} << 20;
    const std::size_t base = buf.size();
    const std::uint64_t limit = base + n;
    std::uint64_t got = 0;
    while (got < n) {
        const std::uint64_t chunk = std::min(n - got, kChunk);
        const std::size_t need = base + static_cast<std::size_t>(got + chunk);
        if (need > buf.capacity()) {  // grow geometrically, but never past what was asked for
            buf.reserve(static_cast<std::size_t>(
                std::min<std::uint64_t>(limit, std::max<std::uint64_t>(need, 2 * buf.capacity()))));
        }
        buf.resize(need);
        const std::uint64_t r = read_some(fd, buf.data() + (need - chunk), chunk, -1, path);
        got += r;
        if (r < chunk) break;
    }
    buf.resize(base + static_cast<std::size_t>(got));
    return got;
}

}  // namespace denseam::detail
