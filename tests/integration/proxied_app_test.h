// A fixture for tests of one app behind one proxy listener: their config template names the
// app's port ${PORT} and the listener's ${LISTEN}; the fixture picks both and starts the daemon.
#pragma once

#include <map>
#include <string>

#include "integration/harness.h"

namespace ne::itest {

class ProxiedAppTest : public IntegrationTest {
protected:
    // Writes ecosystem.toml from `tmpl` (${PORT}, ${LISTEN} and `vars`) and runs `nodeedge start`
    // on it; a fatal test failure, with start's output, if it does not succeed. ${PORT} is the
    // first of `app_ports` free ports in a row, one for each instance of the app.
    void start(const std::string& tmpl, std::map<std::string, std::string> vars = {}, int app_ports = 1) {
        app_port_ = free_port_range(app_ports);
        listen_ = free_port();
        vars["PORT"] = std::to_string(app_port_);
        vars["LISTEN"] = std::to_string(listen_);
        RunResult r = run("start", write_file("ecosystem.toml", tmpl, vars));
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }

    int app_port_ = 0;
    int listen_ = 0;
};

}  // namespace ne::itest
