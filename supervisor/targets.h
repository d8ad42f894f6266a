// What the verbs' arguments name, resolved in one place so every verb reads them alike (PM2's
// <id|name|namespace|all>): "all" is every app, an app's name the whole app, and a number the
// status `id` of one worker, which stands for that worker's instance of its app (the id stays
// with the instance through restarts and reload replacements).
#pragma once

#include <string>
#include <vector>

#include "ipc/result.h"
#include "supervisor/command_host.h"

namespace ne::supervisor {

struct Target {
    static constexpr int kWholeApp = -1;
    App* app = nullptr;
    int instance = kWholeApp;   // or the one instance a worker id named
    int id = -1;                // that worker id, for messages
    bool whole() const { return instance == kWholeApp; }
};

// Each of `names` in order; an empty list means "all". Repeats are dropped and a whole app
// absorbs the instances of it also named. A name that matches nothing fails the whole list
// with PM2's wording, before anything is done: "process or namespace 'x' not found" (and
// "all" with no app at all: "no process found").
Result<std::vector<Target>> resolve_targets(const CommandHost& host, const std::vector<std::string>& names);

// The names of the apps in `targets`, whole or not, each once, in order.
std::vector<std::string> app_names(const std::vector<Target>& targets);

// The request's "targets" (an array of strings); missing or malformed: empty.
std::vector<std::string> target_args(const nlohmann::json& req);

// True when `s` is a worker id as `status` shows it (decimal digits only).
bool is_worker_id(const std::string& s);

}  // namespace ne::supervisor
