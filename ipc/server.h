/*
 * The socket server (docs/protocol.md, "The socket"): a thread that accepts clients,
 * reads their requests and answers them through the tracer backend, and writes their
 * events, which the socket sink (sink_socket.c) queues for each of them.
 */
#ifndef MHOOK_SERVER_H
#define MHOOK_SERVER_H

#include <stddef.h>

#include "ipc/listen.h"
#include "sinks/sink.h"

#define SERVER_DEFAULT_QUEUE (4u << 20)

struct server_config {
	struct listen_config listen;
	int activated_fd;        /* from listen_take_activated, or -1 */
	size_t client_queue;     /* bytes per client */
};

/* Opens the socket (see listen_open); the reason in err when it cannot. */
int server_open(const struct server_config *cfg, char *err, size_t errlen);

/* Starts the server thread. Call it after a launched command is forked. */
int server_start(void);

/* The sink that queues events for the clients; one, owned by the event queue. */
struct sink *sink_socket_new(void);

/* Tells every client goodbye (reason), writes what is queued for them (for at most a
 * second), closes every connection and unlinks the socket. Their hooks must be gone
 * already: the tracer has stopped. */
void server_stop(const char *reason);

/* Where the server listens (or "(socket activation)"). */
const char *server_path(void);

/* The version mhookd reports (--version, the socket's hello). */
#ifndef MHOOK_VERSION
#define MHOOK_VERSION "0.9.0"
#endif

#endif
