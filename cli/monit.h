// `nodeedge monit`: a live terminal view like `pm2 monit`, in plain ANSI (no curses): every
// second the screen is redrawn with each worker's status, restarts, cpu and memory, and each
// app's requests/s and p99 from the proxy. `q`, Ctrl-C or the end of stdin quits.
#pragma once

#include <string>

#include "cli/args.h"
#include "cli/render.h"
#include "ipc/result.h"

namespace ne::cli {

// One frame, headed by `now` (the time shown); pure, so unit-tested.
std::string render_monit(const StatusView& view, const Style& style, const std::string& now);

Status run(const MonitCmd& c);

}  // namespace ne::cli
