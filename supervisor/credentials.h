// Who a child process runs as. Names from the config (`[proxy] user`, an app's `user` and
// `group`) are resolved before fork, in the daemon, so that the forked child only makes the
// async-signal-safe calls that switch identity (setgroups, setgid, setuid) before exec.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/result.h"

namespace ne::supervisor {

struct Credentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;   // supplementary groups: the user's own (initgroups), or only gid
    std::string user;            // for HOME, USER and LOGNAME in the child's environment
    std::string home;
};

// `user` (a name or a numeric uid) and optional `group` (name or gid; default: the user's
// primary group). nullopt when both are empty: the child keeps the daemon's identity. An
// Error names what does not exist: "user 'nodeapp': no such user".
Result<std::optional<Credentials>> resolve_credentials(std::string_view user, std::string_view group);

// In a forked child: become `c` for good (groups first, uid last, so nothing can be regained).
// Returns false with errno set (EPERM when the daemon is not root).
bool switch_to(const Credentials& c);

}  // namespace ne::supervisor
