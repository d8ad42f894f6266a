#include "integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "config/config.h"
#include "ipc/unique_fd.h"

extern char** environ;

namespace ne::itest {

namespace fs = std::filesystem;

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return pred();
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

// ---- processes ---------------------------------------------------------------------------

namespace {

// /proc/<pid>/stat; the command name may hold spaces and parentheses, so fields are counted
// from the last ')'.
std::optional<ProcStat> read_stat(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    auto open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
    std::istringstream rest(line.substr(close + 1));
    ProcStat st;
    st.pid = pid;
    st.name = line.substr(open + 1, close - open - 1);
    rest >> st.state >> st.ppid;
    std::string skip;
    for (int field = 5; field < 22; ++field) rest >> skip;  // fields 5..21
    rest >> st.start_time;
    if (!rest) return std::nullopt;
    return st;
}

bool is_gone(char state) { return state == 'Z' || state == 'X'; }

// Zombies too when `with_gone`.
std::vector<ProcStat> all_processes(bool with_gone = false) {
    std::vector<ProcStat> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        pid_t pid = 0;
        auto [p, err] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (err != std::errc() || p != name.data() + name.size()) continue;
        if (auto st = read_stat(pid); st && (with_gone || !is_gone(st->state))) out.push_back(*st);
    }
    return out;
}

}  // namespace

std::optional<ProcessRef> process_ref(pid_t pid) {
    if (pid <= 0) return std::nullopt;
    auto st = read_stat(pid);
    if (!st || is_gone(st->state)) return std::nullopt;
    return ProcessRef{pid, st->start_time};
}

bool alive(const ProcessRef& p) {
    auto now = process_ref(p.pid);
    return now && now->start_time == p.start_time;
}

std::vector<ProcessRef> descendants(pid_t root) {
    std::multimap<pid_t, const ProcStat*> children;
    auto procs = all_processes();
    for (const auto& st : procs) children.emplace(st.ppid, &st);
    std::vector<ProcessRef> out;
    std::deque<pid_t> todo{root};
    while (!todo.empty()) {
        pid_t parent = todo.front();
        todo.pop_front();
        auto [first, last] = children.equal_range(parent);
        for (auto it = first; it != last; ++it) {
            out.push_back({it->second->pid, it->second->start_time});
            todo.push_back(it->second->pid);
        }
    }
    return out;
}

std::vector<ProcStat> children_of(pid_t parent) {
    auto all = all_processes(true);
    std::erase_if(all, [&](const ProcStat& st) { return st.ppid != parent; });
    return all;
}

std::vector<long long> proc_status_numbers(pid_t pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    const std::string key = field + ":";
    std::vector<long long> out;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(key, 0) != 0) continue;
        std::istringstream numbers(line.substr(key.size()));
        for (long long n; numbers >> n;) out.push_back(n);
        break;
    }
    return out;
}

uint64_t rss_bytes(pid_t pid) {
    const auto kib = proc_status_numbers(pid, "VmRSS");
    return kib.empty() ? 0 : static_cast<uint64_t>(kib[0]) * 1024;
}

// ---- loopback sockets --------------------------------------------------------------------

namespace {

sockaddr_in loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

}  // namespace

bool bind_loopback(int fd, int port) {
    const sockaddr_in addr = loopback(port);
    return ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

bool connect_loopback(int fd, int port) {
    const sockaddr_in addr = loopback(port);
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

int local_port(int fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
    return ntohs(addr.sin_port);
}

// ---- HTTP --------------------------------------------------------------------------------

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return std::string(s);
}

void set_timeouts(int fd, std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? std::string() : it->second;
}

HttpConnection::HttpConnection(int port, std::chrono::milliseconds io_timeout)
    : port_(port), io_timeout_(io_timeout) {}

void HttpConnection::close() {
    fd_.reset();
    buffered_.clear();
}

Status HttpConnection::connect_if_needed() {
    if (fd_) return {};
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return Error::from_errno("socket");
    set_timeouts(fd.get(), io_timeout_);
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!connect_loopback(fd.get(), port_)) return Error::from_errno("connect " + where());
    fd_ = std::move(fd);
    return {};
}

