#include "supervisor/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <map>
#include <string_view>

#include "supervisor/credentials.h"
#include "supervisor/memory.h"

extern char** environ;

namespace ne::supervisor {

namespace {

// What the child writes to the error pipe when it cannot exec.
struct ChildFailure {
    enum Stage : int { kStdio, kUser, kChdir, kExec } stage;
    int err;
};

// A NULL-terminated char* array over strings that outlive it, built before fork because the
// child may not allocate.
class CArray {
public:
    explicit CArray(const std::vector<std::string>& v) {
        ptrs_.reserve(v.size() + 1);
        for (const auto& s : v) ptrs_.push_back(const_cast<char*>(s.c_str()));
        ptrs_.push_back(nullptr);
    }
    char* const* get() const { return ptrs_.data(); }
    size_t size() const { return ptrs_.size() - 1; }

private:
    std::vector<char*> ptrs_;
};

std::string_view env_value(const std::vector<std::string>& env, std::string_view key) {
    for (const auto& kv : env) {
        if (kv.size() > key.size() && kv.compare(0, key.size(), key) == 0 && kv[key.size()] == '=')
            return std::string_view(kv).substr(key.size() + 1);
    }
    return {};
}

// The paths execvp would try, in order: exe itself when it names a path, else exe in each
// PATH folder ("" means the current folder). PATH is the child's, as the user set it.
std::vector<std::string> exec_candidates(const SpawnSpec& spec) {
    if (spec.exe.find('/') != std::string::npos) return {spec.exe};
    std::string_view path = env_value(spec.env, "PATH");
    if (path.empty()) path = "/usr/local/bin:/usr/bin:/bin";
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t colon = path.find(':', start);
        std::string_view dir = path.substr(start, colon == std::string_view::npos ? path.npos : colon - start);
        out.push_back((dir.empty() ? std::string(".") : std::string(dir)) + "/" + spec.exe);
        if (colon == std::string_view::npos) break;
        start = colon + 1;
    }
    return out;
}

// spec.env with Node's channel variables set exactly when we hand over a channel: a daemon
// that was itself started by node must not pass its own NODE_CHANNEL_FD on to workers. A
// worker run as another user gets that user's HOME, USER and LOGNAME, not the daemon's.
std::vector<std::string> child_env(const SpawnSpec& spec, const std::optional<Credentials>& as) {
    std::vector<std::string> env;
    env.reserve(spec.env.size() + 5);
    for (const auto& kv : spec.env) {
        if (kv.starts_with("NODE_CHANNEL_FD=") || kv.starts_with("NODE_CHANNEL_SERIALIZATION_MODE="))
            continue;
        if (as && !as->user.empty() && (kv.starts_with("HOME=") || kv.starts_with("USER=") || kv.starts_with("LOGNAME=")))
            continue;
        env.push_back(kv);
    }
    if (as && !as->user.empty()) {
        env.push_back("HOME=" + as->home);
        env.push_back("USER=" + as->user);
        env.push_back("LOGNAME=" + as->user);
    }
    if (spec.node_ipc) {
        env.push_back("NODE_CHANNEL_FD=3");
        env.push_back("NODE_CHANNEL_SERIALIZATION_MODE=json");
    }
    return env;
}

struct ChildFds {
    int stdin_fd, stdout_fd, stderr_fd, ipc_fd;  // ipc_fd -1 when there is no channel
    int report_fd;
};

[[noreturn]] void fail_child(int report_fd, ChildFailure::Stage stage) {
    ChildFailure f{stage, errno};
    // One write below PIPE_BUF is atomic; if it fails there is no one left to tell.
    [[maybe_unused]] ssize_t n = ::write(report_fd, &f, sizeof f);
    _exit(127);
}

// Runs in the forked child: async-signal-safe calls only, everything was prepared before fork.
[[noreturn]] void run_child(const ChildFds& fds, const Credentials* as, const char* cwd,
                            const CArray& candidates, const CArray& argv, const CArray& envp) {
    // Handlers are reset by exec anyway, but ignored signals and the mask are inherited.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);

    setsid();

    // Lift every source above the targets first, so that dup2 onto 0..3 cannot clobber a
    // source that happens to sit there (the copies are close-on-exec, the targets are not).
    const int sources[] = {fds.stdin_fd, fds.stdout_fd, fds.stderr_fd, fds.ipc_fd};
    int high[4];
    for (int i = 0; i < 4; ++i) {
        high[i] = sources[i] < 0 ? -1 : fcntl(sources[i], F_DUPFD_CLOEXEC, 10);
        if (sources[i] >= 0 && high[i] < 0) fail_child(fds.report_fd, ChildFailure::kStdio);
    }
    for (int i = 0; i < 4; ++i) {
        if (high[i] >= 0 && dup2(high[i], i) < 0) fail_child(fds.report_fd, ChildFailure::kStdio);
    }
    // Whatever else the daemon holds without O_CLOEXEC (a library's fd, say) stays with it.
    close_range(fds.ipc_fd >= 0 ? 4 : 3, ~0U, CLOSE_RANGE_CLOEXEC);

    // Before chdir and exec, so that the user's own permissions decide both.
    if (as && !switch_to(*as)) fail_child(fds.report_fd, ChildFailure::kUser);
    if (*cwd != '\0' && chdir(cwd) != 0) fail_child(fds.report_fd, ChildFailure::kChdir);

    // execvp's search: a missing or inaccessible candidate moves on to the next; EACCES is
    // reported only if nothing else worked, as the shell does.
    bool saw_eacces = false;
    for (size_t i = 0; i < candidates.size(); ++i) {
        execve(candidates.get()[i], argv.get(), envp.get());
        if (errno == EACCES) saw_eacces = true;
        else if (errno != ENOENT && errno != ENOTDIR) break;
    }
    if (saw_eacces && (errno == ENOENT || errno == ENOTDIR)) errno = EACCES;
    fail_child(fds.report_fd, ChildFailure::kExec);
}

Status set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return Error::from_errno("fcntl O_NONBLOCK");
    return {};
}

