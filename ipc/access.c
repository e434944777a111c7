/*
 * Access checks (see access.h). Credentials are per thread in Linux: a raw setresuid in
 * one thread changes that thread only (glibc's wrappers would change every thread, which
 * is why they are not used). The thread dies right after its one open, so mhookd's other
 * threads never run with anything but their own credentials. A fork would not do: the
 * tracer thread waits for every child of the process.
 */
#include "ipc/access.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int access_peer(int fd, struct peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	memset(p, 0, sizeof(*p));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	p->uid = cred.uid;
	p->gid = cred.gid;
	p->pid = cred.pid;
	len = sizeof(p->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) == 0)
		p->ngroups = (int)(len / sizeof(gid_t));
	else
		p->ngroups = 0; /* too many groups: the check runs with the primary group only,
				 * which can only refuse more, never allow more */
	return 0;
}

struct check {
	const struct peer *p;
	pid_t pid;
	int result;
};

static void *check_thread(void *arg)
{
	struct check *c = arg;
	char path[64];

	c->result = 0;
	/* A mhookd that is not root cannot take another user's identity, and needs not
	 * take its own. */
	if (geteuid() != 0 && c->p->uid != geteuid())
		return NULL;
	if (geteuid() == 0 &&
	    (syscall(SYS_setgroups, (size_t)c->p->ngroups, c->p->groups) < 0 ||
	    syscall(SYS_setresgid, c->p->gid, c->p->gid, c->p->gid) < 0 ||
	     syscall(SYS_setresuid, c->p->uid, c->p->uid, c->p->uid) < 0))
		return NULL; /* could not become the client: refuse */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)c->pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		c->result = 1;
	} else if (errno == ENOENT || errno == ESRCH) {
		c->result = -ESRCH;
	}
	return NULL;
}

static int pidfd_alive(int pidfd)
{
	return syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

int access_may_trace(const struct peer *p, pid_t pid)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct check c = { .p = p, .pid = pid };
	pthread_t t;

	if (pidfd < 0)
		return -ESRCH; /* no such process (or a thread id, which is not one) */
	if (p->uid == 0) {
		close(pidfd);
		return 1;
	}
	/* The thread takes none of our signals: they are the tracer thread's. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&t, NULL, check_thread, &c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		close(pidfd);
		return 0;
	}
	pthread_join(t, NULL);
	if (!pidfd_alive(pidfd))
		c.result = -ESRCH;
	close(pidfd);
	return c.result;
}
