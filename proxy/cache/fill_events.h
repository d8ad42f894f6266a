// Wakes requests waiting for another request to fill a cache entry (`lock = true`) when a
// fill ends, in any proxy worker, instead of having them look again every few milliseconds.
// A fill ends by renaming its temp file into the cache folder (stored), unlinking it
// (abandoned), or, when nothing was written, touching the folder
// (CacheStore::announce_claim_released): an inotify watch on the folder sees all three,
// whichever process did it. The
// watch exists from the start, so a fill that ends between a waiter's lookup and its
// wait() is still seen (its event is queued); the descriptor is on the loop only while
// someone waits. A woken waiter looks its key up again (consult) and, still not served,
// waits again; a claim whose owner died is released by lock_timeout, which the waiter's own
// timer keeps.
#pragma once

#include <event2/event.h>

#include <string>
#include <unordered_set>

#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::proxy {

class CacheFillWaiter {
public:
    virtual void cache_fill_ended() = 0;

protected:
    ~CacheFillWaiter() = default;
};

class CacheFillEvents {
public:
    static Result<CacheFillEvents> watch(event_base* base, const std::string& dir);

    void wait(CacheFillWaiter& w);
    void cancel(CacheFillWaiter& w);

private:
    CacheFillEvents(UniqueFd fd, EventPtr ev) : fd_(std::move(fd)), event_(std::move(ev)) {}
    static void on_event(evutil_socket_t, short, void* self);

    UniqueFd fd_;
    EventPtr event_;
    std::unordered_set<CacheFillWaiter*> waiters_;
};

}  // namespace ne::proxy
