#include "config/cron_schedule.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <vector>

namespace ne::config {
namespace {

struct FieldSpec {
    const char* name;
    int lo;
    int hi;
    const char* const* names;  // names[i] stands for lo + i; nullptr: numbers only
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec", nullptr};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

constexpr FieldSpec kFields[] = {
    {"second", 0, 59, nullptr},    {"minute", 0, 59, nullptr},
    {"hour", 0, 23, nullptr},      {"day of month", 1, 31, nullptr},
    {"month", 1, 12, kMonthNames}, {"day of week", 0, 7, kDayNames},
};

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (;;) {
        size_t end = text.find(sep, start);
        out.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        if (end == std::string_view::npos) return out;
        start = end + 1;
    }
}

std::vector<std::string_view> fields_of(std::string_view text) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        size_t start = i;
        while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i > start) out.push_back(text.substr(start, i - start));
    }
    return out;
}

// A number or, where the field has them, a name ("mon", "JAN").
Result<int> value_of(std::string_view text, const FieldSpec& f) {
    int n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && end == text.data() + text.size()) {
        if (n < f.lo || n > f.hi)
            return Error{std::string(f.name) + " " + std::string(text) + " is out of range " + std::to_string(f.lo) +
                         "-" + std::to_string(f.hi)};
        return n;
    }
    if (f.names && text.size() == 3) {
        std::string lower(text);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (int i = 0; f.names[i]; ++i)
            if (lower == f.names[i]) return f.lo + i;
    }
    return Error{"'" + std::string(text) + "' is not a " + f.name + (f.names ? " (a number or a name)" : "")};
}

// One field into the set of values it allows (`bits`, indexed by value).
template <size_t N>
Status parse_field(std::string_view text, const FieldSpec& f, std::bitset<N>& bits) {
    for (std::string_view item : split(text, ',')) {
        if (item.empty()) return Error{std::string(f.name) + " field '" + std::string(text) + "' has an empty list item"};
        std::string_view range = item;
        int step = 1;
        if (auto slash = item.find('/'); slash != std::string_view::npos) {
            range = item.substr(0, slash);
            std::string_view s = item.substr(slash + 1);
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
            if (ec != std::errc() || end != s.data() + s.size() || step < 1)
                return Error{std::string(f.name) + " step '" + std::string(s) + "' is not a whole number >= 1"};
        }
        int lo = f.lo, hi = f.hi;
        if (range != "*" && range != "?") {
            auto dash = range.find('-');
            auto first = value_of(range.substr(0, dash), f);
            if (!first) return first.error();
            lo = *first;
            if (dash != std::string_view::npos) {
                auto last = value_of(range.substr(dash + 1), f);
                if (!last) return last.error();
                hi = *last;
                if (lo > hi)
                    return Error{std::string(f.name) + " range '" + std::string(range) + "' runs backwards"};
            } else if (item.find('/') == std::string_view::npos) {
                hi = lo;  // a single value; "N/S" runs from N to the end, as croner reads it
            }
        }
        for (int v = lo; v <= hi; v += step) bits.set(static_cast<size_t>(v));
    }
    return {};
}

bool starts_unrestricted(std::string_view field) { return field.starts_with('*') || field.starts_with('?'); }

int days_in(int year, int month) {
    using namespace std::chrono;
    return static_cast<int>(unsigned(year_month_day_last(std::chrono::year(year), month_day_last(std::chrono::month(
                                                                                             static_cast<unsigned>(month))))
                                         .day()));
}

int weekday_of(int year, int month, int day) {
    using namespace std::chrono;
    return static_cast<int>(
        weekday(sys_days(year_month_day(std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day)))))
            .c_encoding());
}

std::tm local(std::time_t t) {
    std::tm tm{};
    localtime_r(&t, &tm);
    return tm;
}