// The child's failure report, or nullopt once exec closed the pipe.
std::optional<ChildFailure> read_report(int fd) {
    ChildFailure f{};
    for (;;) {
        ssize_t n = ::read(fd, &f, sizeof f);
        if (n < 0 && errno == EINTR) continue;
        if (n == static_cast<ssize_t>(sizeof f)) return f;
        return std::nullopt;
    }
}

Error failure_error(const ChildFailure& f, const SpawnSpec& spec) {
    switch (f.stage) {
    case ChildFailure::kUser:
        return Error::from_errno("run as user " + (spec.user.empty() ? "(daemon's)" : spec.user) +
                                     (spec.group.empty() ? "" : " group " + spec.group) +
                                     (f.err == EPERM ? " (needs a daemon started as root)" : ""),
                                 f.err);
    case ChildFailure::kChdir: return Error::from_errno("chdir " + spec.cwd, f.err);
    case ChildFailure::kExec: return Error::from_errno("exec " + spec.exe, f.err);
    case ChildFailure::kStdio: break;
    }
    return Error::from_errno("exec " + spec.exe + ": set up stdio", f.err);
}

void reap(pid_t pid) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace

constexpr int kPipeBytes = 1 << 20;

Result<Spawned> spawn(const SpawnSpec& spec) {
    if (spec.exe.empty() || spec.argv.empty()) return Error{"exec: empty command"};

    int out_pipe[2], err_pipe[2], report_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) return Error::from_errno("exec " + spec.exe + ": pipe");
    UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
    if (pipe2(err_pipe, O_CLOEXEC) != 0) return Error::from_errno("exec " + spec.exe + ": pipe");
    UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
    // What a worker writes while no daemon reads (it died; the keeper holds the read ends)
    // waits here until the next daemon adopts the worker; past it, the worker's writes block.
    // 1 MiB is the unprivileged limit (fs.pipe-max-size); a refusal keeps the 64 KiB default.
    for (int fd : {out_r.get(), err_r.get()}) (void)::fcntl(fd, F_SETPIPE_SZ, kPipeBytes);
    if (pipe2(report_pipe, O_CLOEXEC) != 0) return Error::from_errno("exec " + spec.exe + ": pipe");
    UniqueFd report_r(report_pipe[0]), report_w(report_pipe[1]);
    UniqueFd ipc_parent, ipc_child;
    if (spec.node_ipc) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            return Error::from_errno("exec " + spec.exe + ": socketpair");
        ipc_parent.reset(sv[0]);
        ipc_child.reset(sv[1]);
    }
    UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!dev_null) return Error::from_errno("exec " + spec.exe + ": open /dev/null");
    for (int fd : {out_r.get(), err_r.get(), ipc_parent.get()}) {
        if (fd < 0) continue;
        if (auto st = set_nonblocking(fd); !st) return st.error().wrap("exec " + spec.exe);
    }

    auto as = resolve_credentials(spec.user, spec.group);
    if (!as) return as.error();
    const std::vector<std::string> candidates = exec_candidates(spec);
    const std::vector<std::string> env = child_env(spec, *as);
    const CArray candidates_c(candidates), argv_c(spec.argv), envp_c(env);
    const ChildFds fds{dev_null.get(), out_w.get(), err_w.get(), spec.node_ipc ? ipc_child.get() : -1,
                       report_w.get()};

    // Block every signal across fork so that no handler of the daemon (libevent writes to its
    // signal socketpair) runs in the child before the child resets the dispositions.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0) run_child(fds, *as ? &**as : nullptr, spec.cwd.c_str(), candidates_c, argv_c, envp_c);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return Error::from_errno("exec " + spec.exe + ": fork", fork_errno);

    // Our copies of the child's ends must go, or the report pipe never reaches EOF and the
    // stdout/stderr pipes never report the worker gone.
    report_w.reset();
    out_w.reset();
    err_w.reset();
    ipc_child.reset();
    if (auto failure = read_report(report_r.get())) {
        reap(pid);
        return failure_error(*failure, spec);
    }

    Spawned s;
    s.pid = pid;
    s.start_ticks = process_start_ticks(pid);
    s.out = std::move(out_r);
    s.err = std::move(err_r);
    s.ipc = std::move(ipc_parent);
    return s;
}

