#include "cli/tail.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>

namespace ne::cli {
namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kMaxLine = 64 * 1024;

// The last n lines of [0, end) of fd, reading backwards one chunk at a time so a long file
// costs only what is printed.
std::vector<std::string> last_lines(int fd, off_t end, size_t n) {
    if (n == 0 || end <= 0) return {};
    std::string text;  // the file's last bytes, grown towards the front
    off_t pos = end;
    size_t newlines = 0;
    // n lines need n line breaks before the last line (whose own final '\n' does not count).
    while (pos > 0 && newlines <= n) {
        size_t want = static_cast<size_t>(std::min<off_t>(pos, kChunk));
        std::string chunk(want, '\0');
        ssize_t got = ::pread(fd, chunk.data(), want, pos - static_cast<off_t>(want));
        if (got <= 0) break;
        chunk.resize(static_cast<size_t>(got));
        pos -= static_cast<off_t>(want);
        newlines += static_cast<size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
        text.insert(0, chunk);
    }
    if (!text.empty() && text.back() == '\n') text.pop_back();

    std::vector<std::string> lines;
    for (size_t start = 0;;) {
        size_t nl = text.find('\n', start);
        lines.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (nl == std::string::npos) break;
        start = nl + 1;
    }
    // Unless the file's start was reached, the first piece began mid-line; the loop read
    // more than n line breaks, so keeping the last n always drops it.
    if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(n));
    return lines;
}

}  // namespace

Result<std::vector<std::string>> tail_lines(const std::string& path, size_t n) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno(path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Error::from_errno(path);
    return last_lines(fd.get(), st.st_size, n);
}

FileFollower::FileFollower(std::string path) : path_(std::move(path)) {
    if (open()) {
        struct stat st {};
        if (::fstat(fd_.get(), &st) == 0) offset_ = st.st_size;
    }
}

bool FileFollower::open() {
    UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) return false;
    fd_ = std::move(fd);
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    offset_ = 0;
    return true;
}

std::vector<std::string> FileFollower::tail(size_t n) const {
    if (!fd_) return {};
    return last_lines(fd_.get(), offset_, n);
}

std::vector<std::string> FileFollower::poll() {
    std::vector<std::string> lines;
    if (fd_) read_new(lines);

    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) return lines;  // between rotation's rename and create
    if (!fd_ || st.st_dev != dev_ || st.st_ino != ino_) {
        // Rotated (or created): what the old file held is read above; its unended line is done.
        if (!partial_.empty()) lines.push_back(std::exchange(partial_, {}));
        if (open()) read_new(lines);
    } else if (st.st_size < offset_) {
        // Truncated (flush, or copytruncate rotation): start again from the top.
        offset_ = 0;
        partial_.clear();
        read_new(lines);
    }
    return lines;
}

void FileFollower::read_new(std::vector<std::string>& lines) {
    char buf[kChunk];
    for (;;) {
        ssize_t got = ::pread(fd_.get(), buf, sizeof buf, offset_);
        if (got <= 0) return;
        offset_ += got;
        for (ssize_t i = 0; i < got; ++i) {
            if (buf[i] == '\n') {
                lines.push_back(std::exchange(partial_, {}));
            } else {
                partial_ += buf[i];
                if (partial_.size() >= kMaxLine) lines.push_back(std::exchange(partial_, {}));
            }
        }
    }
}

}  // namespace ne::cli
