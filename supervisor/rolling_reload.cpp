#include "supervisor/rolling_reload.h"

#include "ipc/control.h"

namespace ne::supervisor {

using ipc::control::fail;
using ipc::control::ok;

void RollingReload::start(CommandHost& host, const std::vector<std::string>& apps, Reply reply) {
    std::vector<Step> steps;
    for (auto& n : apps)
        if (App* a = host.find_app(n))
            for (int i = 0; i < a->instances(); ++i) steps.push_back({n, i});
    start(host, std::move(steps), std::move(reply));
}

void RollingReload::start(CommandHost& host, std::vector<Step> steps, Reply reply) {
    auto r = std::make_shared<RollingReload>(host, std::move(steps), std::move(reply));
    host.wait_for([r] { return r->poll(); });
}

RollingReload::RollingReload(CommandHost& host, std::vector<Step> steps, Reply reply)
    : host_(host), reply_(std::move(reply)), steps_(std::move(steps)) {
    for (const Step& s : steps_)
        if (App* a = host_.find_app(s.app))
            for (Worker* w : a->workers())
                if (w->instance() == s.instance && up(w->state())) host_.event(*w, "reload", "rolling reload requested");
}

bool RollingReload::poll() {
    for (;;) {
        if (current_) {
            if (current_->phase == Replacement::Phase::Failed) {
                const std::string& error = current_->error;
                reply_(fail("reload stopped: " + error + logs_hint(error.substr(0, error.find(':'))) +
                            "; the remaining old workers keep serving"));
                return true;
            }
            if (current_->phase == Replacement::Phase::Starting) return false;
            leaving_.push_back(std::move(current_));
            current_.reset();
        }
        if (next_ >= steps_.size()) break;
        Step s = steps_[next_++];
        App* app = host_.find_app(s.app);
        if (!app || s.instance >= app->instances()) continue;
        current_ = app->replace(s.instance, "reload");
        // nullptr: already being replaced (e.g. memory limit), which serves as well.
    }
    for (auto& r : leaving_)
        if (r->phase != Replacement::Phase::Done) return false;
    reply_(ok(host_.status_json()));
    return true;
}

}  // namespace ne::supervisor
