#include "config/nginx/parser.h"

#include <glob.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/nginx/tokenizer.h"

namespace ne::config::nginx {
namespace {

namespace fs = std::filesystem;

// An include cycle would otherwise recurse until the stack runs out; nginx has no limit but
// no real configuration nests anywhere near this deep.
constexpr int kMaxIncludeDepth = 32;

std::string quote_if_needed(const std::string& arg) {
    const bool plain = !arg.empty() && arg.find_first_of(" \t\r\n;{\"'#") == std::string::npos;
    if (plain) return arg;
    std::string out = "\"";
    for (char c : arg) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::from_errno(path);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Error::from_errno(path);
    return text.str();
}

bool has_glob(const std::string& pattern) { return pattern.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> glob_sorted(const std::string& pattern) {
    std::vector<std::string> out;
    glob_t g{};
    if (::glob(pattern.c_str(), 0, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
    }
    ::globfree(&g);
    return out;  // glob(3) sorts its matches
}

class Parser {
public:
    explicit Parser(std::string prefix) : prefix_(std::move(prefix)) {}

    Result<std::vector<Directive>> parse(const std::string& text, const std::string& file, int depth) {
        auto tokens = tokenize(text, file);
        if (!tokens) return tokens.error();
        size_t pos = 0;
        std::vector<Directive> out;
        if (auto st = block(*tokens, pos, file, depth, out, 0); !st) return st.error();
        return out;
    }

private:
    static Error fail(const std::string& file, int line, const std::string& message) {
        return Error{file + ":" + std::to_string(line) + ": " + message};
    }

    // Reads directives until the '}' closing a block opened at `open_line` (0: the file's end).
    Status block(const std::vector<Token>& tokens, size_t& pos, const std::string& file, int depth,
                 std::vector<Directive>& out, int open_line) {
        while (pos < tokens.size()) {
            const Token& first = tokens[pos];
            if (first.kind == Token::Kind::close) {
                if (open_line == 0) return fail(file, first.line, "unexpected \"}\"");
                ++pos;
                return {};
            }
            if (first.kind != Token::Kind::word)
                return fail(file, first.line, std::string("unexpected \"") + first.text + "\"");
            Directive d;
            d.name = first.text;
            d.file = file;
            d.line = first.line;
            ++pos;
            while (pos < tokens.size() && tokens[pos].kind == Token::Kind::word) d.args.push_back(tokens[pos++].text);
            if (pos == tokens.size())
                return fail(file, tokens.back().line, "unexpected end of file, expecting \";\" or \"}\"");
            const Token& end = tokens[pos++];
            if (end.kind == Token::Kind::close)
                return fail(file, end.line, "unexpected \"}\": \"" + d.name + "\" is not terminated by \";\"");
            if (end.kind == Token::Kind::open) {
                d.block = true;
                if (auto st = block(tokens, pos, file, depth, d.children, end.line); !st) return st;
                out.push_back(std::move(d));
            } else if (d.name == "include") {
                if (auto st = include(d, depth, out); !st) return st;
            } else {
                out.push_back(std::move(d));
            }
        }
        if (open_line != 0) return fail(file, tokens.empty() ? open_line : tokens.back().line,
                                        "unexpected end of file, expecting \"}\" (block opened at line " +
                                            std::to_string(open_line) + ")");
        return {};
    }

    Status include(const Directive& d, int depth, std::vector<Directive>& out) {
        if (d.args.size() != 1) return fail(d.file, d.line, "include takes exactly one file name or pattern");
        if (depth >= kMaxIncludeDepth)
            return fail(d.file, d.line, "include " + d.args[0] + ": more than " +
                                            std::to_string(kMaxIncludeDepth) + " nested includes (a cycle?)");
        const std::string& written = d.args[0];
        std::vector<std::string> candidates;
        if (fs::path(written).is_absolute()) {
            candidates.push_back(written);
        } else {
            candidates.push_back((fs::path(prefix_) / written).lexically_normal().string());
            const std::string here = (fs::path(d.file).parent_path() / written).lexically_normal().string();
            if (here != candidates.front()) candidates.push_back(here);
        }
        std::vector<std::string> files;
        for (const std::string& candidate : candidates) {
            files = has_glob(candidate) ? glob_sorted(candidate) : std::vector<std::string>{};
            if (!has_glob(candidate) && fs::exists(candidate)) files.push_back(candidate);
            if (!files.empty()) break;
        }
        if (files.empty()) {
            if (has_glob(written)) return {};  // nginx: a pattern may match nothing
            std::string tried;
            for (const std::string& c : candidates) tried += (tried.empty() ? "" : ", ") + c;
            return fail(d.file, d.line, "include " + written + ": no such file (looked for " + tried + ")");
        }
        for (const std::string& file : files) {
            auto text = read_file(file);
            if (!text) return fail(d.file, d.line, "include " + written + ": " + text.error().message);
            auto tree = parse(*text, file, depth + 1);
            if (!tree) return tree.error();
            for (Directive& child : *tree) out.push_back(std::move(child));
        }
        return {};
    }

    std::string prefix_;
};

}  // namespace

std::string Directive::where() const { return file + ":" + std::to_string(line); }

std::string Directive::text() const {
    std::string out = name;
    for (const std::string& a : args) out += " " + quote_if_needed(a);
    return out + (block ? " {" : ";");
}

Result<std::vector<Directive>> parse_text(const std::string& text, const std::string& file) {
    std::string prefix = fs::path(file).parent_path().string();
    if (prefix.empty()) prefix = ".";
    return Parser(prefix).parse(text, file, 0);
}

Result<std::vector<Directive>> parse_file(const std::string& path) {
    auto text = read_file(path);
    if (!text) return text.error();
    return parse_text(*text, path);
}

}  // namespace ne::config::nginx
