// Config tests: the one error a YAML text is rejected with, as
// "file:line:col: error: message" (file "t.yaml"). Header-only, for the unit
// tests of every config section.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"

namespace xdpd::test {

// Adds a test failure when the text loads, or fails with more than one error.
inline std::string only_error(const std::string& yaml) {
    try {
        config::load_string(yaml, "t.yaml");
    } catch (const config::ConfigError& e) {
        EXPECT_EQ(e.diagnostics.size(), 1u) << e.what();
        return e.diagnostics.empty() ? "" : e.diagnostics[0].str();
    }
    ADD_FAILURE() << "config loaded:\n" << yaml;
    return "";
}

}  // namespace xdpd::test
