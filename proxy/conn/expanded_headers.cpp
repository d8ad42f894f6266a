#include "proxy/conn/expanded_headers.h"

namespace ne::proxy {

std::span<const Header> ExpandedHeaders::expand(const std::vector<ProxyHeader>& wanted, const RequestVars& vars) {
    text_.clear();
    ends_.clear();
    for (const auto& h : wanted) {
        proxy::expand(h.value, vars, text_);  // the template, not this member
        ends_.push_back(text_.size());
    }
    // Views once the text has stopped growing.
    views_.clear();
    const std::string_view text = text_;
    for (size_t i = 0, at = 0; i < wanted.size(); at = ends_[i++])
        views_.push_back({wanted[i].name, text.substr(at, ends_[i] - at)});
    return views_;
}

}  // namespace ne::proxy
