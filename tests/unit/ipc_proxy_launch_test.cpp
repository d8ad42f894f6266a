#include <gtest/gtest.h>

#include "ipc/proxy_launch.h"

using ne::ipc::ProxyLaunch;
using ne::ipc::proxy_launch_from_argv;
using ne::ipc::to_argv;

namespace {

std::string joined(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
    return s;
}

}  // namespace

TEST(IpcProxyLaunch, RoundTrips) {
    const ProxyLaunch launches[] = {
        {.channel_fd = 3},
        {.channel_fd = 3, .log_socket = 4},
        {.channel_fd = 3, .log_socket = 4, .listeners = {{"127.0.0.1:8080", 5}, {"[::1]:8443", 6}}},
        {.channel_fd = 3, .listeners = {{"localhost:80", 12}}, .rate_limit_zone = 7, .cache_zone = 8,
         .tls_sessions_zone = 9},
        {.channel_fd = 0, .cache_zone = 0},
        // Only the last '=' splits, so no address text is cut short.
        {.channel_fd = 3, .listeners = {{"a=b:80", 5}}},
    };
    for (const auto& launch : launches) {
        auto args = to_argv(launch);
        auto back = proxy_launch_from_argv(args);
        ASSERT_TRUE(back.ok()) << joined(args) << ": " << back.error().message;
        EXPECT_EQ(*back, launch) << joined(args);
    }
}

// What `ps` shows for a proxy worker, and what every earlier nodeedge wrote.
TEST(IpcProxyLaunch, WritesTheMastersCommandLine) {
    ProxyLaunch launch{.channel_fd = 3, .log_socket = 4, .listeners = {{"127.0.0.1:8080", 5}, {"[::1]:8443", 6}},
                       .rate_limit_zone = 7, .cache_zone = 8, .tls_sessions_zone = 9};
    EXPECT_EQ(joined(to_argv(launch)),
              "__proxy-worker --channel 3 --log-socket 4 --listen 127.0.0.1:8080=5 --listen [::1]:8443=6 "
              "--zone 7 --cache-zone 8 --tls-sessions 9");
    // Zones the master could not create are left out: the worker runs without them.
    EXPECT_EQ(joined(to_argv({.channel_fd = 3, .log_socket = 4})), "__proxy-worker --channel 3 --log-socket 4");
}

TEST(IpcProxyLaunch, RefusesBadArguments) {
    const struct {
        std::vector<std::string> args;
        std::string error;
    } rows[] = {
        {{}, "expected __proxy-worker first, got ''"},
        {{"start", "--channel", "3"}, "expected __proxy-worker first, got 'start'"},
        {{"__proxy-worker"}, "__proxy-worker: --channel is required"},
        {{"__proxy-worker", "--listen", "a:1=5"}, "__proxy-worker: --channel is required"},
        {{"__proxy-worker", "--channel"}, "__proxy-worker: --channel needs a value"},
        {{"__proxy-worker", "--channel", "x"}, "__proxy-worker: --channel expects a descriptor number, got 'x'"},
        {{"__proxy-worker", "--channel", "-1"}, "__proxy-worker: --channel expects a descriptor number, got '-1'"},
        {{"__proxy-worker", "--channel", "3x"}, "__proxy-worker: --channel expects a descriptor number, got '3x'"},
        {{"__proxy-worker", "--channel", ""}, "__proxy-worker: --channel expects a descriptor number, got ''"},
        {{"__proxy-worker", "--channel", "3", "--channel", "4"}, "__proxy-worker: --channel given twice"},
        {{"__proxy-worker", "--channel", "3", "--zone", "99999999999"},
         "__proxy-worker: --zone expects a descriptor number, got '99999999999'"},
        {{"__proxy-worker", "--channel", "3", "--port", "80"}, "__proxy-worker: unknown argument '--port'"},
        {{"__proxy-worker", "--channel", "3", "--listen", "127.0.0.1:8080"},
         "__proxy-worker: --listen expects ADDR=FD, got '127.0.0.1:8080'"},
        {{"__proxy-worker", "--channel", "3", "--listen", "127.0.0.1:8080="},
         "__proxy-worker: --listen expects ADDR=FD, got '127.0.0.1:8080='"},
        {{"__proxy-worker", "--channel", "3", "--listen", "=5"}, "__proxy-worker: --listen expects ADDR=FD, got '=5'"},
        {{"__proxy-worker", "--channel", "3", "--listen", "a=5x"}, "__proxy-worker: --listen expects ADDR=FD, got 'a=5x'"},
        {{"__proxy-worker", "--channel", "3", "--listen", "a=-1"}, "__proxy-worker: --listen expects ADDR=FD, got 'a=-1'"},
    };
    for (const auto& row : rows) {
        auto r = proxy_launch_from_argv(row.args);
        ASSERT_FALSE(r.ok()) << joined(row.args);
        EXPECT_EQ(r.error().message, row.error) << joined(row.args);
    }
}
