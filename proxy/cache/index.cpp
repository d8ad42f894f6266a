#include "proxy/cache/index.h"

#include <algorithm>
#include <new>

namespace ne::proxy {

namespace {

constexpr uint64_t kIndexMagic = 0x78646e692d656e;   // "ne-indx"
constexpr uint32_t kIndexVersion = 3;
constexpr uint32_t kNil = ~uint32_t{0};
constexpr const char* kIndexName = "cache index";

}  // namespace

struct CacheIndex::Scope {
    uint64_t hash = 0;            // 0: unused
    uint64_t bytes = 0;
    uint32_t newest = kNil;       // LRU list through Entry::newer/older
    uint32_t oldest = kNil;
};

struct CacheIndex::Entry {
    uint64_t key = 0;
    uint64_t file_id = 0;         // 0: no file (being filled for the first time)
    uint64_t size = 0;
    uint64_t expires_ms = 0;
    uint64_t claim_until_ms = 0;  // 0: nobody is filling it
    uint32_t chain = kNil;        // next in the hash bucket, or in the free list
    uint32_t newer = kNil;
    uint32_t older = kNil;
    uint32_t scope = kNil;        // while it has a file
    uint32_t vary_marker = 0;     // the file lists the Vary headers of its variants
};

// The zone's body: this, then the entries.
struct alignas(kCacheLine) CacheIndex::Header {
    uint64_t next_file_id;
    uint32_t free_head;
    Scope scopes[kScopes];
    uint32_t buckets[kEntries];
};

// Everything under the lock goes through this: find, link and unlink.
class CacheIndex::Locked {
public:
    explicit Locked(CacheIndex& index)
        : h_(index.header()), e_(index.entries()),
          lock_(index.mem_.mutex(), [this] { CacheIndex::reset(h_, e_); }) {}
    bool ok() const { return lock_.ok(); }
    Error error() const { return lock_.error(kIndexName); }

    uint32_t find(uint64_t key) const {
        for (uint32_t i = h_.buckets[key % kEntries]; i != kNil; i = e_[i].chain)
            if (e_[i].key == key) return i;
        return kNil;
    }
    uint32_t add(uint64_t key) {
        const uint32_t i = h_.free_head;
        if (i == kNil) return kNil;
        h_.free_head = e_[i].chain;
        e_[i] = Entry{};
        e_[i].key = key;
        e_[i].chain = h_.buckets[key % kEntries];
        h_.buckets[key % kEntries] = i;
        return i;
    }
    void remove(uint32_t i) {
        unlist(i);
        uint32_t* link = &h_.buckets[e_[i].key % kEntries];
        while (*link != i) link = &e_[*link].chain;
        *link = e_[i].chain;
        e_[i] = Entry{};
        e_[i].chain = h_.free_head;
        h_.free_head = i;
    }
    // Out of its scope's LRU list (and byte count).
    void unlist(uint32_t i) {
        Entry& x = e_[i];
        if (x.scope == kNil) return;
        Scope& s = h_.scopes[x.scope];
        (x.newer == kNil ? s.newest : e_[x.newer].older) = x.older;
        (x.older == kNil ? s.oldest : e_[x.older].newer) = x.newer;
        s.bytes -= x.size;
        x.scope = x.newer = x.older = kNil;
    }
    void list_newest(uint32_t i, uint32_t scope) {
        Entry& x = e_[i];
        Scope& s = h_.scopes[scope];
        x.scope = scope;
        x.older = s.newest;
        x.newer = kNil;
        if (s.newest != kNil) e_[s.newest].newer = i;
        s.newest = i;
        if (s.oldest == kNil) s.oldest = i;
        s.bytes += x.size;
    }
    uint32_t scope_slot(uint64_t hash, bool create) {
        const uint64_t h = hash ? hash : 1;
        for (uint32_t s = 0; s < kScopes; ++s)
            if (h_.scopes[s].hash == h) return s;
        if (!create) return kNil;
        for (uint32_t s = 0; s < kScopes; ++s) {
            if (h_.scopes[s].hash != 0) continue;
            h_.scopes[s] = Scope{};
            h_.scopes[s].hash = h;
            return s;
        }
        return kNil;
    }

