// SPDX-License-Identifier: MIT
#include "io/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "denseam/error.hpp"
#include "io/format.hpp"

namespace denseam::detail {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

// "--out 'x.npy'" (or just "'x.npy'" for a library call without an option name).
std::string named(std::string_view option, std::string_view path) {
    return option.empty() ? in_quotes(path) : std::string(option) + " " + in_quotes(path);
}

const char* kind_name(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

std::string parent_of(const std::string& path) {
    const fs::path p(path);
    const fs::path parent = p.parent_path();
    return parent.empty() ? std::string(".") : parent.string();
}

// A hidden, unique sibling of `target`: same directory, hence same file system (atomic rename).
std::string sibling_name(const std::string& target, const char* tag) {
    static std::atomic<unsigned> counter{0};
    const fs::path p(target);
    std::string base = p.filename().string().substr(0, 200);
    const std::string name = "." + base + "." + tag + "." + std::to_string(::getpid()) + "." +
                             std::to_string(counter.fetch_add(1));
    return (p.parent_path() / name).string();
}

// A new hidden temporary sibling of `target`, written piece by piece and flushed to disk; removed
// by its destructor unless release() hands it over (to a rename). Every atomic write of the
// library goes through it.
class temporary_file {
  public:
    explicit temporary_file(std::string target) : target_(std::move(target)) {
        for (int attempt = 0; attempt < 100; ++attempt) {
            path_ = sibling_name(target_, "tmp");
            fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd_ >= 0 || errno != EEXIST) break;
        }
        if (fd_ < 0) fail(errno);
    }
    temporary_file(const temporary_file&) = delete;
    temporary_file& operator=(const temporary_file&) = delete;
    ~temporary_file() {
        if (fd_ >= 0) ::close(fd_);
        if (!path_.empty()) ::unlink(path_.c_str());
    }

    // Reserves `bytes` up front so that a full disk fails before the writing, where the file
    // system supports it (others ignore the request).
    void reserve(std::int64_t bytes) {
        if (bytes <= 0) return;
        const int err = ::posix_fallocate(fd_, 0, static_cast<off_t>(bytes));
        if (err == ENOSPC || err == EFBIG || err == EIO) fail(err);
    }

    void write(std::span<const std::byte> bytes) {
        std::size_t done = 0;
        while (done < bytes.size()) {
            const ssize_t w = ::write(fd_, bytes.data() + done, bytes.size() - done);
            if (w < 0) {
                if (errno == EINTR) continue;
                fail(errno);
            }
            done += static_cast<std::size_t>(w);
        }
    }

    // fsync and close; the file stays until release() or the destructor.
    void finish() {
        if (::fsync(fd_) != 0) fail(errno);
        const int rc = ::close(fd_);
        fd_ = -1;
        if (rc != 0) fail(errno);
    }

    // The finished file's name; the caller now owns (renames or removes) it.
    std::string release() { return std::exchange(path_, std::string()); }

  private:
    [[noreturn]] void fail(int err) const {
        throw backend_error("cannot write " + in_quotes(target_) + ": " + errno_text(err));
    }
    std::string target_, path_;
    int fd_ = -1;
};

// Makes the renames in the directory of `target` durable (a crash after the rename could
// otherwise lose the new name). Best effort: some file systems refuse fsync on a directory.
void sync_directory(const std::string& target) {
    const int fd = ::open(parent_of(target).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

// Writes `contents` to a new temporary sibling of `target`, flushed to disk; returns its name.
std::string write_temporary(const std::string& target, std::span<const std::byte> contents) {
    temporary_file tmp(target);
    tmp.write(contents);
    tmp.finish();
    return tmp.release();
}

}  // namespace

std::string resolve_output_path(std::string_view option, const std::string& path) {
    if (path.empty()) throw invalid_argument(std::string(option) + ": the path is empty");
    if (path.back() == '/')
        throw invalid_argument(named(option, path) + " names a directory, not a file");
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno != ENOENT)
            throw invalid_argument("cannot use " + named(option, path) + ": " + errno_text(errno));
        const std::string dir = parent_of(path);
        struct stat ds {};
        if (::stat(dir.c_str(), &ds) != 0)
            throw invalid_argument(named(option, path) + ": directory " + in_quotes(dir) +
                                   " does not exist");
        if (!S_ISDIR(ds.st_mode))
            throw invalid_argument(named(option, path) + ": " + in_quotes(dir) +
                                   " is not a directory");
        return path;
    }
    std::string target = path;
    if (S_ISLNK(st.st_mode)) {
        std::error_code ec;
        const fs::path resolved = fs::canonical(path, ec);
        if (ec)
            throw invalid_argument(named(option, path) +
                                   " is a symbolic link to a file that does not exist");
        target = resolved.string();
        if (::stat(target.c_str(), &st) != 0)
            throw invalid_argument("cannot use " + named(option, path) + ": " + errno_text(errno));
    }
    if (!S_ISREG(st.st_mode))
        throw invalid_argument(named(option, path) + " is " + kind_name(st.st_mode) +
                               "; denseam replaces only regular files");
    return target;
}

