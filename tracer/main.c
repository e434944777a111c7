/*
 * mhookd: the command line (README, "Using mhookd"), and the composition: which sinks the
 * events go to (text or JSON, a file or stderr), the handlers that make them, and the life
 * of a session: get hold of the target, resolve every SPEC, prepare every hook (all that
 * can fail), install them in one stop, report ready, run the stop loop, then detach and
 * summarise. Exit status: 0 clean, 1 bad usage or SPEC, 2 cannot trace or hook, 3 reports
 * lost; in launch mode the command's own status when it is not 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handlers/counts.h"
#include "handlers/handlers.h"
#include "ipc/backend.h"
#include "ipc/server.h"
#include "sinks/queue.h"
#include "sinks/sink.h"
#include "sinks/utf8.h"
#include "strategies/strategy.h"
#include "tracer/attach.h"
#include "tracer/demangle.h"
#include "tracer/detach.h"
#include "tracer/follow.h"
#include "tracer/hooks.h"
#include "tracer/loop.h"
#include "tracer/mem.h"
#include "tracer/proc.h"
#include "tracer/signals.h"
#include "tracer/symbols.h"

#define EXIT_USAGE 1
#define EXIT_TRACE 2
#define EXIT_LOST 3 /* the run went well but reports could not be written */

struct options {
	pid_t pid;               /* the first -p, or 0 */
	pid_t *pids;             /* every -p, in order: each its own session */
	int npids;
	char **cmd;
	char **specs;
	int nspecs;
	const char *strategy;
	const char *output;
	const char *list;
	bool json;
	bool summary_only;
	int time_of_day;         /* -t given 1, 2 or 3 times */
	bool pending;
	bool strict;             /* a SPEC never armed fails the run */
	bool follow;
	int max_hooks;           /* --max-hooks: per glob; 0 for the default */
	double duration;
	bool listen;             /* serve the socket (--listen, -S) */
	struct server_config server;
	struct spec *parsed;     /* the SPECs, parsed: every session hooks them */
	const struct strategy_ops *ops;
};

