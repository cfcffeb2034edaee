/*
 * server.c - a "server": everything one generation of workers needs,
 * built by the master from a config — the listening sockets (bound now,
 * or taken over from the generation before on a reload), the root checked,
 * the media types, the worker user, the session cache prepared as root,
 * and for each server of the config a site: its SSL_CTX, its
 * client-certificate policies and its media types (default-type).  -t builds one without
 * binding or touching a file.  A server is freed whole; listeners handed
 * over to its successor are -1 in it by then.
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
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>

#include "cachetd.h"

#define LISTEN_BACKLOG 511      /* as nginx and Apache */

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

/*
 * One listening socket for la, not yet listening (server_build makes them
 * listen once every one is bound, so a failure drops nothing queued).
 * SO_REUSEPORT: each worker has a socket of its own per address, and the
 * kernel spreads the connections over them (no thundering herd, no
 * accept that fails); only processes of our user (root, which binds
 * here) can join the group.  port: the port to bind instead of la's (the
 * one the first socket got for port 0), or NULL.
 */
static int
bind_one(const struct listen_addr *la, const struct sockaddr_storage *port,
    int plain, char *err, size_t errlen)
{
	struct sockaddr_storage ss = la->ss;
	int fd, one = 1;

	if (port != NULL) {
		if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port =
			    ((const struct sockaddr_in6 *)port)->sin6_port;
		else
			((struct sockaddr_in *)&ss)->sin_port =
			    ((const struct sockaddr_in *)port)->sin_port;
	}
	fd = socket(la->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
		goto fail;
	if (la->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	/* Accepted sockets inherit it: no setsockopt per connection. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&ss, la->sslen) != 0)
		goto fail;
	return fd;
fail:
	config_err(err, errlen, &la->at, "%s '%s': %s", plain ? "http-listen" :
	    "listen", la->text, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* SO_REUSEPORT would let us share a port that another server of our user
 * (another cachetd, as root) listens on, and take half its clients: an
 * address we do not hold already is first bound once without it, which
 * fails if anything is there. */
static int
port_free(const struct listen_addr *la, int plain, char *err, size_t errlen)
{
	int fd, one = 1;

	if (la->ss.ss_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)&la->ss)->sin6_port == 0 :
	    ((const struct sockaddr_in *)&la->ss)->sin_port == 0)
		return 0;       /* port 0: the kernel picks a free one */
	fd = socket(la->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (la->ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof one);
		if (bind(fd, (const struct sockaddr *)&la->ss, la->sslen) == 0) {
			close(fd);
			return 0;
		}
	}
	config_err(err, errlen, &la->at, "%s '%s': %s", plain ? "http-listen" :
	    "listen", la->text, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Listen on every socket bound (not yet listening) in s; log each
 * address once. */
static int
listen_all(struct server *s, const int *fresh, char *err, size_t errlen)
{
	struct sockaddr_storage got;
	socklen_t gl;
	char text[INET6_ADDRSTRLEN + 16];
	size_t a, k, i;

	for (a = 0; a < s->nlfds; a++) {
		for (k = 0; k < s->nsock; k++) {
			i = a * s->nsock + k;
			if (!fresh[i])
				continue;
			if (listen(s->lfds[i], LISTEN_BACKLOG) != 0) {
				config_err(err, errlen, &addr_at(s->cf, a)->at,
				    "listen '%s': %s", addr_at(s->cf, a)->text,
				    strerror(errno));
				return -1;
			}
		}
		gl = sizeof got;
		if (fresh[a * s->nsock] && getsockname(s->lfds[a * s->nsock],
		    (struct sockaddr *)&got, &gl) == 0) {
			addr_text(&got, text, sizeof text);
			log_notice("listening on %s%s", a >= s->cf->nlisten ?
			    "http://" : "", text);
		}
	}
	return 0;
}

/*
 * Socket activation: sockets systemd passed us (LISTEN_PID is ours,
 * LISTEN_FDS of them from descriptor 3), taken at the first bind, before
 * anything else opens a descriptor there.  A passed socket serves the
 * listen address it is bound to, shared by all the workers (each holds a
 * duplicate): we cannot know that systemd set SO_REUSEPORT, nor join its
 * group as another user.  Passed sockets that match no address are closed.
 */
static int    *passed;
static size_t  npassed;

static void
take_passed(void)
{
	static int taken;
	const char *p = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
	char *end;
	long pid, cnt;
	size_t i;

	if (taken)
		return;
	taken = 1;
	if (p == NULL || n == NULL)
		return;
	errno = 0;
	pid = strtol(p, &end, 10);
	if (errno != 0 || *end != '\0' || pid != (long)getpid())
		goto out;
	cnt = strtol(n, &end, 10);
	if (errno != 0 || *end != '\0' || cnt <= 0 || cnt > 1024)
		goto out;
	npassed = (size_t)cnt;
	passed = xcalloc(npassed, sizeof *passed);
	for (i = 0; i < npassed; i++) {
		int fd = 3 + (int)i, fl = fcntl(fd, F_GETFL);
		/* accept4 must never block the worker's loop */
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
			passed[i] = -1;
			continue;
		}
		passed[i] = fd;
	}
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
	}
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	return 0;
}

/* The passed socket bound to la's address, now ours; -1 if none. */
static int
passed_for(const struct listen_addr *la)
{
	struct sockaddr_storage got;
	socklen_t gl;
	size_t i;
	int fd;

	for (i = 0; i < npassed; i++) {
		gl = sizeof got;
		memset(&got, 0, sizeof got);
		if (passed[i] < 0 || getsockname(passed[i],
		    (struct sockaddr *)&got, &gl) != 0 ||
		    !same_addr(&got, &la->ss))
			continue;
		fd = passed[i];
		passed[i] = -1;
		return fd;
	}
	return -1;
}

static void
close_unused_passed(void)
{
	size_t i;

	for (i = 0; i < npassed; i++)
		if (passed[i] >= 0) {
			log_warn("socket %d passed by systemd matches no listen "
			    "address: closed", passed[i]);
			close(passed[i]);
			passed[i] = -1;
		}
}

/* A socket of ours has SO_REUSEPORT; one systemd passed may not: the
 * workers then share it (duplicates), and more cannot join it. */
static int
shared_socket(int fd)
{
	int on = 0;
	socklen_t l = sizeof on;

	return getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, &l) != 0 || !on;
}

