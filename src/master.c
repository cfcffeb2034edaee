/*
 * master.c - cachetd's main() and the master process.
 *
 * The master reads the config, has server.c build a "server" from it
 * (sockets, certificates, SSL_CTX, cache), forks the workers and then only
 * watches: it never
 * touches client traffic.  It sleeps in sigsuspend() with its signals
 * blocked, so a signal is handled between two steps, never inside one:
 *   CHLD  a worker died: restart it (at most once a second per slot)
 *   HUP   build a server from the re-read config; if that works, fork a new
 *         generation and stop the old one gracefully; if not, keep serving
 *   USR1  reopen the log files and replace the workers gracefully
 *   TERM/INT  stop the workers gracefully (bounded) and exit
 * Under systemd (Type=notify) it reports READY=1 once the first
 * generation is up, RELOADING=1 then READY=1 around a HUP (whether the
 * new config worked or not) and STOPPING=1 at TERM/INT (notify.c).
 * "Up" means: every listening socket is bound and listening (in the
 * master, before the fork) and the generation's workers are forked, so a
 * client connecting from then on is queued by the kernel and served.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>

#include "cachetd.h"

/* The master waits a little longer than a worker's own bound. */
#define MASTER_STOP_BOUND (WORKER_STOP_BOUND + 2)

struct child {
	pid_t   pid;
	int     gen;
	int     slot;
	int     index;      /* its place in its generation: its sockets */
	time_t  started;
};

static volatile sig_atomic_t got_hup, got_term, got_usr1, got_chld,
    got_alrm;
static struct child *children;
static size_t nchildren;
static struct server *cur;
static int generation;
static struct worker_stats *stats;
/* Seals cached sessions when no seal-key-file is configured: made once at
 * start, kept across reloads, inherited by every worker. */
static unsigned char master_key[CACHE_KEY_LEN];
static struct server_env env = { master_key, NULL, NULL };
/* Slots of the current generation waiting for a restart, and the place
 * in the generation of the worker to start there. */
static int pending_restart[MAX_WORKERS];
static int pending_index[MAX_WORKERS];

static void start_error(const char *);

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGTERM:
	case SIGINT:
		got_term = 1;
		break;
	case SIGUSR1:
		got_usr1 = 1;
		break;
	case SIGCHLD:
		got_chld = 1;
		break;
	case SIGALRM:
		got_alrm = 1;
		break;
	}
}

/* ------------------------------------------------------------- workers */

static int
free_slot(void)
{
	int i;
	size_t k;

	for (i = 0; i < MAX_WORKERS; i++) {
		for (k = 0; k < nchildren; k++)
			if (children[k].slot == i)
				break;
		if (k == nchildren && !pending_restart[i])
			return i;
	}
	return -1;
}

static void
spawn(int slot, int index)
{
	sigset_t none;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		pending_restart[slot] = 1;
		pending_index[slot] = index;
		alarm(1);
		return;
	}
	if (pid == 0) {
		signal(SIGHUP, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		worker_run(cur, slot, index);
	}
	children = xreallocarray(children, nchildren + 1, sizeof *children);
	children[nchildren].pid = pid;
	children[nchildren].gen = generation;
	children[nchildren].slot = slot;
	children[nchildren].index = index;
	children[nchildren].started = time(NULL);
	nchildren++;
	pending_restart[slot] = 0;
}

static void
spawn_generation(void)
{
	long i;

	generation++;
	for (i = 0; i < cur->cf->workers && i < MAX_WORKERS; i++) {
		int slot = free_slot();
		if (slot < 0) {
			log_err("no free worker slot (max %d)", MAX_WORKERS);
			break;
		}
		spawn(slot, (int)i);
	}
}

static void
signal_generation(int gen_below, int sig)
{
	size_t k;

	for (k = 0; k < nchildren; k++)
		if (children[k].gen < gen_below)
			kill(children[k].pid, sig);
}

static void
reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		size_t k;
		struct child ch;

		for (k = 0; k < nchildren; k++)
			if (children[k].pid == pid)
				break;
		if (k == nchildren)
			continue;
		ch = children[k];
		children[k] = children[--nchildren];
		stats[ch.slot].connections = 0;
		stats[ch.slot].pid = 0;
		if (ch.gen != generation || got_term)
			continue;       /* an old worker finishing: expected */
		if (WIFSIGNALED(status))
			log_err("worker %ld killed by signal %d; restarting",
			    (long)pid, WTERMSIG(status));
		else
			log_err("worker %ld exited with status %d; restarting",
			    (long)pid, WEXITSTATUS(status));
		if (time(NULL) - ch.started < 1) {
			pending_restart[ch.slot] = 1;   /* dying at once */
			pending_index[ch.slot] = ch.index;
			alarm(1);
		} else {
			spawn(ch.slot, ch.index);
		}
	}
}

