#include "proxy/cache/file.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>

#include "proxy/cache/policy.h"

namespace ne::proxy {

namespace {

constexpr std::string_view kMagic = "NECACHE2\n";

// After the magic: key length, head length, status, scope length, each as 8 hex digits, and
// the expiry (ms since the epoch) as 16; then the key, the scope and the head.
constexpr size_t kFixed = kMagic.size() + 4 * 8 + 16;

void put_hex16(std::string& out, uint64_t v) {
    char buf[16];
    for (int i = 15; i >= 0; --i, v >>= 4) buf[i] = "0123456789abcdef"[v & 15];
    out.append(buf, 16);
}

bool get_hex16(std::string_view in, uint64_t& v) {
    auto [end, ec] = std::from_chars(in.data(), in.data() + 16, v, 16);
    return ec == std::errc() && end == in.data() + 16;
}

void put_hex8(std::string& out, uint32_t v) {
    char buf[8];
    for (int i = 7; i >= 0; --i, v >>= 4) buf[i] = "0123456789abcdef"[v & 15];
    out.append(buf, 8);
}

bool get_hex8(std::string_view in, uint32_t& v) {
    auto [end, ec] = std::from_chars(in.data(), in.data() + 8, v, 16);
    return ec == std::errc() && end == in.data() + 8;
}

bool write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

bool read_exact(int fd, char* buf, size_t n, off_t at) {
    while (n > 0) {
        const ssize_t got = ::pread(fd, buf, n, at);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        buf += got;
        at += got;
        n -= static_cast<size_t>(got);
    }
    return true;
}

}  // namespace

std::string CacheStore::file_path(uint64_t id) const {
    char name[17];
    auto [end, ec] = std::to_chars(name, name + sizeof name, id, 16);
    return dir + "/" + std::string(name, end);
}

void CacheStore::remove_files(const std::vector<uint64_t>& ids) const {
    for (uint64_t id : ids) {
        const std::string path = file_path(id);
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            spdlog::warn("cache: cannot remove {}: {}", path, std::strerror(errno));
    }
}

void CacheStore::announce_claim_released() const {
    if (::utimensat(AT_FDCWD, dir.c_str(), nullptr, 0) != 0)
        spdlog::debug("cache: touch {}: {}", dir, std::strerror(errno));
}

Result<CachedResponse> open_cache_file(const std::string& path) {
    CachedResponse r;
    r.fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!r.fd) return Error::from_errno("cache: open " + path);
    struct stat st;
    if (::fstat(r.fd.get(), &st) != 0) return Error::from_errno("cache: fstat " + path);
    const auto size = static_cast<uint64_t>(st.st_size);
    r.file_size = size;
    const auto not_ours = [&] { return Error{"cache: " + path + " is not a cache file"}; };
    if (size < kFixed) return not_ours();
    // One read for a small file; a larger one gets its head now and its body when sent.
    size_t have = static_cast<size_t>(std::min(size, kCacheReadWhole));
    r.bytes = std::make_unique_for_overwrite<char[]>(have);
    if (!read_exact(r.fd.get(), r.bytes.get(), have, 0)) return Error::from_errno("cache: read " + path);
    const std::string_view fixed(r.bytes.get(), kFixed);
    uint32_t key_len = 0, head_len = 0, status = 0, scope_len = 0;
    if (!fixed.starts_with(kMagic) || !get_hex8(fixed.substr(kMagic.size(), 8), key_len) ||
        !get_hex8(fixed.substr(kMagic.size() + 8, 8), head_len) ||
        !get_hex8(fixed.substr(kMagic.size() + 16, 8), status) ||
        !get_hex8(fixed.substr(kMagic.size() + 24, 8), scope_len) ||
        !get_hex16(fixed.substr(kMagic.size() + 32, 16), r.expires_ms) ||
        kFixed + uint64_t{key_len} + scope_len + head_len > size)
        return not_ours();
    r.body_offset = kFixed + uint64_t{key_len} + scope_len + head_len;
    r.body_length = size - r.body_offset;
    if (r.body_offset > have) {
        auto longer = std::make_unique_for_overwrite<char[]>(r.body_offset);
        std::memcpy(longer.get(), r.bytes.get(), have);
        if (!read_exact(r.fd.get(), longer.get() + have, r.body_offset - have, static_cast<off_t>(have)))
            return Error::from_errno("cache: read " + path);
        r.bytes = std::move(longer);
        have = r.body_offset;
    }
    r.key = {r.bytes.get() + kFixed, key_len};
    r.scope = {r.bytes.get() + kFixed + key_len, scope_len};
    r.status = static_cast<int>(status);
    for (std::string_view rest(r.bytes.get() + kFixed + key_len + scope_len, head_len); !rest.empty();) {
        const size_t eol = rest.find("\r\n");
        if (eol == std::string_view::npos) break;
        const std::string_view line = rest.substr(0, eol);
        const size_t colon = line.find(':');
        if (colon != std::string_view::npos) r.headers.push_back({line.substr(0, colon), trim_ows(line.substr(colon + 1))});
        rest.remove_prefix(eol + 2);
    }
    if (have == size) r.body = {r.bytes.get() + r.body_offset, r.body_length};
    return r;
}

