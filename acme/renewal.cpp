#include "acme/renewal.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>

namespace ne::acme {

int64_t renew_at_by_lifetime(int64_t not_before, int64_t not_after, int64_t renew_before_s) {
    const int64_t ahead = renew_before_s > 0 ? renew_before_s : (not_after - not_before) / 3;
    return not_after - ahead;
}

std::optional<int64_t> parse_rfc3339(std::string_view text) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, consumed = 0;
    const std::string t(text);
    if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) != 6)
        return std::nullopt;
    size_t i = static_cast<size_t>(consumed);
    if (i < t.size() && t[i] == '.')
        while (++i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {}
    int64_t offset = 0;
    if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
        ++i;
    } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
        int oh = 0, om = 0;
        if (std::sscanf(t.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return std::nullopt;
        offset = (t[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        i += 6;
    } else {
        return std::nullopt;
    }
    if (i != t.size()) return std::nullopt;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return static_cast<int64_t>(timegm(&tm)) - offset;
}

std::optional<RenewalWindow> parse_renewal_info(const std::string& body) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("suggestedWindow") || !j["suggestedWindow"].is_object()) return std::nullopt;
    const auto& w = j["suggestedWindow"];
    if (!w.contains("start") || !w.contains("end") || !w["start"].is_string() || !w["end"].is_string())
        return std::nullopt;
    auto start = parse_rfc3339(w["start"].get<std::string>());
    auto end = parse_rfc3339(w["end"].get<std::string>());
    if (!start || !end || *end < *start) return std::nullopt;
    return RenewalWindow{*start, *end};
}

int64_t pick_in_window(const RenewalWindow& w, double fraction) {
    return w.start + static_cast<int64_t>(static_cast<double>(w.end - w.start) * fraction);
}

}  // namespace ne::acme
