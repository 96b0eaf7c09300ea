// A small pool of worker threads for the engine's parallel loops. Kernels of a decoding
// step last microseconds; waking a sleeping thread through the kernel (what a dispatch queue
// does for every parallel loop) costs about as much as the kernel itself. Here workers spin
// on a job counter for a short while after each job before they sleep, so back-to-back
// kernels find them awake, as OpenMP runtimes do. Work is split in tasks taken in order from
// a shared counter; the caller takes tasks too. See CKernels.h for the contract.
#include "CKernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define CK_PAUSE() __asm__ __volatile__("yield")
#else
#define CK_PAUSE() ((void)0)
#endif

// SPIN_ROUNDS pauses: 0.1 to 0.5 ms, longer than the gaps between the kernels of a step.
// CKPT_WAIT_POLICY=passive (as OMP_WAIT_POLICY) makes workers sleep at once instead.
enum { MAX_WORKERS = 63, SPIN_ROUNDS = 4096 };
static int spin_rounds = SPIN_ROUNDS;

// The job state in one word, so that a task is claimed only from the job it belongs to:
// generation (24 bits) | tasks (20 bits) | next task to take (20 bits).
#define NEXT_BITS 20
#define TASK_BITS 20
#define FIELD_MASK ((UINT64_C(1) << 20) - 1)
#define GEN_OF(s) ((s) >> (NEXT_BITS + TASK_BITS))
#define TASKS_OF(s) (((s) >> NEXT_BITS) & FIELD_MASK)
#define NEXT_OF(s) ((s)&FIELD_MASK)

static struct {
    pthread_mutex_t submit;  // one job at a time; a second caller runs its job inline
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    _Atomic uint64_t state;
    atomic_int sleepers;
    // The current job's function, written before its state is published and stable until
    // all its tasks are finished (a task is claimed only while the state names the job).
    void (*fn)(void *, size_t);
    void *ctx;
    int helpers;  // workers 0 ..< helpers take part in the current job
    atomic_size_t finished;
    int workers;
} pool = {
    .submit = PTHREAD_MUTEX_INITIALIZER,
    .sleep_lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static _Thread_local bool inside_pool = false;

// Claims and runs tasks of generation `gen` until none is left.
static void take_tasks(uint64_t gen) {
    uint64_t s = atomic_load_explicit(&pool.state, memory_order_acquire);
    for (;;) {
        if (GEN_OF(s) != gen || NEXT_OF(s) >= TASKS_OF(s)) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.state, &s, s + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        pool.fn(pool.ctx, (size_t)NEXT_OF(s));
        atomic_fetch_add_explicit(&pool.finished, 1, memory_order_release);
        s = atomic_load_explicit(&pool.state, memory_order_acquire);
    }
}

static void *worker(void *arg) {
    const int index = (int)(intptr_t)arg;
    inside_pool = true;
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = GEN_OF(atomic_load_explicit(&pool.state, memory_order_acquire));
        for (int spin = 0; g == seen && spin < spin_rounds; spin++) {
            CK_PAUSE();
            g = GEN_OF(atomic_load_explicit(&pool.state, memory_order_acquire));
        }
        if (g == seen) {
            pthread_mutex_lock(&pool.sleep_lock);
            atomic_fetch_add(&pool.sleepers, 1);
            while ((g = GEN_OF(atomic_load(&pool.state))) == seen)
                pthread_cond_wait(&pool.wake, &pool.sleep_lock);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.sleep_lock);
        }
        seen = g;
        if (index < pool.helpers) take_tasks(g);
    }
    return NULL;
}

static void start(void) {
    const char *policy = getenv("CKPT_WAIT_POLICY");
    if (policy && strcmp(policy, "passive") == 0) spin_rounds = 0;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = cpus > 1 ? (int)(cpus - 1) : 0;
    if (n > MAX_WORKERS) n = MAX_WORKERS;
    int started = 0;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, worker, (void *)(intptr_t)started) == 0) started++;
        pthread_attr_destroy(&attr);
    }
    pool.workers = started;
}

int ck_pool_workers(void) {
    pthread_once(&once, start);
    return pool.workers;
}

void ck_pool_run(size_t tasks, int threads, void (*fn)(void *, size_t), void *ctx) {
    if (tasks == 0) return;
    if (tasks == 1 || threads < 2 || tasks > FIELD_MASK || inside_pool || ck_pool_workers() == 0 ||
        pthread_mutex_trylock(&pool.submit) != 0) {
        // One task, a nested loop, no workers, or another job running: run it here.
        for (size_t i = 0; i < tasks; i++) fn(ctx, i);
        return;
    }
    // The previous job's tasks are all claimed and finished, so no worker reads fn or ctx
    // now, and none can claim from the old state.
    pool.fn = fn;
    pool.ctx = ctx;
    pool.helpers = threads - 1;
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    uint64_t gen = (GEN_OF(atomic_load(&pool.state)) + 1) & ((UINT64_C(1) << 24) - 1);
    if (gen == 0) gen = 1;  // 0 is what workers have seen before any job
    // Sequentially consistent: a worker going to sleep counts itself in `sleepers`, then reads
    // the state; this stores the state, then reads `sleepers`. One of the two sees the other.
    atomic_store_explicit(&pool.state, gen << (NEXT_BITS + TASK_BITS) | (uint64_t)tasks << NEXT_BITS,
                          memory_order_seq_cst);
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.sleep_lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.sleep_lock);
    }
    inside_pool = true;
    take_tasks(gen);
    inside_pool = false;
    // A worker may have been descheduled holding a task (a busy machine): after a short spin,
    // give the processor away instead of burning it.
    for (int spin = 0; atomic_load_explicit(&pool.finished, memory_order_acquire) != tasks; spin++) {
        if (spin < 256)
            CK_PAUSE();
        else
            sched_yield();
    }
    pthread_mutex_unlock(&pool.submit);
}
