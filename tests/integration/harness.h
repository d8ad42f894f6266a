// The integration-test harness: each test gets its own $NODEEDGE_HOME and free loopback
// ports, drives the real `nodeedge` binary and talks HTTP to the real proxy, and leaves no
// process behind whatever happens (TearDown kills by pid what `nodeedge kill` did not stop).
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::itest {

using nlohmann::json;
using namespace std::chrono_literals;

// Polls `pred` (every 50 ms) until it holds or `timeout` passes; returns its last answer.
// Tests wait for conditions this way rather than sleeping for a guessed time.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

// The whole file; "" when it cannot be read.
std::string read_file(const std::string& path);
// Creates or replaces the file with exactly these bytes.
void write_bytes(const std::string& path, const std::string& bytes);

// ---- processes ---------------------------------------------------------------------------

// A pid plus its start time (/proc/<pid>/stat field 22), so a reused pid is never mistaken
// for the process the test saw.
struct ProcessRef {
    pid_t pid = 0;
    unsigned long long start_time = 0;
    bool operator<(const ProcessRef& o) const { return pid != o.pid ? pid < o.pid : start_time < o.start_time; }
};

// The live process with that pid, if any (zombies count as gone).
std::optional<ProcessRef> process_ref(pid_t pid);
bool alive(const ProcessRef& p);
// A process as /proc/<pid>/stat shows it.
struct ProcStat {
    pid_t pid = 0;
    char state = '?';   // 'Z' for a zombie
    pid_t ppid = 0;
    unsigned long long start_time = 0;
    std::string name;   // the command name, e.g. "sh"
};
// The children of `parent`, zombies included.
std::vector<ProcStat> children_of(pid_t parent);
// Every live descendant of `root` (children, grandchildren, ...), found through /proc.
std::vector<ProcessRef> descendants(pid_t root);
// The numbers after "<field>:" in /proc/<pid>/status ("Uid": real, effective, saved, fs);
// empty when the process or the field is gone.
std::vector<long long> proc_status_numbers(pid_t pid, const std::string& field);
// A process's VmRSS in bytes; 0 when it is gone.
uint64_t rss_bytes(pid_t pid);

struct RunResult {
    int code = -1;     // exit status; -1 if killed by a signal or timed out
    std::string out;
    std::string err;
};

// ---- loopback sockets --------------------------------------------------------------------

// Binds `fd` to 127.0.0.1:port (0: the kernel picks); false, errno set, when it cannot.
bool bind_loopback(int fd, int port);
// Connects `fd` to 127.0.0.1:port; false, errno set, when it cannot.
bool connect_loopback(int fd, int port);
// The local port `fd` is bound to; 0 when it has none.
int local_port(int fd);

// ---- HTTP --------------------------------------------------------------------------------

struct HttpResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased; repeated ones joined ", "
    std::string body;
    bool keep_alive = true;                      // false when the server said Connection: close

    // "" when absent. `name` in any case.
    std::string header(const std::string& name) const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One HTTP/1.1 client connection to 127.0.0.1:port over a raw socket. It reconnects on the
// next request after the server closed, so it serves as a keep-alive client in loops.
// Every socket operation has a timeout, so a hung proxy fails the request, never the suite.
class HttpConnection {
public:
    explicit HttpConnection(int port, std::chrono::milliseconds io_timeout = 10s);

    // Sends the request (adding Host: 127.0.0.1:port unless `headers` has one, and
    // Content-Length for a body) and reads the whole response.
    Result<HttpResponse> request(const std::string& method, const std::string& target,
                                 const Headers& headers = {}, const std::string& body = {});
    Result<HttpResponse> get(const std::string& target, const Headers& headers = {}) {
        return request("GET", target, headers);
    }
    void close();

private:
    Status connect_if_needed();
    bool send_all(const std::string& data);
    Result<HttpResponse> read_response(const std::string& method);
    Result<std::string> read_line();       // one CRLF-terminated line, without the CRLF
    Status need(size_t n);                 // until buffered_ holds n bytes
    Result<bool> fill();                   // appends what arrives; false at EOF
    std::string where() const;             // "127.0.0.1:port", for messages

    int port_;
    std::chrono::milliseconds io_timeout_;
    UniqueFd fd_;
    std::string buffered_;     // received and not yet consumed
    bool got_bytes_ = false;   // of the current response
    bool peer_closed_ = false; // EOF, reset or EPIPE during the current request
};

// A GET on a connection of its own ("Connection: close").
Result<HttpResponse> http_get(int port, const std::string& target, const Headers& headers = {});
// http_get of a 200 JSON answer, parsed; an empty object (and a test failure) otherwise.
json get_json(int port, const std::string& target);

// ---- load --------------------------------------------------------------------------------

// Sends GETs to a port from a thread until stopped or until `max_requests` were sent,
// alternating a keep-alive connection and fresh connections (so both a pooled client and
// connection setup are exercised). Counts what succeeded (status 200) and why others failed.
// `pause` between requests leaves CPU to the daemon and workers on a 2-core CI machine and
// stretches the bounded request count over a longer test.
class LoadLoop {
public:
    struct Stats {
        int ok = 0;
        int failed = 0;
        int trailing_ok = 0;                      // successes since the last failure
        std::map<std::string, int> reasons;       // "status 502", "read: Connection reset..."
        std::set<int> pids;                       // "pid" of echo-style JSON bodies
        std::string describe() const;             // one line for assertion messages
    };

    LoadLoop(int port, std::string target = "/", int max_requests = 20000,
             std::chrono::milliseconds pause = 2ms);
    ~LoadLoop();  // stops the thread

    void start();
    Stats stop();
    // Current counts (the loop keeps running).
    Stats snapshot() const;

private:
    void run();
    void record(const Result<HttpResponse>& r);

    int port_;
    std::string target_;
    int max_requests_;
    std::chrono::milliseconds pause_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    mutable std::mutex mu_;
    Stats stats_;
};

// ---- the fixture -------------------------------------------------------------------------

class IntegrationTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    // Runs `nodeedge args...` with NODEEDGE_HOME set; kills it after `timeout`.
    RunResult run_args(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 60s);
    template <typename... A>
    RunResult run(const A&... args) { return run_args({std::string(args)...}); }
    // Runs any program (argv[0] looked up in PATH, e.g. "node") the same way.
    RunResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 60s);

    // `status --json`, parsed; an empty array (and a test failure) when it does not succeed.
    json status_json();
    // The rows of `status --json` for app `name`, ordered by instance.
    std::vector<json> workers_of(const std::string& name);

    // A loopback port nothing listens on, never handed out twice in one test; so is the port
    // 10000 above it, an app's default reload_port twin.
    int free_port();
    // The first of `n` consecutive free ports.
    int free_port_range(int n);

    // Writes `file_name` (in the test's temp dir) from `tmpl` with ${NAME} replaced by
    // vars[NAME]; ${APPS} is always the test apps' folder and ${HOME} the NODEEDGE_HOME.
    // Returns the absolute path.
    std::string write_file(const std::string& file_name, const std::string& tmpl,
                           const std::map<std::string, std::string>& vars = {});

    // ecosystem-examples/<name> as the test's own folder: a symlink to each of the example's
    // files, and its ecosystem.toml with every `from` text replaced by `to` (each must occur),
    // so the example runs as users run it, but on the test's free ports. Returns the file's path.
    std::string stage_example(const std::string& name,
                              const std::vector<std::pair<std::string, std::string>>& replace);

    // curl (via popen) with `args` appended; returns its stdout.
    std::string curl(const std::string& args);

    // The daemon's pid from $NODEEDGE_HOME/daemon.pid, 0 if there is none.
    pid_t daemon_pid() const;
    // Remembers the daemon, its descendants and every pid in `status --json` so TearDown can
    // kill them; returns what it saw now.
    std::vector<ProcessRef> track_processes();
    // The daemon's live proxy worker processes (`nodeedge __proxy-worker`).
    std::vector<ProcessRef> proxy_worker_processes() const;

    const std::string& home() const { return home_; }
    const std::string& dir() const { return dir_; }

private:
    bool port_is_free(int port) const;
    // The rows of a `status --json` run (remembering their pids), or nullopt.
    std::optional<json> parse_status(const RunResult& r);
    std::optional<json> try_status_json();
    void remember(const ProcessRef& p) { tracked_.insert(p); }
    void dump_daemon_log() const;

    std::string dir_;   // mkdtemp'd; holds home/ and the test's config files
    std::string home_;
    std::set<int> handed_out_ports_;
    std::set<ProcessRef> tracked_;
};

}  // namespace ne::itest
