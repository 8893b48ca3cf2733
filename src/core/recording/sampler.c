#include "core/recording/sampler.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "core/base/hash_map.h"

int sampler_mode = SAMPLER_EVERY_ALLOCATION;
uint64_t sampler_unit_mask = UINT64_MAX;
THREAD_LOCAL int64_t sampler_countdown;
uint8_t sampler_filter[1 << 16];
/* Whether a count was ever set: until then the filter's pages need no
 * clearing (nor touching) at a new configuration. Guarded by sampled_mutex. */
static int sampler_filter_written;

/* Each thread's generator, and the configuration it was seeded under. */
static THREAD_LOCAL uint64_t thread_random_state;
static THREAD_LOCAL uint64_t thread_configuration;

static double sampler_mean = 1.0;
static uint64_t sampler_seed;
static uint64_t configuration_number = 1; /* atomic; 0 means "never seeded" */
static uint64_t seeded_threads;           /* atomic */

/* The kept blocks; guarded by sampled_mutex. */
static pthread_mutex_t sampled_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct hash_map sampled_blocks;

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t value = (*state += 0x9E3779B97F4A7C15ULL);
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
    return value ^ (value >> 31);
}

/* A uniform double in (0, 1]. */
static double random_unit(void)
{
    return ((double)(splitmix64(&thread_random_state) >> 11) + 1.0) / 9007199254740992.0;
}

/* The next countdown: exponential of mean T (bytes) or geometric of mean N
 * (allocations, at least 1). */
static int64_t draw_countdown(void)
{
    double uniform = random_unit();
    if (sampler_mode == SAMPLER_BY_BYTES) {
        double bytes = -log(uniform) * sampler_mean;
        return bytes >= 9.0e18 ? INT64_MAX : (int64_t)bytes + 1;
    }
    if (sampler_mean <= 1.0) {
        return 1;
    }
    double gap = floor(log(uniform) / log1p(-1.0 / sampler_mean)) + 1.0;
    return gap >= 9.0e18 ? INT64_MAX : (int64_t)gap;
}

void sampler_configure(int mode, double mean, uint64_t seed, int clear_sampled)
{
    sampler_mean = mean > 1.0 ? mean : 1.0;
    sampler_seed = seed;
    sampler_unit_mask = mode == SAMPLER_BY_ALLOCATIONS ? 0 : UINT64_MAX;
    __atomic_store_n(&seeded_threads, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&configuration_number, 1, __ATOMIC_RELEASE);
    /* The calling thread starts afresh at once; other threads keep their
     * countdown until it next runs out, and are reseeded then. */
    sampler_countdown = 0;
    if (clear_sampled) {
        pthread_mutex_lock(&sampled_mutex);
        hash_map_release(&sampled_blocks);
        if (sampler_filter_written) {
            memset(sampler_filter, 0, sizeof sampler_filter);
            sampler_filter_written = 0;
        }
        pthread_mutex_unlock(&sampled_mutex);
    }
    __atomic_store_n(&sampler_mode, mode, __ATOMIC_RELEASE);
}

/* Seeds this thread's generator for the current configuration, with the
 * countdown that decides the thread's first kept allocation. */
static void seed_thread(uint64_t configuration)
{
    uint64_t ordinal = __atomic_fetch_add(&seeded_threads, 1, __ATOMIC_RELAXED);
    thread_random_state = sampler_seed ^ (ordinal * 0xD1B54A32D192ED03ULL);
    splitmix64(&thread_random_state);
    thread_configuration = configuration;
}

int sampler_countdown_expired(void)
{
    uint64_t configuration = __atomic_load_n(&configuration_number, __ATOMIC_ACQUIRE);
    if (thread_configuration != configuration) {
        /* This allocation is the first of the thread under this scheme: it
         * counts against a fresh countdown, as every later one will. */
        int64_t spent = -sampler_countdown;
        seed_thread(configuration);
        sampler_countdown = draw_countdown();
        sampler_countdown -= spent;
        if (sampler_countdown > 0) {
            return 0;
        }
    }
    sampler_countdown = draw_countdown();
    return 1;
}

void sampler_remember(uintptr_t address)
{
    pthread_mutex_lock(&sampled_mutex);
    if (!hash_map_find(&sampled_blocks, address) &&
        hash_map_put(&sampled_blocks, address, 1) == 0) {
        uint8_t *slot = &sampler_filter[sampler_filter_slot(address)];
        sampler_filter_written = 1;
        if (*slot < UINT8_MAX) {
            __atomic_store_n(slot, (uint8_t)(*slot + 1), __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&sampled_mutex);
}

int sampler_forget_slow(uintptr_t address)
{
    pthread_mutex_lock(&sampled_mutex);
    int found = hash_map_remove(&sampled_blocks, address, NULL);
    if (found) {
        uint8_t *slot = &sampler_filter[sampler_filter_slot(address)];
        /* A saturated counter stays set: it only costs slow checks. */
        if (*slot < UINT8_MAX) {
            __atomic_store_n(slot, (uint8_t)(*slot - 1), __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&sampled_mutex);
    return found;
}

void sampler_after_fork_in_child(void)
{
    pthread_mutex_init(&sampled_mutex, NULL);
}
