#include "proxy/cache/fill_events.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <vector>

namespace ne::proxy {

Result<CacheFillEvents> CacheFillEvents::watch(event_base* base, const std::string& dir) {
    UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd) return Error::from_errno("cache: inotify");
    if (::inotify_add_watch(fd.get(), dir.c_str(), IN_MOVED_TO | IN_DELETE | IN_ATTRIB) < 0)
        return Error::from_errno("cache: watch " + dir);
    // The callback's argument is set once the object has its final address (wait()).
    EventPtr ev(event_new(base, fd.get(), EV_READ | EV_PERSIST, on_event, nullptr));
    if (!ev) return Error{"cache: cannot create an event"};
    return CacheFillEvents(std::move(fd), std::move(ev));
}

void CacheFillEvents::wait(CacheFillWaiter& w) {
    if (waiters_.empty()) {
        event_assign(event_.get(), event_get_base(event_.get()), fd_.get(), EV_READ | EV_PERSIST, on_event, this);
        event_add(event_.get(), nullptr);
    }
    waiters_.insert(&w);
}

void CacheFillEvents::cancel(CacheFillWaiter& w) {
    if (waiters_.erase(&w) > 0 && waiters_.empty()) event_del(event_.get());
}

void CacheFillEvents::on_event(evutil_socket_t fd, short, void* self) {
    auto* e = static_cast<CacheFillEvents*>(self);
    char buf[4096];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    // Each waiter looks again; one still not served waits again (into a fresh set).
    std::vector<CacheFillWaiter*> woken(e->waiters_.begin(), e->waiters_.end());
    e->waiters_.clear();
    event_del(e->event_.get());
    for (CacheFillWaiter* w : woken) w->cache_fill_ended();
}

}  // namespace ne::proxy