bool same_wall(const std::tm& a, const std::tm& b) {
    return a.tm_year == b.tm_year && a.tm_mon == b.tm_mon && a.tm_mday == b.tm_mday && a.tm_hour == b.tm_hour &&
           a.tm_min == b.tm_min && a.tm_sec == b.tm_sec;
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(std::string_view text) {
    std::vector<std::string_view> parts = fields_of(text);
    if (parts.size() != 5 && parts.size() != 6)
        return Error{"'" + std::string(text) + "' has " + std::to_string(parts.size()) +
                     " fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)"};
    if (parts.size() == 5) parts.insert(parts.begin(), "0");
    CronSchedule c;
    std::string_view day = parts[3];
    if (day == "L" || day == "l") {
        c.last_day_ = true;
        day = "28-31";
    }
    Status s;
    if (s = parse_field(parts[0], kFields[0], c.seconds_); !s) return s.error();
    if (s = parse_field(parts[1], kFields[1], c.minutes_); !s) return s.error();
    if (s = parse_field(parts[2], kFields[2], c.hours_); !s) return s.error();
    if (s = parse_field(day, kFields[3], c.days_); !s) return s.error();
    if (s = parse_field(parts[4], kFields[4], c.months_); !s) return s.error();
    std::bitset<8> weekdays;
    if (s = parse_field(parts[5], kFields[5], weekdays); !s) return s.error();
    for (size_t d = 0; d < 7; ++d) c.weekdays_[d] = weekdays[d];
    if (weekdays[7]) c.weekdays_.set(0);  // 7 is Sunday too
    c.days_star_ = starts_unrestricted(parts[3]);
    c.weekdays_star_ = starts_unrestricted(parts[5]);
    c.hours_star_ = starts_unrestricted(parts[2]);
    return c;
}

bool CronSchedule::day_matches(int year, int month, int day) const {
    if (!months_[static_cast<size_t>(month)]) return false;
    const bool dom = last_day_ ? day == days_in(year, month) : days_[static_cast<size_t>(day)];
    const bool dow = weekdays_[static_cast<size_t>(weekday_of(year, month, day))];
    // cron(8): when both day fields are restricted, either one is enough.
    if (!days_star_ && !weekdays_star_) return dom || dow;
    return dom && dow;
}

bool CronSchedule::matches(const std::tm& t) const {
    return seconds_[static_cast<size_t>(t.tm_sec % 60)] && minutes_[static_cast<size_t>(t.tm_min)] &&
           hours_[static_cast<size_t>(t.tm_hour)] && day_matches(t.tm_year + 1900, t.tm_mon + 1, t.tm_mday);
}

std::optional<std::tm> CronSchedule::next_wall(std::tm from) const {
    const int y0 = from.tm_year + 1900, mo0 = from.tm_mon + 1, d0 = from.tm_mday;
    const int h0 = from.tm_hour, mi0 = from.tm_min, s0 = std::min(from.tm_sec, 59);
    // Each loop starts at `from`'s value while every outer field still equals from's, else at
    // its first value; nine years cover February 29 across a skipped leap year (2100).
    for (int y = y0; y <= y0 + 9; ++y) {
        bool same_y = y == y0;
        for (int mo = same_y ? mo0 : 1; mo <= 12; ++mo) {
            bool same_mo = same_y && mo == mo0;
            if (!months_[static_cast<size_t>(mo)]) continue;
            for (int d = same_mo ? d0 : 1; d <= days_in(y, mo); ++d) {
                bool same_d = same_mo && d == d0;
                if (!day_matches(y, mo, d)) continue;
                for (int h = same_d ? h0 : 0; h < 24; ++h) {
                    bool same_h = same_d && h == h0;
                    if (!hours_[static_cast<size_t>(h)]) continue;
                    for (int mi = same_h ? mi0 : 0; mi < 60; ++mi) {
                        bool same_mi = same_h && mi == mi0;
                        if (!minutes_[static_cast<size_t>(mi)]) continue;
                        for (int s = same_mi ? s0 : 0; s < 60; ++s) {
                            if (!seconds_[static_cast<size_t>(s)]) continue;
                            std::tm w{};
                            w.tm_year = y - 1900;
                            w.tm_mon = mo - 1;
                            w.tm_mday = d;
                            w.tm_hour = h;
                            w.tm_min = mi;
                            w.tm_sec = s;
                            return w;
                        }
                    }
                }
            }
        }
    }
    return std::nullopt;
}

std::optional<std::time_t> CronSchedule::instant(const std::tm& wall, std::time_t after) const {
    std::optional<std::time_t> best;
    bool exists = false;
    // A wall time held by both offsets (clocks went back) maps to two instants; exactly one
    // of them round-trips for an ordinary time; none for one the clocks skipped.
    for (int dst : {0, 1}) {
        std::tm x = wall;
        x.tm_isdst = dst;
        std::time_t t = std::mktime(&x);
        if (t == -1 || !same_wall(local(t), wall)) continue;
        exists = true;
        if (t <= after) continue;
        if (!best || t < *best) best = t;
    }
    if (best || exists) return best;
    // A skipped time (clocks went forward): of its two readings, the one with the offset from
    // before the gap lands after it, the first instant at which that wall time has passed.
    std::optional<std::time_t> later;
    for (int dst : {0, 1}) {
        std::tm x = wall;
        x.tm_isdst = dst;
        std::time_t t = std::mktime(&x);
        if (t != -1 && t > after && (!later || t > *later)) later = t;
    }
    return later;
}

std::optional<std::time_t> CronSchedule::next_from(std::tm from, std::time_t after) const {
    // A few wall times may not map past `after` (the first pass of a repeated hour); try on.
    for (int tries = 0; tries < 4000; ++tries) {
        auto wall = next_wall(from);
        if (!wall) return std::nullopt;
        if (auto t = instant(*wall, after)) return t;
        from = *wall;
        from.tm_sec += 1;
        from.tm_isdst = -1;
        std::tm norm = from;
        (void)timegm(&norm);  // normalise the fields (no zone involved)
        from = norm;
    }
    return std::nullopt;
}

std::optional<std::time_t> CronSchedule::next_after(std::time_t after) const {
    auto t = next_from(local(after + 1), after);
    if (!t || !hours_star_) return t;
    // When the offset changes before that instant, the wall clock jumped: after clocks go back
    // an hour repeats, and a schedule with a wildcard hour fires in it too (cron(8)).
    const long before = local(after + 1).tm_gmtoff;
    if (local(*t).tm_gmtoff == before) return t;
    std::time_t lo = after + 1, hi = *t;  // the first instant with the new offset
    while (hi - lo > 1) {
        std::time_t mid = lo + (hi - lo) / 2;
        (local(mid).tm_gmtoff == before ? lo : hi) = mid;
    }
    auto again = next_from(local(hi), after);
    return again && *again < *t ? again : t;
}

}  // namespace ne::config
