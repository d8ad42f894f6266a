// The certificates of `tls = "auto"` servers, seen from the daemon. One per server, named by
// its first server_name. Each is checked when it appears (so a restarted daemon reports what
// it has without ordering anything new), then about hourly with up to 10 minutes of jitter,
// and renewed when due (ACME Renewal Information when the CA offers it, else renew_before);
// a failure is retried with exponential backoff while the old certificate keeps serving.
//
// Only this object runs ACME, one job at a time (the lock: one account, one order per name);
// the job is a child process (`nodeedge __acme-job`, ipc/acme_job.h) so that HTTPS round trips
// to the CA never hold up the daemon's loop. Challenges go to every proxy worker through the
// host, and an issued certificate reaches them by the config reload path (proxy workers
// rebuild their TLS contexts: new handshakes get it, open connections keep theirs).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "ipc/acme_job.h"
#include "ipc/event_ptr.h"
#include "ipc/messages.h"
#include "ipc/unique_fd.h"
#include "supervisor/state_db.h"

namespace ne::supervisor {

class AcmeCerts {
public:
    struct Host {
        event_base* base = nullptr;
        std::string self_exe;
        std::string home;
        // Have every proxy worker answer `c`; applied() once they all do.
        std::function<void(ipc::AcmeChallenges c, std::function<void()> applied)> publish;
        // Certificate files changed: proxy workers load them for new handshakes.
        std::function<void()> reload_certificates;
        std::function<void(const EventRow&)> record;
    };
    using Done = std::function<void(nlohmann::json reply)>;

    explicit AcmeCerts(Host host);
    ~AcmeCerts();
    AcmeCerts(const AcmeCerts&) = delete;
    AcmeCerts& operator=(const AcmeCerts&) = delete;

    // The certificates `cfg` asks for: new ones are checked at once, gone ones forgotten.
    void sync(const config::Config& cfg);
    // `certs renew NAME`: an order now, whether due or not; done() with {ok, certificate} or
    // {ok: false, error} once it ends. An unknown name fails at once.
    void renew(const std::string& name, Done done);
    bool has(const std::string& name) const { return certs_.count(name) != 0; }
    // `certs`: [{name, names, challenge, issuer, not_before, not_after, next_renewal,
    //            next_check, renewal_info, last_error, failures, state}]
    nlohmann::json list() const;
    nlohmann::json row(const std::string& name) const;
    // nodeedge_certificate_expiry_seconds and nodeedge_certificate_renewal_failures per name.
    std::string metrics_text() const;

private:
    struct Cert {
        ipc::acme::Job job;
        ipc::acme::Outcome last;    // its certificate's facts (from the last job)
        std::string last_error;     // "" after a success
        int failures = 0;           // consecutive
        int64_t next_check = 0;     // unix seconds
        bool force = false;
        std::vector<Done> waiters;
    };
    struct Job {
        std::string name;
        pid_t pid = -1;
        UniqueFd to_job;            // its stdin
        BuffereventPtr from_job;    // its stdout
        std::optional<ipc::acme::Outcome> outcome;
    };

    void arm();
    void start_due();
    Status start_job(Cert& c);
    void on_line(const std::string& line);
    void finish_job();
    void tell_job(const nlohmann::json& line);
    void record(const Cert& c, const std::string& kind, const std::string& detail);
    static void on_timer(evutil_socket_t, short, void* self);
    static void on_read(bufferevent*, void* self);
    static void on_event(bufferevent*, short, void* self);

    Host host_;
    std::map<std::string, Cert> certs_;
    std::optional<Job> job_;
    EventPtr timer_;
};

// The config as proxy workers get it: each `tls = "auto"` server's cert and key are its files
// in the ACME store ($NODEEDGE_HOME/acme/certs/), which may not exist yet (stand-in then).
nlohmann::json with_acme_paths(nlohmann::json config, const std::string& home);

// When to look again after a check that succeeded: about an hour from now (plus `jitter`
// seconds), or at `renew_at` if that comes first.
int64_t next_check_after(int64_t now, int64_t renew_at, int64_t jitter);
// After `failures` consecutive failures: 1 min, 2, 4 ... at most 6 h (Let's Encrypt allows
// 5 failed validations per name per hour; a day-long outage still gets retried).
int64_t retry_delay(int failures);

}  // namespace ne::supervisor