static const char usage_text[] =
	"Usage: mhookd [options] -p PID\n"
	"       mhookd [options] -- CMD [ARG...]\n"
	"       mhookd --listen [PATH] [options] [-p PID | -- CMD [ARG...]]\n"
	"Hook machine-code functions in a running process, or in a command it starts,\n"
	"and report every call. The target's binaries are never changed.\n"
	"\n"
	"  -p, --pid PID        attach to a running process; repeatable, or PID,PID,...:\n"
	"                       each its own session, counted per pid in the summaries\n"
	"  -f, --func SPEC      function to hook; repeatable. SPEC is NAME, LIB:NAME,\n"
	"                       0xADDR (absolute) or LIB:0xOFF (from LIB's load base),\n"
	"                       optionally followed by +0xOFF. LIB is an object's basename,\n"
	"                       or its basename up to a '.' or '-' (libc), or exe\n"
	"                       NAME may be a C++ name as written in source:\n"
	"                       'ns::shape::area(int)', or 'ns::twice<long>' when it\n"
	"                       names one function\n"
	"                       NAME and LIB may be globs (*, ?, [...]): 'libc:str*',\n"
	"                       '*:SSL_*', one hook per function they match\n"
	"  -s, --strategy S     how to hook:\n"
	"                         swbp  int3 at the entry, the displaced instruction run\n"
	"                               out of line: one stop per call (default)\n"
	"                         hwbp  x86 debug registers: no write to the code, one\n"
	"                               stop per call, at most 4 functions\n"
	"                         nx    the page made non-executable: code byte-identical\n"
	"                               even in memory; faults run from a code cache, with\n"
	"                               collateral stops for the page's other code\n"
	"                         step  the seed's re-arm, for comparison: int3 at the\n"
	"                               entry; at each call the byte is put back and\n"
	"                               single-stepped with every other thread stopped:\n"
	"                               two stops per call\n"
	"  -o, --output FILE    where reports go; default stderr, \"-\" is stdout\n"
	"      --json           one JSON object per line instead of text\n"
	"  -c, --summary        no per-call reports, only the summaries at exit\n"
	"  -t                   text calls show the time of day (HH:MM:SS) instead of\n"
	"                       seconds since start; -tt adds microseconds, -ttt prints\n"
	"                       seconds since the epoch\n"
	"      --duration SECS  detach by itself after SECS seconds\n"
	"      --max-hooks N    the most functions one glob may hook (1000)\n"
	"  -C, --demangle       report C++ names demangled (events, summaries, -l,\n"
	"                       whose GLOB then also matches them); off by default\n"
	"  -F, --follow         trace and hook children too (fork, vfork, posix_spawn),\n"
	"                       and follow their execs; events carry each child's pid\n"
	"      --pending        with -p: accept a SPEC that nothing loaded defines yet,\n"
	"                       and hook it when a library that defines it is loaded\n"
	"                       (always on with -- CMD)\n"
	"      --strict         a SPEC never armed (still pending at the end) makes the\n"
	"                       run fail with status 2; without it, a warning line\n"
	"  -l, --list GLOB      list the target's functions matching GLOB\n"
	"                       (object, address, size, name), then exit. With\n"
	"                       CMD: the objects loaded at its entry point (library\n"
	"                       constructors have run, main has not), then CMD is\n"
	"                       killed; what it would dlopen later is not listed\n"
	"                       (list a running process with -p for that)\n"
	"      --listen [PATH]  also serve clients on a Unix socket (docs/protocol.md):\n"
	"                       they attach, hook and watch events by request. Without\n"
	"                       -p or CMD, a daemon that waits for clients. PATH (taken\n"
	"                       when it does not start with '-'), else -S, else\n"
	"                       $MHOOK_SOCKET, else /run/mhook/mhookd.sock for root,\n"
	"                       $XDG_RUNTIME_DIR/mhookd.sock otherwise\n"
	"  -S, --socket PATH    the socket's path (implies --listen)\n"
	"      --socket-mode M  its permission bits, octal (default 0600: you only)\n"
	"      --socket-group G the group owning it (name or number)\n"
	"      --client-queue N bytes queued per client before its events are dropped\n"
	"                       and counted as lost (default 4M; K and M suffixes)\n"
	"  -h, --help           show this help\n"
	"      --version        print mhookd's version and exit\n"
	"\n"
	"SIGINT or SIGTERM removes every hook, detaches and prints the summaries; the\n"
	"target keeps running, its code byte-identical to before. In launch mode mhookd\n"
	"then waits for the command and exits with its status. Clients are told with a\n"
	"last \"bye\" line and the socket is removed. A daemon's stderr shows no calls\n"
	"(only -o FILE gets them): its clients do.\n"
	"Exit status: 0 clean run; 1 bad usage or SPEC; 2 the target cannot be traced or\n"
	"a function cannot be hooked; 3 reports could not be written (mhookd detached at\n"
	"the first failed write); with -- CMD, the command's status (128+N if signal N\n"
	"killed it) when it is not 0; with -p, the target's, if it ended while traced.\n"
	"Environment: MHOOK_DEBUG=1 logs every write into the target to stderr;\n"
	"MHOOK_SOCKET is the default socket; LISTEN_FDS=1 with LISTEN_PID=mhookd's pid\n"
	"(socket activation) serves descriptor 3 instead of creating a socket.\n";

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "mhookd: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see mhookd --help)\n");
	va_end(ap);
	exit(EXIT_USAGE);
}

