// TLS sessions shared by every proxy worker (nginx's `ssl_session_cache shared:SSL:10m`), so a
// client resumes whichever worker accepts its next connection, a re-forked one included.
// Without session tickets (the default) TLS 1.2 resumes by session id and TLS 1.3 by
// stateful tickets, and both are ids into this cache; with them, the ticket keys every worker
// encrypts with live here too (ticket_keys.h), so any worker decrypts any worker's ticket.
//
// A shared memory zone (see shared_memory.h; workers get it with `--tls-sessions`): a fixed
// table of slots, each holding one session serialized by i2d_SSL_SESSION and keyed by its id;
// open addressing within a probe window. A full window gives up the session that expires
// first. A worker killed while writing a slot
// leaves only that slot half written, and the next locker forgets it.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "proxy/shm/shared_memory.h"
#include "proxy/tls/ticket_keys.h"

namespace ne::proxy {

class TlsSessionCache {
public:
    // 32,768 slots of 512 bytes: 16 MiB, touched only as used (nginx's 10m holds some 40,000).
    static constexpr size_t kSlots = 32768;
    // A server-side session is ~160 bytes, plus the SNI name (up to 253) and the ALPN protocol.
    static constexpr size_t kMaxSessionBytes = 456;
    static constexpr size_t kMaxIdBytes = 32;      // SSL_MAX_SSL_SESSION_ID_LENGTH
    static constexpr size_t kProbeWindow = 16;     // slots looked at for one id

    // The master's part: a zone of `slots` slots (at least kProbeWindow).
    static Result<UniqueFd> create(size_t slots = kSlots);
    // Maps a zone made by create(). `fd` may be closed afterwards.
    static Result<TlsSessionCache> attach(int fd);

    size_t capacity() const;

    // ---- serialized sessions; `now` and `expires` are Unix seconds ----

    // Stores `size` bytes under `id`, written by write(unsigned char* out) under the lock
    // (straight into shared memory: no copy). False when it cannot be stored: an empty or
    // over-long id, or more than kMaxSessionBytes. An error means the lock failed.
    template <typename Write>
    Result<bool> put(std::string_view id, size_t size, int64_t expires, int64_t now, Write&& write) {
        if (id.empty() || id.size() > kMaxIdBytes || size > kMaxSessionBytes) return false;
        Locked locked(*this);
        if (!locked.ok()) return locked.error();
        write(locked.claim(id, size, expires, now));
        return true;
    }
    Result<bool> put(std::string_view id, std::string_view der, int64_t expires, int64_t now);
    // Copies the session of `id` into `out` (kMaxSessionBytes) and returns its size; 0 when
    // there is none or it expired.
    Result<size_t> get(std::string_view id, int64_t now, unsigned char* out);
    Status remove(std::string_view id);

    // ---- session ticket keys (ticket_keys.h), made with RAND_bytes ----

    // The key to encrypt a new ticket with; nullopt when no random key could be made.
    Result<std::optional<TicketKey>> ticket_encryption_key(int64_t now, const TicketPolicy& policy);
    Result<std::optional<TicketKeyRing::Found>> ticket_decryption_key(std::string_view name, int64_t now,
                                                                      const TicketPolicy& policy);

    // ---- OpenSSL ----

    // Makes `ctx` keep its server sessions here only (no per-process cache): new, get and
    // remove callbacks. The cache must outlive the context.
    void serve(SSL_CTX* ctx);
    // The callbacks' work, for tests: store (false: too big, the id is missing), find (a new
    // reference, or null; bytes that do not parse are dropped), forget.
    Result<bool> save(SSL_SESSION* session);
    SSL_SESSION* load(std::string_view id, int64_t now);
    void forget(SSL_SESSION* session);

private:
    struct Header;
    struct Slot;

    // The lock held for one operation. The slot being written is recorded in the header
    // first, so that whoever recovers the lock from a dead holder knows which one to forget.
    class Locked {
    public:
        explicit Locked(TlsSessionCache& cache);
        ~Locked();
        Locked(const Locked&) = delete;
        Locked& operator=(const Locked&) = delete;

        bool ok() const { return lock_.ok(); }
        Error error() const;
        // The slot of `id` (found, else free or expired, else the soonest to expire), marked
        // as being written, its key and size set: the caller writes `size` bytes to the result.
        unsigned char* claim(std::string_view id, size_t size, int64_t expires, int64_t now);
        // The slot holding `id`, or null.
        Slot* find(std::string_view id) const;

    private:
        TlsSessionCache& cache_;
        RobustLock lock_;
    };

    explicit TlsSessionCache(Zone z) : mem_(std::move(z)) {}
    Header& header() const;
    Slot* slots() const;
    uint64_t hash(std::string_view id) const;
    void repair();

    Zone mem_;
};

}  // namespace ne::proxy
