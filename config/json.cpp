#include "config/json.h"

#include <charconv>
#include <concepts>
#include <limits>
#include <optional>
#include <type_traits>

namespace ne::config {
namespace {

using nlohmann::json;

// Each struct's fields are listed once, for a visitor `v(key, member)` that either writes or
// reads, so encoding and decoding cannot drift apart. `S` is T or const T.
template <typename S, typename T>
concept Is = std::same_as<std::remove_const_t<S>, T>;

template <typename V, Is<Where> S>
void fields(V& v, S& w) {
    v("file", w.file);
    v("line", w.line);
    v("column", w.column);
}

template <typename V, Is<HealthCheck> S>
void fields(V& v, S& h) {
    v("enabled", h.enabled);
    v("path", h.path);
    v("interval", h.interval);
    v("timeout", h.timeout);
    v("fails", h.fails);
}

template <typename V, Is<App> S>
void fields(V& v, S& a) {
    v("name", a.name);
    v("script", a.script);
    v("cwd", a.cwd);
    v("interpreter", a.interpreter);
    v("node_args", a.node_args);
    v("args", a.args);
    v("instances", a.instances);
    v("port", a.port);
    v("reload_port", a.reload_port);
    v("env", a.env);
    v("max_memory_restart", a.max_memory_restart);
    v("kill_timeout", a.kill_timeout);
    v("listen_timeout", a.listen_timeout);
    v("wait_ready", a.wait_ready);
    v("min_uptime", a.min_uptime);
    v("max_restarts", a.max_restarts);
    v("restart_delay", a.restart_delay);
    v("exp_backoff_restart_delay", a.exp_backoff_restart_delay);
    v("merge_logs", a.merge_logs);
    v("out_file", a.out_file);
    v("error_file", a.error_file);
    v("log_date_format", a.log_date_format);
    v("log_max_size", a.log_max_size);
    v("log_retain", a.log_retain);
    v("health_check", a.health_check);
    v("user", a.user);
    v("group", a.group);
    v("watch", a.watch);
    v("ignore_watch", a.ignore_watch);
    v("watch_delay", a.watch_delay);
    v("cron_restart", a.cron_restart);
    v("autorestart", a.autorestart);
    v("increment_var", a.increment_var);
    v("namespace", a.namespace_);
    v("where", a.where);
}

template <typename V, Is<RateLimit> S>
void fields(V& v, S& r) {
    v("enabled", r.enabled);
    v("rate_per_sec", r.rate_per_sec);
    v("burst", r.burst);
    v("nodelay", r.nodelay);
    v("key", r.key);
    v("status", r.status);
}

template <typename V, Is<Cache> S>
void fields(V& v, S& c) {
    v("enabled", c.enabled);
    v("valid", c.valid);
    v("use_stale", c.use_stale);
    v("lock", c.lock);
    v("max_size", c.max_size);
    v("bypass_cookie", c.bypass_cookie);
    v("lock_timeout", c.lock_timeout);
}

template <typename V, Is<Sticky> S>
void fields(V& v, S& s) {
    v("enabled", s.enabled);
    v("cookie", s.cookie);
    v("path", s.path);
    v("domain", s.domain);
    v("expires", s.expires);
    v("secure", s.secure);
    v("httponly", s.httponly);
    v("samesite", s.samesite);
}

template <typename V, Is<Location> S>
void fields(V& v, S& l) {
    v("path", l.path);
    v("match", l.match);
    v("app", l.app);
    v("upstream", l.upstream);
    v("balance", l.balance);
    v("keepalive", l.keepalive);
    v("keepalive_timeout", l.keepalive_timeout);
    v("connect_timeout", l.connect_timeout);
    v("read_timeout", l.read_timeout);
    v("send_timeout", l.send_timeout);
    v("queue_timeout", l.queue_timeout);
    v("websocket", l.websocket);
    v("grpc", l.grpc);
    v("buffering", l.buffering);
    v("rate_limit", l.rate_limit);
    v("cache", l.cache);
    v("sticky", l.sticky);
    v("root", l.root);
    v("alias", l.alias);
    v("index", l.index);
    v("expires", l.expires);
    v("cache_control", l.cache_control);
    v("access_log", l.access_log);
    v("return", l.return_);
    v("proxy_headers", l.proxy_headers);
    v("try_files", l.try_files);
    v("client_max_body_size", l.client_max_body_size);
    v("client_body_timeout", l.client_body_timeout);
    v("headers", l.headers);
    v("gzip", l.gzip);
    v("where", l.where);
}

template <typename V, Is<Tls> S>
void fields(V& v, S& t) {
    v("enabled", t.enabled);
    v("acme", t.acme);
    v("cert", t.cert);
    v("key", t.key);
    v("protocols", t.protocols);
    v("ciphers", t.ciphers);
    v("ocsp", t.ocsp);
    v("prefer_server_ciphers", t.prefer_server_ciphers);
    v("session_timeout", t.session_timeout);
    v("session_tickets", t.session_tickets);
    v("session_ticket_rotation", t.session_ticket_rotation);
    v("where", t.where);
}

template <typename V, Is<Gzip> S>
void fields(V& v, S& g) {
    v("enabled", g.enabled);
    v("level", g.level);
    v("min_length", g.min_length);
    v("types", g.types);
}

template <typename V, Is<ListenAddr> S>
void fields(V& v, S& l) {
    v("host", l.host);
    v("port", l.port);
    v("where", l.where);
}

template <typename V, Is<Server> S>
void fields(V& v, S& s) {
    v("listen", s.listen);
    v("server_name", s.server_name);
    v("headers", s.headers);
    v("client_max_body_size", s.client_max_body_size);
    v("keepalive_timeout", s.keepalive_timeout);
    v("keepalive_requests", s.keepalive_requests);
    v("client_header_timeout", s.client_header_timeout);
    v("client_body_timeout", s.client_body_timeout);
    v("send_timeout", s.send_timeout);
    v("lingering_timeout", s.lingering_timeout);
    v("tls", s.tls);
    v("http2", s.http2);
    v("http2_max_concurrent_streams", s.http2_max_concurrent_streams);
    v("redirect_https", s.redirect_https);
    v("gzip", s.gzip);
    v("locations", s.locations);
    v("where", s.where);
}

template <typename V, Is<UpstreamServer> S>
void fields(V& v, S& u) {
    v("address", u.address);
    v("weight", u.weight);
    v("max_fails", u.max_fails);
    v("fail_timeout", u.fail_timeout);
}

template <typename V, Is<Upstream> S>
void fields(V& v, S& u) {
    v("name", u.name);
    v("servers", u.servers);
    v("resolve", u.resolve);
    v("resolver", u.resolver);
    v("resolve_family", u.resolve_family);
    v("where", u.where);
}

template <typename V, Is<Proxy> S>
void fields(V& v, S& p) {
    v("workers", p.workers);
    v("user", p.user);
    v("access_log", p.access_log);
    v("access_log_format", p.access_log_format);
    v("error_page", p.error_page);
    v("drain_timeout", p.drain_timeout);
    v("worker_shutdown_timeout", p.worker_shutdown_timeout);
}

template <typename V, Is<Metrics> S>
void fields(V& v, S& m) {
    v("listen", m.listen);
}

template <typename V, Is<Acme> S>
void fields(V& v, S& a) {
    v("email", a.email);
    v("directory", a.directory);
    v("ca_bundle", a.ca_bundle);
    v("challenge", a.challenge);
    v("renew_before", a.renew_before);
    v("key_type", a.key_type);
}

template <typename V, Is<Config> S>
void fields(V& v, S& c) {
    v("source", c.source);
    v("proxy", c.proxy);
    v("metrics", c.metrics);
    v("acme", c.acme);
    v("apps", c.apps);
    v("servers", c.servers);
    v("upstreams", c.upstreams);
}

struct AnyVisitor {
    template <typename T>
    void operator()(const char*, T&) {}
};
template <typename T>
concept Described = requires(AnyVisitor& v, T& t) { fields(v, t); };

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};
template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <typename T>
struct IsMap : std::false_type {};
template <typename K, typename T>
struct IsMap<std::map<K, T>> : std::true_type {};

// Durations travel as integer milliseconds, sizes as integer bytes, maps as objects, an absent
// optional as null, a location's Match as its modifier ("~*").
class Writer {
public:
    explicit Writer(json& out) : out_(out) {}

