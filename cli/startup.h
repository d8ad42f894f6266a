// `nodeedge startup [--install]`: a systemd unit that runs the daemon in the foreground
// (Type=notify) and restores the saved apps once it is ready, so `save` survives a reboot.
#pragma once

#include <string>

#include "cli/args.h"
#include "ipc/result.h"

namespace ne::cli {

struct UnitParams {
    std::string binary;      // absolute path of nodeedge
    std::string home;        // absolute $NODEEDGE_HOME
    std::string path_env;    // $PATH when generated: finds the `node` the user runs (nvm, /usr/local)
    std::string user;        // system unit: run as this user
    bool user_unit = false;  // for the user's own systemd (non-root): no User=, default.target
};

std::string systemd_unit(const UnitParams& p);

// /etc/systemd/system/nodeedge.service for root; else under $XDG_CONFIG_HOME (or ~/.config).
std::string unit_install_path(bool root, const std::string& config_home);

// A unit value with systemd's quoting: '%' doubled; quotes when it holds spaces, quotes or '\'.
std::string systemd_quote(const std::string& value);

Status run(const StartupCmd& c);

}  // namespace ne::cli