/* -p PID, or PID,PID,... as strace takes them; repeatable. */
static void add_pids(struct options *o, const char *arg)
{
	const char *p = arg;

	for (;;) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (errno || end == p || (*end && *end != ',') || v <= 0 || v > 0x7fffffff)
			die_usage("-p wants a process id or a comma-separated list of them, not '%s'",
				  arg);
		for (int i = 0; i < o->npids; i++)
			if (o->pids[i] == (pid_t)v)
				die_usage("pid %ld is given twice", v);
		pid_t *grown = realloc(o->pids, (size_t)(o->npids + 1) * sizeof(*grown));
		if (!grown)
			die_usage("out of memory");
		o->pids = grown;
		o->pids[o->npids++] = (pid_t)v;
		o->pid = o->pids[0];
		if (!*end)
			return;
		p = end + 1;
	}
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_VERSION = 255, OPT_JSON = 256, OPT_DURATION, OPT_PENDING, OPT_STRICT, OPT_LISTEN, OPT_SOCKET_MODE,
	       OPT_SOCKET_GROUP, OPT_CLIENT_QUEUE, OPT_MAX_HOOKS };
	static const struct option longopts[] = {
		{ "func", required_argument, NULL, 'f' },
		{ "strategy", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "summary", no_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "pending", no_argument, NULL, OPT_PENDING },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "follow", no_argument, NULL, 'F' },
		{ "demangle", no_argument, NULL, 'C' },
		{ "max-hooks", required_argument, NULL, OPT_MAX_HOOKS },
		{ "list", required_argument, NULL, 'l' },
		{ "pid", required_argument, NULL, 'p' },
		{ "listen", optional_argument, NULL, OPT_LISTEN },
		{ "socket", required_argument, NULL, 'S' },
		{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
		{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
		{ "client-queue", required_argument, NULL, OPT_CLIENT_QUEUE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	memset(o, 0, sizeof(*o));
	o->strategy = "swbp";
	o->server.listen.mode = 0600;
	o->server.activated_fd = -1;
	o->specs = calloc((size_t)argc, sizeof(char *));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+f:s:o:cl:p:hFS:tC", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->specs[o->nspecs++] = optarg;
			break;
		case 's':
			o->strategy = optarg;
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'c':
			o->summary_only = true;
			break;
		case 't':
			if (++o->time_of_day > 3)
				die_usage("-t is given at most three times (-ttt)");
			break;
		case OPT_PENDING:
			o->pending = true;
			break;
		case OPT_STRICT:
			o->strict = true;
			break;
		case 'F':
			o->follow = true;
			break;
		case 'C':
			cxx_set_demangle_output(true);
			break;
		case OPT_MAX_HOOKS: {
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v > 1000000)
				die_usage("--max-hooks wants a number of functions from 1 to "
					  "1000000, not '%s'", optarg);
			o->max_hooks = (int)v;
			break;
		}
		case OPT_DURATION:
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(o->duration > 0) ||
			    !isfinite(o->duration))
				die_usage("--duration wants a positive number of seconds, not '%s'",
					  optarg);
			break;
		case 'l':
			o->list = optarg;
			break;
		case 'p':
			add_pids(o, optarg);
			break;
		case OPT_LISTEN:
			o->listen = true;
			/* "--listen PATH" as well as "--listen=PATH": a command comes after --. */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			if (optarg)
				o->server.listen.path = optarg;
			break;
		case 'S':
			o->listen = true;
			o->server.listen.path = optarg;
			break;
		case OPT_SOCKET_MODE: {
			errno = 0;
			long v = strtol(optarg, &end, 8);
			if (errno || *end || end == optarg || v < 0 || v > 0777)
				die_usage("--socket-mode wants octal permission bits (0600, 0660), "
					  "not '%s'", optarg);
			o->server.listen.mode = (mode_t)v;
			break;
		}
		case OPT_SOCKET_GROUP: {
			struct group *g = getgrnam(optarg);
			errno = 0;
			long v = g ? (long)g->gr_gid : strtol(optarg, &end, 10);
			if (!g && (errno || *end || end == optarg || v < 0))
				die_usage("--socket-group: no group '%s'", optarg);
			o->server.listen.gid = (gid_t)v;
			o->server.listen.set_gid = true;
			break;
		}
		case OPT_CLIENT_QUEUE: {
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			unsigned long long unit = *end == 'K' || *end == 'k' ? 1024 :
						  *end == 'M' || *end == 'm' ? 1024 * 1024 : 1;
			if (unit > 1)
				end++;
			if (errno || *end || end == optarg || v == 0 || v > (1ULL << 40) / unit ||
			    v * unit < 4096)
				die_usage("--client-queue wants a number of bytes of at least 4096 "
					  "(K and M suffixes allowed), not '%s'", optarg);
			o->server.client_queue = (size_t)(v * unit);
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case OPT_VERSION:
			printf("mhookd %s\n", MHOOK_VERSION);
			exit(0);
		case '?':
		default:
			if (optopt)
				fprintf(stderr, "mhookd: option -%c %s (see mhookd --help)\n", optopt,
					strchr("fsolpS", optopt) ? "needs an argument" : "is unknown");
			else
				fprintf(stderr, "mhookd: bad option '%s' (see mhookd --help)\n",
					argv[optind - 1]);
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc)
		o->cmd = argv + optind;
	if (o->pid && o->cmd)
		die_usage("give either -p PID or a command, not both");
	if (!o->pid && !o->cmd && !o->listen)
		die_usage("nothing to trace: give -p PID or -- CMD (or --listen, for clients)");
	if (!o->pid && !o->cmd && o->list)
		die_usage("-l needs a process: give -p PID or -- CMD");
	if (o->list && o->npids > 1)
		die_usage("-l lists one process: give one -p PID");
	if (!o->nspecs && !o->list && !o->listen)
		die_usage("no function to hook: give -f SPEC");
	if (!o->pid && !o->cmd && (o->nspecs || o->follow))
		die_usage("-f and -F need -p PID or -- CMD; a daemon's clients hook by request");
	if (!strategy_find(o->strategy)) {
		char names[128];
		strategy_names(names, sizeof(names));
		die_usage("unknown strategy '%s' (available: %s)", o->strategy, names);
	}
}

