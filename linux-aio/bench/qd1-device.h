// What the QD 1 C reproductions (qd1-wait-shapes.c, qd1-aio-wait-shapes.c) share: the clock, fatal errors, the
// device opened for 4 KiB O_DIRECT I/O, and the random block numbers. Included by each tool; no build step of its
// own (gcc finds it next to the including file).
#ifndef BLOCKLOOP_QD1_DEVICE_H
#define BLOCKLOOP_QD1_DEVICE_H

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

// The tool's name, for its error messages; each tool sets it first thing in main.
static const char *qd1_tool = "qd1";

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char *what, int err) {
    fprintf(stderr, "%s: %s: %s\n", qd1_tool, what, strerror(err));
    exit(1);
}

// "read" or "write" (NULL: read) -> 0 or 1; anything else is a usage error (exit 2).
static int parse_rw(const char *arg) {
    if (arg == NULL || strcmp(arg, "read") == 0) return 0;
    if (strcmp(arg, "write") == 0) return 1;
    fprintf(stderr, "%s: RW must be read or write, not '%s'\n", qd1_tool, arg);
    exit(2);
}

// A block device opened for O_DIRECT I/O of one 4 KiB buffer at a time.
struct qd1_device {
    int fd;
    unsigned long long blocks; // the device's size in 4 KiB blocks
    void *buf;                 // 4 KiB, 4 KiB-aligned
    unsigned long long x;      // xorshift64 state of the random block numbers
};

static struct qd1_device qd1_open(const char *path, int write) {
    struct qd1_device d = {.x = 88172645463325252ULL};
    d.fd = open(path, (write ? O_RDWR : O_RDONLY) | O_DIRECT);
    if (d.fd < 0) die(path, errno);
    unsigned long long size;
    if (ioctl(d.fd, BLKGETSIZE64, &size) < 0) die("BLKGETSIZE64", errno);
    d.blocks = size / 4096;
    if (d.blocks == 0) die(path, EINVAL);
    if (posix_memalign(&d.buf, 4096, 4096) != 0) die("posix_memalign", ENOMEM);
    memset(d.buf, 0x5a, 4096);
    return d;
}

// The byte offset of the next random 4 KiB block (xorshift64; the same sequence in every run).
static long long qd1_next_offset(struct qd1_device *d) {
    d->x ^= d->x << 13;
    d->x ^= d->x >> 7;
    d->x ^= d->x << 17;
    return (long long) (d->x % d->blocks) * 4096;
}

#endif
