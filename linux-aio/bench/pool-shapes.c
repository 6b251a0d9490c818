// Random 4 KiB O_DIRECT reads (or writes) at queue depth QD in C, without the JVM, done by threads in the ways a
// program can hand them out (linux-aio/README.md, "What the runs show"; docs/engine-benchmarks.md, "The pool's
// shape in C"). It asks whether a thread pool with an owner can match fio's psync at all:
//   psync:  QD threads, each calling pread/pwrite in a loop: fio's psync shape (--numjobs=QD --thread);
//   pool:   an owner thread and QD workers, QEMU's and BlockLoop's pool shape. The owner queues a request under a
//           mutex and signals a condition variable; a worker takes it, calls pread/pwrite, pushes the finished
//           request onto a done list and, if the list was empty, writes an eventfd; the owner sleeps in ppoll on the
//           eventfd, takes the whole list, and queues the next request for each (a closed loop, as fio's jobs and
//           BlockLoop's EngineDriver run). A finishing worker looks at the queue before it waits.
//   pool-owner-spins: the same, but the owner never sleeps: it spins on the done list. What is left is the
//           workers' hand-off; the owner's wake-up is gone (at the price of a CPU).
//   pool-all-spin: the owner and the workers spin (a worker on the queue): no thread sleeps except in the kernel's
//           I/O, the lower bound of any hand-off, at the price of every CPU.
// RW is read (the default) or write; write overwrites random blocks of DEVICE.
//
// linux-aio/bench/pool-shapes-vs-fio.sh builds it and runs every shape beside fio psync and BlockLoop's pool engine.
// Build: gcc -O2 -pthread -o /tmp/pool-shapes linux-aio/bench/pool-shapes.c
// Run:   /tmp/pool-shapes DEVICE psync|pool|pool-owner-spins|pool-all-spin QD SECONDS [read|write]
//        prints IOPS and the process's CPU time (user + system, all threads) per I/O
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "qd1-device.h"

enum shape { PSYNC, POOL, POOL_OWNER_SPINS, POOL_ALL_SPIN };

struct request {
    long long offset;
    long result;
    struct request *next; // in the queue or in the done list
};

static struct qd1_device dev;
static int writing;
static enum shape shape;
static atomic_int stop;

// ---- psync: QD threads, each a pread/pwrite loop ------------------------------------------------------------------

struct job {
    pthread_t thread;
    unsigned long long x; // this thread's xorshift64 state
    void *buf;
    long long ops;
};

static long long job_next_offset(struct job *j) {
    j->x ^= j->x << 13;
    j->x ^= j->x >> 7;
    j->x ^= j->x << 17;
    return (long long) (j->x % dev.blocks) * 4096;
}

static long io(void *buf, long long offset) {
    return writing ? pwrite(dev.fd, buf, 4096, offset) : pread(dev.fd, buf, 4096, offset);
}

static void *psync_job(void *arg) {
    struct job *j = arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        if (io(j->buf, job_next_offset(j)) != 4096) die("pread/pwrite", errno);
        j->ops++;
    }
    return NULL;
}

// ---- the pool -----------------------------------------------------------------------------------------------------

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_nonempty = PTHREAD_COND_INITIALIZER;
static struct request *queue_head, *queue_tail;
static atomic_int queued; // read without the lock by spinning workers only
static int idle_workers;  // under queue_lock

static _Atomic(struct request *) done; // a lock-free stack: workers push, the owner takes it whole
static int event_fd;

static void enqueue(struct request *r) {
    pthread_mutex_lock(&queue_lock);
    r->next = NULL;
    if (queue_tail) queue_tail->next = r; else queue_head = r;
    queue_tail = r;
    atomic_fetch_add(&queued, 1);
    if (idle_workers > 0) pthread_cond_signal(&queue_nonempty);
    pthread_mutex_unlock(&queue_lock);
}

// Under queue_lock: the first queued request, or NULL.
static struct request *dequeue_locked(void) {
    struct request *r = queue_head;
    if (r) {
        queue_head = r->next;
        if (!queue_head) queue_tail = NULL;
        atomic_fetch_sub(&queued, 1);
    }
    return r;
}

static void *worker(void *arg) {
    void *buf = arg;
    for (;;) {
        if (shape == POOL_ALL_SPIN) {
            while (atomic_load_explicit(&queued, memory_order_relaxed) == 0) {
                if (atomic_load_explicit(&stop, memory_order_relaxed)) return NULL;
            }
        }
        pthread_mutex_lock(&queue_lock);
        struct request *r;
        while ((r = dequeue_locked()) == NULL) {
            if (shape == POOL_ALL_SPIN || atomic_load(&stop)) break;
            idle_workers++;
            pthread_cond_wait(&queue_nonempty, &queue_lock);
            idle_workers--;
        }
        pthread_mutex_unlock(&queue_lock);
        if (!r) {
            if (atomic_load(&stop)) return NULL;
            continue; // a spinning worker lost the race for the request
        }
        r->result = io(buf, r->offset);
        if (r->result < 0) r->result = -errno;
        struct request *head = atomic_load(&done);
        do {
            r->next = head;
        } while (!atomic_compare_exchange_weak(&done, &head, r)); // release: the result before the owner's take
        if (!head && shape == POOL) {
            uint64_t one = 1;
            if (write(event_fd, &one, 8) != 8) die("write(eventfd)", errno);
        }
    }
}

