// SPDX-License-Identifier: MIT
// denseam: exception types thrown at the public boundary.
#pragma once

#include <stdexcept>
#include <string>

namespace denseam {

/// Bad input: shapes, NaN/Inf, beta <= 0, empty memory set, unknown names, bad files.
/// Python: ValueError. CLI: exit code 2.
class invalid_argument : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

/// A backend (BLAS, CUDA, MPI) failed or is not available. Python: RuntimeError. CLI: exit 1.
class backend_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A long computation was stopped by the caller's interrupt callback (exec_options::interrupt).
/// Outputs are left untouched or partially written; no other state is changed.
class interrupted : public std::runtime_error {
  public:
    interrupted() : std::runtime_error("interrupted") {}
};

}  // namespace denseam
