// SPDX-License-Identifier: MIT
// A temporary folder for one test, removed with everything in it at the end of its scope.
#pragma once

#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace test_support {

struct temp_dir {
    std::filesystem::path path;

    /// A new folder <temp>/<prefix>_XXXXXX.
    explicit temp_dir(const std::string& prefix = "denseam_test") {
        std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }

    /// The path of `name` inside the folder.
    std::string file(const std::string& name) const { return (path / name).string(); }

    /// The names in the folder, sorted.
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        for (const auto& e : std::filesystem::directory_iterator(path))
            out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
    std::size_t count_entries() const { return entries().size(); }
};

}  // namespace test_support
