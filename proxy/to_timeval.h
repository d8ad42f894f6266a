// std::chrono durations -> the timeval libevent wants.
#pragma once

#include <sys/time.h>

#include <chrono>

namespace ne::proxy {

template <class Rep, class Period>
timeval to_timeval(std::chrono::duration<Rep, Period> d) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    if (us < 0) us = 0;
    return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

}  // namespace ne::proxy
