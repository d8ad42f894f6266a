#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <string>

#include "config/cron_schedule.h"

namespace ne::config {
namespace {

// Runs a test in one time zone and puts the process's back afterwards.
class InZone {
public:
    explicit InZone(const char* tz) {
        if (const char* old = std::getenv("TZ")) old_ = old, had_ = true;
        ::setenv("TZ", tz, 1);
        ::tzset();
    }
    ~InZone() {
        if (had_) ::setenv("TZ", old_.c_str(), 1);
        else ::unsetenv("TZ");
        ::tzset();
    }

private:
    std::string old_;
    bool had_ = false;
};

// "2026-03-08 01:59:59" (local) -> time_t; isdst picks one of a repeated hour (-1: the zone's).
std::time_t at(const std::string& text, int isdst = -1) {
    std::tm tm{};
    EXPECT_NE(strptime(text.c_str(), "%Y-%m-%d %H:%M:%S", &tm), nullptr) << text;
    tm.tm_isdst = isdst;
    return std::mktime(&tm);
}

std::string show(std::time_t t) {
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
    return buf;
}

std::string next(const std::string& expr, const std::string& after) {
    auto c = CronSchedule::parse(expr);
    EXPECT_TRUE(c.ok()) << expr << ": " << (c.ok() ? "" : c.error().message);
    if (!c.ok()) return "";
    auto t = c->next_after(at(after));
    return t ? show(*t) : "never";
}

struct NextCase {
    const char* expr;
    const char* after;
    const char* expected;  // local, with the zone's abbreviation
};

TEST(CronSchedule, NextFireTimesInUtc) {
    InZone utc("UTC");
    const NextCase cases[] = {
        {"* * * * *", "2026-12-07 22:30:15", "2026-12-07 22:31:00 UTC"},
        {"* * * * * *", "2026-12-07 22:30:15", "2026-12-07 22:30:16 UTC"},
        {"*/15 * * * * *", "2026-12-07 22:30:15", "2026-12-07 22:30:30 UTC"},
        {"0 3 * * *", "2026-12-07 22:30:00", "2026-12-08 03:00:00 UTC"},
        {"0 3 * * *", "2026-12-08 03:00:00", "2026-12-09 03:00:00 UTC"},  // strictly after
        {"30 8 * * 1-5", "2026-12-11 09:00:00", "2026-12-14 08:30:00 UTC"},  // Friday -> Monday
        {"30 8 * * MON-FRI", "2026-12-11 09:00:00", "2026-12-14 08:30:00 UTC"},
        {"0 0 * * sun", "2026-12-07 00:00:00", "2026-12-13 00:00:00 UTC"},
        {"0 0 * * 7", "2026-12-07 00:00:00", "2026-12-13 00:00:00 UTC"},  // 7 = Sunday
        {"0 0 1 jan *", "2026-12-07 00:00:00", "2027-01-01 00:00:00 UTC"},
        {"0 0 1 JAN,Jul *", "2027-01-01 00:00:00", "2027-07-01 00:00:00 UTC"},
        {"0 12 L * *", "2027-02-01 00:00:00", "2027-02-28 12:00:00 UTC"},
        {"0 12 L * *", "2028-02-01 00:00:00", "2028-02-29 12:00:00 UTC"},  // leap year
        {"0 0 29 2 *", "2026-12-07 00:00:00", "2028-02-29 00:00:00 UTC"},
        {"0 0 31 * *", "2026-04-01 00:00:00", "2026-05-31 00:00:00 UTC"},  // April has 30
        {"5,10-12 * * * *", "2026-12-07 22:05:00", "2026-12-07 22:10:00 UTC"},
        {"1-30/10 * * * *", "2026-12-07 22:12:00", "2026-12-07 22:21:00 UTC"},
        {"5/20 * * * *", "2026-12-07 22:26:00", "2026-12-07 22:45:00 UTC"},  // N/S runs from N
        {"0 0 13 * 5", "2026-12-07 00:00:00", "2026-12-11 00:00:00 UTC"},  // Friday or the 13th
        {"0 0 13 * *", "2026-12-07 00:00:00", "2026-12-13 00:00:00 UTC"},
        {"0 0 */2 * 5", "2026-12-07 00:00:00", "2026-12-11 00:00:00 UTC"},  // '*/2' unrestricted: both
        {"0 0 ? * 5", "2026-12-07 00:00:00", "2026-12-11 00:00:00 UTC"},
        {"59 23 31 12 *", "2026-12-31 23:59:00", "2027-12-31 23:59:00 UTC"},
        {"0 0 31 2 *", "2026-12-07 00:00:00", "never"},
    };
    for (const auto& c : cases) EXPECT_EQ(next(c.expr, c.after), c.expected) << c.expr << " after " << c.after;
}

// America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
TEST(CronSchedule, ClocksGoingForwardFireAfterTheGap) {
    InZone ny("America/New_York");
    EXPECT_EQ(next("30 2 * * *", "2026-03-08 01:00:00"), "2026-03-08 03:30:00 EDT");
    EXPECT_EQ(next("30 2 * * *", "2026-03-08 03:30:00"), "2026-03-09 02:30:00 EDT");
    EXPECT_EQ(next("*/20 * * * *", "2026-03-08 01:40:00"), "2026-03-08 03:00:00 EDT");
    EXPECT_EQ(next("0 * * * *", "2026-03-08 01:00:00"), "2026-03-08 03:00:00 EDT");
}

TEST(CronSchedule, ClocksGoingBackFireAFixedTimeOnceAndWildcardHoursThroughBoth) {
    InZone ny("America/New_York");
    auto fixed = CronSchedule::parse("30 1 * * *");
    ASSERT_TRUE(fixed.ok());
    auto first = fixed->next_after(at("2026-11-01 00:00:00"));
    ASSERT_TRUE(first);
    EXPECT_EQ(show(*first), "2026-11-01 01:30:00 EDT");
    EXPECT_EQ(show(*fixed->next_after(*first)), "2026-11-02 01:30:00 EST");

    auto hourly = CronSchedule::parse("0 * * * *");
    ASSERT_TRUE(hourly.ok());
    std::time_t t = at("2026-11-01 00:30:00");
    std::string seen;
    for (int i = 0; i < 4; ++i) {
        t = *hourly->next_after(t);
        seen += show(t) + "; ";
    }
    EXPECT_EQ(seen, "2026-11-01 01:00:00 EDT; 2026-11-01 01:00:00 EST; 2026-11-01 02:00:00 EST; "
                    "2026-11-01 03:00:00 EST; ");
}

TEST(CronSchedule, MatchesLocalTimes) {
    auto c = CronSchedule::parse("0 30 8 * * mon");
    ASSERT_TRUE(c.ok());
    std::tm monday{};
    monday.tm_year = 2026 - 1900;
    monday.tm_mon = 11;
    monday.tm_mday = 7;
    monday.tm_hour = 8;
    monday.tm_min = 30;
    EXPECT_TRUE(c->matches(monday));
    monday.tm_sec = 1;
    EXPECT_FALSE(c->matches(monday));
}

struct BadCase {
    const char* expr;
    const char* message;
};

TEST(CronSchedule, RefusesWithTheReason) {
    const BadCase cases[] = {
        {"* * * *", "has 4 fields; expected 5"},
        {"* * * * * * *", "has 7 fields"},
        {"", "has 0 fields"},
        {"60 * * * *", "minute 60 is out of range 0-59"},
        {"* 24 * * *", "hour 24 is out of range 0-23"},
        {"* * 0 * *", "day of month 0 is out of range 1-31"},
        {"* * * 13 *", "month 13 is out of range 1-12"},
        {"* * * * 8", "day of week 8 is out of range 0-7"},
        {"61 * * * * *", "second 61 is out of range 0-59"},
        {"*/0 * * * *", "minute step '0' is not a whole number >= 1"},
        {"30-10 * * * *", "minute range '30-10' runs backwards"},
        {"1,,2 * * * *", "has an empty list item"},
        {"* * * foo *", "'foo' is not a month (a number or a name)"},
        {"* * * * monday", "'monday' is not a day of week"},
        {"a * * * *", "'a' is not a minute"},
        {"* * * * * L", "'L' is not a day of week"},
    };
    for (const auto& c : cases) {
        auto r = CronSchedule::parse(c.expr);
        ASSERT_FALSE(r.ok()) << c.expr;
        EXPECT_NE(r.error().message.find(c.message), std::string::npos) << c.expr << ": " << r.error().message;
    }
}

}  // namespace
}  // namespace ne::config
