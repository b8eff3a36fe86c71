/*
 * The lock around FFTW's planner.
 *
 * FFTW's planner (plan creation and destruction) keeps process-global state
 * and is not thread-safe; executing a finished plan is.
 * fftwf_make_planner_thread_safe() would do the same, but it lives in
 * libfftw3f_threads, which the build does not link. So every plan we make or
 * destroy (spectrum.c, rhythm.c) happens under this one mutex. It is static
 * because what it guards is process-wide: the single FFTW planner of the
 * process, owned by no caller. (Another library in the same process calling
 * FFTW's planner would need the same discipline; none does today.)
 */
#include "audio/audio_internal.h"

#include <pthread.h>

static pthread_mutex_t planner_mutex = PTHREAD_MUTEX_INITIALIZER;

void et__audio_planner_lock(void) { pthread_mutex_lock(&planner_mutex); }

void et__audio_planner_unlock(void) { pthread_mutex_unlock(&planner_mutex); }
