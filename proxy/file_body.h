// A file range sent through a BodyFilter (gzip) instead of with sendfile: read in pieces while
// the client's output has room, so a large file is never held whole, in memory or in the
// client's output.
#pragma once

#include <event2/buffer.h>

#include <cstdint>
#include <string>

#include "ipc/unique_fd.h"
#include "proxy/body_filter.h"
#include "proxy/relay.h"

namespace ne::proxy {

class FileBody {
public:
    enum class Step : uint8_t { more, done, failed };

    // `path` names the file in errors; `filter` outlives the body; `out` is chunked or
    // until_close.
    void start(UniqueFd fd, std::string_view path, uint64_t offset, uint64_t length, BodyFilter& filter,
               Framing out);
    // Reads and filters into `out` until it holds kHighWatermark bytes or the range ends.
    Step pump(evbuffer* out);
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
