// Cross-field checks on a whole Config (also on the daemon's merge of several files, or after
// `start -i N` / `--port` overrides): duplicate app or upstream names, app port ranges (their
// own and their reload ranges) that overlap each other, leave 1-65535, or take a [[servers]]
// listen port on a loopback or wildcard address; two catch-all servers, or one server_name,
// on one listen address from two different files; TLS and plain servers on one listen
// address; locations naming an unknown app or
// upstream; scripts that do not exist; TLS
// settings that config/tls.h refuses (unreadable or mismatched cert/key, bad protocols). The first problem found is
// returned as "<item's where>: message" (just "message" for items without a position).
#pragma once

#include "config/config.h"
#include "ipc/result.h"

namespace ne::config {

// `cpus` resolves "max"/-K instance counts for the port-range checks.
Status validate(const Config& c, int cpus);

// The ports app `a` owns when it runs `instances` workers: [port, port + instances), and
// [reload_base, reload_base + instances) that rolling-reload replacements alternate onto.
struct PortRange { int first; int last; };
PortRange app_port_range(const App& a, int instances);
PortRange app_reload_range(const App& a, int instances);

}  // namespace ne::config
