#include "main/proxy_resources.h"

#include "proxy/log/access_log.h"
#include "proxy/cache/index.h"
#include "proxy/cache/loader.h"
#include "proxy/cache/purge.h"
#include "proxy/limits/rate_limit_zone.h"
#include "proxy/tls/session_cache.h"

namespace ne::entry {

Result<UniqueFd> ProxyLibraryResources::create_rate_limit_zone(size_t keys) {
    return proxy::SharedZone::create(proxy::SharedZone::bytes_for(keys));
}

Result<UniqueFd> ProxyLibraryResources::create_cache_index() { return proxy::CacheIndex::create(); }

Result<UniqueFd> ProxyLibraryResources::create_tls_session_cache() { return proxy::TlsSessionCache::create(); }

namespace {

class LibraryCacheLoad final : public supervisor::ProxyResources::CacheLoad {
public:
    explicit LibraryCacheLoad(std::unique_ptr<proxy::CacheLoader> l) : loader_(std::move(l)) {}
    bool step() override { return loader_->step(); }
    std::chrono::milliseconds sleep() const override { return proxy::CacheLoader::kSleep; }

private:
    std::unique_ptr<proxy::CacheLoader> loader_;
};

}  // namespace

Result<std::unique_ptr<supervisor::ProxyResources::CacheLoad>> ProxyLibraryResources::load_cache(
    int index_fd, const std::string& dir) {
    auto loader = proxy::CacheLoader::start(index_fd, dir);
    if (!loader) return loader.error();
    return std::unique_ptr<CacheLoad>(std::make_unique<LibraryCacheLoad>(std::move(*loader)));
}

Result<size_t> ProxyLibraryResources::purge_cache(int index_fd, const std::string& dir, const std::string& location,
                                                  const std::string& prefix) {
    return proxy::purge_cache(index_fd, dir, location, prefix);
}

std::string ProxyLibraryResources::access_log_path(const std::string& written, const std::string& home) const {
    return proxy::access_log_path(written, home);
}

Result<UniqueFd> ProxyLibraryResources::open_access_log(const std::string& path) {
    return proxy::open_access_log(path);
}

}  // namespace ne::entry