/* Where reports go. Stderr, stdout, a pipe or a terminal may carry the target's own
 * output too, so they get a stream of whole-line writes (sink_lines_fdopen); a regular
 * file given with -o a plain one. Either way the stream is mhookd's to close. */
static FILE *open_output(const char *path)
{
	struct stat st;
	FILE *f;
	int fd;

	if (!path || !strcmp(path, "-")) {
		f = sink_lines_fdopen(path ? STDOUT_FILENO : STDERR_FILENO, false);
	} else {
		f = fopen(path, "we");
		if (!f) {
			fprintf(stderr, "mhookd: cannot open '%s': %s\n", path, strerror(errno));
			exit(EXIT_USAGE);
		}
		if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
			return f;
		fd = fcntl(fileno(f), F_DUPFD_CLOEXEC, 3);
		fclose(f);
		f = fd < 0 ? NULL : sink_lines_fdopen(fd, true);
		if (!f && fd >= 0)
			close(fd);
	}
	if (!f) {
		fprintf(stderr, "mhookd: out of memory\n");
		exit(EXIT_TRACE);
	}
	return f;
}

static int list_functions(pid_t pid, const char *glob)
{
	const struct image_source src = { .read = mem_read_cb, .read_ctx = (void *)(intptr_t)pid };
	char err[1024];
	struct image *img;

	if (image_load(pid, &src, &img, err, sizeof(err)) < 0) {
		fprintf(stderr, "mhookd: cannot read the objects of pid %d: %s\n", (int)pid, err);
		return EXIT_TRACE;
	}
	int n = image_list(img, glob, stdout);
	image_free(img);
	fflush(stdout);
	if (n == 0)
		fprintf(stderr, "mhookd: no function matches '%s'\n", glob);
	return 0;
}

static int status_to_exit(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 0;
}

/* Launch mode: we stay the command's parent after detaching and exit with its status,
 * as the shell would have seen it without us. Threads that ended during the detach (a
 * Ctrl-C reaches the command too) may still be ours to reap, and the leader is reported
 * only after them, so every child of ours is waited for; one still traced is let go. */