    template <typename T>
    void operator()(const char* key, const T& value) { out_[key] = encode(value); }

    template <typename T>
    static json encode(const T& value) {
        if constexpr (std::is_same_v<T, Duration>) {
            return value.count();
        } else if constexpr (std::is_same_v<T, Match>) {
            return match_name(value);
        } else if constexpr (IsOptional<T>::value) {
            return value ? encode(*value) : json();
        } else if constexpr (IsVector<T>::value) {
            json array = json::array();
            for (const auto& element : value) array.push_back(encode(element));
            return array;
        } else if constexpr (IsMap<T>::value) {
            json object = json::object();
            for (const auto& [k, v] : value) object[key_text(k)] = encode(v);
            return object;
        } else if constexpr (Described<T>) {
            json object = json::object();
            Writer w(object);
            fields(w, value);
            return object;
        } else {
            return value;
        }
    }

private:
    static std::string key_text(const std::string& k) { return k; }
    static std::string key_text(int k) { return std::to_string(k); }

    json& out_;
};

// Missing keys keep the struct's defaults (a newer daemon reading an older save); a present key
// of the wrong type is an error naming its path, e.g. "servers[0].listen[1].port".
class Reader {
public:
    Reader(const json& in, std::string path, std::optional<Error>& error)
        : in_(in), path_(std::move(path)), error_(error) {}

