#include "supervisor/targets.h"

#include <algorithm>
#include <cctype>

namespace ne::supervisor {

namespace {

// What one name matches: nothing, or whole apps, or one instance. PM2's order: "all", an app
// of that name, a process id; a namespace is tried after the name, as PM2 does.
std::vector<Target> resolve_one(const CommandHost& host, const std::string& name) {
    std::vector<Target> out;
    if (name == "all") {
        for (auto& a : host.apps()) out.push_back({a.get()});
        return out;
    }
    if (App* a = host.find_app(name)) return {{a}};
    if (is_worker_id(name)) {
        int id = std::stoi(name);
        for (auto& a : host.apps())
            for (Worker* w : a->workers())
                if (w->slot() == id) return {{a.get(), w->instance(), id}};
    }
    return out;
}

void add(std::vector<Target>& out, const Target& t) {
    for (const Target& o : out)
        if (o.app == t.app && (o.whole() || o.instance == t.instance)) return;
    if (t.whole()) std::erase_if(out, [&](const Target& o) { return o.app == t.app; });
    out.push_back(t);
}

}  // namespace

bool is_worker_id(const std::string& s) {
    return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

Result<std::vector<Target>> resolve_targets(const CommandHost& host, const std::vector<std::string>& names) {
    std::vector<std::string> wanted = names.empty() ? std::vector<std::string>{"all"} : names;
    std::vector<Target> out;
    for (const std::string& name : wanted) {
        auto found = resolve_one(host, name);
        if (found.empty())
            return Error{name == "all" ? std::string("no process found: no app is running")
                                       : "process or namespace '" + name + "' not found"};
        for (const Target& t : found) add(out, t);
    }
    return out;
}

std::vector<std::string> app_names(const std::vector<Target>& targets) {
    std::vector<std::string> out;
    for (const Target& t : targets)
        if (std::find(out.begin(), out.end(), t.app->name()) == out.end()) out.push_back(t.app->name());
    return out;
}

std::vector<std::string> target_args(const nlohmann::json& req) {
    std::vector<std::string> out;
    auto it = req.find("targets");
    if (it == req.end() || !it->is_array()) return out;
    for (const auto& t : *it)
        if (t.is_string()) out.push_back(t.get<std::string>());
    return out;
}

}  // namespace ne::supervisor
