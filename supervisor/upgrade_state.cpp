#include "supervisor/upgrade_state.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "ipc/version.h"

namespace ne::supervisor {

using nlohmann::json;

namespace {

constexpr const char* kUpgradeFormat = "nodeedge-upgrade-state";

json row_json(const WorkerRow& r) {
    return {{"id", r.id},       {"app", r.app},         {"instance", r.instance},
            {"pid", r.pid},     {"start_ticks", r.start_ticks}, {"port", r.port},
            {"status", r.status}, {"restarts", r.restarts}, {"started_at_ms", r.started_at_ms}};
}

WorkerRow row_from(const json& j) {
    WorkerRow r;
    r.id = j.at("id").get<uint64_t>();
    r.app = j.at("app").get<std::string>();
    r.instance = j.at("instance").get<int>();
    r.pid = j.at("pid").get<int>();
    r.start_ticks = j.at("start_ticks").get<unsigned long long>();
    r.port = j.at("port").get<int>();
    r.status = j.at("status").get<std::string>();
    r.restarts = j.at("restarts").get<int>();
    r.started_at_ms = j.at("started_at_ms").get<int64_t>();
    return r;
}

}  // namespace

Result<UniqueFd> write_upgrade_state(const UpgradeState& s) {
    json workers = json::array();
    for (auto& r : s.workers) workers.push_back(row_json(r));
    json j{{"format", kUpgradeFormat},       {"v", kUpgradeStateVersion},
           {"id", s.id},                     {"from_version", s.from_version},
           {"from_binary", s.from_binary},   {"exe_fd", s.exe_fd},
           {"workers", workers},             {"proxies", proxy_records_json(s.proxies)}};
    std::string text = j.dump();
    UniqueFd fd(::memfd_create("nodeedge-upgrade-state", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) return Error::from_errno("upgrade: memfd_create");
    if (::pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
        return Error::from_errno("upgrade: write the state");
    // Read-only from here on: the new program and the rollback read the very same bytes.
    (void)::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    return fd;
}

Result<UpgradeState> read_upgrade_state(int fd) {
    std::string text;
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, off);
        if (n < 0) return Error::from_errno("upgrade state: read descriptor " + std::to_string(fd));
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
        off += n;
    }
    json j = json::parse(text, nullptr, false);
    if (!j.is_object() || j.value("format", "") != kUpgradeFormat)
        return Error{"upgrade state: descriptor " + std::to_string(fd) + " holds no nodeedge upgrade state"};
    if (j.value("v", 0) != kUpgradeStateVersion)
        return Error{"upgrade state: version " + std::to_string(j.value("v", 0)) + ", this program reads version " +
                     std::to_string(kUpgradeStateVersion)};
    try {
        UpgradeState s;
        s.id = j.at("id").get<uint64_t>();
        s.from_version = j.at("from_version").get<std::string>();
        s.from_binary = j.at("from_binary").get<std::string>();
        s.exe_fd = j.at("exe_fd").get<int>();
        for (auto& w : j.at("workers")) s.workers.push_back(row_from(w));
        s.proxies = proxy_records_from_json(j.at("proxies"));
        return s;
    } catch (const json::exception& e) {
        return Error{std::string("upgrade state: ") + e.what()};
    }
}

Result<std::string> probe_binary(const std::string& binary, int state_fd, std::chrono::milliseconds deadline) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return Error::from_errno("upgrade: pipe");
    UniqueFd out_r(out[0]), out_w(out[1]);
    std::string verb(kUpgradeProbeVerb);
    char* argv[] = {const_cast<char*>(binary.c_str()), verb.data(), nullptr};
    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno("upgrade: fork");
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        ::setpgid(0, 0);   // a script's children go with it on a timeout
        ::dup2(state_fd, 3);
        ::dup2(out_w.get(), 1);
        ::close_range(4, ~0U, 0);
        ::execv(binary.c_str(), argv);
        _exit(127);
    }
    out_w.reset();
    std::string said;
    auto until = std::chrono::steady_clock::now() + deadline;
    bool eof = false;
    while (!eof) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{out_r.get(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[256];
        ssize_t n = ::read(out_r.get(), buf, sizeof buf);
        if (n <= 0) eof = true;
        else said.append(buf, static_cast<size_t>(n));
    }
    int status = 0;
    if (!eof) {
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return Error{binary + " did not read its state within " + std::to_string(deadline.count()) + " ms"};
    }
    ::waitpid(pid, &status, 0);
    while (!said.empty() && (said.back() == '\n' || said.back() == '\r')) said.pop_back();
    if (said.rfind("ok ", 0) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) return said.substr(3);
    std::string how = WIFEXITED(status) ? "exited with code " + std::to_string(WEXITSTATUS(status))
                                        : "was killed by signal " + std::to_string(WTERMSIG(status));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && said.empty()) how = "could not be run";
    return Error{binary + " " + how + (said.empty() ? " without reading its state" : ": " + said)};
}

std::vector<std::string> upgrade_daemon_argv(const std::string& binary, const std::string& log_format) {
    std::vector<std::string> argv{binary, "daemon", "--foreground"};
    if (!log_format.empty()) argv.insert(argv.end(), {"--log-format", log_format});
    return argv;
}

int run_upgrade_probe() {
    auto s = read_upgrade_state(3);
    if (!s) {
        std::printf("%s\n", s.error().message.c_str());
        return 1;
    }
    std::printf("ok %s\n", ipc::version().c_str());
    return 0;
}

}  // namespace ne::supervisor
