/*
 * mhook: the command-line client of mhookd (man/mhook.1). This file is the command line:
 * global options, the command and its own options, all checked before anything is sent,
 * then the socket's path and the command (commands.h). A SPEC is checked by mhookd alone,
 * which answers a bad one with its reason: the client links nothing of the daemon but its
 * event formats (tools/layers.py), and one parser cannot drift from itself.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/commands.h"
#include "sinks/event.h"

static const char usage_text[] =
	"Usage: mhook [-S PATH] attach PID -f SPEC [-f SPEC...] [-s STRATEGY] [--json] [-c] [--pending]\n"
	"       mhook [-S PATH] detach PID\n"
	"       mhook [-S PATH] list [--json]\n"
	"       mhook [-S PATH] stats [--json]\n"
	"       mhook [-S PATH] symbols PID GLOB [--json]\n"
	"       mhook -h | --help\n"
	"The client of mhookd's socket (mhookd --listen): hook functions in running\n"
	"processes and watch their calls, with mhookd doing the tracing.\n"
	"\n"
	"Commands:\n"
	"  attach PID         hook each SPEC in PID and print PID's events until Ctrl-C\n"
	"                     or SIGTERM (or PID's end, or mhookd's), then unhook and\n"
	"                     print the calls per hook\n"
	"  detach PID         drop this client's hooks and hold on PID; mhookd lets it\n"
	"                     go, byte-identical, once nothing else holds it\n"
	"  list               the traced processes this user may see, with their hooks\n"
	"  stats              calls per hook; events delivered and lost per client\n"
	"  symbols PID GLOB   PID's functions matching GLOB (object, address, size,\n"
	"                     name), as mhookd -l lists them\n"
	"\n"
	"Options:\n"
	"  -S, --socket PATH  mhookd's socket; default $MHOOK_SOCKET, else\n"
	"                     /run/mhook/mhookd.sock for root, else\n"
	"                     $XDG_RUNTIME_DIR/mhookd.sock\n"
	"  -f, --func SPEC    attach: a function to hook; repeatable. NAME, LIB:NAME,\n"
	"                     0xADDR or LIB:0xOFF, optionally followed by +0xOFF\n"
	"  -s, --strategy S   attach: swbp (default), hwbp, nx or step (see mhookd --help)\n"
	"      --json         attach: JSON lines, mhookd's events byte for byte (the\n"
	"                     ready line and the summary in the same form);\n"
	"                     list, stats, symbols: mhookd's reply as it came\n"
	"  -c, --summary      attach: no line per call, only the counts at the end\n"
	"      --pending      attach: accept a SPEC that nothing loaded defines yet;\n"
	"                     it is hooked when a library that defines it is loaded\n"
	"  -h, --help         show this help\n"
	"\n"
	"attach prints what mhookd prints: a ready line, one line per call (seconds\n"
	"since mhook started, thread, the six argument registers), and at the end the\n"
	"table of calls per hook. The table counts the calls this client received, so\n"
	"it matches the lines above it; should mhookd drop events because mhook read\n"
	"too slowly, mhook says how many. A second Ctrl-C leaves at once.\n"
	"Exit status: 0 success; 1 bad usage, or a request mhookd found malformed;\n"
	"2 refused by mhookd (denied, no such process, not found, busy, or it failed);\n"
	"3 mhookd cannot be reached, or the connection was lost.\n";

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("mhook: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs(" (see mhook --help)\n", stderr);
	va_end(ap);
	exit(MHOOK_EXIT_USAGE);
}

static void bad_option(int argc, char **argv, const char *with_arg)
{
	(void)argc;
	if (optopt && strchr(with_arg, optopt))
		die_usage("option -%c needs an argument", optopt);
	if (optopt)
		die_usage("unknown option -%c", optopt);
	die_usage("unknown option '%s'", argv[optind - 1]);
}

static pid_t parse_pid(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v <= 0 || v > 0x7fffffff)
		die_usage("'%s' is not a process id", s);
	return (pid_t)v;
}

struct command_line {
	const char *socket;
	const char *command;
	bool json;
	struct attach_options attach;
	const char *args[2];     /* the command's operands */
	int nargs;
};

enum { OPT_JSON = 256, OPT_PENDING };