static int wait_command(struct session *s)
{
	int status;

	if (s->gone)
		return status_to_exit(s->exit_status);
	for (;;) {
		pid_t r = waitpid(-1, &status, __WALL);
		if (r == s->pid && (WIFEXITED(status) || WIFSIGNALED(status)))
			return status_to_exit(status);
		if (r < 0 && errno != EINTR)
			return 0;
		if (r > 0 && WIFSTOPPED(status))
			ptrace(PTRACE_DETACH, r, NULL,
			       (void *)(long)(status >> 16 == 0 ? WSTOPSIG(status) : 0));
	}
}

static void kill_launched(struct session *s)
{
	if (!s->launched || s->gone)
		return;
	kill(s->pid, SIGKILL);
	while (waitpid(-1, NULL, __WALL) > 0)
		;
	s->gone = true;
}

static void start_timer(double secs)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)secs;
	it.it_value.tv_usec = (suseconds_t)((secs - (double)(time_t)secs) * 1e6);
	if (!it.it_value.tv_sec && !it.it_value.tv_usec)
		it.it_value.tv_usec = 1;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Where events go, and the queue that takes them there off the tracer thread. */
static struct event_queue *queue;

/* One "mhookd: " line on stderr, after everything already reported. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (queue)
		evq_drain(queue);
	char msg[1024];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One write: the target may be writing to stderr too. */
	fprintf(stderr, "mhookd: %s\n", msg);
}

/* The sink thread found that the reports cannot be written any more (a closed pipe, a
 * full disk): the run ends as on SIGTERM, leaving the target unhooked. */
static void output_failed(void *ctx)
{
	(void)ctx;
	loop_request_stop(SIGPIPE);
}

/* CLOCK_REALTIME minus CLOCK_MONOTONIC now: event times are monotonic (a clock step
 * cannot reorder them), and -t shows them as the time of day they were at. */
static int64_t wall_offset_ns(void)
{
	struct timespec real;

	clock_gettime(CLOCK_REALTIME, &real);
	return (int64_t)real.tv_sec * 1000000000 + real.tv_nsec - (int64_t)event_now_ns();
}

static int start_sinks(FILE *out, bool owns_out, const struct options *o, uint64_t start_ns)
{
	struct sink *sinks[3];
	int n = 0;
	bool json = o->json;

	sinks[n] = json ? sink_json_new(out, owns_out) : sink_text_new(out, owns_out, start_ns);
	if (!sinks[n])
		return -ENOMEM;
	sinks[n]->critical = true;
	/* -c, or a daemon's stderr: calls are made events only for clients. */
	sinks[n]->time_of_day = o->time_of_day;
	sinks[n]->wall_offset_ns = wall_offset_ns();
	/* How each traced process ended is part of the run's story, as strace's "+++ exited
	 * with 0 +++" is. A daemon's stderr leaves it to the clients. */
	sinks[n]->show_exits = o->pid || o->cmd;
	sinks[n++]->skip_calls = o->summary_only || (!o->pid && !o->cmd && !o->output);
	if (o->listen && !(sinks[n] = sink_socket_new()))
		return -ENOMEM;
	n += o->listen;
	/* JSON written elsewhere: a person on stderr still sees the errors. */
	if (json && o->output && (sinks[n] = sink_errors_new(stderr)))
		n++;
	queue = evq_start(sinks, n, 4096, output_failed, NULL);
	if (!queue) {
		for (int i = 0; i < n; i++)
			sinks[i]->ops->close(sinks[i]);
		return -ENOMEM;
	}
	return 0;
}

/* Stops here leave the target as it was: hooks removed, a launched command killed. The
 * command is killed while still traced, never detached first: a detached command would run
 * unhooked (and print) for as long as the detach takes. */
static int give_up(struct session *s, int rc)
{
	if (s->launched) {
		kill_launched(s);
		s->nthreads = 0;
		s->detached = true;
		return rc;
	}
	session_detach(s);
	return rc;
}

