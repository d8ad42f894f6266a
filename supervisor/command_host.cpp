#include "supervisor/command_host.h"

namespace ne::supervisor {

App* CommandHost::find_app(const std::string& name) const {
    for (auto& a : apps())
        if (a->name() == name) return a.get();
    return nullptr;
}

Worker* CommandHost::find_worker(uint64_t id) const {
    for (auto& a : apps())
        if (Worker* w = a->find(id)) return w;
    return nullptr;
}

std::string str_arg(const nlohmann::json& req, const char* key) {
    auto it = req.find(key);
    return it != req.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string logs_hint(const std::string& app) { return " (see `nodeedge logs " + app + "`)"; }

}  // namespace ne::supervisor
