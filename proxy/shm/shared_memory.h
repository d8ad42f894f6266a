// Memory shared by every proxy worker (the rate-limit zone, the TLS session cache, the cache
// index). The master creates each zone in a memfd before it starts proxy workers and passes
// the fd down (workers are fork+exec'd, so an anonymous mapping would not survive); the fd is
// close-on-exec, the spawner dup2()s it into each worker (dup2 clears the flag) and keeps it
// to start re-forked workers. The memfd is sealed against resizing, so a mapping can never
// fault past its end.
//
// Every zone starts with a ZoneHeader: what it is, a random seed for its keyed hashes (the
// same in every worker) and a process-shared robust mutex that serialises all access. A
// worker killed while holding the mutex does not wedge the others: the next locker gets
// EOWNERDEAD and repairs what the dead worker may have left half written (each zone knows
// what that is, see RobustLock) before it carries on. The zone's own layout (its body)
// follows on a cache line of its own.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::proxy {

// Zone layouts align their parts to this (alignas), so that each part starts on a cache line
// of its own: slots next to a busy header do not share its line.
inline constexpr size_t kCacheLine = 64;

// The "slot being written" a zone records under its lock when no slot is (see RobustLock).
inline constexpr uint64_t kNoSlot = ~uint64_t{0};

// How errors name a zone: "rate limit zone (fd 7)".
std::string zone_name(const char* what, int fd);

// Offset 0 of every zone.
struct alignas(kCacheLine) ZoneHeader {
    uint64_t magic;      // which kind of zone
    uint32_t version;    // of that kind's layout
    uint64_t seed[2];    // random
    pthread_mutex_t mutex;
};

// One zone mapped (MAP_SHARED, the whole memfd; unmapped on destruction): the common header,
// then the zone's body.
class Zone {
public:
    struct Created;

    // The master's part: a memfd of sizeof(ZoneHeader) + `body_bytes` (a zero-filled body)
    // with the header written (a fresh seed, the mutex initialised), and its mapping for the
    // caller to lay its body out in. `what` names the zone in errors.
    static Result<Created> create(const char* what, uint64_t magic, uint32_t version, size_t body_bytes);
    // Maps a zone made by create() with this `magic` and `version` whose body holds at least
    // `min_body_bytes`. `fd` may be closed afterwards.
    static Result<Zone> attach(int fd, const char* what, uint64_t magic, uint32_t version, size_t min_body_bytes);

    Zone(Zone&& o) noexcept : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    Zone& operator=(Zone&& o) noexcept;
    ~Zone();

    pthread_mutex_t* mutex() const { return &header().mutex; }
    const uint64_t* seed() const { return header().seed; }
    char* body() const { return static_cast<char*>(base_) + sizeof(ZoneHeader); }
    size_t body_size() const { return size_ - sizeof(ZoneHeader); }

private:
    static Result<Zone> map(int fd, const char* what);
    Zone(void* base, size_t size) : base_(base), size_(size) {}
    ZoneHeader& header() const { return *static_cast<ZoneHeader*>(base_); }

    void* base_ = nullptr;
    size_t size_ = 0;
};

struct Zone::Created {
    UniqueFd fd;
    Zone zone;
};

// Holds a zone's robust mutex. When its previous holder died, `repair` runs first (with the
// lock held) to make the protected data consistent again.
class RobustLock {
public:
    template <typename Repair>
    RobustLock(pthread_mutex_t* m, Repair&& repair) : m_(m) {
        err_ = pthread_mutex_lock(m_);
        if (err_ == EOWNERDEAD) {
            repair();
            err_ = pthread_mutex_consistent(m_);
            if (err_ != 0) pthread_mutex_unlock(m_);
        }
    }
    ~RobustLock() {
        if (err_ == 0) pthread_mutex_unlock(m_);
    }
    RobustLock(const RobustLock&) = delete;
    RobustLock& operator=(const RobustLock&) = delete;

    bool ok() const { return err_ == 0; }
    Error error(const char* what) const { return Error::from_errno(std::string(what) + ": lock", err_); }

private:
    pthread_mutex_t* m_;
    int err_ = 0;
};

}  // namespace ne::proxy
