#include "ipc/fd_passing.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace ne::ipc {

Result<std::pair<UniqueFd, UniqueFd>> fd_socketpair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return Error::from_errno("socketpair for passing file descriptors");
    return std::pair{UniqueFd(sv[0]), UniqueFd(sv[1])};
}

Status send_fd(int socket, int fd, std::string_view note) {
    if (note.size() > kMaxNote) return Error{"note of " + std::to_string(note.size()) + " bytes is too long"};
    // A message cannot be empty and still be told apart from the peer's end of file.
    std::string body = "=" + std::string(note);
    iovec iov{body.data(), body.size()};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    for (;;) {
        if (::sendmsg(socket, &msg, MSG_NOSIGNAL) >= 0) return {};
        if (errno != EINTR) return Error::from_errno("sendmsg (file descriptor)");
    }
}

Result<std::optional<ReceivedFd>> receive_fd(int socket) {
    char body[kMaxNote + 1];
    iovec iov{body, sizeof body};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(socket, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<ReceivedFd>{};
        return Error::from_errno("recvmsg (file descriptor)");
    }
    ReceivedFd got;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            got.fd.reset(fd);
        }
    if (n == 0) return Error{"the sender closed its end"};
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return Error{"a message did not fit"};
    got.note.assign(body + 1, static_cast<size_t>(n) - 1);
    return std::optional<ReceivedFd>{std::move(got)};
}

}  // namespace ne::ipc
