#include "supervisor/drain_tracker.h"

namespace ne::supervisor {

DrainTracker::DrainTracker(event_base* base, std::chrono::milliseconds deadline, OnExpired on_expired)
    : base_(base), deadline_(deadline), on_expired_(std::move(on_expired)) {}

void DrainTracker::start(uint64_t id) {
    auto t = std::make_unique<Timer>();
    t->tracker = this;
    t->id = id;
    t->ev.reset(evtimer_new(base_, on_timer, t.get()));
    timeval tv{static_cast<time_t>(deadline_.count() / 1000), static_cast<suseconds_t>((deadline_.count() % 1000) * 1000)};
    evtimer_add(t->ev.get(), &tv);
    timers_[id] = std::move(t);
}

void DrainTracker::finish(uint64_t id) { timers_.erase(id); }

void DrainTracker::on_timer(evutil_socket_t, short, void* arg) {
    auto* t = static_cast<Timer*>(arg);
    DrainTracker* self = t->tracker;
    uint64_t id = t->id;
    self->timers_.erase(id);  // frees t and its event: nothing of them is used below
    self->on_expired_(id);
}

}  // namespace ne::supervisor