    template <typename T>
    void operator()(const char* key, T& out) {
        if (error_) return;
        auto it = in_.find(key);
        if (it == in_.end() || it->is_null()) return;
        decode(*it, path_.empty() ? key : path_ + "." + key, out);
    }

private:
    template <typename T>
    void decode(const json& j, const std::string& path, T& out) {
        if constexpr (std::is_same_v<T, Duration>) {
            if (auto n = integer(j, path, std::numeric_limits<Duration::rep>::min(),
                                 std::numeric_limits<Duration::rep>::max()))
                out = Duration{*n};
        } else if constexpr (std::is_same_v<T, Match>) {
            const auto m = j.is_string() ? parse_match(j.get<std::string>()) : std::nullopt;
            if (expect(m.has_value(), j, path, "a location match (prefix, exact, ^~, ~, ~*, @)")) out = *m;
        } else if constexpr (IsOptional<T>::value) {
            typename T::value_type value{};
            decode(j, path, value);
            if (!error_) out = std::move(value);
        } else if constexpr (std::is_same_v<T, bool>) {
            if (expect(j.is_boolean(), j, path, "a boolean")) out = j.get<bool>();
        } else if constexpr (std::is_same_v<T, int>) {
            if (auto n = integer(j, path, std::numeric_limits<int>::min(),
                                 std::numeric_limits<int>::max()))
                out = static_cast<int>(*n);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
            const bool non_negative =
                j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
            if (expect(non_negative, j, path, "a non-negative integer")) out = j.get<uint64_t>();
        } else if constexpr (std::is_same_v<T, double>) {
            if (expect(j.is_number(), j, path, "a number")) out = j.get<double>();
        } else if constexpr (std::is_same_v<T, std::string>) {
            if (expect(j.is_string(), j, path, "a string")) out = j.get<std::string>();
        } else if constexpr (IsVector<T>::value) {
            if (!expect(j.is_array(), j, path, "an array")) return;
            T values;
            for (size_t i = 0; i < j.size() && !error_; ++i) {
                typename T::value_type element{};
                decode(j[i], path + "[" + std::to_string(i) + "]", element);
                values.push_back(std::move(element));
            }
            if (!error_) out = std::move(values);
        } else if constexpr (IsMap<T>::value) {
            if (!expect(j.is_object(), j, path, "an object")) return;
            T values;
            for (const auto& [k, v] : j.items()) {
                typename T::key_type key{};
                if (!parse_key(k, path, key)) return;
                decode(v, path + "." + k, values[key]);
                if (error_) return;
            }
            out = std::move(values);
        } else {
            static_assert(Described<T>, "no JSON mapping for this type");
            if (!expect(j.is_object(), j, path, "an object")) return;
            Reader nested(j, path, error_);
            fields(nested, out);
        }
    }

    bool expect(bool ok, const json& j, const std::string& path, const char* expected) {
        if (!ok)
            error_ = Error{"config JSON: " + path + ": expected " + expected + ", got " +
                           j.type_name()};
        return ok;
    }

    std::optional<int64_t> integer(const json& j, const std::string& path, int64_t lo, int64_t hi) {
        // Checked as unsigned first: a huge unsigned value would wrap when read as int64_t.
        const bool too_big =
            j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(hi);
        const bool in_range = j.is_number_integer() && !too_big && j.get<int64_t>() >= lo &&
                              j.get<int64_t>() <= hi;
        if (!expect(in_range, j, path, "an integer in range")) return std::nullopt;
        return j.get<int64_t>();
    }

    bool parse_key(const std::string& k, const std::string& path, std::string& out) {
        out = k;
        return true;
    }
    bool parse_key(const std::string& k, const std::string& path, int& out) {
        auto [end, ec] = std::from_chars(k.data(), k.data() + k.size(), out);
        if (ec == std::errc() && end == k.data() + k.size()) return true;
        error_ = Error{"config JSON: " + path + ": key '" + k + "' is not an integer"};
        return false;
    }

    const json& in_;
    std::string path_;
    std::optional<Error>& error_;
};

}  // namespace

json to_json(const Config& c) { return Writer::encode(c); }

Result<Config> from_json(const json& j) {
    if (!j.is_object())
        return Error{std::string("config JSON: expected an object, got ") + j.type_name()};
    Config c;
    std::optional<Error> error;
    Reader r(j, "", error);
    fields(r, c);
    if (error) return *error;
    return c;
}

}  // namespace ne::config
