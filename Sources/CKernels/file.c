// File-system calls that Swift's Glibc module hides behind _GNU_SOURCE.
#define _GNU_SOURCE
#include "CKernels.h"

#include <errno.h>
#if defined(__linux__)
#include <fcntl.h>
#endif

int ck_reserve_file(int fd, int64_t size) {
#if defined(__linux__)
    int rc;
    do {
        rc = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)size);
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : errno;
#else
    (void)fd;
    (void)size;
    return EOPNOTSUPP;
#endif
}
