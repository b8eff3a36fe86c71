/* server: the connections, each client's count against its limit, and the
 * requests in flight (which a stop waits for). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "server/server_internal.h"

/* ---- connections, their limits, requests in flight --------------------- */

uint64_t et__now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The connection's record (NULL when it could not be made). */
et__conn *et__conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* The connection's client address into k (length 0 when not IP). */
static void client_address(struct MHD_Connection *c, et__conn *k)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *a = i ? i->client_addr : NULL;
    k->addr_len = 0;
    if (a && a->sa_family == AF_INET) {
        memcpy(k->addr, &((const struct sockaddr_in *)(const void *)a)->sin_addr, 4);
        k->addr_len = 4;
    } else if (a && a->sa_family == AF_INET6) {
        memcpy(k->addr, &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr, 16);
        k->addr_len = 16;
    }
}

/* k's client in the table, added when absent; NULL when out of memory.
 * Under clients_lock. */
static et__client *client_entry(et_server *s, const et__conn *k, bool add)
{
    for (size_t i = 0; i < s->n_clients; i++)
        if (s->clients[i].addr_len == k->addr_len &&
            memcmp(s->clients[i].addr, k->addr, k->addr_len) == 0)
            return &s->clients[i];
    if (!add)
        return NULL;
    if (s->n_clients == s->cap_clients) {
        size_t cap = s->cap_clients ? s->cap_clients * 2 : 16;
        et__client *grown = realloc(s->clients, cap * sizeof *grown);
        if (!grown)
            return NULL;
        s->clients = grown;
        s->cap_clients = cap;
    }
    et__client *e = &s->clients[s->n_clients++];
    memcpy(e->addr, k->addr, sizeof e->addr);
    e->addr_len = k->addr_len;
    e->open = 0;
    return e;
}

/* The count of k's client's connections open (under clients_lock). */
static unsigned client_open(et_server *s, const et__conn *k)
{
    et__client *e = client_entry(s, k, false);
    return e ? e->open : 0;
}

/* Counts a new connection against its client: over the limit (two accepted
 * at once by two of MHD's threads, both past the accept policy), it is
 * marked (and not counted: it is answered 429 and closed). It joins the
 * sweep's list. */
static void client_opened(et_server *s, et__conn *k)
{
    pthread_mutex_lock(&s->clients_lock);
    et__client *e = client_entry(s, k, true);
    if (e && e->open >= s->max_per_client)
        k->over = true;
    else if (e)
        e->open++, k->counted = true;
    k->next = s->conns;
    if (s->conns)
        s->conns->prev = k;
    s->conns = k;
    pthread_mutex_unlock(&s->clients_lock);
}

/* Leaves the list (before MHD closes its socket: the sweep never shuts
 * down a descriptor another connection may have been given since) and its
 * client's count. */
static void client_closed(et_server *s, et__conn *k)
{
    pthread_mutex_lock(&s->clients_lock);
    if (k->prev)
        k->prev->next = k->next;
    else
        s->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    et__client *e = k->counted ? client_entry(s, k, false) : NULL;
    if (e && --e->open == 0)
        *e = s->clients[--s->n_clients];
    pthread_mutex_unlock(&s->clients_lock);
}

enum MHD_Result et__accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
    et_server *s = cls;
    et__conn k = {.addr_len = 0};
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        memcpy(k.addr, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, 4);
        k.addr_len = 4;
    } else if (addr && addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        memcpy(k.addr, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, 16);
        k.addr_len = 16;
    }
    pthread_mutex_lock(&s->clients_lock);
    bool over = client_open(s, &k) >= s->max_per_client;
    pthread_mutex_unlock(&s->clients_lock);
    if (over)
        atomic_fetch_add(&s->limited[ET__LIMIT_CONNECTIONS], 1);
    return over ? MHD_NO : MHD_YES;
}

void et__on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe)
{
    et_server *s = cls;
    et__conn *k = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&s->connections_open, 1);
        atomic_fetch_add(&s->connections_total, 1);
        if ((k = calloc(1, sizeof *k))) { /* else: neither limited nor timed */
            const union MHD_ConnectionInfo *i =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
            k->fd = i ? i->connect_fd : -1;
            atomic_store(&k->since_ns, et__now_ns());
            client_address(c, k);
            client_opened(s, k);
        }
        *socket_context = k;
        return;
    }
    atomic_fetch_sub(&s->connections_open, 1);
    if (k)
        client_closed(s, k);
    free(k);
    *socket_context = NULL;
}

