// port_owner.h against real sockets: listeners of this process (IPv4 and IPv6), one held by a
// child, a connected socket that is not a listener, and a port nobody listens on.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/unique_fd.h"
#include "supervisor/port_owner.h"

namespace ne::supervisor {
namespace {

// A loopback listener on a port the kernel picks; family AF_INET or AF_INET6.
struct Listener {
    UniqueFd fd;
    int port = 0;

    explicit Listener(int family = AF_INET) {
        fd.reset(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_storage ss{};
        socklen_t len = 0;
        if (family == AF_INET) {
            auto* a = reinterpret_cast<sockaddr_in*>(&ss);
            a->sin_family = AF_INET;
            a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            len = sizeof *a;
        } else {
            auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
            a->sin6_family = AF_INET6;
            a->sin6_addr = in6addr_loopback;
            len = sizeof *a;
        }
        EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
        EXPECT_EQ(::listen(fd.get(), 4), 0);
        len = sizeof ss;
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
        port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    }
};

TEST(PortOwner, ListenersOfThisProcessAreFoundAndHeldByIt) {
    for (int family : {AF_INET, AF_INET6}) {
        Listener l(family);
        const auto inodes = listening_inodes(l.port);
        ASSERT_EQ(inodes.size(), 1u) << "family " << family;
        const pid_t me = ::getpid();
        EXPECT_TRUE(holds_any({&me, 1}, inodes));
        const auto holder = port_holder(l.port);
        ASSERT_TRUE(holder.has_value());
        EXPECT_EQ(holder->pid, me);
        EXPECT_NE(holder->command.find("unit_supervisor"), std::string::npos) << holder->command;
        EXPECT_EQ(port_in_use_message(l.port, *holder),
                  "port " + std::to_string(l.port) + " is already in use by pid " + std::to_string(me) + " (" +
                      holder->command + ")");
    }
}

TEST(PortOwner, AnotherProcessDoesNotHoldThisProcesssListener) {
    Listener l;
    const pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    // The child inherited the descriptor: it holds the socket too, as a forked worker would.
    EXPECT_TRUE(holds_any({&child, 1}, listening_inodes(l.port)));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);

    const pid_t stranger = ::fork();
    if (stranger == 0) {
        ::pause();
        ::_exit(0);
    }
    // A process forked before the listener was opened does not hold it.
    Listener other;
    const pid_t none[] = {stranger};
    EXPECT_FALSE(holds_any(none, listening_inodes(other.port)));
    ::kill(stranger, SIGKILL);
    ::waitpid(stranger, nullptr, 0);
}

TEST(PortOwner, ConnectedSocketsAndClosedPortsAreNotListeners) {
    Listener l;
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(l.port));
    ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    // The established pair shares the port number; only the listener counts.
    EXPECT_EQ(listening_inodes(l.port).size(), 1u);

    const int port = l.port;
    l.fd.reset();
    client.reset();
    EXPECT_TRUE(listening_inodes(port).empty());
    EXPECT_FALSE(port_holder(port).has_value());
    const pid_t me = ::getpid();
    EXPECT_FALSE(holds_any({&me, 1}, listening_inodes(port)));
}

TEST(PortOwner, AnUnreadableHolderIsStillReported) {
    EXPECT_EQ(port_in_use_message(3000, PortHolder{}),
              "port 3000 is already in use (by a process this daemon cannot inspect)");
}

}  // namespace
}  // namespace ne::supervisor
