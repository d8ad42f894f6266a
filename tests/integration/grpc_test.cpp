// gRPC through the proxy (a location with `grpc = true`): @grpc/grpc-js clients reach a
// grpc-js server over TLS + HTTP/2 to the proxy and h2c to the app; every kind of call
// streams, grpc-status and trailers come back, a reload loses no call, the proxy's own
// errors arrive as gRPC statuses; and request trailers pass to an HTTP/1.1 app, from an
// HTTP/2 client and from a chunked HTTP/1.1 one.
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "integration/harness.h"
#include "integration/tls_support.h"

namespace ne::itest {
namespace {

constexpr const char* kGrpcConfig = R"([proxy]
workers = 1

[[apps]]
name = "grpc"
script = "${APPS}/grpc_server.js"
port = ${GRPC}
instances = 2

[[apps]]
name = "trailers"
script = "${APPS}/trailers.js"
port = ${TRAILERS}

[[upstreams]]
name = "gone"
servers = [ { address = "127.0.0.1:${GONE}" } ]

[[servers]]
listen = ["127.0.0.1:${TLS}"]
server_name = ["grpc.test"]
tls = { cert = "grpc.pem", key = "grpc.key" }
http2 = true

[[servers.locations]]
path = "/nodeedge.test.Echo/"
app = "grpc"
grpc = true

[[servers.locations]]
path = "/gone.Service/"
upstream = "gone"
grpc = true

[[servers.locations]]
path = "/"
app = "trailers"

[[servers]]
listen = ["127.0.0.1:${PLAIN}"]

[[servers.locations]]
path = "/"
app = "trailers"
)";

class GrpcTest : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        make_cert(dir(), "grpc", "grpc.test");
        tls = free_port();
        plain = free_port();
        config = write_file("ecosystem.toml", kGrpcConfig,
                            {{"GRPC", std::to_string(free_port_range(2))},
                             {"TRAILERS", std::to_string(free_port())},
                             {"GONE", std::to_string(free_port())},
                             {"TLS", std::to_string(tls)},
                             {"PLAIN", std::to_string(plain)}});
        RunResult r = run("start", config);
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }

    // node grpc_client.js with the test's address and certificate.
    RunResult grpc_client(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 30s) {
        std::vector<std::string> argv{"node", std::string(NODEEDGE_SOURCE_DIR) + "/tests/integration/apps/grpc_client.js",
                                      "127.0.0.1:" + std::to_string(tls), "grpc.test", dir() + "/grpc.pem"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv, timeout);
    }

    int tls = 0;
    int plain = 0;
    std::string config;
};

TEST_F(GrpcTest, EveryKindOfCallStreamsThroughTlsAndH2) {
    const RunResult r = grpc_client({"all"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const json j = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out;
    EXPECT_EQ(j["unary"], "hello");
    EXPECT_GT(j["pid"].get<int>(), 0);
    EXPECT_EQ(j["server_stream"], json::array({0, 1, 2, 3, 4}));
    EXPECT_EQ(j["client_stream"], "a,b,c");
    EXPECT_EQ(j["bidi"], json::array({"x", "y", "z"}));
    // The app's status, message and trailer metadata arrive in the response trailers.
    EXPECT_EQ(j["fail"]["code"], 3) << r.out;
    EXPECT_EQ(j["fail"]["details"], "bad input");
    EXPECT_EQ(j["fail"]["detail"], "from-app");
}

TEST_F(GrpcTest, AReloadFailsNoCall) {
    const std::string stop = dir() + "/stop";
    RunResult calls;
    std::thread client([&] { calls = grpc_client({"loop", stop}, 60s); });
    // The loop is calling when the reload starts: its pids show in neither log, so wait for
    // the proxy to have served some.
    ASSERT_TRUE(wait_until([&] { return read_file(home() + "/logs/access.log").find("/nodeedge.test.Echo/") !=
                                        std::string::npos; }, 10s));
    const RunResult r = run("reload", config);
    write_bytes(stop, "");
    client.join();
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const json j = json::parse(calls.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << calls.out << calls.err;
    EXPECT_GT(j["ok"].get<int>(), 0) << calls.out;
    EXPECT_EQ(j["failed"], 0) << calls.out;
}

TEST_F(GrpcTest, TheProxysOwnErrorsAreGrpcStatuses) {
    // No backend listens: the proxy's 502 is a trailers-only UNAVAILABLE.
    const std::string out = curl("-sk --http2 -D - -o /dev/null -X POST -H 'content-type: application/grpc' "
                                 "--data-binary @/dev/null" + curl_resolve("grpc.test", tls) +
                                 "https://grpc.test:" + std::to_string(tls) + "/gone.Service/Call");
    EXPECT_NE(out.find("HTTP/2 200"), std::string::npos) << out;
    EXPECT_NE(out.find("grpc-status: 14"), std::string::npos) << out;
    EXPECT_NE(out.find("grpc-message: 502 Bad Gateway"), std::string::npos) << out;
}

TEST_F(GrpcTest, RequestTrailersReachAnHttp11App) {
    // From an HTTP/2 client: its trailing HEADERS become the chunked body's trailer section.
    const RunResult r = run_command({"node", std::string(NODEEDGE_SOURCE_DIR) + "/tests/integration/apps/h2_trailer_client.js",
                                     "https://127.0.0.1:" + std::to_string(tls) + "/sum", "grpc.test", "payload",
                                     "x-checksum", "abc123"});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out;
    EXPECT_EQ(j["body"], "payload");
    EXPECT_EQ(j["trailers"]["x-checksum"], "abc123") << r.out;

    // From a chunked HTTP/1.1 client: passed on as they came.
    const std::string raw = "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "4\r\nbody\r\n0\r\nX-Checksum: def456\r\n\r\n";
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
    ASSERT_TRUE(connect_loopback(fd.get(), plain));
    ASSERT_EQ(::write(fd.get(), raw.data(), raw.size()), static_cast<ssize_t>(raw.size()));
    std::string reply;
    char buf[4096];
    while (reply.find("}") == std::string::npos) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n <= 0) break;
        reply.append(buf, static_cast<size_t>(n));
    }
    j = json::parse(reply.substr(std::min(reply.find("\r\n\r\n") + 4, reply.size())), nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << reply;
    EXPECT_EQ(j["body"], "body");
    EXPECT_EQ(j["trailers"]["x-checksum"], "def456") << reply;
}

}  // namespace
}  // namespace ne::itest
