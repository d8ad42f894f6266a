// Master <-> proxy worker messages. One definition, encoded and decoded by the same code on
// both ends. Each frame is a JSON object {"v": kVersion, "type": "...", ...fields}; an unknown
// version or type is refused loudly rather than guessed at.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "ipc/result.h"

namespace ne::ipc {

constexpr int kVersion = 1;

// master -> proxy: the routing configuration (servers, locations, upstreams, [proxy]),
// as produced by config::to_json(). Sent first, and again on every config change; it applies
// to new requests only.
struct ProxyConfig {
    nlohmann::json config;
};

// master -> proxy: a worker of `app` is ready and may receive requests. `id` is unique for the
// daemon's life (a replacement worker gets a new id even on the same port).
struct BackendAdd {
    uint64_t id = 0;
    std::string app;
    int instance = 0;
    std::string host = "127.0.0.1";
    int port = 0;
};

// master -> proxy: send no new request to backend `id`; close its idle connections; reply
// DrainDone once nothing is in flight to it (at once if nothing is).
struct BackendDrain {
    uint64_t id = 0;
};

// master -> proxy: backend `id` is gone (exited, or drained and stopped). Forget it; requests
// still in flight to it fail (and may be retried elsewhere).
struct BackendRemove {
    uint64_t id = 0;
};

// proxy -> master: no request is in flight to draining backend `id` in this proxy worker.
struct DrainDone {
    uint64_t id = 0;
};

// proxy -> master, about once a second: counters for `status` and metrics.
struct Stats {
    int pid = 0;
    uint64_t connections = 0;    // open client connections now
    uint64_t requests = 0;       // requests served since start (monotonic)
};

// master -> proxy: stop accepting, finish in-flight requests, exit.
struct Quit {};

using Message = std::variant<ProxyConfig, BackendAdd, BackendDrain, BackendRemove, DrainDone, Stats, Quit>;

std::string encode(const Message& m);
Result<Message> decode(std::string_view payload);

}  // namespace ne::ipc
