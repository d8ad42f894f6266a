// The program's version, as `--version`, `status` and the control protocol's `ping` say it:
// the project version, then $NODEEDGE_VERSION_SUFFIX if set (a build told apart from another
// of the same source, e.g. a staging binary; the tests of `upgrade` use it for "another
// version").
#pragma once

#include <string>

namespace ne::ipc {

std::string version();

}  // namespace ne::ipc
