// The fixture of the loader's tests: an ecosystem.toml in a temporary folder beside the files
// validation needs (app.js, a TLS pair), and a check that an error names file:line:col.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "config/load.h"
#include "unit/config_test_dir.h"
#include "unit/tls_test_cert.h"

namespace ne::config::testing {

class LoadTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_.write("app.js", "require('http').createServer().listen(process.env.PORT)\n");
        ASSERT_TRUE(ne::tls_testing::write_test_cert(dir_.file("cert.pem"), dir_.file("key.pem")));
    }

    std::string eco() const { return dir_.file("ecosystem.toml"); }
    Result<Config> load(const std::string& text) const { return load_string(text, eco()); }

    // Loading must fail with exactly "<file>:<line>:<column>: " and a message containing `what`.
    void expect_error(const std::string& text, int line, int column, const std::string& what) const {
        auto c = load(text);
        ASSERT_FALSE(c.ok()) << "loaded:\n" << text;
        const std::string prefix = eco() + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
        EXPECT_EQ(c.error().message.substr(0, prefix.size()), prefix) << c.error().message;
        EXPECT_NE(c.error().message.find(what), std::string::npos)
            << "'" << what << "' not in: " << c.error().message;
    }

    TestDir dir_;
};

// A file that must not load, and where and what its error says.
struct ErrorCase {
    const char* name;
    const char* toml;
    int line;
    int column;
    const char* message;
};

}  // namespace ne::config::testing
