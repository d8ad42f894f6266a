#include "supervisor/pid_watch.h"

#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ne::supervisor {

Result<std::unique_ptr<PidWatch>> PidWatch::open(event_base* base, pid_t pid, OnExit on_exit) {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return Error::from_errno("pidfd_open " + std::to_string(pid));
    std::unique_ptr<PidWatch> w(new PidWatch(pid, UniqueFd(fd), std::move(on_exit)));
    w->ev_.reset(event_new(base, fd, EV_READ, on_readable, w.get()));
    event_add(w->ev_.get(), nullptr);
    return w;
}

void PidWatch::on_readable(evutil_socket_t, short, void* self) {
    auto* w = static_cast<PidWatch*>(self);
    int status = 0;
    std::optional<int> known;
    if (::waitpid(w->pid_, &status, WNOHANG) == w->pid_) known = status;
    // The callback may destroy this watch.
    auto cb = w->on_exit_;
    cb(w->pid_, known);
}

}  // namespace ne::supervisor
