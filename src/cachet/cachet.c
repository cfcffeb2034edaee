/*
 * cachet.c - the cachet tool's main(): a table of sub-commands; and the
 * strict numeric options they share, which name the option they refuse.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cachet.h"
#include "common.h"

static const struct {
	const char *name;
	int       (*run)(int, char **);
	const char *what;
} commands[] = {
	{ "get", cmd_get, "fetch a URL over TLS, with session resumption" },
	{ "shell", cmd_shell, "interactive TLS terminal (stdin <-> server)" },
	{ "bench", cmd_bench, "full against resumed handshakes per second" },
	{ "cache", cmd_cache, "inspect or clean a session cache file" },
};

int
opt_long(const char *cmd, const char *opt, const char *arg, long min,
    long max, long *out)
{
	if (parse_long(arg, min, max, out) == 0)
		return 0;
	fprintf(stderr, "cachet %s: %s: '%s' is not a whole number from %ld "
	    "to %ld\n", cmd, opt, arg, min, max);
	return -1;
}

int
opt_double(const char *cmd, const char *opt, const char *arg, double min,
    double max, double *out)
{
	if (parse_double(arg, min, max, out) == 0)
		return 0;
	fprintf(stderr, "cachet %s: %s: '%s' is not a number from %g to %g\n",
	    cmd, opt, arg, min, max);
	return -1;
}

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: cachet COMMAND [OPTIONS] ...\n\ncommands:\n");
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].what);
	fprintf(f, "\n'cachet COMMAND --help' lists a command's options.\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("cachet %s (%s)\n", PACKAGE_VERSION,
		    OpenSSL_version(OPENSSL_VERSION));
		return 0;
	}
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cachet: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EX_USAGE;
}
