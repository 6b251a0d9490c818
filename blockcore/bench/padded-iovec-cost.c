// What a padded 256 KiB O_DIRECT read costs the kernel when the caller's buffer goes between two small pad segments
// instead of through a copy (blockcore README, "Large padded reads"): synchronous preadv at QD 1 over DEVICE, three
// ways, COUNT requests each, one after the other from offset 0:
//   one segment:        260 KiB into one aligned buffer (what BlockLoop reads before it copies the caller's part out);
//   512 | 256K | 3584:  a 512-byte head pad, the caller's 256 KiB, a 3584-byte tail pad (a read at offset 512 of a
//                       4Kn disk, padded without a copy); kernels that check each segment's length against the
//                       logical block size refuse it with EINVAL, and this program says so;
//   4K | 252K | 4K:     three segments that every kernel accepts, to separate "three segments" from "short ones".
// Prints requests per second and CPU time (user + system) per request for each.
//
// Build: gcc -O2 -o /tmp/padded-iovec-cost blockcore/bench/padded-iovec-cost.c
// Run:   /tmp/padded-iovec-cost /dev/loopN 3000     # DEVICE of at least COUNT x 260 KiB; blkdiscard it first for a
//                                                   # CPU-bound run on a sparse loop device
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define REQUEST (260 * 1024)

static double seconds(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DEVICE COUNT\n", argv[0]);
        return 2;
    }
    int fd = open(argv[1], O_RDONLY | O_DIRECT);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    int count = atoi(argv[2]);
    char *buffer, *pad;
    if (posix_memalign((void **) &buffer, 4096, REQUEST) || posix_memalign((void **) &pad, 4096, 8192)) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    struct shape {
        const char *name;
        struct iovec iov[3];
        int segments;
    } shapes[] = {
        {"one segment", {{buffer, REQUEST}}, 1},
        {"512 | 256K | 3584", {{pad, 512}, {buffer, 256 * 1024}, {pad + 4096, 3584}}, 3},
        {"4K | 252K | 4K", {{pad, 4096}, {buffer, 252 * 1024}, {pad + 4096, 4096}}, 3},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        double wall = seconds(CLOCK_MONOTONIC), cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
        for (int i = 0; i < count; i++) {
            ssize_t got = preadv(fd, shapes[s].iov, shapes[s].segments, (off_t) i * REQUEST);
            if (got != REQUEST) {
                printf("%s: preadv returned %zd (%s)\n", shapes[s].name, got, got < 0 ? strerror(errno) : "short");
                goto next;
            }
        }
        wall = seconds(CLOCK_MONOTONIC) - wall;
        cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
        printf("%s: %.0f requests/s, %.1f us CPU per request\n", shapes[s].name, count / wall, cpu * 1e6 / count);
    next:;
    }
    return 0;
}
