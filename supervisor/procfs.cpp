#include "supervisor/procfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "ipc/unique_fd.h"

namespace ne::supervisor {

std::optional<std::string> read_proc_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::nullopt;
        if (n == 0) return text;
        text.append(buf, static_cast<size_t>(n));
    }
}

}  // namespace ne::supervisor
