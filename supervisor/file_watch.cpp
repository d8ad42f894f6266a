#include "supervisor/file_watch.h"

#include <dirent.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace ne::supervisor {

namespace {

// What chokidar reports as add/change/unlink, for files and folders alike. IN_ATTRIB covers
// `touch` on a file that is not opened for writing.
constexpr uint32_t kChanges =
    IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB;

constexpr size_t kMaxProblems = 20;

bool is_dir(const std::string& path) {
    struct stat st{};
    return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Result<std::unique_ptr<FileWatch>> FileWatch::open(event_base* base, const std::vector<std::string>& paths,
                                                   Ignored ignored, Changed changed) {
    UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!fd) return Error::from_errno("inotify_init1");
    std::unique_ptr<FileWatch> w(new FileWatch(std::move(fd), std::move(ignored), std::move(changed)));
    w->ev_.reset(event_new(base, w->fd_.get(), EV_READ | EV_PERSIST, on_read, w.get()));
    if (!w->ev_ || event_add(w->ev_.get(), nullptr) != 0) return Error{"inotify: cannot add to the event loop"};
    for (const auto& p : paths) w->add_root(p);
    return w;
}

FileWatch::FileWatch(UniqueFd fd, Ignored ignored, Changed changed)
    : fd_(std::move(fd)), ignored_(std::move(ignored)), changed_(std::move(changed)) {}

FileWatch::~FileWatch() = default;  // closing the inotify fd drops every watch

void FileWatch::add_root(const std::string& path) {
    if (is_dir(path)) {
        add_tree(path, path);
        return;
    }
    namespace fs = std::filesystem;
    fs::path p(path);
    add_one(p.parent_path().string(), path, p.filename().string());
}

void FileWatch::add_tree(const std::string& dir, const std::string& root) {
    if (dir != root && ignored_(dir, root)) return;
    if (!add_one(dir, root, "")) return;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        problem(dir + ": " + std::strerror(errno));
        return;
    }
    std::vector<std::string> subdirs;
    while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string full = dir + "/" + std::string(name);
        // Symlinked folders are not followed: a link back up the tree would never end.
        if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN && is_dir(full))) subdirs.push_back(std::move(full));
    }
    ::closedir(d);
    for (const auto& s : subdirs) add_tree(s, root);
}

bool FileWatch::add_one(const std::string& dir, const std::string& root, const std::string& only_name) {
    int wd = ::inotify_add_watch(fd_.get(), dir.c_str(), kChanges | IN_ONLYDIR | IN_DONT_FOLLOW);
    if (wd < 0) {
        problem(dir + ": " + std::strerror(errno) +
                (errno == ENOSPC ? " (fs.inotify.max_user_watches reached; add ignore_watch patterns or raise it)" : ""));
        return false;
    }
    dirs_[wd] = Dir{dir, root, only_name};
    return true;
}

void FileWatch::problem(const std::string& what) {
    if (problems_.size() < kMaxProblems) problems_.push_back(what);
}

void FileWatch::on_read(evutil_socket_t, short, void* self) {
    try {
        static_cast<FileWatch*>(self)->on_readable();
    } catch (const std::exception& e) {
        spdlog::error("watch: {}", e.what());
    }
}

void FileWatch::on_readable() {
    alignas(inotify_event) char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd_.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // EAGAIN: drained
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            p += sizeof(inotify_event) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                // Events were lost: something changed, which is all a restart needs to know.
                if (!dirs_.empty()) changed_(dirs_.begin()->second.root);
                continue;
            }
            auto it = dirs_.find(ev->wd);
            if (it == dirs_.end()) continue;
            if (ev->mask & IN_IGNORED) {  // the folder is gone (or unmounted)
                dirs_.erase(it);
                continue;
            }
            const Dir dir = it->second;  // a copy: add_tree below adds to dirs_
            const std::string name = ev->len ? std::string(ev->name) : std::string();
            if (!dir.only_name.empty() && name != dir.only_name) continue;
            const std::string full = name.empty() ? dir.path : dir.path + "/" + name;
            if (ignored_(full, dir.root)) continue;
            if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && dir.only_name.empty())
                add_tree(full, dir.root);
            changed_(full);
        }
    }
}

}  // namespace ne::supervisor
