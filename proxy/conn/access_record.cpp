#include "proxy/conn/access_record.h"

namespace ne::proxy {

namespace {

double seconds_since(RequestRecord::Clock::time_point t) {
    return std::chrono::duration<double>(RequestRecord::Clock::now() - t).count();
}

}  // namespace

AccessRecord::AccessRecord(evbuffer* output) : counted_(output) {
    cb_ = evbuffer_add_cb(counted_, output_cb, this);
}

AccessRecord::~AccessRecord() { stop_counting(); }

void AccessRecord::stop_counting() {
    if (cb_) evbuffer_remove_cb_entry(counted_, cb_);
    cb_ = nullptr;
}

void AccessRecord::output_cb(evbuffer*, const evbuffer_cb_info* info, void* self) {
    static_cast<AccessRecord*>(self)->out_bytes_ += info->n_added;
}

void AccessRecord::start(std::string_view remote_addr, std::string_view listen) {
    rec_.reset();
    rec_.start = RequestRecord::Clock::now();
    rec_.remote_addr = remote_addr;
    rec_.listen = listen;
    out_mark_ = out_bytes_;
    head_bytes_ = 0;
    active_ = true;
}

void AccessRecord::head(const MessageParser& p, std::string_view request_id) {
    rec_.method = p.method_name();
    rec_.target = p.target();
    rec_.http_minor = p.http_minor();
    rec_.host = p.header("host");
    rec_.referer = p.header("referer");
    rec_.user_agent = p.header("user-agent");
    rec_.request_id = request_id;
}

void AccessRecord::upstream_began(std::string_view address) {
    if (!rec_.upstream_addr.empty()) rec_.upstream_addr.append(", ");
    rec_.upstream_addr.append(address);
    up_start_ = RequestRecord::Clock::now();
}

void AccessRecord::upstream_ended() { rec_.upstream_seconds = seconds_since(up_start_); }

void AccessRecord::report(AccessLog& log, StatsTable& stats, const std::shared_ptr<const Snapshot>& snap,
                          std::string_view pool) {
    if (!active_) return;
    active_ = false;
    // A connection closed before a head was read whole is not a request (nginx logs nothing
    // for a connection that sent nothing; a partial head that timed out got its 408).
    if (rec_.status == 0 && rec_.method.empty()) return;
    if (rec_.status == 0) rec_.status = 499;  // nginx: the client closed before the answer
    rec_.request_seconds = seconds_since(rec_.start);
    rec_.bytes_sent = out_bytes_ - out_mark_;
    rec_.body_bytes_sent = rec_.bytes_sent > head_bytes_ ? rec_.bytes_sent - head_bytes_ : 0;
    if (!rec_.location || rec_.location->access_log) log.write(rec_);
    stats.count(snap, rec_, pool);
}

}  // namespace ne::proxy
