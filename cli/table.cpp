#include "cli/table.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ne::cli {
namespace {

// The border pieces of one style, in the order: left, middle, right, horizontal fill.
struct Rule {
    const char* left;
    const char* mid;
    const char* right;
    const char* fill;
};

struct Borders {
    Rule top, header_sep, bottom;
    const char* vertical;
};

const Borders kUnicode{{"┌", "┬", "┐", "─"}, {"├", "┼", "┤", "─"}, {"└", "┴", "┘", "─"}, "│"};
const Borders kAscii{{"+", "+", "+", "-"}, {"+", "+", "+", "-"}, {"+", "+", "+", "-"}, "|"};

std::string repeat(const char* piece, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += piece;
    return s;
}

std::string rule(const Rule& r, const std::vector<size_t>& widths) {
    std::string line = r.left;
    for (size_t i = 0; i < widths.size(); ++i) {
        if (i) line += r.mid;
        line += repeat(r.fill, widths[i] + 2);
    }
    return line + r.right + "\n";
}

std::string row(const std::vector<Cell>& cells, const std::vector<size_t>& widths, const char* vertical,
                const Style& style) {
    std::string line = vertical;
    for (size_t i = 0; i < widths.size(); ++i) {
        Cell cell = i < cells.size() ? cells[i] : Cell{};
        std::string padded = cell.text + std::string(widths[i] - display_width(cell.text), ' ');
        line += " " + paint(padded, cell.color, style) + " " + vertical;
    }
    return line + "\n";
}

bool locale_is_utf8() {
    // The first of these that is set decides, as for setlocale(LC_CTYPE, "").
    for (const char* var : {"LC_ALL", "LC_CTYPE", "LANG"}) {
        const char* v = std::getenv(var);
        if (v && *v) return strcasestr(v, "UTF-8") || strcasestr(v, "utf8");
    }
    return false;
}

}  // namespace

void print(const std::string& text) { std::fputs(text.c_str(), stdout); }

Style terminal_style() {
    const char* no_color = std::getenv("NO_COLOR");
    return Style{isatty(STDOUT_FILENO) && !(no_color && *no_color), locale_is_utf8()};
}

std::string paint(const std::string& text, Color c, const Style& style) {
    if (!style.color || c == Color::None) return text;
    const char* code = "";
    switch (c) {
        case Color::Green: code = "32"; break;
        case Color::Yellow: code = "33"; break;
        case Color::Red: code = "31"; break;
        case Color::Grey: code = "90"; break;
        case Color::Cyan: code = "36"; break;
        case Color::None: break;
    }
    return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::add_row(std::vector<Cell> cells) { rows_.push_back(std::move(cells)); }

std::string Table::render(const Style& style) const {
    size_t columns = headers_.size();
    for (const auto& r : rows_) columns = std::max(columns, r.size());
    if (columns == 0) return "";

    std::vector<size_t> widths(columns, 0);
    for (size_t i = 0; i < headers_.size(); ++i) widths[i] = display_width(headers_[i]);
    for (const auto& r : rows_)
        for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], display_width(r[i].text));

    const Borders& b = style.unicode ? kUnicode : kAscii;
    std::string out = rule(b.top, widths);
    if (!headers_.empty()) {
        std::vector<Cell> header_cells;
        for (const auto& h : headers_) header_cells.push_back(Cell{h, Color::Cyan});
        out += row(header_cells, widths, b.vertical, style);
        out += rule(b.header_sep, widths);
    }
    for (const auto& r : rows_) out += row(r, widths, b.vertical, style);
    return out + rule(b.bottom, widths);
}

size_t display_width(const std::string& text) {
    // Every byte that is not a UTF-8 continuation byte starts a character.
    return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char ch) {
        return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
    }));
}

std::string format_uptime(int64_t ms) {
    int64_t s = std::max<int64_t>(ms, 0) / 1000;
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m", s / 60);
    if (s < 86400) return fmt::format("{}h", s / 3600);
    return fmt::format("{}D", s / 86400);
}

std::string format_memory(uint64_t bytes) {
    if (bytes < 1024) return fmt::format("{}b", bytes);
    static constexpr const char* kUnits[] = {"kb", "mb", "gb", "tb"};
    double value = static_cast<double>(bytes) / 1024;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(kUnits)) {
        value /= 1024;
        ++unit;
    }
    return fmt::format("{:.1f}{}", value, kUnits[unit]);
}

std::string format_cpu(double percent) { return fmt::format("{:.1f}%", std::max(percent, 0.0)); }

}  // namespace ne::cli