// The owner: keeps QD requests in flight until SECONDS are over; returns the requests completed.
static long long own(int qd, double seconds) {
    struct request *requests = calloc(qd, sizeof *requests);
    if (!requests) die("calloc", ENOMEM);
    long long ops = 0;
    double end = now() + seconds;
    for (int i = 0; i < qd; i++) {
        requests[i].offset = qd1_next_offset(&dev);
        enqueue(&requests[i]);
    }
    struct pollfd pfd = {.fd = event_fd, .events = POLLIN};
    while (now() < end) {
        if (shape == POOL) {
            if (ppoll(&pfd, 1, NULL, NULL) < 0 && errno != EINTR) die("ppoll", errno);
            uint64_t count;
            if (read(event_fd, &count, 8) < 0 && errno != EAGAIN) die("read(eventfd)", errno);
        } else if (atomic_load_explicit(&done, memory_order_relaxed) == NULL) {
            continue; // spin on a plain load: an exchange in the loop would take the line from the workers
        }
        struct request *r = atomic_exchange(&done, NULL); // acquire: pairs with the workers' push
        while (r) {
            struct request *next = r->next;
            if (r->result != 4096) die("pread/pwrite", r->result < 0 ? (int) -r->result : EIO);
            ops++;
            r->offset = qd1_next_offset(&dev);
            enqueue(r);
            r = next;
        }
    }
    free(requests);
    return ops;
}

int main(int argc, char **argv) {
    qd1_tool = "pool-shapes";
    if (argc < 5) {
        fprintf(stderr, "usage: pool-shapes DEVICE psync|pool|pool-owner-spins|pool-all-spin QD SECONDS"
                        " [read|write]\n");
        return 2;
    }
    if (strcmp(argv[2], "psync") == 0) shape = PSYNC;
    else if (strcmp(argv[2], "pool") == 0) shape = POOL;
    else if (strcmp(argv[2], "pool-owner-spins") == 0) shape = POOL_OWNER_SPINS;
    else if (strcmp(argv[2], "pool-all-spin") == 0) shape = POOL_ALL_SPIN;
    else {
        fprintf(stderr, "pool-shapes: unknown shape '%s'\n", argv[2]);
        return 2;
    }
    char *qd_end, *seconds_end;
    long qd = strtol(argv[3], &qd_end, 10);
    double seconds = strtod(argv[4], &seconds_end);
    if (*qd_end || *seconds_end || qd < 1 || qd > 1024 || !(seconds > 0)) {
        fprintf(stderr, "pool-shapes: QD must be 1..1024 and SECONDS above 0\n");
        return 2;
    }
    writing = parse_rw(argc > 5 ? argv[5] : NULL);
    dev = qd1_open(argv[1], writing);

    pthread_t *threads = calloc(qd, sizeof *threads);
    struct job *jobs = calloc(qd, sizeof *jobs);
    if (!threads || !jobs) die("calloc", ENOMEM);
    for (int i = 0; i < qd; i++) {
        if (posix_memalign(&jobs[i].buf, 4096, 4096) != 0) die("posix_memalign", ENOMEM);
        memset(jobs[i].buf, 0x5a, 4096);
        jobs[i].x = 88172645463325252ULL + 7919ULL * i;
    }
    long long ops = 0;
    double start = now();
    if (shape == PSYNC) {
        for (int i = 0; i < qd; i++) {
            if ((errno = pthread_create(&jobs[i].thread, NULL, psync_job, &jobs[i])) != 0) die("pthread_create", errno);
        }
        struct timespec t = {.tv_sec = (time_t) seconds, .tv_nsec = (long) ((seconds - (time_t) seconds) * 1e9)};
        nanosleep(&t, NULL);
        atomic_store(&stop, 1);
        for (int i = 0; i < qd; i++) {
            pthread_join(jobs[i].thread, NULL);
            ops += jobs[i].ops;
        }
    } else {
        event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (event_fd < 0) die("eventfd", errno);
        for (int i = 0; i < qd; i++) {
            if ((errno = pthread_create(&threads[i], NULL, worker, jobs[i].buf)) != 0) die("pthread_create", errno);
        }
        ops = own(qd, seconds);
        atomic_store(&stop, 1);
        pthread_mutex_lock(&queue_lock);
        pthread_cond_broadcast(&queue_nonempty);
        pthread_mutex_unlock(&queue_lock);
        for (int i = 0; i < qd; i++) pthread_join(threads[i], NULL);
    }
    double elapsed = now() - start;
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    double cpu = u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
    printf("%s qd %ld %s: %.0f IOPS, %.1f us of CPU per I/O\n", argv[2], qd, writing ? "write" : "read",
           ops / elapsed, ops ? cpu / ops * 1e6 : 0.0);
    return 0;
}
