// libFuzzer target for the config loader: any byte string must give a Config or an Error,
// never a crash, a hang or an exception escaping load_string. Loaded configs must also survive
// the JSON round trip the daemon uses to ship them to proxy workers and to state.db.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/json.h"
#include "config/load.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // A folder that does not exist: relative paths resolve without touching real files, and
    // validation's existence checks fail the same way on every run.
    auto loaded = ne::config::load_string(text, "/nonexistent-nodeedge-fuzz/ecosystem.toml");
    if (!loaded.ok()) return 0;
    auto back = ne::config::from_json(ne::config::to_json(*loaded));
    if (!back.ok() || !(*back == *loaded)) std::abort();
    return 0;
}