Result<HttpResponse> HttpConnection::request(const std::string& method, const std::string& target,
                                             const Headers& headers, const std::string& body) {
    std::string req = method + " " + target + " HTTP/1.1\r\n";
    bool has_host = false;
    for (const auto& [name, value] : headers) {
        has_host = has_host || lower(name) == "host";
        req += name + ": " + value + "\r\n";
    }
    if (!has_host) req += "Host: 127.0.0.1:" + std::to_string(port_) + "\r\n";
    if (!body.empty()) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;

    // A request on a reused connection that the server closed meanwhile (nothing came back)
    // is sent again once on a new connection, as browsers and curl do (RFC 9112 section
    // 9.3.1); a failure on a fresh connection is real.
    for (;;) {
        const bool reused = fd_.valid();
        if (auto st = connect_if_needed(); !st) return st.error();
        got_bytes_ = !buffered_.empty();
        peer_closed_ = false;
        Result<HttpResponse> r = send_all(req) ? read_response(method)
                                               : Result<HttpResponse>(Error::from_errno("send to " + where()));
        if (!r || !r->keep_alive) close();
        const bool stale = !r && !got_bytes_ && peer_closed_;
        if (!(reused && stale)) return r;
    }
}

bool HttpConnection::send_all(const std::string& data) {
    for (size_t sent = 0; sent < data.size();) {
        ssize_t n = ::send(fd_.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            peer_closed_ = errno == EPIPE || errno == ECONNRESET;
            return false;
        }
        sent += static_cast<size_t>(n);
    }
    return true;
}

std::string HttpConnection::where() const { return "127.0.0.1:" + std::to_string(port_); }

Result<bool> HttpConnection::fill() {
    char buf[16384];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n > 0) {
            buffered_.append(buf, static_cast<size_t>(n));
            got_bytes_ = true;
            return true;
        }
        if (n == 0 || errno == ECONNRESET) {
            peer_closed_ = true;
            return false;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Error{"read from " + where() + ": timed out"};
        return Error::from_errno("read from " + where());
    }
}

Status HttpConnection::need(size_t n) {
    while (buffered_.size() < n) {
        auto more = fill();
        if (!more) return more.error();
        if (!*more) return Error{"read from " + where() + ": connection closed or reset before the response ended"};
    }
    return {};
}

Result<std::string> HttpConnection::read_line() {
    size_t eol;
    while ((eol = buffered_.find("\r\n")) == std::string::npos)
        if (auto st = need(buffered_.size() + 1); !st) return st.error();
    std::string line = buffered_.substr(0, eol);
    buffered_.erase(0, eol + 2);
    return line;
}

