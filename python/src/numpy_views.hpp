// SPDX-License-Identifier: MIT
// NumPy arrays in and out of the library: array-likes -> matrix_view (no copy when possible),
// std::vector -> ndarray (no copy), and the interruptible, GIL-free call wrapper.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/exec.hpp"
#include "denseam/matrix_view.hpp"

namespace denseam::python {

namespace py = pybind11;

/// "(3, 4)", "(5,)": a shape written as Python writes tuples.
inline std::string shape_string(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) {
        if (i > 0) s += ", ";
        s += std::to_string(a.shape(i));
    }
    if (a.ndim() == 1) s += ",";
    return s + ")";
}

inline std::string dtype_string(const py::array& a) {
    return py::str(a.dtype()).cast<std::string>();
}

/// A user-supplied array-like, converted (without copying) to an ndarray, checked to be 2-D and
/// of a real numeric dtype. `name` ("memories", "queries") names it in error messages.
struct input_array {
    py::array array;
    std::string name;

    bool is_float32() const { return array.dtype().kind() == 'f' && array.dtype().itemsize() == 4; }
    std::int64_t rows() const { return array.shape(0); }
    std::int64_t cols() const { return array.shape(1); }
};

/// np.asarray(obj) with the checks every public function needs; ValueError names the shape or
/// dtype at fault. `shape_hint` is the expected shape, e.g. "(n_memories, dim)".
inline input_array as_input(const py::handle& obj,
                            const std::string& name,
                            const char* shape_hint) {
    py::array a = py::module_::import("numpy").attr("asarray")(obj);
    const char kind = a.dtype().kind();
    if (kind == 'c')
        throw py::value_error(name + " has complex dtype " + dtype_string(a) +
                              "; denseam needs real numbers");
    if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
        throw py::value_error(name + " has dtype " + dtype_string(a) +
                              "; expected a real numeric array (float32, float64, int or bool)");
    if (a.ndim() != 2)
        throw py::value_error(name + " must be a 2-D array of shape " + shape_hint +
                              ", got an array of shape " + shape_string(a));
    return {std::move(a), name};
}

/// True when float32 is the computation dtype: both inputs are float32 (any other combination,
/// including float32 with float64 or with integers, computes in float64).
inline bool use_float32(const input_array& a, const input_array& b) {
    return a.is_float32() && b.is_float32();
}

template <class T>
bool has_native_dtype(const py::array& a) {
    const py::dtype dt = a.dtype();
    constexpr char native = std::endian::native == std::endian::little ? '<' : '>';
    return dt.num() == py::dtype::of<T>().num() &&
           (dt.byteorder() == '=' || dt.byteorder() == '|' || dt.byteorder() == native) &&
           (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0;
}

/// A read-only matrix view of an input, and the array that owns its data.
template <class T>
struct matrix_arg {
    py::array owner;
    matrix_view<const T> view;
};

/// View `in` as a row-major matrix of T. No copy when the dtype is already T (native byte order,
/// aligned) and rows are unit-stride with a positive row stride; otherwise one C-contiguous copy.
template <class T>
matrix_arg<T> as_matrix(const input_array& in) {
    using c_array = py::array_t<T, py::array::c_style | py::array::forcecast>;
    py::array a = in.array;
    auto layout_ok = [](const py::array& x) {
        const auto isz = static_cast<py::ssize_t>(sizeof(T));
        const py::ssize_t rows = x.shape(0), cols = x.shape(1);
        const bool cols_ok = cols <= 1 || x.strides(1) == isz;
        const bool rows_ok = rows <= 1 || (x.strides(0) > 0 && x.strides(0) % isz == 0 &&
                                           x.strides(0) / isz >= cols);
        return cols_ok && rows_ok;
    };
    if (!has_native_dtype<T>(a) || !layout_ok(a)) {
        a = c_array::ensure(a);
        if (!a)
            throw py::value_error(in.name + " (dtype " + dtype_string(in.array) +
                                  ") cannot be converted to " +
                                  py::str(py::dtype::of<T>()).cast<std::string>());
    }
    const std::int64_t rows = a.shape(0), cols = a.shape(1);
    const std::int64_t ld =
        rows <= 1 ? cols
                  : static_cast<std::int64_t>(a.strides(0) / static_cast<py::ssize_t>(sizeof(T)));
    const T* data = static_cast<const T*>(a.data());
    return {a, matrix_view<const T>(data, rows, cols, ld)};
}

/// A new C-contiguous (rows x cols) array holding a copy of `v`.
template <class T>
py::array_t<T> copy_to_array(matrix_view<const T> v) {
    py::array_t<T> out({static_cast<py::ssize_t>(v.rows), static_cast<py::ssize_t>(v.cols)});
    T* dst = out.mutable_data();
    for (std::int64_t i = 0; i < v.rows; ++i)
        if (v.cols > 0)
            std::memcpy(dst + i * v.cols, v.row(i), static_cast<std::size_t>(v.cols) * sizeof(T));
    return out;
}

/// Move a vector into a NumPy array of `shape` without copying (the array owns the vector).
template <class T>
py::array_t<T> vector_to_array(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
    auto holder = std::make_unique<std::vector<T>>(std::move(v));
    T* data = holder->data();
    py::capsule owner(holder.get(), [](void* p) { delete static_cast<std::vector<T>*>(p); });
    holder.release();  // the capsule owns it now
    return py::array_t<T>(std::move(shape), data, owner);
}

/// Runs `f(exec)` with the GIL released. exec.interrupt re-acquires the GIL and runs Python's
/// signal handlers, so Ctrl-C (or any handler that raises) stops the library at its next tile
/// boundary; the Python exception (usually KeyboardInterrupt) then propagates unchanged.
template <class F>
void call_without_gil(int n_threads, F&& f) {
    bool python_error = false;
    exec_options exec;
    exec.n_threads = n_threads;
    exec.interrupt = [&python_error]() {
        py::gil_scoped_acquire acquire;
        if (PyErr_CheckSignals() != 0) {
            python_error = true;  // the error indicator stays set in this thread's state
            return true;
        }
        return false;
    };
    try {
        py::gil_scoped_release release;
        f(static_cast<const exec_options&>(exec));
    } catch (...) {
        if (python_error) throw py::error_already_set();
        throw;
    }
    if (python_error) throw py::error_already_set();
}

}  // namespace denseam::python