void write_file_atomic(const std::string& path, std::span<const std::byte> contents) {
    file_plan plan;
    plan.output("", path);
    plan.set(path, std::vector<std::byte>(contents.begin(), contents.end()));
    plan.commit();
}

void write_file_atomic(const std::string& path, std::string_view contents) {
    write_file_atomic(path, std::as_bytes(std::span<const char>(contents.data(), contents.size())));
}

void write_file_atomic(const std::string& path,
                       std::int64_t total_bytes,
                       const std::function<void(const byte_sink&)>& produce) {
    const std::string target = resolve_output_path("", path);
    temporary_file tmp(target);
    tmp.reserve(total_bytes);
    std::int64_t written = 0;
    produce([&](std::span<const std::byte> bytes) {
        tmp.write(bytes);
        written += static_cast<std::int64_t>(bytes.size());
    });
    if (written != total_bytes)
        throw std::logic_error("write_file_atomic: " + std::to_string(written) +
                               " bytes produced for " + in_quotes(target) + ", " +
                               std::to_string(total_bytes) + " announced");
    tmp.finish();
    const std::string name = tmp.release();
    if (::rename(name.c_str(), target.c_str()) != 0) {
        const int err = errno;
        ::unlink(name.c_str());
        throw backend_error("cannot write " + in_quotes(path) + ": " + errno_text(err));
    }
    sync_directory(target);
}

void file_plan::add(entry e) {
    struct stat st {};
    const std::string& probe =
        e.what == entry::kind::output || e.what == entry::kind::external ? e.target : e.path;
    if (::stat(probe.c_str(), &st) == 0) {
        e.exists = true;
        e.dev = static_cast<unsigned long long>(st.st_dev);
        e.ino = static_cast<unsigned long long>(st.st_ino);
    }
    std::error_code ec;
    e.canonical = fs::weakly_canonical(fs::absolute(probe, ec), ec).string();
    const auto same = [&](const entry& o) {
        if (e.exists && o.exists) return e.dev == o.dev && e.ino == o.ino;
        return !e.canonical.empty() && e.canonical == o.canonical;
    };
    const bool is_out = e.what != entry::kind::input && e.what != entry::kind::dir;
    for (const entry& o : entries_) {
        if (o.what == entry::kind::dir || e.what == entry::kind::dir || !same(o)) continue;
        const bool o_out = o.what != entry::kind::input;
        if (is_out && !o_out)
            throw invalid_argument(named(e.option, e.path) + " is also the input " +
                                   named(o.option, o.path) +
                                   ": an input is never an output; choose another file");
        if (!is_out && o_out)
            throw invalid_argument(named(o.option, o.path) + " is also the input " +
                                   named(e.option, e.path) +
                                   ": an input is never an output; choose another file");
        if (is_out && o_out)
            throw invalid_argument(named(e.option, e.path) + " and " + named(o.option, o.path) +
                                   " are the same file: each output needs its own");
    }
    entries_.push_back(std::move(e));
}

void file_plan::input(std::string_view option, const std::string& path) {
    entry e;
    e.option = option;
    e.path = path;
    e.target = path;
    e.what = entry::kind::input;
    add(std::move(e));
}

void file_plan::declare(std::string_view option, const std::string& path, bool external) {
    entry e;
    e.option = option;
    e.path = path;
    // In a folder this plan creates: checked at commit(), once the folder exists.
    const fs::path dir = fs::path(parent_of(path)).lexically_normal();
    bool planned_dir = false;
    for (const entry& o : entries_)
        if (o.what == entry::kind::dir && fs::path(o.path).lexically_normal() == dir)
            planned_dir = !fs::exists(dir);
    e.target = planned_dir ? path : resolve_output_path(option, path);
    e.what = external ? entry::kind::external : entry::kind::output;
    add(std::move(e));
}

void file_plan::output(std::string_view option, const std::string& path) {
    declare(option, path, false);
}