Result<HttpResponse> HttpConnection::read_response(const std::string& method) {
    HttpResponse resp;
    auto status_line = read_line();
    if (!status_line) return status_line.error();
    std::string version;
    std::istringstream sl(*status_line);
    sl >> version >> resp.status;
    if (version.rfind("HTTP/1.", 0) != 0 || resp.status < 100)
        return Error{"bad status line from " + where() + ": " + trim(*status_line)};
    for (;;) {
        auto line = read_line();
        if (!line) return line.error();
        if (line->empty()) break;
        auto colon = line->find(':');
        if (colon == std::string::npos) return Error{"bad header line from " + where() + ": " + *line};
        std::string name = lower(trim(std::string_view(*line).substr(0, colon)));
        std::string value = trim(std::string_view(*line).substr(colon + 1));
        auto [it, inserted] = resp.headers.emplace(name, value);
        if (!inserted) it->second += ", " + value;
    }
    std::string connection = lower(resp.header("connection"));
    resp.keep_alive = version == "HTTP/1.1" ? connection.find("close") == std::string::npos
                                             : connection.find("keep-alive") != std::string::npos;

    if (method == "HEAD" || resp.status < 200 || resp.status == 204 || resp.status == 304) return resp;
    if (lower(resp.header("transfer-encoding")).find("chunked") != std::string::npos) {
        for (;;) {
            auto size_line = read_line();
            if (!size_line) return size_line.error();
            size_t size = 0;
            auto [p, ec] = std::from_chars(size_line->data(), size_line->data() + size_line->size(), size, 16);
            if (ec != std::errc()) return Error{"bad chunk size from " + where() + ": " + *size_line};
            if (size == 0) break;
            if (auto st = need(size + 2); !st) return st.error();
            resp.body.append(buffered_, 0, size);
            buffered_.erase(0, size + 2);
        }
        for (;;) {  // trailers, up to the empty line
            auto line = read_line();
            if (!line) return line.error();
            if (line->empty()) return resp;
        }
    }
    if (std::string cl = resp.header("content-length"); !cl.empty()) {
        size_t len = 0;
        auto [p, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), len);
        if (ec != std::errc() || p != cl.data() + cl.size())
            return Error{"bad Content-Length from " + where() + ": " + cl};
        if (auto st = need(len); !st) return st.error();
        resp.body = buffered_.substr(0, len);
        buffered_.erase(0, len);
        return resp;
    }
    // Neither: the body runs to the end of the connection.
    for (;;) {
        auto more = fill();
        if (!more) return more.error();
        if (!*more) break;
    }
    resp.body = std::exchange(buffered_, {});
    resp.keep_alive = false;
    return resp;
}

Result<HttpResponse> http_get(int port, const std::string& target, const Headers& headers) {
    HttpConnection conn(port);
    Headers with_close = headers;
    with_close.emplace_back("Connection", "close");
    return conn.get(target, with_close);
}

json get_json(int port, const std::string& target) {
    auto r = http_get(port, target);
    if (!r || r->status != 200) {
        ADD_FAILURE() << "GET " << target << " on port " << port << ": "
                      << (r ? "status " + std::to_string(r->status) : r.error().message);
        return json::object();
    }
    return json::parse(r->body, nullptr, false);
}

// ---- load --------------------------------------------------------------------------------

std::string LoadLoop::Stats::describe() const {
    std::string s = std::to_string(ok) + " ok, " + std::to_string(failed) + " failed";
    for (const auto& [reason, n] : reasons) s += "; " + std::to_string(n) + "x " + reason;
    return s;
}

LoadLoop::LoadLoop(int port, std::string target, int max_requests, std::chrono::milliseconds pause)
    : port_(port), target_(std::move(target)), max_requests_(max_requests), pause_(pause) {}

LoadLoop::~LoadLoop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void LoadLoop::start() { thread_ = std::thread([this] { run(); }); }

LoadLoop::Stats LoadLoop::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return snapshot();
}

LoadLoop::Stats LoadLoop::snapshot() const {
    std::lock_guard lock(mu_);
    return stats_;
}

void LoadLoop::run() {
    HttpConnection keep_alive(port_);
    for (int i = 0; i < max_requests_ && !stop_; ++i) {
        record(i % 2 == 0 ? keep_alive.get(target_) : http_get(port_, target_));
        std::this_thread::sleep_for(pause_);
    }
}

void LoadLoop::record(const Result<HttpResponse>& r) {
    std::string reason;
    int pid = 0;
    if (!r) {
        reason = r.error().message;
    } else if (r->status != 200) {
        reason = "status " + std::to_string(r->status);
    } else {
        json body = json::parse(r->body, nullptr, false);
        if (body.is_object() && body.contains("pid") && body["pid"].is_number_integer()) pid = body["pid"].get<int>();
    }
    std::lock_guard lock(mu_);
    if (reason.empty()) {
        ++stats_.ok;
        ++stats_.trailing_ok;
        if (pid > 0) stats_.pids.insert(pid);
    } else {
        ++stats_.failed;
        stats_.trailing_ok = 0;
        ++stats_.reasons[reason];
    }
}

// ---- the fixture -------------------------------------------------------------------------

