// Memory and CPU of a worker's process tree, from /proc. Costs O(processes in the tree): the
// tree is walked from /proc/<pid>/task/*/children, never by scanning all of /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace ne::supervisor {

// pid and all its descendants (pid first). Empty if pid is gone.
std::vector<pid_t> process_tree(pid_t pid);

// Sum of VmRSS of the tree, in bytes.
uint64_t tree_rss_bytes(pid_t pid);

// utime + stime of the tree, in clock ticks.
uint64_t tree_cpu_ticks(pid_t pid);

// cpu % between two samples: (ticks delta / CLK_TCK) / wall seconds * 100.
double cpu_percent(uint64_t ticks_before, uint64_t ticks_after, double wall_seconds);

}  // namespace ne::supervisor
