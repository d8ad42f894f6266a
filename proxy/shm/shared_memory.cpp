#include "proxy/shm/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <new>

namespace ne::proxy {

namespace {

Result<UniqueFd> create_shared_memory(const char* what, size_t bytes) {
    const std::string w = what;
    UniqueFd fd(::memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) return Error::from_errno(w + ": memfd_create");
    if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0)
        return Error::from_errno(w + ": ftruncate to " + std::to_string(bytes) + " bytes");
    if (::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
        return Error::from_errno(w + ": seal");
    return fd;
}

Status init_robust_mutex(pthread_mutex_t* m, const char* what) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    const int rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) return Error::from_errno(std::string(what) + ": pthread_mutex_init", rc);
    return {};
}

}  // namespace

std::string zone_name(const char* what, int fd) { return std::string(what) + " (fd " + std::to_string(fd) + ")"; }

Result<Zone> Zone::map(int fd, const char* what) {
    const std::string w = zone_name(what, fd);
    struct stat st;
    if (::fstat(fd, &st) != 0) return Error::from_errno(w + ": fstat");
    const auto size = static_cast<size_t>(st.st_size);
    if (size == 0) return Error{w + ": empty"};
    void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) return Error::from_errno(w + ": mmap " + std::to_string(size) + " bytes");
    return Zone(base, size);
}

Zone& Zone::operator=(Zone&& o) noexcept {
    if (this != &o) {
        if (base_) ::munmap(base_, size_);
        base_ = std::exchange(o.base_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

Zone::~Zone() {
    if (base_) ::munmap(base_, size_);
}

Result<Zone::Created> Zone::create(const char* what, uint64_t magic, uint32_t version, size_t body_bytes) {
    auto fd = create_shared_memory(what, sizeof(ZoneHeader) + body_bytes);
    if (!fd) return fd.error();
    auto zone = map(fd->get(), what);
    if (!zone) return zone.error();
    ZoneHeader& h = *new (zone->base_) ZoneHeader{};
    h.magic = magic;
    h.version = version;
    if (::getrandom(h.seed, sizeof h.seed, 0) != static_cast<ssize_t>(sizeof h.seed))
        return Error::from_errno(std::string(what) + ": getrandom");
    if (Status s = init_robust_mutex(&h.mutex, what); !s) return s.error();
    return Created{std::move(*fd), std::move(*zone)};
}

Result<Zone> Zone::attach(int fd, const char* what, uint64_t magic, uint32_t version, size_t min_body_bytes) {
    auto zone = map(fd, what);
    if (!zone) return zone.error();
    const size_t size = zone->size_;
    const ZoneHeader& h = zone->header();
    if (size < sizeof(ZoneHeader) || h.magic != magic || h.version != version)
        return Error{zone_name(what, fd) + ": not a nodeedge " + what + " of version " + std::to_string(version)};
    if (size < sizeof(ZoneHeader) + min_body_bytes)
        return Error{zone_name(what, fd) + ": " + std::to_string(size) + " bytes is too small (at least " +
                     std::to_string(sizeof(ZoneHeader) + min_body_bytes) + ")"};
    return zone;
}

}  // namespace ne::proxy
