#include "proxy/static/file_body.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>

namespace ne::proxy {

Status append_file_range(evbuffer* out, int fd, std::string_view path, uint64_t offset, uint64_t length) {
    evbuffer_iovec space;
    if (evbuffer_reserve_space(out, static_cast<ev_ssize_t>(length), &space, 1) != 1)
        return Error{"read " + std::string(path) + ": no memory for " + std::to_string(length) + " bytes"};
    auto* at = static_cast<char*>(space.iov_base);
    for (uint64_t done = 0; done < length;) {
        const ssize_t n = ::pread(fd, at + done, static_cast<size_t>(length - done), static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::from_errno("read " + std::string(path));
        if (n == 0) return Error{"read " + std::string(path) + ": file shrank"};
        done += static_cast<uint64_t>(n);
    }
    space.iov_len = static_cast<size_t>(length);
    evbuffer_commit_space(out, &space, 1);
    return {};
}

void FileBody::start(UniqueFd fd, std::string_view path, uint64_t offset, uint64_t length, BodyFilter& filter,
                     Framing out) {
    fd_ = std::move(fd);
    path_ = path;
    offset_ = offset;
    remaining_ = length;
    filter_ = &filter;
    out_ = out;
    error_.clear();
}

FileBody::Step FileBody::pump(evbuffer* out, size_t high) {
    framed_.aim(out, out_);
    std::array<char, 32 * 1024> buf;
    while (remaining_ > 0 && evbuffer_get_length(out) < high) {
        const size_t want = static_cast<size_t>(std::min<uint64_t>(remaining_, buf.size()));
        const ssize_t n = ::pread(fd_.get(), buf.data(), want, static_cast<off_t>(offset_));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            // A file that shrank under us cannot fill the length the head announced.
            error_ = n < 0 ? Error::from_errno("read " + path_).message : "read " + path_ + ": file shrank";
            fd_.reset();
            return Step::failed;
        }
        offset_ += static_cast<uint64_t>(n);
        remaining_ -= static_cast<uint64_t>(n);
        if (Status s = filter_->feed({buf.data(), static_cast<size_t>(n)}, framed_); !s) {
            error_ = s.error().message;
            fd_.reset();
            return Step::failed;
        }
    }
    if (remaining_ > 0) return Step::more;
    fd_.reset();
    if (Status s = filter_->finish(framed_); !s) {
        error_ = s.error().message;
        return Step::failed;
    }
    framed_.end();
    return Step::done;
}

}  // namespace ne::proxy
