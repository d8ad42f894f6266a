// spawn() with real programs: what the child gets (stdio, env, session, signals, fds) and the
// errors a failed chdir or exec turns into. worker_spec() as plain data.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "supervisor/credentials.h"
#include "supervisor/spawn.h"

extern char** environ;

namespace ne::supervisor {
namespace {

std::vector<std::string> inherited_env() {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    return env;
}

SpawnSpec command(std::vector<std::string> argv) {
    SpawnSpec s;
    s.exe = argv.at(0);
    s.argv = std::move(argv);
    s.env = inherited_env();
    return s;
}

SpawnSpec shell(const std::string& script) { return command({"sh", "-c", script}); }

// Everything the (non-blocking) fd yields until EOF.
std::string read_to_eof(int fd) {
    std::string out;
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        poll(&p, 1, -1);
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) out.append(buf, static_cast<size_t>(n));
        else if (n == 0 || errno != EAGAIN) return out;
    }
}

int exit_code(pid_t pid) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs a spec to completion; its stdout.
std::string run(const SpawnSpec& spec) {
    auto s = spawn(spec);
    EXPECT_TRUE(s.ok()) << s.error().message;
    if (!s) return {};
    std::string out = read_to_eof(s->out.get());
    EXPECT_EQ(exit_code(s->pid), 0);
    return out;
}

TEST(Spawn, StdoutStderrAndEnvironment) {
    auto spec = shell("echo \"$GREETING\"; echo oops >&2");
    spec.env.push_back("GREETING=hello");
    auto s = spawn(spec);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_GT(s->start_ticks, 0u);
    EXPECT_EQ(read_to_eof(s->out.get()), "hello\n");
    EXPECT_EQ(read_to_eof(s->err.get()), "oops\n");
    EXPECT_EQ(exit_code(s->pid), 0);
    EXPECT_EQ(process_start_ticks(s->pid), 0u);  // reaped
}

TEST(Spawn, ReadEndsAreNonBlockingAndCloseOnExec) {
    auto s = spawn(shell("exit 0"));
    ASSERT_TRUE(s.ok()) << s.error().message;
    for (int fd : {s->out.get(), s->err.get()}) {
        EXPECT_TRUE(fcntl(fd, F_GETFL) & O_NONBLOCK);
        EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    }
    EXPECT_FALSE(s->ipc.valid());
    EXPECT_EQ(exit_code(s->pid), 0);
}

TEST(Spawn, StdinIsDevNull) { EXPECT_EQ(run(command({"readlink", "/proc/self/fd/0"})), "/dev/null\n"); }

TEST(Spawn, ChildLeadsItsOwnSession) {
    auto s = spawn(command({"cat", "/proc/self/stat"}));
    ASSERT_TRUE(s.ok()) << s.error().message;
    std::string stat = read_to_eof(s->out.get());
    EXPECT_EQ(exit_code(s->pid), 0);
    // After the command name: state ppid pgrp session.
    std::istringstream rest(stat.substr(stat.rfind(')') + 1));
    std::string state;
    pid_t ppid = 0, pgrp = 0, session = 0;
    rest >> state >> ppid >> pgrp >> session;
    EXPECT_EQ(ppid, getpid());
    EXPECT_EQ(pgrp, s->pid);
    EXPECT_EQ(session, s->pid);
}

