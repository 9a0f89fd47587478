// SPDX-License-Identifier: MIT
// The pieces of the `denseam._denseam` extension: one registration function per capability
// (called from module.cpp) and the shared calls that the Memory class reuses.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>

#include "denseam/kernels.hpp"
#include "numpy_views.hpp"

namespace denseam::python {

namespace py = pybind11;

void register_energy(py::module_& m);     // energy_bindings.cpp
void register_retrieval(py::module_& m);  // retrieval_bindings.cpp
void register_memory(py::module_& m);     // memory_bindings.cpp
void register_minima(py::module_& m);     // minima_bindings.cpp
void register_gmm(py::module_& m);        // gmm_bindings.cpp

/// energy_params from the Python keywords; parses the names and validates (ValueError).
energy_params make_params(
    const std::string& kernel, double beta, double eps, const std::string& q, int degree);

/// Python spelling of a double, e.g. 2.5, 1e-08 (repr of a float).
std::string float_repr(double v);

/// What an energy call returns.
enum class energy_output { energy, grad, both };

/// The energy call shared by the free functions and Memory: picks float32 or float64 from the
/// inputs' dtypes, releases the GIL and honours Ctrl-C. Returns E (B,), G (B, d) or (E, G).
py::object energy_call(const input_array& memories,
                       const input_array& queries,
                       const energy_params& params,
                       energy_output what,
                       int n_threads);

/// The keyword arguments of retrieve() that are not energy parameters.
struct retrieve_kwargs {
    std::string method;
    std::int64_t steps = 0;
    py::object lr;
    std::optional<double> lr_end;
    double tol = 0.0;
    py::object clamp, noise;
    std::optional<double> noise_end;
    py::object beta_schedule;
    std::uint64_t seed = 0;
    std::string precision = "state";
    int n_threads = 0;
};

/// The retrieval shared by denseam.retrieve and Memory.retrieve; returns a RetrievalResult.
py::object retrieve_call(const input_array& memories,
                         const input_array& queries,
                         const energy_params& params,
                         const retrieve_kwargs& kw);

}  // namespace denseam::python
