// libFuzzer target for the PM2 ecosystem mapping: any JSON value (what node could export)
// must give a Config or an Error, never a crash or an exception escaping; a mapped Config
// must survive the JSON round trip that carries it from the CLI to the daemon and state.db.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/json.h"
#include "config/pm2_ecosystem.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const nlohmann::json exported = nlohmann::json::parse(text, nullptr, false);
    if (exported.is_discarded()) return 0;
    // A folder that does not exist, so no script resolves to a real file.
    auto eco = ne::config::pm2_ecosystem_from_json(exported, "/nonexistent-nodeedge-fuzz/ecosystem.config.js",
                                                    "production", 4);
    if (!eco.ok()) return 0;
    auto back = ne::config::from_json(ne::config::to_json(eco->config));
    if (!back.ok() || !(*back == eco->config)) std::abort();
    return 0;
}
