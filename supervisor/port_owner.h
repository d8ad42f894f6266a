// Who listens on a TCP port, from the kernel's socket tables (/proc/net/tcp and tcp6: the
// daemon's network namespace, which its workers share) and the descriptors in /proc/<pid>/fd.
// "Something accepts on the port" is not readiness: a program that already held a worker's
// port would be taken for the worker and sent its clients. A worker is ready when the listening
// socket is one of its own process tree's descriptors.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ne::supervisor {

// Inodes of the sockets in LISTEN on `port`, on any local address, IPv4 or IPv6.
std::vector<uint64_t> listening_inodes(int port);

// Whether one of `pids` has one of `inodes` among its open descriptors.
bool holds_any(std::span<const pid_t> pids, std::span<const uint64_t> inodes);

struct PortHolder {
    pid_t pid = 0;          // 0: the socket's owner could not be read (another user's process)
    std::string command;    // its command line, spaces between the arguments
};

// The process listening on `port`, nullopt when none listens. Scans every process in /proc:
// for error messages only, never on a timer.
std::optional<PortHolder> port_holder(int port);

// "port 3000 is already in use by pid 4242 (python3 -m http.server 3000)".
std::string port_in_use_message(int port, const PortHolder& holder);

}  // namespace ne::supervisor
