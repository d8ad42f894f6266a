// Session ticket keys shared by every proxy worker and rotated on a schedule (nginx's
// `ssl_session_tickets on` with rotated `ssl_session_ticket_key` files, without the files:
// the keys exist only in the TLS session zone's memory, never on disk).
//
// The ring lives in shared memory (TlsSessionCache's header) and is only touched under that
// zone's lock. The newest key encrypts; once it is older than the rotation interval the next
// ticket to be issued makes a new one in the slot of the oldest. A key decrypts tickets as
// long as one it encrypted may still be valid (made + rotation + session timeout); a ticket
// under a key that no longer encrypts is answered with a fresh one, so a returning client
// moves to the current key. A worker killed while making a key leaves that slot empty (the
// key's `made` is written last).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ne::proxy {

struct TicketKey {
    unsigned char name[16];      // sent in the clear in each ticket, to find the key again
    unsigned char aes[32];       // AES-256-CBC
    unsigned char hmac[32];      // HMAC-SHA256
    int64_t made;                // Unix seconds; 0: empty slot
};

// What a ticket key is used with: one server's rotation and session timeout, in seconds.
struct TicketPolicy {
    int64_t rotation = 3600;
    int64_t lifetime = 300;
};

struct TicketKeyRing {
    // A day of hourly keys under a day's session timeout would need 25; older keys go first.
    static constexpr size_t kKeys = 32;
    TicketKey keys[kKeys];

    // The key to encrypt with at `now`: the newest, or, when it is older than the rotation,
    // a new one whose secrets `fill(TicketKey&)` writes (name, aes, hmac; false: it could not,
    // and no key is returned).
    template <typename Fill>
    std::optional<TicketKey> encryption_key(int64_t now, const TicketPolicy& p, Fill&& fill) {
        TicketKey* newest = nullptr;
        TicketKey* oldest = &keys[0];
        for (TicketKey& k : keys) {
            if (k.made != 0 && (!newest || k.made > newest->made)) newest = &k;
            if (k.made < oldest->made) oldest = &k;
        }
        if (newest && now - newest->made < p.rotation) return *newest;
        oldest->made = 0;
        if (!fill(*oldest)) return std::nullopt;
        oldest->made = now > 0 ? now : 1;
        return *oldest;
    }

    // The key named `name` if a ticket it encrypted may still be valid at `now`, and whether
    // it is still the one that encrypts (else the ticket is renewed under the current key).
    struct Found {
        TicketKey key;
        bool current;
    };
    std::optional<Found> decryption_key(std::string_view name, int64_t now, const TicketPolicy& p) const;
};

}  // namespace ne::proxy
