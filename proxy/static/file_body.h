// A file range sent through a BodyFilter (gzip) instead of with sendfile: read in pieces while
// the client's output has room, so a large file is never held whole, in memory or in the
// client's output.
#pragma once

#include <event2/buffer.h>

#include <cstdint>
#include <string>

#include "ipc/result.h"
#include "ipc/unique_fd.h"
#include "proxy/http/body_filter.h"
#include "proxy/upstream/relay.h"

namespace ne::proxy {

// Bodies up to this size are copied into the output rather than sent with sendfile: the head
// and the body then leave in one writev (one segment, one wakeup for the client), and the
// copy costs less than a second syscall. nginx, with its default `sendfile off`, reads every
// file this way.
constexpr uint64_t kCopiedFileBytes = 16 * 1024;

// Appends `length` bytes of `fd` from `offset` to `out` (pread straight into its space).
// `path` names the file in errors; a file that shrank is an error.
Status append_file_range(evbuffer* out, int fd, std::string_view path, uint64_t offset, uint64_t length);

class FileBody {
public:
    enum class Step : uint8_t { more, done, failed };

    // `path` names the file in errors; `filter` outlives the body; `out` is chunked or
    // until_close.
    void start(UniqueFd fd, std::string_view path, uint64_t offset, uint64_t length, BodyFilter& filter,
               Framing out);
    // Reads and filters into `out` until it holds `high` bytes or the range ends.
    Step pump(evbuffer* out, size_t high);
    // Why pump() failed: the file and the errno text (or the filter's error).
    const std::string& error() const { return error_; }
    // Closes the file (the response ended or was abandoned).
    void stop() { fd_.reset(); }

private:
    UniqueFd fd_;
    std::string path_;
    uint64_t offset_ = 0;
    uint64_t remaining_ = 0;
    BodyFilter* filter_ = nullptr;
    FramedSink framed_;
    Framing out_ = Framing::none;
    std::string error_;
};

}  // namespace ne::proxy
