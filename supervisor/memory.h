// Memory and CPU of a worker's process tree, from /proc. Costs O(processes in the tree): the
// tree is walked from /proc/<pid>/task/*/children, never by scanning all of /proc (only a
// kernel built without CONFIG_PROC_CHILDREN makes us scan /proc, one level at a time).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace ne::supervisor {

// The fields of /proc/<pid>/stat the supervisor uses.
struct ProcStat {
    pid_t ppid = 0;                      // field 4
    uint64_t utime = 0;                  // field 14, clock ticks
    uint64_t stime = 0;                  // field 15, clock ticks
    unsigned long long start_ticks = 0;  // field 22, clock ticks since boot
};

// nullopt if pid is gone (or its stat cannot be parsed).
std::optional<ProcStat> read_proc_stat(pid_t pid);

// pid and all its descendants (pid first). Empty if pid is gone.
std::vector<pid_t> process_tree(pid_t pid);

// Sum of the resident set size of the tree, in bytes.
uint64_t tree_rss_bytes(pid_t pid);

// utime + stime of the tree, in clock ticks.
uint64_t tree_cpu_ticks(pid_t pid);

// cpu % between two samples: (ticks delta / CLK_TCK) / wall seconds * 100. 0 when the wall
// time is not positive or the counter went backwards (a different tree was sampled).
double cpu_percent(uint64_t ticks_before, uint64_t ticks_after, double wall_seconds);

}  // namespace ne::supervisor
