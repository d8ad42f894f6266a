#include <gtest/gtest.h>

#include "config/config.h"
#include "config/units.h"

namespace ne::config {
namespace {

using namespace std::chrono_literals;

struct DurationCase { const char* text; Duration expected; };

TEST(ParseDuration, AcceptsEveryUnitAndCompounds) {
    const DurationCase cases[] = {
        {"0ms", 0ms},       {"250ms", 250ms},     {"5s", 5s},        {"1m", 1min},
        {"90m", 90min},     {"1h", 1h},           {"30d", 24h * 30}, {"1h30m", 90min},
        {"1m30s", 90s},     {"2s500ms", 2500ms},  {"100ms", 100ms},  {"0s", 0s},
    };
    for (const auto& c : cases) {
        auto d = parse_duration(c.text);
        ASSERT_TRUE(d.ok()) << c.text << ": " << d.error().message;
        EXPECT_EQ(*d, c.expected) << c.text;
    }
}

TEST(ParseDuration, RefusesBareNumbersUnknownUnitsAndJunk) {
    const char* bad[] = {"",  "5",    "5x",  "s",    "-5s",  "5 s", " 5s", "5s ",
                         "5S", "1.5s", "5sec", "1h30", "ms",  "5ms5", "99999999999999999999d"};
    for (const char* text : bad) {
        auto d = parse_duration(text);
        ASSERT_FALSE(d.ok()) << text;
        EXPECT_NE(d.error().message.find("ms, s, m, h or d"), std::string::npos) << d.error().message;
        EXPECT_NE(d.error().message.find('"' + std::string(text) + '"'), std::string::npos);
    }
}

TEST(ParseDuration, RefusesValuesThatOverflowMilliseconds) {
    // 2^63 ms is past Duration's range; 106751991167 days is just below it.
    EXPECT_TRUE(parse_duration("106751991167d").ok());
    EXPECT_FALSE(parse_duration("106751991168d").ok());
    EXPECT_FALSE(parse_duration("106751991167d106751991167d").ok());
}

struct SizeCase { const char* text; uint64_t expected; };

TEST(ParseSize, IsBinaryAndCaseInsensitive) {
    const SizeCase cases[] = {
        {"0", 0},
        {"512", 512},
        {"1K", 1024},
        {"1k", 1024},
        {"1KB", 1024},
        {"1kb", 1024},
        {"50m", 50ull << 20},
        {"80M", 80ull << 20},
        {"1G", 1ull << 30},
        {"1g", 1ull << 30},
        {"512B", 512},
        {"16383G", 16383ull << 30},
    };
    for (const auto& c : cases) {
        auto s = parse_size(c.text);
        ASSERT_TRUE(s.ok()) << c.text << ": " << s.error().message;
        EXPECT_EQ(*s, c.expected) << c.text;
    }
}

TEST(ParseSize, RefusesUnknownUnitsAndJunk) {
    const char* bad[] = {"", "K", "1T", "1.5G", "-1K", "1 K", "1KiB", "1KK", "1Kb2",
                         "99999999999999999999", "17179869184G"};
    for (const char* text : bad) {
        auto s = parse_size(text);
        ASSERT_FALSE(s.ok()) << text;
        EXPECT_NE(s.error().message.find("K, M or G"), std::string::npos) << s.error().message;
    }
}

struct RateCase { const char* text; double expected; };

TEST(ParseRate, PerSecondAndPerMinute) {
    const RateCase cases[] = {{"30r/s", 30.0}, {"1r/s", 1.0}, {"5r/m", 5.0 / 60.0}, {"60r/m", 1.0}};
    for (const auto& c : cases) {
        auto r = parse_rate(c.text);
        ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().message;
        EXPECT_DOUBLE_EQ(*r, c.expected) << c.text;
    }
}

TEST(ParseRate, RefusesOtherForms) {
    const char* bad[] = {"", "30", "30/s", "30r/h", "0r/s", "r/s", "-1r/s", "1.5r/s", "30r/s ", "30R/S"};
    for (const char* text : bad) {
        auto r = parse_rate(text);
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_NE(r.error().message.find("r/s"), std::string::npos) << r.error().message;
    }
}

struct InstancesCase { const char* written; int cpus; std::optional<int> expected; };

TEST(ResolveInstances, CountsMaxAndCpusMinusK) {
    const InstancesCase cases[] = {
        {"4", 8, 4},  {"1", 1, 1},   {"max", 8, 8}, {"max", 1, 1},  {"-1", 8, 7},
        {"-1", 1, 1}, {"-7", 8, 1},  {"-9", 8, 1},  {"0", 8, std::nullopt},
        {"", 8, std::nullopt},       {"auto", 8, std::nullopt},     {"4x", 8, std::nullopt},
        {"+4", 8, std::nullopt},     {"-0", 8, std::nullopt},       {"MAX", 8, std::nullopt},
    };
    for (const auto& c : cases)
        EXPECT_EQ(resolve_instances(c.written, c.cpus), c.expected) << c.written << " cpus=" << c.cpus;
}

TEST(UsableCpus, MatchesTheAffinityMask) {
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    EXPECT_EQ(usable_cpus(), CPU_COUNT(&set));
}

TEST(Where, FormatsFileLineColumnOrJustTheFile) {
    EXPECT_EQ((Where{"eco.toml", 3, 7}.str()), "eco.toml:3:7");
    EXPECT_EQ((Where{"/x/app.js", 0, 0}.str()), "/x/app.js");
    EXPECT_EQ(Where{}.str(), "");
}

TEST(ListenAddr, BracketsIpv6) {
    EXPECT_EQ((ListenAddr{"127.0.0.1", 8080, {}}.str()), "127.0.0.1:8080");
    EXPECT_EQ((ListenAddr{"::1", 8443, {}}.str()), "[::1]:8443");
    EXPECT_EQ((ListenAddr{"localhost", 80, {}}.str()), "localhost:80");
}

}  // namespace
}  // namespace ne::config