namespace {

// PM2's increment_var: the variable's value (0 when unset or not a number) plus the instance.
std::string incremented(const std::string& base, int instance) {
    long long n = 0;
    auto [end, ec] = std::from_chars(base.data(), base.data() + base.size(), n);
    if (ec != std::errc() || end != base.data() + base.size()) n = 0;  // JS: Number(x) || 0
    return std::to_string(n + instance);
}

}  // namespace

SpawnSpec worker_spec(const config::App& app, int instance, int port) {
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv = *e;
        auto eq = kv.find('=');
        if (eq != std::string_view::npos) env[std::string(kv.substr(0, eq))] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : app.env) env[k] = v;
    if (!app.increment_var.empty()) env[app.increment_var] = incremented(env[app.increment_var], instance);
    env["PORT"] = std::to_string(port);
    env["NODE_APP_INSTANCE"] = std::to_string(instance);
    env["name"] = app.name;
    env["NODEEDGE_APP"] = app.name;
    env["NODEEDGE_INSTANCE"] = std::to_string(instance);

    SpawnSpec spec;
    spec.cwd = app.cwd;
    spec.user = app.user;
    spec.group = app.group;
    for (const auto& [k, v] : env) spec.env.push_back(k + "=" + v);
    if (app.interpreter == "none") {
        spec.exe = app.script;
        spec.argv.push_back(app.script);
    } else {
        spec.exe = app.interpreter;
        spec.argv.push_back(app.interpreter);
        spec.argv.insert(spec.argv.end(), app.node_args.begin(), app.node_args.end());
        spec.argv.push_back(app.script);
    }
    spec.argv.insert(spec.argv.end(), app.args.begin(), app.args.end());
    spec.node_ipc = app.interpreter != "none" || app.wait_ready;
    return spec;
}

unsigned long long process_start_ticks(pid_t pid) {
    auto st = read_proc_stat(pid);
    return st ? st->start_ticks : 0;
}

}  // namespace ne::supervisor