static void
restart_pending(void)
{
	int i;

	for (i = 0; i < MAX_WORKERS; i++)
		if (pending_restart[i]) {
			pending_restart[i] = 0;
			spawn(i, pending_index[i]);
		}
}

static int
open_error_log(const struct config *cf, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	int fd;

	log_set_level(cf->log_level);
	if (cf->error_log == NULL) {
		if (log_fd() != 2) {
			close(log_fd());
			log_set_fd(2);
		}
		return 0;
	}
	if ((fd = log_open_dest(cf->error_log, cf->syslog_socket, uid,
	    gid)) < 0) {
		log_dest_error(cf, cf->error_log, &cf->elog_at, "error-log",
		    err, errlen);
		return -1;
	}
	if (log_fd() != 2)
		close(log_fd());
	log_set_dest(fd, cf->error_log, cf->syslog_socket);
	return 0;
}

static void
reload(void)
{
	char err[1024];
	struct config *cf;
	struct server *s, *old = cur;

	log_notice("reloading %s", cur->cf->file);
	(void)notify_reloading();
	if ((cf = config_load(cur->cf->file, err, sizeof err)) == NULL) {
		log_err("reload failed: %s; keeping the old configuration",
		    err);
		(void)notify("READY=1\nSTATUS=reload failed; "
		    "serving the old configuration");
		return;
	}
	/* server_build owns cf from here, and frees it when it fails */
	if ((s = server_build(cf, cur, 1, &env, err, sizeof err)) == NULL) {
		log_err("reload failed: %s; keeping the old configuration",
		    err);
		(void)notify("READY=1\nSTATUS=reload failed; "
		    "serving the old configuration");
		return;
	}
	if (open_error_log(cf, s->uid, s->gid, err, sizeof err) != 0) {
		log_err("reload: %s; errors stay where they went", err);
	}
	cur = s;
	spawn_generation();
	signal_generation(generation, SIGTERM);
	server_free(old, 1);    /* listeners taken over are -1 there */
	log_notice("reloaded: generation %d with %ld worker(s)", generation,
	    cur->cf->workers);
	(void)notify("READY=1\nSTATUS=serving");
}

static void
reopen_logs(void)
{
	char err[1024];

	if (open_error_log(cur->cf, cur->uid, cur->gid, err, sizeof err) != 0)
		log_err("reopen: %s", err);
	if (cur->cf->access_log != NULL && !log_dest_off(cur->cf->access_log)) {
		int fd = log_open_dest(cur->cf->access_log,
		    cur->cf->syslog_socket, cur->uid, cur->gid);
		if (fd < 0) {
			log_dest_error(cur->cf, cur->cf->access_log,
			    &cur->cf->alog_at, "reopen: access-log", err,
			    sizeof err);
			log_err("%s", err);
			return;
		}
		close(cur->access_fd);
		cur->access_fd = fd;
	}
	/* Workers may run as another user and cannot reopen root's files:
	 * replace them, gracefully, with workers that inherit the new ones. */
	spawn_generation();
	signal_generation(generation, SIGTERM);
	log_notice("logs reopened");
}

static void
stop_all(void)
{
	time_t deadline = time(NULL) + MASTER_STOP_BOUND;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	(void)notify("STOPPING=1");
	log_notice("stopping %zu worker(s)", nchildren);
	signal_generation(generation + 1, SIGTERM);
	while (nchildren > 0 && time(NULL) < deadline) {
		reap();
		if (nchildren > 0)
			nanosleep(&ts, NULL);
	}
	if (nchildren > 0) {
		log_warn("%zu worker(s) did not stop in time: killing",
		    nchildren);
		signal_generation(generation + 1, SIGKILL);
		while (nchildren > 0) {
			int st;
			pid_t pid = waitpid(-1, &st, 0);
			size_t k;
			if (pid < 0)
				break;
			for (k = 0; k < nchildren; k++)
				if (children[k].pid == pid)
					children[k] = children[--nchildren];
		}
	}
	if (cur->cf->pid_file != NULL)
		unlink(cur->cf->pid_file);
	log_notice("stopped");
}

