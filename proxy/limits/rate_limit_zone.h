// Rate-limit buckets shared by every proxy worker (see shared_memory.h), as nginx keeps
// limit_req state in a shared memory zone, so a client's limit holds whichever worker accepts
// its connection.
//
// A fixed table of buckets keyed by a 64-bit keyed hash, open addressing within a small probe
// window; when the window is full, its least recently used bucket is reused (that key starts
// over with an empty bucket, as after nginx's forced expiry). A worker that dies holding the
// lock may have left one bucket half written: the next locker forgets that bucket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "proxy/limits/rate_limit.h"
#include "proxy/shm/shared_memory.h"

namespace ne::proxy {

class SharedZone {
public:
    // The zone size that holds `buckets` buckets (at least kProbeWindow).
    static size_t bytes_for(size_t buckets);

    // The master's part: a zone of `bytes` (see bytes_for).
    static Result<UniqueFd> create(size_t bytes);

    // Maps a zone made by create(). `fd` may be closed afterwards.
    static Result<SharedZone> attach(int fd);

    // Number of buckets.
    size_t capacity() const;

    // The bucket id of `key` (e.g. the client address) within `scope` (e.g. the location,
    // "127.0.0.1:8080 /api/", so that two limited locations keep separate buckets). SipHash
    // keyed with the zone's random seed: clients cannot pick keys that collide with another
    // client's bucket. Same result in every worker attached to the zone.
    uint64_t key_hash(std::string_view scope, std::string_view key) const;

    // Accounts one request in the bucket of `key_hash` (see decide() in rate_limit.h). An
    // error means the lock could not be taken (errno text); the caller logs it and lets the
    // request through rather than fail it.
    Result<Decision> limit(uint64_t key_hash, uint64_t now_ms, const Limit& limit);

    // Runs f(Bucket&) on the bucket of `key_hash` under the zone's lock and returns what f
    // returns; f must be short and must not throw. A new key gets a fresh Bucket.
    template <typename F>
    auto with_bucket(uint64_t key_hash, uint64_t now_ms, F&& f) -> Result<decltype(f(std::declval<Bucket&>()))> {
        Locked locked(*this);
        if (!locked.ok()) return locked.error();
        return f(locked.bucket(key_hash, now_ms));
    }

    // Buckets looked at for one key, from its home slot on.
    static constexpr size_t kProbeWindow = 8;

private:
    struct Header;
    struct Slot;

    // The lock held for one update. The slot being written is recorded in the header first,
    // so that whoever recovers the lock from a dead holder knows which bucket to forget.
    class Locked {
    public:
        explicit Locked(SharedZone& zone);
        ~Locked();
        Locked(const Locked&) = delete;
        Locked& operator=(const Locked&) = delete;

        bool ok() const { return lock_.ok(); }
        Error error() const;
        Bucket& bucket(uint64_t key_hash, uint64_t now_ms);

    private:
        SharedZone& zone_;
        RobustLock lock_;
    };

    explicit SharedZone(Zone z) : mem_(std::move(z)) {}
    Header& header() const;
    Slot* slots() const;
    // Forgets the slot a dead holder of the lock may have left half written.
    void repair();

    Zone mem_;
};

}  // namespace ne::proxy
