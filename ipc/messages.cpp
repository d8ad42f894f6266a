#include "ipc/messages.h"

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace ne::ipc {

using nlohmann::json;

namespace {

template <class... Ts>
struct overloaded : Ts... { using Ts::operator()...; };
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

json header(const char* type) { return json{{"v", kVersion}, {"type", type}}; }

std::string to_hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += kDigits[c >> 4];
        out += kDigits[c & 15];
    }
    return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
    auto nibble = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    if (hex.size() % 2) return std::nullopt;
    std::string out(hex.size() / 2, '\0');
    for (size_t i = 0; i < out.size(); ++i) {
        const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<char>(hi << 4 | lo);
    }
    return out;
}

// Compact keys: a busy proxy worker sends one series per location and upstream every second.
json series_to_json(const RequestSeries& s) {
    return {{"k", s.kind == RequestSeries::Kind::upstream ? "u" : "l"},
            {"s", s.server}, {"n", s.name}, {"c", s.by_class}, {"b", s.latency},
            {"sum", s.latency_sum}, {"bs", s.bucket_sum}, {"bq", s.bucket_sum_sq},
            {"cache", s.cache}, {"rl", s.rate_limit}};
}

template <typename T, size_t N>
void read_array(const json& j, const char* key, std::array<T, N>& out) {
    const json& a = j.at(key);
    if (!a.is_array() || a.size() != N)
        throw std::invalid_argument(std::string("series field '") + key + "' needs " + std::to_string(N) + " numbers");
    for (size_t i = 0; i < N; ++i) out[i] = a[i].get<T>();
}

// A proxy worker of an earlier build sends no per-bucket sums ("bs", "bq"). Its observations
// are taken as spread evenly over each bucket (at the highest finite bound for +Inf), so that
// quantiles of its counts come out as Prometheus' linear interpolation, as they did then.
void spread_evenly(RequestSeries& s) {
    const auto& bounds = kLatencyBuckets;
    for (size_t i = 0; i < s.latency.size(); ++i) {
        double n = static_cast<double>(s.latency[i]);
        double lo = i == 0 ? 0 : bounds[i - 1];
        double hi = i < bounds.size() ? bounds[i] : lo;
        double mid = (lo + hi) / 2;
        s.bucket_sum[i] = n * mid;
        s.bucket_sum_sq[i] = n * (mid * mid + (hi - lo) * (hi - lo) / 12);
    }
}

RequestSeries series_from_json(const json& j) {
    RequestSeries s;
    s.kind = j.at("k").get<std::string>() == "u" ? RequestSeries::Kind::upstream : RequestSeries::Kind::location;
    s.server = j.at("s").get<std::string>();
    s.name = j.at("n").get<std::string>();
    read_array(j, "c", s.by_class);
    read_array(j, "b", s.latency);
    s.latency_sum = j.at("sum").get<double>();
    if (j.contains("bs") || j.contains("bq")) {
        read_array(j, "bs", s.bucket_sum);
        read_array(j, "bq", s.bucket_sum_sq);
    } else {
        spread_evenly(s);
    }
    read_array(j, "cache", s.cache);
    read_array(j, "rl", s.rate_limit);
    return s;
}

}  // namespace

std::string encode(const Message& m) {
    json j = std::visit(overloaded{
        [](const ProxyConfig& c) {
            auto j = header("proxy_config");
            j["config"] = c.config;
            // Hex: an OCSP response is DER, and JSON strings must be UTF-8.
            json files = json::object();
            for (const auto& [path, bytes] : c.tls_files) files[path] = to_hex(bytes);
            j["tls_files"] = std::move(files);
            return j;
        },
        [](const BackendAdd& a) {
            auto j = header("backend_add");
            j["id"] = a.id; j["app"] = a.app; j["instance"] = a.instance;
            j["host"] = a.host; j["port"] = a.port;
            return j;
        },
        [](const BackendDrain& d) { auto j = header("backend_drain"); j["id"] = d.id; return j; },
        [](const BackendRemove& r) { auto j = header("backend_remove"); j["id"] = r.id; return j; },
        [](const DrainDone& d) { auto j = header("drain_done"); j["id"] = d.id; return j; },
        [](const Stats& s) {
            auto j = header("stats");
            j["pid"] = s.pid; j["connections"] = s.connections; j["requests"] = s.requests;
            json series = json::array();
            for (const auto& r : s.series) series.push_back(series_to_json(r));
            j["series"] = std::move(series);
            return j;
        },
        [](const Quit& q) {
            auto j = header("quit");
            if (q.grace_ms > 0) j["grace_ms"] = q.grace_ms;
            return j;
        },
        [](const AcmeChallenges& c) {
            auto j = header("acme_challenges");
            j["serial"] = c.serial; j["http"] = c.http;
            json alpn = json::array();
            for (const auto& a : c.alpn) alpn.push_back({{"name", a.name}, {"cert", a.cert_pem}, {"key", a.key_pem}});
            j["alpn"] = std::move(alpn);
            return j;
        },
        [](const AcmeChallengesApplied& a) { auto j = header("acme_challenges_applied"); j["serial"] = a.serial; return j; },
    }, m);
    return j.dump();
}

