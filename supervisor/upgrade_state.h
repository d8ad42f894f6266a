// `nodeedge upgrade`'s hand-over across execve: what the running daemon knows that state.db
// may not have yet, serialised into a sealed memfd whose number the new program finds in
// $NODEEDGE_UPGRADE_STATE. Versioned ("format" and "v"): a program that cannot read it
// refuses it with the reason, and the old binary is run again (rollback). The descriptors
// themselves come from the keeper, as after a crash (supervisor/takeover.h).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "supervisor/state_db.h"
#include "supervisor/takeover.h"

namespace ne::supervisor {

inline constexpr const char* kUpgradeStateEnv = "NODEEDGE_UPGRADE_STATE";
// The old binary's descriptor, for a rollback when the state itself cannot be read.
inline constexpr const char* kUpgradeExeEnv = "NODEEDGE_UPGRADE_EXE";
// Set by a new program that failed, for the old one it runs again (fexecve) to report.
inline constexpr const char* kUpgradeFailedEnv = "NODEEDGE_UPGRADE_FAILED";
// The hidden verb that checks, before the daemon replaces itself, that a binary starts and
// reads the state (state memfd as descriptor 3; prints "ok <version>").
inline constexpr std::string_view kUpgradeProbeVerb = "__upgrade-probe";
inline constexpr int kUpgradeStateVersion = 1;

struct UpgradeState {
    uint64_t id = 0;                    // the upgrade, as `ping` reports its outcome
    std::string from_version;
    std::string from_binary;            // for the messages
    int exe_fd = -1;                    // the old binary (O_PATH-less, read-only), for fexecve
    std::vector<WorkerRow> workers;
    std::vector<ProxyRecord> proxies;
};

Result<UniqueFd> write_upgrade_state(const UpgradeState& s);
Result<UpgradeState> read_upgrade_state(int fd);

// Runs `binary __upgrade-probe` on a copy of the state; its version, or why it is unfit
// (exited without reading it, did not answer within `deadline`, refused it).
Result<std::string> probe_binary(const std::string& binary, int state_fd, std::chrono::milliseconds deadline);
// The daemon's command line after an upgrade: attached (it already is detached), with the
// same log format.
std::vector<std::string> upgrade_daemon_argv(const std::string& binary, const std::string& log_format);
// The probe's side: reads the state on descriptor 3.
int run_upgrade_probe();

}  // namespace ne::supervisor
