#include "acme/job.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>

#include "acme/certs.h"
#include "acme/client.h"
#include "acme/keys.h"
#include "acme/renewal.h"
#include "acme/store.h"
#include "ipc/acme_job.h"

namespace ne::acme {

using nlohmann::json;
namespace paths = ipc::acme;

namespace {

int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<PkeyPtr> account_key(const std::string& home, const std::string& key_type) {
    const std::string path = paths::account_key_path(home);
    auto stored = read_file_if_any(path);
    if (!stored) return stored.error();
    if (*stored) {
        auto k = read_key_pem(**stored);
        if (!k) return k.error().wrap(path);
        return k;
    }
    auto k = generate_key(key_type);
    if (!k) return k.error();
    if (auto s = write_private_file(path, key_pem(k->get())); !s) return s.error();
    spdlog::info("acme: new account key {}", path);
    return k;
}

// When to renew `info`: the CA's window when it offers renewalInfo, else renew_before.
int64_t renew_at(HttpClient& http, const AcmeClient& client, const CertificateInfo& info, const paths::Job& job,
                 bool& ari) {
    ari = false;
    const std::string base = client.renewal_info_url();
    if (!base.empty() && !info.ari_id.empty()) {
        auto r = http.get(base + (base.ends_with('/') ? "" : "/") + info.ari_id);
        if (!r) {
            spdlog::warn("acme {}: renewalInfo: {}; using renew_before", job.name, r.error().message);
        } else if (auto w = r->status == 200 ? parse_renewal_info(r->body) : std::nullopt) {
            ari = true;
            std::random_device rd;
            return pick_in_window(*w, std::uniform_real_distribution<double>(0, 1)(rd));
        } else {
            spdlog::warn("acme {}: renewalInfo: HTTP {} {}; using renew_before", job.name, r->status, r->body);
        }
    }
    return renew_at_by_lifetime(info.not_before, info.not_after, job.renew_before_s);
}

class Job {
public:
    Job(paths::Job job, std::istream& in, std::ostream& out) : job_(std::move(job)), in_(in), out_(out) {}

    paths::Outcome run() {
        paths::Outcome o;
        if (auto s = prepare(o); !s) {
            o.error = s.error().message;
            return o;
        }
        if (current_ && !job_.force && now_s() < o.renew_at && covers_every_name(*current_)) {
            o.ok = true;
            return o;
        }
        auto issued = order(job_.names);
        if (!issued && !current_) issued = order_the_validated(issued.error());
        if (!issued) {
            o.ok = false;
            o.error = issued.error().message;
            return o;
        }
        o = paths::Outcome{};
        o.ordered = true;
        fill(o, *issued);
        o.ok = covers_every_name(*issued);
        if (!o.ok) o.error = partial_error_;
        return o;
    }

private:
    // Account key, the stored certificate (if any) and the directory.
    Status prepare(paths::Outcome& o) {
        if (auto s = make_private_dir(paths::dir(job_.home)); !s) return s;
        if (auto s = make_private_dir(paths::dir(job_.home) + "/certs"); !s) return s;
        auto key = account_key(job_.home, job_.key_type);
        if (!key) return key.error();
        account_key_ = std::move(*key);
        auto stored = read_file_if_any(paths::cert_path(job_.home, job_.name));
        if (!stored) return stored.error();
        if (*stored) {
            auto info = read_certificate_info(**stored);
            if (!info) spdlog::warn("acme {}: stored certificate: {}; ordering a new one", job_.name, info.error().message);
            else current_ = *info;
        }
        http_ = std::make_unique<HttpClient>(job_.ca_bundle);
        client_ = std::make_unique<AcmeClient>(*http_, account_key_.get());
        if (current_) {
            o.issuer = current_->issuer;
            o.not_before = current_->not_before;
            o.not_after = current_->not_after;
            o.renew_at = current_->not_after;   // if the directory cannot be reached
        }
        if (auto s = client_->open(job_.directory); !s) return s;
        if (current_) fill(o, *current_);
        return {};
    }

    void fill(paths::Outcome& o, const CertificateInfo& info) {
        o.issuer = info.issuer;
        o.not_before = info.not_before;
        o.not_after = info.not_after;
        o.renew_at = renew_at(*http_, *client_, info, job_, o.ari);
    }

