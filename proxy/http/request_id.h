// X-Request-ID values: kept when the client sent a sane one, otherwise generated cheaply
// (no syscall, no allocation) from a per-worker random seed and a counter.
#pragma once

#include <cstdint>
#include <string_view>

namespace ne::proxy {

class RequestIds {
public:
    static constexpr size_t kLength = 32;  // lower-case hex

    // The seed must differ between workers (the worker draws it from getrandom).
    RequestIds(uint64_t seed_hi, uint64_t seed_lo) : hi_(seed_hi), lo_(seed_lo) {}

    // Writes kLength hex chars. Unique within a worker: the counter goes through a bijection
    // (splitmix64's finalizer), so ids are distinct yet do not reveal request counts.
    void next(char* out);

private:
    uint64_t hi_;
    uint64_t lo_;
    uint64_t counter_ = 0;
};

// Safe to pass on and echo: 1..200 visible ASCII characters.
bool sane_request_id(std::string_view id);

}  // namespace ne::proxy