TEST(Spawn, SignalMaskAndIgnoredSignalsAreReset) {
    sigset_t usr1, old_mask;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &old_mask);
    struct sigaction ignore {}, old_action {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGUSR2, &ignore, &old_action);

    std::string status = run(command({"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"}));

    sigaction(SIGUSR2, &old_action, nullptr);
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    EXPECT_EQ(status, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

TEST(Spawn, OnlyStdioReachesTheChild) {
    UniqueFd leaky(dup(STDERR_FILENO));  // dup() does not set close-on-exec
    ASSERT_TRUE(leaky.valid());
    const std::string fd = std::to_string(leaky.get());
    EXPECT_EQ(run(shell("[ -e /proc/$$/fd/" + fd + " ] && echo leaked || echo clean")), "clean\n");
}

TEST(Spawn, NodeIpcChannelIsFd3) {
    auto spec = shell("echo \"$NODE_CHANNEL_FD $NODE_CHANNEL_SERIALIZATION_MODE\"; echo hi >&3");
    spec.node_ipc = true;
    auto s = spawn(spec);
    ASSERT_TRUE(s.ok()) << s.error().message;
    ASSERT_TRUE(s->ipc.valid());
    EXPECT_TRUE(fcntl(s->ipc.get(), F_GETFL) & O_NONBLOCK);
    EXPECT_EQ(read_to_eof(s->out.get()), "3 json\n");
    EXPECT_EQ(read_to_eof(s->ipc.get()), "hi\n");
    EXPECT_EQ(exit_code(s->pid), 0);
}

TEST(Spawn, NoChannelVariablesWithoutAChannel) {
    auto spec = shell("echo \"[${NODE_CHANNEL_FD-unset}]\"; [ -e /proc/$$/fd/3 ] && echo fd3 || echo no-fd3");
    spec.env.push_back("NODE_CHANNEL_FD=3");  // as if the daemon had been started by node
    EXPECT_EQ(run(spec), "[unset]\nno-fd3\n");
}

TEST(Spawn, RunsInCwdAndSearchesThePathOfItsEnv) {
    const std::string dir = ::testing::TempDir();
    auto spec = shell("pwd");
    spec.cwd = dir;
    std::string out = run(spec);
    EXPECT_EQ(std::filesystem::canonical(out.substr(0, out.size() - 1)), std::filesystem::canonical(dir));

    auto hidden = shell("exit 0");
    std::erase_if(hidden.env, [](const std::string& kv) { return kv.starts_with("PATH="); });
    hidden.env.push_back("PATH=/nonexistent-ne-dir");
    auto s = spawn(hidden);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, "exec sh: No such file or directory");
}

TEST(Spawn, MissingExecutableIsAnError) {
    auto s = spawn(command({"nodeedge-no-such-program"}));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, "exec nodeedge-no-such-program: No such file or directory");
}

TEST(Spawn, NonExecutableFileIsPermissionDenied) {
    const std::string path = ::testing::TempDir() + "ne-spawn-not-executable";
    std::ofstream(path) << "#!/bin/sh\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto s = spawn(command({path}));
    std::filesystem::remove(path);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, "exec " + path + ": Permission denied");
}

TEST(Spawn, BadCwdIsAnError) {
    auto spec = shell("exit 0");
    spec.cwd = "/nonexistent-ne-dir";
    auto s = spawn(spec);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, "chdir /nonexistent-ne-dir: No such file or directory");
}

