// The access-log record of the request in hand on one client connection: filled as the
// request goes (head, route, answer, backends tried) and reported once, to the access log and
// the metrics, however the request ends. Bytes sent are counted where they enter the
// connection's output, whoever adds them (heads, relayed bodies, sendfile segments, gzip).
#pragma once

#include <event2/buffer.h>

#include <cstdint>
#include <memory>
#include <string_view>

#include "proxy/http/parser.h"
#include "proxy/log/access_log.h"
#include "proxy/log/request_record.h"
#include "proxy/log/stats_table.h"
#include "proxy/snapshot.h"

namespace ne::proxy {

class AccessRecord {
public:
    // `output` must outlive the counting (see stop_counting).
    explicit AccessRecord(evbuffer* output);
    ~AccessRecord();
    AccessRecord(const AccessRecord&) = delete;
    AccessRecord& operator=(const AccessRecord&) = delete;

    // The output is about to go with its connection.
    void stop_counting();

    // A request's first byte arrived; nothing while a record is open already (checked on
    // every read of a head, hence inline).
    void begin(std::string_view remote_addr, std::string_view listen) {
        if (!active_) start(remote_addr, listen);
    }
    void head(const MessageParser& request, std::string_view request_id);
    void request_id(std::string_view id) { rec_.request_id = id; }
    void routed(int server, const config::Location* location) {
        rec_.server = server;
        rec_.location = location;
    }
    void rate_limit(RequestRecord::RateLimit r) { rec_.rate_limit = r; }
    // The answer's head (of `head_bytes`) was queued.
    void answered(int status, uint64_t head_bytes) {
        rec_.status = status;
        head_bytes_ = head_bytes;
    }
    // A backend is tried / its try ended (answered, failed or timed out).
    void upstream_began(std::string_view address);
    void upstream_ended();

    // The one place a finished request is reported. Called when the response is queued
    // whole, when a tunnel closes, and when a connection closes under a request; at most
    // once per request. `pool`: the pool it was routed to, "" for none.
    void report(AccessLog& log, StatsTable& stats, const std::shared_ptr<const Snapshot>& snap,
                std::string_view pool);

private:
    void start(std::string_view remote_addr, std::string_view listen);
    static void output_cb(evbuffer*, const evbuffer_cb_info* info, void* self);

    RequestRecord rec_;
    bool active_ = false;                       // a request began and is not reported yet
    uint64_t out_bytes_ = 0;                    // every byte queued to the client so far
    uint64_t out_mark_ = 0;                     // out_bytes_ when the current request began
    uint64_t head_bytes_ = 0;                   // the current response's head
    RequestRecord::Clock::time_point up_start_{};
    evbuffer* counted_ = nullptr;
    evbuffer_cb_entry* cb_ = nullptr;
};

}  // namespace ne::proxy
