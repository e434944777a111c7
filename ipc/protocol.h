/*
 * The request side of the socket protocol (docs/protocol.md): one request line in, one
 * reply object out. It validates every field, asks the host whether the client may trace
 * the process, and hands the work to a backend: the tracer (backend.c) in mhookd, a fake
 * in the fuzzer. Nothing here touches a process or a socket, so that no input can reach
 * ptrace without passing these checks.
 */
#ifndef MHOOK_PROTOCOL_H
#define MHOOK_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct json_object;
struct filter;

/* The longest request line (bytes, the newline excluded). */
#define PROTO_MAX_LINE 65536
/* The most symbols one reply may list. */
#define PROTO_MAX_SYMBOLS 100000

enum proto_code {
	PROTO_OK,
	PROTO_BAD_REQUEST,
	PROTO_UNKNOWN_OP,
	PROTO_DENIED,
	PROTO_NO_SUCH_PROCESS,
	PROTO_NOT_FOUND,
	PROTO_BUSY,
	PROTO_TOO_BIG,
	PROTO_INTERNAL,
	PROTO_CANNOT_HOOK,
};

const char *proto_code_name(enum proto_code code);

#define PEER_MAX_GROUPS 64

/* Who is at the other end (SO_PEERCRED, and the groups from /proc). */
struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int ngroups;
	gid_t groups[PEER_MAX_GROUPS];
};

struct proto_client {
	int id;                  /* the connection's number, as hello and stats show it */
	struct peer peer;
	int64_t last_id;         /* the previous request's id; -1 before the first */
};

/* What the protocol needs from the server that holds the connection. */
struct proto_host {
	/* Whether c may trace pid: 1 yes, 0 no, -ESRCH no such process. */
	int (*may_trace)(struct proto_client *c, pid_t pid);
	/* Replaces c's subscription with *f (moved: the host owns it now), or ends it. */
	void (*subscribe)(struct proto_client *c, struct filter *f);
	/* Appends the stats of the clients that c may see to array. */
	void (*client_stats)(struct proto_client *c, struct json_object *array);
};

struct hook_request {
	pid_t pid;
	const char *spec;
	const char *strategy;    /* a name the registry knows */
	bool pending, keep;
};

/*
 * The work, for client number client. Each returns a proto_code; on PROTO_OK it adds its
 * results to reply, otherwise it writes a message for a person into err. The host has
 * checked the client's access to pid already.
 */
struct backend_ops {
	int (*attach)(int client, pid_t pid, struct json_object *reply, char *err, size_t errlen);
	int (*detach)(int client, pid_t pid, struct json_object *reply, char *err, size_t errlen);
	int (*hook)(int client, const struct hook_request *rq, struct json_object *reply,
		    char *err, size_t errlen);
	int (*unhook)(int client, pid_t pid, const char *spec, struct json_object *reply,
		      char *err, size_t errlen);
	/* Every traced process as a list entry ({"pid":...,"hooks":[...]}); the protocol
	 * drops those the client may not see. */
	int (*list)(struct json_object *targets, char *err, size_t errlen);
	int (*symbols)(pid_t pid, const char *glob, int limit, struct json_object *reply,
		       char *err, size_t errlen);
	/* Every hook's count ({"pid":...,"spec":...,"func":...,"calls":N}). */
	int (*hook_stats)(struct json_object *hooks, char *err, size_t errlen);
	/* The client is gone: its hooks go, but those it asked to keep. */
	void (*client_gone)(int client);
	/* Whether name is a strategy this mhookd has. */
	bool (*has_strategy)(const char *name);
};

/* Handles one request line (without its newline) and returns the reply, which the
 * caller sends and puts. Never NULL: out of memory aborts, as an answer is owed. */
struct json_object *proto_handle(const struct backend_ops *b, const struct proto_host *h,
				 struct proto_client *c, const char *line, size_t len);

/* An error reply for id (-1: null, none could be read). */
struct json_object *proto_error(int64_t id, enum proto_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
