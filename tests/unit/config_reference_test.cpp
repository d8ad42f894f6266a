// docs/configuration.md is the reference users read; config/keys is what the loader accepts.
// These tests keep the two the same set of keys, and make every example in the reference one
// the loader accepts, so neither the documentation nor the loader can change alone.
//
// The reference's shape, which the parser below relies on:
// - each key is a level-3 heading whose whole text is its dotted path in backticks,
//   "### `servers.locations.cache.lock`" ("### `proxy`" for a key of the document itself);
// - in its entry, a line "- Type: ... Default: ...", a line "- Example: `lock = true`" (more
//   code spans on it are lines the example needs beside it in its table: "with `root = ...`")
//   and at least one line "- nginx: ..." or "- PM2: ..."; a default written as a value in backticks
//   ("Default: `false`") must be the loader's, one in words ("Default: none") is not checked;
// - every ```toml block is a whole ecosystem.toml (app.js, cert.pem, key.pem and ocsp.der
//   exist beside it).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/keys.h"
#include "config/load.h"
#include "unit/config_test_dir.h"
#include "unit/tls_test_cert.h"

namespace ne::config {
namespace {

struct KeyEntry {
    std::string table;  // "servers.locations.cache"; "" for the document itself
    std::string key;    // "lock"
    int line = 0;       // of the heading
    // The Example line's code spans: the key's own line, then any it needs beside it in its
    // table ("- Example: `try_files = [...]` with `root = \"dist\"`").
    std::vector<std::string> example;
    // The default when the entry writes it as a value (`"5s"`); "" when in words ("none").
    std::string default_value;
    bool has_type_and_default = false;
    bool has_equivalent = false;

