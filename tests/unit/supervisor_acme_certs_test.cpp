// The daemon's ACME schedule (pure parts) and the config the proxy workers get.
#include <gtest/gtest.h>

#include "supervisor/acme_certs.h"

namespace ne::supervisor {
namespace {

TEST(AcmeSchedule, HourlyWithJitterUnlessRenewalComesFirst) {
    EXPECT_EQ(next_check_after(1000, 1'000'000, 120), 1000 + 3600 + 120);
    EXPECT_EQ(next_check_after(1000, 2000, 120), 2000);
    EXPECT_EQ(next_check_after(1000, 500, 120), 1000);   // overdue: now
}

TEST(AcmeSchedule, FailuresBackOffToSixHours) {
    EXPECT_EQ(retry_delay(1), 60);
    EXPECT_EQ(retry_delay(2), 120);
    EXPECT_EQ(retry_delay(3), 240);
    EXPECT_EQ(retry_delay(30), 6 * 3600);
}

TEST(AcmeSchedule, ProxyWorkersGetTheStoreFilesOfAutoServersOnly) {
    nlohmann::json cfg = {{"servers", {{{"server_name", {"a.test", "b.test"}}, {"tls", {{"enabled", true}, {"acme", true}}}},
                                       {{"server_name", {"c.test"}}, {"tls", {{"enabled", true}, {"cert", "/c.pem"}}}}}}};
    auto out = with_acme_paths(cfg, "/home/ne");
    EXPECT_EQ(out["servers"][0]["tls"]["cert"], "/home/ne/acme/certs/a.test.crt");
    EXPECT_EQ(out["servers"][0]["tls"]["key"], "/home/ne/acme/certs/a.test.key");
    EXPECT_EQ(out["servers"][1]["tls"]["cert"], "/c.pem");
}

}  // namespace
}  // namespace ne::supervisor
