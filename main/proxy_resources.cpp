#include "main/proxy_resources.h"

#include "proxy/log/access_log.h"
#include "proxy/cache/index.h"
#include "proxy/limits/rate_limit_zone.h"
#include "proxy/tls/session_cache.h"

namespace ne::entry {

Result<UniqueFd> ProxyLibraryResources::create_rate_limit_zone(size_t keys) {
    return proxy::SharedZone::create(proxy::SharedZone::bytes_for(keys));
}

Result<UniqueFd> ProxyLibraryResources::create_cache_index() { return proxy::CacheIndex::create(); }

Result<UniqueFd> ProxyLibraryResources::create_tls_session_cache() { return proxy::TlsSessionCache::create(); }

std::string ProxyLibraryResources::access_log_path(const std::string& written, const std::string& home) const {
    return proxy::access_log_path(written, home);
}

Result<UniqueFd> ProxyLibraryResources::open_access_log(const std::string& path) {
    return proxy::open_access_log(path);
}

}  // namespace ne::entry
