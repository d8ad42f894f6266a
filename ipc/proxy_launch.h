// What a proxy worker inherits from the master across exec, and the command line that carries
// it (`nodeedge __proxy-worker --channel 3 ...`). The master writes it and the worker reads it
// with these two functions, so the two ends cannot drift apart. Descriptor numbers are the
// child's: the master dup2()s each inherited descriptor onto the number named here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ipc/result.h"

namespace ne::ipc {

// The hidden verb: the first argument after the executable.
inline constexpr std::string_view kProxyWorkerVerb = "__proxy-worker";

// The note of a descriptor sent down the log socket that is not an access log but a new
// master's channel: a proxy worker whose master died keeps serving, and the daemon that adopts
// it (supervisor/takeover.h) talks to it from then on through this one. Access-log notes are
// absolute paths or empty, so they cannot be mistaken for it.
inline constexpr std::string_view kNewChannelNote = "@channel";

// -1: not inherited.
struct ProxyLaunch {
    struct Listener {
        std::string address;   // "127.0.0.1:8080", as in [[servers]] listen
        int fd = -1;           // bound and listening (the master opened it)
        bool operator==(const Listener&) const = default;
    };

    int channel_fd = -1;                // the master's channel (ipc/channel.h); required
    int log_socket = -1;                // the access log's descriptor comes through it (ipc/fd_passing.h)
    std::vector<Listener> listeners;
    // memfds every proxy worker maps, so their state survives a worker's crash
    int rate_limit_zone = -1;
    int cache_zone = -1;                // the response cache's index
    int tls_sessions_zone = -1;

    bool operator==(const ProxyLaunch&) const = default;
};

// The arguments after the executable, the verb first.
std::vector<std::string> to_argv(const ProxyLaunch& launch);
// The reverse of to_argv, from the arguments after the executable; the error names the
// argument that is wrong.
Result<ProxyLaunch> proxy_launch_from_argv(const std::vector<std::string>& args);

}  // namespace ne::ipc
