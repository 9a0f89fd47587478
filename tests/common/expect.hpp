// SPDX-License-Identifier: MIT
// Shared assertion for the error-path tests: `fn` must throw denseam::invalid_argument whose
// message contains `fragment`.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "denseam/error.hpp"

template <class Fn>
void expect_invalid(Fn&& fn, const std::string& fragment) {
    try {
        fn();
        ADD_FAILURE() << "expected denseam::invalid_argument containing '" << fragment << "'";
    } catch (const denseam::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}
