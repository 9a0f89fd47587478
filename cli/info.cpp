// SPDX-License-Identifier: MIT
// `denseam info FILE.npy [--json]`: what a .npy file holds and whether it is usable (finite).
#include <charconv>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common.hpp"
#include "io/format.hpp"

namespace denseam::cli {

namespace {

struct array_stats {
    std::int64_t n_nan = 0;
    std::int64_t n_posinf = 0;
    std::int64_t n_neginf = 0;
    std::optional<double> min, max;  // over the finite entries; the value as stored
    std::string min_text, max_text;  // shortest text that reads back to the stored value
};

template <class T>
std::string shortest(T v) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof(buf), v);
    return std::string(buf, res.ptr);
}

template <class T>
array_stats stats_of(std::span<const T> v) {
    array_stats s;
    bool any = false;
    T lo = 0, hi = 0;
    for (const T x : v) {
        if (std::isnan(x)) {
            ++s.n_nan;
        } else if (std::isinf(x)) {
            ++(x > 0 ? s.n_posinf : s.n_neginf);
        } else if (!any) {
            lo = hi = x;
            any = true;
        } else {
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
    }
    if (any) {
        // A float32 value is reported by its shortest float32 text (0.1, not 0.100000001...).
        s.min_text = shortest(lo);
        s.max_text = shortest(hi);
        s.min = std::stod(s.min_text);
        s.max = std::stod(s.max_text);
    }
    return s;
}

int run_info(const std::string& path, bool json) {
    const npy_array a = read_npy(path);
    const array_stats s = a.is_float32 ? stats_of<float>(a.f32) : stats_of<double>(a.f64);
    const std::int64_t n_inf = s.n_posinf + s.n_neginf;
    const bool all_finite = s.n_nan == 0 && n_inf == 0;
    const char* dtype = a.is_float32 ? "float32" : "float64";
    if (json) {
        nlohmann::ordered_json j;  // fields in a reading order, not sorted
        j["file"] = path;
        j["descr"] = a.descr;
        j["dtype"] = dtype;
        j["shape"] = a.shape;
        j["ndim"] = a.shape.size();
        j["size"] = a.size();
        j["nan_count"] = s.n_nan;
        j["inf_count"] = n_inf;
        j["posinf_count"] = s.n_posinf;
        j["neginf_count"] = s.n_neginf;
        j["all_finite"] = all_finite;
        j["min"] = s.min ? nlohmann::ordered_json(*s.min) : nlohmann::ordered_json(nullptr);
        j["max"] = s.max ? nlohmann::ordered_json(*s.max) : nlohmann::ordered_json(nullptr);
        std::cout << j.dump(2) << std::endl;  // same layout as print_json
        return exit_ok;
    }
    std::string inf = std::to_string(n_inf);
    if (n_inf > 0)
        inf +=
            " (+inf " + std::to_string(s.n_posinf) + ", -inf " + std::to_string(s.n_neginf) + ")";
    std::cout << "file:       " << path << "\n"
              << "descr:      " << a.descr << "\n"
              << "dtype:      " << dtype << "\n"
              << "shape:      " << detail::format_shape(a.shape) << "\n"
              << "elements:   " << a.size() << "\n"
              << "nan:        " << s.n_nan << "\n"
              << "inf:        " << inf << "\n"
              << "all finite: " << (all_finite ? "yes" : "no") << "\n"
              << "min:        " << (s.min ? s.min_text : "-") << "\n"
              << "max:        " << (s.max ? s.max_text : "-") << std::endl;
    return exit_ok;
}

}  // namespace

run_fn add_info(CLI::App& sub) {
    struct info_args {
        std::string path;
        bool json = false;
    };
    auto args = std::make_shared<info_args>();
    sub.add_option("file",
                   args->path,
                   "A .npy file (versions 1.0-3.0; float16/32/64, int, uint or bool; C or "
                   "Fortran order; either byte order)")
        ->required();
    sub.add_flag("--json",
                 args->json,
                 "Print one JSON object: file, descr, dtype, shape, ndim, size, nan_count, "
                 "inf_count, posinf_count, neginf_count, all_finite, min, max (finite entries; "
                 "null if none)");
    sub.footer(
        "Min and max are over the finite entries. Integer and bool files load as float64, "
        "float16 as float32.\n"
        "Exit status: 0 when the file was read (even if it holds NaN or Inf), 2 when it cannot "
        "be read or is not a supported .npy file.\n\n"
        "Example:\n"
        "  $ python3 -c \"import numpy as np; np.save('m.npy', np.eye(3))\"\n"
        "  $ denseam info m.npy\n"
        "  file:       m.npy\n"
        "  descr:      <f8\n"
        "  dtype:      float64\n"
        "  shape:      (3, 3)\n"
        "  elements:   9\n"
        "  nan:        0\n"
        "  inf:        0\n"
        "  all finite: yes\n"
        "  min:        0\n"
        "  max:        1\n");
    return [args] { return run_info(args->path, args->json); };
}

}  // namespace denseam::cli
