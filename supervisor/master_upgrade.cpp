// `nodeedge upgrade`: the daemon replaces its own program in place (execve: same pid, still the
// parent of every worker). Before it does, the new binary must prove that it starts and reads
// the state (probe_binary); a new program that then fails to take over runs the old one again
// (fexecve of the descriptor kept to it), which takes over the same state. Either program
// reports the outcome through `ping` (supervisor/upgrade_state.h).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>

#include "ipc/control.h"
#include "ipc/version.h"
#include "supervisor/master.h"

extern char** environ;

namespace ne::supervisor {

using ipc::control::fail;
using ipc::control::ok;
using nlohmann::json;

namespace {

constexpr std::chrono::seconds kProbeDeadline{3};

bool set_cloexec(int fd, bool on) {
    int flags = ::fcntl(fd, F_GETFD);
    return flags >= 0 && ::fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC) == 0;
}

std::string running_binary(const std::string& exe) {
    // A package that replaced the file leaves /proc/self/exe pointing at "<path> (deleted)":
    // the path now holds the new binary, which is what upgrade runs by default.
    const std::string deleted = " (deleted)";
    if (exe.size() > deleted.size() && exe.compare(exe.size() - deleted.size(), deleted.size(), deleted) == 0)
        return exe.substr(0, exe.size() - deleted.size());
    return exe;
}

}  // namespace


void Master::upgrade(const std::string& binary_arg, std::function<void(const json&)> reply) {
    for (auto& a : apps_)
        for (Worker* w : a->workers())
            if (w->pid() > 0 && !up(w->state())) {
                reply(fail("upgrade: " + w->label() + " is " + to_string(w->state()) +
                           "; try again once every worker is online or stopped"));
                return;
            }
    if (!pending_.empty()) {
        reply(fail("upgrade: another command is in progress; try again once it has answered"));
        return;
    }
    const std::string binary = binary_arg.empty() ? running_binary(exe_) : binary_arg;
    if (::access(binary.c_str(), X_OK) != 0) {
        reply(fail(Error::from_errno("upgrade: " + binary).message));
        return;
    }
    // The old program, kept open for a rollback even if a package replaces its file.
    UniqueFd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!self) {
        reply(fail(Error::from_errno("upgrade: open /proc/self/exe").message));
        return;
    }
    UpgradeState state;
    state.id = static_cast<uint64_t>(::time(nullptr)) * 1000 + (next_id_ % 1000);
    state.from_version = ipc::version();
    state.from_binary = running_binary(exe_);
    state.exe_fd = self.get();
    for (auto& a : apps_)
        for (Worker* w : a->workers())
            if (w->pid() > 0) state.workers.push_back(db_row(*w));
    state.proxies = proxy_->records();
    auto memfd = write_upgrade_state(state);
    if (!memfd) {
        reply(fail(memfd.error().message));
        return;
    }
    auto version = probe_binary(binary, memfd->get(), kProbeDeadline);
    if (!version) {
        spdlog::error("upgrade refused: {}", version.error().message);
        reply(fail("upgrade: " + version.error().message + "; the daemon (pid " + std::to_string(::getpid()) +
                   ") still runs " + ipc::version() + ", every worker untouched"));
        return;
    }
    spdlog::info("upgrade: {} reads the state (version {}); replacing this program", binary, *version);
    upgrade_exe_ = std::move(self);
    upgrade_state_ = std::move(*memfd);
    upgrade_binary_ = binary;
    reply(ok({{"id", state.id}, {"pid", ::getpid()}, {"from", ipc::version()}, {"to", *version}}));
    // The reply leaves on the loop; the exec happens once it has had a moment to go.
    upgrade_timer_.reset(evtimer_new(base_.get(), on_upgrade_timer, this));
    timeval soon{0, 100000};
    evtimer_add(upgrade_timer_.get(), &soon);
    upgrade_id_ = state.id;
}

void Master::on_upgrade_timer(evutil_socket_t, short, void* self) { static_cast<Master*>(self)->exec_upgrade(); }

void Master::exec_upgrade() {
    set_cloexec(upgrade_exe_.get(), false);
    set_cloexec(upgrade_state_.get(), false);
    ::setenv(kUpgradeStateEnv, std::to_string(upgrade_state_.get()).c_str(), 1);
    ::setenv(kUpgradeExeEnv, std::to_string(upgrade_exe_.get()).c_str(), 1);
    ::unsetenv(kUpgradeFailedEnv);
    std::vector<std::string> args = upgrade_daemon_argv(upgrade_binary_, log_format_);
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    spdlog::info("upgrade: execve {}", upgrade_binary_);
    ::execve(upgrade_binary_.c_str(), argv.data(), environ);
    // Still the old program, untouched: say so to whoever asks.
    Error e = Error::from_errno("execve " + upgrade_binary_);
    spdlog::error("upgrade: {}", e.message);
    ::unsetenv(kUpgradeStateEnv);
    ::unsetenv(kUpgradeExeEnv);
    upgrade_outcome_ = {{"id", upgrade_id_}, {"ok", false}, {"error", e.message}};
    upgrade_exe_.reset();
    upgrade_state_.reset();
}

void Master::taken_over_by_upgrade(UpgradeState state, const std::string& failed) {
    takeover_from_upgrade_ = true;
    upgrade_id_ = state.id;
    if (failed.empty())
        upgrade_outcome_ = {{"id", state.id}, {"ok", true}, {"from", state.from_version}, {"to", ipc::version()}};
    else
        upgrade_outcome_ = {{"id", state.id}, {"ok", false}, {"error", failed}, {"version", ipc::version()}};
    takeover_.workers = std::move(state.workers);
    takeover_.proxies = std::move(state.proxies);
}

}  // namespace ne::supervisor
