// The daemon's ProxyResources made with proxy/'s own code: the zones and the access log are
// created in the formats the proxy workers read, by the code that reads them.
#pragma once

#include "supervisor/proxy_resources.h"

namespace ne::entry {

class ProxyLibraryResources final : public supervisor::ProxyResources {
public:
    Result<UniqueFd> create_rate_limit_zone(size_t keys) override;
    Result<UniqueFd> create_cache_index() override;
    Result<UniqueFd> create_tls_session_cache() override;
    Result<std::unique_ptr<CacheLoad>> load_cache(int index_fd, const std::string& dir) override;
    Result<size_t> purge_cache(int index_fd, const std::string& dir, const std::string& location,
                               const std::string& prefix) override;
    std::string access_log_path(const std::string& written, const std::string& home) const override;
    Result<UniqueFd> open_access_log(const std::string& path) override;
};

}  // namespace ne::entry
