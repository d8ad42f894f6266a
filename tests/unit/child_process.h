// Child processes for tests of memory shared between processes (the proxy workers' zones):
// run a body in a fork, start several at once, and read how each one ended.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "ipc/unique_fd.h"

namespace ne::testing {

// Runs `body` in a child process and returns its pid; the child's exit status is body's result.
inline pid_t in_child(const std::function<int()>& body) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(body());
    return pid;
}

// The child's exit status, or 128 + the signal that killed it; -1 when waitpid fails.
inline int wait_exit(pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Holds children back until all exist, so that they really run at the same time.
class StartGate {
public:
    StartGate() {
        int p[2];
        EXPECT_EQ(::pipe(p), 0);
        rd_.reset(p[0]);
        wr_.reset(p[1]);
    }
    bool wait() const {
        char c;
        return ::read(rd_.get(), &c, 1) == 1;
    }
    void open(int waiters) const {
        const std::string go(static_cast<size_t>(waiters), 'g');
        EXPECT_EQ(::write(wr_.get(), go.data(), go.size()), static_cast<ssize_t>(go.size()));
    }

private:
    UniqueFd rd_, wr_;
};

}  // namespace ne::testing
