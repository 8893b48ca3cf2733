#include "core/base/kept_descriptor.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Above the bound of the usual close loops (FD_SETSIZE and the common soft
 * limit are 1024), yet low enough that the kernel's descriptor table stays
 * small (raising to near a soft limit of 1048576 would grow it to megabytes). */
#define KEPT_DESCRIPTOR_FLOOR 2000
/* Below a lower soft limit, leave the program this many numbers at the top. */
#define KEPT_DESCRIPTOR_MARGIN 24

/* The lowest number a kept descriptor should take, or -1 for none. */
static int kept_descriptor_floor(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) < 0 || limit.rlim_cur == RLIM_INFINITY ||
        limit.rlim_cur >= (rlim_t)KEPT_DESCRIPTOR_FLOOR + KEPT_DESCRIPTOR_MARGIN) {
        return KEPT_DESCRIPTOR_FLOOR;
    }
    if (limit.rlim_cur <= (rlim_t)2 * KEPT_DESCRIPTOR_MARGIN) {
        return -1; /* too few descriptors to spare any room */
    }
    return (int)limit.rlim_cur - KEPT_DESCRIPTOR_MARGIN;
}

int kept_descriptor_raise(int descriptor)
{
    int floor = kept_descriptor_floor();
    if (descriptor < 0 || floor < 0 || descriptor >= floor) {
        return descriptor;
    }
    int high = fcntl(descriptor, F_DUPFD_CLOEXEC, floor);
    if (high < 0) {
        return descriptor; /* the high numbers are taken: a low one still works */
    }
    close(descriptor);
    return high;
}

int kept_descriptor_identify(int descriptor, struct descriptor_identity *identity)
{
    struct stat status;
    if (fstat(descriptor, &status) < 0) {
        return -1;
    }
    identity->device = status.st_dev;
    identity->inode = status.st_ino;
    return 0;
}

int kept_descriptor_is_same(int descriptor, const struct descriptor_identity *identity)
{
    struct descriptor_identity now;
    if (descriptor < 0 || kept_descriptor_identify(descriptor, &now) < 0) {
        return 0;
    }
    return now.device == identity->device && now.inode == identity->inode;
}
