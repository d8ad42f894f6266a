// When a certificate is renewed (pure): inside the CA's suggested window when it offers ACME
// Renewal Information (RFC 9773: a uniformly random moment of the window, so that a CA's
// clients spread out), else `renew_before` ahead of expiry (default: a third of its lifetime,
// as Let's Encrypt recommends for 90-day certificates).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ne::acme {

int64_t renew_at_by_lifetime(int64_t not_before, int64_t not_after, int64_t renew_before_s);

struct RenewalWindow {
    int64_t start = 0;   // unix seconds
    int64_t end = 0;
};
// The suggestedWindow of a renewalInfo response; nullopt when it is malformed.
std::optional<RenewalWindow> parse_renewal_info(const std::string& body);
// `fraction` in [0, 1): the random draw.
int64_t pick_in_window(const RenewalWindow& w, double fraction);

// "2025-06-01T12:00:00Z", "2025-06-01T12:00:00.123+02:00" -> unix seconds.
std::optional<int64_t> parse_rfc3339(std::string_view text);

}  // namespace ne::acme
