#include "supervisor/log_capture.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <system_error>

namespace ne::supervisor {

namespace {

// A line longer than this is written in pieces of this size: the bound on held memory.
constexpr size_t kMaxLine = 64 * 1024;

Result<UniqueFd> open_append(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) return Error::from_errno("open log " + path);
    return fd;
}

std::string numbered(const std::string& path, int n) { return path + "." + std::to_string(n); }

}  // namespace

LogFile::LogFile(std::string path, uint64_t max_size, int retain)
    : path_(std::move(path)), max_size_(max_size), retain_(retain) {}

Status LogFile::open() {
    std::error_code ec;
    auto parent = std::filesystem::path(path_).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) return Error{"create log folder " + parent.string() + ": " + ec.message()};
    auto fd = open_append(path_);
    if (!fd) return fd.error();
    struct stat st {};
    if (fstat(fd->get(), &st) != 0) return Error::from_errno("stat log " + path_);
    fd_ = std::move(*fd);
    regular_ = S_ISREG(st.st_mode);
    size_ = regular_ ? static_cast<uint64_t>(st.st_size) : 0;
    return {};
}

void LogFile::write_line(std::string_view line) {
    if (!fd_) {
        ++dropped_;
        return;
    }
    const uint64_t n = line.size() + 1;
    if (regular_ && max_size_ > 0 && size_ > 0 && size_ + n > max_size_) {
        // Our count can be stale (another writer, logrotate's copytruncate): ask the file.
        struct stat st {};
        if (fstat(fd_.get(), &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
        if (size_ > 0 && size_ + n > max_size_) rotate();
    }
    iovec iov[2] = {{const_cast<char*>(line.data()), line.size()}, {const_cast<char*>("\n"), 1}};
    ssize_t w;
    do {
        w = ::writev(fd_.get(), iov, 2);
    } while (w < 0 && errno == EINTR);
    if (w > 0) size_ += static_cast<uint64_t>(w);
    if (w == static_cast<ssize_t>(n)) {
        if (write_errno_ != 0)
            spdlog::info("{}: writing again ({} lines dropped in all)", path_, dropped_);
        write_errno_ = 0;
        return;
    }
    ++dropped_;
    // Said once per streak, not per line: a full disk must not also flood the daemon's log.
    const int err = w < 0 ? errno : ENOSPC;
    if (err != write_errno_)
        spdlog::error("{}: {}; dropping lines until it can be written again", path_, std::strerror(err));
    write_errno_ = err;
}

void LogFile::rotate() {
    if (retain_ <= 0) {
        if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
            spdlog::warn("rotate {}: {}; retrying after another {} bytes", path_, std::strerror(errno), max_size_);
            size_ = 0;
            return;
        }
    } else {
        // Oldest first, so each rename lands on a free (or the to-be-dropped oldest) name.
        for (int i = retain_ - 1; i >= 1; --i) ::rename(numbered(path_, i).c_str(), numbered(path_, i + 1).c_str());
        if (::rename(path_.c_str(), numbered(path_, 1).c_str()) != 0) {
            spdlog::warn("rotate {}: {}; retrying after another {} bytes", path_, std::strerror(errno), max_size_);
            size_ = 0;
            return;
        }
    }
    // Should the reopen fail we keep writing to the renamed file; the zero count spaces out
    // the next attempt instead of renaming on every line.
    size_ = 0;
    reopen();
}

void LogFile::reopen() {
    auto fresh = LogFile(path_, max_size_, retain_);
    if (auto st = fresh.open(); !st) {
        spdlog::warn("{}; still writing to the previous file", st.error().message);
        return;
    }
    fd_ = std::move(fresh.fd_);
    regular_ = fresh.regular_;
    size_ = fresh.size_;
}

Status LogFile::flush() {
    if (!fd_) return Error{"flush " + path_ + ": not open"};
    if (regular_ && ::ftruncate(fd_.get(), 0) != 0) return Error::from_errno("flush " + path_);
    size_ = 0;
    return {};
}

LogCapture::LogCapture(event_base* base, UniqueFd pipe, std::shared_ptr<LogFile> file, std::string prefix,
                       std::string date_format, std::function<void()> on_eof)
    : pipe_(std::move(pipe)),
      file_(std::move(file)),
      prefix_(std::move(prefix)),
      date_format_(std::move(date_format)),
      on_eof_(std::move(on_eof)) {
    ev_.reset(event_new(base, pipe_.get(), EV_READ | EV_PERSIST, &LogCapture::on_readable, this));
    event_add(ev_.get(), nullptr);
}

LogCapture::~LogCapture() = default;

void LogCapture::on_readable(evutil_socket_t, short, void* self) {
    try {
        static_cast<LogCapture*>(self)->read_some();
    } catch (const std::exception& e) {
        spdlog::error("log capture: {}", e.what());
    }
}

void LogCapture::read_some() {
    // One read per wakeup: a chatty worker cannot starve the rest of the loop.
    char buf[kMaxLine];
    ssize_t n = ::read(pipe_.get(), buf, sizeof buf);
    if (n > 0) {
        stamp_ = format_now(date_format_);
        consume(std::string_view(buf, static_cast<size_t>(n)));
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n < 0) spdlog::warn("{}: reading output: {}", prefix_, std::strerror(errno));
    finish();
}

void LogCapture::consume(std::string_view data) {
    while (!data.empty()) {
        const size_t nl = data.find('\n');
        const std::string_view piece = data.substr(0, nl);
        const size_t room = kMaxLine - partial_.size();
        if (piece.size() > room) {
            partial_.append(piece.substr(0, room));
            emit(partial_);
            partial_.clear();
            data.remove_prefix(room);
        } else if (nl == std::string_view::npos) {
            partial_.append(piece);
            return;
        } else {
            if (partial_.empty()) {
                emit(piece);
            } else {
                partial_.append(piece);
                emit(partial_);
                partial_.clear();
            }
            data.remove_prefix(nl + 1);
        }
    }
}

void LogCapture::finish() {
    event_del(ev_.get());
    pipe_.reset();
    if (!partial_.empty()) {
        stamp_ = format_now(date_format_);
        emit(partial_);
        partial_.clear();
    }
    // Last: the callback may destroy us.
    std::function<void()> cb = std::move(on_eof_);
    on_eof_ = nullptr;
    if (cb) cb();
}

void LogCapture::emit(std::string_view line) {
    line_.clear();
    if (!stamp_.empty()) {
        line_.append(stamp_);
        line_.push_back(' ');
    }
    line_.append(prefix_);
    line_.append(": ");
    line_.append(line);
    file_->write_line(line_);
}

std::string format_now(const std::string& date_format) {
    if (date_format.empty()) return {};
    std::time_t now = std::time(nullptr);
    std::tm local {};
    localtime_r(&now, &local);
    char buf[256];
    size_t n = std::strftime(buf, sizeof buf, date_format.c_str(), &local);
    return std::string(buf, n);
}

}  // namespace ne::supervisor
