#include "config/units.h"

#include <charconv>
#include <limits>
#include <optional>

namespace ne::config {
namespace {

// Consumes the leading decimal digits of `s`; nullopt when there are none or they overflow.
std::optional<uint64_t> take_number(std::string_view& s) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc()) return std::nullopt;
    s.remove_prefix(static_cast<size_t>(end - s.data()));
    return n;
}

// n * factor, or nullopt when it does not fit in `limit`.
std::optional<uint64_t> scaled(uint64_t n, uint64_t factor, uint64_t limit) {
    if (factor != 0 && n > limit / factor) return std::nullopt;
    return n * factor;
}

Error bad(std::string_view text, std::string_view what, std::string_view hint) {
    return Error{"\"" + std::string(text) + "\" is not " + std::string(what) + ": " +
                 std::string(hint)};
}

// Longest unit first, so "ms" is not read as "m" followed by garbage.
struct DurationUnit { std::string_view suffix; uint64_t ms; };
constexpr DurationUnit kDurationUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000},
};

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
    const auto fail = [&] {
        return bad(text, "a duration",
                   "use a number with a unit ms, s, m, h or d (e.g. \"250ms\", \"5s\", \"1h30m\")");
    };
    // nginx-style compound values ("1h30m") are a sum of groups.
    constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<Duration::rep>::max());
    std::string_view rest = text;
    uint64_t total = 0;
    if (rest.empty()) return fail();
    while (!rest.empty()) {
        auto n = take_number(rest);
        if (!n) return fail();
        const DurationUnit* unit = nullptr;
        for (const auto& u : kDurationUnits) {
            if (rest.starts_with(u.suffix)) {
                unit = &u;
                break;
            }
        }
        // A bare number is refused: "5" could mean seconds (nginx) or milliseconds (PM2).
        if (!unit) return fail();
        rest.remove_prefix(unit->suffix.size());
        auto ms = scaled(*n, unit->ms, kMax - total);
        if (!ms) return fail();
        total += *ms;
    }
    return Duration{static_cast<Duration::rep>(total)};
}

Result<uint64_t> parse_size(std::string_view text) {
    const auto fail = [&] {
        return bad(
            text, "a size",
            "use bytes or a number with a unit K, M or G (binary: \"512K\", \"50M\", \"1G\")");
    };
    std::string_view rest = text;
    auto n = take_number(rest);
    if (!n) return fail();
    uint64_t factor = 1;
    if (!rest.empty()) {
        switch (rest.front()) {
            case 'k': case 'K': factor = 1ull << 10; rest.remove_prefix(1); break;
            case 'm': case 'M': factor = 1ull << 20; rest.remove_prefix(1); break;
            case 'g': case 'G': factor = 1ull << 30; rest.remove_prefix(1); break;
            default: break;
        }
    }
    if (rest == "B" || rest == "b") rest.remove_prefix(1);
    if (!rest.empty()) return fail();
    auto bytes = scaled(*n, factor, std::numeric_limits<uint64_t>::max());
    if (!bytes) return fail();
    return *bytes;
}

Result<double> parse_rate(std::string_view text) {
    const auto fail = [&] {
        return bad(text, "a rate", "use requests per second or minute (e.g. \"30r/s\", \"5r/m\")");
    };
    std::string_view rest = text;
    auto n = take_number(rest);
    if (!n || *n == 0) return fail();
    if (rest == "r/s") return static_cast<double>(*n);
    if (rest == "r/m") return static_cast<double>(*n) / 60.0;
    return fail();
}

}  // namespace ne::config