/* Fill mine[from..nsock) with duplicates of fd (a shared socket). */
static int
dup_shared(int fd, int *mine, size_t from, size_t nsock,
    const struct listen_addr *la, char *err, size_t errlen)
{
	size_t k;

	for (k = from; k < nsock; k++)
		if ((mine[k] = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
			config_err(err, errlen, &la->at, "listen '%s': %s",
			    la->text, strerror(errno));
			return -1;
		}
	return 0;
}

/* The listening sockets of s: per address, nsock of them (one per worker
 * of the largest generation yet: the count never shrinks while the master
 * lives, since a socket closed with connections in its queue would reset
 * them; a generation with fewer workers gives some workers two).  An
 * address old listened on already keeps its sockets (the queues go on,
 * whichever generation accepts them); more are bound when there are more
 * workers.  Nothing listens until everything is bound. */
static int
bind_all(struct server *s, struct server *old, char *err, size_t errlen)
{
	const struct config *cf = s->cf;
	size_t a, j, k, n = 0;
	int *fresh, ret = -1;

	s->nlfds = cf->nlisten + cf->nhttp_listen;
	s->nsock = cf->workers > 0 ? (size_t)cf->workers : 1;
	if (old != NULL && old->nsock > s->nsock)
		s->nsock = old->nsock;
	n = s->nlfds * s->nsock;
	s->lfds = xcalloc(n, sizeof *s->lfds);
	fresh = xcalloc(n, sizeof *fresh);
	for (k = 0; k < n; k++)
		s->lfds[k] = -1;
	take_passed();
	/* A socket is taken over by its address, whatever its kind was: a
	 * listener is TLS or plain by its place in lfds. */
	for (a = 0; a < s->nlfds; a++) {
		struct sockaddr_storage port;
		socklen_t pl = sizeof port;
		int *mine = &s->lfds[a * s->nsock];

		for (j = 0; old != NULL && j < old->nlfds; j++)
			if (old->lfds[j * old->nsock] >= 0 &&
			    strcmp(addr_at(old->cf, j)->text,
			    addr_at(cf, a)->text) == 0)
				break;
		if (old != NULL && j < old->nlfds) {
			/* taken over: only the count above old's is bound */
			if (shared_socket(old->lfds[j * old->nsock])) {
				if (dup_shared(old->lfds[j * old->nsock], mine,
				    old->nsock, s->nsock, addr_at(cf, a), err,
				    errlen) != 0)
					goto out;
				continue;
			}
			if (getsockname(old->lfds[j * old->nsock],
			    (struct sockaddr *)&port, &pl) != 0)
				goto out;
			for (k = old->nsock; k < s->nsock; k++) {
				if ((mine[k] = bind_one(addr_at(cf, a), &port,
				    a >= cf->nlisten, err, errlen)) < 0)
					goto out;
				fresh[a * s->nsock + k] = 1;
			}
			continue;
		}
		if ((mine[0] = passed_for(addr_at(cf, a))) >= 0) {
			log_notice("listening on %s%s (socket from systemd)",
			    a >= cf->nlisten ? "http://" : "",
			    addr_at(cf, a)->text);
			if (dup_shared(mine[0], mine, 1, s->nsock,
			    addr_at(cf, a), err, errlen) != 0)
				goto out;
			continue;
		}
		if (port_free(addr_at(cf, a), a >= cf->nlisten, err,
		    errlen) != 0)
			goto out;
		for (k = 0; k < s->nsock; k++) {
			if ((mine[k] = bind_one(addr_at(cf, a), k > 0 ? &port :
			    NULL, a >= cf->nlisten, err, errlen)) < 0)
				goto out;
			fresh[a * s->nsock + k] = 1;
			if (k == 0 && getsockname(mine[0],
			    (struct sockaddr *)&port, &pl) != 0)
				goto out;
		}
	}
	close_unused_passed();
	if (listen_all(s, fresh, err, errlen) != 0)
		goto out;
	/* Everything bound and listening: take old's sockets over. */
	for (a = 0; a < s->nlfds; a++)
		for (j = 0; old != NULL && j < old->nlfds; j++)
			if (old->lfds[j * old->nsock] >= 0 &&
			    strcmp(addr_at(old->cf, j)->text,
			    addr_at(cf, a)->text) == 0) {
				for (k = 0; k < old->nsock; k++) {
					s->lfds[a * s->nsock + k] =
					    old->lfds[j * old->nsock + k];
					old->lfds[j * old->nsock + k] = -1;
				}
				break;
			}
	ret = 0;
out:
	free(fresh);
	return ret;
}

void
server_free(struct server *s, int close_listeners)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->lfds != NULL && close_listeners)
		for (i = 0; i < s->nlfds * s->nsock; i++)
			if (s->lfds[i] >= 0)
				close(s->lfds[i]);
	free(s->lfds);
	if (s->access_fd >= 0)
		close(s->access_fd);
	for (i = 0; s->sites != NULL && i < s->nsites; i++) {
		SSL_CTX_free(s->sites[i].ssl);
		auth_free(s->sites[i].auth, s->sites[i].sc->nlocs);
		mime_free(s->sites[i].mime);
		if (s->sites[i].rootfd >= 0)
			close(s->sites[i].rootfd);
	}
	free(s->sites);
	tickets_free(s->tickets);
	cache_close(s->cache);
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

