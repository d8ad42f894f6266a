// Reading the kernel's /proc files, which report a size of 0 and must be read to the end.
#pragma once

#include <optional>
#include <string>

namespace ne::supervisor {

// The whole of a small /proc file; nullopt with errno set when it cannot be opened or read.
std::optional<std::string> read_proc_file(const std::string& path);

}  // namespace ne::supervisor