void file_plan::external_output(std::string_view option, const std::string& path) {
    declare(option, path, true);
}

void file_plan::output_dir(std::string_view option, const std::string& path) {
    if (path.empty()) throw invalid_argument(std::string(option) + ": the path is empty");
    std::error_code ec;
    // The folder, or its nearest existing ancestor, must be a directory.
    fs::path p = fs::path(path);
    while (!p.empty() && !fs::exists(fs::symlink_status(p, ec))) p = p.parent_path();
    if (!p.empty() && !fs::is_directory(p, ec))
        throw invalid_argument(named(option, path) + ": " + in_quotes(p.string()) +
                               " exists and is not a directory");
    entry e;
    e.option = option;
    e.path = path;
    e.target = path;
    e.what = entry::kind::dir;
    entries_.push_back(std::move(e));
}

file_plan::entry* file_plan::find_output(const std::string& path) {
    for (entry& e : entries_)
        if ((e.what == entry::kind::output || e.what == entry::kind::external) && e.path == path)
            return &e;
    return nullptr;
}

const file_plan::entry* file_plan::find_output(const std::string& path) const {
    for (const entry& e : entries_)
        if ((e.what == entry::kind::output || e.what == entry::kind::external) && e.path == path)
            return &e;
    return nullptr;
}

const std::string& file_plan::target(const std::string& path) const {
    const entry* e = find_output(path);
    if (!e) throw std::logic_error("file_plan: " + path + " was not declared as an output");
    return e->target;
}

void file_plan::set(const std::string& path, std::vector<std::byte> contents) {
    entry* e = find_output(path);
    if (!e || e->what != entry::kind::output)
        throw std::logic_error("file_plan: " + path + " was not declared as an output");
    e->contents = std::move(contents);
    e->has_contents = true;
}

void file_plan::set(const std::string& path, std::string_view text) {
    const auto b = std::as_bytes(std::span<const char>(text.data(), text.size()));
    set(path, std::vector<std::byte>(b.begin(), b.end()));
}

void file_plan::commit() {
    for (const entry& e : entries_) {
        if (e.what != entry::kind::dir) continue;
        std::error_code ec;
        fs::create_directories(e.path, ec);
        if (ec)
            throw backend_error("cannot create " + named(e.option, e.path) + ": " + ec.message());
    }
    std::vector<entry*> todo;
    for (entry& e : entries_) {
        const bool out = e.what == entry::kind::output && e.has_contents;
        // Outputs in a folder created just now are resolved (and checked) only now.
        if ((out || e.what == entry::kind::external) && e.target == e.path)
            e.target = resolve_output_path(e.option, e.path);
        if (out) todo.push_back(&e);
    }
    // 1. Every temporary, or none.
    std::vector<std::string> temps;
    try {
        for (entry* e : todo) temps.push_back(write_temporary(e->target, e->contents));
    } catch (...) {
        for (const auto& t : temps) ::unlink(t.c_str());
        throw;
    }
    // 2. With more than one output, hard-link backups of the files about to be replaced, so that
    //    a failed rename can restore the ones already renamed (one rename is atomic by itself).
    std::vector<std::string> backups(todo.size());
    if (todo.size() > 1)
        for (std::size_t i = 0; i < todo.size(); ++i) {
            const std::string b = sibling_name(todo[i]->target, "bak");
            if (::link(todo[i]->target.c_str(), b.c_str()) == 0) backups[i] = b;
        }
    // 3. The renames.
    for (std::size_t i = 0; i < todo.size(); ++i) {
        if (::rename(temps[i].c_str(), todo[i]->target.c_str()) == 0) continue;
        const int err = errno;
        for (std::size_t j = 0; j < i; ++j) {
            if (!backups[j].empty())
                ::rename(backups[j].c_str(), todo[j]->target.c_str());
            else if (!todo[j]->exists)
                ::unlink(todo[j]->target.c_str());
        }
        for (std::size_t j = i; j < todo.size(); ++j) ::unlink(temps[j].c_str());
        for (std::size_t j = i; j < todo.size(); ++j)
            if (!backups[j].empty()) ::unlink(backups[j].c_str());
        throw backend_error("cannot write " + in_quotes(todo[i]->path) + ": " + errno_text(err) +
                            " (no output was changed)");
    }
    for (const auto& b : backups)
        if (!b.empty()) ::unlink(b.c_str());
    for (entry* e : todo) sync_directory(e->target);
    for (entry* e : todo) {
        e->exists = true;
        e->has_contents = false;
        e->contents.clear();
    }
}

}  // namespace denseam::detail
