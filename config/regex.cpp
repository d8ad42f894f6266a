#define PCRE2_CODE_UNIT_WIDTH 8
#include "config/regex.h"

#include <pcre2.h>

#include <new>

namespace ne::config {

std::string_view Captures::group(size_t n) const {
    if (n >= count_) return {};
    const size_t start = ovector_[2 * n];
    const size_t end = ovector_[2 * n + 1];
    if (start == PCRE2_UNSET || end < start) return {};
    return subject_.substr(start, end - start);
}

void Captures::set(std::string_view subject, const size_t* ovector, size_t count) {
    subject_ = subject;
    ovector_ = ovector;
    count_ = count;
}

MatchBlock::MatchBlock() : data_(pcre2_match_data_create(kMaxGroups, nullptr)) {
    if (!data_) throw std::bad_alloc();
}

MatchBlock::~MatchBlock() { pcre2_match_data_free(data_); }

void Regex::CodeFree::operator()(pcre2_real_code_8* c) const { pcre2_code_free(c); }

Result<Regex> Regex::compile(std::string_view pattern, bool caseless, bool jit) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    // Bytes, not UTF-8, as nginx compiles them: a path may hold any byte once decoded.
    const uint32_t options = caseless ? PCRE2_CASELESS : 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &err,
                                     &offset, nullptr);
    if (!code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(err, message, sizeof message);
        return Error{std::string(reinterpret_cast<const char*>(message)) + " at offset " + std::to_string(offset) +
                     " of '" + std::string(pattern) + "'"};
    }
    Regex re;
    re.code_.reset(code, CodeFree{});
    // Without JIT (a platform without it, or a policy that forbids executable memory) the
    // interpreter matches the same.
    if (jit) pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    uint32_t captures = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures);
    re.groups_ = static_cast<int>(captures);
    uint32_t count = 0;
    uint32_t entry_size = 0;
    PCRE2_SPTR table = nullptr;
    pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table);
    for (uint32_t i = 0; i < count; ++i) {
        const PCRE2_SPTR entry = table + i * entry_size;
        const int group = (entry[0] << 8) | entry[1];
        re.names_.emplace_back(reinterpret_cast<const char*>(entry + 2), group);
    }
    return re;
}

bool Regex::match(std::string_view subject, MatchBlock& block, Captures& out) const {
    const int rc = pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0,
                               block.get(), nullptr);
    if (rc < 0) return false;  // no match, or a match error (treated as no match, as nginx does)
    // rc == 0: more groups than the block holds; those beyond it read as unset.
    const size_t pairs = rc == 0 ? MatchBlock::kMaxGroups : static_cast<size_t>(rc);
    out.set(subject, pcre2_get_ovector_pointer(block.get()), pairs);
    return true;
}

}  // namespace ne::config
