#include "proxy/cache/loader.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <cstring>


namespace ne::proxy {

Result<std::unique_ptr<CacheLoader>> CacheLoader::start(int index_fd, std::string dir) {
    auto index = CacheIndex::attach(index_fd);
    if (!index) return index.error();
    DIR* d = ::opendir(dir.c_str());
    if (!d) return Error::from_errno("cache: open " + dir);
    std::vector<uint64_t> ids;
    uint64_t highest = 0;
    while (dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        uint64_t id = 0;
        auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id, 16);
        if (ec == std::errc() && end == name.data() + name.size() && id != 0) {
            ids.push_back(id);
            highest = std::max(highest, id);
        } else if (::unlinkat(::dirfd(d), e->d_name, 0) != 0) {  // a fill that never finished
            spdlog::warn("cache: cannot remove {}/{}: {}", dir, name, std::strerror(errno));
        }
    }
    ::closedir(d);
    if (auto st = index->start_file_ids_after(highest); !st) return st.error();
    return std::unique_ptr<CacheLoader>(new CacheLoader(std::move(*index), std::move(dir), std::move(ids)));
}

bool CacheLoader::step() {
    const auto until = std::chrono::steady_clock::now() + kStepTime;
    for (size_t n = 0; n < kFilesPerStep && !ids_.empty() && std::chrono::steady_clock::now() < until; ++n) {
        load_one(ids_.back());
        ids_.pop_back();
    }
    if (ids_.empty()) spdlog::info("cache: {} stored answers loaded from {}", loaded_, store_.dir);
    return !ids_.empty();
}

void CacheLoader::load_one(uint64_t id) {
    const std::string path = store_.file_path(id);
    auto file = open_cache_file(path);
    bool keep = false;
    if (!file) {
        spdlog::warn("{}; removed", file.error().message);
    } else {
        CacheIndex& index = store_.index;
        auto loaded = index.load(index.key_hash(file->key), id, file->file_size, file->expires_ms,
                                 index.scope_hash(file->scope), file->status == kVaryMarkerStatus);
        if (!loaded) spdlog::error("{}", loaded.error().message);
        keep = loaded && *loaded;
    }
    if (keep)
        ++loaded_;
    else
        store_.remove_files({id});
}

}  // namespace ne::proxy
