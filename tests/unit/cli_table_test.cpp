#include <gtest/gtest.h>

#include <regex>

#include "cli/table.h"
#include "unit/cli_test_support.h"

namespace ne::cli {
namespace {

using testing::lines_of;

std::string strip_ansi(const std::string& s) { return std::regex_replace(s, std::regex("\x1b\\[[0-9;]*m"), ""); }

TEST(CliUnits, Uptime) {
    EXPECT_EQ(format_uptime(0), "0s");
    EXPECT_EQ(format_uptime(999), "0s");
    EXPECT_EQ(format_uptime(5'000), "5s");
    EXPECT_EQ(format_uptime(59'999), "59s");
    EXPECT_EQ(format_uptime(60'000), "1m");
    EXPECT_EQ(format_uptime(3 * 60'000 + 59'000), "3m");
    EXPECT_EQ(format_uptime(3'600'000), "1h");
    EXPECT_EQ(format_uptime(2 * 3'600'000 + 59 * 60'000), "2h");
    EXPECT_EQ(format_uptime(86'400'000), "1D");
    EXPECT_EQ(format_uptime(4 * 86'400'000LL + 5), "4D");
    EXPECT_EQ(format_uptime(-10), "0s");
}

TEST(CliUnits, Memory) {
    EXPECT_EQ(format_memory(0), "0b");
    EXPECT_EQ(format_memory(1023), "1023b");
    EXPECT_EQ(format_memory(1024), "1.0kb");
    EXPECT_EQ(format_memory(1536), "1.5kb");
    EXPECT_EQ(format_memory(44145050), "42.1mb");
    EXPECT_EQ(format_memory(1024ull * 1024 * 1024), "1.0gb");
    EXPECT_EQ(format_memory(3ull << 40), "3.0tb");
    EXPECT_EQ(format_memory(5000ull << 40), "5000.0tb");
}

TEST(CliUnits, Cpu) {
    EXPECT_EQ(format_cpu(0), "0.0%");
    EXPECT_EQ(format_cpu(0.3), "0.3%");
    EXPECT_EQ(format_cpu(99.96), "100.0%");
    EXPECT_EQ(format_cpu(250), "250.0%");
    EXPECT_EQ(format_cpu(-1), "0.0%");
}

TEST(CliTable, DisplayWidthCountsCharactersNotBytes) {
    EXPECT_EQ(display_width(""), 0u);
    EXPECT_EQ(display_width("api"), 3u);
    EXPECT_EQ(display_width("wébapp"), 6u);
    EXPECT_EQ(display_width("│─·"), 3u);
}

TEST(CliTable, AsciiLayoutExactly) {
    Table t({"id", "name"});
    t.add_row({Cell{"0"}, Cell{"api"}});
    t.add_row({Cell{"10"}, Cell{"x"}});
    EXPECT_EQ(t.render(Style{false, false}),
              "+----+------+\n"
              "| id | name |\n"
              "+----+------+\n"
              "| 0  | api  |\n"
              "| 10 | x    |\n"
              "+----+------+\n");
}

TEST(CliTable, UnicodeBordersLineUpWithMultibyteCells) {
    Table t({"name", "status"});
    t.add_row({Cell{"wébapp"}, Cell{"online", Color::Green}});
    t.add_row({Cell{"a"}, Cell{"errored", Color::Red}});
    auto lines = lines_of(t.render(Style{false, true}));
    ASSERT_EQ(lines.size(), 6u);
    EXPECT_EQ(lines[0], "┌────────┬─────────┐");
    EXPECT_EQ(lines[3], "│ wébapp │ online  │");
    for (const auto& l : lines) EXPECT_EQ(display_width(l), display_width(lines[0])) << l;
}

TEST(CliTable, ColourWrapsCellsWithoutShiftingBorders) {
    Table t({"status"});
    t.add_row({Cell{"online", Color::Green}});
    std::string plain = t.render(Style{false, true});
    std::string coloured = t.render(Style{true, true});
    EXPECT_EQ(plain.find('\x1b'), std::string::npos);
    EXPECT_NE(coloured.find("\x1b[32monline"), std::string::npos);
    EXPECT_EQ(strip_ansi(coloured), plain);
}

TEST(CliTable, HeaderOnlyAndHeaderless) {
    Table empty({"id", "name"});
    EXPECT_EQ(lines_of(empty.render(Style{false, false})).size(), 4u);  // rule, header, rule, rule

    Table grid;
    grid.add_row({Cell{"key"}, Cell{"value"}});
    EXPECT_EQ(grid.render(Style{false, false}),
              "+-----+-------+\n"
              "| key | value |\n"
              "+-----+-------+\n");
    EXPECT_EQ(Table().render(Style{}), "");
}

TEST(CliTable, ShortRowsArePadded) {
    Table t({"a", "b", "c"});
    t.add_row({Cell{"1"}});
    auto lines = lines_of(t.render(Style{false, false}));
    EXPECT_EQ(lines[3], "| 1 |   |   |");
}

TEST(CliTable, PaintOnlyWithColour) {
    EXPECT_EQ(paint("x", Color::Red, Style{false, true}), "x");
    EXPECT_EQ(paint("x", Color::None, Style{true, true}), "x");
    EXPECT_EQ(paint("x", Color::Red, Style{true, true}), "\x1b[31mx\x1b[0m");
}

}  // namespace
}  // namespace ne::cli
