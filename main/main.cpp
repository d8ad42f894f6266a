// nodeedge, the one binary: picks the role this process plays, then runs it. The CLI parses
// the command line and runs one command, exiting 0 (done), 1 (failed, with a one-line reason on
// stderr), 2 (usage error) or 3 (the verb needs the daemon and none runs; README's table); `daemon` runs the supervisor, the hidden `__proxy-worker`
// (which the daemon execs) a proxy worker, and the hidden `__acme-job` one ACME order. Those three libraries know nothing of each other:
// this folder alone links them together.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <variant>
#include <vector>

#include "acme/job.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/import.h"
#include "cli/logs.h"
#include "cli/monit.h"
#include "cli/startup.h"
#include "ipc/proxy_launch.h"
#include "main/proxy_resources.h"
#include "proxy/proxy_worker.h"
#include "supervisor/keeper.h"
#include "supervisor/master.h"
#include "supervisor/upgrade_state.h"

namespace {

template <typename... F>
struct Overloaded : F... {
    using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

constexpr int kExitNoDaemon = 3;

int fail(std::string reason) {
    // One line, whatever the message carried, so scripts can read it.
    for (char& ch : reason) {
        if (ch == '\n' || ch == '\r') ch = ' ';
    }
    std::fprintf(stderr, "nodeedge: %s\n", reason.c_str());
    return 1;
}

int dispatch(const ne::cli::Command& command) {
    return std::visit(
        Overloaded{
            [](const ne::cli::DaemonCmd& d) {
                ne::entry::ProxyLibraryResources resources;
                return ne::supervisor::run_daemon({d.foreground, d.log_format}, resources);
            },
            [](const auto& c) {
                ne::Status s = ne::cli::run(c);
                if (s) return 0;
                const int code = fail(s.error().message);
                return s.error().kind == ne::Error::Kind::no_daemon ? kExitNoDaemon : code;
            },
        },
        command);
}

// The master writes this command line (ipc/proxy_launch.h) and users never type it, so it
// stays out of the CLI's grammar and help.
int proxy_worker_role(const std::vector<std::string>& args) {
    auto launch = ne::ipc::proxy_launch_from_argv(args);
    if (!launch) {
        fail(launch.error().message);
        return 2;
    }
    return ne::proxy::run_proxy_worker(*launch);
}

// The daemon runs ACME in this child: its stdout is the protocol (ipc/acme_job.h), so the log
// goes to stderr, which is the daemon's log.
int acme_job_role() {
    spdlog::set_default_logger(spdlog::stderr_logger_st("acme"));
    return ne::acme::run_job(std::cin, std::cout);
}

int run(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == ne::acme::kJobVerb) return acme_job_role();
    if (argc > 1 && argv[1] == ne::ipc::kProxyWorkerVerb)
        return proxy_worker_role(std::vector<std::string>(argv + 1, argv + argc));
    // The daemon starts it with its listening socket as descriptor 3 (supervisor/keeper.h).
    if (argc > 1 && argv[1] == ne::supervisor::kKeeperVerb) return ne::supervisor::run_keeper(3);
    // `upgrade` runs the new binary so first (supervisor/upgrade_state.h).
    if (argc > 1 && argv[1] == ne::supervisor::kUpgradeProbeVerb) return ne::supervisor::run_upgrade_probe();
    auto parsed = ne::cli::parse_args(argc, argv);
    if (auto* exit = std::get_if<ne::cli::ParseExit>(&parsed)) {
        std::fputs(exit->text.c_str(), exit->code == 0 ? stdout : stderr);
        return exit->code;
    }
    return dispatch(std::get<ne::cli::Command>(parsed));
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}
