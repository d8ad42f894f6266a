// Reading log files from their end, as `tail -n N` and `tail -F` do.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::cli {

// The last n lines of the file (without their '\n'). Error names the file when it cannot be read.
Result<std::vector<std::string>> tail_lines(const std::string& path, size_t n);

// Follows one file across truncation (its size shrank: read again from the start) and rotation
// (the path names another inode: finish the old file, then read the new one from its start).
// The file may be missing for a while (between a rotation's rename and the next create).
class FileFollower {
public:
    // Starts at the file's current end: lines already there are tail()'s, not poll()'s.
    explicit FileFollower(std::string path);

    // The last n lines before the point where following began.
    std::vector<std::string> tail(size_t n) const;
    // Complete lines written since the last call. A line that never ends is cut at 64 KiB so
    // memory stays bounded.
    std::vector<std::string> poll();
    const std::string& path() const { return path_; }

private:
    bool open();  // at offset 0; false while the file does not exist
    void read_new(std::vector<std::string>& lines);

    std::string path_;
    UniqueFd fd_;
    dev_t dev_ = 0;
    ino_t ino_ = 0;
    off_t offset_ = 0;
    std::string partial_;
};

}  // namespace ne::cli
