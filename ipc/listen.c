/*
 * The listening socket (see listen.h). A socket file is created with its final mode at
 * bind time (the umask is set for that one call), so that no other user can connect in
 * the moment between bind and chmod.
 */
#include "ipc/listen.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

const char *listen_default_path(char *err, size_t errlen)
{
	static char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *env = getenv("MHOOK_SOCKET"), *xdg;

	if (env && *env)
		return env;
	if (geteuid() == 0)
		return "/run/mhook/mhookd.sock";
	xdg = getenv("XDG_RUNTIME_DIR");
	if (!xdg || !*xdg) {
		snprintf(err, errlen, "no socket path: give -S PATH, or set MHOOK_SOCKET or "
			 "XDG_RUNTIME_DIR");
		return NULL;
	}
	if ((size_t)snprintf(buf, sizeof(buf), "%s/mhookd.sock", xdg) >= sizeof(buf)) {
		snprintf(err, errlen, "$XDG_RUNTIME_DIR is too long for a socket path");
		return NULL;
	}
	return buf;
}

int listen_take_activated(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (!pid || !fds || atol(pid) != (long)getpid() || atoi(fds) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	return 3;
}

static int check_activated(int fd, char *err, size_t errlen)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0 || v != AF_UNIX ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &(socklen_t){ sizeof(v) }) < 0 || !v) {
		snprintf(err, errlen, "LISTEN_FDS: descriptor 3 is not a listening Unix socket");
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Whether a server answers at addr. */
static bool in_use(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return true; /* cannot tell: do not remove it */
	used = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ||
	       (errno != ECONNREFUSED && errno != ENOENT);
	close(fd);
	return used;
}

/* The default directory /run/mhook may not exist yet. */
static void make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(dir, sizeof(dir), "%s", path);
	if (!strcmp(path, "/run/mhook/mhookd.sock"))
		mkdir(dirname(dir), 0755);
}

int listen_open(const struct listen_config *cfg, int activated_fd, char **path_out, char *err,
		size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = cfg->path;
	struct stat st;
	int fd;

	*path_out = NULL;
	if (activated_fd >= 0)
		return check_activated(activated_fd, err, errlen);
	if (!path && !(path = listen_default_path(err, errlen)))
		return -1;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		snprintf(err, errlen, "socket path '%s' is too long (at most %zu bytes)", path,
			 sizeof(addr.sun_path) - 1);
		return -1;
	}
	strcpy(addr.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "'%s' exists and is not a socket: not replacing it", path);
			return -1;
		}
		if (in_use(&addr)) {
			snprintf(err, errlen, "'%s' is in use: another mhookd listens there", path);
			return -1;
		}
		unlink(path); /* stale: nobody listens */
	}
	make_parent(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	mode_t old = umask(0777 & ~cfg->mode);
	int rc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc < 0) {
		snprintf(err, errlen, "cannot create socket '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* The umask cannot add bits: the mode asked for is set exactly. */
	if (chmod(path, cfg->mode) < 0 || (cfg->set_gid && chown(path, (uid_t)-1, cfg->gid) < 0) ||
	    listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot set up socket '%s': %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	*path_out = strdup(path);
	return fd;
}
