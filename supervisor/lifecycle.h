// A Node worker's lifecycle: an enum of states, an enum of events, and one pure transition
// function that returns the next state and the actions the Worker must carry out. Keeping it
// pure means every path (crash while draining, timeout while launching, ...) is tested without
// processes, and every transition can be logged the same way: "api:1 online -> draining (reload)".
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ne::supervisor {

// Unhealthy: ready once, running, but out of the proxy pools because its active health checks
// fail; it is kept apart from Online so that `status` shows why it gets no requests.
enum class State { Launching, Online, Unhealthy, Draining, Stopping, Stopped, Errored };

enum class Event {
    Ready,           // the port accepts / process.send('ready')
    ReadyTimeout,    // listen_timeout passed while launching
    Drain,           // stop taking requests (reload, stop, scale down, memory limit)
    DrainDone,       // every proxy worker reports nothing in flight, or the drain deadline
    Stop,            // stop now (no drain needed: not in the pool)
    KillTimeout,     // kill_timeout passed after SIGTERM
    ExitExpected,    // the process exited after we asked it to
    ExitUnexpected,  // the process exited on its own (crash, OOM, kill -9 from outside)
    ExitNoRestart,   // it exited on its own and autorestart is off: it stays down (PM2: stopped)
    Restart,         // the restart delay passed: spawn again
    GiveUp,          // the restart policy says no more (max_restarts)
    HealthFailed,    // `fails` health checks in a row failed
    HealthOk,        // a health check passed after that
};

enum class Action {
    PoolAdd,         // tell the proxy workers the backend is ready
    PoolDrain,       // tell them to stop sending it requests and report when idle
    PoolRemove,      // tell them it is gone
    SendTerm,        // SIGTERM to the process group, arm the kill timer
    SendKill,        // SIGKILL to the process group
    ScheduleRestart, // ask the restart policy for a delay (or give up) and arm the timer
    Spawn,           // fork/exec a new process and arm listen_timeout
};

struct Transition {
    State next;
    std::vector<Action> actions;
};

const char* to_string(State s);
// Became ready and was not asked to leave: Online or Unhealthy. Such a worker has started
// (for `start`, `restart`, `scale`) and is drained, not just stopped, when it has to go.
bool up(State s);
const char* to_string(Event e);

// nullopt: the event means nothing in that state (e.g. Ready after a Stop) and is ignored.
std::optional<Transition> on(State s, Event e);

}  // namespace ne::supervisor
