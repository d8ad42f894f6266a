#include "ipc/net.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <charconv>
#include <memory>
#include <cstring>

namespace ne::net {

namespace {

Result<addrinfo*> resolve(const std::string& host, int port, bool passive) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    addrinfo* res = nullptr;
    std::string service = std::to_string(port);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) return Error{"resolve " + host + ": " + gai_strerror(rc)};
    return res;
}

std::string label(const std::string& host, int port) {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

Result<UniqueFd> listen_tcp(const std::string& host, int port, int backlog) {
    auto ai = resolve(host, port, true);
    if (!ai) return ai.error();
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(*ai, freeaddrinfo);
    int last_errno = 0;
    for (addrinfo* a = *ai; a; a = a->ai_next) {
        UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd) { last_errno = errno; continue; }
        int one = 1;
        setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (a->ai_family == AF_INET6) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) != 0) { last_errno = errno; continue; }
        if (::listen(fd.get(), backlog) != 0) { last_errno = errno; continue; }
        return fd;
    }
    return Error::from_errno("listen on " + label(host, port), last_errno);
}

Result<UniqueFd> connect_tcp_nonblocking(const std::string& host, int port) {
    auto ai = resolve(host, port, false);
    if (!ai) return ai.error();
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(*ai, freeaddrinfo);
    int last_errno = 0;
    for (addrinfo* a = *ai; a; a = a->ai_next) {
        UniqueFd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd) { last_errno = errno; continue; }
        int one = 1;
        setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) return fd;
        last_errno = errno;
    }
    return Error::from_errno("connect to " + label(host, port), last_errno);
}

Result<HostPort> split_host_port(const std::string& text) {
    std::string host;
    std::string port_text;
    if (!text.empty() && text[0] == '[') {
        auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return Error{"'" + text + "' is not host:port"};
        host = text.substr(1, close - 1);
        port_text = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string::npos || text.find(':') != colon)
            return Error{"'" + text + "' is not host:port"};
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
    }
    int port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port < 1 || port > 65535)
        return Error{"'" + text + "': port must be 1-65535"};
    if (host.empty()) return Error{"'" + text + "': missing host"};
    return HostPort{host, port};
}

}  // namespace ne::net
