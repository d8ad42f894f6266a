#include "proxy/reaper.h"

namespace ne::proxy {

Reaper::Reaper(event_base* base) : event_(event_new(base, -1, 0, on_event, this)) {}

Reaper::~Reaper() { collect(); }

void Reaper::on_event(evutil_socket_t, short, void* self) { static_cast<Reaper*>(self)->collect(); }

void Reaper::schedule() {
    // Activating an already active event is a no-op in libevent.
    event_active(event_.get(), EV_TIMEOUT, 0);
}

void Reaper::collect() {
    // Destructors may dispose of more objects; loop until nothing is left.
    while (!doomed_.empty()) {
        auto batch = std::move(doomed_);
        doomed_.clear();
        batch.clear();
    }
}

}  // namespace ne::proxy
