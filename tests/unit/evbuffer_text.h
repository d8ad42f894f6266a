// Text in and out of an evbuffer, for the proxy's unit tests of code that reads and writes them.
#pragma once

#include <event2/buffer.h>

#include <string>

namespace ne::proxy {

// Removes and returns everything in `b`.
inline std::string drain(evbuffer* b) {
    std::string s(evbuffer_get_length(b), '\0');
    evbuffer_remove(b, s.data(), s.size());
    return s;
}

inline void put(evbuffer* b, const std::string& s) { evbuffer_add(b, s.data(), s.size()); }

}  // namespace ne::proxy
