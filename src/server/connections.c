/* server: the connections, each client's count against its limit, and the
 * requests in flight (which a stop waits for). */
#include <arpa/inet.h>
#include <stdlib.h>
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

/* Counts a new connection against its client: over the limit, it is marked
 * (and not counted: it is answered 429 and closed). */
static void client_opened(et_server *s, et__conn *k)
{
    pthread_mutex_lock(&s->clients_lock);
    et__client *e = client_entry(s, k, true);
    if (e && e->open >= s->max_per_client)
        k->over = true;
    else if (e)
        e->open++, k->counted = true;
    pthread_mutex_unlock(&s->clients_lock);
}

static void client_closed(et_server *s, const et__conn *k)
{
    pthread_mutex_lock(&s->clients_lock);
    et__client *e = client_entry(s, k, false);
    if (e && --e->open == 0)
        *e = s->clients[--s->n_clients];
    pthread_mutex_unlock(&s->clients_lock);
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
            client_address(c, k);
            client_opened(s, k);
        }
        *socket_context = k;
        return;
    }
    atomic_fetch_sub(&s->connections_open, 1);
    if (k && k->counted)
        client_closed(s, k);
    free(k);
    *socket_context = NULL;
}

/* A request's first call: it is in flight (and timed) from now. False when
 * its connection is over its client's limit. */
bool et__request_begins(et_server *s, struct MHD_Connection *c)
{
    atomic_fetch_add(&s->in_flight, 1);
    et__conn *k = et__conn_of(c);
    if (k)
        k->started_ns = et__now_ns();
    return !(k && k->over);
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
