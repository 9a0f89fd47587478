// SPDX-License-Identifier: MIT
// Reading untrusted input files (.npy, safetensors): opening with clear errors, bounded reads from
// regular files and from streams (pipes, FIFOs, devices) whose size is not known in advance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace denseam::detail {

/// RAII for a POSIX file descriptor.
struct fd_guard {
    int fd = -1;
    explicit fd_guard(int f) : fd(f) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    fd_guard(fd_guard&& o) noexcept : fd(o.fd) { o.fd = -1; }
    fd_guard& operator=(fd_guard&&) = delete;
    ~fd_guard();
};

/// The text of an errno value ("No such file or directory").
std::string errno_message(int err);

/// Throws denseam::invalid_argument "cannot read 'path': <errno text>".
[[noreturn]] void read_error(const std::string& path, int err);

/// An input file opened for reading.
struct input_file {
    fd_guard file;
    bool regular = false;    ///< a regular file (else a pipe, FIFO or device: a stream)
    std::uint64_t size = 0;  ///< its size (regular files only)
};

/// Opens `path` for reading. @throws denseam::invalid_argument "cannot open 'path': ..." or
/// "cannot read 'path': it is a directory".
input_file open_input(const std::string& path);

/// Reads up to n bytes at `offset` (from the current position when offset < 0); returns the
/// number read, fewer only at the end of the file. Throws (read_error) on an I/O error.
std::uint64_t read_some(
    int fd, std::byte* dst, std::uint64_t n, std::int64_t offset, const std::string& path);

/// Appends up to n bytes of the stream `fd` to `buf`, 4 MiB at a time, so that the memory used
/// follows the bytes that actually arrive; returns the number appended (fewer only at the end of
/// the stream).
std::uint64_t append_from_stream(int fd,
                                 std::vector<std::byte>& buf,
                                 std::uint64_t n,
                                 const std::string& path);

}  // namespace denseam::detail
