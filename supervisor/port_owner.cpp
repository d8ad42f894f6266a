#include "supervisor/port_owner.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <string_view>

#include "supervisor/procfs.h"

namespace ne::supervisor {

namespace {

constexpr std::string_view kListenState = "0A";  // TCP_LISTEN in /proc/net/tcp's "st" column

// The next whitespace-separated field of `line`, consumed.
std::string_view next_field(std::string_view& line) {
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        line = {};
        return {};
    }
    line.remove_prefix(start);
    const size_t end = std::min(line.find(' '), line.size());
    std::string_view field = line.substr(0, end);
    line.remove_prefix(end);
    return field;
}

// One table's rows: "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode".
void collect_listening(std::string_view table, int port, std::vector<uint64_t>& inodes) {
    size_t eol = table.find('\n');  // the header line
    while (eol != std::string_view::npos) {
        table.remove_prefix(eol + 1);
        eol = table.find('\n');
        std::string_view line = table.substr(0, eol);
        next_field(line);                                    // sl
        const std::string_view local = next_field(line);     // hex address ':' hex port
        next_field(line);                                    // rem_address
        if (next_field(line) != kListenState) continue;
        const size_t colon = local.rfind(':');
        unsigned local_port = 0;
        if (colon == std::string_view::npos ||
            std::from_chars(local.data() + colon + 1, local.data() + local.size(), local_port, 16).ec != std::errc() ||
            local_port != static_cast<unsigned>(port))
            continue;
        for (int skip = 0; skip < 5; ++skip) next_field(line);  // tx:rx tr:when retrnsmt uid timeout
        const std::string_view inode = next_field(line);
        uint64_t value = 0;
        if (std::from_chars(inode.data(), inode.data() + inode.size(), value).ec == std::errc() && value != 0)
            inodes.push_back(value);
    }
}

// The socket inode a /proc/<pid>/fd link names ("socket:[12345]"), 0 for anything else.
uint64_t socket_inode(const std::string& link_path) {
    char target[64];
    const ssize_t n = ::readlink(link_path.c_str(), target, sizeof target);
    const std::string_view t(target, n > 0 ? static_cast<size_t>(n) : 0);
    constexpr std::string_view kPrefix = "socket:[";
    if (!t.starts_with(kPrefix) || !t.ends_with(']')) return 0;
    uint64_t inode = 0;
    std::from_chars(t.data() + kPrefix.size(), t.data() + t.size() - 1, inode);
    return inode;
}

bool pid_holds(pid_t pid, std::span<const uint64_t> inodes) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DirPtr d(opendir(dir.c_str()));
    if (!d) return false;  // gone, or not ours to read
    while (const dirent* e = readdir(d.get())) {
        if (e->d_name[0] == '.') continue;
        const uint64_t inode = socket_inode(dir + "/" + e->d_name);
        if (inode != 0 && std::find(inodes.begin(), inodes.end(), inode) != inodes.end()) return true;
    }
    return false;
}

std::string command_line(pid_t pid) {
    std::string cmd = read_proc_file("/proc/" + std::to_string(pid) + "/cmdline").value_or("");
    while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
    std::replace(cmd.begin(), cmd.end(), '\0', ' ');
    return cmd;
}

}  // namespace

std::vector<uint64_t> listening_inodes(int port) {
    std::vector<uint64_t> inodes;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"})
        if (auto text = read_proc_file(table)) collect_listening(*text, port, inodes);
    return inodes;
}

bool holds_any(std::span<const pid_t> pids, std::span<const uint64_t> inodes) {
    if (inodes.empty()) return false;
    return std::any_of(pids.begin(), pids.end(), [&](pid_t p) { return pid_holds(p, inodes); });
}

std::optional<PortHolder> port_holder(int port) {
    const std::vector<uint64_t> inodes = listening_inodes(port);
    if (inodes.empty()) return std::nullopt;
    DirPtr proc(opendir("/proc"));
    while (proc) {
        const dirent* e = readdir(proc.get());
        if (!e) break;
        pid_t pid = 0;
        const std::string_view name = e->d_name;
        if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc() || pid <= 0) continue;
        if (pid_holds(pid, inodes)) return PortHolder{pid, command_line(pid)};
    }
    return PortHolder{};
}

std::string port_in_use_message(int port, const PortHolder& holder) {
    std::string msg = "port " + std::to_string(port) + " is already in use";
    if (holder.pid == 0) return msg + " (by a process this daemon cannot inspect)";
    msg += " by pid " + std::to_string(holder.pid);
    if (!holder.command.empty()) msg += " (" + holder.command + ")";
    return msg;
}

}  // namespace ne::supervisor
