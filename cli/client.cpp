#include "cli/client.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "cli/tail.h"
#include "ipc/channel.h"
#include "ipc/control.h"
#include "ipc/unique_fd.h"

extern char** environ;

namespace ne::cli {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr auto kDaemonStartTimeout = 10s;
constexpr auto kRetryEvery = 50ms;
constexpr size_t kLogLinesInError = 3;

// A connected socket, or an empty UniqueFd when no daemon listens there: no socket file, or
// a stale one left by a daemon that died (connection refused).
Result<UniqueFd> connect_unix(const std::string& path, int type = SOCK_STREAM) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path)
        return Error{"control socket path too long: " + path + " (set NODEEDGE_HOME to a shorter folder)"};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, path.size());
    UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno("socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
    if (errno == ENOENT || errno == ECONNREFUSED) return UniqueFd{};
    return Error::from_errno("connect " + path);
}

Result<json> exchange(int fd, const json& request, const std::string& home) {
    // A daemon that refuses a caller answers and closes at once, so the request may meet a
    // closed socket (EPIPE); its answer is still there to read, and says more than EPIPE.
    Status sent = ipc::write_frame(fd, request.dump());
    auto payload = ipc::read_frame(fd);
    if (!sent && !payload) return sent.error();
    if (!payload) {
        if (payload.error().message == "closed")
            return Error{"the daemon closed the connection without replying (see " +
                         ipc::control::daemon_log_path(home) + ")"};
        return payload.error();
    }
    json reply = json::parse(*payload, nullptr, false);
    if (reply.is_discarded() || !reply.is_object()) return Error{"the daemon's reply is not a JSON object"};
    if (auto ok = reply.find("ok"); ok == reply.end() || *ok != true) {
        auto it = reply.find("error");
        return Error{it != reply.end() && it->is_string() ? it->get<std::string>()
                                                          : "the daemon refused without a reason"};
    }
    return reply;
}

Status make_home(const std::string& home) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(home).parent_path(), ec);
    if (ec) return Error{"create " + home + ": " + ec.message()};
    // Only the owner may reach the socket and the state (SPEC: dir 0700).
    if (::mkdir(home.c_str(), 0700) != 0 && errno != EEXIST) return Error::from_errno("create " + home);
    return {};
}

// This very binary, as `nodeedge daemon`, with stdout/stderr appended to daemon.log so that
// anything it says before its logger is up is where the error message points.
Result<pid_t> spawn_daemon(const std::string& home) {
    std::string log_path = ipc::control::daemon_log_path(home);
    UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (!log) return Error::from_errno("open " + log_path);

    // The daemon may change directory: it gets the absolute home whatever the CLI was given.
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        if (std::string_view(*e).rfind("NODEEDGE_HOME=", 0) != 0) env.emplace_back(*e);
    }
    env.push_back("NODEEDGE_HOME=" + home);
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    char arg0[] = "nodeedge";
    char arg1[] = "daemon";
    char* argv[] = {arg0, arg1, nullptr};

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, log.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, log.get(), STDERR_FILENO);
    pid_t pid = -1;
    int err = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (err != 0) return Error::from_errno("start the daemon (/proc/self/exe daemon)", err);
    return pid;
}

std::string exit_text(int status) {
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

// "; daemon.log: a | b | c" from what the new daemon wrote, so the one error line says why.
std::string log_excerpt(FileFollower& log) {
    auto lines = log.poll();
    if (lines.empty()) return "; nothing in " + log.path();
    size_t first = lines.size() > kLogLinesInError ? lines.size() - kLogLinesInError : 0;
    std::string out = "; " + log.path() + ": ";
    for (size_t i = first; i < lines.size(); ++i) out += (i > first ? " | " : "") + lines[i];
    return out;
}

}  // namespace

std::string resolve_home() {
    auto p = std::filesystem::absolute(ipc::control::home_dir()).lexically_normal();
    std::string s = p.string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

Client::Client(std::string home) : home_(std::move(home)), socket_path_(ipc::control::socket_path(home_)) {}

Result<std::optional<json>> Client::call_if_running(const json& request) const {
    auto fd = connect_unix(socket_path_);
    if (!fd) return fd.error();
    if (!fd->valid()) return std::optional<json>{};
    auto reply = exchange(fd->get(), request, home_);
    if (!reply) return reply.error();
    return std::optional<json>{std::move(*reply)};
}

Error no_daemon_error(const std::string& home) {
    auto keeper = connect_unix(ipc::control::keeper_socket_path(home), SOCK_SEQPACKET);
    if (!keeper || !keeper->valid())
        return Error{"no daemon running (nodeedge start launches it)", Error::Kind::no_daemon};
    std::string pid;
    if (std::FILE* f = std::fopen(ipc::control::pid_path(home).c_str(), "r")) {
        char buf[32] = {};
        if (std::fgets(buf, sizeof buf, f)) pid = std::string(buf).substr(0, std::string(buf).find('\n'));
        std::fclose(f);
    }
    return Error{"the daemon is gone" + (pid.empty() ? std::string() : " (pid " + pid + " died)") +
                     "; its proxy workers and apps keep serving, unsupervised. `nodeedge resurrect` (or "
                     "`nodeedge start`, or systemd's Restart=) starts a daemon that adopts them (see " +
                     ipc::control::daemon_log_path(home) + " for how it ended)",
                 Error::Kind::no_daemon};
}

Result<json> Client::call(const json& request) const {
    auto reply = call_if_running(request);
    if (!reply) return reply.error();
    if (!*reply) return no_daemon_error(home_);
    return std::move(**reply);
}

Result<json> Client::call_starting_daemon(const json& request) const {
    auto reply = call_if_running(request);
    if (!reply) return reply.error();
    if (*reply) return std::move(**reply);
    if (auto s = start_daemon(); !s) return s.error();
    return call(request);
}

Status Client::start_daemon() const {
    if (auto s = make_home(home_); !s) return s;
    FileFollower log(ipc::control::daemon_log_path(home_));  // from here on: this daemon's words
    auto pid = spawn_daemon(home_);
    if (!pid) return pid.error();

    // The child daemonizes (forks and exits 0) or, if it fails first, exits non-zero.
    bool reaped = false;
    auto deadline = std::chrono::steady_clock::now() + kDaemonStartTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto fd = connect_unix(socket_path_);
        if (!fd) return fd.error();
        if (fd->valid()) return {};
        int status = 0;
        if (!reaped && ::waitpid(*pid, &status, WNOHANG) == *pid) {
            reaped = true;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return Error{"the daemon failed to start (" + exit_text(status) + ")" + log_excerpt(log)};
        }
        std::this_thread::sleep_for(kRetryEvery);
    }
    return Error{"the daemon did not open " + socket_path_ + " within 10 s" + log_excerpt(log)};
}

Status Client::wait_until_gone(std::chrono::milliseconds timeout) const {
    // The socket closes first; the daemon then still stops its apps and writes state.db. The
    // daemon holds an flock on daemon.pid for its whole life, so the lock tells when it is gone.
    const std::string pid_path = ipc::control::pid_path(home_);
    UniqueFd pid_file(::open(pid_path.c_str(), O_RDONLY | O_CLOEXEC));
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (!pid_file || ::flock(pid_file.get(), LOCK_SH | LOCK_NB) == 0) return {};
        if (std::chrono::steady_clock::now() >= deadline)
            return Error{"the daemon still holds " + pid_path + " " + std::to_string(timeout.count()) + " ms after kill"};
        std::this_thread::sleep_for(kRetryEvery);
    }
}

}  // namespace ne::cli
