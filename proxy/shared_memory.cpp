#include "proxy/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace ne::proxy {

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

Result<SharedMapping> SharedMapping::map(int fd, const char* what) {
    const std::string w = std::string(what) + " (fd " + std::to_string(fd) + ")";
    struct stat st;
    if (::fstat(fd, &st) != 0) return Error::from_errno(w + ": fstat");
    const auto size = static_cast<size_t>(st.st_size);
    if (size == 0) return Error{w + ": empty"};
    void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) return Error::from_errno(w + ": mmap " + std::to_string(size) + " bytes");
    return SharedMapping(base, size);
}

SharedMapping& SharedMapping::operator=(SharedMapping&& o) noexcept {
    if (this != &o) {
        if (base_) ::munmap(base_, size_);
        base_ = std::exchange(o.base_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

SharedMapping::~SharedMapping() {
    if (base_) ::munmap(base_, size_);
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

}  // namespace ne::proxy
