// A bordered terminal table (PM2's look) and the human units its cells use. Pure: the caller
// decides colour and borders once, from the terminal (terminal_style()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ne::cli {

struct Style {
    bool color = false;    // ANSI colours (stdout is a TTY and NO_COLOR is unset)
    bool unicode = false;  // box-drawing borders and "·" (the locale is UTF-8); else ASCII
};

Style terminal_style();

// Writes text to stdout as it is (the commands' output, tables included).
void print(const std::string& text);

enum class Color { None, Green, Yellow, Red, Grey, Cyan };

// Wraps text in the ANSI sequence for `c` when style.color is set.
std::string paint(const std::string& text, Color c, const Style& style);

struct Cell {
    std::string text;
    Color color = Color::None;
};

class Table {
public:
    // No headers: a plain grid (e.g. key/value lines of `describe`).
    explicit Table(std::vector<std::string> headers = {});
    void add_row(std::vector<Cell> cells);
    // Each column as wide as its widest cell (counted in characters, not bytes); colour is
    // applied after padding so escape sequences never skew the borders.
    std::string render(const Style& style) const;

private:
    std::vector<std::string> headers_;
    std::vector<std::vector<Cell>> rows_;
};

// Characters a terminal shows for UTF-8 text (code points; no wide-glyph handling).
size_t display_width(const std::string& text);

// PM2's units: "5s" "3m" "2h" "4D"; "0b" "512b" "42.1mb"; "0.3%".
std::string format_uptime(int64_t ms);
std::string format_memory(uint64_t bytes);
std::string format_cpu(double percent);

}  // namespace ne::cli
