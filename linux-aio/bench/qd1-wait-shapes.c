// QD 1 random 4 KiB O_DIRECT reads (or writes) through io_uring in C, without the JVM, to compare the shapes of the wait
// that an event loop can take (docs/qd1-reads-on-loop-devices.md):
//   merged: submit and wait in one io_uring_enter (io_uring_submit_and_wait), the shape of BlockLoop's loop;
//   split:  submit in one io_uring_enter, then wait in a second (io_uring_submit + io_uring_wait_cqe), fio's shape;
//           optionally busy for DELAY_NS between the two, as an event loop is while it finishes its iteration.
// With ARM_POLL=1 a POLL_ADD on an eventfd stays armed on the ring, as the loop's notifier is. RW is read (the
// default) or write; write overwrites random blocks of DEVICE.
//
// Build: gcc -O2 -o /tmp/qd1-wait-shapes linux-aio/bench/qd1-wait-shapes.c -luring   (Debian: liburing-dev)
// Run:   /tmp/qd1-wait-shapes DEVICE merged|split SECONDS [ARM_POLL [DELAY_NS [RW]]]   prints IOPS
#define _GNU_SOURCE
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "qd1-device.h"

int main(int argc, char **argv) {
    qd1_tool = "qd1-wait-shapes";
    if (argc < 4 || (strcmp(argv[2], "merged") != 0 && strcmp(argv[2], "split") != 0)) {
        fprintf(stderr, "usage: %s DEVICE merged|split SECONDS [ARM_POLL [DELAY_NS [read|write]]]\n", argv[0]);
        return 2;
    }
    int split = strcmp(argv[2], "split") == 0;
    double seconds = atof(argv[3]);
    int arm_poll = argc > 4 && atoi(argv[4]) != 0;
    double delay = argc > 5 ? atof(argv[5]) / 1e9 : 0;
    int write = parse_rw(argc > 6 ? argv[6] : NULL);
    struct qd1_device dev = qd1_open(argv[1], write);

    struct io_uring ring;
    int r = io_uring_queue_init(128, &ring, 0);
    if (r < 0) die("io_uring_queue_init", -r);
    io_uring_register_ring_fd(&ring);
    int efd = eventfd(0, EFD_NONBLOCK);
    if (arm_poll) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_poll_add(sqe, efd, POLLIN);
        io_uring_sqe_set_data64(sqe, 2);
        io_uring_submit(&ring);
    }

    unsigned long long done = 0;
    double start = now(), end = start + seconds;
    for (;;) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        if (write) {
            io_uring_prep_write(sqe, dev.fd, dev.buf, 4096, qd1_next_offset(&dev));
        } else {
            io_uring_prep_read(sqe, dev.fd, dev.buf, 4096, qd1_next_offset(&dev));
        }
        io_uring_sqe_set_data64(sqe, 1);
        struct io_uring_cqe *cqe;
        if (split) {
            io_uring_submit(&ring);
            if (delay > 0) {
                double until = now() + delay;
                while (now() < until) {
                }
            }
            r = io_uring_wait_cqe(&ring, &cqe);
        } else {
            r = io_uring_submit_and_wait(&ring, 1);
        }
        if (r < 0) die("wait", -r);
        unsigned head;
        io_uring_for_each_cqe(&ring, head, cqe) {
            if (cqe->user_data == 1) {
                if (cqe->res != 4096) die(write ? "write" : "read", cqe->res < 0 ? -cqe->res : EIO);
                done++;
            }
        }
        io_uring_cq_advance(&ring, io_uring_cq_ready(&ring));
        if ((done & 1023) == 0 && now() > end) {
            break;
        }
    }
    printf("%.0f\n", done / (now() - start));
    return 0;
}
