// The response cache's index, shared by every proxy worker (nginx's keys_zone): key hash ->
// {cache file, size, expiry, who is filling it}, with one LRU list and a byte count per
// location ("scope") so each location's max_size holds. The bodies live in files
// (cache_file.h); the index only names them by a number.
//
// A shared memory zone (see shared_memory.h). A worker that dies holding its lock may have
// left lists half linked: the next locker empties the index (the cache starts cold; orphaned
// files go when the daemon restarts) rather than trust it.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "proxy/shm/shared_memory.h"

namespace ne::proxy {

class CacheIndex {
public:
    static constexpr uint32_t kEntries = 65536;   // keys (nginx: some 8000 per MiB of keys_zone)
    static constexpr uint32_t kScopes = 64;       // caching locations

    // The master's part: a zone for a fresh index.
    static Result<UniqueFd> create();
    static Result<CacheIndex> attach(int fd);

    // The key's hash (keyed with the zone's seed; the same in every worker). Two keys with
    // one hash share an entry: the cache file holds the key, and a mismatch is a miss.
    uint64_t key_hash(std::string_view key) const;
    // A scope's hash, e.g. of "127.0.0.1:8080 /api/".
    uint64_t scope_hash(std::string_view scope) const { return key_hash(scope); }

    enum class Found : uint8_t {
        fresh,           // serve file_id
        stale,           // expired; file_id may serve while `use_stale` allows
        missing,
    };
    struct Lookup {
        Found found = Found::missing;
        uint64_t file_id = 0;       // 0: no file
        // This request fills (or refreshes) the entry; until it commits or abandons, or
        // `claim_ms` pass, other requests see `filling`.
        bool claimed = false;
        bool filling = false;       // another request is filling it now
        // The file is a Vary marker (the response's Vary list, no body): the answer is the
        // variant keyed by the request's values of those headers.
        bool vary_marker = false;
    };
    // Looks `key` up at `now_ms` (wall clock), claiming a missing or expired entry for this
    // request unless another request holds an unexpired claim.
    Result<Lookup> consult(uint64_t key, uint64_t now_ms, uint64_t claim_ms);

    // A number for a new cache file (never reused while the daemon runs).
    Result<uint64_t> next_file_id();

    // Makes file `file_id` (`size` bytes, fresh until `expires_ms`) the entry of `key` in
    // `scope`, evicting that scope's least recently used entries beyond `max_size`. Returns
    // the ids of files nothing points to any more (the replaced one, the evicted ones, or
    // `file_id` itself when it cannot be stored): the caller unlinks them.
    Result<std::vector<uint64_t>> commit(uint64_t key, uint64_t file_id, uint64_t size, uint64_t expires_ms,
                                         uint64_t scope, uint64_t max_size, bool vary_marker = false);

    // ---- the cache loader (the master, at start, before and while workers serve) ----
    // File numbers start above every file already on disk.
    Status start_file_ids_after(uint64_t highest);
    // An entry for a file found on disk, unless the key already has one (a worker stored a
    // newer answer meanwhile) or no entry is free: then false, and the file is not needed.
    // max_size is not checked here: the scope's next commit evicts down to it.
    Result<bool> load(uint64_t key, uint64_t file_id, uint64_t size, uint64_t expires_ms, uint64_t scope,
                      bool vary_marker);
    // The fill ended without a new file: the claim goes (and an entry with no file with it).
    void abandon(uint64_t key);
    // The entry's file `file_id` could not be opened: forget it.
    void forget(uint64_t key, uint64_t file_id);

    // For tests and status: entries with a file, and bytes stored in `scope`.
    size_t stored() const;
    uint64_t scope_bytes(uint64_t scope) const;

private:
    struct Header;
    struct Entry;
    struct Scope;
    class Locked;

    explicit CacheIndex(Zone z) : mem_(std::move(z)) {}
    Header& header() const;
    Entry* entries() const;
    static void reset(Header& h, Entry* e);

    Zone mem_;
};

}  // namespace ne::proxy