static int setup_specs(struct session *s, struct spec *specs, int n,
		       const struct strategy_ops *ops)
{
	for (int i = 0; i < n; i++)
		if (hooks_add_spec(s, &specs[i], ops) < 0)
			return -ENOMEM;
	return 0;
}

/* Every strategy the SPECs ask for must be able to run in this target. */
static int probe_strategies(struct session *s)
{
	char err[1024];

	for (int i = 0; i < s->nspecs; i++) {
		const struct strategy_ops *ops = s->specs[i].ops;
		bool seen = false;
		for (int j = 0; j < i && !seen; j++)
			seen = s->specs[j].ops == ops;
		if (seen)
			continue;
		if (ops->probe(s, err, sizeof(err)) < 0) {
			say("strategy %s cannot run here: %s", ops->name, err);
			return EXIT_TRACE;
		}
		if (s->follow && !ops->priv_size) {
			say("-F is not supported with -s %s yet", ops->name);
			return EXIT_USAGE;
		}
	}
	return 0;
}

/* Where the reports go, for the line that says they were lost. */
static const char *output_name = "stderr";
static bool lost_said;

/* Once per run: the reports stopped reaching their file, why, and what it means. */
static void say_lost(int error)
{
	if (lost_said || !error)
		return;
	lost_said = true;
	say("cannot write the reports to %s: %s; reports were lost", output_name,
	    strerror(error));
}

/* Why the run ends, for the clients' bye. */
static char bye_reason[128] = "mhookd is exiting";

static void note_stop_reason(void)
{
	int sig = signals_stop;

	if (sig == SIGALRM)
		snprintf(bye_reason, sizeof(bye_reason), "--duration elapsed");
	else if (sig == SIGPIPE)
		snprintf(bye_reason, sizeof(bye_reason), "mhookd's output cannot be written");
	else if (sig)
		snprintf(bye_reason, sizeof(bye_reason), "mhookd got SIG%s", sigabbrev_np(sig));
	else
		snprintf(bye_reason, sizeof(bye_reason), "the traced program ended");
}

/* After the summary: a warning line per SPEC that no hook ever served, which a user
 * would otherwise take for a function that was never called. Returns their number. */
static int warn_never_armed(struct session *s)
{
	int n = 0;

	for (int i = 0; i < s->nspecs; i++) {
		if (!counts_never_armed(s, i))
			continue;
		n++;
		/* As in JSON, bytes that are not UTF-8 are shown as \xNN. */
		char *spec = utf8_escape(s->specs[i].spec->text);
		char *why = utf8_escape(s->specs[i].why);
		say("warning: %.200s was never armed%s%.600s", spec ? spec : "?",
		    why && why[0] ? ": " : "", why ? why : "");
		free(spec);
		free(why);
	}
	return n;
}

/* A daemon: no target of its own, clients bring them. */
static int serve(struct options *o)
{
	if (server_start() < 0) {
		say("cannot start the socket server's thread");
		return EXIT_TRACE;
	}
	say("listening on %s", server_path());
	if (o->duration > 0)
		start_timer(o->duration);
	loop_run(NULL, &handlers_observer, true);
	note_stop_reason();
	say_lost(evq_write_error(queue));
	for (int i = 0; i < follow_count(); i++)
		session_detach(follow_at(i));
	if (follow_count())
		handlers_summary(NULL);
	return 0;
}

/* Like give_up, for every session: the other -p targets are detached too. */
static int give_up_all(struct session *s, int rc)
{
	for (int i = 0; i < follow_count(); i++)
		if (follow_at(i) != s)
			session_detach(follow_at(i));
	return give_up(s, rc);
}

/* The -p targets after the first: each a session of its own, attached, armed, reported
 * ready and running again before the next is attached, as the first one. Returns 0 or an
 * exit status (the caller then detaches them all). */
