// A long-running command the test starts and stops itself (`nodeedge daemon --foreground`,
// possibly under `unshare`), with extra environment and its stdout+stderr in a file. The
// destructor SIGKILLs it if the test did not stop it, so nothing outlives a failed test.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace ne::itest {

class ForegroundProcess {
public:
    // argv[0] is searched in PATH; `env` entries ("K=V") are added to (or replace) ours.
    ForegroundProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                      const std::string& output_file) {
        std::vector<std::string> env_strings = env;
        for (char** e = environ; *e; ++e) {
            std::string_view kv(*e);
            bool replaced = false;
            for (const auto& mine : env)
                replaced = replaced || kv.substr(0, kv.find('=') + 1) == std::string_view(mine).substr(0, mine.find('=') + 1);
            if (!replaced) env_strings.emplace_back(kv);
        }
        std::vector<char*> envp, args;
        for (auto& s : env_strings) envp.push_back(s.data());
        envp.push_back(nullptr);
        std::vector<std::string> argv_copy = argv;
        for (auto& s : argv_copy) args.push_back(s.data());
        args.push_back(nullptr);
        int out = ::open(output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::setpgid(0, 0);  // its own group: the test's terminal signals do not reach it
            int devnull = ::open("/dev/null", O_RDONLY);
            if (devnull >= 0) ::dup2(devnull, 0);
            if (out >= 0) {
                ::dup2(out, 1);
                ::dup2(out, 2);
            }
            ::execvpe(args[0], args.data(), envp.data());
            _exit(127);
        }
        if (out >= 0) ::close(out);
    }
    ~ForegroundProcess() {
        if (!exited()) {
            ::kill(-pid_, SIGKILL);
            ::kill(pid_, SIGKILL);
            int st = 0;
            ::waitpid(pid_, &st, 0);
        }
    }
    ForegroundProcess(const ForegroundProcess&) = delete;
    ForegroundProcess& operator=(const ForegroundProcess&) = delete;

    pid_t pid() const { return pid_; }
    // Reaps it if it has exited (without blocking); true once it has.
    bool exited() {
        if (code_ || pid_ <= 0) return true;
        int st = 0;
        if (::waitpid(pid_, &st, WNOHANG) != pid_) return false;
        code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return true;
    }
    // The exit status once exited() (128 + signal when killed).
    std::optional<int> code() const { return code_; }

private:
    pid_t pid_ = -1;
    std::optional<int> code_;
};

}  // namespace ne::itest