/* The command's own options and operands: argv[0] is the command. */
static void parse_command(int argc, char **argv, struct command_line *cl)
{
	static const struct option attach_opts[] = {
		{ "func", required_argument, NULL, 'f' },
		{ "strategy", required_argument, NULL, 's' },
		{ "summary", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "pending", no_argument, NULL, OPT_PENDING },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option other_opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool attach = !strcmp(cl->command, "attach");
	struct attach_options *a = &cl->attach;
	int c;

	if (attach && !(a->specs = calloc((size_t)argc, sizeof(char *))))
		die_usage("out of memory");
	/* Options may come anywhere after the command (GNU getopt permutes). */
	optind = 0;
	while ((c = getopt_long(argc, argv, attach ? "f:s:cS:h" : "S:h",
				attach ? attach_opts : other_opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!*optarg)
				die_usage("-f wants a SPEC, not an empty string");
			a->specs[a->nspecs++] = optarg;
			break;
		case 's':
			a->strategy = optarg;
			break;
		case 'c':
			a->counts_only = true;
			break;
		case OPT_PENDING:
			a->pending = true;
			break;
		case OPT_JSON:
			cl->json = true;
			break;
		case 'S':
			cl->socket = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			bad_option(argc, argv, "fsS");
		}
	}
	for (int i = optind; i < argc; i++) {
		if (cl->nargs == 2)
			die_usage("%s: too many operands ('%s')", cl->command, argv[i]);
		cl->args[cl->nargs++] = argv[i];
	}
}

static void check_operands(struct command_line *cl)
{
	const char *cmd = cl->command;
	int want = !strcmp(cmd, "symbols") ? 2 : strcmp(cmd, "attach") && strcmp(cmd, "detach") ? 0 : 1;

	if (cl->nargs != want) {
		if (!strcmp(cmd, "symbols"))
			die_usage("symbols wants a PID and a GLOB");
		if (want)
			die_usage("%s wants one PID", cmd);
		die_usage("%s takes no operand ('%s')", cmd, cl->args[0]);
	}
	if (!strcmp(cmd, "attach") && !cl->attach.nspecs)
		die_usage("attach: no function to hook: give -f SPEC");
	if (want)
		cl->attach.pid = parse_pid(cl->args[0]);
	if (!strcmp(cmd, "symbols") && !cl->args[1][0])
		die_usage("symbols: the GLOB is empty");
}

static void parse_command_line(int argc, char **argv, struct command_line *cl)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const commands[] = { "attach", "detach", "list", "stats", "symbols" };
	int c;

	opterr = 0;
	/* "+": the first operand is the command, and what follows it is the command's. */
	while ((c = getopt_long(argc, argv, "+S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			cl->socket = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			bad_option(argc, argv, "S");
		}
	}
	if (optind == argc)
		die_usage("no command: attach, detach, list, stats or symbols");
	cl->command = argv[optind];
	size_t k;
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(cl->command, commands[k]))
			break;
	if (k == sizeof(commands) / sizeof(commands[0]))
		die_usage("unknown command '%s' (attach, detach, list, stats, symbols)",
			  cl->command);
	parse_command(argc - optind, argv + optind, cl);
	check_operands(cl);
}

static int run(struct conn *conn, struct command_line *cl)
{
	const char *cmd = cl->command;

	if (!strcmp(cmd, "attach")) {
		cl->attach.json = cl->json;
		return cmd_attach(conn, &cl->attach);
	}
	if (!strcmp(cmd, "detach"))
		return cmd_detach(conn, cl->attach.pid);
	if (!strcmp(cmd, "list"))
		return cmd_list(conn, cl->json);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(conn, cl->json);
	return cmd_symbols(conn, cl->attach.pid, cl->args[1], cl->json);
}

int main(int argc, char **argv)
{
	struct command_line cl = { .attach = { .start_ns = event_now_ns() } };
	struct conn conn;
	char *path;
	int rc;

	parse_command_line(argc, argv, &cl);
	path = cl.socket ? strdup(cl.socket) : conn_default_path();
	if (!path)
		return MHOOK_EXIT_UNREACHABLE;
	rc = conn_open(&conn, path);
	if (!rc)
		rc = run(&conn, &cl);
	conn_close(&conn);
	free(path);
	free(cl.attach.specs);
	return rc;
}