/* ---- the sweep of late headers ------------------------------------------ */

/* Shuts down every connection that has waited for a request's headers for
 * longer than the deadline: MHD then reads its end and closes it, on its
 * own thread. Under clients_lock, so that no record leaves (nor its socket
 * closes) meanwhile. */
static void sweep_once(et_server *s)
{
    uint64_t now = et__now_ns();
    pthread_mutex_lock(&s->clients_lock);
    for (et__conn *k = s->conns; k; k = k->next) {
        /* in_request first: a request that ends sets since_ns before it
         * clears in_request, so an idle connection's since_ns read after is
         * the new one (and maybe later than now) */
        if (k->cut || k->fd < 0 || atomic_load(&k->in_request))
            continue;
        uint64_t since = atomic_load(&k->since_ns);
        if (since >= now || now - since <= s->header_timeout_ns)
            continue;
        k->cut = true;
        shutdown(k->fd, SHUT_RDWR);
        atomic_fetch_add(&s->headers_late, 1);
    }
    pthread_mutex_unlock(&s->clients_lock);
}

/* Sweeps four times per deadline (at least every 250 ms) until stopped. */
static void *sweeper(void *arg)
{
    et_server *s = arg;
    uint64_t step = s->header_timeout_ns / 4;
    if (step > 250000000u)
        step = 250000000u;
    pthread_mutex_lock(&s->sweep_lock);
    while (!s->sweep_stop) {
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        uint64_t ns = (uint64_t)at.tv_nsec + step;
        at.tv_sec += (time_t)(ns / 1000000000u);
        at.tv_nsec = (long)(ns % 1000000000u);
        if (pthread_cond_timedwait(&s->sweep_wake, &s->sweep_lock, &at) == ETIMEDOUT &&
            !s->sweep_stop) {
            pthread_mutex_unlock(&s->sweep_lock);
            sweep_once(s);
            pthread_mutex_lock(&s->sweep_lock);
        }
    }
    pthread_mutex_unlock(&s->sweep_lock);
    return NULL;
}

et_status et__sweep_start(et_server *s, char *err)
{
    s->sweep_stop = false;
    if (pthread_create(&s->sweeper, NULL, sweeper, s) != 0)
        return et_fail(err, ET_E_NOMEM, "cannot start the connection sweep's thread");
    s->sweeping = true;
    return ET_OK;
}

void et__sweep_stop(et_server *s)
{
    if (!s->sweeping)
        return;
    pthread_mutex_lock(&s->sweep_lock);
    s->sweep_stop = true;
    pthread_cond_broadcast(&s->sweep_wake);
    pthread_mutex_unlock(&s->sweep_lock);
    pthread_join(s->sweeper, NULL);
    s->sweeping = false;
}

/* ---- requests ----------------------------------------------------------- */

/* A request's first call (its headers are all in): it is in flight (and
 * timed) from now. Over its client's limit, or past the headers' deadline
 * (before the sweep came round), it is refused. */
et__begin et__request_begins(et_server *s, struct MHD_Connection *c)
{
    atomic_fetch_add(&s->in_flight, 1);
    et__conn *k = et__conn_of(c);
    if (!k)
        return ET__BEGIN_OK;
    k->started_ns = et__now_ns();
    atomic_store(&k->in_request, true);
    if (k->started_ns - atomic_load(&k->since_ns) > s->header_timeout_ns) {
        atomic_fetch_add(&s->headers_late, 1);
        return ET__BEGIN_LATE;
    }
    return k->over ? ET__BEGIN_OVER : ET__BEGIN_OK;
}

void et__request_completed(struct MHD_Connection *c)
{
    et__conn *k = c ? et__conn_of(c) : NULL;
    if (!k)
        return;
    atomic_store(&k->since_ns, et__now_ns());
    atomic_store(&k->in_request, false);
}

/* A request is done (answered, or its connection closed); the last one
 * wakes et_server_stop when it waits. */
void et__request_ends(et_server *s)
{
    if (atomic_fetch_sub(&s->in_flight, 1) == 1 && atomic_load(&s->stopping)) {
        pthread_mutex_lock(&s->idle_lock);
        pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->idle_lock);
    }
}