TEST(Spawn, FailedChildIsReaped) {
    auto s = spawn(command({"nodeedge-no-such-program"}));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

config::App sample_app() {
    config::App app;
    app.name = "api";
    app.script = "/srv/api/app.js";
    app.cwd = "/srv/api";
    app.node_args = {"--max-old-space-size=512"};
    app.args = {"--verbose"};
    app.env = {{"NODE_ENV", "production"}, {"PORT", "1"}, {"NE_SPAWN_TEST_INHERITED", "overridden"}};
    return app;
}

std::string env_of(const SpawnSpec& s, const std::string& key) {
    std::string found = "<unset>";
    for (const auto& kv : s.env) {
        if (kv.starts_with(key + "=")) found = kv.substr(key.size() + 1);
    }
    return found;
}

TEST(WorkerSpec, NodeInterpreter) {
    setenv("NE_SPAWN_TEST_INHERITED", "inherited", 1);
    setenv("NE_SPAWN_TEST_KEPT", "kept", 1);
    SpawnSpec s = worker_spec(sample_app(), 1, 3101);
    unsetenv("NE_SPAWN_TEST_INHERITED");
    unsetenv("NE_SPAWN_TEST_KEPT");
    EXPECT_EQ(s.exe, "node");
    EXPECT_EQ(s.argv, (std::vector<std::string>{"node", "--max-old-space-size=512", "/srv/api/app.js", "--verbose"}));
    EXPECT_EQ(s.cwd, "/srv/api");
    EXPECT_TRUE(s.node_ipc);
    EXPECT_EQ(env_of(s, "PORT"), "3101");  // ours, not app.env's: the proxy routes to it
    EXPECT_EQ(env_of(s, "NODE_APP_INSTANCE"), "1");
    EXPECT_EQ(env_of(s, "name"), "api");
    EXPECT_EQ(env_of(s, "NODEEDGE_APP"), "api");
    EXPECT_EQ(env_of(s, "NODEEDGE_INSTANCE"), "1");
    EXPECT_EQ(env_of(s, "NODE_ENV"), "production");
    EXPECT_EQ(env_of(s, "NE_SPAWN_TEST_INHERITED"), "overridden");
    EXPECT_EQ(env_of(s, "NE_SPAWN_TEST_KEPT"), "kept");
    EXPECT_EQ(std::count_if(s.env.begin(), s.env.end(), [](const std::string& kv) { return kv.starts_with("PORT="); }), 1);
}

TEST(WorkerSpec, IncrementVarAddsTheInstanceToItsBase) {
    config::App app = sample_app();
    app.increment_var = "WORKER_PORT";
    app.env["WORKER_PORT"] = "9000";
    EXPECT_EQ(env_of(worker_spec(app, 0, 3000), "WORKER_PORT"), "9000");
    EXPECT_EQ(env_of(worker_spec(app, 3, 3003), "WORKER_PORT"), "9003");
    app.env.erase("WORKER_PORT");  // unset counts from 0, as PM2's Number(undefined) || 0
    EXPECT_EQ(env_of(worker_spec(app, 2, 3002), "WORKER_PORT"), "2");
    app.env["WORKER_PORT"] = "lots";
    EXPECT_EQ(env_of(worker_spec(app, 1, 3001), "WORKER_PORT"), "1");
    setenv("NE_SPAWN_TEST_BASE", "40", 1);  // the daemon's environment is a base too
    app.increment_var = "NE_SPAWN_TEST_BASE";
    EXPECT_EQ(env_of(worker_spec(app, 2, 3002), "NE_SPAWN_TEST_BASE"), "42");
    unsetenv("NE_SPAWN_TEST_BASE");
}

TEST(WorkerSpec, NoInterpreterRunsTheScript) {
    config::App app = sample_app();
    app.interpreter = "none";
    SpawnSpec s = worker_spec(app, 0, 3000);
    EXPECT_EQ(s.exe, "/srv/api/app.js");
    EXPECT_EQ(s.argv, (std::vector<std::string>{"/srv/api/app.js", "--verbose"}));
    EXPECT_FALSE(s.node_ipc);
    app.wait_ready = true;
    EXPECT_TRUE(worker_spec(app, 0, 3000).node_ipc);
}

// ---- running as another user ----------------------------------------------------------

TEST(Credentials, NamesAndNumbersResolve) {
    auto none = resolve_credentials("", "");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(*none);
    auto root = resolve_credentials("root", "");
    ASSERT_TRUE(root.ok()) << root.error().message;
    ASSERT_TRUE(*root);
    EXPECT_EQ((*root)->uid, 0u);
    EXPECT_EQ((*root)->gid, 0u);
    EXPECT_EQ((*root)->user, "root");
    EXPECT_FALSE((*root)->groups.empty());
    // A number with no passwd entry is still an identity (as for chown); its group is its own.
    auto bare = resolve_credentials("54321", "");
    ASSERT_TRUE(bare.ok()) << bare.error().message;
    EXPECT_EQ((*bare)->uid, 54321u);
    EXPECT_EQ((*bare)->gid, 54321u);
    auto with_group = resolve_credentials("54321", "0");
    ASSERT_TRUE(with_group.ok());
    EXPECT_EQ((*with_group)->gid, 0u);
    EXPECT_EQ((*with_group)->groups, std::vector<gid_t>{0});
}

TEST(Credentials, UnknownNamesAreErrorsThatSayWhich) {
    auto u = resolve_credentials("no-such-user-ne", "");
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.error().message, "user 'no-such-user-ne': no such user");
    auto g = resolve_credentials("root", "no-such-group-ne");
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.error().message, "group 'no-such-group-ne': no such group");
}

TEST(Spawn, RunsAsTheGivenUserWithItsHome) {
    auto spec = shell("echo \"$(id -u):$(id -g):$(id -G):$HOME:$USER\"");
    spec.user = "nobody";
    spec.group = "nogroup";
    if (::geteuid() != 0) {
        // Not root: becoming root fails in the child and comes back as an error naming the user.
        spec.user = "root";
        spec.group = "";
        auto s = spawn(spec);
        ASSERT_FALSE(s.ok());
        EXPECT_NE(s.error().message.find("run as user root (needs a daemon started as root): Operation not permitted"),
                  std::string::npos)
            << s.error().message;
        return;
    }
    auto nobody = resolve_credentials("nobody", "nogroup");
    if (!nobody) GTEST_SKIP() << nobody.error().message;
    const std::string id = std::to_string((*nobody)->uid) + ":" + std::to_string((*nobody)->gid) + ":" +
                           std::to_string((*nobody)->gid) + ":" + (*nobody)->home + ":nobody\n";
    EXPECT_EQ(run(spec), id);
}

}  // namespace
}  // namespace ne::supervisor
