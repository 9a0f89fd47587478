// SPDX-License-Identifier: MIT
// The `denseam._denseam` extension: exception mapping and the registration of every binding
// file (one per capability).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <exception>

#include "bindings.hpp"
#include "denseam/error.hpp"
#include "denseam/kernels.hpp"
#include "denseam/version.hpp"

PYBIND11_MODULE(_denseam, m) {
    namespace py = pybind11;
    namespace dp = denseam::python;
    m.doc() =
        "denseam: Dense Associative Memories (LSE, LSR/Epanechnikov and other kernels) - the "
        "compiled core. Use the `denseam` package, which re-exports everything here.";
    m.attr("__version__") = DENSEAM_VERSION_STRING;

    // denseam::interrupted derives from std::runtime_error, so it is matched first.
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const denseam::interrupted& e) {
            PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
        } catch (const denseam::invalid_argument& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        } catch (const denseam::backend_error& e) {
            PyErr_SetString(PyExc_RuntimeError, e.what());
        }
    });

    m.def("kernel_names",
          &denseam::kernel_names,
          "Names of the kernels accepted by `kernel=`, in the library's order.");

    dp::register_energy(m);
    dp::register_retrieval(m);
    dp::register_memory(m);
    dp::register_minima(m);
    dp::register_gmm(m);
    dp::register_images(m);
    dp::register_vae(m);
    dp::register_features(m);
    dp::register_clam(m);
    dp::register_index(m);
}
