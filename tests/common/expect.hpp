// SPDX-License-Identifier: MIT
// Shared assertions for the error-path tests: the exception type and fragments of its message.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <string>
#include <vector>

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

/// `f` must throw E (exactly that type or a subclass) whose message contains every fragment.
template <class E, class F>
void expect_throw_msg(F&& f, const std::vector<std::string>& fragments) {
    try {
        f();
        ADD_FAILURE() << "no exception";
    } catch (const E& e) {
        const std::string msg = e.what();
        for (const auto& frag : fragments)
            EXPECT_NE(msg.find(frag), std::string::npos) << "missing '" << frag << "' in: " << msg;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "wrong exception type: " << e.what();
    }
}
