// A PCRE2 regular expression as nginx's `location ~` uses it: compiled once (when the config
// loads, to report a bad pattern at its line; and once per proxy snapshot, JIT-compiled when
// the platform has it), then matched against request paths with a match block that the caller
// owns and reuses, so that a match allocates nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipc/result.h"

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;

namespace ne::config {

// The groups of the last successful match: $0 (the whole match) to $N, as views into the
// subject that was matched. Empty (no groups) when nothing matched or the location is no regex.
class Captures {
public:
    Captures() = default;
    // Group `n` ("" when it did not take part, or there is no such group).
    std::string_view group(size_t n) const;
    size_t count() const { return count_; }
    // Set from a PCRE2 match: `ovector` holds `count` pairs of offsets into `subject`.
    void set(std::string_view subject, const size_t* ovector, size_t count);
    void clear() { count_ = 0; }

private:
    std::string_view subject_;
    const size_t* ovector_ = nullptr;
    size_t count_ = 0;
};

// A match block for up to kMaxGroups groups; one per proxy worker thread (thread_local in the
// router), so no request allocates one.
class MatchBlock {
public:
    static constexpr unsigned kMaxGroups = 32;
    MatchBlock();
    ~MatchBlock();
    MatchBlock(const MatchBlock&) = delete;
    MatchBlock& operator=(const MatchBlock&) = delete;
    pcre2_real_match_data_8* get() const { return data_; }

private:
    pcre2_real_match_data_8* data_;
};

class Regex {
public:
    // The error says what PCRE2 says and where: "missing closing parenthesis at offset 7".
    static Result<Regex> compile(std::string_view pattern, bool caseless, bool jit);

    // Whether `subject` matches; on a match `out` views the groups (in `block` and `subject`,
    // both of which must outlive it).
    bool match(std::string_view subject, MatchBlock& block, Captures& out) const;

    // Named groups: (?<year>\d+) -> {"year", 1}.
    const std::vector<std::pair<std::string, int>>& names() const { return names_; }
    int groups() const { return groups_; }

private:
    struct CodeFree { void operator()(pcre2_real_code_8* c) const; };
    std::shared_ptr<pcre2_real_code_8> code_;  // shared: a Regex is copied into the route table
    std::vector<std::pair<std::string, int>> names_;
    int groups_ = 0;
};

}  // namespace ne::config
