/*
 * The listening socket (listen.c): where it is, creating it safely, or taking the one a
 * service manager passed (LISTEN_FDS), and removing it at exit.
 */
#ifndef MHOOK_LISTEN_H
#define MHOOK_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct listen_config {
	const char *path;        /* NULL: MHOOK_SOCKET, else the default for our user */
	mode_t mode;             /* permission bits of a socket we create */
	gid_t gid;               /* its group, when set_gid */
	bool set_gid;
};

/* The socket path a client or server uses when none is given: MHOOK_SOCKET, else
 * /run/mhook/mhookd.sock for root, $XDG_RUNTIME_DIR/mhookd.sock otherwise. NULL (with
 * the reason in err) when neither applies. */
const char *listen_default_path(char *err, size_t errlen);

/* Called first thing in main: a socket passed by the service manager (LISTEN_FDS=1,
 * LISTEN_PID=our pid) is made close-on-exec, so that a launched command never inherits
 * it, and the variables are removed from our environment. Returns the descriptor, or -1. */
int listen_take_activated(void);

/* Creates the listening socket of cfg (or returns the activated fd): refuses a path that
 * is not a socket or that some server listens on, replaces a stale one. *path_out is the
 * path to unlink at exit (NULL for an activated socket, which is the manager's).
 * Returns the fd, or -1 with the reason in err. */
int listen_open(const struct listen_config *cfg, int activated_fd, char **path_out, char *err,
		size_t errlen);

#endif
