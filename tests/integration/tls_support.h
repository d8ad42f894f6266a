// Shared by the TLS and HTTP/2 integration tests: certificates made with `openssl req`, and
// running a shell pipeline (openssl s_client, nghttp, h2load, testssl) for its output.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace ne::itest {

// A self-signed P-256 certificate for `name` (also its subjectAltName) in <dir>/<file>.pem and
// <dir>/<file>.key, with O=`org` so that a test can tell two certificates apart.
inline void make_cert(const std::string& dir, const std::string& file, const std::string& name,
                      const std::string& org = "nodeedge") {
    const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -keyout " +
                            dir + "/" + file + ".key -out " + dir + "/" + file + ".pem -subj '/O=" + org + "/CN=" + name +
                            "' -addext subjectAltName=DNS:" + name + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// curl arguments that send requests for `host` to 127.0.0.1:`port` (SNI and Host stay `host`).
inline std::string curl_resolve(const std::string& host, int port) {
    return " --resolve " + host + ":" + std::to_string(port) + ":127.0.0.1 ";
}

// Stdout of `cmd` (run by /bin/sh); add 2>&1 to get stderr too.
inline std::string shell_output(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
}

}  // namespace ne::itest
