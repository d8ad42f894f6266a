// PM2's cron_restart: a cron expression and the times it fires. PM2 reads it with the croner
// library; this accepts what croner accepts: 5 fields "m h dom mon dow" or 6 with leading
// seconds ("* * * * * *" is every second), '*', N, N-M, lists, steps ("*/15", "5/10",
// "1-30/5"), month and day names (JAN..DEC, SUN..SAT, any case, also in ranges), 0 or 7 for
// Sunday, "L" as the day of month (its last day) and '?' (as '*', croner 5's reading).
// Where croner 4 (the version PM2 pins) and cron(8) differ, this follows cron(8): a restricted
// day of month and a restricted day of week fire on either (croner 4 wanted both), and ranges
// may sit in lists ("1-5,10"). It lives in config/ because the loader refuses a bad expression
// at its line; the supervisor asks it for fire times. Pure: time comes in as a value.
#pragma once

#include <bitset>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "ipc/result.h"

namespace ne::config {

class CronSchedule {
public:
    // "" and "0" (PM2's "no cron") are not expressions: the caller treats them as off.
    static Result<CronSchedule> parse(std::string_view text);

    // The first instant strictly after `after` whose local time (TZ of the process) matches;
    // nullopt when none comes within nine years (e.g. "0 0 31 2 *"). DST, as cron(8) has it:
    // a time skipped when clocks go forward fires at the first instant after the gap; in the
    // hour repeated when they go back, a schedule with a fixed hour fires once, one whose hour
    // field starts with '*' keeps firing through both passes.
    std::optional<std::time_t> next_after(std::time_t after) const;

    // True when the broken-down local time matches every field (seconds included).
    bool matches(const std::tm& local) const;

private:
    CronSchedule() = default;
    bool day_matches(int year, int month, int day) const;
    // The first wall-clock time at or after `from` that matches (fields only, no time zone).
    std::optional<std::tm> next_wall(std::tm from) const;
    // The instant of a wall-clock time after `after`: of an ambiguous time the earlier
    // occurrence still to come, of a skipped time the first instant after the gap.
    std::optional<std::time_t> instant(const std::tm& wall, std::time_t after) const;
    std::optional<std::time_t> next_from(std::tm from, std::time_t after) const;

    std::bitset<60> seconds_;
    std::bitset<60> minutes_;
    std::bitset<24> hours_;
    std::bitset<32> days_;     // 1..31
    std::bitset<13> months_;   // 1..12
    std::bitset<7> weekdays_;  // 0 = Sunday
    bool last_day_ = false;    // "L"
    bool days_star_ = false;   // the field began with '*' or '?': cron(8)'s test for "unrestricted"
    bool weekdays_star_ = false;
    bool hours_star_ = false;
};

}  // namespace ne::config
