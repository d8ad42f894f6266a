// memory.h against real processes: a child whose grandchild holds 50 MiB, a child forked by
// a second thread, a reaped pid, and the test process's own CPU time.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <future>
#include <thread>

#include "supervisor/memory.h"

namespace ne::supervisor {
namespace {

constexpr size_t kHog = 50u << 20;

bool contains(const std::vector<pid_t>& v, pid_t p) { return std::find(v.begin(), v.end(), p) != v.end(); }

// A child (its own process group) whose child touches kHog bytes and reports its pid once
// they are resident. Both sleep until killed.
struct HogTree {
    pid_t child = -1;
    pid_t grandchild = -1;

    HogTree() {
        int fds[2];
        if (pipe(fds) != 0) return;
        child = fork();
        if (child == 0) {
            setpgid(0, 0);
            if (fork() == 0) {
                char* p = static_cast<char*>(std::malloc(kHog));
                if (p == nullptr) _exit(1);
                // Volatile page touches: an optimised build may drop a memset of memory that is
                // never read, leaving nothing resident.
                volatile char* touch = p;
                for (size_t i = 0; i < kHog; i += 4096) touch[i] = 1;
                pid_t self = getpid();
                if (write(fds[1], &self, sizeof self) != sizeof self) _exit(1);
                for (;;) pause();
            }
            for (;;) pause();
        }
        close(fds[1]);
        if (read(fds[0], &grandchild, sizeof grandchild) != sizeof grandchild) grandchild = -1;
        close(fds[0]);
    }
    ~HogTree() {
        if (child <= 0) return;
        kill(-child, SIGKILL);
        kill(child, SIGKILL);  // in case it died before it made its own group
        waitpid(child, nullptr, 0);
    }
};

TEST(Memory, TreeHoldsChildAndGrandchild) {
    HogTree t;
    ASSERT_GT(t.child, 0);
    ASSERT_GT(t.grandchild, 0);
    EXPECT_EQ(process_tree(t.child), (std::vector<pid_t>{t.child, t.grandchild}));
    EXPECT_EQ(process_tree(t.grandchild), (std::vector<pid_t>{t.grandchild}));
}

TEST(Memory, RssSumsTheTree) {
    HogTree t;
    ASSERT_GT(t.grandchild, 0);
    const uint64_t grandchild_rss = tree_rss_bytes(t.grandchild);
    const uint64_t tree_rss = tree_rss_bytes(t.child);
    EXPECT_GE(grandchild_rss, kHog);
    EXPECT_GT(tree_rss, grandchild_rss);  // the child's own pages come on top
}

TEST(Memory, ChildForkedByAnotherThreadIsInTheTree) {
    std::promise<pid_t> forked;
    std::promise<void> done;
    std::thread t([&] {
        pid_t kid = fork();
        if (kid == 0) {
            for (;;) pause();
        }
        forked.set_value(kid);
        done.get_future().wait();  // a thread's children move to another thread when it exits
    });
    pid_t kid = forked.get_future().get();
    ASSERT_GT(kid, 0);
    EXPECT_TRUE(contains(process_tree(getpid()), kid));
    done.set_value();
    t.join();
    kill(kid, SIGKILL);
    waitpid(kid, nullptr, 0);
}

TEST(Memory, GonePidHasNoTree) {
    pid_t kid = fork();
    if (kid == 0) _exit(0);
    ASSERT_GT(kid, 0);
    waitpid(kid, nullptr, 0);
    EXPECT_TRUE(process_tree(kid).empty());
    EXPECT_EQ(tree_rss_bytes(kid), 0u);
    EXPECT_EQ(tree_cpu_ticks(kid), 0u);
    EXPECT_FALSE(read_proc_stat(kid).has_value());
}

TEST(Memory, CpuTicksAgreeWithTimes) {
    auto own_ticks = [] {
        tms t{};
        times(&t);
        return static_cast<uint64_t>(t.tms_utime + t.tms_stime);
    };
    // Burn CPU until the kernel has counted some, so that the comparison is not 0 <= 0 <= 0.
    const uint64_t start = own_ticks();
    volatile uint64_t sink = 0;
    while (own_ticks() < start + 3) {
        for (int i = 0; i < 100000; ++i) sink = sink + static_cast<uint64_t>(i);
    }
    const uint64_t before = own_ticks();
    const uint64_t sampled = tree_cpu_ticks(getpid());
    const uint64_t after = own_ticks();
    EXPECT_GE(sampled, before);
    EXPECT_LE(sampled, after);
}

TEST(Memory, ProcStatOfSelf) {
    auto st = read_proc_stat(getpid());
    ASSERT_TRUE(st.has_value());
    EXPECT_EQ(st->ppid, getppid());
    EXPECT_GT(st->start_ticks, 0u);
}

TEST(Memory, CpuPercent) {
    const uint64_t hz = static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
    EXPECT_DOUBLE_EQ(cpu_percent(0, hz, 1.0), 100.0);
    EXPECT_DOUBLE_EQ(cpu_percent(hz, 2 * hz, 2.0), 50.0);
    EXPECT_DOUBLE_EQ(cpu_percent(0, 4 * hz, 2.0), 200.0);  // two busy cores
    EXPECT_DOUBLE_EQ(cpu_percent(0, hz, 0.0), 0.0);
    EXPECT_DOUBLE_EQ(cpu_percent(2 * hz, hz, 1.0), 0.0);
}

}  // namespace
}  // namespace ne::supervisor
