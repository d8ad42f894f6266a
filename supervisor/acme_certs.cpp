#include "supervisor/acme_certs.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <csignal>
#include <chrono>
#include <ctime>
#include <random>

extern char** environ;

namespace ne::supervisor {

using nlohmann::json;
namespace acme = ipc::acme;

namespace {

constexpr int64_t kCheckEvery = 3600;
constexpr int64_t kJitter = 600;

int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// "2031-12-08T02:39:05Z", for events a person reads.
std::string utc(int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// The challenge a server's certificate is validated with: as configured, else http-01 when
// some server listens in plain HTTP (where the CA's port 80 can arrive), else tls-alpn-01.
std::string challenge_for(const config::Config& cfg) {
    if (!cfg.acme.challenge.empty()) return cfg.acme.challenge;
    for (const auto& s : cfg.servers)
        if (!s.tls.enabled) return "http-01";
    return "tls-alpn-01";
}

}  // namespace

int64_t next_check_after(int64_t now, int64_t renew_at, int64_t jitter) {
    return std::max(now, std::min(now + kCheckEvery + jitter, renew_at));
}

int64_t retry_delay(int failures) {
    constexpr int64_t kMax = 6 * 3600;
    int64_t d = 60;
    for (int i = 1; i < failures && d < kMax; ++i) d *= 2;
    return std::min(d, kMax);
}

json with_acme_paths(json config, const std::string& home) {
    if (!config.contains("servers")) return config;
    for (auto& s : config["servers"]) {
        json& tls = s["tls"];
        if (!tls.value("acme", false) || s.value("server_name", json::array()).empty()) continue;
        const std::string name = s["server_name"][0];
        tls["cert"] = acme::cert_path(home, name);
        tls["key"] = acme::key_path(home, name);
    }
    return config;
}

AcmeCerts::AcmeCerts(Host host) : host_(std::move(host)), timer_(evtimer_new(host_.base, on_timer, this)) {}

AcmeCerts::~AcmeCerts() {
    if (job_ && job_->pid > 0) ::kill(job_->pid, SIGTERM);   // reaped by the master's loop, if still running
}

void AcmeCerts::sync(const config::Config& cfg) {
    std::map<std::string, acme::Job> wanted;
    for (const auto& s : cfg.servers) {
        if (!s.tls.acme || s.server_name.empty()) continue;
        acme::Job j;
        j.home = host_.home;
        j.name = s.server_name.front();
        j.names = s.server_name;
        j.email = cfg.acme.email;
        j.directory = cfg.acme.directory;
        j.ca_bundle = cfg.acme.ca_bundle;
        j.challenge = challenge_for(cfg);
        j.key_type = cfg.acme.key_type;
        j.renew_before_s = std::chrono::duration_cast<std::chrono::seconds>(cfg.acme.renew_before).count();
        wanted.emplace(j.name, std::move(j));
    }
    for (auto it = certs_.begin(); it != certs_.end();) {
        if (wanted.count(it->first)) {
            ++it;
            continue;
        }
        // A job still running for it finds it gone and just ends.
        for (auto& w : it->second.waiters) w({{"ok", false}, {"error", it->first + ": its server was removed"}});
        it = certs_.erase(it);
    }
    for (auto& [name, job] : wanted) {
        auto it = certs_.find(name);
        if (it == certs_.end()) {
            certs_[name].job = std::move(job);
            certs_[name].next_check = unix_now();
        } else if (json(it->second.job) != json(job)) {
            it->second.job = std::move(job);
            it->second.next_check = unix_now();   // new names or a new CA: see to it now
            it->second.failures = 0;
        }
    }
    arm();
}

void AcmeCerts::renew(const std::string& name, Done done) {
    auto it = certs_.find(name);
    if (it == certs_.end()) {
        std::string known;
        for (auto& [n, c] : certs_) known += (known.empty() ? "" : ", ") + n;
        done({{"ok", false},
              {"error", "no certificate named '" + name + "' (" + (known.empty() ? "no server has tls = \"auto\"" : "known: " + known) + ")"}});
        return;
    }
    it->second.force = true;
    it->second.next_check = unix_now();
    it->second.waiters.push_back(std::move(done));
    arm();
}

json AcmeCerts::row(const std::string& name) const {
    const Cert& c = certs_.at(name);
    std::string state = job_ && job_->name == name ? "checking" : !c.last_error.empty() ? "failing"
                      : c.last.not_after ? "valid" : "pending";
    return {{"name", name},
            {"names", c.job.names},
            {"challenge", c.job.challenge},
            {"directory", c.job.directory},
            {"issuer", c.last.issuer},
            {"not_before", c.last.not_before},
            {"not_after", c.last.not_after},
            {"next_renewal", c.last.renew_at},
            {"renewal_info", c.last.ari},
            {"next_check", c.next_check},
            {"last_error", c.last_error},
            {"failures", c.failures},
            {"state", state},
            {"cert", acme::cert_path(host_.home, name)}};
}

json AcmeCerts::list() const {
    json rows = json::array();
    for (auto& [name, c] : certs_) rows.push_back(row(name));
    return rows;
}

std::string AcmeCerts::metrics_text() const {
    if (certs_.empty()) return "";
    std::string out =
        "# HELP nodeedge_certificate_expiry_seconds Seconds until the ACME certificate expires (negative: expired).\n"
        "# TYPE nodeedge_certificate_expiry_seconds gauge\n";
    const int64_t now = unix_now();
    for (auto& [name, c] : certs_)
        if (c.last.not_after) out += "nodeedge_certificate_expiry_seconds{name=\"" + name + "\"} " + std::to_string(c.last.not_after - now) + "\n";
    out += "# HELP nodeedge_certificate_renewal_failures Consecutive failed ACME checks or orders (0: the last one succeeded).\n"
           "# TYPE nodeedge_certificate_renewal_failures gauge\n";
    for (auto& [name, c] : certs_)
        out += "nodeedge_certificate_renewal_failures{name=\"" + name + "\"} " + std::to_string(c.failures) + "\n";
    return out;
}

// ---- scheduling -------------------------------------------------------------------------

void AcmeCerts::arm() {
    if (job_ || certs_.empty()) return;
    int64_t soonest = INT64_MAX;
    for (auto& [name, c] : certs_) soonest = std::min(soonest, c.next_check);
    timeval t{static_cast<time_t>(std::clamp<int64_t>(soonest - unix_now(), 0, kCheckEvery)), 0};
    evtimer_add(timer_.get(), &t);
}

void AcmeCerts::on_timer(evutil_socket_t, short, void* self) { static_cast<AcmeCerts*>(self)->start_due(); }

void AcmeCerts::start_due() {
    if (job_) return;
    const int64_t now = unix_now();
    Cert* due = nullptr;
    for (auto& [name, c] : certs_)
        if (c.next_check <= now && (!due || c.next_check < due->next_check)) due = &c;
    if (!due) return arm();
    if (auto s = start_job(*due); !s) {
        due->failures++;
        due->last_error = s.error().message;
        due->next_check = now + retry_delay(due->failures);
        spdlog::error("acme {}: {}", due->job.name, s.error().message);
        arm();
    }
}

Status AcmeCerts::start_job(Cert& c) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return Error::from_errno("acme job: pipe");
    UniqueFd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) return Error::from_errno("acme job: pipe");
    UniqueFd out_r(out[0]), out_w(out[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    std::string verb = "__acme-job";
    char* argv[] = {host_.self_exe.data(), verb.data(), nullptr};
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, host_.self_exe.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return Error::from_errno("acme job: spawn " + host_.self_exe, rc);
    evutil_make_socket_nonblocking(out_r.get());

    Job j;
    j.name = c.job.name;
    j.pid = pid;
    j.to_job = std::move(in_w);
    j.from_job.reset(bufferevent_socket_new(host_.base, out_r.release(), BEV_OPT_CLOSE_ON_FREE));
    bufferevent_setcb(j.from_job.get(), on_read, nullptr, on_event, this);
    bufferevent_enable(j.from_job.get(), EV_READ);
    job_ = std::move(j);
    acme::Job job = c.job;
    job.force = c.force;
    tell_job(job);
    spdlog::info("acme {}: checking{} (job pid {})", c.job.name, c.force ? ", renewal forced" : "", pid);
    return {};
}

void AcmeCerts::tell_job(const json& line) {
    if (!job_ || !job_->to_job) return;
    const std::string text = line.dump() + "\n";
    // A few hundred bytes into an empty pipe: the write does not block.
    if (::write(job_->to_job.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        spdlog::warn("acme {}: cannot write to its job: {}", job_->name, std::strerror(errno));
}

void AcmeCerts::on_read(bufferevent* bev, void* self) {
    auto* a = static_cast<AcmeCerts*>(self);
    evbuffer* in = bufferevent_get_input(bev);
    while (char* line = evbuffer_readln(in, nullptr, EVBUFFER_EOL_LF)) {
        std::string text(line);
        std::free(line);
        try {
            a->on_line(text);
        } catch (const std::exception& e) {
            spdlog::error("acme job: {}", e.what());
        }
    }
}

void AcmeCerts::on_event(bufferevent*, short, void* self) { static_cast<AcmeCerts*>(self)->finish_job(); }

void AcmeCerts::on_line(const std::string& line) {
    json j = json::parse(line, nullptr, false);
    const std::string type = j.is_object() ? j.value("type", "") : "";
    if (type == "challenges") {
        ipc::AcmeChallenges c;
        c.http = j.value("http", json::object()).get<std::map<std::string, std::string>>();
        for (const auto& a : j.value("alpn", json::array()))
            c.alpn.push_back({a.value("name", ""), a.value("cert", ""), a.value("key", "")});
        host_.publish(std::move(c), [this] { tell_job({{"type", "challenges_ready"}}); });
    } else if (type == "withdraw") {
        host_.publish({}, [] {});
    } else if (type == "outcome") {
        job_->outcome = j.get<acme::Outcome>();
    } else {
        spdlog::warn("acme job: unexpected line: {}", line);
    }
}

void AcmeCerts::finish_job() {
    if (!job_) return;
    Job j = std::move(*job_);
    job_.reset();
    auto it = certs_.find(j.name);
    if (it == certs_.end()) return arm();   // its server went away meanwhile
    Cert& c = it->second;
    acme::Outcome o = j.outcome.value_or(acme::Outcome{});
    if (!j.outcome) {
        o.error = "the ACME job (pid " + std::to_string(j.pid) + ") ended without an answer; see the daemon log";
        o.not_before = c.last.not_before;
        o.not_after = c.last.not_after;
        o.issuer = c.last.issuer;
        o.renew_at = c.last.renew_at;
    }
    const bool forced = std::exchange(c.force, false);
    const int64_t now = unix_now();
    if (o.not_after) c.last = o;   // a failed order still reports the certificate that serves
    // A first certificate for some of the names is an order that both issued and failed.
    if (o.ordered) {
        host_.reload_certificates();
        record(c, forced ? "renewed" : "issued",
               "issued by " + o.issuer + ", valid until " + utc(o.not_after) + "; renewal at " + utc(o.renew_at) +
                   (o.ari ? " (CA's renewalInfo)" : " (renew_before)"));
    }
    if (o.ok) {
        c.failures = 0;
        c.last_error.clear();
        std::random_device rd;
        c.next_check = next_check_after(now, o.renew_at, std::uniform_int_distribution<int64_t>(0, kJitter)(rd));
    } else {
        c.failures++;
        c.last_error = o.error;
        c.next_check = now + retry_delay(c.failures);
        record(c, "renew-failed",
               o.error + "; " + (o.not_after ? "the current certificate keeps serving" : "the stand-in keeps serving") +
                   "; retrying in " + std::to_string(retry_delay(c.failures)) + " s");
    }
    json reply = o.ok ? json{{"ok", true}, {"ordered", o.ordered}, {"certificate", row(j.name)}}
                      : json{{"ok", false},
                             {"error", o.error.starts_with(j.name + ":") ? o.error : j.name + ": " + o.error},
                             {"certificate", row(j.name)}};
    for (auto& w : std::exchange(c.waiters, {})) w(reply);
    arm();
}

void AcmeCerts::record(const Cert& c, const std::string& kind, const std::string& detail) {
    if (kind == "renew-failed") spdlog::error("acme {} {}: {}", c.job.name, kind, detail);
    else spdlog::info("acme {} {}: {}", c.job.name, kind, detail);
    host_.record(EventRow{unix_now_ms(), "acme:" + c.job.name, c.job.name, kind, detail});
}

}  // namespace ne::supervisor
