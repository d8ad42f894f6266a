// The response cache's part in one request, driven by ClientConn: looks the request up at
// its head (HIT, a fill to wait for, or a trip to the app), stores the app's response as it
// streams when it may be stored, and answers from a stale copy when the app fails and
// `use_stale` allows. Sets X-Cache-Status.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "config/config.h"
#include "proxy/http/body_filter.h"
#include "proxy/cache/file.h"
#include "proxy/cache/policy.h"
#include "proxy/http/parser.h"

namespace ne::proxy {

class CacheStep {
public:
    enum class Action : uint8_t {
        proxy,   // ask the app
        serve,   // answer from the cache file (open())
        wait,    // another request fills the entry (`lock`): retry() when a fill ends
    };

    // At the request head, while its views are valid. `store` null: no cache in this worker.
    // `scope` names the location (its max_size is kept per scope).
    Action begin(CacheStore* store, const config::Cache& cache, std::string_view scope, std::string_view method,
                 std::span<const Header> headers, std::string_view scheme, std::string_view host,
                 std::string_view target, uint64_t now_ms);
    // While waiting: look again (a fill ended: CacheFillEvents). After lock_timeout the
    // request asks the app itself.
    Action retry(uint64_t now_ms);
    // How long a waiting request may still wait.
    uint64_t wait_left_ms(uint64_t now_ms) const { return wait_until_ms_ > now_ms ? wait_until_ms_ - now_ms : 0; }

    CacheStatus status() const { return status_; }
    // For serve: the file to answer from. On an error (the file went) the caller asks the
    // app instead.
    Result<CachedResponse> open();

    // The app's response head: when the response may be stored, a writer is started and
    // returned to pump the body through (it passes on to `next`); otherwise `next`.
    BodyFilter* store(int status, std::span<const Header> headers, BodyFilter* next, std::time_t now);

    // The app failed in a way `use_stale` names ("error", "timeout", "http_502", ...) and a
    // stale copy exists: answer from it (open()), as STALE.
    bool serve_stale(std::string_view condition);

    // The request is over: an unfinished copy is dropped and a claim released.
    void end();

private:
    Action decide(const CacheIndex::Lookup& l, uint64_t now_ms);
    // The key's entry is a Vary marker: look the request's variant up instead.
    Result<CacheIndex::Lookup> follow_marker(const CacheIndex::Lookup& marker, std::span<const Header> headers,
                                             uint64_t now_ms);
    // The response varies: its marker goes under the request's key (replacing what was
    // there) and the response itself under the variant's; false when the marker cannot be
    // written (the response is then not stored).
    bool store_vary_marker(std::string_view vary, const CacheSlot& slot);

    CacheStore* store_ = nullptr;
    const config::Cache* cache_ = nullptr;
    std::string key_;               // the request's, or its variant's once a marker was followed
    std::string primary_key_;       // scheme, host, target
    std::string request_headers_;   // "name\0value\0": a variant's key is made at the response
    std::string scope_name_;
    bool followed_marker_ = false;
    uint64_t key_hash_ = 0;
    uint64_t scope_ = 0;
    uint64_t file_id_ = 0;          // the entry's file, fresh or stale
    uint64_t wait_until_ms_ = 0;
    bool claimed_ = false;
    bool head_ = false;
    CacheStatus status_ = CacheStatus::none;
    std::unique_ptr<CacheWriter> writer_;
};

}  // namespace ne::proxy
