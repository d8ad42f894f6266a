// Deferred destruction. A connection often learns it is finished inside a callback of one of
// the very objects it would free (a bufferevent of its own, or of its upstream connection);
// destroying them there would pull the stack out from under libevent. Objects handed to the
// Reaper are destroyed from the loop, after the current callback has returned.
#pragma once

#include <event2/event.h>

#include <memory>
#include <vector>

#include "ipc/event_ptr.h"

namespace ne::proxy {

class Reaper {
public:
    explicit Reaper(event_base* base);
    ~Reaper();
    Reaper(const Reaper&) = delete;
    Reaper& operator=(const Reaper&) = delete;

    template <class T>
    void dispose(std::unique_ptr<T> p) {
        if (!p) return;
        doomed_.emplace_back(p.release(), [](void* x) { delete static_cast<T*>(x); });
        schedule();
    }
    // Destroys everything handed over so far (also run by the loop).
    void collect();

private:
    static void on_event(evutil_socket_t, short, void* self);
    void schedule();

    EventPtr event_;
    std::vector<std::unique_ptr<void, void (*)(void*)>> doomed_;
};

}  // namespace ne::proxy
