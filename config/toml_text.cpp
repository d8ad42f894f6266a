#include "config/toml_text.h"

#include <cstdio>

namespace ne::config::toml_text {

std::string quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

std::string key(std::string_view name) {
    const bool bare = !name.empty() && name.find_first_not_of(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == std::string_view::npos;
    return bare ? std::string(name) : quote(name);
}

std::string array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quote(items[i]);
    return out + "]";
}

std::string inline_table(const std::vector<std::pair<std::string, std::string>>& entries) {
    if (entries.empty()) return "{}";
    std::string out = "{ ";
    for (size_t i = 0; i < entries.size(); ++i)
        out += (i ? ", " : "") + key(entries[i].first) + " = " + entries[i].second;
    return out + " }";
}

std::string duration(Duration d) {
    const long long ms = d.count();
    static constexpr std::pair<long long, const char*> kUnits[] = {
        {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    for (const auto& [per, unit] : kUnits)
        if (ms != 0 && ms % per == 0) return quote(std::to_string(ms / per) + unit);
    return quote(std::to_string(ms) + "ms");
}

std::string size(uint64_t bytes) {
    static constexpr std::pair<uint64_t, const char*> kUnits[] = {{1ull << 30, "G"}, {1ull << 20, "M"}, {1ull << 10, "K"}};
    for (const auto& [per, unit] : kUnits)
        if (bytes != 0 && bytes % per == 0) return quote(std::to_string(bytes / per) + unit);
    return quote(std::to_string(bytes));
}

Entry& Table::set(const std::string& name, std::string value, std::string comment) {
    Entry* e = nullptr;
    for (Entry& existing : entries)
        if (existing.key == name) e = &existing;
    if (!e) e = &entries.emplace_back(Entry{name, {}, {}});
    e->value = std::move(value);
    if (!comment.empty()) e->comments.push_back(std::move(comment));
    return *e;
}

const Entry* Table::find(const std::string& name) const {
    for (const Entry& e : entries)
        if (e.key == name) return &e;
    return nullptr;
}

namespace {

void comment_lines(std::string& out, const std::vector<std::string>& lines) {
    for (const std::string& line : lines) {
        std::string text = line;
        for (char& c : text)
            if (c == '\n' || c == '\r') c = ' ';
        out += "# " + text + "\n";
    }
}

}  // namespace

std::string render(const std::vector<Table>& tables) {
    std::string out;
    for (const Table& t : tables) {
        if (!out.empty()) out += "\n";
        comment_lines(out, t.comments);
        if (!t.header.empty()) out += t.header + "\n";
        for (const Entry& e : t.entries) {
            comment_lines(out, e.comments);
            out += key(e.key) + " = " + e.value + "\n";
        }
        comment_lines(out, t.trailing);
    }
    return out;
}

}  // namespace ne::config::toml_text
