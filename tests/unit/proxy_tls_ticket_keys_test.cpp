#include <gtest/gtest.h>

#include <cstring>
#include <string_view>

#include "proxy/tls/ticket_keys.h"

namespace ne::proxy {
namespace {

// Keys named 1, 2, 3... in the order they are made.
struct NumberedKeys {
    int made = 0;
    bool operator()(TicketKey& k) {
        std::memset(&k, 0, sizeof k);
        k.name[0] = static_cast<unsigned char>(++made);
        return true;
    }
};

std::string_view name_of(const TicketKey& k) { return {reinterpret_cast<const char*>(k.name), sizeof k.name}; }

constexpr TicketPolicy kHourlyFiveMinutes{3600, 300};

TEST(TicketKeyRing, TheNewestKeyEncryptsUntilItIsOlderThanTheRotation) {
    TicketKeyRing ring{};
    NumberedKeys fill;
    auto first = ring.encryption_key(1000, kHourlyFiveMinutes, fill);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->name[0], 1);
    EXPECT_EQ(ring.encryption_key(1000 + 3599, kHourlyFiveMinutes, fill)->name[0], 1);
    EXPECT_EQ(ring.encryption_key(1000 + 3600, kHourlyFiveMinutes, fill)->name[0], 2);
    EXPECT_EQ(fill.made, 2);
}

TEST(TicketKeyRing, AnOldKeyDecryptsUntilItsLastTicketExpiresAndAsksForRenewal) {
    TicketKeyRing ring{};
    NumberedKeys fill;
    const TicketKey one = *ring.encryption_key(1000, kHourlyFiveMinutes, fill);
    auto current = ring.decryption_key(name_of(one), 1010, kHourlyFiveMinutes);
    ASSERT_TRUE(current);
    EXPECT_TRUE(current->current);
    // Past the rotation the key sealed its last ticket at 4599; those live 300 s more.
    ring.encryption_key(4600, kHourlyFiveMinutes, fill);
    auto old = ring.decryption_key(name_of(one), 4600 + 299, kHourlyFiveMinutes);
    ASSERT_TRUE(old);
    EXPECT_FALSE(old->current);
    EXPECT_FALSE(ring.decryption_key(name_of(one), 4600 + 300, kHourlyFiveMinutes));
}

TEST(TicketKeyRing, UnknownNamesAndEmptySlotsAreNotKeys) {
    TicketKeyRing ring{};
    const unsigned char zeros[16] = {};
    EXPECT_FALSE(ring.decryption_key({reinterpret_cast<const char*>(zeros), 16}, 5, kHourlyFiveMinutes));
    NumberedKeys fill;
    ring.encryption_key(5, kHourlyFiveMinutes, fill);
    EXPECT_FALSE(ring.decryption_key("short", 5, kHourlyFiveMinutes));
    EXPECT_FALSE(ring.decryption_key({reinterpret_cast<const char*>(zeros), 16}, 5, kHourlyFiveMinutes));
}

TEST(TicketKeyRing, AFailedFillLeavesNoKeyAndTheNextTryMakesOne) {
    TicketKeyRing ring{};
    EXPECT_FALSE(ring.encryption_key(5, kHourlyFiveMinutes, [](TicketKey&) { return false; }));
    NumberedKeys fill;
    EXPECT_TRUE(ring.encryption_key(5, kHourlyFiveMinutes, fill));
}

TEST(TicketKeyRing, TheOldestKeyMakesRoomWhenAllAreKept) {
    TicketKeyRing ring{};
    NumberedKeys fill;
    const TicketPolicy day_of_seconds{1, 86400};
    const TicketKey first = *ring.encryption_key(1, day_of_seconds, fill);
    for (int t = 2; t <= static_cast<int>(TicketKeyRing::kKeys); ++t) ring.encryption_key(t, day_of_seconds, fill);
    EXPECT_TRUE(ring.decryption_key(name_of(first), 40, day_of_seconds));
    ring.encryption_key(40, day_of_seconds, fill);   // the 33rd key takes the first one's slot
    EXPECT_FALSE(ring.decryption_key(name_of(first), 40, day_of_seconds));
    EXPECT_EQ(fill.made, static_cast<int>(TicketKeyRing::kKeys) + 1);
}

}  // namespace
}  // namespace ne::proxy
