// HTTPS to the ACME directory, with libcurl (blocking: the job runs in its own process).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "ipc/result.h"

namespace ne::acme {

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers;   // names lower-cased; the last of each
    std::string body;
    std::string header(const std::string& name) const;
};

class HttpClient {
public:
    // `ca_bundle`: a PEM file of the CAs to trust for the directory ("" = the system's).
    explicit HttpClient(std::string ca_bundle);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    Result<HttpResponse> get(const std::string& url);
    Result<HttpResponse> head(const std::string& url);
    Result<HttpResponse> post_jose(const std::string& url, const std::string& body);

private:
    Result<HttpResponse> perform(const std::string& url, const std::string* post_body, bool head_only);
    std::string ca_bundle_;
    void* curl_;   // CURL*, reused so that connections are too
};

}  // namespace ne::acme
