// FileWatch on a real inotify descriptor and a real loop, over a temporary tree: changes are
// reported with their paths, folders created later are watched too, ignored folders are never
// entered, and a watched file survives being replaced by a rename.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ipc/event_ptr.h"
#include "supervisor/file_watch.h"

namespace ne::supervisor {
namespace file_watch_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FileWatchTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ne-watch-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root_ = tmpl;
        fs::create_directories(root_ + "/src/deep");
        fs::create_directories(root_ + "/skip/inner");
    }
    void TearDown() override { fs::remove_all(root_); }

    void open(const std::vector<std::string>& paths) {
        auto w = FileWatch::open(
            base_.get(), paths, [this](const std::string& path, const std::string&) { return path.find("/skip") != std::string::npos; },
            [this](const std::string& path) { seen_.push_back(path); });
        ASSERT_TRUE(w.ok()) << w.error().message;
        watch_ = std::move(*w);
    }

    static void write(const std::string& path) { std::ofstream(path, std::ios::app) << "x\n"; }

    // Runs the loop until `path` was reported (true) or a second passed.
    bool reported(const std::string& path) {
        for (int i = 0; i < 20; ++i) {
            if (std::find(seen_.begin(), seen_.end(), path) != seen_.end()) return true;
            timeval tv{0, 50000};
            event_base_loopexit(base_.get(), &tv);
            event_base_dispatch(base_.get());
        }
        return std::find(seen_.begin(), seen_.end(), path) != seen_.end();
    }

    // Runs the loop long enough for any pending event to be read.
    void drain() {
        timeval tv{0, 200000};
        event_base_loopexit(base_.get(), &tv);
        event_base_dispatch(base_.get());
    }

    std::string root_;
    EventBasePtr base_{event_base_new()};
    std::unique_ptr<FileWatch> watch_;
    std::vector<std::string> seen_;
};

TEST_F(FileWatchTest, ReportsChangesAnywhereInTheTreeButNeverEntersIgnoredFolders) {
    open({root_});
    EXPECT_EQ(watch_->watched_folders(), 3u);  // root, src, src/deep; not skip or skip/inner
    EXPECT_TRUE(watch_->problems().empty());
    write(root_ + "/src/deep/a.js");
    EXPECT_TRUE(reported(root_ + "/src/deep/a.js"));
    seen_.clear();
    write(root_ + "/skip/inner/b.js");
    drain();
    EXPECT_TRUE(seen_.empty()) << seen_.front();
}

TEST_F(FileWatchTest, FoldersCreatedLaterAreWatched) {
    open({root_});
    fs::create_directories(root_ + "/new");
    EXPECT_TRUE(reported(root_ + "/new"));
    write(root_ + "/new/c.js");
    EXPECT_TRUE(reported(root_ + "/new/c.js"));
    fs::remove_all(root_ + "/src");
    EXPECT_TRUE(reported(root_ + "/src"));
    drain();  // the folders' own IN_IGNORED may come in a later read
    EXPECT_EQ(watch_->watched_folders(), 2u) << "a deleted folder's watches are dropped";
}

TEST_F(FileWatchTest, AWatchedFileIsSeenThroughItsFolderAlsoWhenReplacedByARename) {
    write(root_ + "/config.json");
    open({root_ + "/config.json"});
    write(root_ + "/other.json");
    drain();
    EXPECT_TRUE(seen_.empty()) << "only the watched file counts, not its neighbours";
    write(root_ + "/config.json.tmp");
    fs::rename(root_ + "/config.json.tmp", root_ + "/config.json");  // an editor's save
    EXPECT_TRUE(reported(root_ + "/config.json"));
    seen_.clear();
    write(root_ + "/config.json");
    EXPECT_TRUE(reported(root_ + "/config.json"));
}

TEST_F(FileWatchTest, AMissingPathIsAProblemNotAnError) {
    open({root_ + "/nope/at/all"});
    ASSERT_EQ(watch_->problems().size(), 1u);
    EXPECT_NE(watch_->problems()[0].find(root_ + "/nope/at: No such file or directory"), std::string::npos)
        << watch_->problems()[0];
}

}  // namespace file_watch_test
}  // namespace ne::supervisor
