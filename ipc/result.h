// Result<T>: a value or an Error carrying the context a user needs to act on it
// (file:line:col, app:i, errno text). Used on every config, IPC and spawn path.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace ne {

struct Error {
    // Failures that whoever reports the error must tell apart: the CLI exits 3 on no_daemon (as
    // `systemctl status` does for a unit that is not running), 1 on anything else.
    enum class Kind : unsigned char { failed, no_daemon };

    std::string message;
    Kind kind = Kind::failed;

    // "connect 127.0.0.1:3000: Connection refused" from a context and an errno.
    static Error from_errno(const std::string& context, int err = errno) {
        return Error{context + ": " + std::strerror(err)};
    }
    // Prefix more context: err.wrap("api:1") -> "api:1: <message>".
    Error wrap(const std::string& context) const { return Error{context + ": " + message, kind}; }
};

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : err_(std::move(error)), failed_(true) {}

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return err_; }

private:
    Error err_;
    bool failed_ = false;
};

using Status = Result<void>;

}  // namespace ne
