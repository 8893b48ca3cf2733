/*
 * The seal: completing the capture right before the process dies without
 * atexit (a terminating signal, _exit) or becomes another program (exec).
 *
 * A caller asks with an atomic counter and a sem_post, and waits, bounded,
 * with nanosleep for the writer thread to write every event recorded so far
 * and the footer: async-signal-safe, no allocation, no lock the interrupted
 * thread might hold. The writer then takes no events until every caller that
 * wanted the seal has let it go again (only an exec that failed does); it
 * then takes the footer away and records on. See recorder.h.
 */
#include "core/recording/recorder_internal.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "core/base/thread_local.h"
#include "core/format/capture_format.h"

/* How long a caller waits for the writer: a writer stuck behind a lock the
 * dying thread holds must not keep the program from dying. */
#define SEAL_WAIT_NS (2000u * 1000u * 1000u)
#define SEAL_POLL_NS (1000u * 1000u)

void recorder_seal_reset(void)
{
    __atomic_store_n(&recorder.sealable_pid, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&recorder.seal_wanted, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&recorder.sealed, 0, __ATOMIC_RELAXED);
    recorder.file.sealed = 0;
    sem_init(&recorder.wake_semaphore, 0, 0);
}

/* Nonzero when the calling thread may wait for this process's writer: a
 * writer runs in this very process (a vfork child shares the parent's
 * memory but has its own pid) and the caller is not the writer itself. */
static int seal_possible_here(void)
{
    int owner = __atomic_load_n(&recorder.sealable_pid, __ATOMIC_ACQUIRE);
    return owner != 0 && owner == (int)getpid() &&
           !pthread_equal(pthread_self(), recorder.writer_thread);
}

/* Waits until sealed reads wanted_state, or SEAL_WAIT_NS passed, or the
 * writer went away. Returns 0 when the state was reached. */
static int wait_for_seal_state(int wanted_state)
{
    struct timespec pause = {0, SEAL_POLL_NS};
    for (uint64_t waited = 0; waited < SEAL_WAIT_NS; waited += SEAL_POLL_NS) {
        if (__atomic_load_n(&recorder.sealed, __ATOMIC_ACQUIRE) == wanted_state) {
            return 0;
        }
        if (!__atomic_load_n(&recorder.sealable_pid, __ATOMIC_ACQUIRE)) {
            return -1;
        }
        nanosleep(&pause, NULL);
    }
    return -1;
}

int recorder_seal(void)
{
    if (!seal_possible_here()) {
        return -1;
    }
    __atomic_fetch_add(&recorder.seal_wanted, 1, __ATOMIC_ACQ_REL);
    recorder_writer_wake();
    return wait_for_seal_state(1) == 0 ? 1 : 0;
}

void recorder_unseal(void)
{
    if (!seal_possible_here()) {
        return;
    }
    if (__atomic_sub_fetch(&recorder.seal_wanted, 1, __ATOMIC_ACQ_REL) == 0) {
        recorder_writer_wake();
        wait_for_seal_state(0);
    }
}

/* Set while this thread's exec holds a seal (it lets it go if exec fails).
 * Never touched in a vfork child (seal_possible_here fails there), whose
 * thread-local storage is its parent thread's. */
static THREAD_LOCAL int exec_holds_seal;

void recorder_seal_before_exec(void)
{
    exec_holds_seal = recorder_seal() >= 0;
}

void recorder_after_failed_exec(void)
{
    if (seal_possible_here() && exec_holds_seal) {
        exec_holds_seal = 0;
        recorder_unseal();
    }
}

/* --- the writer's side -------------------------------------------------- */

static void seal_capture(void)
{
    recorder_writer_final_round();
    if (recorder.ring_mode) {
        int signal_number = __atomic_exchange_n(&recorder.ring_death_signal, 0, __ATOMIC_ACQ_REL);
        recorder_ring_dump(signal_number ? RING_DUMP_SIGNAL : RING_DUMP_NO_ATEXIT, signal_number);
        return;
    }
    if (!recorder.streaming) {
        return;
    }
    struct byte_buffer footer = {0};
    if (recorder_encode_footer(&footer, recorder_monotonic_ns()) < 0) {
        recorder.file.error_number = recorder.file.error_number ? recorder.file.error_number
                                                                : ENOMEM;
    }
    capture_writer_seal(&recorder.file, &footer);
    byte_buffer_release(&footer);
}

static void unseal_capture(void)
{
    if (recorder.streaming && capture_writer_unseal(&recorder.file) < 0) {
        /* The footer stays: the capture is complete up to the seal. */
        __atomic_store_n(&recorder_active_flag, 0, __ATOMIC_RELAXED);
    }
    /* An --aggregate capture gets a snapshot that is not final at once. */
    recorder.last_aggregate_ns = 0;
}

int recorder_writer_follow_seal(void)
{
    int wanted = __atomic_load_n(&recorder.seal_wanted, __ATOMIC_ACQUIRE) > 0;
    int sealed = __atomic_load_n(&recorder.sealed, __ATOMIC_RELAXED);
    if (wanted && !sealed) {
        seal_capture();
        __atomic_store_n(&recorder.sealed, 1, __ATOMIC_RELEASE);
        return 1;
    }
    if (!wanted && sealed) {
        unseal_capture();
        __atomic_store_n(&recorder.sealed, 0, __ATOMIC_RELEASE);
    }
    return sealed && wanted;
}
