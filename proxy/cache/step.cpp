#include "proxy/cache/step.h"

#include <spdlog/spdlog.h>

#include <vector>

namespace ne::proxy {

CacheStep::Action CacheStep::begin(CacheStore* store, const config::Cache& cache, std::string_view scope,
                                   std::string_view method, std::span<const Header> headers, std::string_view scheme,
                                   std::string_view host, std::string_view target, uint64_t now_ms) {
    end();
    status_ = CacheStatus::none;
    file_id_ = 0;
    if (!store || !cache.enabled) return Action::proxy;
    switch (request_caching(method, headers, cache)) {
        case RequestCaching::skip: return Action::proxy;
        case RequestCaching::bypass: status_ = CacheStatus::bypass; return Action::proxy;
        case RequestCaching::use: break;
    }
    store_ = store;
    cache_ = &cache;
    head_ = method == "HEAD";
    key_ = primary_key_ = cache_key(scheme, host, target);
    key_hash_ = store->index.key_hash(key_);
    scope_name_ = scope;
    scope_ = store->index.scope_hash(scope);
    followed_marker_ = false;
    request_headers_.clear();
    for (const Header& h : headers) request_headers_.append(h.name).append(1, '\0').append(h.value).append(1, '\0');
    wait_until_ms_ = now_ms + static_cast<uint64_t>(cache.lock_timeout.count());
    auto l = store->index.consult(key_hash_, now_ms, static_cast<uint64_t>(cache.lock_timeout.count()));
    if (l && l->vary_marker) l = follow_marker(*l, headers, now_ms);
    if (!l) {
        spdlog::error("{}; asking the app", l.error().message);
        status_ = CacheStatus::miss;
        store_ = nullptr;
        return Action::proxy;
    }
    return decide(*l, now_ms);
}

Result<CacheIndex::Lookup> CacheStep::follow_marker(const CacheIndex::Lookup& marker,
                                                     std::span<const Header> headers, uint64_t now_ms) {
    // The marker itself is never filled by this request: the variant is.
    if (marker.claimed) {
        store_->index.abandon(key_hash_);
        store_->announce_claim_released();
    }
    auto file = open_cached(*store_, marker.file_id, key_);
    if (!file) {
        spdlog::warn("{}; the Vary marker is forgotten", file.error().message);
        store_->index.forget(key_hash_, marker.file_id);
    } else {
        key_ = variant_key(key_, response_vary(file->headers), headers);
        key_hash_ = store_->index.key_hash(key_);
        followed_marker_ = true;
    }
    return store_->index.consult(key_hash_, now_ms, static_cast<uint64_t>(cache_->lock_timeout.count()));
}

CacheStep::Action CacheStep::decide(const CacheIndex::Lookup& l, uint64_t now_ms) {
    file_id_ = l.file_id;
    claimed_ = l.claimed;
    switch (l.found) {
        case CacheIndex::Found::fresh:
            status_ = CacheStatus::hit;
            return Action::serve;
        case CacheIndex::Found::stale:
            if (l.filling && use_stale(*cache_, "updating")) {
                status_ = CacheStatus::updating;
                return Action::serve;
            }
            status_ = CacheStatus::expired;
            break;
        case CacheIndex::Found::missing:
            status_ = CacheStatus::miss;
            break;
    }
    if (l.filling && cache_->lock && now_ms < wait_until_ms_ && status_ == CacheStatus::miss) return Action::wait;
    return Action::proxy;
}

CacheStep::Action CacheStep::retry(uint64_t now_ms) {
    if (now_ms >= wait_until_ms_) {
        spdlog::debug("cache: {} still being filled after {} ms; asking the app", key_, cache_->lock_timeout.count());
        return Action::proxy;
    }
    auto l = store_->index.consult(key_hash_, now_ms, static_cast<uint64_t>(cache_->lock_timeout.count()));
    if (!l) {
        spdlog::error("{}; asking the app", l.error().message);
        return Action::proxy;
    }
    return decide(*l, now_ms);
}

Result<CachedResponse> CacheStep::open() {
    auto r = open_cached(*store_, file_id_, key_);
    if (!r) {
        store_->index.forget(key_hash_, file_id_);
        file_id_ = 0;
        status_ = CacheStatus::miss;
    }
    return r;
}

BodyFilter* CacheStep::store(int status, std::span<const Header> headers, BodyFilter* next, std::time_t now) {
    if (!store_ || head_) return next;
    const auto fresh = freshness(status, headers, *cache_, now);
    if (!fresh) return next;
    CacheSlot slot;
    slot.key_hash = key_hash_;
    slot.scope = scope_;
    slot.scope_name = scope_name_;
    slot.max_size = cache_->max_size;
    slot.expires_ms = (static_cast<uint64_t>(now) + static_cast<uint64_t>(fresh->count())) * 1000;
    if (const std::string vary = response_vary(headers); !vary.empty()) {
        if (!store_vary_marker(vary, slot)) return next;
        slot.key_hash = key_hash_;   // the variant's
    }
    auto w = CacheWriter::open(*store_, slot, key_, status, headers, next);
    if (!w) {
        spdlog::error("{}; the response is not stored", w.error().message);
        return next;
    }
    writer_ = std::move(*w);
    claimed_ = false;   // the writer commits or abandons
    return writer_.get();
}

bool CacheStep::store_vary_marker(std::string_view vary, const CacheSlot& slot) {
    std::vector<Header> request;
    for (std::string_view rest = request_headers_; !rest.empty();) {
        const size_t name_end = rest.find('\0');
        const size_t value_end = rest.find('\0', name_end + 1);
        request.push_back({rest.substr(0, name_end), rest.substr(name_end + 1, value_end - name_end - 1)});
        rest.remove_prefix(value_end + 1);
    }
    // The marker is (re)written under the request's own key, which this request claimed
    // unless it came through a marker already; the variant then has a key of its own.
    CacheSlot marker = slot;
    marker.key_hash = store_->index.key_hash(primary_key_);
    const Header list{"Vary", vary};
    auto w = CacheWriter::open(*store_, marker, primary_key_, kVaryMarkerStatus, {&list, 1}, nullptr);
    if (!w) {
        spdlog::error("{}; the response is not stored", w.error().message);
        return false;   // a claim on the request's key is released by end()
    }
    std::string ignored;
    StringSink sink(ignored);
    (void)(*w)->finish(sink);  // commits, releasing the claim; a failure is logged and abandons it
    const uint64_t followed = key_hash_;
    key_ = variant_key(primary_key_, vary, request);
    key_hash_ = store_->index.key_hash(key_);
    if (!followed_marker_) {
        claimed_ = false;
    } else if (claimed_ && followed != key_hash_) {
        store_->index.abandon(followed);  // the app changed its Vary list: another variant
        store_->announce_claim_released();
        claimed_ = false;
    }
    return true;
}

bool CacheStep::serve_stale(std::string_view condition) {
    if (!store_ || file_id_ == 0 || !use_stale(*cache_, condition)) return false;
    status_ = CacheStatus::stale;
    return true;
}

void CacheStep::end() {
    writer_.reset();
    if (claimed_ && store_) {
        store_->index.abandon(key_hash_);
        store_->announce_claim_released();
    }
    claimed_ = false;
    store_ = nullptr;
}

}  // namespace ne::proxy
