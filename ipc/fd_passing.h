// File descriptors handed from one process to another over a SOCK_SEQPACKET unix socket
// (SCM_RIGHTS): the master opens a file it may alone be allowed to open (as root, in a 0700
// $NODEEDGE_HOME) and a proxy worker that runs as another user writes to it. Each message is one
// note (e.g. the file's path, for the receiver's error messages) and at most one descriptor.
#pragma once

#include <optional>
#include <utility>
#include <string>
#include <string_view>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::ipc {

// A socketpair for send_fd/receive_fd, both ends close-on-exec.
Result<std::pair<UniqueFd, UniqueFd>> fd_socketpair();

// Sends `note` with `fd`, or with no descriptor when `fd` < 0 ("none any more").
Status send_fd(int socket, int fd, std::string_view note);

struct ReceivedFd {
    UniqueFd fd;   // invalid when the sender sent none
    std::string note;
};
// The next message, without waiting: nullopt when none is queued. An error when the peer
// closed its end or the message did not fit (kMaxNote bytes).
Result<std::optional<ReceivedFd>> receive_fd(int socket);

inline constexpr size_t kMaxNote = 4096;

}  // namespace ne::ipc