namespace {

std::string apps_dir() { return std::string(NODEEDGE_SOURCE_DIR) + "/tests/integration/apps"; }

std::string last_lines(const std::string& text, size_t n) {
    size_t pos = text.size();
    for (size_t seen = 0; pos > 0 && seen <= n;) {
        --pos;
        if (text[pos] == '\n' && pos + 1 < text.size()) ++seen;
    }
    return text.substr(pos == 0 ? 0 : pos + 1);
}

// The live processes behind the "pid" fields of `status --json` rows.
std::vector<ProcessRef> live_processes_in(const json& rows) {
    std::vector<ProcessRef> out;
    for (const auto& row : rows)
        if (row.contains("pid") && row["pid"].is_number_integer())
            if (auto p = process_ref(row["pid"].get<pid_t>())) out.push_back(*p);
    return out;
}

// Reads whatever `fd` (non-blocking) holds now into `out`; false once it reached EOF.
bool drain_pipe(int fd, std::string& out) {
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) { out.append(buf, static_cast<size_t>(n)); continue; }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);  // else EOF or a dead pipe
    }
}

}  // namespace

void IntegrationTest::SetUp() {
    char tmpl[] = "/tmp/nodeedge-it-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << "mkdtemp: " << std::strerror(errno);
    dir_ = tmpl;
    home_ = dir_ + "/home";
    ASSERT_EQ(::mkdir(home_.c_str(), 0700), 0) << "mkdir " << home_ << ": " << std::strerror(errno);
}

void IntegrationTest::TearDown() {
    if (dir_.empty()) return;
    const bool daemon_running = process_ref(daemon_pid()).has_value();
    if (daemon_running) {
        track_processes();
        RunResult k = run_args({"kill"}, 30s);
        if (k.code != 0) std::cerr << "harness: `nodeedge kill` exited " << k.code << ": " << k.err << "\n";
    }
    auto survivors = [this] {
        std::vector<ProcessRef> left;
        for (const auto& p : tracked_)
            if (alive(p)) left.push_back(p);
        return left;
    };
    wait_until([&] { return survivors().empty(); }, 15s);
    for (const auto& p : survivors()) {
        std::cerr << "harness: killing leftover pid " << p.pid << "\n";
        ::kill(p.pid, SIGKILL);
    }
    if (HasFailure()) dump_daemon_log();
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

void IntegrationTest::dump_daemon_log() const {
    std::vector<std::string> files{home_ + "/daemon.log"};
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(home_ + "/logs", ec)) files.push_back(e.path().string());
    for (const auto& f : files) {
        if (!fs::exists(f)) continue;
        std::cerr << "----- last lines of " << f << " -----\n" << last_lines(read_file(f), 40) << "\n";
    }
}

RunResult IntegrationTest::run_args(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
    std::vector<std::string> argv{NODEEDGE_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, timeout);
}

