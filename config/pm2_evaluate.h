// A PM2 ecosystem file -> the object it exports, evaluated by `node` the way PM2 evaluates it:
// require() for .config.js/.config.cjs, import() for .config.mjs (its default export), the
// text as a JavaScript expression for .json (PM2 runs `(text)` in vm, so comments and trailing
// commas pass), js-yaml's load() for .yml/.yaml. The file runs in this process's environment
// (its `process.env.X` sees the caller's variables) and its folder's node_modules.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "ipc/result.h"

namespace ne::config {

// What PM2 makes of a file name ("json", "yaml", "js", "mjs"), or "" for none: PM2's
// knonwConfigFileExtensions, matched as PM2 matches them (anywhere in the name).
std::string pm2_file_kind(const std::string& path);

// Runs `node` (from PATH) on the file; `path` must be absolute. The file's own console output
// goes to stderr; the exported value comes back over a separate pipe, as JSON (functions and
// undefined are dropped, a RegExp becomes its source text). Errors carry node's message with
// the file's line ("ecosystem.config.js:3 ... SyntaxError: Unexpected token").
Result<nlohmann::json> evaluate_pm2_file(const std::string& path);

}  // namespace ne::config
