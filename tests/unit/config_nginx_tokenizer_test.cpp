// nginx's grammar as nginx reads it: a table of inputs and the tokens (or the error) each gives.
#include <gtest/gtest.h>

#include "config/nginx/tokenizer.h"

namespace ne::config::nginx {
namespace {

using K = Token::Kind;

Token w(std::string text, int line = 1, bool quoted = false) { return Token{K::word, std::move(text), line, quoted}; }
Token semi(int line = 1) { return Token{K::semicolon, ";", line, false}; }
Token open(int line = 1) { return Token{K::open, "{", line, false}; }
Token close(int line = 1) { return Token{K::close, "}", line, false}; }

struct TokenCase {
    const char* name;
    std::string text;
    std::vector<Token> tokens;
};

TEST(NginxTokenizer, SplitsAsNginxDoes) {
    const TokenCase cases[] = {
        {"directive", "listen 80;", {w("listen"), w("80"), semi()}},
        {"block", "server {\n}\n", {w("server"), open(), close(2)}},
        {"semicolon glued", "a b;c;", {w("a"), w("b"), semi(), w("c"), semi()}},
        {"brace glued to a word", "location /x{}", {w("location"), w("/x"), open(), close()}},
        {"comment to end of line", "# all\nlisten 80; # port\n", {w("listen", 2), w("80", 2), semi(2)}},
        {"hash inside a word", "a#b;", {w("a#b"), semi()}},
        {"double quotes", "add_header X \"a; b {c}\";", {w("add_header"), w("X"), w("a; b {c}", 1, true), semi()}},
        {"single quotes", "set $x 'it \"is\"';", {w("set"), w("$x"), w("it \"is\"", 1, true), semi()}},
        {"empty string", "proxy_set_header Connection \"\";",
         {w("proxy_set_header"), w("Connection"), w("", 1, true), semi()}},
        {"escaped quote", R"(return 200 "say \"hi\"";)", {w("return"), w("200"), w("say \"hi\"", 1, true), semi()}},
        {"escaped backslash and tab", R"(a "x\\y\tz";)", {w("a"), w("x\\y\tz", 1, true), semi()}},
        {"regex keeps its backslashes", R"(location ~* \.(js|css)$ {})",
         {w("location"), w("~*"), w("\\.(js|css)$"), open(), close()}},
        {"escaped semicolon in a word", R"(a b\;c;)", {w("a"), w("b\\;c"), semi()}},
        {"variables", "return 301 https://$host$request_uri;", {w("return"), w("301"), w("https://$host$request_uri"), semi()}},
        {"braced variable", "return 200 ${scheme}x;", {w("return"), w("200"), w("${scheme}x"), semi()}},
        {"closing brace inside a word", "a b}c;", {w("a"), w("b}c"), semi()}},
        {"multi-line argument keeps its first line", "log_format x 'a'\n    'b';",
         {w("log_format"), w("x"), w("a", 1, true), w("b", 2, true), semi(2)}},
        {"quoted newline", "a \"x\ny\";\nb;", {w("a"), w("x\ny", 1, true), semi(2), w("b", 3), semi(3)}},
        {"tabs and CRLF", "a\tb;\r\nc;", {w("a"), w("b"), semi(), w("c", 2), semi(2)}},
    };
    for (const TokenCase& c : cases) {
        auto tokens = tokenize(c.text, "t.conf");
        ASSERT_TRUE(tokens) << c.name << ": " << tokens.error().message;
        EXPECT_EQ(*tokens, c.tokens) << c.name;
    }
}

TEST(NginxTokenizer, ErrorsNameFileAndLine) {
    const std::pair<std::string, std::string> cases[] = {
        {"a \"open;\n", "t.conf:1: unexpected end of file, expecting '\"'"},
        {"a\n'open;", "t.conf:2: unexpected end of file, expecting '''"},
        {"a \"x\"y;", "t.conf:1: unexpected \"y\" after a quoted string"},
    };
    for (const auto& [text, message] : cases) {
        auto tokens = tokenize(text, "t.conf");
        ASSERT_FALSE(tokens) << text;
        EXPECT_EQ(tokens.error().message, message) << text;
    }
}

}  // namespace
}  // namespace ne::config::nginx
