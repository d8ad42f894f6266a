#include "ipc/version.h"

#include <cstdlib>

namespace ne::ipc {

std::string version() {
    std::string v = NODEEDGE_VERSION;
    if (const char* suffix = std::getenv("NODEEDGE_VERSION_SUFFIX")) v += suffix;
    return v;
}

}  // namespace ne::ipc