RunResult IntegrationTest::run_command(const std::vector<std::string>& argv_strings,
                                       std::chrono::milliseconds timeout) {
    RunResult res;
    // Built before fork: the child of a process that has threads (LoadLoop) may only call
    // async-signal-safe functions, so no setenv() there.
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
        if (std::string_view(*e).rfind("NODEEDGE_HOME=", 0) != 0) env_strings.emplace_back(*e);
    env_strings.push_back("NODEEDGE_HOME=" + home_);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv_strings;
    std::vector<char*> argv;
    for (auto& s : argv_copy) argv.push_back(s.data());
    argv.push_back(nullptr);

    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        res.err = Error::from_errno("pipe").message;
        return res;
    }
    UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]), err_r(err_pipe[0]), err_w(err_pipe[1]);
    pid_t pid = fork();
    if (pid < 0) {
        res.err = Error::from_errno("fork").message;
        return res;
    }
    if (pid == 0) {
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(out_w.get(), 1);
        dup2(err_w.get(), 2);
        execvpe(argv[0], argv.data(), envp.data());  // a PATH search: tests run `node` too
        _exit(127);
    }
    out_w.reset();
    err_w.reset();
    fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
    fcntl(err_r.get(), F_SETFL, O_NONBLOCK);

    // Stop reading when the CLI exits, not at EOF: a daemon it launched may still hold the
    // pipes if it did not detach its stdio.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool out_open = true, err_open = true;
    int wstatus = 0;
    for (;;) {
        pollfd fds[2] = {{out_open ? out_r.get() : -1, POLLIN, 0}, {err_open ? err_r.get() : -1, POLLIN, 0}};
        ::poll(fds, 2, 50);
        if (out_open) out_open = drain_pipe(out_r.get(), res.out);
        if (err_open) err_open = drain_pipe(err_r.get(), res.err);
        pid_t done = waitpid(pid, &wstatus, WNOHANG);
        if (done == pid) {
            if (out_open) drain_pipe(out_r.get(), res.out);
            if (err_open) drain_pipe(err_r.get(), res.err);
            res.code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
            return res;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            waitpid(pid, &wstatus, 0);
            res.err += "\n[harness: `" + fs::path(argv_strings[0]).filename().string();
            for (size_t i = 1; i < argv_strings.size(); ++i) res.err += " " + argv_strings[i];
            res.err += "` killed after " + std::to_string(timeout.count()) + " ms]";
            return res;
        }
    }
}

std::optional<json> IntegrationTest::parse_status(const RunResult& r) {
    json rows = json::parse(r.out, nullptr, false);
    if (r.code != 0 || !rows.is_array()) return std::nullopt;
    for (const auto& p : live_processes_in(rows)) remember(p);
    return rows;
}

std::optional<json> IntegrationTest::try_status_json() { return parse_status(run("status", "--json")); }

json IntegrationTest::status_json() {
    RunResult r = run("status", "--json");
    if (auto rows = parse_status(r)) return *rows;
    ADD_FAILURE() << "`nodeedge status --json` exited " << r.code << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return json::array();
}

std::vector<json> IntegrationTest::workers_of(const std::string& name) {
    std::vector<json> rows;
    for (const auto& row : status_json())
        if (row.value("name", "") == name) rows.push_back(row);
    std::sort(rows.begin(), rows.end(),
              [](const json& a, const json& b) { return a.value("instance", 0) < b.value("instance", 0); });
    return rows;
}

bool IntegrationTest::port_is_free(int port) const {
    if (port <= 0 || port > 65535 || handed_out_ports_.count(port)) return false;
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    return fd && bind_loopback(fd.get(), port);
}

namespace {

// The kernel's ephemeral ports (net.ipv4.ip_local_port_range): every client connection of every
// test running alongside takes its local port from there, so a port that was free a moment ago
// may be a client's when the app binds it (EADDRINUSE). Ports are handed out below them.
std::pair<int, int> ephemeral_ports() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    int low = 32768, high = 60999;
    in >> low >> high;
    return {low, high};
}

}  // namespace

int IntegrationTest::free_port_range(int n) {
    constexpr int kLowest = 10000;
    // An app's reload range sits kReloadPortOffset above its ports (reload_port's default): it
    // is handed out with them, stays below the ephemeral ports, and never meets the ports handed
    // out below it, which another test running alongside may hold (its own reload moves a worker
    // to its twin): bases in [kLowest, kLowest + kTwin), twins in [kLowest + kTwin, ...).
    constexpr int kTwin = config::kReloadPortOffset;
    const int below = std::min(kLowest + kTwin, ephemeral_ports().first - kTwin);
    // Tests run side by side: each process starts at its own random place.
    static std::mt19937 pick(static_cast<unsigned>(::getpid()) ^ static_cast<unsigned>(std::random_device{}()));
    if (below - n > kLowest) {
        std::uniform_int_distribution<int> base_of(kLowest, below - n);
        for (int attempt = 0; attempt < 200; ++attempt) {
            const int base = base_of(pick);
            bool all_free = true;
            for (int p = base; p < base + n && all_free; ++p) all_free = port_is_free(p) && port_is_free(p + kTwin);
            if (!all_free) continue;
            for (int p = base; p < base + n; ++p) handed_out_ports_.insert({p, p + kTwin});
            return base;
        }
    }
    ADD_FAILURE() << "no " << n << " consecutive free loopback ports (and their reload twins) found in " << kLowest
                  << ".." << below;
    return 0;
}

