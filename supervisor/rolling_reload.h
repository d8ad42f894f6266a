// A rolling reload (`reload`, SIGHUP, a reload with a changed file): one instance at a time
// across the apps, start its replacement, wait until it is online (the old worker then
// drains), move on. It stops at the first failure; the old workers of the instances not yet
// replaced keep serving.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "supervisor/command_host.h"

namespace ne::supervisor {

class RollingReload {
public:
    // One instance of an app to replace.
    struct Step {
        std::string app;
        int instance;
    };

    // Every instance of these apps. Replies once every old worker has left, or with the first
    // failure.
    static void start(CommandHost& host, const std::vector<std::string>& apps, Reply reply);
    // These instances only (a verb given worker ids), in this order.
    static void start(CommandHost& host, std::vector<Step> steps, Reply reply);

    RollingReload(CommandHost& host, std::vector<Step> steps, Reply reply);
    bool poll();   // advances; true once replied

private:

    CommandHost& host_;
    Reply reply_;
    std::vector<Step> steps_;
    size_t next_ = 0;
    std::shared_ptr<Replacement> current_;
    std::vector<std::shared_ptr<Replacement>> leaving_;   // done starting, old worker draining
};

}  // namespace ne::supervisor
