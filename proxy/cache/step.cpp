#include "proxy/cache/step.h"

#include <spdlog/spdlog.h>

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
    key_ = cache_key(scheme, host, target);
    key_hash_ = store->index.key_hash(key_);
    scope_ = store->index.scope_hash(scope);
    wait_until_ms_ = now_ms + static_cast<uint64_t>(cache.lock_timeout.count());
    auto l = store->index.consult(key_hash_, now_ms, static_cast<uint64_t>(cache.lock_timeout.count()));
    if (!l) {
        spdlog::error("{}; asking the app", l.error().message);
        status_ = CacheStatus::miss;
        store_ = nullptr;
        return Action::proxy;
    }
    return decide(*l, now_ms);
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
    slot.max_size = cache_->max_size;
    slot.expires_ms = (static_cast<uint64_t>(now) + static_cast<uint64_t>(fresh->count())) * 1000;
    auto w = CacheWriter::open(*store_, slot, key_, status, headers, next);
    if (!w) {
        spdlog::error("{}; the response is not stored", w.error().message);
        return next;
    }
    writer_ = std::move(*w);
    claimed_ = false;   // the writer commits or abandons
    return writer_.get();
}

bool CacheStep::serve_stale(std::string_view condition) {
    if (!store_ || file_id_ == 0 || !use_stale(*cache_, condition)) return false;
    status_ = CacheStatus::stale;
    return true;
}

void CacheStep::end() {
    writer_.reset();
    if (claimed_ && store_) store_->index.abandon(key_hash_);
    claimed_ = false;
    store_ = nullptr;
}

}  // namespace ne::proxy
