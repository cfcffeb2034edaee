/*
 * master.c - cachetd's main() and the master process.
 *
 * The master reads the config, binds, loads certificates and builds the
 * SSL_CTX (a "server"), forks the workers and then only watches: it never
 * touches client traffic.  It sleeps in sigsuspend() with its signals
 * blocked, so a signal is handled between two steps, never inside one:
 *   CHLD  a worker died: restart it (at most once a second per slot)
 *   HUP   build a server from the re-read config; if that works, fork a new
 *         generation and stop the old one gracefully; if not, keep serving
 *   USR1  reopen the log files and replace the workers gracefully
 *   TERM/INT  stop the workers gracefully (bounded) and exit
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

#define LISTEN_BACKLOG 511      /* as nginx and Apache */
/* The master waits a little longer than a worker's own bound. */
#define MASTER_STOP_BOUND (WORKER_STOP_BOUND + 2)

struct child {
	pid_t   pid;
	int     gen;
	int     slot;
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
/* Slots of the current generation waiting for a restart. */
static int pending_restart[MAX_WORKERS];

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

/* ------------------------------------------------------------- servers */

static void
addr_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		snprintf(out, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		snprintf(out, len, "%s:%u", a, ntohs(s4->sin_port));
	}
}

/* The i-th listening address of cf: the TLS ones, then plain HTTP. */
static const struct listen_addr *
addr_at(const struct config *cf, size_t i)
{
	return i < cf->nlisten ? &cf->listen[i] :
	    &cf->http_listen[i - cf->nlisten];
}

static int
bind_one(const struct listen_addr *la, int plain, char *err, size_t errlen)
{
	struct sockaddr_storage got;
	socklen_t gl = sizeof got;
	char text[INET6_ADDRSTRLEN + 16];
	int fd, one = 1;

	fd = socket(la->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (la->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&la->ss, la->sslen) != 0 ||
	    listen(fd, LISTEN_BACKLOG) != 0)
		goto fail;
	if (getsockname(fd, (struct sockaddr *)&got, &gl) == 0) {
		addr_text(&got, text, sizeof text);
		log_notice("listening on %s%s", plain ? "http://" : "", text);
	}
	return fd;
fail:
	config_err(err, errlen, &la->at, "%s '%s': %s", plain ? "http-listen" :
	    "listen", la->text, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void
server_free(struct server *s, int close_listeners)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->lfds != NULL && close_listeners)
		for (i = 0; i < s->nlfds; i++)
			if (s->lfds[i] >= 0)
				close(s->lfds[i]);
	free(s->lfds);
	if (s->access_fd >= 0)
		close(s->access_fd);
	SSL_CTX_free(s->ssl);
	auth_free(s->auth, s->cf->nlocs);
	cache_close(s->cache);
	mime_free(s->mime);
	config_free(s->cf);
	free(s);
}

static void
cache_logger(int err, const char *msg)
{
	(void)err;
	log_warn("%s", msg);
}

/* The folder that holds path must exist: cachetd -t says so at once,
 * where a start would only log that sessions are not cached. */