uint64_t RequestSeries::count() const {
    uint64_t n = 0;
    for (uint64_t c : by_class) n += c;
    return n;
}

void RequestSeries::observe(int status, double seconds) {
    ++by_class[static_cast<size_t>(std::clamp(status / 100, 1, 5) - 1)];
    auto bucket = static_cast<size_t>(std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds) -
                                      kLatencyBuckets.begin());
    ++latency[bucket];
    latency_sum += seconds;
    bucket_sum[bucket] += seconds;
    bucket_sum_sq[bucket] += seconds * seconds;
}

void RequestSeries::add(const RequestSeries& o) {
    for (size_t i = 0; i < by_class.size(); ++i) by_class[i] += o.by_class[i];
    for (size_t i = 0; i < latency.size(); ++i) {
        latency[i] += o.latency[i];
        bucket_sum[i] += o.bucket_sum[i];
        bucket_sum_sq[i] += o.bucket_sum_sq[i];
    }
    latency_sum += o.latency_sum;
    for (size_t i = 0; i < cache.size(); ++i) cache[i] += o.cache[i];
    for (size_t i = 0; i < rate_limit.size(); ++i) rate_limit[i] += o.rate_limit[i];
}

Result<Message> decode(std::string_view payload) {
    json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return Error{"ipc: message is not a JSON object"};
    if (!j.contains("v") || !j["v"].is_number_integer() || j["v"].get<int>() != kVersion)
        return Error{"ipc: unsupported message version " + (j.contains("v") ? j["v"].dump() : "(none)") +
                     ", this build speaks " + std::to_string(kVersion)};
    if (!j.contains("type") || !j["type"].is_string()) return Error{"ipc: message without a type"};
    const std::string type = j["type"];
    try {
        if (type == "proxy_config") {
            ProxyConfig c{j.at("config"), {}};
            const json files = j.value("tls_files", json::object());   // absent from older masters
            for (const auto& [path, hex] : files.items()) {
                auto bytes = from_hex(hex.get<std::string>());
                if (!bytes) return Error{"ipc: proxy_config: tls_files \"" + path + "\" is not hex"};
                c.tls_files.emplace(path, std::move(*bytes));
            }
            return Message{std::move(c)};
        }
        if (type == "backend_add")
            return Message{BackendAdd{j.at("id").get<uint64_t>(), j.at("app").get<std::string>(),
                                      j.at("instance").get<int>(), j.at("host").get<std::string>(),
                                      j.at("port").get<int>()}};
        if (type == "backend_drain") return Message{BackendDrain{j.at("id").get<uint64_t>()}};
        if (type == "backend_remove") return Message{BackendRemove{j.at("id").get<uint64_t>()}};
        if (type == "drain_done") return Message{DrainDone{j.at("id").get<uint64_t>()}};
        if (type == "stats") {
            Stats s{j.at("pid").get<int>(), j.at("connections").get<uint64_t>(), j.at("requests").get<uint64_t>(), {}};
            if (j.contains("series"))
                for (const auto& r : j.at("series")) s.series.push_back(series_from_json(r));
            return Message{std::move(s)};
        }
        if (type == "quit") return Message{Quit{j.value("grace_ms", int64_t{0})}};
        if (type == "acme_challenges") {
            AcmeChallenges c{j.at("serial").get<uint64_t>(), j.at("http").get<std::map<std::string, std::string>>(), {}};
            for (const auto& a : j.at("alpn"))
                c.alpn.push_back({a.at("name").get<std::string>(), a.at("cert").get<std::string>(),
                                  a.at("key").get<std::string>()});
            return Message{std::move(c)};
        }
        if (type == "acme_challenges_applied")
            return Message{AcmeChallengesApplied{j.at("serial").get<uint64_t>()}};
    } catch (const json::exception& e) {
        return Error{"ipc: malformed " + type + " message: " + e.what()};
    } catch (const std::invalid_argument& e) {
        return Error{"ipc: malformed " + type + " message: " + e.what()};
    }
    return Error{"ipc: unknown message type '" + type + "'"};
}

}  // namespace ne::ipc
