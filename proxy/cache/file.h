// Cached responses on disk, one file each, as nginx keeps them: $NODEEDGE_HOME/cache/<id>,
// the id a number from the shared index. A file holds a magic line, the key (checked on
// every hit: two keys may share an index entry), the status, the expiry and the location
// ("scope") it belongs to, the stored headers, then the body: all the index needs, so a new
// daemon rebuilds its index from the files (cache_loader.h). A hit on a small file is one pread of the whole file; a larger body is sent from its
// offset (sendfile, or read through gzip). A response is written to a temp
// file while it streams to the client and renamed when complete: a reader never sees half
// a file, and a response over max_size is just not stored.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "proxy/http/body_filter.h"
#include "proxy/cache/index.h"
#include "proxy/http/parser.h"

namespace ne::proxy {

// A proxy worker's cache: the shared index and the folder of files.
struct CacheStore {
    CacheIndex index;
    std::string dir;
    uint64_t temp_seq = 0;    // temp file names: tmp-<pid>-<seq>

    std::string file_path(uint64_t id) const;
    // Unlinks files the index no longer points to.
    void remove_files(const std::vector<uint64_t>& ids) const;
    // A claim ended without a file being renamed or removed (the answer was not storable):
    // touches the folder so that requests waiting for it look again (fill_events.h).
    void announce_claim_released() const;
};

struct CachedResponse {
    UniqueFd fd;
    int status = 200;
    std::unique_ptr<char[]> bytes;    // the start of the file as read (key, header lines, maybe the body)
    std::vector<Header> headers;      // views into bytes
    uint64_t body_offset = 0;
    uint64_t body_length = 0;
    std::string_view body;            // the whole body when the file was read whole, else empty
    std::string_view key;             // views into bytes
    std::string_view scope;
    uint64_t expires_ms = 0;
    uint64_t file_size = 0;
};

// Status of a Vary marker file: the response's Vary list in its headers, no body.
constexpr int kVaryMarkerStatus = 0;

// Files up to this size are read whole by open_cached, in one pread.
constexpr uint64_t kCacheReadWhole = 20 * 1024;

// Cache file `id` if it holds `key`; an error when it is gone, unreadable, damaged or holds
// another key.
Result<CachedResponse> open_cached(const CacheStore& store, uint64_t id, std::string_view key);
// The cache file at `path`, whatever its key (the loader's view).
Result<CachedResponse> open_cache_file(const std::string& path);

// Where a response being stored goes in the index.
struct CacheSlot {
    uint64_t key_hash = 0;
    uint64_t scope = 0;
    uint64_t max_size = 0;
    uint64_t expires_ms = 0;
    std::string_view scope_name;      // written into the file, for the loader
};

// The cache's copy of a response as it streams to the client: writes each piece of the body
// to the temp file and passes it on unchanged (to `next`, e.g. gzip, or to the framing). On
// finish() the file is renamed into place and committed to the index. Destroyed before that
// (the upstream failed, the client went), the temp file goes and the claim is abandoned.
class CacheWriter final : public BodyFilter {
public:
    static Result<std::unique_ptr<CacheWriter>> open(CacheStore& store, const CacheSlot& slot, std::string_view key,
                                                     int status, std::span<const Header> headers, BodyFilter* next);
    ~CacheWriter();
    CacheWriter(const CacheWriter&) = delete;
    CacheWriter& operator=(const CacheWriter&) = delete;

    Status feed(std::string_view in, ByteSink& out) override;
    Status flush(ByteSink& out) override;
    Status finish(ByteSink& out) override;

private:
    CacheWriter(CacheStore& store, const CacheSlot& slot, UniqueFd fd, std::string temp, BodyFilter* next)
        : store_(store), slot_(slot), fd_(std::move(fd)), temp_(std::move(temp)), next_(next) {}
    void give_up(const std::string& why);

    CacheStore& store_;
    CacheSlot slot_;
    UniqueFd fd_;                // closed once given up or committed
    std::string temp_;
    BodyFilter* next_;
    uint64_t size_ = 0;          // the whole file
    bool done_ = false;          // committed or given up: the index knows
    bool vary_marker_ = false;
};

}  // namespace ne::proxy
