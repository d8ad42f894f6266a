#include "supervisor/keeper.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "ipc/control.h"
#include "ipc/fd_passing.h"

namespace ne::supervisor {

namespace {

constexpr int kKeeperFd = 3;

Result<sockaddr_un> keeper_address(const std::string& path) {
    sockaddr_un addr{};
    if (path.size() >= sizeof addr.sun_path) return Error{"keeper socket path too long: " + path};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, path.size());
    return addr;
}

// Waits for the keeper's next message (it answers `list` at once).
Result<ipc::ReceivedFd> receive_blocking(int fd) {
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, 5000);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) return Error{"the keeper did not answer within 5 s"};
        auto got = ipc::receive_fd(fd);
        if (!got) return got.error();
        if (*got) return std::move(**got);
    }
}

class KeeperProcess {
public:
    explicit KeeperProcess(int listen_fd) : listen_(listen_fd) {}

    int run() {
        for (;;) {
            std::vector<pollfd> fds{{listen_.get(), POLLIN, 0}};
            for (auto& c : conns_) fds.push_back({c.get(), POLLIN, 0});
            if (::poll(fds.data(), fds.size(), -1) < 0) {
                if (errno == EINTR) continue;
                return 1;
            }
            if (fds[0].revents & POLLIN) {
                int c = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (c >= 0) conns_.emplace_back(c);
            }
            // Every connection is served alike: the daemon's, a new daemon's before the old
            // one's end is read, and the CLI's, which only checks that the keeper answers.
            for (size_t i = fds.size() - 1; i >= 1; --i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                auto it = conns_.begin() + static_cast<std::ptrdiff_t>(i - 1);
                bool open = true;
                if (!read_all(it->get(), open)) return 0;
                if (!open) conns_.erase(it);
            }
        }
    }

private:
    // False once told to quit; `open` false when the peer went away (what it gave is kept
    // for the next daemon).
    bool read_all(int conn, bool& open) {
        for (;;) {
            auto got = ipc::receive_fd(conn);
            if (!got) {
                open = false;
                return true;
            }
            if (!*got) return true;
            std::string& note = (*got)->note;
            if (note.rfind("put ", 0) == 0) {
                held_[note.substr(4)] = std::move((*got)->fd);
            } else if (note.rfind("drop ", 0) == 0) {
                held_.erase(note.substr(5));
            } else if (note == "list") {
                for (auto& [name, fd] : held_) (void)ipc::send_fd(conn, fd.get(), "fd " + name);
                (void)ipc::send_fd(conn, -1, "end");
            } else if (note == "quit") {
                return false;
            }
        }
    }

    UniqueFd listen_;
    std::vector<UniqueFd> conns_;
    std::map<std::string, UniqueFd> held_;
};

}  // namespace

int run_keeper(int listen_fd) {
    // It must outlive the daemon, whatever reaches the daemon's session or terminal.
    ::signal(SIGHUP, SIG_IGN);
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGPIPE, SIG_IGN);
    return KeeperProcess(listen_fd).run();
}

Result<std::unique_ptr<Keeper>> Keeper::connect(const std::string& home) {
    auto addr = keeper_address(ipc::control::keeper_socket_path(home));
    if (!addr) return addr.error();
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno("keeper: socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0) {
        if (errno == ENOENT || errno == ECONNREFUSED) return std::unique_ptr<Keeper>{};
        return Error::from_errno("keeper: connect " + ipc::control::keeper_socket_path(home));
    }
    return std::unique_ptr<Keeper>(new Keeper(std::move(fd)));
}

Result<std::unique_ptr<Keeper>> Keeper::start(const std::string& home, const std::string& exe) {
    const std::string path = ipc::control::keeper_socket_path(home);
    auto addr = keeper_address(path);
    if (!addr) return addr.error();
    UniqueFd listen(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (!listen) return Error::from_errno("keeper: socket");
    ::unlink(path.c_str());   // nobody listens there (connect() was refused)
    if (::bind(listen.get(), reinterpret_cast<sockaddr*>(&*addr), sizeof *addr) != 0)
        return Error::from_errno("keeper: bind " + path);
    if (::listen(listen.get(), 4) != 0) return Error::from_errno("keeper: listen " + path);
    std::string verb(kKeeperVerb);
    char* argv[] = {const_cast<char*>(exe.c_str()), verb.data(), nullptr};
    pid_t pid = ::fork();
    if (pid < 0) return Error::from_errno("keeper: fork");
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        ::setsid();
        ::dup2(listen.get(), kKeeperFd);
        ::close_range(kKeeperFd + 1, ~0U, 0);
        ::execv(exe.c_str(), argv);
        _exit(127);
    }
    spdlog::info("keeper {} started ({})", pid, path);
    auto k = connect(home);
    if (!k) return k.error();
    if (!*k) return Error{"keeper: nobody answers on " + path};
    return k;
}

void Keeper::send(int fd, const std::string& note) {
    if (!conn_) return;
    if (auto s = ipc::send_fd(conn_.get(), fd, note); !s && !warned_) {
        warned_ = true;
        spdlog::error("keeper: {}; workers will not outlive this daemon", s.error().message);
    }
}

Result<std::map<std::string, UniqueFd>> Keeper::list() {
    std::map<std::string, UniqueFd> out;
    if (auto s = ipc::send_fd(conn_.get(), -1, "list"); !s) return s.error().wrap("keeper");
    for (;;) {
        auto got = receive_blocking(conn_.get());
        if (!got) return got.error().wrap("keeper");
        if (got->note == "end") return out;
        if (got->note.rfind("fd ", 0) == 0 && got->fd) out[got->note.substr(3)] = std::move(got->fd);
    }
}

void Keeper::put(const std::string& name, int fd) {
    if (fd < 0) return;
    claimed_.insert(name);
    send(fd, "put " + name);
}

void Keeper::drop(const std::string& name) {
    claimed_.erase(name);
    send(-1, "drop " + name);
}

void Keeper::drop_unclaimed(const std::vector<std::string>& listed) {
    for (auto& name : listed)
        if (!claimed_.count(name)) send(-1, "drop " + name);
}

void Keeper::quit() { send(-1, "quit"); }

}  // namespace ne::supervisor
