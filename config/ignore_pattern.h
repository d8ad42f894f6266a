// PM2's ignore_watch: which changed paths a watched app does not restart for. PM2 hands the
// list to chokidar, which reads each string as a glob (picomatch, dot files included) anchored
// at the app's folder, and a string without glob characters as that path and everything under
// it; a RegExp in a PM2 file is tested against the whole path. ecosystem.toml writes a RegExp
// as "~ REGEX" (or "~* REGEX", case-insensitive), the spelling its locations use; the
// loader makes relative globs absolute, so every pattern here is absolute or a regex. With no
// patterns PM2's default applies: dot files and folders and anything with node_modules in its
// path (matched below the watched folder, so an app living under a dot folder still counts).
// It lives in config/ because the loader refuses a bad regex at its line. Pure.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace ne::config {

struct IgnoreRegex {
    std::string source;
    bool icase = false;
};

// "~ REGEX" / "~* REGEX" -> the regex; nullopt for a glob.
std::optional<IgnoreRegex> ignore_regex(const std::string& pattern);
// Why the regex does not compile (ECMAScript grammar, as JavaScript's); nullopt when it does.
std::optional<std::string> regex_problem(const IgnoreRegex& r);

// picomatch's rules for one path: '*' and '?' stay within a path segment, "**" as a whole
// segment spans any number of them, [a-z] / [!a-z] classes, {a,b} alternatives, '\' escapes.
bool glob_match(std::string_view pattern, std::string_view path);

class IgnoreRules {
public:
    explicit IgnoreRules(const std::vector<std::string>& patterns);
    // `path` is absolute and lies under the watched folder `root`.
    bool ignored(const std::string& path, const std::string& root) const;

private:
    std::vector<std::string> globs_;
    std::vector<std::regex> regexes_;
    bool defaults_ = false;
};

}  // namespace ne::config
