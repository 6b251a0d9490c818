// QD 1 random 4 KiB O_DIRECT reads (or writes) through linux-aio in C, without the JVM, in the ways a program can
// wait for the completion (docs/qd1-reads-on-loop-devices.md, "Device-bound QD 1"):
//   getevents: io_submit, then a blocking io_getevents for one event: fio's libaio shape;
//   ppoll:     the iocb signals an eventfd (IOCB_FLAG_RESFD); wait for the eventfd in ppoll, read it, take the
//              event from the aio ring in user space: the shape of an event loop with a poll(2) monitor;
//   epoll:     the same, waiting in epoll_wait;
//   uring:     the same, waiting in io_uring_enter for a one-shot IORING_OP_POLL_ADD on the eventfd, re-armed after
//              each completion: BlockLoop's and QEMU's shape with the io_uring fd monitor, system call for system call
//              (io_submit, io_uring_enter, read);
//   spin:      no eventfd, no sleep: read the aio ring in a loop until the event is there (the lower bound of the
//              wait's cost);
//   aiopoll:   no eventfd: the aio context also holds an IOCB_CMD_POLL on a second eventfd that nobody signals (an
//              event loop's notifier), and the wait is io_getevents for either: the shape of an fd monitor built on
//              linux-aio, whose wait is fio's;
//   hybrid:    io_getevents with a timeout of DELAY_US microseconds (environment), then, if nothing came, spin on
//              the aio ring: sleep through most of the request and be awake when it completes (the block layer's
//              hybrid polling).
// RW is read (the default) or write; write overwrites random blocks of DEVICE.
//
// Build: gcc -O2 -o /tmp/qd1-aio-wait-shapes linux-aio/bench/qd1-aio-wait-shapes.c -luring   (Debian: liburing-dev)
// Run:   [DELAY_US=N] /tmp/qd1-aio-wait-shapes DEVICE getevents|ppoll|epoll|uring|spin|aiopoll|hybrid
//            SECONDS [read|write]                                                                     prints IOPS
#define _GNU_SOURCE
#include <linux/aio_abi.h>
#include <liburing.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "qd1-device.h"

// The kernel's aio_ring header, mapped at the address io_setup returns (fs/aio.c); the events follow it.
struct aio_ring {
    unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
    struct io_event events[];
};

enum wait_mode { GETEVENTS, PPOLL, EPOLL, URING, SPIN, AIOPOLL, HYBRID };

// The aio opcode of a one-shot poll (linux/aio_abi.h since 4.18: IOCB_CMD_POLL); its event's res is the revents.
#define QD1_IOCB_CMD_POLL 5

// Every request moves one 4 KiB block: anything else ends the run.
static void check_result(long res) {
    if (res != 4096) die("short or failed request", res < 0 ? (int) -res : EIO);
}

// Takes the events in the ring, as BlockLoop's engine does: acquire load of the tail (pairs with the kernel's
// store of the tail after it wrote the event), release store of the head (pairs with the kernel's read of the
// head before it reuses a slot). Returns how many there were.
static int reap_ring(aio_context_t ctx) {
    struct aio_ring *ring = (struct aio_ring *) ctx;
    unsigned head = ring->head;
    unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
    int n = 0;
    while (head != tail) {
        check_result((long) ring->events[head].res);
        head = (head + 1) % ring->nr;
        n++;
    }
    __atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
    return n;
}

static void arm_poll(struct io_uring *ring, int efd) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_poll_add(sqe, efd, POLLIN);
}