static int attach_others(struct options *o)
{
	char err[1024];

	for (int i = 1; i < o->npids; i++) {
		struct session *x = calloc(1, sizeof(*x));
		if (!x) {
			say("out of memory");
			return EXIT_TRACE;
		}
		loop_init_session(x, &handlers_observer);
		if (setup_specs(x, o->parsed, o->nspecs, o->ops) < 0 ||
		    attach_pid(x, o->pids[i], err, sizeof(err)) < 0) {
			say("%s", err);
			session_detach(x);
			loop_free_session(x);
			free(x);
			return EXIT_TRACE;
		}
		follow_add(x);
		x->allow_pending = o->pending;
		x->follow = o->follow;
		x->max_glob = o->max_hooks;
		int rc = probe_strategies(x);
		if (rc)
			return rc;
		x->armed = true;
		x->resolvers_ok = true;
		rc = hooks_sync(x);
		x->resolvers_ok = false;
		if (rc)
			return rc;
		x->obs->ready(x);
		x->ready_sent = true;
		loop_resume_all(x);
		if (x->fatal)
			return x->fatal;
	}
	return 0;
}

/* Everything after option parsing; returns the exit status. */
static int run(struct options *o, struct session *s)
{
	char err[1024];
	int rc;

	if (!o->pid && !o->cmd)
		return serve(o);
	if (o->list && o->pid) {
		/* Listing needs no ptrace stop: /proc and the ELF files are enough. */
		if (!proc_tgid(o->pid)) {
			fprintf(stderr, "mhookd: no process with pid %d\n", (int)o->pid);
			return EXIT_TRACE;
		}
		return list_functions(o->pid, o->list);
	}
	/* A command was launched already, before the sink thread started. */
	if (o->pid && attach_pid(s, o->pid, err, sizeof(err)) < 0) {
		say("%s", err);
		session_detach(s);
		return EXIT_TRACE;
	}
	if (o->list) {
		/* A launched command is at its exec: run it to its entry, where its
		 * libraries are loaded, to list them too. */
		rc = launch_run_to_entry(s, err, sizeof(err)) < 0 ? EXIT_TRACE
								  : list_functions(s->pid, o->list);
		kill_launched(s);
		return rc;
	}
	/* Launch mode arms in stages: the executable now (at its exec), its libraries when
	 * the dynamic linker has loaded them and before any constructor runs, IFUNCs at the
	 * entry point if they were not bound before; ready follows the libraries. */
	s->allow_pending = o->pending || s->launched;
	s->follow = o->follow;
	s->max_glob = o->max_hooks;
	rc = probe_strategies(s);
	if (rc)
		return give_up(s, rc);
	s->ready_at_sync = s->launched;
	s->armed = true;
	/* Attached, every object is relocated; launched, nothing is before the entry point. */
	s->resolvers_ok = !s->launched;
	rc = hooks_sync(s);
	s->resolvers_ok = false;
	if (rc)
		return give_up(s, rc);
	if (s->launched) {
		if (launch_run_to_entry(s, err, sizeof(err)) < 0) {
			if (!s->fatal)
				say("%s", err);
			return give_up(s, s->fatal ? s->fatal : EXIT_TRACE);
		}
		s->resolvers_ok = true;
		rc = hooks_sync(s);
		s->resolvers_ok = false;
		if (rc)
			return give_up(s, rc);
	}
	if (!s->ready_sent) {
		s->obs->ready(s);
		s->ready_sent = true;
	}
	loop_resume_all(s);
	if (s->fatal)
		return give_up(s, s->fatal);
	rc = attach_others(o);
	if (rc)
		return give_up_all(s, rc);
	if (o->duration > 0)
		start_timer(o->duration);
	if (o->listen && server_start() < 0) {
		say("cannot start the socket server's thread");
		return give_up_all(s, EXIT_TRACE);
	}

	loop_run(s, s->obs, false);
	note_stop_reason();
	/* Said now, not after a launched command that may run for long unhooked. */
	say_lost(evq_write_error(queue));
	if (s->fatal)
		return give_up_all(s, s->fatal);
	for (int i = 0; i < follow_count(); i++)
		session_detach(follow_at(i));
	handlers_summary(s);
	int never = warn_never_armed(s);
	if (s->launched)
		rc = wait_command(s);
	else
		/* Attached, the target ended while traced: its status, as in launch mode
		 * (the first -p's). When mhookd detached first, the target's life goes on:
		 * a clean run. */
		rc = s->gone ? status_to_exit(s->exit_status) : 0;
	if (o->strict && never && rc == 0) {
		say("--strict: %d SPEC%s never armed", never, never == 1 ? " was" : "s were");
		rc = EXIT_TRACE;
	}
	return rc;
}