    bool covers_every_name(const CertificateInfo& info) const {
        for (const auto& n : job_.names)
            if (std::find(info.names.begin(), info.names.end(), n) == info.names.end()) return false;
        return true;
    }

    // A first certificate: the names that validated do not wait for those that did not. (A
    // renewal keeps the current certificate instead, which still covers every name.) The
    // missing names are ordered again, with all the others, at the next retry.
    Result<CertificateInfo> order_the_validated(const Error& why) {
        std::vector<std::string> rest;
        for (const auto& n : job_.names)
            if (std::find(client_->refused().begin(), client_->refused().end(), n) == client_->refused().end())
                rest.push_back(n);
        if (client_->refused().empty() || rest.empty()) return why;
        partial_error_ = why.message + "; meanwhile a certificate for " + json(rest).dump() + " alone";
        spdlog::warn("acme {}: {}", job_.name, partial_error_);
        return order(rest);
    }

    Result<CertificateInfo> order(const std::vector<std::string>& names) {
        spdlog::info("acme {}: ordering a certificate for {} ({}){}", job_.name, json(names).dump(),
                     job_.challenge, job_.force ? ", forced" : "");
        if (auto s = client_->account(job_.email); !s) return s.error();
        auto cert_key = generate_key(job_.key_type);
        if (!cert_key) return cert_key.error();
        const std::string replaces = current_ && !client_->renewal_info_url().empty() ? current_->ari_id : "";
        ChallengePublisher publisher{[this](const ipc::AcmeChallenges& c) { return publish(c); },
                                     [this] { say({{"type", "withdraw"}}); }};
        auto chain = client_->order(names, job_.challenge, cert_key->get(), replaces, publisher);
        if (!chain) return chain.error();
        auto info = read_certificate_info(*chain);
        if (!info) return info.error().wrap("issued certificate");
        // The key first: a proxy worker reading in between would pair the old certificate
        // with the new key only if it read during these two renames, and none reads before
        // the daemon has this job's outcome.
        if (auto s = write_private_file(paths::key_path(job_.home, job_.name), key_pem(cert_key->get())); !s)
            return s.error();
        if (auto s = write_private_file(paths::cert_path(job_.home, job_.name), *chain); !s) return s.error();
        spdlog::info("acme {}: certificate issued by {}, valid until {}", job_.name, info->issuer, info->not_after);
        return info;
    }

    Status publish(const ipc::AcmeChallenges& c) {
        json alpn = json::array();
        for (const auto& a : c.alpn) alpn.push_back({{"name", a.name}, {"cert", a.cert_pem}, {"key", a.key_pem}});
        say({{"type", "challenges"}, {"http", c.http}, {"alpn", alpn}});
        std::string line;
        if (!std::getline(in_, line)) return Error{"the daemon went away while challenges were being published"};
        json reply = json::parse(line, nullptr, false);
        if (reply.value("type", "") != "challenges_ready")
            return Error{"the proxy workers could not take the challenges: " + reply.value("error", line)};
        return {};
    }

    void say(const json& line) { out_ << line.dump() << '\n' << std::flush; }

    paths::Job job_;
    std::istream& in_;
    std::ostream& out_;
    PkeyPtr account_key_;
    std::optional<CertificateInfo> current_;
    std::unique_ptr<HttpClient> http_;
    std::unique_ptr<AcmeClient> client_;
    std::string partial_error_;   // why a certificate lacks some of the names
};

}  // namespace

int run_job(std::istream& in, std::ostream& out) {
    std::string line;
    if (!std::getline(in, line)) {
        spdlog::error("acme job: no job on stdin");
        return 2;
    }
    paths::Job job;
    try {
        job = json::parse(line).get<paths::Job>();
    } catch (const json::exception& e) {
        spdlog::error("acme job: malformed job: {}", e.what());
        return 2;
    }
    paths::Outcome o;
    try {
        o = Job(job, in, out).run();
    } catch (const std::exception& e) {   // a CA's answer of an unexpected shape
        o.error = std::string("unexpected: ") + e.what();
    }
    if (!o.ok) spdlog::error("acme {}: {}", job.name, o.error);
    json j = o;
    j["type"] = "outcome";
    out << j.dump() << '\n' << std::flush;
    return 0;
}

}  // namespace ne::acme
