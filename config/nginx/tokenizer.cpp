#include "config/nginx/tokenizer.h"

namespace ne::config::nginx {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// nginx unescapes \" \' \\ \t \r \n in every word, quoted or not; any other backslash stays,
// so a regex's "\." reaches the location as written.
std::string unescape(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) {
            const char next = raw[i + 1];
            if (next == '"' || next == '\'' || next == '\\') {
                out += next;
                ++i;
                continue;
            }
            if (next == 't' || next == 'r' || next == 'n') {
                out += next == 't' ? '\t' : next == 'r' ? '\r' : '\n';
                ++i;
                continue;
            }
        }
        out += raw[i];
    }
    return out;
}

class Tokenizer {
public:
    Tokenizer(std::string_view text, const std::string& file) : text_(text), file_(file) {}

    Result<std::vector<Token>> run() {
        for (pos_ = 0; pos_ < text_.size(); ++pos_) {
            const char c = text_[pos_];
            if (escaped_) {
                escaped_ = false;
            } else if (after_quote_) {
                if (auto st = after_quote(c); !st) return st.error();
            } else if (!in_word_) {
                if (auto st = between_tokens(c); !st) return st.error();
            } else {
                in_word(c);
            }
            if (c == '\n') ++line_;
        }
        if (in_word_ && (quote_ != 0))
            return fail(word_line_, std::string("unexpected end of file, expecting '") + quote_ + "'");
        if (in_word_) finish_word(text_.size());
        return std::move(tokens_);
    }

private:
    Error fail(int line, const std::string& message) const {
        return Error{file_ + ":" + std::to_string(line) + ": " + message};
    }

    void punct(Token::Kind kind, char c) { tokens_.push_back(Token{kind, std::string(1, c), line_, false}); }

    // After a closing quote nginx wants a separator: `"a"b` is an error, not one word.
    Status after_quote(char c) {
        if (is_space(c)) {
            after_quote_ = false;
        } else if (c == ';' || c == '{' || c == '}') {
            after_quote_ = false;
            punct(c == ';' ? Token::Kind::semicolon : c == '{' ? Token::Kind::open : Token::Kind::close, c);
        } else {
            return fail(line_, std::string("unexpected \"") + c + "\" after a quoted string");
        }
        return {};
    }

    Status between_tokens(char c) {
        if (comment_) {
            if (c == '\n') comment_ = false;
            return {};
        }
        if (is_space(c)) return {};
        switch (c) {
            case ';': punct(Token::Kind::semicolon, c); return {};
            case '{': punct(Token::Kind::open, c); return {};
            case '}': punct(Token::Kind::close, c); return {};
            case '#': comment_ = true; return {};
            default: break;
        }
        in_word_ = true;
        word_line_ = line_;
        word_start_ = pos_;
        quote_ = 0;
        if (c == '"' || c == '\'') {
            quote_ = c;
            word_start_ = pos_ + 1;
        } else if (c == '\\') {
            escaped_ = true;
        } else if (c == '$') {
            variable_ = true;
        }
        return {};
    }

    void in_word(char c) {
        // "${name}": the brace belongs to the variable, not to a block.
        if (c == '{' && variable_) return;
        variable_ = false;
        if (c == '\\') {
            escaped_ = true;
            return;
        }
        if (c == '$') {
            variable_ = true;
            return;
        }
        if (quote_ != 0) {
            if (c == quote_) {
                finish_word(pos_);
                after_quote_ = true;
            }
            return;
        }
        // nginx ends an unquoted word at a space, ';' or '{' only: `}` is part of the word.
        if (is_space(c) || c == ';' || c == '{') {
            finish_word(pos_);
            if (c == ';') punct(Token::Kind::semicolon, c);
            if (c == '{') punct(Token::Kind::open, c);
        }
    }

    void finish_word(size_t end) {
        tokens_.push_back(Token{Token::Kind::word, unescape(text_.substr(word_start_, end - word_start_)),
                                word_line_, quote_ != 0});
        in_word_ = false;
        variable_ = false;
        quote_ = 0;
    }

    std::string_view text_;
    const std::string& file_;
    std::vector<Token> tokens_;
    size_t pos_ = 0;
    int line_ = 1;
    bool in_word_ = false;
    bool comment_ = false;
    bool escaped_ = false;
    bool variable_ = false;
    bool after_quote_ = false;
    char quote_ = 0;
    size_t word_start_ = 0;
    int word_line_ = 0;
};

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view text, const std::string& file) {
    return Tokenizer(text, file).run();
}

}  // namespace ne::config::nginx
