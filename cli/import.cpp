#include "cli/import.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/table.h"
#include "config/apps_toml.h"
#include "config/load.h"
#include "config/nginx/parser.h"
#include "ipc/unique_fd.h"

namespace ne::cli {
namespace {

namespace fs = std::filesystem;
namespace tt = config::toml_text;

// The apps' file; its [[servers]] only tell which app a port is (the nginx files give the
// servers that are written).
Result<config::Config> load_apps(const std::string& path) {
    if (path.empty()) return config::Config{};
    if (!is_ecosystem_file(path))
        return Error{path + ": import reads the apps from an ecosystem.toml; PM2's ecosystem.config.js is not read yet"};
    return config::load_file(path);
}

// Written next to itself and renamed over the target, so a failed write leaves no half file.
Status write_replacing(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) return Error::from_errno(tmp);
        size_t done = 0;
        while (done < text.size()) {
            const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                const Error e = Error::from_errno(tmp);
                ::unlink(tmp.c_str());
                return e;
            }
            done += static_cast<size_t>(n);
        }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const Error e = Error::from_errno("rename " + tmp + " -> " + path);
        ::unlink(tmp.c_str());
        return e;
    }
    return {};
}

}  // namespace

Result<Imported> import_text(const ImportCmd& c, const std::string& base) {
    auto apps = load_apps(c.apps);
    if (!apps) return apps.error();
    std::vector<std::vector<config::nginx::Directive>> trees;
    for (const std::string& file : c.nginx) {
        auto tree = config::nginx::parse_file(file);
        if (!tree) return tree.error();
        trees.push_back(std::move(*tree));
    }
    config::nginx::Mapped mapped = config::nginx::map_nginx(trees, *apps);

    tt::Table header;
    std::string sources;
    if (!c.apps.empty()) sources += " " + c.apps;
    for (const std::string& f : c.nginx) sources += " --nginx " + f;
    header.comments.push_back("Written by `nodeedge import" + sources + "`.");
    header.comments.push_back("Each key says where it came from; `nodeedge check` validates this file.");
    std::vector<tt::Table> tables{header};
    tables.insert(tables.end(), mapped.proxy.begin(), mapped.proxy.end());
    for (tt::Table& t : config::apps_tables(apps->apps, base)) tables.push_back(std::move(t));
    tables.insert(tables.end(), mapped.upstreams.begin(), mapped.upstreams.end());
    tables.insert(tables.end(), mapped.servers.begin(), mapped.servers.end());
    return Imported{tt::render(tables), std::move(mapped.left_out)};
}

Status run(const ImportCmd& c) {
    const bool to_stdout = c.output == "-";
    const fs::path out = to_stdout ? fs::current_path() / "ecosystem.toml" : fs::absolute(c.output).lexically_normal();
    auto imported = import_text(c, out.parent_path().string());
    if (!imported) return imported.error();
    if (to_stdout) {
        print(imported->toml);
    } else if (auto st = write_replacing(out.string(), imported->toml); !st) {
        return st;
    }
    for (const auto& f : imported->left_out) std::fprintf(stderr, "%s\n", f.str().c_str());
    // The file is meant to run as it is: say so now if `check` would refuse it.
    if (auto loaded = config::load_string(imported->toml, out.string()); !loaded)
        return Error{"the imported configuration does not pass `nodeedge check` yet: " + loaded.error().message};
    if (!imported->left_out.empty()) {
        const size_t n = imported->left_out.size();
        return Error{std::to_string(n) + (n == 1 ? " directive was" : " directives were") +
                     " not imported (listed above)" + (to_stdout ? "" : "; " + c.output + " was written all the same")};
    }
    if (!to_stdout) std::fprintf(stderr, "nodeedge: wrote %s\n", c.output.c_str());
    return {};
}

}  // namespace ne::cli
