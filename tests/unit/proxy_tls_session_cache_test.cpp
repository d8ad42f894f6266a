#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "config/load.h"
#include "proxy/tls/context.h"
#include "proxy/tls/session_cache.h"
#include "unit/child_process.h"
#include "unit/config_test_dir.h"
#include "unit/tls_test_cert.h"

namespace ne::proxy {
namespace {

using ne::testing::in_child;
using ne::testing::wait_exit;

TlsSessionCache attach_new(size_t slots) {
    auto fd = TlsSessionCache::create(slots);
    EXPECT_TRUE(fd.ok()) << fd.error().message;
    auto cache = TlsSessionCache::attach(fd->get());
    EXPECT_TRUE(cache.ok()) << cache.error().message;
    return std::move(cache).value();
}

// The stored bytes of `id` at `now`, "" when there are none.
std::string get(TlsSessionCache& c, std::string_view id, int64_t now) {
    unsigned char out[TlsSessionCache::kMaxSessionBytes];
    auto n = c.get(id, now, out);
    EXPECT_TRUE(n.ok()) << n.error().message;
    return n.ok() ? std::string(reinterpret_cast<const char*>(out), *n) : std::string();
}

bool put(TlsSessionCache& c, std::string_view id, std::string_view der, int64_t expires, int64_t now = 0) {
    auto r = c.put(id, der, expires, now);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() && *r;
}

TEST(TlsSessionCache, CreateRefusesTooFewSlotsAndAttachRefusesStrangers) {
    auto few = TlsSessionCache::create(TlsSessionCache::kProbeWindow - 1);
    ASSERT_FALSE(few.ok());
    EXPECT_NE(few.error().message.find("too few"), std::string::npos) << few.error().message;

    UniqueFd zeros(::memfd_create("not-a-cache", MFD_CLOEXEC));
    ASSERT_TRUE(zeros.valid());
    ASSERT_EQ(::ftruncate(zeros.get(), 1 << 20), 0);
    auto stranger = TlsSessionCache::attach(zeros.get());
    ASSERT_FALSE(stranger.ok());
    EXPECT_NE(stranger.error().message.find("not a nodeedge TLS session cache"), std::string::npos)
        << stranger.error().message;
    EXPECT_NE(stranger.error().message.find("fd " + std::to_string(zeros.get())), std::string::npos);
}

TEST(TlsSessionCache, TheDefaultSizeIsBounded) {
    auto fd = TlsSessionCache::create();
    ASSERT_TRUE(fd.ok()) << fd.error().message;
    EXPECT_LE(::lseek(fd->get(), 0, SEEK_END), 16 * 1024 * 1024 + 4096);
    auto cache = TlsSessionCache::attach(fd->get());
    ASSERT_TRUE(cache.ok());
    EXPECT_EQ(cache->capacity(), TlsSessionCache::kSlots);
}

TEST(TlsSessionCache, StoresFindsAndRemovesByIdAcrossAttachments) {
    auto fd = TlsSessionCache::create(1024);
    ASSERT_TRUE(fd.ok());
    auto a = TlsSessionCache::attach(fd->get());
    auto b = TlsSessionCache::attach(fd->get());   // another proxy worker
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE(put(*a, "id-1", "session one", 100));
    ASSERT_TRUE(put(*a, "id-2", "session two", 100));
    EXPECT_EQ(get(*b, "id-1", 50), "session one");
    EXPECT_EQ(get(*b, "id-2", 50), "session two");
    EXPECT_EQ(get(*b, "id-3", 50), "");
    EXPECT_EQ(get(*b, "id-", 50), "");   // a prefix is another id

    ASSERT_TRUE(put(*b, "id-1", "replaced", 100));   // one entry per id
    EXPECT_EQ(get(*a, "id-1", 50), "replaced");
    ASSERT_TRUE(b->remove("id-1").ok());
    EXPECT_EQ(get(*a, "id-1", 50), "");
    EXPECT_EQ(get(*a, "id-2", 50), "session two");
}

TEST(TlsSessionCache, ASessionExpiresAtItsTimeout) {
    TlsSessionCache c = attach_new(64);
    ASSERT_TRUE(put(c, "id", "bytes", 300));
    EXPECT_EQ(get(c, "id", 299), "bytes");
    EXPECT_EQ(get(c, "id", 300), "");
    EXPECT_EQ(get(c, "id", 10), "");   // dropped when found expired, not just hidden
}

TEST(TlsSessionCache, RefusesOversizeSessionsAndBadIds) {
    TlsSessionCache c = attach_new(64);
    const std::string largest(TlsSessionCache::kMaxSessionBytes, 'x');
    EXPECT_TRUE(put(c, "big", largest, 100));
    EXPECT_EQ(get(c, "big", 0), largest);
    EXPECT_FALSE(put(c, "bigger", largest + "x", 100));
    EXPECT_EQ(get(c, "bigger", 0), "");
    EXPECT_FALSE(put(c, "", "bytes", 100));
    const std::string long_id(TlsSessionCache::kMaxIdBytes + 1, 'i');
    EXPECT_FALSE(put(c, long_id, "bytes", 100));
    EXPECT_TRUE(put(c, long_id.substr(1), "bytes", 100));
}

TEST(TlsSessionCache, AFullWindowGivesUpTheSessionThatExpiresFirst) {
    TlsSessionCache c = attach_new(TlsSessionCache::kProbeWindow);   // every id shares one window
    const int n = static_cast<int>(TlsSessionCache::kProbeWindow);
    for (int i = 0; i < n; ++i) ASSERT_TRUE(put(c, "id" + std::to_string(i), "s", 1000 + (i == 3 ? 0 : 10 + i)));
    ASSERT_TRUE(put(c, "newcomer", "s", 2000, 100));
    EXPECT_EQ(get(c, "id3", 100), "");   // the soonest to expire went
    for (int i = 0; i < n; ++i)
        if (i != 3) EXPECT_EQ(get(c, "id" + std::to_string(i), 100), "s") << i;
    EXPECT_EQ(get(c, "newcomer", 100), "s");

    // An expired session goes before any live one, whenever it would have expired.
    ASSERT_TRUE(put(c, "id0", "s", 50));
    ASSERT_TRUE(put(c, "second", "s", 2000, 100));
    EXPECT_EQ(get(c, "id0", 40), "");
    EXPECT_EQ(get(c, "id1", 100), "s");
}

TEST(TlsSessionCache, AWriterKilledUnderTheLockLosesOnlyItsSlot) {
    auto fd = TlsSessionCache::create(64);
    ASSERT_TRUE(fd.ok());
    auto c = TlsSessionCache::attach(fd->get());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(put(*c, "victim", "old session", 100));
    ASSERT_TRUE(put(*c, "other", "other session", 100));

    // The child dies while it writes the victim's slot: holding the lock, the bytes half new.
    const pid_t child = in_child([&] {
        auto mine = TlsSessionCache::attach(fd->get());
        if (!mine.ok()) return 2;
        (void)mine->put("victim", 20, 100, 0, [](unsigned char* out) {
            out[0] = 'X';
            ::_exit(0);
        });
        return 3;
    });
    ASSERT_EQ(wait_exit(child), 0);

    EXPECT_EQ(get(*c, "victim", 0), "");   // forgotten, not served half written
    EXPECT_EQ(get(*c, "other", 0), "other session");
    EXPECT_TRUE(put(*c, "victim", "new session", 100));   // and the lock works as before
    EXPECT_EQ(get(*c, "victim", 0), "new session");
}

// ---- with OpenSSL: real handshakes over memory BIOs ----

struct SslCtxDeleter { void operator()(SSL_CTX* c) const { SSL_CTX_free(c); } };
struct SslDeleter { void operator()(SSL* s) const { SSL_free(s); } };
struct SessionDeleter { void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); } };
using CtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionDeleter>;

