// Memory shared by every proxy worker: a sealed memfd the master creates and hands down
// (workers are fork+exec'd, so an anonymous mapping would not survive), mapped by each, and a
// process-shared robust mutex inside it, so a worker killed while holding the lock does not
// wedge the others.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <utility>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::proxy {

// A memfd of `bytes`, zero-filled, sealed against resizing (a mapping can never fault past
// its end), close-on-exec (the spawner dup2()s it into each worker). `what` names it in errors.
Result<UniqueFd> create_shared_memory(const char* what, size_t bytes);

// One MAP_SHARED mapping of a whole memfd; unmapped on destruction.
class SharedMapping {
public:
    static Result<SharedMapping> map(int fd, const char* what);

    SharedMapping() = default;
    SharedMapping(SharedMapping&& o) noexcept
        : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    SharedMapping& operator=(SharedMapping&& o) noexcept;
    SharedMapping(const SharedMapping&) = delete;
    SharedMapping& operator=(const SharedMapping&) = delete;
    ~SharedMapping();

    void* base() const { return base_; }
    size_t size() const { return size_; }

private:
    SharedMapping(void* base, size_t size) : base_(base), size_(size) {}
    void* base_ = nullptr;
    size_t size_ = 0;
};

// Initialises a process-shared robust mutex in shared memory (errno text on failure).
Status init_robust_mutex(pthread_mutex_t* m, const char* what);

// Holds a robust mutex. When its previous holder died, `repair` runs first (with the lock
// held) to make the protected data consistent again.
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
