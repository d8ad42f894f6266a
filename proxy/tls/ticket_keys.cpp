#include "proxy/tls/ticket_keys.h"

#include <algorithm>
#include <cstring>

namespace ne::proxy {

std::optional<TicketKeyRing::Found> TicketKeyRing::decryption_key(std::string_view name, int64_t now,
                                                                   const TicketPolicy& p) const {
    if (name.size() != sizeof(TicketKey::name)) return std::nullopt;
    const TicketKey* found = nullptr;
    int64_t newest = 0;
    for (const TicketKey& k : keys) {
        if (k.made == 0) continue;
        newest = std::max(newest, k.made);
        if (std::memcmp(k.name, name.data(), name.size()) == 0) found = &k;
    }
    if (!found || now >= found->made + p.rotation + p.lifetime) return std::nullopt;
    return Found{*found, found->made == newest && now - found->made < p.rotation};
}

}  // namespace ne::proxy