    Header& h_;
    Entry* e_;

private:
    RobustLock lock_;
};

CacheIndex::Header& CacheIndex::header() const { return *reinterpret_cast<Header*>(mem_.body()); }

CacheIndex::Entry* CacheIndex::entries() const { return reinterpret_cast<Entry*>(&header() + 1); }

void CacheIndex::reset(Header& h, Entry* e) {
    for (auto& s : h.scopes) s = Scope{};
    std::fill(std::begin(h.buckets), std::end(h.buckets), kNil);
    for (uint32_t i = 0; i < kEntries; ++i) {
        e[i] = Entry{};
        e[i].chain = i + 1 < kEntries ? i + 1 : kNil;
    }
    h.free_head = 0;
}

Result<UniqueFd> CacheIndex::create() {
    auto made = Zone::create(kIndexName, kIndexMagic, kIndexVersion, sizeof(Header) + sizeof(Entry) * kEntries);
    if (!made) return made.error();
    CacheIndex index(std::move(made->zone));
    auto& h = *new (index.mem_.body()) Header{};
    h.next_file_id = 1;
    reset(h, index.entries());
    return std::move(made->fd);
}

Result<CacheIndex> CacheIndex::attach(int fd) {
    auto z = Zone::attach(fd, kIndexName, kIndexMagic, kIndexVersion, sizeof(Header) + sizeof(Entry) * kEntries);
    if (!z) return z.error();
    return CacheIndex(std::move(*z));
}

uint64_t CacheIndex::key_hash(std::string_view key) const {
    // FNV-1a from the zone's random seed, so keys that collide differ from run to run; a
    // collision costs a miss, never a wrong answer (the file holds the whole key).
    uint64_t h = mem_.seed()[0] ^ 0xcbf29ce484222325ULL;
    for (unsigned char c : key) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h ? h : 1;
}

Result<CacheIndex::Lookup> CacheIndex::consult(uint64_t key, uint64_t now_ms, uint64_t claim_ms) {
    Locked l(*this);
    if (!l.ok()) return l.error();
    Lookup out;
    uint32_t i = l.find(key);
    if (i == kNil) {
        i = l.add(key);   // full: no claim is recorded, the request fills anyway
        if (i != kNil) l.e_[i].claim_until_ms = now_ms + claim_ms;
        out.claimed = true;
        return out;
    }
    Entry& x = l.e_[i];
    out.file_id = x.file_id;
    out.vary_marker = x.vary_marker != 0;
    if (x.file_id != 0 && x.expires_ms > now_ms) {
        out.found = Found::fresh;
        const uint32_t scope = x.scope;
        l.unlist(i);
        l.list_newest(i, scope);
        return out;
    }
    out.found = x.file_id != 0 ? Found::stale : Found::missing;
    if (x.claim_until_ms > now_ms) {
        out.filling = true;
    } else {
        x.claim_until_ms = now_ms + claim_ms;
        out.claimed = true;
    }
    return out;
}

Result<uint64_t> CacheIndex::next_file_id() {
    Locked l(*this);
    if (!l.ok()) return l.error();
    return l.h_.next_file_id++;
}

Result<std::vector<uint64_t>> CacheIndex::commit(uint64_t key, uint64_t file_id, uint64_t size, uint64_t expires_ms,
                                                 uint64_t scope, uint64_t max_size, bool vary_marker) {
    Locked l(*this);
    if (!l.ok()) return l.error();
    std::vector<uint64_t> unused;
    const uint32_t s = size <= max_size ? l.scope_slot(scope, true) : kNil;
    uint32_t i = l.find(key);
    if (s == kNil) {
        unused.push_back(file_id);
        if (i != kNil) {
            l.e_[i].claim_until_ms = 0;
            if (l.e_[i].file_id == 0) l.remove(i);
        }
        return unused;
    }
    if (i != kNil) {
        l.unlist(i);
        if (l.e_[i].file_id != 0) unused.push_back(l.e_[i].file_id);
    }
    // Room: the oldest entries of this scope go first.
    Scope& sc = l.h_.scopes[s];
    while (sc.oldest != kNil && (sc.bytes + size > max_size || (i == kNil && l.h_.free_head == kNil))) {
        const uint32_t victim = sc.oldest;
        unused.push_back(l.e_[victim].file_id);
        l.remove(victim);
    }
    if (i == kNil) i = l.add(key);
    if (i == kNil) {   // every entry belongs to other scopes
        unused.push_back(file_id);
        return unused;
    }
    Entry& x = l.e_[i];
    x.file_id = file_id;
    x.size = size;
    x.expires_ms = expires_ms;
    x.claim_until_ms = 0;
    x.vary_marker = vary_marker;
    l.list_newest(i, s);
    return unused;
}

Status CacheIndex::start_file_ids_after(uint64_t highest) {
    Locked l(*this);
    if (!l.ok()) return l.error();
    l.h_.next_file_id = std::max(l.h_.next_file_id, highest + 1);
    return {};
}

Result<bool> CacheIndex::load(uint64_t key, uint64_t file_id, uint64_t size, uint64_t expires_ms, uint64_t scope,
                              bool vary_marker) {
    Locked l(*this);
    if (!l.ok()) return l.error();
    if (l.find(key) != kNil) return false;
    const uint32_t s = l.scope_slot(scope, true);
    if (s == kNil) return false;
    const uint32_t i = l.add(key);
    if (i == kNil) return false;
    Entry& x = l.e_[i];
    x.file_id = file_id;
    x.size = size;
    x.expires_ms = expires_ms;
    x.vary_marker = vary_marker;
    l.list_newest(i, s);
    return true;
}

void CacheIndex::abandon(uint64_t key) {
    Locked l(*this);
    if (!l.ok()) return;
    const uint32_t i = l.find(key);
    if (i == kNil) return;
    l.e_[i].claim_until_ms = 0;
    if (l.e_[i].file_id == 0) l.remove(i);
}

void CacheIndex::forget(uint64_t key, uint64_t file_id) {
    Locked l(*this);
    if (!l.ok()) return;
    const uint32_t i = l.find(key);
    if (i != kNil && l.e_[i].file_id == file_id) l.remove(i);
}

size_t CacheIndex::stored() const {
    Locked l(const_cast<CacheIndex&>(*this));
    if (!l.ok()) return 0;
    size_t n = 0;
    for (uint32_t i = 0; i < kEntries; ++i) n += l.e_[i].file_id != 0;
    return n;
}

uint64_t CacheIndex::scope_bytes(uint64_t scope) const {
    Locked l(const_cast<CacheIndex&>(*this));
    if (!l.ok()) return 0;
    const uint32_t s = l.scope_slot(scope, false);
    return s == kNil ? 0 : l.h_.scopes[s].bytes;
}

}  // namespace ne::proxy
