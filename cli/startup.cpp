#include "cli/startup.h"

#include <pwd.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "cli/client.h"

extern char** environ;

namespace ne::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUnitName = "nodeedge.service";

Result<std::string> self_binary() {
    std::error_code ec;
    fs::path p = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return Error{"read /proc/self/exe: " + ec.message()};
    return p.string();
}

std::string current_user() {
    if (passwd* pw = getpwuid(geteuid())) return pw->pw_name;
    return std::to_string(geteuid());
}

std::string config_home() {
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return x;
    const char* home = std::getenv("HOME");
    if (home && *home) return std::string(home) + "/.config";
    if (passwd* pw = getpwuid(geteuid())) return std::string(pw->pw_dir) + "/.config";
    return "/tmp";
}

Status write_file(const std::string& path, const std::string& text) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec) return Error{"create " + fs::path(path).parent_path().string() + ": " + ec.message()};
    std::ofstream out(path, std::ios::trunc);
    out << text;
    out.close();
    if (!out) return Error::from_errno("write " + path);
    return {};
}

// Runs a program (found on $PATH) to completion; its own messages go to our stderr.
Status run_program(std::vector<std::string> args) {
    std::string shown;
    for (const auto& a : args) shown += (shown.empty() ? "" : " ") + a;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    if (int err = posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ); err != 0)
        return Error::from_errno(shown, err);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return Error::from_errno("wait for " + shown);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return Error{shown + " failed (" +
                     (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) : "killed") + ")"};
    return {};
}

Status install(const UnitParams& params, bool root) {
    std::string path = unit_install_path(root, config_home());
    if (auto s = write_file(path, systemd_unit(params)); !s) return s;
    std::vector<std::string> systemctl{"systemctl"};
    if (!root) systemctl.push_back("--user");
    auto with = [&](std::initializer_list<std::string> more) {
        auto args = systemctl;
        args.insert(args.end(), more);
        return args;
    };
    if (auto s = run_program(with({"daemon-reload"})); !s) return s.error().wrap("wrote " + path);
    if (auto s = run_program(with({"enable", kUnitName})); !s) return s.error().wrap("wrote " + path);

    std::string start = root ? "systemctl start nodeedge" : "systemctl --user start nodeedge";
    std::printf("installed and enabled %s\nstart it now with: %s\n", path.c_str(), start.c_str());
    if (!root) {
        // A user's systemd runs only while they are logged in unless lingering is enabled.
        std::printf("to start it at boot without a login: loginctl enable-linger %s\n", params.user.c_str());
    }
    return {};
}

}  // namespace

std::string systemd_quote(const std::string& value) {
    std::string escaped;
    bool needs_quotes = value.empty();
    for (char c : value) {
        if (c == '%') escaped += '%';  // systemd would expand %x specifiers
        if (c == '"' || c == '\\') escaped += '\\';
        if (c == ' ' || c == '\t' || c == '"' || c == '\\' || c == '\'') needs_quotes = true;
        escaped += c;
    }
    return needs_quotes ? "\"" + escaped + "\"" : escaped;
}

std::string systemd_unit(const UnitParams& p) {
    std::string bin = systemd_quote(p.binary);
    std::string unit =
        "# Written by `nodeedge startup`: runs the nodeedge daemon and, once it is ready,\n"
        "# restores the apps stored by `nodeedge save`.\n"
        "[Unit]\n"
        "Description=nodeedge: Node.js apps and the reverse proxy in front of them\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=notify\n";
    if (!p.user_unit) unit += "User=" + p.user + "\n";
    unit += "Environment=" + systemd_quote("NODEEDGE_HOME=" + p.home) + "\n";
    unit += "Environment=" + systemd_quote("PATH=" + p.path_env) + "\n";
    unit += "ExecStart=" + bin + " daemon --foreground\n";
    unit += "ExecStartPost=" + bin + " resurrect\n";
    unit += "ExecReload=" + bin + " reload all\n";
    // After a crash there is no daemon: `kill` exits 3, ignored ("-"), and stops nothing.
    unit += "ExecStop=-" + bin + " kill\n";
    unit +=
        "# A dead daemon's workers serve on; the one started again adopts them, so only the\n"
        "# daemon itself is killed when the unit stops (it stops the apps itself on `kill`).\n"
        "Restart=always\n"
        "RestartSec=100ms\n"
        "KillMode=process\n"
        "TimeoutStopSec=60\n"
        "# The daemon pings every WatchdogSec/2 from its event loop; a wedged loop is restarted.\n"
        "WatchdogSec=30\n"
        "LimitNOFILE=65536\n"
        "NoNewPrivileges=yes\n";
    if (!p.user_unit) {
        // Read-only /usr, /boot, /etc and a private /tmp: Node apps write neither. A user
        // manager can apply these only with user namespaces, so user units go without.
        unit +=
            "ProtectSystem=full\n"
            "PrivateTmp=yes\n";
    }
    unit += "\n[Install]\n";
    unit += p.user_unit ? "WantedBy=default.target\n" : "WantedBy=multi-user.target\n";
    return unit;
}

std::string unit_install_path(bool root, const std::string& config_home) {
    if (root) return std::string("/etc/systemd/system/") + kUnitName;
    return config_home + "/systemd/user/" + kUnitName;
}

Status run(const StartupCmd& c) {
    auto binary = self_binary();
    if (!binary) return binary.error();
    bool root = geteuid() == 0;
    const char* path_env = std::getenv("PATH");
    // Printed: a system unit running as this user (for /etc/systemd/system). Installed by a
    // non-root user: a unit of their own systemd, the only one they may write.
    UnitParams params{*binary, resolve_home(), path_env ? path_env : "/usr/local/bin:/usr/bin:/bin",
                      current_user(), c.install && !root};
    if (!c.install) {
        std::fputs(systemd_unit(params).c_str(), stdout);
        return {};
    }
    return install(params, root);
}

}  // namespace ne::cli
