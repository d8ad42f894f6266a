// nginx configuration files -> a tree of directives, with `include` followed in place (globs
// sorted, as nginx's glob(3) does) and every directive keeping the file and line it came from.
// Reads whole nginx.conf files (main context with events {} and http {}) and bare site files
// (sites-enabled style: server {} and upstream {} at the top) alike: the tree is what is
// written, and config/nginx/mapper.h decides what each context means.
#pragma once

#include <string>
#include <vector>

#include "ipc/result.h"

namespace ne::config::nginx {

struct Directive {
    std::string name;
    std::vector<std::string> args;
    std::string file;                  // as opened: the path given, or an include's resolved path
    int line = 0;
    bool block = false;                // `name args { ... }`
    std::vector<Directive> children;   // a block's directives

    // "file:line"
    std::string where() const;
    // The directive as nginx would read it again, for comments: `proxy_pass http://api;`,
    // `location ~* \.(js|css)$ {`. Arguments with spaces or quotes are quoted.
    std::string text() const;
};

// Reads `path` and every file it includes. A relative include is looked up in the folder of
// the first file (nginx's conf prefix), then in the folder of the file that includes it; a
// missing file (not a glob without matches, which nginx allows) is an error naming file:line.
Result<std::vector<Directive>> parse_file(const std::string& path);

// The same for text already in memory (`file` names it in errors; includes resolve against
// its folder).
Result<std::vector<Directive>> parse_text(const std::string& text, const std::string& file);

}  // namespace ne::config::nginx