Result<CachedResponse> open_cached(const CacheStore& store, uint64_t id, std::string_view key) {
    const std::string path = store.file_path(id);
    auto r = open_cache_file(path);
    if (r && r->key != key) return Error{"cache: " + path + " holds another key"};
    return r;
}

Result<std::unique_ptr<CacheWriter>> CacheWriter::open(CacheStore& store, const CacheSlot& slot, std::string_view key,
                                                       int status, std::span<const Header> headers, BodyFilter* next) {
    std::string temp = store.dir + "/tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++store.temp_seq);
    UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) return Error::from_errno("cache: create " + temp);
    std::string head;
    for (const Header& h : headers)
        if (stored_header(h.name)) head.append(h.name).append(": ").append(h.value).append("\r\n");
    std::string start(kMagic);
    put_hex8(start, static_cast<uint32_t>(key.size()));
    put_hex8(start, static_cast<uint32_t>(head.size()));
    put_hex8(start, static_cast<uint32_t>(status));
    put_hex8(start, static_cast<uint32_t>(slot.scope_name.size()));
    put_hex16(start, slot.expires_ms);
    start.append(key).append(slot.scope_name).append(head);
    std::unique_ptr<CacheWriter> w(new CacheWriter(store, slot, std::move(fd), std::move(temp), next));
    w->vary_marker_ = status == kVaryMarkerStatus;
    if (!write_all(w->fd_.get(), start)) return Error::from_errno("cache: write " + w->temp_);
    w->size_ = start.size();
    if (w->size_ > slot.max_size) w->give_up("its head is larger than max_size");
    return w;
}

CacheWriter::~CacheWriter() {
    if (!done_) {
        ::unlink(temp_.c_str());
        store_.index.abandon(slot_.key_hash);
    }
}

void CacheWriter::give_up(const std::string& why) {
    spdlog::debug("cache: not storing {}: {}", temp_, why);
    fd_.reset();
    ::unlink(temp_.c_str());
    store_.index.abandon(slot_.key_hash);
    done_ = true;
}

Status CacheWriter::feed(std::string_view in, ByteSink& out) {
    if (!done_) {
        size_ += in.size();
        if (size_ > slot_.max_size)
            give_up("larger than max_size");
        else if (!write_all(fd_.get(), in))
            give_up(Error::from_errno("write").message);
    }
    if (next_) return next_->feed(in, out);
    out.write(in);
    return {};
}

Status CacheWriter::flush(ByteSink& out) { return next_ ? next_->flush(out) : Status{}; }

Status CacheWriter::finish(ByteSink& out) {
    if (next_)
        if (Status s = next_->finish(out); !s) return s;
    if (done_) return {};
    done_ = true;
    fd_.reset();
    auto id = store_.index.next_file_id();
    if (!id) {
        spdlog::error("{}", id.error().message);
        ::unlink(temp_.c_str());
        store_.index.abandon(slot_.key_hash);
        return {};
    }
    const std::string path = store_.file_path(*id);
    if (::rename(temp_.c_str(), path.c_str()) != 0) {
        spdlog::error("cache: rename {} to {}: {}", temp_, path, std::strerror(errno));
        ::unlink(temp_.c_str());
        store_.index.abandon(slot_.key_hash);
        return {};
    }
    auto unused =
        store_.index.commit(slot_.key_hash, *id, size_, slot_.expires_ms, slot_.scope, slot_.max_size, vary_marker_);
    if (!unused) {
        spdlog::error("{}", unused.error().message);
        store_.remove_files({*id});
        return {};
    }
    store_.remove_files(*unused);
    return {};
}

}  // namespace ne::proxy