/* -t: a log file's folder exists; syslog's socket is there. */
static int
check_log(const struct config *cf, const char *dest, const struct conf_at *at,
    const char *what, char *err, size_t errlen)
{
	int facility;

	if (log_dest_syslog(dest, &facility) != 1)
		return check_folder(dest, at, what, 0, err, errlen);
	if (log_syslog_check(cf->syslog_socket != NULL ? cf->syslog_socket :
	    LOG_SYSLOG_SOCKET) == 0)
		return 0;
	log_dest_error(cf, dest, at, what, err, errlen);
	return -1;
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
open_cache(struct server *s, int create, const struct server_env *env,
    char *err, size_t errlen)
{
	const struct config *cf = s->cf;
	struct cache_opts o;
	unsigned char key[CACHE_KEY_LEN];
	char cerr[512], pw[512];

	memcpy(key, env->seal_key, sizeof key);
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
	if (cf->cache.password_file != NULL) {
		if (cache_read_password(cf->cache.password_file, pw,
		    sizeof pw, cerr, sizeof cerr) != 0) {
			config_err(err, errlen, &cf->cache.password_at, "%s",
			    cerr);
			OPENSSL_cleanse(key, sizeof key);
			return -1;
		}
		o.password = pw;
	}
	o.fetch_timeout = cf->cache.fetch_timeout;
	o.timeout = cf->cache.timeout;
	o.max_entries = cf->cache.max_entries;
	o.purge_interval = cf->cache.purge_interval;
	o.uid = s->drop ? s->uid : (uid_t)-1;
	o.gid = s->drop ? s->gid : (gid_t)-1;
	s->cache = cache_new(cf->cache.store, &o, key, cerr, sizeof cerr);
	OPENSSL_cleanse(key, sizeof key);
	OPENSSL_cleanse(pw, sizeof pw);
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

const struct site *
server_site(const struct server *s, const char *host)
{
	const struct server_conf *sc;
	char key[256];
	size_t i;

	if (config_host_key(host, key, sizeof key) == 0 &&
	    (sc = config_server(s->cf, key)) != NULL)
		for (i = 0; i < s->nsites; i++)
			if (s->sites[i].sc == sc)
				return &s->sites[i];
	return &s->sites[s->cf->dflt];
}

/* One server's site: its root checked, its media types, its SSL_CTX and
 * policies. */
static int
site_build(struct server *s, struct site *site, struct server_conf *sc,
    char *err, size_t errlen)
{
	const struct config *cf = s->cf;
	char merr[512];
	int fd;

	site->sc = sc;
	site->rootfd = -1;
	fd = open(sc->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		config_err(err, errlen, &sc->root_at, "root '%s': %s", sc->root,
		    strerror(errno));
		return -1;
	}
	close(fd);
	if ((site->mime = mime_load(cf->mime_types, merr, sizeof merr)) ==
	    NULL) {
		config_err(err, errlen, &cf->mime_at, "mime-types: %s", merr);
		return -1;
	}
	mime_set_default(site->mime, sc->default_type);
	if ((site->ssl = tls_ctx_new(cf, sc, s->cache, s->tickets,
	    err, errlen)) == NULL)
		return -1;
	if ((site->auth = auth_build(sc, site->ssl, err, errlen)) == NULL)
		return -1;
	return 0;
}

/* Everything a generation of workers needs, built from cf (which the
 * server then owns).  Listening sockets with the same address as in old
 * are taken over, not bound again.  With bind == 0 (cachetd -t), nothing
 * is bound or opened for writing. */
struct server *
server_build(struct config *cf, struct server *old, int bind_now,
    const struct server_env *env, char *err,
    size_t errlen)
{
	struct server *s = xcalloc(1, sizeof *s);
	size_t i;
	int fd;

	s->cf = cf;
	s->access_fd = -1;
	s->uid = (uid_t)-1;
	s->gid = (gid_t)-1;
	s->stats = env->stats;
	s->started = old != NULL ? old->started : time(NULL);
	s->master = getpid();

	if (cf->acme_root != NULL) {
		fd = open(cf->acme_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			config_err(err, errlen, &cf->acme_at, "acme-root '%s': "
			    "%s", cf->acme_root, strerror(errno));
			goto fail;
		}
		close(fd);
	}
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
	if (open_cache(s, bind_now, env, err, errlen) != 0)
		goto fail;
	if (cf->session_tickets && (s->tickets = tickets_new(cf,
	    env->ticket_ring, s->cache, err, errlen)) == NULL)
		goto fail;
	s->sites = xcalloc(cf->nservers, sizeof *s->sites);
	for (i = 0; i < cf->nservers; i++) {
		s->sites[i].rootfd = -1;
		s->nsites = i + 1;
		if (site_build(s, &s->sites[i], cf->servers[i], err,
		    errlen) != 0)
			goto fail;
		/* Read whatever the socket holds in one read(), not a
		 * record's 5-byte header and then its body: a resumed TLS
		 * 1.2 connection took 10.6 reads, mostly these pairs (conn.c
		 * asks SSL_read before waiting, so nothing read ahead is
		 * left unseen). */
		SSL_CTX_set_read_ahead(s->sites[i].ssl, 1);
	}
	s->ssl = s->sites[cf->dflt].ssl;
	if (tls_sni_setup(s) != 0) {
		snprintf(err, errlen, "SNI set-up: %s", tls_error_string());
		goto fail;
	}
	if (!bind_now) {
		/* -t: each server's names against its certificates */
		for (i = 0; i < cf->nservers; i++)
			tls_check_names(cf->servers[i]);
		/* -t: where the logs and the pid file would go */
		if ((cf->access_log != NULL && !log_dest_off(cf->access_log) &&
		    check_log(cf, cf->access_log,
		    &cf->alog_at, "access-log", err, errlen) != 0) ||
		    (cf->error_log != NULL && check_log(cf, cf->error_log,
		    &cf->elog_at, "error-log", err, errlen) != 0) ||
		    (cf->pid_file != NULL && check_folder(cf->pid_file,
		    &cf->pid_at, "pid-file", 0, err, errlen) != 0))
			goto fail;
		return s;
	}

	if (log_dest_off(cf->access_log)) {
		s->access_fd = -1;      /* access-log = off */
	} else if (cf->access_log != NULL) {
		s->access_fd = log_open_dest(cf->access_log, cf->syslog_socket,
		    s->uid, s->gid);
		if (s->access_fd < 0) {
			log_dest_error(cf, cf->access_log, &cf->alog_at,
			    "access-log", err, errlen);
			goto fail;
		}
	} else {
		s->access_fd = dup(2);  /* no access log: stderr */
	}

	if (bind_all(s, old, err, errlen) != 0)
		goto fail;
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
		for (i = 0; i < s->nlfds * s->nsock; i++)
			if (s->lfds[i] >= 0)
				close(s->lfds[i]);
	free(s->lfds);
	s->lfds = NULL;
	server_free(s, 0);
	return NULL;
}

