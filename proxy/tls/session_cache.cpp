#include "proxy/tls/session_cache.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <new>
#include <string>

namespace ne::proxy {

namespace {

constexpr uint64_t kSessionsMagic = 0x736e6f6973732d65;   // "e-ssions"
constexpr uint32_t kSessionsVersion = 3;   // 3: ticket keys
constexpr const char* kSessionsName = "TLS session cache";

std::string_view id_of(const SSL_SESSION* s) {
    unsigned int len = 0;
    const unsigned char* id = SSL_SESSION_get_id(s, &len);
    return {reinterpret_cast<const char*>(id), len};
}

int cache_index() {
    // An ex_data slot is process-wide by OpenSSL's design; it is taken once and never changes.
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

TlsSessionCache* cache_of(SSL_CTX* ctx) { return static_cast<TlsSessionCache*>(SSL_CTX_get_ex_data(ctx, cache_index())); }

// A failure of the shared lock costs resumption, never the handshake: logged and carried on.
void log_failure(const Error& e) noexcept {
    try {
        spdlog::warn("proxy worker {}: {}", getpid(), e.message);
    } catch (...) {
    }
}

// OpenSSL's callbacks, on the context the connection started with (its session context).
int on_new_session(SSL* ssl, SSL_SESSION* session) noexcept {
    if (TlsSessionCache* c = cache_of(SSL_get_SSL_CTX(ssl))) {
        auto stored = c->save(session);
        if (!stored) log_failure(stored.error());
    }
    return 0;   // we did not keep a reference
}

SSL_SESSION* on_get_session(SSL* ssl, const unsigned char* id, int len, int* copy) noexcept {
    *copy = 0;   // the session is a new object: OpenSSL owns our reference
    TlsSessionCache* c = cache_of(SSL_get_SSL_CTX(ssl));
    if (!c || len <= 0) return nullptr;
    return c->load({reinterpret_cast<const char*>(id), static_cast<size_t>(len)}, std::time(nullptr));
}

void on_remove_session(SSL_CTX* ctx, SSL_SESSION* session) noexcept {
    if (TlsSessionCache* c = cache_of(ctx)) c->forget(session);
}

}  // namespace

// The zone's body: this, then the slots.
struct alignas(kCacheLine) TlsSessionCache::Header {
    uint64_t slot_count;
    std::atomic<uint64_t> writing;   // the slot a holder of the lock may be changing, or kNoSlot
    TicketKeyRing tickets;
};

struct TlsSessionCache::Slot {
    uint64_t hash;       // 0: free
    int64_t expires;     // Unix seconds
    uint16_t id_len;
    uint16_t size;
    unsigned char id[kMaxIdBytes];
    unsigned char der[kMaxSessionBytes];
};

Result<UniqueFd> TlsSessionCache::create(size_t slots) {
    static_assert(sizeof(Slot) == 512);   // 16 MiB for kSlots
    if (slots < kProbeWindow)
        return Error{std::string(kSessionsName) + ": " + std::to_string(slots) + " slots are too few (at least " +
                     std::to_string(kProbeWindow) + ")"};
    auto made = Zone::create(kSessionsName, kSessionsMagic, kSessionsVersion, sizeof(Header) + slots * sizeof(Slot));
    if (!made) return made.error();
    // The slots are already zero (free).
    Header& h = *new (made->zone.body()) Header{};
    h.slot_count = slots;
    h.writing.store(kNoSlot);
    return std::move(made->fd);
}

Result<TlsSessionCache> TlsSessionCache::attach(int fd) {
    auto z = Zone::attach(fd, kSessionsName, kSessionsMagic, kSessionsVersion, sizeof(Header) + kProbeWindow * sizeof(Slot));
    if (!z) return z.error();
    TlsSessionCache cache(std::move(*z));
    const uint64_t n = cache.header().slot_count;
    if (n < kProbeWindow || n != (cache.mem_.body_size() - sizeof(Header)) / sizeof(Slot))
        return Error{zone_name(kSessionsName, fd) + ": " + std::to_string(n) + " slots do not fit"};
    return cache;
}

TlsSessionCache::Header& TlsSessionCache::header() const { return *reinterpret_cast<Header*>(mem_.body()); }

TlsSessionCache::Slot* TlsSessionCache::slots() const { return reinterpret_cast<Slot*>(&header() + 1); }

size_t TlsSessionCache::capacity() const { return header().slot_count; }

uint64_t TlsSessionCache::hash(std::string_view id) const {
    // FNV-1a from the zone's random seed. Ids are the server's random bytes; a client can only
    // ask for ids, and a lookup costs at most one probe window whatever it asks.
    uint64_t h = mem_.seed()[0] ^ 0xcbf29ce484222325ULL;
    for (unsigned char c : id) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h ? h : 1;   // 0 marks a free slot
}

void TlsSessionCache::repair() {
    Header& h = header();
    const uint64_t dirty = h.writing.load(std::memory_order_acquire);
    if (dirty < h.slot_count) slots()[dirty].hash = 0;
    h.writing.store(kNoSlot, std::memory_order_release);
}

TlsSessionCache::Locked::Locked(TlsSessionCache& cache)
    : cache_(cache), lock_(cache.mem_.mutex(), [&cache] { cache.repair(); }) {}

TlsSessionCache::Locked::~Locked() {
    if (ok()) cache_.header().writing.store(kNoSlot, std::memory_order_release);
}

Error TlsSessionCache::Locked::error() const { return lock_.error(kSessionsName); }

TlsSessionCache::Slot* TlsSessionCache::Locked::find(std::string_view id) const {
    const Header& h = cache_.header();
    Slot* slots = cache_.slots();
    const uint64_t hash = cache_.hash(id);
    for (size_t i = 0; i < kProbeWindow; ++i) {
        Slot& s = slots[(hash + i) % h.slot_count];
        if (s.hash == hash && s.id_len == id.size() && std::memcmp(s.id, id.data(), id.size()) == 0) return &s;
    }
    return nullptr;
}

unsigned char* TlsSessionCache::Locked::claim(std::string_view id, size_t size, int64_t expires, int64_t now) {
    Header& h = cache_.header();
    Slot* slots = cache_.slots();
    const uint64_t hash = cache_.hash(id);
    Slot* pick = find(id);
    for (size_t i = 0; i < kProbeWindow && !pick; ++i) {
        Slot& s = slots[(hash + i) % h.slot_count];
        if (s.hash == 0 || s.expires <= now) pick = &s;
    }
    if (!pick) {
        pick = &slots[hash % h.slot_count];
        for (size_t i = 1; i < kProbeWindow; ++i) {
            Slot& s = slots[(hash + i) % h.slot_count];
            if (s.expires < pick->expires) pick = &s;
        }
    }
    h.writing.store(static_cast<uint64_t>(pick - slots), std::memory_order_release);
    pick->hash = hash;
    pick->expires = expires;
    pick->id_len = static_cast<uint16_t>(id.size());
    pick->size = static_cast<uint16_t>(size);
    std::memcpy(pick->id, id.data(), id.size());
    return pick->der;
}

Result<bool> TlsSessionCache::put(std::string_view id, std::string_view der, int64_t expires, int64_t now) {
    return put(id, der.size(), expires, now, [&](unsigned char* out) { std::memcpy(out, der.data(), der.size()); });
}

Result<size_t> TlsSessionCache::get(std::string_view id, int64_t now, unsigned char* out) {
    Locked locked(*this);
    if (!locked.ok()) return locked.error();
    Slot* s = locked.find(id);
    if (!s) return size_t{0};
    if (s->expires <= now) {
        s->hash = 0;
        return size_t{0};
    }
    std::memcpy(out, s->der, s->size);
    return size_t{s->size};
}

Status TlsSessionCache::remove(std::string_view id) {
    Locked locked(*this);
    if (!locked.ok()) return locked.error();
    if (Slot* s = locked.find(id)) s->hash = 0;
    return {};
}

Result<std::optional<TicketKey>> TlsSessionCache::ticket_encryption_key(int64_t now, const TicketPolicy& policy) {
    Locked locked(*this);
    if (!locked.ok()) return locked.error();
    return header().tickets.encryption_key(now, policy, [](TicketKey& k) {
        const bool made = RAND_bytes(k.name, sizeof k.name) == 1 && RAND_bytes(k.aes, sizeof k.aes) == 1 &&
                          RAND_bytes(k.hmac, sizeof k.hmac) == 1;
        if (!made) ERR_clear_error();
        return made;
    });
}

Result<std::optional<TicketKeyRing::Found>> TlsSessionCache::ticket_decryption_key(std::string_view name, int64_t now,
                                                                                   const TicketPolicy& policy) {
    Locked locked(*this);
    if (!locked.ok()) return locked.error();
    return header().tickets.decryption_key(name, now, policy);
}

void TlsSessionCache::serve(SSL_CTX* ctx) {
    SSL_CTX_set_ex_data(ctx, cache_index(), this);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    SSL_CTX_sess_set_get_cb(ctx, on_get_session);
    SSL_CTX_sess_set_remove_cb(ctx, on_remove_session);
}

Result<bool> TlsSessionCache::save(SSL_SESSION* session) {
    const int size = i2d_SSL_SESSION(session, nullptr);
    if (size <= 0) return false;
    const auto expires = static_cast<int64_t>(SSL_SESSION_get_time(session)) + SSL_SESSION_get_timeout(session);
    return put(id_of(session), static_cast<size_t>(size), expires, std::time(nullptr),
               [&](unsigned char* out) { i2d_SSL_SESSION(session, &out); });
}

SSL_SESSION* TlsSessionCache::load(std::string_view id, int64_t now) {
    unsigned char der[kMaxSessionBytes];
    auto size = get(id, now, der);
    if (!size) {
        log_failure(size.error());
        return nullptr;
    }
    if (*size == 0) return nullptr;
    const unsigned char* p = der;
    SSL_SESSION* s = d2i_SSL_SESSION(nullptr, &p, static_cast<long>(*size));
    if (!s || p != der + *size) {
        // Not a session (or not all of one): it can only fail the next lookup again.
        SSL_SESSION_free(s);
        ERR_clear_error();   // not this connection's error
        (void)remove(id);
        return nullptr;
    }
    return s;
}

void TlsSessionCache::forget(SSL_SESSION* session) {
    if (Status s = remove(id_of(session)); !s) log_failure(s.error());
}

}  // namespace ne::proxy
