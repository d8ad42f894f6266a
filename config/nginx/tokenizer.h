// nginx's configuration grammar, split into tokens the way nginx itself reads it
// (ngx_conf_read_token): words, ';', '{', '}', with "double" and 'single' quoted strings,
// backslash escapes, '#' comments and "$var" / "${var}" kept as text for the mapper.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ipc/result.h"

namespace ne::config::nginx {

struct Token {
    enum class Kind { word, semicolon, open, close };
    Kind kind = Kind::word;
    std::string text;     // a word with its quotes removed and escapes applied
    int line = 0;         // where the token starts (1-based)
    bool quoted = false;  // written in quotes: "" is an empty argument, not nothing

    bool operator==(const Token&) const = default;
};

// Errors name `file:line:` as nginx does ("unexpected end of file, expecting '\"'").
Result<std::vector<Token>> tokenize(std::string_view text, const std::string& file);

}  // namespace ne::config::nginx