class TlsSessionCacheHandshake : public ::testing::TestWithParam<int> {
protected:
    void SetUp() override {
        ASSERT_TRUE(tls_testing::write_test_cert(dir.file("a.pem"), dir.file("a.key"), "a.test"));
        auto fd = TlsSessionCache::create(1024);
        ASSERT_TRUE(fd.ok());
        zone = std::move(*fd);
    }

    // A server context as a proxy worker makes it, on its own attachment of the zone.
    CtxPtr server(TlsSessionCache& sessions) {
        CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
        EXPECT_EQ(SSL_CTX_use_certificate_chain_file(ctx.get(), dir.file("a.pem").c_str()), 1);
        EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx.get(), dir.file("a.key").c_str(), SSL_FILETYPE_PEM), 1);
        SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
        SSL_CTX_set_session_id_context(ctx.get(), reinterpret_cast<const unsigned char*>("test"), 4);
        sessions.serve(ctx.get());
        return ctx;
    }

    struct Handshake {
        SessionPtr client;   // to offer next time
        SessionPtr server;   // what the server stored last (TLS 1.3: the last ticket's)
        bool reused = false;
    };
    // One handshake (and, for TLS 1.3, the tickets after it) offering `resume`.
    Handshake connect(SSL_CTX* server_ctx, SSL_SESSION* resume) {
        CtxPtr client_ctx(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_set_min_proto_version(client_ctx.get(), GetParam());
        SSL_CTX_set_max_proto_version(client_ctx.get(), GetParam());
        SslPtr s(SSL_new(server_ctx)), c(SSL_new(client_ctx.get()));
        BIO *sb = nullptr, *cb = nullptr;
        EXPECT_EQ(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
        SSL_set_bio(s.get(), sb, sb);
        SSL_set_bio(c.get(), cb, cb);
        SSL_set_accept_state(s.get());
        SSL_set_connect_state(c.get());
        SSL_set_tlsext_host_name(c.get(), "a.test");
        if (resume) SSL_set_session(c.get(), resume);
        char byte;
        for (int i = 0; i < 20; ++i) {   // a handshake takes a few round trips
            SSL_do_handshake(c.get());
            SSL_do_handshake(s.get());
            SSL_read(c.get(), &byte, 1);   // takes TLS 1.3 tickets
        }
        ERR_clear_error();
        EXPECT_TRUE(SSL_is_init_finished(s.get()) && SSL_is_init_finished(c.get()));
        // A connection freed without close_notify drops its session as possibly bad (both
        // ends); the proxy sends it (relay.cpp keep_tls_session), so does this test.
        SSL_shutdown(s.get());
        SSL_shutdown(c.get());
        EXPECT_EQ(SSL_version(s.get()), GetParam());
        return {SessionPtr(SSL_get1_session(c.get())), SessionPtr(SSL_get1_session(s.get())),
                SSL_session_reused(s.get()) == 1};
    }

    config::testing::TestDir dir;
    UniqueFd zone;
};

TEST_P(TlsSessionCacheHandshake, AnotherWorkerResumesTheSession) {
    auto first = TlsSessionCache::attach(zone.get());
    auto second = TlsSessionCache::attach(zone.get());
    ASSERT_TRUE(first.ok() && second.ok());
    CtxPtr worker1 = server(*first), worker2 = server(*second);

    Handshake full = connect(worker1.get(), nullptr);
    ASSERT_TRUE(full.client);
    EXPECT_FALSE(full.reused);
    EXPECT_EQ(SSL_CTX_sess_number(worker1.get()), 0);   // nothing in OpenSSL's own cache
    Handshake again = connect(worker2.get(), full.client.get());
    EXPECT_TRUE(again.reused);
    EXPECT_TRUE(connect(worker1.get(), again.client.get()).reused);
}

TEST_P(TlsSessionCacheHandshake, ARemovedSessionIsNotResumed) {
    auto sessions = TlsSessionCache::attach(zone.get());
    ASSERT_TRUE(sessions.ok());
    CtxPtr ctx = server(*sessions);
    Handshake full = connect(ctx.get(), nullptr);
    ASSERT_TRUE(full.client);
    Handshake resumed = connect(ctx.get(), full.client.get());
    ASSERT_TRUE(resumed.reused && resumed.server);
    // As OpenSSL does after a fatal alert: the remove callback forgets it for every worker.
    SSL_CTX_remove_session(ctx.get(), resumed.server.get());
    EXPECT_FALSE(connect(ctx.get(), resumed.client.get()).reused);
}

// The proxy's own contexts with `session_tickets = true`: a ticket sealed by one worker opens
// on another (the keys are in the zone), and the session cache is not what resumed it.
TEST_P(TlsSessionCacheHandshake, ATicketFromOneWorkerResumesOnAnother) {
    dir.write("app.js", "");
    auto cfg = config::load_string(R"([[servers]]
listen = ["127.0.0.1:8443"]
tls = { cert = "a.pem", key = "a.key", session_tickets = true, session_timeout = "1d" }
)", dir.file("ecosystem.toml"));
    ASSERT_TRUE(cfg.ok()) << cfg.error().message;
    auto first = TlsSessionCache::attach(zone.get());
    auto second = TlsSessionCache::attach(zone.get());
    ASSERT_TRUE(first.ok() && second.ok());
    auto keys = config::read_tls_files(*cfg);
    ASSERT_TRUE(keys.ok()) << keys.error().message;
    auto worker1 = TlsContexts::build(*cfg, *keys, &*first);
    auto worker2 = TlsContexts::build(*cfg, *keys, &*second);
    ASSERT_TRUE(worker1.ok() && worker2.ok());
    EXPECT_EQ(SSL_CTX_get_timeout(worker1->context(0)), 86400);

    Handshake full = connect(worker1->context(0), nullptr);
    ASSERT_TRUE(full.client);
    EXPECT_FALSE(full.reused);
    EXPECT_EQ(SSL_SESSION_has_ticket(full.client.get()), 1);
    // Out of the cache: only the ticket can resume it now.
    unsigned int id_len = 0;
    const unsigned char* id = SSL_SESSION_get_id(full.server.get(), &id_len);
    ASSERT_TRUE(first->remove({reinterpret_cast<const char*>(id), id_len}).ok());
    EXPECT_TRUE(connect(worker2->context(0), full.client.get()).reused);
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsSessionCacheHandshake, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const auto& info) { return info.param == TLS1_2_VERSION ? "Tls12" : "Tls13"; });