static int
check_folder(const char *path, const struct conf_at *at, const char *what,
    int writable, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
	if (stat(dir, &st) != 0) {
		config_err(err, errlen, at, "%s '%s': folder '%s': %s", what,
		    path, dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		config_err(err, errlen, at, "%s '%s': '%s' is not a folder",
		    what, path, dir);
		return -1;
	}
	/* root may write anywhere; anyone else must be able to create
	 * the file there */
	if (writable && access(dir, W_OK | X_OK) != 0) {
		config_err(err, errlen, at, "%s '%s': folder '%s': %s", what,
		    path, dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int
check_store_folder(const struct config *cf, char *err, size_t errlen)
{
	struct stat st;

	if (check_folder(cf->cache.store_path, &cf->cache.store_at, "store",
	    1, err, errlen) != 0)
		return -1;
	if (lstat(cf->cache.store_path, &st) == 0 && !S_ISREG(st.st_mode)) {
		config_err(err, errlen, &cf->cache.store_at, "store '%s': not "
		    "a regular file", cf->cache.store_path);
		return -1;
	}
	return 0;
}

/* The session store: the key from seal-key-file or the master's own. */
static int
open_cache(struct server *s, int create, char *err, size_t errlen)
{
	const struct config *cf = s->cf;
	struct cache_opts o;
	unsigned char key[CACHE_KEY_LEN];
	char cerr[512];

	memcpy(key, master_key, sizeof key);
	if (cf->cache.seal_key_file != NULL &&
	    cache_read_key(cf->cache.seal_key_file, key, cerr,
	    sizeof cerr) != 0) {
		config_err(err, errlen, &cf->cache.seal_at, "%s", cerr);
		return -1;
	}
	/* -t: check the folder of a store kept in a file, touch nothing */
	if (!create && cf->cache.store_path != NULL &&
	    check_store_folder(cf, err, errlen) != 0)
		return -1;
	memset(&o, 0, sizeof o);
	o.timeout = cf->cache.timeout;
	o.max_entries = cf->cache.max_entries;
	o.purge_interval = cf->cache.purge_interval;
	o.uid = s->drop ? s->uid : (uid_t)-1;
	o.gid = s->drop ? s->gid : (gid_t)-1;
	s->cache = cache_new(cf->cache.store, &o, key, cerr, sizeof cerr);
	OPENSSL_cleanse(key, sizeof key);
	/* -t (create == 0) touches no file. */
	if (s->cache == NULL || (create &&
	    cache_prepare(s->cache, cerr, sizeof cerr) != 0)) {
		config_err(err, errlen, &cf->cache.store_at, "store: %s", cerr);
		return -1;
	}
	cache_set_log(s->cache, cache_logger);
	if (cerr[0] != '\0')
		log_warn("%s", cerr);
	return 0;
}

/* Everything a generation of workers needs, built from cf (which the
 * server then owns).  Listening sockets with the same address as in old
 * are taken over, not bound again.  With bind == 0 (cachetd -t), nothing
 * is bound or opened for writing. */
static struct server *
server_build(struct config *cf, struct server *old, int bind_now, char *err,
    size_t errlen)
{
	struct server *s = xcalloc(1, sizeof *s);
	char merr[512];
	size_t i, j;
	int fd;

	s->cf = cf;
	s->access_fd = -1;
	s->uid = (uid_t)-1;
	s->gid = (gid_t)-1;
	s->stats = stats;
	s->started = old != NULL ? old->started : time(NULL);
	s->master = getpid();

	fd = open(cf->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		config_err(err, errlen, &cf->root_at, "root '%s': %s", cf->root,
		    strerror(errno));
		goto fail;
	}
	close(fd);
	if (cf->acme_root != NULL) {
		fd = open(cf->acme_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			config_err(err, errlen, &cf->acme_at, "acme-root '%s': "
			    "%s", cf->acme_root, strerror(errno));
			goto fail;
		}
		close(fd);
	}
	if ((s->mime = mime_load(cf->mime_types, merr, sizeof merr)) == NULL) {
		config_err(err, errlen, &cf->mime_at, "mime-types: %s", merr);
		goto fail;
	}
	mime_set_default(s->mime, cf->default_type);
	if (geteuid() == 0) {
		const char *user = cf->user ? cf->user : "nobody";
		struct passwd *pw = getpwnam(user);
		if (pw == NULL) {
			config_err(err, errlen, &cf->user_at, "user '%s': no "
			    "such user", user);
			goto fail;
		}
		s->uid = pw->pw_uid;
		s->gid = pw->pw_gid;
		s->drop = pw->pw_uid != 0;
	}
	if (open_cache(s, bind_now, err, errlen) != 0)
		goto fail;
	if ((s->ssl = tls_ctx_new(cf, s->cache, err, errlen)) == NULL)
		goto fail;
	if ((s->auth = auth_build(cf, s->ssl, err, errlen)) == NULL)
		goto fail;
	if (!bind_now) {
		/* -t: where the logs and the pid file would go */
		if ((cf->access_log != NULL && check_folder(cf->access_log,
		    &cf->alog_at, "access-log", 0, err, errlen) != 0) ||
		    (cf->error_log != NULL && check_folder(cf->error_log,
		    &cf->elog_at, "error-log", 0, err, errlen) != 0) ||
		    (cf->pid_file != NULL && check_folder(cf->pid_file,
		    &cf->pid_at, "pid-file", 0, err, errlen) != 0))
			goto fail;
		return s;
	}

	if (cf->access_log != NULL) {
		s->access_fd = log_open_file(cf->access_log, s->uid, s->gid);
		if (s->access_fd < 0) {
			config_err(err, errlen, &cf->alog_at, "access-log '%s': "
			    "%s", cf->access_log, strerror(errno));
			goto fail;
		}
	} else {
		s->access_fd = dup(2);  /* no access log: stderr */
	}

	s->nlfds = cf->nlisten + cf->nhttp_listen;
	s->lfds = xcalloc(s->nlfds, sizeof *s->lfds);
	for (i = 0; i < s->nlfds; i++)
		s->lfds[i] = -1;
	/* A socket is taken over by its address, whatever its kind was: a
	 * listener is TLS or plain by its place in lfds. */
	for (i = 0; i < s->nlfds; i++) {
		for (j = 0; old != NULL && j < old->nlfds; j++)
			if (old->lfds[j] >= 0 &&
			    strcmp(addr_at(old->cf, j)->text,
			    addr_at(cf, i)->text) == 0)
				break;
		if (old != NULL && j < old->nlfds)
			continue;       /* taken over below, once all bind */
		if ((s->lfds[i] = bind_one(addr_at(cf, i), i >= cf->nlisten,
		    err, errlen)) < 0)
			goto fail;
	}
	for (i = 0; i < s->nlfds; i++) {
		if (s->lfds[i] >= 0)
			continue;
		for (j = 0; j < old->nlfds; j++)
			if (old->lfds[j] >= 0 && strcmp(addr_at(old->cf, j)->text,
			    addr_at(cf, i)->text) == 0) {
				s->lfds[i] = old->lfds[j];
				old->lfds[j] = -1;
				break;
			}
	}
	s->https_port = (int)cf->https_port;
	if (s->https_port == 0) {
		/* the first listen address's port, as bound (port 0) */
		struct sockaddr_storage got;
		socklen_t gl = sizeof got;
		if (getsockname(s->lfds[0], (struct sockaddr *)&got, &gl) == 0)
			s->https_port = ntohs(got.ss_family == AF_INET6 ?
			    ((struct sockaddr_in6 *)&got)->sin6_port :
			    ((struct sockaddr_in *)&got)->sin_port);
	}
	return s;
fail:
	if (s->lfds != NULL)
		for (i = 0; i < s->nlfds; i++)
			if (s->lfds[i] >= 0)
				close(s->lfds[i]);
	free(s->lfds);
	s->lfds = NULL;
	server_free(s, 0);
	return NULL;
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
spawn(int slot)
{
	sigset_t none;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		pending_restart[slot] = 1;
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
		worker_run(cur, slot);
	}
	children = xreallocarray(children, nchildren + 1, sizeof *children);
	children[nchildren].pid = pid;
	children[nchildren].gen = generation;
	children[nchildren].slot = slot;
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
		spawn(slot);
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
			alarm(1);
		} else {
			spawn(ch.slot);
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
			spawn(i);
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
	if ((fd = log_open_file(cf->error_log, uid, gid)) < 0) {
		config_err(err, errlen, &cf->elog_at, "error-log '%s': %s",
		    cf->error_log, strerror(errno));
		return -1;
	}
	if (log_fd() != 2)
		close(log_fd());
	log_set_fd(fd);
	return 0;
}

static void
reload(void)
{
	char err[1024];
	struct config *cf;
	struct server *s, *old = cur;

	log_notice("reloading %s", cur->cf->file);
	if ((cf = config_load(cur->cf->file, err, sizeof err)) == NULL) {
		log_err("reload failed: %s; keeping the old configuration",
		    err);
		return;
	}
	if ((s = server_build(cf, cur, 1, err, sizeof err)) == NULL) {
		log_err("reload failed: %s; keeping the old configuration",
		    err);
		config_free(cf);
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
}

static void
reopen_logs(void)
{
	char err[1024];

	if (open_error_log(cur->cf, cur->uid, cur->gid, err, sizeof err) != 0)
		log_err("reopen: %s", err);
	if (cur->cf->access_log != NULL) {
		int fd = log_open_file(cur->cf->access_log, cur->uid, cur->gid);
		if (fd < 0) {
			log_err("reopen access-log '%s': %s",
			    cur->cf->access_log, strerror(errno));
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
	    "  -h       this help\n", SYSCONFDIR);
}

int
main(int argc, char **argv)
{
	const char *file = SYSCONFDIR "/cachetd.conf";
	char err[1024];
	struct config *cf;
	int c, test = 0;

	while ((c = getopt(argc, argv, "c:thv")) != -1) {
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
		struct server *s = server_build(cf, NULL, 0, err, sizeof err);
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
	/* The error log first, so that what binding says goes there. */
	if (open_error_log(cf, (uid_t)-1, (gid_t)-1, err, sizeof err) != 0) {
		fprintf(stderr, "cachetd: %s\n", err);
		return 1;
	}
	if ((cur = server_build(cf, NULL, 1, err, sizeof err)) == NULL) {
		start_error(err);
		return 1;
	}
	if (cur->uid != (uid_t)-1 && log_fd() != 2)
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
