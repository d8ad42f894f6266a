// Cache files as a HIT reads them (a small file whole in one read, a large one up to its
// body), and file ranges copied into an output buffer (file_body's append_file_range).
#include <event2/buffer.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ipc/event_ptr.h"
#include "proxy/cache/file.h"
#include "proxy/cache/loader.h"
#include "proxy/cache/purge.h"
#include "proxy/static/file_body.h"

namespace ne::proxy {
namespace {

class CacheFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/nodeedge-cache-file-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        auto fd = CacheIndex::create();
        ASSERT_TRUE(fd.ok()) << fd.error().message;
        auto index = CacheIndex::attach(fd->get());
        ASSERT_TRUE(index.ok()) << index.error().message;
        store_.emplace(CacheStore{std::move(*index), dir_});
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // Stores `body` under `key` as a proxied response would, and returns its file id.
    uint64_t store(std::string_view key, const std::string& body) {
        const uint64_t k = store_->index.key_hash(key);
        auto claim = store_->index.consult(k, 1000, 5000);
        EXPECT_TRUE(claim.ok());
        const std::vector<Header> headers = {{"Content-Type", "application/json"}, {"ETag", "\"v1\""}};
        CacheSlot slot{k, store_->index.scope_hash("test"), 1 << 20, 60000, "test"};
        auto w = CacheWriter::open(*store_, slot, key, 200, headers, nullptr);
        EXPECT_TRUE(w.ok()) << w.error().message;
        std::string passed;
        StringSink sink(passed);
        EXPECT_TRUE((*w)->feed(body, sink).ok());
        EXPECT_TRUE((*w)->finish(sink).ok());
        EXPECT_EQ(passed, body) << "the writer passes the body on unchanged";
        auto l = store_->index.consult(k, 2000, 5000);
        EXPECT_TRUE(l.ok());
        EXPECT_EQ(l->found, CacheIndex::Found::fresh);
        return l->file_id;
    }

