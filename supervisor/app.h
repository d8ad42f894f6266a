// One app: its workers (one per instance, plus replacements while they take over), and the
// operations that change them — start, stop, scale, and replacing a worker without losing
// capacity (reload, memory limit). Operations report progress through Replacement objects
// and worker states, which the daemon's pending requests poll.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "supervisor/worker.h"

namespace ne::supervisor {

// One instance being replaced: the new worker starts (on the instance's other port: port + i
// or reload_port + i, whichever the old one is not on), and only once it
// is online is the old one drained and stopped. If the new one fails, the old one keeps serving.
struct Replacement {
    enum class Phase { Starting, Draining, Done, Failed };
    int instance = 0;
    uint64_t old_id = 0;   // 0 when there was no running worker to replace
    uint64_t new_id = 0;
    Phase phase = Phase::Starting;
    std::string reason;    // "reload", "memory limit", "restart"
    std::string error;     // why it failed
};

class App {
public:
    struct Ids {
        std::function<int()> next_slot;
        std::function<uint64_t()> next_id;
    };
    App(WorkerHost& host, std::shared_ptr<const config::App> cfg, int instances, Ids ids);

    const config::App& config() const { return *cfg_; }
    std::shared_ptr<const config::App> config_ptr() const { return cfg_; }
    const std::string& name() const { return cfg_->name; }
    int instances() const { return instances_; }
    // Workers started or replaced from now on use cfg (reload with a changed file).
    void set_config(std::shared_ptr<const config::App> cfg) { cfg_ = std::move(cfg); }

    // All workers, by instance, oldest first (status rows).
    std::vector<Worker*> workers() const;
    Worker* find(uint64_t id) const;
    // The worker that serves (or will serve) instance i: the newest one not being replaced.
    Worker* current(int instance) const;

    // Takes over a running worker of instance `instance` (supervisor/takeover.h) under its
    // old id; false (and nothing changed) when the instance is not in this config or already
    // has a worker. App::start then starts only the instances left without one.
    bool adopt(int instance, int port, uint64_t id, AdoptedProcess p);

    // Starts every instance that has no live worker; returns the ids of the workers started.
    std::vector<uint64_t> start();
    // The same for one instance (a verb given a worker id): none when it is already live.
    std::vector<uint64_t> start(int instance);
    // Drains (or stops) every worker; they stay listed as stopped.
    void stop(const std::string& why);
    // The same for one instance: its workers (a replacement too) stay listed as stopped, the
    // other instances serve on.
    void stop(int instance, const std::string& why);
    // True when no worker has a process.
    bool all_stopped() const;
    // True when no worker of that instance has a process.
    bool stopped(int instance) const;
    // Changes the instance count: new instances start, the highest ones are drained away.
    std::vector<uint64_t> scale(int instances);

    // Starts a replacement for instance i (see Replacement). Returns nullptr when an instance
    // is already being replaced.
    std::shared_ptr<Replacement> replace(int instance, const std::string& reason);

    // Called by the daemon after any worker state change: advances replacements.
    void on_state_change(Worker& w);
    // Destroys workers that were retired (replaced, scaled away) and have stopped.
    void collect();

private:
    bool replacing(int instance) const;
    Worker& add_worker(int instance, int port, int slot);
    int replacement_port(const Worker* old, int instance) const;

    WorkerHost& host_;
    std::shared_ptr<const config::App> cfg_;
    int instances_;
    Ids ids_;
    std::vector<int> slots_;                       // slot id per instance
    std::vector<std::unique_ptr<Worker>> workers_;
    std::vector<uint64_t> retired_;                // ids to drop once stopped
    std::vector<std::shared_ptr<Replacement>> replacements_;
};

// A free TCP port on 127.0.0.1 chosen by the kernel (bind to 0).
int ephemeral_port();

}  // namespace ne::supervisor
