#include "proxy/http/date.h"

#include <array>
#include <cstdio>

namespace ne::proxy {

namespace {

constexpr std::array<std::string_view, 7> kDays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

std::string http_date(std::time_t t) {
    struct tm tm;
    ::gmtime_r(&t, &tm);
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday].data(),
                                tm.tm_mday, kMonths[tm.tm_mon].data(), tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                                tm.tm_sec);
    return std::string(buf, static_cast<size_t>(n));
}

namespace {

// Reads the fixed-width pieces of an HTTP-date.
class DateReader {
public:
    explicit DateReader(std::string_view s) : s_(s) {}

    bool done() const { return i_ == s_.size(); }
    bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
    bool lit(std::string_view t) {
        if (s_.substr(i_, t.size()) != t) return false;
        i_ += t.size();
        return true;
    }
    // A day name, long or short; its value is not checked (RFC 9110 lets us ignore it).
    bool word() {
        const size_t start = i_;
        while (i_ < s_.size() && ((s_[i_] >= 'A' && s_[i_] <= 'Z') || (s_[i_] >= 'a' && s_[i_] <= 'z'))) ++i_;
        return i_ > start;
    }
    std::optional<int> num(size_t width) {
        if (i_ + width > s_.size()) return std::nullopt;
        int v = 0;
        for (size_t k = 0; k < width; ++k) {
            const char c = s_[i_ + k];
            if (c < '0' || c > '9') return std::nullopt;
            v = v * 10 + (c - '0');
        }
        i_ += width;
        return v;
    }
    std::optional<int> month() {
        for (size_t m = 0; m < kMonths.size(); ++m)
            if (lit(kMonths[m])) return static_cast<int>(m);
        return std::nullopt;
    }
    // "08:49:37"
    bool time(struct tm& tm) {
        const auto h = num(2);
        if (!h || !lit(":")) return false;
        const auto m = num(2);
        if (!m || !lit(":")) return false;
        const auto s = num(2);
        if (!s) return false;
        tm.tm_hour = *h;
        tm.tm_min = *m;
        tm.tm_sec = *s;
        return true;
    }

private:
    std::string_view s_;
    size_t i_ = 0;
};

}  // namespace

std::optional<std::time_t> parse_http_date(std::string_view s) {
    DateReader r(s);
    struct tm tm {};
    std::optional<int> day, month, year;
    if (!r.word()) return std::nullopt;
    if (r.lit(", ")) {
        day = r.num(2);
        if (r.lit(" ")) {                      // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
            month = r.month();
            if (!r.lit(" ")) return std::nullopt;
            year = r.num(4);
        } else if (r.lit("-")) {               // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
            month = r.month();
            if (!r.lit("-")) return std::nullopt;
            year = r.num(2);
            if (year) *year += *year < 70 ? 2000 : 1900;
        }
        if (!r.lit(" ") || !r.time(tm) || !r.lit(" GMT")) return std::nullopt;
    } else {                                   // asctime: "Sun Nov  6 08:49:37 1994"
        if (!r.lit(" ")) return std::nullopt;
        month = r.month();
        if (!r.lit(" ")) return std::nullopt;
        day = r.peek(' ') && r.lit(" ") ? r.num(1) : r.num(2);
        if (!r.lit(" ") || !r.time(tm) || !r.lit(" ")) return std::nullopt;
        year = r.num(4);
    }
    if (!r.done() || !day || !month || !year) return std::nullopt;
    if (*day < 1 || *day > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) return std::nullopt;
    tm.tm_mday = *day;
    tm.tm_mon = *month;
    tm.tm_year = *year - 1900;
    return ::timegm(&tm);
}

}  // namespace ne::proxy
