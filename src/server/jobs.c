/* server: the job pool that runs the handlers (server_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

/* Runs one routed request's handler and wakes its connection. The request
 * is not touched after the resume: its connection may end and free it. */
static void run(et_server *s, et__request *r)
{
    et__call call = {.conn = r->conn, .req = r, .name = r->param};
    r->reply = et__routes[r->route].handler(s, &call);
    atomic_store(&r->done, true);
    MHD_resume_connection(r->conn);
}

static void *job_thread(void *arg)
{
    et_server *s = arg;
    et__jobs *j = &s->jobs;
    pthread_mutex_lock(&j->lock);
    for (;;) {
        while (!j->head && !j->stopping)
            pthread_cond_wait(&j->ready, &j->lock);
        et__request *r = j->head;
        if (!r)
            break; /* stopping, and nothing left to run */
        j->head = r->next_job;
        if (!j->head)
            j->tail = NULL;
        pthread_mutex_unlock(&j->lock);
        run(s, r);
        pthread_mutex_lock(&j->lock);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

et_status et__jobs_start(et_server *s, int n, char *err)
{
    et__jobs *j = &s->jobs;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->ready, NULL);
    j->threads = calloc((size_t)n, sizeof *j->threads);
    if (!j->threads)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    for (; j->n_threads < n; j->n_threads++)
        if (pthread_create(&j->threads[j->n_threads], NULL, job_thread, s) != 0) {
            et__jobs_stop(s);
            return et_fail(err, ET_E_NOMEM, "cannot start the server's threads");
        }
    return ET_OK;
}

bool et__jobs_push(et_server *s, et__request *r)
{
    et__jobs *j = &s->jobs;
    pthread_mutex_lock(&j->lock);
    bool taken = !j->stopping;
    if (taken) {
        r->next_job = NULL;
        if (j->tail)
            j->tail->next_job = r;
        else
            j->head = r;
        j->tail = r;
        pthread_cond_signal(&j->ready);
    }
    pthread_mutex_unlock(&j->lock);
    return taken;
}

void et__jobs_stop(et_server *s)
{
    et__jobs *j = &s->jobs;
    if (!j->threads)
        return;
    pthread_mutex_lock(&j->lock);
    j->stopping = true;
    pthread_cond_broadcast(&j->ready);
    pthread_mutex_unlock(&j->lock);
    for (int i = 0; i < j->n_threads; i++)
        pthread_join(j->threads[i], NULL);
    free(j->threads);
    j->threads = NULL;
    pthread_cond_destroy(&j->ready);
    pthread_mutex_destroy(&j->lock);
}