int main(int argc, char **argv) {
    qd1_tool = "qd1-aio-wait-shapes";
    static const char *names[] = {"getevents", "ppoll", "epoll", "uring", "spin", "aiopoll", "hybrid"};
    int mode = -1;
    for (int i = 0; argc >= 4 && i < 7; i++) {
        if (strcmp(argv[2], names[i]) == 0) mode = i;
    }
    if (mode < 0) {
        fprintf(stderr, "usage: [DELAY_US=N] %s DEVICE getevents|ppoll|epoll|uring|spin|aiopoll|hybrid SECONDS"
                " [read|write]\n", argv[0]);
        return 2;
    }
    long long delay_ns = 0;
    if (mode == HYBRID) {
        const char *d = getenv("DELAY_US");
        if (d == NULL || atoll(d) <= 0 || atoll(d) >= 1000000) {
            fprintf(stderr, "%s: hybrid needs DELAY_US between 1 and 999999\n", argv[0]);
            return 2;
        }
        delay_ns = atoll(d) * 1000;
    }
    double seconds = atof(argv[3]);
    int write = parse_rw(argc > 4 ? argv[4] : NULL);
    struct qd1_device dev = qd1_open(argv[1], write);

    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, 128, &ctx) < 0) die("io_setup", errno);
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) die("eventfd", errno);
    int epfd = -1;
    struct io_uring ring;
    if (mode == EPOLL) {
        epfd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN};
        if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) < 0) die("epoll", errno);
    } else if (mode == URING) {
        int r = io_uring_queue_init(64, &ring, 0);
        if (r < 0) die("io_uring_queue_init", -r);
        arm_poll(&ring, efd);
    }
    // aiopoll: the notifier's poll waits in the aio context for the whole run (nobody signals it), so every wait
    // watches it as an event loop's would.
    struct iocb notifier_poll = {0};
    if (mode == AIOPOLL) {
        int nfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (nfd < 0) die("eventfd", errno);
        notifier_poll.aio_fildes = nfd;
        notifier_poll.aio_lio_opcode = QD1_IOCB_CMD_POLL;
        notifier_poll.aio_buf = POLLIN;
        notifier_poll.aio_data = 1; // the reads' aio_data is 0
        struct iocb *cbs[1] = {&notifier_poll};
        if (syscall(SYS_io_submit, ctx, 1, cbs) != 1) die("io_submit(IOCB_CMD_POLL)", errno);
    }

    long done = 0;
    double start = now(), end = start + seconds;
    for (;;) {
        struct iocb cb = {0};
        cb.aio_fildes = dev.fd;
        cb.aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
        cb.aio_buf = (uintptr_t) dev.buf;
        cb.aio_nbytes = 4096;
        cb.aio_offset = qd1_next_offset(&dev);
        if (mode == PPOLL || mode == EPOLL || mode == URING) {
            cb.aio_flags = IOCB_FLAG_RESFD;
            cb.aio_resfd = efd;
        }
        struct iocb *cbs[1] = {&cb};
        if (syscall(SYS_io_submit, ctx, 1, cbs) != 1) die("io_submit", errno);

        if (mode == GETEVENTS) {
            struct io_event ev;
            if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1) die("io_getevents", errno);
            check_result((long) ev.res);
        } else if (mode == AIOPOLL) {
            struct io_event ev[2];
            int got = 0;
            while (!got) {
                long n = syscall(SYS_io_getevents, ctx, 1, 2, ev, NULL);
                if (n < 0 && errno != EINTR) die("io_getevents", errno);
                for (long i = 0; i < n; i++) {
                    if (ev[i].data != 0) die("the notifier's poll completed", EPROTO);
                    check_result((long) ev[i].res);
                    got = 1;
                }
            }
        } else if (mode == HYBRID) {
            struct io_event ev;
            struct timespec delay = {delay_ns / 1000000000, delay_ns % 1000000000};
            long n = syscall(SYS_io_getevents, ctx, 1, 1, &ev, &delay);
            if (n < 0 && errno != EINTR) die("io_getevents", errno);
            if (n == 1) {
                check_result((long) ev.res);
            } else {
                while (reap_ring(ctx) == 0) {
                }
            }
        } else if (mode == SPIN) {
            while (reap_ring(ctx) == 0) {
            }
        } else {
            // Level-triggered like an event loop: wait, reset the eventfd, then take what the ring holds. The
            // eventfd is reset before the ring is read, so an event posted after the read signals it again.
            int got = 0;
            while (!got) {
                if (mode == PPOLL) {
                    struct pollfd p = {efd, POLLIN, 0};
                    if (ppoll(&p, 1, NULL, NULL) < 0 && errno != EINTR) die("ppoll", errno);
                } else if (mode == EPOLL) {
                    struct epoll_event ev;
                    if (epoll_wait(epfd, &ev, 1, -1) < 0 && errno != EINTR) die("epoll_wait", errno);
                } else {
                    int r = io_uring_submit_and_wait(&ring, 1);
                    if (r < 0 && r != -EINTR) die("io_uring_submit_and_wait", -r);
                    struct io_uring_cqe *cqe;
                    while (io_uring_peek_cqe(&ring, &cqe) == 0) {
                        io_uring_cqe_seen(&ring, cqe);
                        arm_poll(&ring, efd); // one-shot: armed again, submitted with the next wait
                    }
                }
                uint64_t count;
                if (read(efd, &count, 8) < 0 && errno != EAGAIN) die("read(eventfd)", errno);
                got = reap_ring(ctx);
            }
        }
        done++;
        if ((done & 63) == 0 && now() >= end) break;
    }
    printf("%.0f\n", done / (now() - start));
    return 0;
}