int main(int argc, char **argv)
{
	static char outbuf[1 << 16];
	struct options o;
	struct session s;
	struct spec *specs;
	char err[1024];
	int rc;

	uint64_t start_ns = event_now_ns(); /* text call times count from here */
	/* First: a launched command must not inherit a socket passed to us. */
	int activated_fd = listen_take_activated();

	parse_options(argc, argv, &o);
	o.server.activated_fd = activated_fd;
	/* Before mhookd opens anything of its own (the -o file). */
	if (o.cmd)
		launch_note_inherited_fds();
	specs = calloc((size_t)o.nspecs + 1, sizeof(*specs));
	for (int i = 0; i < o.nspecs; i++) {
		if (spec_parse(o.specs[i], &specs[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "mhookd: bad SPEC '%s': %s\n", o.specs[i], err);
			for (int j = 0; j < i; j++)
				spec_free(&specs[j]);
			free(specs);
			free(o.specs);
			free(o.pids);
			return EXIT_USAGE;
		}
	}
	FILE *out = open_output(o.output);
	static char quoted[PATH_MAX + 2];
	if (o.output && !strcmp(o.output, "-"))
		output_name = "stdout";
	else if (o.output && snprintf(quoted, sizeof(quoted), "'%s'", o.output) > 0)
		output_name = quoted;
	setvbuf(out, outbuf, _IOFBF, sizeof(outbuf));
	if (o.listen && !o.list && server_open(&o.server, err, sizeof(err)) < 0) {
		fprintf(stderr, "mhookd: %s\n", err);
		fclose(out);
		for (int i = 0; i < o.nspecs; i++)
			spec_free(&specs[i]);
		free(specs);
		free(o.specs);
		free(o.pids);
		return EXIT_TRACE;
	}
	signals_setup();

	memset(&s, 0, sizeof(s));
	loop_init_session(&s, &handlers_observer);
	o.parsed = specs;
	o.ops = strategy_find(o.strategy);
	rc = setup_specs(&s, specs, o.nspecs, o.ops);
	/* The sink thread starts after a launched command is forked, so that the fork
	 * happens in a process of one thread. */
	if (rc == 0 && o.cmd && launch_cmd(&s, o.cmd, err, sizeof(err)) < 0) {
		fprintf(stderr, "mhookd: %s\n", err);
		kill_launched(&s);
		rc = EXIT_TRACE;
		goto out;
	}
	if (rc == 0 && start_sinks(out, true, &o, start_ns) < 0)
		rc = -ENOMEM;
	if (rc < 0) {
		fprintf(stderr, "mhookd: out of memory\n");
		kill_launched(&s);
		rc = EXIT_TRACE;
		goto out;
	}
	/* A daemon's stderr shows no calls: they are made events only for clients. */
	handlers_init(queue, o.summary_only || (!o.pid && !o.cmd && !o.output));
	backend_init(queue);
	follow_init(o.pid || o.cmd ? &s : NULL);
	rc = run(&o, &s);
	follow_free();
out:
	server_stop(bye_reason);
	if (queue) {
		int lost = evq_stop(queue);
		queue = NULL;
		say_lost(lost);
		/* A launched command's own failure says more than ours. */
		if (lost && rc == 0)
			rc = EXIT_LOST;
	} else {
		fclose(out);
	}
	backend_free();
	handlers_free();
	loop_free_session(&s);
	for (int i = 0; i < o.nspecs; i++)
		spec_free(&specs[i]);
	free(specs);
	hooks_free_made_specs();
	free(o.specs);
	free(o.pids);
	return rc;
}