static int
write_pid_file(const struct config *cf)
{
	char buf[32];
	int fd, n;

	if (cf->pid_file == NULL)
		return 0;
	fd = open(cf->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		char err[1024];
		config_err(err, sizeof err, &cf->pid_at, "pid-file '%s': %s",
		    cf->pid_file, strerror(errno));
		start_error(err);
		return -1;
	}
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	(void)!write(fd, buf, (size_t)n);
	close(fd);
	return 0;
}

static void
master_loop(void)
{
	sigset_t mask, old;
	struct sigaction sa;
	int sigs[] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1, SIGCHLD, SIGALRM };
	size_t i;

	sigemptyset(&mask);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		sigaddset(&mask, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sigdelset(&old, SIGHUP);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigdelset(&old, sigs[i]);

	spawn_generation();
	(void)notify("READY=1\nSTATUS=serving");
	for (;;) {
		sigsuspend(&old);
		if (got_chld) {
			got_chld = 0;
			reap();
		}
		if (got_term) {
			stop_all();
			return;
		}
		if (got_hup) {
			got_hup = 0;
			reload();
		}
		if (got_usr1) {
			got_usr1 = 0;
			reopen_logs();
		}
		if (got_alrm) {
			got_alrm = 0;
			restart_pending();
		}
	}
}

/* ---------------------------------------------------------------- main */

/* An error that stops the start: once on stderr, and in the error log
 * too when that is a file (so the log says why cachetd is not running). */
static void
start_error(const char *msg)
{
	fprintf(stderr, "cachetd: %s\n", msg);
	if (log_fd() != 2)
		log_err("%s", msg);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: cachetd [-t] [-c FILE]\n"
	    "       cachetd -v\n"
	    "  -c FILE  configuration file (default %s/cachetd.conf)\n"
	    "  -t       check the configuration and exit\n"
	    "  -v       print the version and the OpenSSL in use\n"
	    "  -h, --help  this help\n", SYSCONFDIR);
}

int
main(int argc, char **argv)
{
	const char *file = SYSCONFDIR "/cachetd.conf";
	char err[1024];
	struct config *cf;
	int c, test = 0;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};

	while ((c = getopt_long(argc, argv, "c:thv", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'v':
			printf("cachetd %s\nbuilt with %s\nrunning on %s\n",
			    PACKAGE_VERSION, OPENSSL_VERSION_TEXT,
			    OpenSSL_version(OPENSSL_VERSION));
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if ((cf = config_load(file, err, sizeof err)) == NULL) {
		fprintf(stderr, "cachetd: %s\n", err);
		if (test)
			fprintf(stderr, "cachetd: configuration file %s test "
			    "failed\n", file);
		return 1;
	}
	if (test) {
		struct server *s = server_build(cf, NULL, 0, &env, err, sizeof err);
		if (s == NULL) {
			fprintf(stderr, "cachetd: %s\ncachetd: configuration "
			    "file %s test failed\n", err, file);
			return 1;
		}
		server_free(s, 0);
		printf("cachetd: configuration file %s test is successful\n",
		    file);
		return 0;
	}

	if (RAND_bytes(master_key, sizeof master_key) != 1) {
		fprintf(stderr, "cachetd: no random bytes for the seal key\n");
		return 1;
	}
	stats = mmap(NULL, MAX_WORKERS * sizeof *stats, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (stats == MAP_FAILED) {
		fprintf(stderr, "cachetd: mmap: %s\n", strerror(errno));
		return 1;
	}
	env.stats = stats;
	if ((env.ticket_ring = tickets_ring_new()) == NULL) {
		fprintf(stderr, "cachetd: mmap: %s\n", strerror(errno));
		return 1;
	}
	/* The error log first, so that what binding says goes there. */
	if (open_error_log(cf, (uid_t)-1, (gid_t)-1, err, sizeof err) != 0) {
		fprintf(stderr, "cachetd: %s\n", err);
		config_free(cf);
		return 1;
	}
	if ((cur = server_build(cf, NULL, 1, &env, err, sizeof err)) == NULL) {
		start_error(err);
		return 1;
	}
	if (cur->uid != (uid_t)-1 && log_fd() != 2 && !log_to_syslog())
		(void)!fchown(log_fd(), cur->uid, cur->gid);
	if (write_pid_file(cf) != 0)
		return 1;
	log_notice("cachetd %s (%s) starting %ld worker(s)", PACKAGE_VERSION,
	    OpenSSL_version(OPENSSL_VERSION), cf->workers);
	master_loop();
	server_free(cur, 1);
	free(children);
	return 0;
}
