#include "supervisor/takeover.h"

namespace ne::supervisor {

UniqueFd Takeover::take(const std::string& name) {
    auto it = fds.find(name);
    if (it == fds.end()) return {};
    UniqueFd fd = std::move(it->second);
    fds.erase(it);
    return fd;
}

std::string worker_fd_name(uint64_t worker_id, std::string_view stream) {
    return std::string(stream) + ":" + std::to_string(worker_id);
}

std::string proxy_fd_name(pid_t pid) { return "proxy:" + std::to_string(pid); }

std::string listener_fd_name(const std::string& address) { return "listen:" + address; }

nlohmann::json proxy_records_json(const std::vector<ProxyRecord>& records) {
    nlohmann::json out = nlohmann::json::array();
    for (auto& r : records) out.push_back({{"pid", r.pid}, {"start_ticks", r.start_ticks}});
    return out;
}

std::vector<ProxyRecord> proxy_records_from_json(const nlohmann::json& j) {
    std::vector<ProxyRecord> out;
    if (!j.is_array()) return out;
    for (auto& e : j)
        if (e.is_object())
            out.push_back({e.value("pid", 0), e.value("start_ticks", 0ULL)});
    return out;
}

}  // namespace ne::supervisor
