#include "proxy/cache/purge.h"

#include <dirent.h>

#include <charconv>
#include <vector>

#include "proxy/cache/file.h"

namespace ne::proxy {

namespace {

// A scope is "<listen address> <location path>" (ClientConn::prepare_upstream).
bool in_location(std::string_view scope, std::string_view location) {
    if (location.empty()) return true;
    const size_t space = scope.find(' ');
    return space != std::string_view::npos && scope.substr(space + 1) == location;
}

}  // namespace

Result<size_t> purge_cache(int index_fd, const std::string& dir, std::string_view location, std::string_view prefix) {
    auto index = CacheIndex::attach(index_fd);
    if (!index) return index.error();
    CacheStore store{std::move(*index), dir, 0};
    std::vector<uint64_t> ids;
    DIR* d = ::opendir(dir.c_str());
    if (!d) return Error::from_errno("cache: open " + dir);
    while (dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        uint64_t id = 0;
        auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id, 16);
        if (ec == std::errc() && end == name.data() + name.size() && id != 0) ids.push_back(id);
    }
    ::closedir(d);
    size_t purged = 0;
    std::vector<uint64_t> gone;
    for (uint64_t id : ids) {
        auto file = open_cache_file(store.file_path(id));
        if (!file || !in_location(file->scope, location) || !file->key.starts_with(prefix)) continue;
        store.index.forget(store.index.key_hash(file->key), id);
        gone.push_back(id);
        purged += file->status != kVaryMarkerStatus;
    }
    store.remove_files(gone);
    return purged;
}

}  // namespace ne::proxy
