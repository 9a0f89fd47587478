// SPDX-License-Identifier: MIT
// Pieces shared by the CLI's image commands (images.cpp, drdam_study.cpp): where the images come
// from, and .npy / path helpers for their output folders.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common.hpp"
#include "denseam/datasets.hpp"
#include "denseam/npy.hpp"
#include "io/files.hpp"

namespace denseam::cli {

/// Where a command's images come from: a named data set or --images X.npy [--shape H,W].
struct image_source {
    std::string dataset;
    std::string split = "train";
    std::string images;
    std::vector<std::int64_t> shape;

    void declare(CLI::App& sub, const std::string& default_dataset) {
        dataset = default_dataset;
        sub.add_option("--dataset", dataset, "fashion-mnist, mnist-digits or sklearn-digits")
            ->capture_default_str();
        sub.add_option("--split", split, "train or test (fashion-mnist)")->capture_default_str();
        sub.add_option(
            "--images", images, "Your own images: an (N x H*W) .npy (overrides --dataset)");
        sub.add_option("--shape", shape, "H,W of --images (default: square)")->delimiter(',');
    }

    image_set load(detail::file_plan& files) const {
        if (images.empty()) {
            if (!shape.empty()) throw invalid_argument("--shape applies to --images only");
            return load_dataset(dataset, split);
        }
        files.input("--images", images);
        if (!shape.empty() && shape.size() != 2)
            throw invalid_argument("--shape: expected H,W (two numbers)");
        const loaded_matrix m = load_matrix(images, "--images");
        const auto h = shape.empty() ? 0 : shape[0], w = shape.empty() ? 0 : shape[1];
        return make_image_set(as_f64(m), m.rows(), m.cols(), h, w, "--images " + images);
    }
};

inline std::vector<std::byte> npy_bytes(const std::vector<double>& v,
                                        std::int64_t rows,
                                        std::int64_t cols) {
    const std::int64_t shape[2] = {rows, cols};
    return to_npy_bytes(v, shape);
}

inline std::string path_in(const std::string& dir, const std::string& name) {
    return (std::filesystem::path(dir) / name).string();
}

inline std::vector<float> as_float(const std::vector<double>& v) {
    return std::vector<float>(v.begin(), v.end());
}

inline std::vector<std::byte> npy_bytes_f32(const std::vector<float>& v,
                                            std::int64_t rows,
                                            std::int64_t cols) {
    const std::int64_t shape[2] = {rows, cols};
    return to_npy_bytes(std::span<const float>(v), shape);
}

inline bool show_progress(bool forced, bool off) {
    return !off && (forced || isatty(STDERR_FILENO));
}

}  // namespace denseam::cli
