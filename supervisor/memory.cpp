#include "supervisor/memory.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>
#include <string>
#include <string_view>

#include "ipc/unique_fd.h"
#include "supervisor/procfs.h"

namespace ne::supervisor {

namespace {

// Calls f(number) for each whitespace-separated decimal number in text.
template <typename F>
void for_each_number(std::string_view text, F&& f) {
    const char* p = text.data();
    const char* end = p + text.size();
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\n')) ++p;
        unsigned long long v = 0;
        auto [next, ec] = std::from_chars(p, end, v);
        if (ec != std::errc()) {
            while (p < end && *p != ' ' && *p != '\n') ++p;  // not a number: skip the token
            continue;
        }
        f(v);
        p = next;
    }
}

std::string proc_path(pid_t pid, const char* leaf) {
    return "/proc/" + std::to_string(pid) + "/" + leaf;
}

// Children by scanning every /proc/<pid>/stat: only for kernels without
// CONFIG_PROC_CHILDREN, where /proc/<pid>/task/<tid>/children does not exist.
std::vector<pid_t> children_by_scan(pid_t parent) {
    std::vector<pid_t> kids;
    DirPtr dir(opendir("/proc"));
    if (!dir) return kids;
    while (dirent* e = readdir(dir.get())) {
        pid_t pid = 0;
        std::string_view name = e->d_name;
        auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (ec != std::errc() || p != name.data() + name.size()) continue;
        auto st = read_proc_stat(pid);
        if (st && st->ppid == parent) kids.push_back(pid);
    }
    return kids;
}

// Direct children of pid: each thread lists the children it forked in its own file.
std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> kids;
    std::string task_dir = proc_path(pid, "task");
    DirPtr dir(opendir(task_dir.c_str()));
    if (!dir) return kids;
    bool have_children_files = false;
    while (dirent* e = readdir(dir.get())) {
        if (e->d_name[0] == '.') continue;
        auto text = read_proc_file(task_dir + "/" + e->d_name + "/children");
        if (!text) continue;
        have_children_files = true;
        for_each_number(*text, [&](unsigned long long v) { kids.push_back(static_cast<pid_t>(v)); });
    }
    return have_children_files ? kids : children_by_scan(pid);
}

}  // namespace

std::optional<ProcStat> read_proc_stat(pid_t pid) {
    auto text = read_proc_file(proc_path(pid, "stat"));
    if (!text) return std::nullopt;
    // The command name (field 2) may hold spaces and ')', so fields are counted after the
    // last ')'. The first one there is field 3.
    auto close = text->rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::vector<std::string_view> fields;
    std::string_view rest = std::string_view(*text).substr(close + 1);
    while (!rest.empty()) {
        auto start = rest.find_first_not_of(" \n");
        if (start == std::string_view::npos) break;
        rest.remove_prefix(start);
        auto len = std::min(rest.find_first_of(" \n"), rest.size());
        fields.push_back(rest.substr(0, len));
        rest.remove_prefix(len);
    }
    auto field = [&](int n, auto& out) {
        std::string_view f = fields[static_cast<size_t>(n - 3)];
        return std::from_chars(f.data(), f.data() + f.size(), out).ec == std::errc();
    };
    ProcStat st;
    if (fields.size() < 20 || !field(4, st.ppid) || !field(14, st.utime) || !field(15, st.stime) ||
        !field(22, st.start_ticks))
        return std::nullopt;
    return st;
}

std::vector<pid_t> process_tree(pid_t pid) {
    std::vector<pid_t> tree;
    if (pid <= 0 || ::access(proc_path(pid, "stat").c_str(), F_OK) != 0) return tree;
    tree.push_back(pid);
    // Breadth-first; a pid seen twice (reused while we walk) is not followed again.
    for (size_t i = 0; i < tree.size(); ++i) {
        for (pid_t kid : children_of(tree[i])) {
            if (std::find(tree.begin(), tree.end(), kid) == tree.end()) tree.push_back(kid);
        }
    }
    return tree;
}

uint64_t tree_rss_bytes(pid_t pid) {
    static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    uint64_t total = 0;
    for (pid_t p : process_tree(pid)) {
        // statm: "size resident shared ..." in pages; resident is what VmRSS reports.
        auto text = read_proc_file(proc_path(p, "statm"));
        if (!text) continue;
        int index = 0;
        for_each_number(*text, [&](unsigned long long v) {
            if (index++ == 1) total += v * page;
        });
    }
    return total;
}

uint64_t tree_cpu_ticks(pid_t pid) {
    uint64_t total = 0;
    for (pid_t p : process_tree(pid)) {
        if (auto st = read_proc_stat(p)) total += st->utime + st->stime;
    }
    return total;
}

double cpu_percent(uint64_t ticks_before, uint64_t ticks_after, double wall_seconds) {
    if (wall_seconds <= 0 || ticks_after < ticks_before) return 0;
    static const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
    return static_cast<double>(ticks_after - ticks_before) / ticks_per_second / wall_seconds * 100;
}

}  // namespace ne::supervisor
