// Reading the kernel's /proc files, which report a size of 0 and must be read to the end, and
// walking its folders.
#pragma once

#include <dirent.h>

#include <memory>
#include <optional>
#include <string>

namespace ne::supervisor {

// The whole of a small /proc file; nullopt with errno set when it cannot be opened or read.
std::optional<std::string> read_proc_file(const std::string& path);

// An open directory (/proc, /proc/<pid>/fd, ...), closed when it goes.
struct DirCloser {
    void operator()(DIR* d) const { closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

}  // namespace ne::supervisor
