// SPDX-License-Identifier: MIT
// Output files: checked before any work is done, written atomically, committed all or nothing.
//
// The rules (docs/cli.md, "Files"): an output is a regular file or does not exist yet; a symbolic
// link is followed to the regular file it names (the link stays, its target is replaced); a FIFO,
// device, socket, directory or dangling link is refused, as is an output in a directory that
// does not exist, an output that is also an input, and two outputs that are the same file.
// Outputs are written to hidden temporary files beside their targets and renamed into place only
// once every one of them is written; a failure leaves every target as it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace denseam::detail {

/// The path an output to `path` replaces: `path` itself, or the regular file a symbolic link
/// at `path` names. @throws denseam::invalid_argument (naming `option` and `path`) when `path`
/// exists and is not a regular file (after following links), is a dangling link, names a
/// directory, or its directory does not exist.
std::string resolve_output_path(std::string_view option, const std::string& path);

/// Write `contents` to `path` atomically (a temporary file in the same directory, fsync, rename):
/// used by every writer of the library. Refuses what resolve_output_path refuses.
/// @throws denseam::invalid_argument for a path that must not be replaced,
///         denseam::backend_error when writing fails (the previous file, if any, is intact).
void write_file_atomic(const std::string& path, std::span<const std::byte> contents);
void write_file_atomic(const std::string& path, std::string_view contents);

/// Receives the consecutive pieces of a streamed file (write_file_atomic below).
using byte_sink = std::function<void(std::span<const std::byte>)>;

/// Streams a file of `total_bytes` bytes to `path` atomically: `produce(sink)` passes the
/// contents to `sink` piece by piece (so a large file never needs a second copy in memory);
/// they go to a hidden temporary file beside the target (space reserved up front where the file
/// system can), which is fsynced, renamed over the target, and the directory fsynced. If
/// `produce` or a write throws, the temporary file is removed and the target is left as it was
/// (a process killed midway leaves the target intact, and at worst a hidden temporary file).
/// @throws denseam::invalid_argument for a path that must not be replaced (resolve_output_path,
///         before anything is written), denseam::backend_error when writing fails,
///         std::logic_error when `produce` gives another number of bytes than `total_bytes`,
///         and whatever `produce` throws.
void write_file_atomic(const std::string& path,
                       std::int64_t total_bytes,
                       const std::function<void(const byte_sink&)>& produce);

/// The files one command reads and writes. Every declaration is checked at once against the
/// rules above and against the files declared before it, so a command declares its files,
/// then computes, then sets and commits its outputs: bad paths fail before any work and before
/// any file is touched.
class file_plan {
  public:
    /// A file the command reads; no output may be the same file.
    void input(std::string_view option, const std::string& path);
    /// A file replaced at commit() with what set() gives it (an output never set is left alone).
    void output(std::string_view option, const std::string& path);
    /// A file the command appends to or that another program writes (JSON Lines results, figures):
    /// the same checks, but commit() does not write it.
    void external_output(std::string_view option, const std::string& path);
    /// A folder of outputs, created (with its parents) at commit() if missing; outputs declared
    /// inside it afterwards may be in a folder that does not exist yet.
    void output_dir(std::string_view option, const std::string& path);

    void set(const std::string& path, std::vector<std::byte> contents);
    void set(const std::string& path, std::string_view text);

    /// Writes every output that was set: all temporaries first, then the renames; if anything
    /// fails, the targets are left as they were (renamed ones are restored) and
    /// denseam::backend_error names the file.
    void commit();

    /// The path a declared output's contents go to (after following a symbolic link).
    const std::string& target(const std::string& path) const;

  private:
    struct entry {
        std::string option, path, target, canonical;
        bool exists = false;
        unsigned long long dev = 0, ino = 0;
        enum class kind { input, output, external, dir } what = kind::input;
        bool has_contents = false;
        std::vector<std::byte> contents;
    };
    void add(entry e);
    void declare(std::string_view option, const std::string& path, bool external);
    entry* find_output(const std::string& path);
    const entry* find_output(const std::string& path) const;
    std::vector<entry> entries_;
};

}  // namespace denseam::detail
