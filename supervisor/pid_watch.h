// Exit of a process that may not be the daemon's child: one adopted from a daemon that died
// (it was reparented to init or to a subreaper, so SIGCHLD never reaches us). A pidfd
// (pidfd_open) becomes readable when the process exits, whoever its parent is; the watch then
// reaps it if it is our child after all (a daemon that replaced itself by execve keeps its
// children) so that the status is known, and says "unknown" otherwise.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>

#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

class PidWatch {
public:
    // status: the wait status, or nullopt when the process was not our child.
    using OnExit = std::function<void(pid_t pid, std::optional<int> status)>;
    static Result<std::unique_ptr<PidWatch>> open(event_base* base, pid_t pid, OnExit on_exit);

private:
    PidWatch(pid_t pid, UniqueFd fd, OnExit on_exit) : pid_(pid), fd_(std::move(fd)), on_exit_(std::move(on_exit)) {}
    static void on_readable(evutil_socket_t, short, void* self);
    pid_t pid_;
    UniqueFd fd_;
    OnExit on_exit_;
    EventPtr ev_;
};

}  // namespace ne::supervisor