TEST(TlsSessionCache, ARealSessionWithALongHostNameFits) {
    // The largest server session: a 253-byte SNI name (the longest DNS name) and ALPN.
    SessionPtr s(SSL_SESSION_new());
    const std::string host(253, 'h');
    const unsigned char master_key[48] = {1};
    const unsigned char id[32] = {2};
    const unsigned char sid_ctx[32] = {3};
    ASSERT_EQ(SSL_SESSION_set1_hostname(s.get(), host.c_str()), 1);
    ASSERT_EQ(SSL_SESSION_set1_alpn_selected(s.get(), reinterpret_cast<const unsigned char*>("http/1.1"), 8), 1);
    ASSERT_EQ(SSL_SESSION_set1_master_key(s.get(), master_key, sizeof master_key), 1);
    ASSERT_EQ(SSL_SESSION_set1_id(s.get(), id, sizeof id), 1);
    ASSERT_EQ(SSL_SESSION_set1_id_context(s.get(), sid_ctx, sizeof sid_ctx), 1);
    ASSERT_EQ(SSL_SESSION_set_protocol_version(s.get(), TLS1_3_VERSION), 1);
    CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    SslPtr ssl(SSL_new(ctx.get()));
    const SSL_CIPHER* aes256 = SSL_CIPHER_find(ssl.get(), reinterpret_cast<const unsigned char*>("\x13\x02"));
    ASSERT_EQ(SSL_SESSION_set_cipher(s.get(), aes256), 1);
    SSL_SESSION_set_time(s.get(), ::time(nullptr));
    SSL_SESSION_set_timeout(s.get(), 300);

    TlsSessionCache c = attach_new(64);
    auto saved = c.save(s.get());
    ASSERT_TRUE(saved.ok());
    EXPECT_TRUE(*saved) << i2d_SSL_SESSION(s.get(), nullptr) << " bytes";
    SessionPtr back(c.load({reinterpret_cast<const char*>(id), sizeof id}, ::time(nullptr)));
    ASSERT_TRUE(back);
    EXPECT_STREQ(SSL_SESSION_get0_hostname(back.get()), host.c_str());
}

TEST(TlsSessionCache, BytesThatAreNotASessionAreDropped) {
    TlsSessionCache c = attach_new(64);
    ASSERT_TRUE(put(c, "id", "\x30\x03garbage", 100));
    EXPECT_EQ(c.load("id", 0), nullptr);
    EXPECT_EQ(ERR_peek_error(), 0u);   // no stray error for the connection to trip on
    EXPECT_EQ(get(c, "id", 0), "");
}

}  // namespace
}  // namespace ne::proxy
