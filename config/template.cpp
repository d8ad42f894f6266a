#include "config/template.h"

#include <array>
#include <charconv>
#include <utility>

namespace ne::config {

namespace {

constexpr std::array<std::pair<std::string_view, Var>, 10> kVars{{
    {"scheme", Var::scheme},
    {"host", Var::host},
    {"request_uri", Var::request_uri},
    {"uri", Var::uri},
    {"args", Var::args},
    {"query_string", Var::args},
    {"is_args", Var::is_args},
    {"remote_addr", Var::remote_addr},
    {"request_id", Var::request_id},
    {"server_port", Var::server_port},
}};

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool name_start(char c) { return name_char(c) && !(c >= '0' && c <= '9'); }

std::string known_vars() {
    std::string s;
    for (const auto& [name, var] : kVars) s += (s.empty() ? "$" : ", $") + std::string(name);
    return s;
}

void add_literal(Template& t, std::string_view text) {
    if (text.empty()) return;
    if (t.pieces.empty() || t.pieces.back().var) t.pieces.push_back({});
    t.pieces.back().literal.append(text);
}

}  // namespace

bool Template::has_vars() const {
    for (const auto& p : pieces)
        if (p.var) return true;
    return false;
}

Result<Template> parse_template(std::string_view text, const CaptureNames& captures) {
    Template t;
    size_t i = 0;
    while (i < text.size()) {
        const size_t dollar = text.find('$', i);
        if (dollar == std::string_view::npos) {
            add_literal(t, text.substr(i));
            break;
        }
        add_literal(t, text.substr(i, dollar - i));
        const bool braced = dollar + 1 < text.size() && text[dollar + 1] == '{';
        const size_t start = dollar + 1 + (braced ? 1 : 0);
        if (!braced && start < text.size() && text[start] >= '1' && text[start] <= '9') {
            t.pieces.push_back({{}, Var::capture, text[start] - '0'});  // nginx: one digit, $1..$9
            i = start + 1;
            continue;
        }
        if (start >= text.size() || !name_start(text[start])) {
            if (braced) return Error{"'${' must be followed by a variable name and '}'"};
            add_literal(t, "$");
            i = dollar + 1;
            continue;
        }
        size_t end = start;
        while (end < text.size() && name_char(text[end])) ++end;
        const std::string_view name = text.substr(start, end - start);
        if (braced) {
            if (end >= text.size() || text[end] != '}') return Error{"'${" + std::string(name) + "' has no closing '}'"};
            ++end;
        }
        bool found = false;
        for (const auto& [known, var] : kVars) {
            if (known != name) continue;
            t.pieces.push_back({{}, var});
            found = true;
            break;
        }
        for (const auto& [capture, group] : captures) {
            if (found || capture != name) continue;
            t.pieces.push_back({{}, Var::capture, group});
            found = true;
        }
        if (!found)
            return Error{"unknown variable $" + std::string(name) + " (known: " + known_vars() +
                         ", $1..$9 and the location regex's named groups)"};
        i = end;
    }
    return t;
}

bool is_redirect(int code) { return code == 301 || code == 302 || code == 303 || code == 307 || code == 308; }

bool ReturnSpec::redirect() const { return is_redirect(code); }

Result<ReturnSpec> parse_return(std::string_view written, const CaptureNames& captures) {
    ReturnSpec spec;
    std::string_view rest;
    if (written.starts_with("http://") || written.starts_with("https://") || written.starts_with("$scheme")) {
        spec.code = 302;  // nginx: a bare URL is a temporary redirect
        rest = written;
    } else {
        auto [end, ec] = std::from_chars(written.data(), written.data() + written.size(), spec.code);
        rest = written.substr(static_cast<size_t>(end - written.data()));
        if (ec != std::errc() || end != written.data() + 3 || spec.code < 200 || spec.code > 599 ||
            (!rest.empty() && rest.front() != ' '))
            return Error{"'" + std::string(written) +
                         "' is not \"CODE [text or URL]\" with a code from 200 to 599 (e.g. \"404\", "
                         "\"301 https://$host$request_uri\")"};
        while (rest.starts_with(' ')) rest.remove_prefix(1);
    }
    if (spec.redirect() && rest.empty())
        return Error{"a " + std::to_string(spec.code) + " redirect needs a URL, e.g. \"" + std::to_string(spec.code) +
                     " https://$host$request_uri\""};
    if ((spec.code == 204 || spec.code == 304) && !rest.empty())
        return Error{"a " + std::to_string(spec.code) + " response has no body: write just \"" +
                     std::to_string(spec.code) + "\""};
    if (spec.redirect())
        for (char c : rest)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                return Error{"the redirect URL contains a control character"};
    auto text = parse_template(rest, captures);
    if (!text) return text.error();
    spec.text = std::move(*text);
    return spec;
}

}  // namespace ne::config
