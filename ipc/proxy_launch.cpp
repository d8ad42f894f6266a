#include "ipc/proxy_launch.h"

#include <charconv>
#include <optional>

namespace ne::ipc {
namespace {

constexpr std::string_view kChannel = "--channel";
constexpr std::string_view kLogSocket = "--log-socket";
constexpr std::string_view kListen = "--listen";
constexpr std::string_view kRateLimitZone = "--zone";
constexpr std::string_view kCacheZone = "--cache-zone";
constexpr std::string_view kTlsSessionsZone = "--tls-sessions";

// Decimal and not negative, as to_argv writes it.
std::optional<int> parse_fd(std::string_view text) {
    int fd = -1;
    const char* last = text.data() + text.size();
    auto [end, ec] = std::from_chars(text.data(), last, fd);
    if (text.empty() || ec != std::errc() || end != last || fd < 0) return std::nullopt;
    return fd;
}

// "127.0.0.1:8080=5": the last '=' splits, so any address text survives.
std::optional<ProxyLaunch::Listener> parse_listener(std::string_view text) {
    auto eq = text.rfind('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    auto fd = parse_fd(text.substr(eq + 1));
    if (!fd) return std::nullopt;
    return ProxyLaunch::Listener{std::string(text.substr(0, eq)), *fd};
}

int* fd_option(ProxyLaunch& launch, std::string_view name) {
    if (name == kChannel) return &launch.channel_fd;
    if (name == kLogSocket) return &launch.log_socket;
    if (name == kRateLimitZone) return &launch.rate_limit_zone;
    if (name == kCacheZone) return &launch.cache_zone;
    if (name == kTlsSessionsZone) return &launch.tls_sessions_zone;
    return nullptr;
}

Error launch_error(const std::string& why) { return Error{std::string(kProxyWorkerVerb) + ": " + why}; }

}  // namespace

std::vector<std::string> to_argv(const ProxyLaunch& launch) {
    std::vector<std::string> args{std::string(kProxyWorkerVerb)};
    auto add_fd = [&args](std::string_view name, int fd) {
        if (fd < 0) return;
        args.emplace_back(name);
        args.push_back(std::to_string(fd));
    };
    add_fd(kChannel, launch.channel_fd);
    add_fd(kLogSocket, launch.log_socket);
    for (const auto& l : launch.listeners) {
        args.emplace_back(kListen);
        args.push_back(l.address + "=" + std::to_string(l.fd));
    }
    add_fd(kRateLimitZone, launch.rate_limit_zone);
    add_fd(kCacheZone, launch.cache_zone);
    add_fd(kTlsSessionsZone, launch.tls_sessions_zone);
    return args;
}

Result<ProxyLaunch> proxy_launch_from_argv(const std::vector<std::string>& args) {
    if (args.empty() || args.front() != kProxyWorkerVerb)
        return Error{"expected " + std::string(kProxyWorkerVerb) + " first, got '" + (args.empty() ? "" : args.front()) + "'"};
    ProxyLaunch launch;
    for (size_t i = 1; i < args.size(); i += 2) {
        const std::string& name = args[i];
        if (i + 1 == args.size()) return launch_error(name + " needs a value");
        const std::string& value = args[i + 1];
        if (name == kListen) {
            auto l = parse_listener(value);
            if (!l) return launch_error(name + " expects ADDR=FD, got '" + value + "'");
            launch.listeners.push_back(std::move(*l));
        } else if (int* field = fd_option(launch, name)) {
            if (*field >= 0) return launch_error(name + " given twice");
            auto fd = parse_fd(value);
            if (!fd) return launch_error(name + " expects a descriptor number, got '" + value + "'");
            *field = *fd;
        } else {
            return launch_error("unknown argument '" + name + "'");
        }
    }
    if (launch.channel_fd < 0) return launch_error(std::string(kChannel) + " is required");
    return launch;
}

}  // namespace ne::ipc