    std::string dir_;
    std::optional<CacheStore> store_;
};

void write_bytes(const std::string& path, const std::string& bytes) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_EQ(::write(fd.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

std::string read_range(int fd, uint64_t offset, uint64_t length) {
    std::string out(length, '\0');
    EXPECT_EQ(::pread(fd, out.data(), length, static_cast<off_t>(offset)), static_cast<ssize_t>(length));
    return out;
}

TEST_F(CacheFileTest, ANewIndexIsRebuiltFromTheFilesAndPurgeRemovesThem) {
    const uint64_t a = store("http://h/a", "alpha");
    const uint64_t b = store("http://h/b", "beta");
    write_bytes(dir_ + "/tmp-1-1", "an unfinished fill");
    // A new daemon: a fresh index, loaded from the folder.
    auto fd = CacheIndex::create();
    ASSERT_TRUE(fd.ok());
    auto loader = CacheLoader::start(fd->get(), dir_);
    ASSERT_TRUE(loader.ok()) << loader.error().message;
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/tmp-1-1"));
    while ((*loader)->step()) {
    }
    EXPECT_EQ((*loader)->loaded(), 2u);
    auto index = CacheIndex::attach(fd->get());
    ASSERT_TRUE(index.ok());
    CacheStore fresh{std::move(*index), dir_};
    auto l = fresh.index.consult(fresh.index.key_hash("http://h/a"), 2000, 5000);
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(l->found, CacheIndex::Found::fresh);
    EXPECT_EQ(l->file_id, a);
    EXPECT_EQ(fresh.index.scope_bytes(fresh.index.scope_hash("test")),
              std::filesystem::file_size(fresh.file_path(a)) + std::filesystem::file_size(fresh.file_path(b)));
    auto next = fresh.index.next_file_id();
    ASSERT_TRUE(next.ok());
    EXPECT_GT(*next, std::max(a, b)) << "file numbers continue above the files found";

    // Purge by prefix: b stays. A location no file names purges nothing.
    auto purged = purge_cache(fd->get(), dir_, "", "http://h/a");
    ASSERT_TRUE(purged.ok()) << purged.error().message;
    EXPECT_EQ(*purged, 1u);
    EXPECT_FALSE(std::filesystem::exists(fresh.file_path(a)));
    EXPECT_EQ(fresh.index.consult(fresh.index.key_hash("http://h/a"), 3000, 5000)->found, CacheIndex::Found::missing);
    EXPECT_EQ(*purge_cache(fd->get(), dir_, "/nowhere/", ""), 0u);
    EXPECT_EQ(fresh.index.consult(fresh.index.key_hash("http://h/b"), 3000, 5000)->found, CacheIndex::Found::fresh);
}

TEST_F(CacheFileTest, ASmallFileIsReadWholeWithItsBody) {
    const std::string body(7520, 'j');
    const uint64_t id = store("http://a/small", body);
    auto r = open_cached(*store_, id, "http://a/small");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200);
    ASSERT_EQ(r->headers.size(), 2u);
    EXPECT_EQ(r->headers[0].name, "Content-Type");
    EXPECT_EQ(r->headers[0].value, "application/json");
    EXPECT_EQ(r->headers[1].value, "\"v1\"");
    EXPECT_EQ(r->body_length, body.size());
    EXPECT_EQ(r->body, body);
    EXPECT_EQ(read_range(r->fd.get(), r->body_offset, r->body_length), body) << "the offset still serves gzip";
}

TEST_F(CacheFileTest, ALargeFileIsReadUpToItsBodyWhichStaysInTheFile) {
    std::string body;
    for (int i = 0; body.size() < kCacheReadWhole * 3; ++i) body += std::to_string(i) + ",";
    const uint64_t id = store("http://a/large", body);
    auto r = open_cached(*store_, id, "http://a/large");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_TRUE(r->body.empty());
    ASSERT_EQ(r->body_length, body.size());
    EXPECT_EQ(read_range(r->fd.get(), r->body_offset, r->body_length), body);
    EXPECT_EQ(r->headers.size(), 2u);
}

TEST_F(CacheFileTest, AnEmptyBodyIsWhole) {
    const uint64_t id = store("http://a/empty", "");
    auto r = open_cached(*store_, id, "http://a/empty");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->body_length, 0u);
    EXPECT_TRUE(r->body.empty());
}

TEST_F(CacheFileTest, AnotherKeyOrADamagedFileIsRefused) {
    const uint64_t id = store("http://a/x", "body");
    auto other = open_cached(*store_, id, "http://a/y");
    ASSERT_FALSE(other.ok());
    EXPECT_NE(other.error().message.find("holds another key"), std::string::npos) << other.error().message;

    // Cut inside the stored head: the lengths in the file no longer fit it.
    const std::string path = store_->file_path(id);
    ASSERT_EQ(::truncate(path.c_str(), 40), 0);
    auto cut = open_cached(*store_, id, "http://a/x");
    ASSERT_FALSE(cut.ok());
    EXPECT_NE(cut.error().message.find("is not a cache file"), std::string::npos) << cut.error().message;

    auto gone = open_cached(*store_, id + 1000, "http://a/x");
    ASSERT_FALSE(gone.ok());
    EXPECT_NE(gone.error().message.find("cache: open"), std::string::npos) << gone.error().message;
}

TEST(AppendFileRange, CopiesTheRangeBehindWhatTheOutputHolds) {
    char path[] = "/tmp/nodeedge-range-XXXXXX";
    UniqueFd fd(::mkstemp(path));
    ASSERT_TRUE(fd);
    ::unlink(path);
    const std::string content = "0123456789abcdefghij";
    ASSERT_EQ(::write(fd.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
    EvbufferPtr out(evbuffer_new());
    evbuffer_add(out.get(), "HEAD|", 5);
    ASSERT_TRUE(append_file_range(out.get(), fd.get(), "f", 3, 10).ok());
    std::string got(evbuffer_get_length(out.get()), '\0');
    evbuffer_copyout(out.get(), got.data(), got.size());
    EXPECT_EQ(got, "HEAD|3456789abc");

    auto shrank = append_file_range(out.get(), fd.get(), "f", 15, 10);
    ASSERT_FALSE(shrank.ok());
    EXPECT_EQ(shrank.error().message, "read f: file shrank");
    EXPECT_EQ(evbuffer_get_length(out.get()), got.size()) << "nothing committed from a failed read";
}

}  // namespace
}  // namespace ne::proxy
