#include "cli/import.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "cli/table.h"
#include "config/apps_toml.h"
#include "config/load.h"
#include "config/nginx/parser.h"
#include "cli/commands.h"
#include "ipc/unique_fd.h"

namespace ne::cli {
namespace {

namespace fs = std::filesystem;
namespace tt = config::toml_text;

// The apps' file; its [[servers]] (a PM2 cluster-mode app's front) only tell which app a port
// is: the nginx files give the servers that are written. PM2's warnings (keys nodeedge does
// not do) go to stderr as `start` prints them.
Result<config::Config> load_apps(const ImportCmd& c) {
    if (c.apps.empty()) return config::Config{};
    if (!config::is_pm2_ecosystem(c.apps)) {
        if (!c.env.empty()) return Error{"--env applies to a PM2 ecosystem file, not to " + c.apps};
        return config::load_file(c.apps);
    }
    auto pm2 = evaluate_pm2(c.apps, c.env);
    if (!pm2) return pm2.error();
    return std::move(pm2->config);
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

// PM2's cluster mode shared one port among the instances; the apps' file puts a server on it
// and the workers above it. The [[servers]] written come from nginx, so the note says where
// that port went.
std::map<std::string, std::string> cluster_port_notes(const config::Config& c) {
    std::map<std::string, std::string> notes;
    for (const config::Server& s : c.servers) {
        if (s.locations.size() != 1 || s.locations[0].app.empty() || s.listen.empty()) continue;
        notes[s.locations[0].app] = "env.PORT " + std::to_string(s.listen[0].port) +
                                    " in cluster mode, which the instances shared; each worker has its own port from here, "
                                    "and nginx's upstreams to " + std::to_string(s.listen[0].port) + " are this app";
    }
    return notes;
}

}  // namespace

Result<Imported> import_text(const ImportCmd& c, const std::string& base) {
    auto apps = load_apps(c);
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
    if (!c.apps.empty()) sources += " " + c.apps + (c.env.empty() ? "" : " --env " + c.env);
    for (const std::string& f : c.nginx) sources += " --nginx " + f;
    header.comments.push_back("Written by `nodeedge import" + sources + "`.");
    header.comments.push_back("Each key says where it came from; `nodeedge check` validates this file.");
    std::vector<tt::Table> tables{header};
    tables.insert(tables.end(), mapped.proxy.begin(), mapped.proxy.end());
    for (tt::Table& t : config::apps_tables(apps->apps, base, cluster_port_notes(*apps))) tables.push_back(std::move(t));
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
