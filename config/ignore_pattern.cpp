#include "config/ignore_pattern.h"

namespace ne::config {
namespace {

bool has_glob_chars(std::string_view p) { return p.find_first_of("*?[{") != std::string_view::npos; }

// "{a,b}c" -> "ac", "bc" (nested braces too); an unclosed brace stays literal.
std::vector<std::string> expand_braces(const std::string& p) {
    size_t open = std::string::npos;
    int depth = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '\\') {
            ++i;
            continue;
        }
        if (p[i] == '{' && depth++ == 0) open = i;
        if (p[i] == '}' && depth > 0 && --depth == 0) {
            std::vector<std::string> out;
            std::string_view inner(p.data() + open + 1, i - open - 1);
            size_t start = 0;
            int d = 0;
            for (size_t j = 0; j <= inner.size(); ++j) {
                if (j < inner.size() && inner[j] == '{') ++d;
                if (j < inner.size() && inner[j] == '}') --d;
                if (j == inner.size() || (inner[j] == ',' && d == 0)) {
                    std::string alt = p.substr(0, open) + std::string(inner.substr(start, j - start)) + p.substr(i + 1);
                    for (auto& e : expand_braces(alt)) out.push_back(std::move(e));
                    start = j + 1;
                }
            }
            return out;
        }
    }
    return {p};
}

// [abc], [a-z], [!x] / [^x]; `i` is at '['. Returns false when the class is not closed.
bool match_class(std::string_view p, size_t& i, char c, bool& matched) {
    size_t j = i + 1;
    bool negate = j < p.size() && (p[j] == '!' || p[j] == '^');
    if (negate) ++j;
    bool hit = false;
    bool first = true;
    for (; j < p.size() && (first || p[j] != ']'); ++j, first = false) {
        char lo = p[j];
        if (lo == '\\' && j + 1 < p.size()) lo = p[++j];
        if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
            char hi = p[j + 2];
            j += 2;
            if (c >= lo && c <= hi) hit = true;
        } else if (c == lo) {
            hit = true;
        }
    }
    if (j >= p.size()) return false;
    i = j + 1;
    matched = hit != negate && c != '/';
    return true;
}

bool match_at(std::string_view p, size_t pi, std::string_view s, size_t si) {
    while (pi < p.size()) {
        const char c = p[pi];
        const bool segment_start = pi == 0 || p[pi - 1] == '/';
        if (c == '*' && pi + 1 < p.size() && p[pi + 1] == '*' && segment_start &&
            (pi + 2 == p.size() || p[pi + 2] == '/')) {
            if (pi + 2 == p.size()) return true;  // "a/**": everything below
            // "a/**/b": b at this segment or any deeper one
            for (size_t k = si;; ++k) {
                if ((k == si || s[k - 1] == '/') && match_at(p, pi + 3, s, k)) return true;
                if (k >= s.size()) return false;
            }
        }
        if (c == '*') {
            for (size_t k = si;; ++k) {
                if (match_at(p, pi + 1, s, k)) return true;
                if (k >= s.size() || s[k] == '/') return false;
            }
        }
        if (si >= s.size()) return false;
        if (c == '?') {
            if (s[si] == '/') return false;
        } else if (c == '[') {
            bool matched = false;
            size_t next = pi;
            if (match_class(p, next, s[si], matched)) {
                if (!matched) return false;
                pi = next;
                ++si;
                continue;
            }
            if (s[si] != '[') return false;  // unclosed: a literal '['
        } else if (c == '\\' && pi + 1 < p.size()) {
            if (s[si] != p[++pi]) return false;
        } else if (s[si] != c) {
            return false;
        }
        ++pi;
        ++si;
    }
    return si == s.size();
}

}  // namespace

std::optional<IgnoreRegex> ignore_regex(const std::string& pattern) {
    if (pattern.starts_with("~* ")) return IgnoreRegex{pattern.substr(3), true};
    if (pattern.starts_with("~ ")) return IgnoreRegex{pattern.substr(2), false};
    return std::nullopt;
}

std::optional<std::string> regex_problem(const IgnoreRegex& r) {
    try {
        std::regex(r.source, r.icase ? std::regex::ECMAScript | std::regex::icase : std::regex::ECMAScript);
        return std::nullopt;
    } catch (const std::regex_error& e) {
        return std::string(e.what());
    }
}

bool glob_match(std::string_view pattern, std::string_view path) {
    for (const std::string& p : expand_braces(std::string(pattern)))
        if (match_at(p, 0, path, 0)) return true;
    return false;
}

IgnoreRules::IgnoreRules(const std::vector<std::string>& patterns) {
    defaults_ = patterns.empty();
    for (const std::string& p : patterns) {
        if (auto r = ignore_regex(p)) {
            if (regex_problem(*r)) continue;  // refused by the loader; never reaches here from a file
            regexes_.emplace_back(r->source, r->icase ? std::regex::ECMAScript | std::regex::icase
                                                      : std::regex::ECMAScript);
        } else {
            globs_.push_back(p);
            // chokidar: a plain path also ignores what lies under it
            if (!has_glob_chars(p)) globs_.push_back(p + "/**");
        }
    }
}

bool IgnoreRules::ignored(const std::string& path, const std::string& root) const {
    if (defaults_) {
        // PM2's /[\/\\]\.|node_modules/, applied below the watched folder.
        std::string_view below(path);
        if (below.starts_with(root)) below.remove_prefix(root.size());
        return below.find("/.") != std::string_view::npos || below.find("node_modules") != std::string_view::npos;
    }
    for (const auto& g : globs_)
        if (glob_match(g, path)) return true;
    for (const auto& r : regexes_)
        if (std::regex_search(path, r)) return true;
    return false;
}

}  // namespace ne::config
