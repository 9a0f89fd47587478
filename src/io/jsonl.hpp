// SPDX-License-Identifier: MIT
// JSON Lines results files that resumable experiments append to (lmin0, logl0, ...).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace denseam::detail {

/// A JSON Lines file of one experiment's results, opened for resuming.
///
/// The constructor only reads: every complete line must be accepted by `line` (which gets the
/// line's text and throws to reject it, e.g. lmin0_line_key), and a trailing partial line (a run
/// killed in the middle of a write) must start like one of ours ('{'). A file that fails either
/// test is not ours: the constructor throws denseam::invalid_argument naming the file and the line,
/// and the file is left untouched. Only once the whole file is accepted does append() (or clear())
/// change it: the partial line is cut off before the first append.
class jsonl_results {
  public:
    using line_fn = std::function<void(std::string_view)>;
    /// `option` and `what` name the file and the experiment in messages ("--out", "LMIN0").
    jsonl_results(std::string option, std::string path, std::string what, const line_fn& line);

    /// Number of complete lines read.
    std::int64_t lines() const noexcept { return lines_; }
    /// Empty the file (it was accepted as ours): --fresh.
    void clear();
    /// Append whole lines with one write(2) on an O_APPEND descriptor (a crash never leaves half
    /// a line behind). @throws denseam::backend_error naming the file.
    void append(const std::string& text);

  private:
    std::string option_, path_;
    std::int64_t lines_ = 0;
    std::uint64_t complete_bytes_ = 0;  ///< bytes up to the last newline
    bool partial_ = false;              ///< a partial last line is still to be cut
};

/// 64-bit FNV-1a, streaming: fnv1a64(fnv1a64(fnv1a64_init, a, na), b, nb) hashes a then b.
inline constexpr std::uint64_t fnv1a64_init = 0xcbf29ce484222325ULL;
std::uint64_t fnv1a64(std::uint64_t h, const void* data, std::size_t n) noexcept;
/// A 64-bit hash as 16 hex digits.
std::string hex64(std::uint64_t h);

}  // namespace denseam::detail
