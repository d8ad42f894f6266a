#include "supervisor/process_commands.h"

#include <csignal>

#include "ipc/control.h"
#include "supervisor/procfs.h"
#include "supervisor/targets.h"

namespace ne::supervisor {

using nlohmann::json;
using ipc::control::fail;
using ipc::control::ok;

namespace {

// The workers a target stands for: every worker of a whole app, or the ones of one instance
// (two while a replacement takes over).
std::vector<Worker*> workers_of(const Target& t) {
    std::vector<Worker*> out;
    for (Worker* w : t.app->workers())
        if (t.whole() || w->instance() == t.instance) out.push_back(w);
    return out;
}

}  // namespace

void ProcessCommands::env(const json& req, Reply reply) {
    std::string id = str_arg(req, "id");
    // PM2's env takes a process id only; a name would leave it unclear which worker is meant.
    if (!is_worker_id(id)) {
        auto named = resolve_targets(host_, {id});
        std::string ids;
        if (named)
            for (const Target& t : *named)
                for (Worker* w : workers_of(t)) ids += (ids.empty() ? "" : ", ") + std::to_string(w->slot());
        reply(fail("env takes a worker id (status's id column), not '" + id + "'" +
                   (ids.empty() ? std::string() : ": the workers of " + id + " are " + ids)));
        return;
    }
    auto targets = resolve_targets(host_, {id});
    if (!targets) {
        reply(fail(targets.error().message));
        return;
    }
    const Target& t = targets->front();
    Worker* w = t.app->current(t.instance);
    if (!w || w->pid() <= 0) {
        reply(fail("id " + id + " (" + t.app->name() + ":" + std::to_string(t.instance) +
                   ") has no process to read the environment of: it is " + (w ? to_string(w->state()) : "stopped")));
        return;
    }
    auto environ = read_proc_file("/proc/" + std::to_string(w->pid()) + "/environ");
    if (!environ) {
        reply(fail(Error::from_errno("read /proc/" + std::to_string(w->pid()) + "/environ").message));
        return;
    }
    json vars = json::array();
    size_t start = 0;
    while (start < environ->size()) {
        size_t end = environ->find('\0', start);
        if (end == std::string::npos) end = environ->size();
        if (end > start) vars.push_back(environ->substr(start, end - start));
        start = end + 1;
    }
    reply(ok({{"worker", w->label()}, {"pid", w->pid()}, {"env", vars}}));
}

void ProcessCommands::reset(const json& req, Reply reply) {
    auto targets = resolve_targets(host_, target_args(req));
    if (!targets) {
        reply(fail(targets.error().message));
        return;
    }
    for (const Target& t : *targets)
        for (Worker* w : workers_of(t)) w->reset_restarts();
    reply(ok(host_.status_json()));
}

void ProcessCommands::signal(const json& req, Reply reply) {
    auto sig = req.find("signal");
    if (sig == req.end() || !sig->is_number_integer() || sig->get<int>() < 1 || sig->get<int>() >= NSIG) {
        reply(fail("signal: expected a signal number from 1 to " + std::to_string(NSIG - 1)));
        return;
    }
    auto targets = resolve_targets(host_, target_args(req));
    if (!targets) {
        reply(fail(targets.error().message));
        return;
    }
    json signalled = json::array();
    for (const Target& t : *targets)
        for (Worker* w : workers_of(t)) {
            if (w->pid() <= 0) continue;
            const pid_t pid = w->pid();
            if (auto s = w->send_signal(sig->get<int>()); !s) {
                reply(fail(s.error().message));
                return;
            }
            signalled.push_back(w->label() + " pid " + std::to_string(pid));
        }
    if (signalled.empty()) {
        reply(fail("no running worker to signal: every worker named is stopped"));
        return;
    }
    reply(ok({{"signalled", signalled}}));
}

}  // namespace ne::supervisor
