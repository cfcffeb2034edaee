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

void
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
	size_t i, j;
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
		if ((cf->access_log != NULL && check_log(cf, cf->access_log,
		    &cf->alog_at, "access-log", err, errlen) != 0) ||
		    (cf->error_log != NULL && check_log(cf, cf->error_log,
		    &cf->elog_at, "error-log", err, errlen) != 0) ||
		    (cf->pid_file != NULL && check_folder(cf->pid_file,
		    &cf->pid_at, "pid-file", 0, err, errlen) != 0))
			goto fail;
		return s;
	}

	if (cf->access_log != NULL) {
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

