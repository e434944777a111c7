/*
 * The connected clients, shared by the server thread (server.c: reading requests, writing
 * to sockets) and the sink thread (sink_socket.c: queueing events for each client). One
 * mutex guards the list and every client's output queue, filter and access answers; it is
 * never held across a request to the tracer, which may itself wait for the sink thread.
 */
#ifndef MHOOK_CLIENTS_H
#define MHOOK_CLIENTS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/filter.h"
#include "ipc/protocol.h"

struct access_answer {
	pid_t pid;
	bool ok;
};

/* A hook's count as a periodic summary last reported it. */
struct summary_mark {
	pid_t pid;
	char *spec;
	uint64_t calls;
};

struct client {
	struct proto_client pc;
	int fd;
	struct client *next;

	/* Under clients_lock. */
	char *out;               /* bytes for the socket: out[outoff, outlen) */
	size_t outoff, outlen, outcap;
	uint64_t lost;           /* events dropped since the last "lost" line */
	uint64_t lost_total, delivered;
	bool subscribed;
	bool wants_calls;        /* counted in handlers_want_calls */
	struct filter filter;
	struct access_answer *acl;
	int nacl, capacl;

	/* The server thread's alone. */
	char *in;                /* a request line being read */
	size_t inlen;
	bool skipping;           /* inside a line over the limit: drop up to its newline */
	bool dead;
	uint64_t next_summary_ns;
	struct summary_mark *marks;
	int nmarks;
};

struct clients {
	pthread_mutex_t lock;
	struct client *head;
	size_t queue_limit;      /* bytes of events queued per client */
	int wake_fd;             /* eventfd: the server thread has output to write */
	bool closed;             /* the server is gone: the sink drops everything */
};

extern struct clients clients;

/* Queues a whole line for c (the limit does not apply: replies, hello, bye). Locked. */
void client_put_locked(struct client *c, const char *line, size_t len);

/* Queues an event line for c within its limit, counting it lost otherwise; a pending
 * "lost" line goes first. Locked. */
void client_put_event_locked(struct client *c, const char *line, size_t len);

/* Whether c may trace pid, asking the kernel the first time (access.c) and remembering
 * the answer for the event stream. Locked. */
int client_may_trace_locked(struct client *c, pid_t pid);

/* Forgets c's answer about pid: the process was attached anew, exec'd or ended, so the
 * pid may stand for another program or process next time. Locked. */
void client_forget_pid_locked(struct client *c, pid_t pid);

/* Wakes the server thread to write what is queued. */
void clients_wake(void);

#endif
