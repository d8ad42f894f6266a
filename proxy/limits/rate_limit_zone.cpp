#include "proxy/limits/rate_limit_zone.h"

#include <algorithm>
#include <atomic>
#include <new>
#include <string>

namespace ne::proxy {

namespace {

constexpr uint64_t kZoneMagic = 0x656e6f7a2d656e;   // "ne-zone"
constexpr uint32_t kZoneVersion = 2;
constexpr const char* kZoneName = "rate limit zone";

uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

// SipHash-2-4 (Aumasson & Bernstein), the keyed hash hash tables use against chosen keys.
uint64_t siphash24(uint64_t k0, uint64_t k1, std::string_view in) {
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    auto round = [&] {
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
    };
    auto compress = [&](uint64_t m) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    };
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    size_t n = in.size();
    auto load_le = [](const unsigned char* b, size_t len) {
        uint64_t m = 0;
        for (size_t i = 0; i < len; ++i) m |= uint64_t{b[i]} << (8 * i);
        return m;
    };
    for (; n >= 8; p += 8, n -= 8) compress(load_le(p, 8));
    compress(load_le(p, n) | (uint64_t{in.size()} << 56));
    v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) round();
    return v0 ^ v1 ^ v2 ^ v3;
}

}  // namespace

// The zone's body: this, then the slots.
struct alignas(kCacheLine) SharedZone::Header {
    uint64_t slot_count;
    std::atomic<uint64_t> writing;   // the slot a holder of the lock may be changing, or kNoSlot
};

struct SharedZone::Slot {
    uint64_t hash;      // 0: free
    uint64_t used_ms;   // last access, for eviction
    Bucket bucket;
};

size_t SharedZone::bytes_for(size_t buckets) {
    return sizeof(ZoneHeader) + sizeof(Header) + std::max(buckets, kProbeWindow) * sizeof(Slot);
}

Result<UniqueFd> SharedZone::create(size_t bytes) {
    const size_t minimum = bytes_for(kProbeWindow);
    if (bytes < minimum)
        return Error{std::string(kZoneName) + ": " + std::to_string(bytes) + " bytes is too small (at least " +
                     std::to_string(minimum) + ")"};
    auto made = Zone::create(kZoneName, kZoneMagic, kZoneVersion, bytes - sizeof(ZoneHeader));
    if (!made) return made.error();
    // The slots are already zero (free).
    Header& h = *new (made->zone.body()) Header{};
    h.slot_count = (made->zone.body_size() - sizeof(Header)) / sizeof(Slot);
    h.writing.store(kNoSlot);
    return std::move(made->fd);
}

Result<SharedZone> SharedZone::attach(int fd) {
    auto z = Zone::attach(fd, kZoneName, kZoneMagic, kZoneVersion, sizeof(Header) + kProbeWindow * sizeof(Slot));
    if (!z) return z.error();
    SharedZone zone(std::move(*z));
    const uint64_t n = zone.header().slot_count;
    if (n < kProbeWindow || n > (zone.mem_.body_size() - sizeof(Header)) / sizeof(Slot))
        return Error{zone_name(kZoneName, fd) + ": " + std::to_string(n) + " buckets do not fit"};
    return zone;
}

SharedZone::Header& SharedZone::header() const { return *reinterpret_cast<Header*>(mem_.body()); }

SharedZone::Slot* SharedZone::slots() const { return reinterpret_cast<Slot*>(&header() + 1); }

size_t SharedZone::capacity() const { return header().slot_count; }

uint64_t SharedZone::key_hash(std::string_view scope, std::string_view key) const {
    const uint64_t* seed = mem_.seed();
    // A per-scope key, so that ("a", "bc") and ("ab", "c") differ.
    return siphash24(siphash24(seed[0], seed[1], scope), seed[1], key);
}

Result<Decision> SharedZone::limit(uint64_t key_hash, uint64_t now_ms, const Limit& lim) {
    return with_bucket(key_hash, now_ms, [&](Bucket& b) { return decide(b, now_ms, lim); });
}

void SharedZone::repair() {
    Header& h = header();
    const uint64_t dirty = h.writing.load(std::memory_order_acquire);
    if (dirty < h.slot_count) slots()[dirty] = Slot{};
    h.writing.store(kNoSlot, std::memory_order_release);
}

SharedZone::Locked::Locked(SharedZone& zone) : zone_(zone), lock_(zone.mem_.mutex(), [&zone] { zone.repair(); }) {}

SharedZone::Locked::~Locked() {
    if (ok()) zone_.header().writing.store(kNoSlot, std::memory_order_release);
}

Error SharedZone::Locked::error() const { return lock_.error(kZoneName); }

Bucket& SharedZone::Locked::bucket(uint64_t key_hash, uint64_t now_ms) {
    Header& h = zone_.header();
    Slot* slots = zone_.slots();
    const uint64_t hash = key_hash != 0 ? key_hash : 1;   // 0 marks a free slot
    const size_t home = hash % h.slot_count;
    size_t pick = home;
    bool found = false;
    for (size_t i = 0; i < kProbeWindow && !found; ++i) {
        const size_t s = (home + i) % h.slot_count;
        if (slots[s].hash == hash) {
            pick = s;
            found = true;
        } else if (slots[pick].hash != 0 && (slots[s].hash == 0 || slots[s].used_ms < slots[pick].used_ms)) {
            pick = s;   // a free slot, else the least recently used one
        }
    }
    h.writing.store(pick, std::memory_order_release);
    Slot& slot = slots[pick];
    if (!found) slot = Slot{hash, now_ms, Bucket{}};
    slot.used_ms = now_ms;
    return slot.bucket;
}

}  // namespace ne::proxy