int IntegrationTest::free_port() { return free_port_range(1); }

std::string IntegrationTest::write_file(const std::string& file_name, const std::string& tmpl,
                                        const std::map<std::string, std::string>& vars) {
    std::map<std::string, std::string> all = vars;
    all.emplace("APPS", apps_dir());
    all.emplace("HOME", home_);
    std::string text = tmpl;
    for (const auto& [name, value] : all) {
        const std::string key = "${" + name + "}";
        for (size_t pos = 0; (pos = text.find(key, pos)) != std::string::npos; pos += value.size())
            text.replace(pos, key.size(), value);
    }
    EXPECT_EQ(text.find("${"), std::string::npos) << "unreplaced variable in " << file_name << ":\n" << text;
    const std::string path = dir_ + "/" + file_name;
    std::ofstream(path) << text;
    return path;
}

std::string IntegrationTest::stage_example(const std::string& name,
                                           const std::vector<std::pair<std::string, std::string>>& replace) {
    const fs::path source = fs::path(NODEEDGE_SOURCE_DIR) / "ecosystem-examples" / name;
    const fs::path staged = fs::path(dir_) / name;
    std::error_code ec;
    fs::create_directory(staged, ec);
    EXPECT_FALSE(ec) << "mkdir " << staged << ": " << ec.message();
    // Symlinks, not copies: node_modules and .next stay where setup built them.
    for (const auto& entry : fs::directory_iterator(source, ec)) {
        if (entry.path().filename() == "ecosystem.toml") continue;
        fs::create_symlink(entry.path(), staged / entry.path().filename(), ec);
        EXPECT_FALSE(ec) << "symlink " << entry.path() << ": " << ec.message();
    }
    std::string text = read_file((source / "ecosystem.toml").string());
    EXPECT_FALSE(text.empty()) << "cannot read " << source / "ecosystem.toml";
    for (const auto& [from, to] : replace) {
        EXPECT_NE(text.find(from), std::string::npos) << "example " << name << "'s ecosystem.toml has no \"" << from << "\"";
        for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
            text.replace(pos, from.size(), to);
    }
    const std::string path = (staged / "ecosystem.toml").string();
    std::ofstream(path) << text;
    return path;
}

std::string IntegrationTest::curl(const std::string& args) {
    const std::string cmd = "curl -sS --max-time 10 " + args;
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) {
        ADD_FAILURE() << "popen " << cmd << ": " << std::strerror(errno);
        return out;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
}

pid_t IntegrationTest::daemon_pid() const {
    std::ifstream in(home_ + "/daemon.pid");
    pid_t pid = 0;
    in >> pid;
    return in ? pid : 0;
}

std::vector<ProcessRef> IntegrationTest::proxy_worker_processes() const {
    std::vector<ProcessRef> out;
    for (const auto& p : descendants(daemon_pid()))
        if (read_file("/proc/" + std::to_string(p.pid) + "/cmdline").find("__proxy-worker") != std::string::npos)
            out.push_back(p);
    return out;
}

std::vector<ProcessRef> IntegrationTest::track_processes() {
    std::set<ProcessRef> seen;
    auto daemon = process_ref(daemon_pid());
    if (!daemon) return {};
    seen.insert(*daemon);
    for (const auto& p : descendants(daemon->pid)) seen.insert(p);
    // Workers that left the daemon's process tree (a double fork) are still listed.
    if (auto rows = try_status_json())
        for (const auto& p : live_processes_in(*rows)) seen.insert(p);
    tracked_.insert(seen.begin(), seen.end());
    return {seen.begin(), seen.end()};
}

}  // namespace ne::itest
