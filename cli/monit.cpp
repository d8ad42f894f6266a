#include "cli/monit.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "cli/client.h"
#include "ipc/control.h"

namespace ne::cli {

namespace {

constexpr int kBarWidth = 20;

// cpu as a bar of kBarWidth cells, full at 100% (one core).
std::string cpu_bar(double percent, const Style& style) {
    int filled = static_cast<int>(std::min(100.0, std::max(0.0, percent)) * kBarWidth / 100.0 + 0.5);
    std::string on = style.unicode ? "█" : "#";
    std::string bar;
    for (int i = 0; i < kBarWidth; ++i) bar += i < filled ? on : std::string(" ");
    return "[" + bar + "]";
}

volatile sig_atomic_t g_quit = 0;
void on_quit_signal(int) { g_quit = 1; }

// The terminal as monit needs it while it runs: keys arrive one by one and are not echoed,
// the view has a screen of its own and no cursor; everything is put back on any exit.
class TerminalGuard {
public:
    TerminalGuard() {
        if (::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_) == 0) {
            termios raw = saved_;
            raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);  // ISIG kept: Ctrl-C still signals
            raw.c_cc[VMIN] = 1;
            raw.c_cc[VTIME] = 0;
            restore_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
        }
        screen_ = ::isatty(STDOUT_FILENO);
        if (screen_) std::fputs("\x1b[?1049h\x1b[?25l", stdout);
        struct sigaction sa {};
        sa.sa_handler = on_quit_signal;
        ::sigaction(SIGINT, &sa, &old_int_);
        ::sigaction(SIGTERM, &sa, &old_term_);
    }
    ~TerminalGuard() {
        if (screen_) std::fputs("\x1b[?25h\x1b[?1049l", stdout);
        std::fflush(stdout);
        if (restore_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGTERM, &old_term_, nullptr);
    }
    TerminalGuard(const TerminalGuard&) = delete;
    TerminalGuard& operator=(const TerminalGuard&) = delete;
    bool screen() const { return screen_; }

private:
    termios saved_{};
    bool restore_ = false;
    bool screen_ = false;
    struct sigaction old_int_ {}, old_term_ {};
};

// Waits up to `ms` for a key; true when the user asked to quit (q, Q, Ctrl-C, end of input).
bool quit_requested(int ms) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!g_quit) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0;
        char c = 0;
        ssize_t r = ::read(STDIN_FILENO, &c, 1);
        if (r <= 0 || c == 'q' || c == 'Q' || c == 3) return true;
    }
    return true;
}

std::string now_text() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    return buf;
}

}  // namespace

std::string render_monit(const StatusView& view, const Style& style, const std::string& now) {
    std::string out = paint("nodeedge monit", Color::Cyan, style) + "  " + now + "  (q or Ctrl-C to quit)\n\n";
    Table t({"id", "name", "pid", "status", "restarts", "cpu", "", "mem"});
    for (const auto& w : view.workers) {
        bool running = w.pid > 0;
        t.add_row({Cell{std::to_string(w.id)}, Cell{w.name, Color::Cyan}, Cell{running ? std::to_string(w.pid) : "-"},
                   Cell{w.status, w.status == "online"    ? Color::Green
                                  : w.status == "errored" ? Color::Red
                                  : w.status == "stopped" ? Color::Grey
                                                          : Color::Yellow},
                   Cell{std::to_string(w.restarts)}, Cell{cpu_bar(running ? w.cpu_percent : 0, style)},
                   Cell{running ? format_cpu(w.cpu_percent) : "-"},
                   Cell{running ? format_memory(w.memory_bytes) : "-"}});
    }
    out += view.workers.empty() ? "no apps\n" : t.render(style);
    if (view.proxy && !view.proxy->listen.empty()) {
        out += fmt::format("\nproxy: {} connections, {:.1f} req/s\n", view.proxy->connections,
                           view.proxy->requests_per_sec);
        out += render_traffic(view.apps, style);
    }
    return out;
}

Status run(const MonitCmd&) {
    Client client(resolve_home());
    // Nothing to watch: said as every verb that needs the daemon says it, before the screen is
    // taken. A daemon that goes away later is shown in the frame until the user quits.
    if (auto first = client.call_if_running(ipc::control::request("status")); !first) return first.error();
    else if (!*first) return no_daemon_error(resolve_home());
    Style style = terminal_style();
    TerminalGuard term;
    g_quit = 0;
    do {
        auto reply = client.call_if_running(ipc::control::request("status"));
        std::string frame;
        if (!reply) frame = "nodeedge monit: " + reply.error().message + "\n";
        else if (!*reply) frame = "nodeedge monit: no daemon running\n";
        else if (auto view = parse_status(**reply); !view) frame = "nodeedge monit: " + view.error().message + "\n";
        else frame = render_monit(*view, style, now_text());
        // Home, draw each line over the previous frame's and clear what it left after the
        // line and below the frame: no flicker from clearing the whole screen first.
        if (term.screen()) {
            std::string drawn = "\x1b[H";
            for (char ch : frame) drawn += ch == '\n' ? std::string("\x1b[K\n") : std::string(1, ch);
            frame = drawn + "\x1b[J";
        }
        std::fputs(frame.c_str(), stdout);
        std::fflush(stdout);
    } while (!quit_requested(1000));
    return {};
}

}  // namespace ne::cli
