#include "supervisor/credentials.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace ne::supervisor {

namespace {

// getpw*_r / getgr*_r with a buffer that grows until the entry fits.
template <typename Entry, typename Lookup>
std::optional<Entry> lookup(Lookup call, std::vector<char>& buf, int& err) {
    Entry entry{};
    Entry* found = nullptr;
    buf.resize(1024);
    while ((err = call(&entry, buf.data(), buf.size(), &found)) == ERANGE && buf.size() < (1u << 20))
        buf.resize(buf.size() * 2);
    if (err != 0 || !found) return std::nullopt;
    return entry;
}

std::optional<unsigned> number(std::string_view s) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

Error not_found(std::string_view what, std::string_view name, int err) {
    std::string msg = std::string(what) + " '" + std::string(name) + "'";
    if (err != 0) return Error::from_errno(msg, err);
    return Error{msg + ": no such " + std::string(what)};
}

}  // namespace

Result<std::optional<Credentials>> resolve_credentials(std::string_view user, std::string_view group) {
    if (user.empty() && group.empty()) return std::optional<Credentials>{};
    Credentials c;
    std::vector<char> buf;
    int err = 0;
    const std::string uname(user);
    if (!user.empty()) {
        auto pw = number(user)
                      ? lookup<passwd>([&](passwd* e, char* b, size_t n, passwd** r) { return getpwuid_r(*number(user), e, b, n, r); }, buf, err)
                      : lookup<passwd>([&](passwd* e, char* b, size_t n, passwd** r) { return getpwnam_r(uname.c_str(), e, b, n, r); }, buf, err);
        if (!pw) {
            // A bare uid with no passwd entry is still a valid identity, as for chown(1).
            if (!number(user)) return not_found("user", user, err);
            c.uid = *number(user);
            c.gid = c.uid;
            c.user = uname;
            c.home = "/";
        } else {
            c.uid = pw->pw_uid;
            c.gid = pw->pw_gid;
            c.user = pw->pw_name;
            c.home = pw->pw_dir;
        }
    } else {
        c.uid = ::geteuid();
        c.gid = ::getegid();
    }
    if (!group.empty()) {
        const std::string gname(group);
        auto gr = number(group)
                      ? lookup<struct group>([&](struct group* e, char* b, size_t n, struct group** r) { return getgrgid_r(*number(group), e, b, n, r); }, buf, err)
                      : lookup<struct group>([&](struct group* e, char* b, size_t n, struct group** r) { return getgrnam_r(gname.c_str(), e, b, n, r); }, buf, err);
        if (gr) c.gid = gr->gr_gid;
        else if (number(group)) c.gid = *number(group);
        else return not_found("group", group, err);
    }
    // The user's supplementary groups, as login would set them; with an explicit group, only it.
    if (!user.empty() && group.empty() && !c.user.empty() && !number(user)) {
        int n = 32;
        c.groups.resize(static_cast<size_t>(n));
        while (getgrouplist(c.user.c_str(), c.gid, c.groups.data(), &n) < 0) c.groups.resize(static_cast<size_t>(n));
        c.groups.resize(static_cast<size_t>(n));
    } else {
        c.groups = {c.gid};
    }
    return std::optional<Credentials>{std::move(c)};
}

bool switch_to(const Credentials& c) {
    if (::getuid() == c.uid && ::geteuid() == c.uid && ::getgid() == c.gid) return true;  // already so
    if (::setgroups(c.groups.size(), c.groups.data()) != 0) return false;
    if (::setgid(c.gid) != 0) return false;
    return ::setuid(c.uid) == 0;
}

}  // namespace ne::supervisor