    std::string path() const { return table.empty() ? key : table + "." + key; }
};

struct TomlBlock {
    int line = 0;  // of the opening fence
    std::string text;
};

struct Reference {
    std::vector<KeyEntry> keys;
    std::vector<TomlBlock> blocks;
};

std::string read_reference() {
    std::ifstream in(NODEEDGE_SOURCE_DIR "/docs/configuration.md");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// "### `a.b.c`" -> "a.b.c"; "" for any other line.
std::string key_heading(const std::string& line) {
    const std::string open = "### `";
    if (!line.starts_with(open) || !line.ends_with("`") || line.size() <= open.size() + 1) return "";
    std::string path = line.substr(open.size(), line.size() - open.size() - 1);
    if (path.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.") != std::string::npos) return "";
    return path;
}

// The `code spans` of a line, in order.
std::vector<std::string> code_spans(const std::string& line) {
    std::vector<std::string> spans;
    for (size_t open = line.find('`'); open != std::string::npos; open = line.find('`', open + 1)) {
        const size_t close = line.find('`', open + 1);
        if (close == std::string::npos) break;
        spans.push_back(line.substr(open + 1, close - open - 1));
        open = close;
    }
    return spans;
}

// "key = value" -> "key".
std::string key_of(const std::string& toml_line) { return toml_line.substr(0, toml_line.find(" = ")); }

Reference parse_reference(const std::string& text) {
    Reference ref;
    std::istringstream in(text);
    std::string line;
    int number = 0;
    KeyEntry* entry = nullptr;
    TomlBlock* block = nullptr;
    bool in_other_fence = false;
    while (std::getline(in, line)) {
        ++number;
        if (block) {
            if (line.starts_with("```"))
                block = nullptr;
            else
                block->text += line + "\n";
            continue;
        }
        if (in_other_fence) {
            in_other_fence = !line.starts_with("```");
            continue;
        }
        if (line == "```toml") {
            block = &ref.blocks.emplace_back(TomlBlock{number, ""});
            continue;
        }
        if (line.starts_with("```")) {
            in_other_fence = true;
            continue;
        }
        if (line.starts_with("#")) {
            entry = nullptr;
            if (std::string path = key_heading(line); !path.empty()) {
                const size_t dot = path.rfind('.');
                KeyEntry e;
                e.table = dot == std::string::npos ? "" : path.substr(0, dot);
                e.key = dot == std::string::npos ? path : path.substr(dot + 1);
                e.line = number;
                entry = &ref.keys.emplace_back(std::move(e));
            }
            continue;
        }
        if (!entry) continue;
        if (line.starts_with("- Type:") && line.find("Default:") != std::string::npos) {
            entry->has_type_and_default = true;
            const std::string after = line.substr(line.find("Default:") + 8);
            if (after.starts_with(" `")) entry->default_value = code_spans(after).front();
        }
        else if (line.starts_with("- Example:"))
            entry->example = code_spans(line);
        else if (line.starts_with("- nginx:") || line.starts_with("- PM2:"))
            entry->has_equivalent = true;
    }
    return ref;
}

std::string where(const KeyEntry& e) {
    return "docs/configuration.md:" + std::to_string(e.line) + " `" + e.path() + "`";
}

// The smallest file around one line of a table: the tables on the way to it with their
// required keys, plus the app "api" and the upstream "backend" that examples of location keys
// name.
struct SkeletonTable {
    std::string_view path;
    std::string_view header;
    std::vector<std::pair<std::string_view, std::string_view>> required;  // key, line
};

const std::vector<SkeletonTable>& skeleton_tables() {
    static const std::vector<SkeletonTable> tables = {
        {"proxy", "[proxy]", {}},
        {"metrics", "[metrics]", {}},
        {"acme", "[acme]", {}},
        {"apps", "[[apps]]", {{"name", "name = \"api\""}, {"script", "script = \"app.js\""}}},
        {"apps.health_check", "[apps.health_check]", {}},
        {"servers", "[[servers]]", {{"listen", "listen = [\"127.0.0.1:8080\"]"}}},
        {"servers.tls", "[servers.tls]", {{"cert", "cert = \"cert.pem\""}, {"key", "key = \"key.pem\""}}},
        {"servers.gzip", "[servers.gzip]", {}},
        {"servers.locations", "[[servers.locations]]", {{"path", "path = \"/\""}, {"app", "app = \"api\""}}},
        {"servers.locations.rate_limit", "[servers.locations.rate_limit]", {{"rate", "rate = \"10r/s\""}}},
        {"servers.locations.cache", "[servers.locations.cache]", {}},
        {"servers.locations.sticky", "[servers.locations.sticky]", {}},
        {"servers.locations.gzip", "[servers.locations.gzip]", {}},
        {"upstreams", "[[upstreams]]",
         {{"name", "name = \"backend\""}, {"servers", "servers = [{ address = \"127.0.0.1:9000\" }]"}}},
        {"upstreams.servers", "[[upstreams.servers]]", {{"address", "address = \"127.0.0.1:9000\""}}},
    };
    return tables;
}

// `lines` go into e's table (the example, or the key at its default); none leaves the key
// out. They come last, so every table's position is the same with and without them.
std::string skeleton_for(const KeyEntry& e, const std::vector<std::string>& lines) {
    std::set<std::string> provided;
    std::string own;
    for (const std::string& line : lines) {
        provided.insert(key_of(line));
        own += line + "\n";
    }
    if (e.table.empty()) return own;
    const std::string root = e.table.substr(0, e.table.find('.'));
    std::string doc;
    // A table's header and required lines, but for the keys something else provides.
    const auto emit = [&](const SkeletonTable& t, const std::set<std::string>& skip) {
        doc += std::string(t.header) + "\n";
        for (const auto& [key, required_line] : t.required)
            if (!skip.contains(std::string(key))) doc += std::string(required_line) + "\n";
    };
    for (const SkeletonTable& t : skeleton_tables())
        if ((t.path == "apps" || t.path == "upstreams") && t.path != root) emit(t, {});
    for (const SkeletonTable& t : skeleton_tables()) {
        const std::string path(t.path);
        if (path == e.table) {
            // A location has one handler: an example of another one replaces the app (try_files
            // ends in its own fallback).
            std::set<std::string> skip = provided;
            if (path == "servers.locations" &&
                (provided.contains("upstream") || provided.contains("return") || provided.contains("try_files")))
                skip.insert("app");
            // An ACME certificate replaces the files.
            if (path == "servers.tls" && own.find("acme = true") != std::string::npos) skip.insert({"cert", "key"});
            emit(t, skip);
            doc += own;
        } else if (e.table.starts_with(path + ".")) {
            // The next table on the way is this one's key of that name.
            const std::string rest = e.table.substr(path.size() + 1);
            emit(t, {rest.substr(0, rest.find('.'))});
            // ... and names the hosts it certifies.
            if (path == "servers" && own.find("acme = true") != std::string::npos) doc += "server_name = [\"example.com\"]\n";
        }
    }
    return doc;
}

class ConfigReference : public ::testing::Test {
protected:
    void SetUp() override {
        text_ = read_reference();
        ASSERT_FALSE(text_.empty()) << "cannot read " NODEEDGE_SOURCE_DIR "/docs/configuration.md";
        ref_ = parse_reference(text_);
        dir_.write("app.js", "require('http').createServer().listen(process.env.PORT)\n");
        // A DER OCSP response ("unauthorized"), which is all `check` asks of the file.
        dir_.write("ocsp.der", std::string("\x30\x03\x0a\x01\x06", 5));
        ASSERT_TRUE(ne::tls_testing::write_test_cert(dir_.file("cert.pem"), dir_.file("key.pem")));
    }

    Result<Config> load(const std::string& text) const {
        return load_string(text, dir_.file("ecosystem.toml"));
    }

    std::string text_;
    Reference ref_;
    testing::TestDir dir_;
};

TEST_F(ConfigReference, DocumentsExactlyTheKeysTheLoaderAccepts) {
    std::set<std::string> accepted;
    for (const keys::Table& t : keys::tables())
        for (std::string_view k : t.keys) accepted.insert(t.path.empty() ? std::string(k) : std::string(t.path) + "." + std::string(k));
    std::map<std::string, int> documented;  // path -> heading line
    for (const KeyEntry& e : ref_.keys) {
        auto [it, inserted] = documented.emplace(e.path(), e.line);
        EXPECT_TRUE(inserted) << where(e) << " is documented twice (first at line " << it->second << ")";
    }
    std::string missing;
    for (const std::string& k : accepted)
        if (!documented.contains(k)) missing += "\n  " + k;
    std::string extra;
    for (const auto& [k, line] : documented)
        if (!accepted.contains(k)) extra += "\n  " + k + " (line " + std::to_string(line) + ")";
    if (!missing.empty())
        ADD_FAILURE() << "keys the loader accepts (config/keys.cpp) but docs/configuration.md does not document:" << missing;
    if (!extra.empty())
        ADD_FAILURE() << "keys docs/configuration.md documents but the loader rejects (not in config/keys.cpp):" << extra;
}

TEST_F(ConfigReference, EveryEntryHasTypeDefaultExampleAndEquivalent) {
    for (const KeyEntry& e : ref_.keys) {
        EXPECT_TRUE(e.has_type_and_default) << where(e) << ": no \"- Type: ... Default: ...\" line";
        EXPECT_TRUE(e.has_equivalent) << where(e) << ": no \"- nginx:\" or \"- PM2:\" line";
        const std::string first = e.example.empty() ? "" : e.example.front();
        EXPECT_TRUE(first.starts_with(e.key + " = "))
            << where(e) << ": the \"- Example:\" line's first code span should be `" << e.key
            << " = ...`, not `" << first << "`";
    }
}

TEST_F(ConfigReference, EveryKeyExampleLoadsInItsTable) {
    for (const KeyEntry& e : ref_.keys) {
        if (e.example.empty() || !e.example.front().starts_with(e.key + " = ")) continue;  // reported above
        const std::string doc = skeleton_for(e, e.example);
        auto c = load(doc);
        EXPECT_TRUE(c) << where(e) << ": its example does not load:\n  "
                       << (c ? "" : c.error().message) << "\nin:\n" << doc;
    }
}

TEST_F(ConfigReference, EveryDefaultIsTheLoadersDefault) {
    for (const KeyEntry& e : ref_.keys) {
        if (e.default_value.empty()) continue;
        const std::string without = skeleton_for(e, {});
        const std::string with = skeleton_for(e, {e.key + " = " + e.default_value});
        auto implicit = load(without);
        auto written = load(with);
        ASSERT_TRUE(implicit) << where(e) << ": " << implicit.error().message << "\nin:\n" << without;
        ASSERT_TRUE(written) << where(e) << ": its default `" << e.default_value
                             << "` does not load: " << written.error().message << "\nin:\n" << with;
        EXPECT_TRUE(*implicit == *written)
            << where(e) << ": the documented default `" << e.default_value
            << "` is not what the loader uses when the key is absent";
    }
}

TEST_F(ConfigReference, EveryTomlBlockLoads) {
    EXPECT_FALSE(ref_.blocks.empty());
    for (const TomlBlock& b : ref_.blocks) {
        auto c = load(b.text);
        EXPECT_TRUE(c) << "the ```toml block at docs/configuration.md:" << b.line
                       << " does not load:\n  " << (c ? "" : c.error().message);
    }
}

}  // namespace
}  // namespace ne::config
