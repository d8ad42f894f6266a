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

std::vector<App*> CommandHost::targets(const std::string& target, std::string& error) const {
    std::vector<App*> out;
    for (auto& a : apps())
        if (target.empty() || target == "all" || a->name() == target) out.push_back(a.get());
    // As PM2: a name that is no app's may be a namespace, standing for its apps.
    if (out.empty())
        for (auto& a : apps())
            if (a->config().namespace_ == target) out.push_back(a.get());
    if (out.empty() && !target.empty() && target != "all") error = "no app or namespace named '" + target + "'";
    return out;
}

std::string str_arg(const nlohmann::json& req, const char* key) {
    auto it = req.find(key);
    return it != req.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string logs_hint(const std::string& app) { return " (see `nodeedge logs " + app + "`)"; }

}  // namespace ne::supervisor
