#include "acme/client.h"

#include <cctype>
#include <chrono>
#include <thread>
#include <utility>

#include "acme/certs.h"
#include "acme/keys.h"

namespace ne::acme {

using nlohmann::json;

namespace {

// Pebble answers at once (PEBBLE_VA_NOSLEEP); a public CA in a few seconds. The first polls
// come quickly and then back off to Retry-After or 2 s, within 90 s in all.
constexpr auto kPollBudget = std::chrono::seconds(90);

std::chrono::milliseconds next_wait(std::chrono::milliseconds last, const std::string& retry_after) {
    if (!retry_after.empty() && std::isdigit(static_cast<unsigned char>(retry_after[0])))
        return std::min(std::chrono::milliseconds(std::stol(retry_after) * 1000), std::chrono::milliseconds(10000));
    return std::min(last * 2, std::chrono::milliseconds(2000));
}

// j[key] when j is an object that has it, else null: ACME objects are read defensively, and by
// reference (a pointer into a copy made by value() would dangle).
const json& member(const json& j, const char* key) {
    static const json null;
    return j.is_object() && j.contains(key) ? j[key] : null;
}

std::string text(const json& j, const char* key) {
    const json& m = member(j, key);
    return m.is_string() ? m.get<std::string>() : "";
}

}  // namespace

json SignedResponse::json() const { return json::parse(body, nullptr, false); }

std::string problem_text(const std::string& body) {
    json p = json::parse(body, nullptr, false);
    if (!p.is_object() || !p.contains("detail")) return body.empty() ? "(no body)" : body;
    std::string out = text(p, "detail");
    if (p.contains("type")) out += " (" + text(p, "type") + ")";
    return out;
}

AcmeClient::AcmeClient(HttpClient& http, EVP_PKEY* account_key) : http_(http), key_(account_key) {}

Status AcmeClient::open(const std::string& directory_url) {
    auto r = http_.get(directory_url);
    if (!r) return r.error().wrap("ACME directory");
    json d = json::parse(r->body, nullptr, false);
    if (r->status != 200 || !d.is_object() || !d.contains("newNonce") || !d.contains("newOrder"))
        return Error{"ACME directory " + directory_url + ": HTTP " + std::to_string(r->status) + ", not a directory"};
    directory_ = std::move(d);
    return {};
}

std::string AcmeClient::renewal_info_url() const { return text(directory_, "renewalInfo"); }

Result<std::string> AcmeClient::nonce() {
    if (!nonce_.empty()) return std::exchange(nonce_, {});
    auto r = http_.head(text(directory_, "newNonce"));
    if (!r) return r.error().wrap("new-nonce");
    std::string n = r->header("replay-nonce");
    if (n.empty()) return Error{"new-nonce: no Replay-Nonce in HTTP " + std::to_string(r->status)};
    return n;
}

Result<SignedResponse> AcmeClient::post(const std::string& url, const json* payload) {
    for (int attempt = 0;; ++attempt) {
        auto n = nonce();
        if (!n) return n.error();
        json header{{"nonce", *n}, {"url", url}};
        if (kid_.empty()) header["jwk"] = jwk(key_);
        else header["kid"] = kid_;
        auto body = sign_jws(key_, header, payload ? payload->dump() : "");
        if (!body) return body.error();
        auto r = http_.post_jose(url, *body);
        if (!r) return r.error();
        nonce_ = r->header("replay-nonce");
        SignedResponse out{r->status, r->header("location"), r->header("retry-after"), std::move(r->body)};
        // RFC 8555 6.5: a badNonce is retried with the fresh nonce that came with it.
        if (out.status == 400 && attempt < 2 && out.body.find("badNonce") != std::string::npos) continue;
        return out;
    }
}

Status AcmeClient::account(const std::string& email) {
    if (!kid_.empty()) return {};   // new-account is signed with the JWK, which a known account no longer sends
    json payload{{"termsOfServiceAgreed", true}};
    if (!email.empty()) payload["contact"] = json::array({"mailto:" + email});
    auto r = post(text(directory_, "newAccount"), &payload);
    if (!r) return r.error().wrap("new-account");
    if (r->status != 200 && r->status != 201) return Error{"new-account: " + problem_text(r->body)};
    kid_ = r->location;
    return {};
}

Result<json> AcmeClient::poll(const std::string& url, const std::string& what, const char* pending_a,
                              const char* pending_b) {
    const auto deadline = std::chrono::steady_clock::now() + kPollBudget;
    std::chrono::milliseconds wait(50);
    for (;;) {
        auto r = post(url, nullptr);
        if (!r) return r.error().wrap(what);
        json j = r->json();
        if (r->status != 200 || !j.is_object()) return Error{what + ": " + problem_text(r->body)};
        const std::string status = text(j, "status");
        if (status != pending_a && status != pending_b) return j;
        if (std::chrono::steady_clock::now() > deadline)
            return Error{what + ": still " + status + " after " + std::to_string(kPollBudget.count()) + " s"};
        wait = next_wait(wait, r->retry_after);
        std::this_thread::sleep_for(wait);
    }
}

Status AcmeClient::authorize(const json& order, const std::string& type, const ChallengePublisher& challenges) {
    struct Pending { std::string authz, challenge, name; };
    std::vector<Pending> pending;
    ipc::AcmeChallenges set;
    const std::string thumb = thumbprint(key_);
    for (const auto& url : member(order, "authorizations")) {
        if (!url.is_string()) continue;
        auto r = post(url.get<std::string>(), nullptr);
        if (!r) return r.error().wrap("authorization");
        const json a = r->json();
        const std::string name = text(member(a, "identifier"), "value");
        if (r->status != 200) return Error{"authorization of " + name + ": " + problem_text(r->body)};
        if (text(a, "status") == "valid") continue;   // the CA still trusts an earlier validation
        const json* chosen = nullptr;
        for (const auto& c : member(a, "challenges"))
            if (text(c, "type") == type) chosen = &c;
        if (!chosen) return Error{name + ": the CA offers no " + type + " challenge"};
        const std::string token = text(*chosen, "token");
        const std::string key_authorization = token + "." + thumb;
        if (type == "http-01") {
            set.http[token] = key_authorization;
        } else {
            auto cert = make_alpn_certificate(name, key_authorization);
            if (!cert) return cert.error();
            set.alpn.push_back({name, cert->cert_pem, cert->key_pem});
        }
        pending.push_back({url.get<std::string>(), text(*chosen, "url"), name});
    }
    if (pending.empty()) return {};
    if (auto s = challenges.publish(set); !s) return s;
    const json empty = json::object();
    for (const auto& p : pending) {
        auto r = post(p.challenge, &empty);
        if (!r) return r.error().wrap(p.name + ": " + type);
        if (r->status != 200) return Error{p.name + ": " + type + ": " + problem_text(r->body)};
    }
    std::string failures;
    for (const auto& p : pending) {
        auto a = poll(p.authz, "authorization of " + p.name, "pending", "processing");
        if (!a) return a.error();
        if (text(*a, "status") == "valid") continue;
        std::string why = "authorization " + text(*a, "status");
        for (const auto& c : member(*a, "challenges"))
            if (c.is_object() && c.contains("error")) why = problem_text(c["error"].dump());
        refused_.push_back(p.name);
        failures += (failures.empty() ? "" : "; ") + p.name + ": " + type + " failed: " + why;
    }
    if (!failures.empty()) return Error{failures};
    return {};
}

Result<std::string> AcmeClient::order(const std::vector<std::string>& names, const std::string& type,
                                      EVP_PKEY* cert_key, const std::string& replaces,
                                      const ChallengePublisher& challenges) {
    refused_.clear();
    json ids = json::array();
    for (const auto& n : names) ids.push_back({{"type", "dns"}, {"value", n}});
    json payload{{"identifiers", ids}};
    if (!replaces.empty()) payload["replaces"] = replaces;
    auto r = post(text(directory_, "newOrder"), &payload);
    if (!r) return r.error().wrap("new-order");
    if (r->status != 201) return Error{"new-order: " + problem_text(r->body)};
    const std::string order_url = r->location;
    json order = r->json();

    Status authorized = authorize(order, type, challenges);
    challenges.withdraw();
    if (!authorized) return authorized.error();

    auto csr = make_csr(cert_key, names);
    if (!csr) return csr.error();
    const json finalize{{"csr", base64url(*csr)}};
    auto f = post(text(order, "finalize"), &finalize);
    if (!f) return f.error().wrap("finalize");
    if (f->status != 200) return Error{"finalize: " + problem_text(f->body)};
    auto done = poll(order_url, "order", "processing", "ready");
    if (!done) return done.error();
    if (text(*done, "status") != "valid")
        return Error{"order " + text(*done, "status") + ": " + problem_text(member(*done, "error").dump())};
    auto cert = post(text(*done, "certificate"), nullptr);
    if (!cert) return cert.error().wrap("certificate download");
    if (cert->status != 200) return Error{"certificate download: " + problem_text(cert->body)};
    return cert->body;
}

}  // namespace ne::acme
