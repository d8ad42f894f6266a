// What the master makes for its proxy workers in the proxy's own formats: the shared memory
// zones every worker maps and the access log they all append to. The entry (main/) implements
// it with proxy/'s code and hands it to run_daemon, so the supervisor neither includes nor
// links the proxy.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

class ProxyResources {
public:
    virtual ~ProxyResources() = default;

    // memfds for the workers to inherit; the errors say what could not be created.
    virtual Result<UniqueFd> create_rate_limit_zone(size_t keys) = 0;   // room for `keys` at once
    virtual Result<UniqueFd> create_cache_index() = 0;
    virtual Result<UniqueFd> create_tls_session_cache() = 0;

    // Rebuilds the cache index (`index_fd`, fresh) from the files in `dir`: the names are
    // read now, the files by step() a batch at a time (false once done), sleep() apart.
    class CacheLoad {
    public:
        virtual ~CacheLoad() = default;
        virtual bool step() = 0;
        virtual std::chrono::milliseconds sleep() const = 0;
    };
    virtual Result<std::unique_ptr<CacheLoad>> load_cache(int index_fd, const std::string& dir) = 0;
    // `cache purge`: removes the answers of `location` ("": all) whose keys start with
    // `prefix` ("": all) from the index and `dir`; returns how many.
    virtual Result<size_t> purge_cache(int index_fd, const std::string& dir, const std::string& location,
                                       const std::string& prefix) = 0;

    // "[proxy] access_log" as written -> the file: "" when off, a relative path under `home`.
    virtual std::string access_log_path(const std::string& written, const std::string& home) const = 0;
    // Opens (creates) the file for appending; the error names it.
    virtual Result<UniqueFd> open_access_log(const std::string& path) = 0;
};

}  // namespace ne::supervisor
