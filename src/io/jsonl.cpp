// SPDX-License-Identifier: MIT
#include "io/jsonl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "denseam/error.hpp"

namespace denseam::detail {

jsonl_results::jsonl_results(std::string option,
                             std::string path,
                             std::string what,
                             const line_fn& line)
    : option_(std::move(option)), path_(std::move(path)) {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;  // a new file
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const std::string name = option_ + " '" + path_ + "'";
    std::size_t complete = text.rfind('\n');
    complete = complete == std::string::npos ? 0 : complete + 1;
    std::size_t pos = 0;
    std::int64_t line_no = 0;
    while (pos < complete) {
        const std::size_t nl = text.find('\n', pos);
        const std::string one = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (one.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
            line(one);
        } catch (const std::exception& e) {
            throw invalid_argument(name + " line " + std::to_string(line_no) + " is not a " + what +
                                   " result line (" + e.what() +
                                   "); the file was not changed: use another --out");
        }
        ++lines_;
    }
    if (complete < text.size()) {
        const std::size_t first = text.find_first_not_of(" \t\r", complete);
        if (first != std::string::npos && text[first] != '{')
            throw invalid_argument(name + " ends with a line that is not a " + what +
                                   " result line; the file was not changed: use another --out");
        partial_ = true;
    }
    complete_bytes_ = complete;
}

void jsonl_results::clear() {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) return;
    std::filesystem::resize_file(path_, 0, ec);
    if (ec) throw backend_error("cannot empty '" + path_ + "': " + ec.message());
    lines_ = 0;
    complete_bytes_ = 0;
    partial_ = false;
}

void jsonl_results::append(const std::string& text) {
    if (partial_) {
        std::cerr << "denseam: note: dropping an incomplete last line of " << path_
                  << " (a run stopped while writing it)\n";
        std::error_code ec;
        std::filesystem::resize_file(path_, complete_bytes_, ec);
        if (ec) throw backend_error("cannot repair '" + path_ + "': " + ec.message());
        partial_ = false;
    }
    const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw backend_error("cannot open '" + path_ + "' for appending");
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t w = ::write(fd, text.data() + done, text.size() - done);
        if (w <= 0) {
            ::close(fd);
            throw backend_error("cannot write to '" + path_ + "'");
        }
        done += static_cast<std::size_t>(w);
    }
    if (::close(fd) != 0) throw backend_error("cannot write to '" + path_ + "'");
}

std::uint64_t fnv1a64(std::uint64_t h, const void* data, std::size_t n) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

std::string hex64(std::uint64_t h) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

}  // namespace denseam::detail
