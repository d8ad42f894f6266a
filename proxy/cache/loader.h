// The cache loader (nginx's): a new daemon rebuilds the shared index from the cache files a
// previous one left, so answers stored before a restart are HITs after it. start() only
// reads the folder's names (temp files of interrupted fills go, file numbers continue above
// the highest), so workers can start at once; step() then reads file heads a batch at a
// time, as nginx's loader does (loader_files 100, loader_threshold 200 ms, its caller
// sleeping loader_sleep 50 ms between batches), so a large cache never stalls the master.
// Until a file is loaded its key is a MISS; an answer a worker stores meanwhile wins over
// the older file, which then goes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ipc/result.h"
#include "proxy/cache/file.h"

namespace ne::proxy {

class CacheLoader {
public:
    static constexpr size_t kFilesPerStep = 100;
    static constexpr std::chrono::milliseconds kStepTime{200};
    static constexpr std::chrono::milliseconds kSleep{50};

    // `index_fd`: the zone the workers will share; `dir`: the cache folder.
    static Result<std::unique_ptr<CacheLoader>> start(int index_fd, std::string dir);
    // Loads the next batch; false once every file was seen.
    bool step();
    size_t loaded() const { return loaded_; }

private:
    CacheLoader(CacheIndex index, std::string dir, std::vector<uint64_t> ids)
        : store_{std::move(index), std::move(dir), 0}, ids_(std::move(ids)) {}
    void load_one(uint64_t id);

    CacheStore store_;
    std::vector<uint64_t> ids_;    // still to read, last first
    size_t loaded_ = 0;
};

}  // namespace ne::proxy
