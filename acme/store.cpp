#include "acme/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "ipc/unique_fd.h"

namespace ne::acme {

Status make_private_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Error::from_errno("mkdir " + path);
    return {};
}

Status write_private_file(const std::string& path, const std::string& content) {
    const std::string tmp = path + ".tmp";
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return Error::from_errno("create " + tmp);
    ::fchmod(fd.get(), 0600);   // a leftover .tmp of another mode keeps its mode on O_CREAT
    size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("write " + tmp);
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return Error::from_errno("fsync " + tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Error::from_errno("rename " + tmp + " to " + path);
    return {};
}

Result<std::optional<std::string>> read_file_if_any(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return std::optional<std::string>{};
        return Error::from_errno("open " + path);
    }
    std::string out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("read " + path);
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return std::optional<std::string>(std::move(out));
}

}  // namespace ne::acme
