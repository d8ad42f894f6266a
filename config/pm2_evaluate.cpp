#include "config/pm2_evaluate.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "ipc/unique_fd.h"

extern char** environ;

namespace ne::config {
namespace {

// The evaluator is kept in the binary rather than installed beside it: `nodeedge` is one
// file that runs from the build folder, /usr/local/bin or a container alike, and there is no
// second file whose version could drift from the mapping that reads its output.
// argv: [node, file, kind]. The result goes to fd 3 so the file's own console.log cannot
// corrupt it; process.exit() because a file may leave timers or sockets open.
constexpr const char* kEvaluator = R"JS(
'use strict';
const fs = require('fs'), path = require('path'), url = require('url'), vm = require('vm');
const Module = require('module');
const [file, kind] = process.argv.slice(1);
const send = (obj) => {
  fs.writeSync(3, JSON.stringify(obj, (k, v) => v instanceof RegExp ? v.source
                                    : typeof v === 'bigint' ? Number(v) : v));
  process.exit(0);
};
const fail = (e) => {
  const lines = String(e && e.stack ? e.stack : e).split('\n');
  const here = lines.find((l) => /^\s+at /.test(l) && l.includes(file));
  send({ error: lines.filter((l) => !/^\s+at /.test(l)).concat(here ? [here.trim()] : [])
                     .join('\n').trim() });
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
const yaml = () => {
  try { return Module.createRequire(file)('js-yaml'); } catch (e) {}
  return require('/usr/share/nodejs/js-yaml');
};
(async () => {
  let config;
  if (kind === 'json') {
    config = vm.runInThisContext('(' + fs.readFileSync(file, 'utf8') + ')',
                                 { filename: file, displayErrors: false, timeout: 1000 });
  } else if (kind === 'yaml') {
    config = yaml().load(fs.readFileSync(file, 'utf8'));
  } else if (kind === 'mjs') {
    const ns = await import(url.pathToFileURL(file).href);
    config = ns.default !== undefined ? ns.default : Object.assign({}, ns);
  } else {
    config = require(file);
  }
  send({ config: config === undefined ? null : config });
})().catch(fail);
)JS";

// Above the standard streams and fd 3, so dup2 onto 3 always makes a fresh, inheritable copy.
Result<std::array<UniqueFd, 2>> result_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Error::from_errno("pipe");
    UniqueFd r(fds[0]), w(fds[1]);
    UniqueFd high_r(::fcntl(r.get(), F_DUPFD_CLOEXEC, 10)), high_w(::fcntl(w.get(), F_DUPFD_CLOEXEC, 10));
    if (!high_r || !high_w) return Error::from_errno("fcntl");
    return std::array<UniqueFd, 2>{std::move(high_r), std::move(high_w)};
}

}  // namespace

std::string pm2_file_kind(const std::string& path) {
    // PM2's table, in its order: the first extension found anywhere in the name decides.
    static constexpr std::array<std::pair<const char*, const char*>, 6> kKinds{{
        {".json", "json"}, {".yml", "yaml"}, {".yaml", "yaml"},
        {".config.js", "js"}, {".config.cjs", "js"}, {".config.mjs", "mjs"},
    }};
    const std::string name = path.substr(path.find_last_of('/') + 1);
    for (const auto& [ext, kind] : kKinds)
        if (name.find(ext) != std::string::npos) return kind;
    return "";
}

Result<nlohmann::json> evaluate_pm2_file(const std::string& path) {
    const std::string kind = pm2_file_kind(path);
    if (kind.empty()) return Error{path + ": not a PM2 ecosystem file"};
    auto pipe = result_pipe();
    if (!pipe) return pipe.error();
    auto& [rd, wr] = *pipe;

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, wr.get(), 3);
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    std::string node = "node", e = "-e", script = kEvaluator, file = path;
    char* argv[] = {node.data(), e.data(), script.data(), file.data(), const_cast<char*>(kind.c_str()), nullptr};
    pid_t pid = 0;
    int rc = ::posix_spawnp(&pid, "node", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    wr.reset();
    if (rc != 0)
        return Error{path + ": cannot run node to evaluate it (PM2 ecosystem files are JavaScript): " +
                     std::strerror(rc)};

    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n > 0) out.append(buf, static_cast<size_t>(n));
        else if (n == 0 || errno != EINTR) break;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}

    auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                            : "was killed by signal " + std::to_string(WTERMSIG(status));
        return Error{path + ": node " + how + " before the file was evaluated"};
    }
    if (auto err = j.find("error"); err != j.end())
        return Error{path + ": node could not evaluate it: " + err->get<std::string>()};
    return j["config"];
}

}  // namespace ne::config
