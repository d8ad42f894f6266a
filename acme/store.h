// Files of $NODEEDGE_HOME/acme/: written whole or not at all (a temporary file renamed over
// the old one), mode 0600 in directories of mode 0700.
#pragma once

#include <optional>
#include <string>

#include "ipc/result.h"

namespace ne::acme {

Status make_private_dir(const std::string& path);
Status write_private_file(const std::string& path, const std::string& content);
// nullopt when the file does not exist; an Error for any other failure.
Result<std::optional<std::string>> read_file_if_any(const std::string& path);

}  // namespace ne::acme
