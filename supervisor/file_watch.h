// PM2's watch, on inotify: reports each change (a file created, written, deleted, moved, its
// metadata changed) under some folders, on the daemon's loop. inotify watches one folder, not
// a tree, so every subfolder gets its own watch, including those created later (a change is
// reported for the new folder itself, so what it held before its watch existed is covered).
// Ignored folders are not descended into at all (node_modules can hold tens of thousands),
// as chokidar skips them. A watched path that is a file (or does not exist yet) is watched
// through its parent folder, so an editor replacing it by a rename is still seen.
#pragma once

#include <event2/event.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

class FileWatch {
public:
    // Whether a change at `path` (absolute, under the watched path `root`) is to be ignored.
    using Ignored = std::function<bool(const std::string& path, const std::string& root)>;
    // Called from the loop; it must not destroy the FileWatch (arm a timer instead).
    using Changed = std::function<void(const std::string& path)>;

    // Errors: inotify itself unavailable. A path that cannot be watched (gone, no permission,
    // fs.inotify.max_user_watches reached) is not fatal: it is listed in problems().
    static Result<std::unique_ptr<FileWatch>> open(event_base* base, const std::vector<std::string>& paths,
                                                   Ignored ignored, Changed changed);
    ~FileWatch();

    // "path: reason" for each folder that could not be watched, oldest first (capped).
    const std::vector<std::string>& problems() const { return problems_; }
    size_t watched_folders() const { return dirs_.size(); }

private:
    struct Dir {
        std::string path;
        std::string root;       // the watched path it belongs to
        std::string only_name;  // watching a file through its folder: only this entry counts
    };

    FileWatch(UniqueFd fd, Ignored ignored, Changed changed);
    void add_root(const std::string& path);
    void add_tree(const std::string& dir, const std::string& root);
    bool add_one(const std::string& dir, const std::string& root, const std::string& only_name);
    void problem(const std::string& what);
    void on_readable();
    static void on_read(evutil_socket_t, short, void* self);

    UniqueFd fd_;
    EventPtr ev_;
    Ignored ignored_;
    Changed changed_;
    std::map<int, Dir> dirs_;   // by inotify watch descriptor
    std::vector<std::string> problems_;
};

}  // namespace ne::supervisor
