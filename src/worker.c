/*
 * worker.c - a worker process: drops privileges, then runs one libev loop
 * that accepts from its own listening sockets (SO_REUSEPORT: one per
 * address for each worker of the generation, server.c) and drives every
 * connection (conn.c).  TERM or INT means "finish what you are doing":
 * stop accepting, close idle keep-alive connections, let the others end
 * their current request, and exit when none is left or the bound is hit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "cachetd.h"

/* Accepts per readiness.  One, as nginx without multi_accept: the loop is
 * level-triggered, so a backlog with more in it is reported again at once
 * (with the other ready connections, in the same epoll_wait), while
 * accepting until EAGAIN cost every lone connection a failed accept4. */
#define ACCEPT_BATCH 1
#define PURGE_SLICE 0.002       /* seconds between purge slices */
#define FULL_TICK  0.1          /* a full worker looks again this often */

static struct worker W;
static ev_io    *accept_w;      /* one per listening socket of ours */
static int      *accept_plain;  /* accept_w[i]'s is a plain HTTP one */
static size_t    naccept;
static ev_timer  stop_timer, resume_timer;
static ev_signal sig_term, sig_int;
static ev_timer  purge_check, purge_step;
static ev_timer  alog_timer;
static uint64_t  last_full;

static size_t refuse_queued(struct worker *, int lfd, size_t max);

/* A purge runs in slices, one per turn of the loop, so handshakes go on
 * between them; cache_purge_due() lets only one process start it. */
static void
purge_step_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	if (cache_purge_step(W.srv->cache, time(NULL)) != 1)
		ev_timer_stop(loop, t);
}

static void
purge_check_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	uint64_t full = W.st->cache.full;

	(void)t;
	(void)revents;
	if (ev_is_active(&purge_step))
		return;
	/* The cap only triggers a purge when this worker met it. */
	if (full != last_full ? cache_purge_due(W.srv->cache, time(NULL)) :
	    cache_purge_due_interval(W.srv->cache, time(NULL))) {
		last_full = full;
		ev_timer_set(&purge_step, 0., PURGE_SLICE);
		ev_timer_start(loop, &purge_step);
	}
}

/* A buffered access log: its first line starts the timer that writes it
 * out ACCESS_FLUSH_TIME later (log.c writes it when full, too). */
static void
alog_flush_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	access_log_flush();
}

static void
alog_wake(void)
{
	if (!ev_is_active(&alog_timer)) {
		ev_timer_set(&alog_timer, ACCESS_FLUSH_TIME, 0.);
		ev_timer_start(W.loop, &alog_timer);
	}
}

/* Accepting stops when the worker is full (worker-connections, or out of
 * descriptors) and starts again as soon as there is room: whenever a
 * connection closes, and on a timer that also refuses what waits in the
 * backlog while the worker stays full.  Nothing depends on timing: every
 * close looks, and the timer repeats until accepting is back. */
static void
pause_accept(struct worker *w, int pause)
{
	size_t i;

	if (pause == w->paused)
		return;
	if (pause && w->stopping)
		return;
	w->paused = pause;
	for (i = 0; i < naccept; i++) {
		if (pause)
			ev_io_stop(w->loop, &accept_w[i]);
		else if (!w->stopping)
			ev_io_start(w->loop, &accept_w[i]);
	}
	if (pause) {
		ev_timer_set(&resume_timer, FULL_TICK, FULL_TICK);
		ev_timer_start(w->loop, &resume_timer);
	} else {
		ev_timer_stop(w->loop, &resume_timer);
	}
}

static int
has_room(const struct worker *w)
{
	return (long)w->nconns < w->srv->cf->worker_connections;
}

static void
resume_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	static time_t last;
	size_t i, refused = 0;

	(void)loop;
	(void)t;
	(void)revents;
	if (W.stopping)
		return;
	if (has_room(&W) || conn_drain_idle(&W, 32) > 0) {
		pause_accept(&W, 0);
		return;
	}
	/* Still full after a tick, nothing idle: refuse what waits on our
	 * sockets now (SO_REUSEPORT: no other worker accepts from them). */
	for (i = 0; i < naccept; i++)
		refused += refuse_queued(&W, accept_w[i].fd, 256);
	if (refused > 0 && log_ratelimit(&last, 60))
		log_warn("worker-connections (%ld) reached, none idle: "
		    "refusing new connections", W.srv->cf->worker_connections);
}

static void
conn_closed(struct worker *w)
{
	if (w->stopping) {
		if (w->nconns == 0)
			ev_break(w->loop, EVBREAK_ALL);
		return;
	}
	if (w->paused && has_room(w))
		pause_accept(w, 0);
}

/* Accept up to ACCEPT_BATCH connections from lfd.  At worker-connections the
 * oldest idle connections make room; when none is idle the worker stops
 * accepting (worker_pause_accept), so that workers with room take the
 * clients, and refuses what is still queued a moment later. */
static void
accept_batch(struct worker *w, int lfd, int plain)
{
	long limit = w->srv->cf->worker_connections;
	int i;

	for (i = 0; i < ACCEPT_BATCH && !w->stopping; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd;

		/* Full with nothing idle: leave the client to a worker with
		 * room (resume_cb refuses it if none takes it). */
		if ((long)w->nconns >= limit && w->idle_head == NULL) {
			pause_accept(w, 1);
			return;
		}
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			static time_t last;
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				return;
			if (log_ratelimit(&last, 60))
				log_err("accept: %s", strerror(errno));
			if (errno == EMFILE || errno == ENFILE) {
				/* Closing idle connections frees descriptors;
				 * with none, wait for some to close. */
				if (conn_drain_idle(w, 8) == 0)
					pause_accept(w, 1);
			}
			return;
		}
		/* Make room only for a client that is really here.  Like
		 * nginx, start closing idle connections a little before the
		 * limit, so that a flood of silent ones cannot fill it. */
		if ((long)w->nconns >= limit - limit / 16)
			conn_drain_idle(w, 1);
		if ((long)w->nconns >= limit && conn_drain_idle(w, 1) == 0) {
			close(fd);      /* the idle ones turned out busy */
			w->st->refused++;
			pause_accept(w, 1);
			return;
		}
		if (conn_new(w, fd, &ss, plain) != 0)
			return;
	}
}

/* Accept and close what is queued on lfd (up to max): the worker is full
 * and nothing is idle, so a client learns it at once instead of waiting
 * in the backlog.  Returns how many were refused. */
static size_t
refuse_queued(struct worker *w, int lfd, size_t max)
{
	size_t k = 0;

	while (k < max) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			break;
		close(fd);
		k++;
	}
	w->st->refused += k;
	return k;
}
static void
accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	(void)loop;
	(void)revents;
	accept_batch(&W, io->fd, accept_plain[io - accept_w]);
}


static void
stop_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	log_warn("worker stop: %zu connection(s) still open after %.0f s; "
	    "closing them", W.nconns, WORKER_STOP_BOUND);
	ev_break(loop, EVBREAK_ALL);
}

static void
term_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
	size_t i;

	(void)s;
	(void)revents;
	if (W.stopping)
		return;
	W.stopping = 1;
	access_log_flush();
	/* Our copies only: the master keeps every socket open, and the
	 * next generation accepts what is queued on them. */
	for (i = 0; i < naccept; i++) {
		ev_io_stop(loop, &accept_w[i]);
		close(accept_w[i].fd);
	}
	ev_timer_stop(loop, &resume_timer);
	ev_timer_stop(loop, &purge_check);
	ev_timer_stop(loop, &purge_step);
	tickets_stop(W.srv->tickets, loop);
	conn_shutdown_idle(&W);
	if (W.nconns == 0) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	ev_timer_init(&stop_timer, stop_timeout_cb, WORKER_STOP_BOUND, 0.);
	ev_timer_start(loop, &stop_timer);
}

static int
drop_privileges(const struct server *srv)
{
	if (!srv->drop)
		return 0;
	if (setgroups(0, NULL) != 0 || setgid(srv->gid) != 0 ||
	    setuid(srv->uid) != 0) {
		log_err("cannot drop privileges to uid %ld: %s",
		    (long)srv->uid, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_err("privileges were not dropped");
		return -1;
	}
	return 0;
}

/* Accept on the sockets of this worker's place in its generation, close
 * the others' (the master keeps them). */
static void
take_sockets(struct server *srv, int index)
{
	size_t n = (size_t)srv->cf->workers, a, k;

	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	accept_w = xcalloc(srv->nlfds * srv->nsock, sizeof *accept_w);
	accept_plain = xcalloc(srv->nlfds * srv->nsock, sizeof *accept_plain);
	for (a = 0; a < srv->nlfds; a++)
		for (k = 0; k < srv->nsock; k++) {
			int fd = srv->lfds[a * srv->nsock + k];
			if (k % n != (size_t)index) {
				close(fd);
				continue;
			}
			ev_io_init(&accept_w[naccept], accept_cb, fd, EV_READ);
			accept_plain[naccept] = a >= srv->cf->nlisten;
			ev_io_start(W.loop, &accept_w[naccept]);
			naccept++;
		}
}

void
worker_run(struct server *srv, int slot, int index)
{
	size_t i;
	int loop_ok;

	signal(SIGPIPE, SIG_IGN);
	memset(&W, 0, sizeof W);
	W.srv = srv;
	W.slot = slot;
	W.st = &srv->stats[slot];
	W.conn_closed = conn_closed;
	W.st->pid = getpid();
	W.st->connections = 0;

	/* Open the root before dropping privileges: its parents need not be
	 * searchable by the worker user. */
	for (i = 0; i < srv->nsites; i++) {
		struct site *site = &srv->sites[i];
		site->rootfd = open(site->sc->root, O_PATH | O_DIRECTORY |
		    O_CLOEXEC);
		if (site->rootfd < 0) {
			log_err("root '%s': %s", site->sc->root,
			    strerror(errno));
			_exit(2);
		}
	}
	W.acmefd = -1;
	if (srv->cf->acme_root != NULL && (W.acmefd = open(srv->cf->acme_root,
	    O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_err("acme-root '%s': %s", srv->cf->acme_root,
		    strerror(errno));
		_exit(2);
	}
	if (drop_privileges(srv) != 0)
		_exit(2);
	/* A master killed with -9 cannot stop its workers: the kernel tells
	 * them (set after dropping privileges, which clears it).  TERM means
	 * a graceful stop, and the ports are free for a new master. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
	    getppid() != srv->master) {
		log_err("worker: the master is gone; exiting");
		_exit(0);
	}

	cache_set_stats(srv->cache, &W.st->cache);
	cache_attach(srv->cache);
	last_full = W.st->cache.full;

	W.loop = ev_default_loop(EVFLAG_AUTO);
	tls_set_session_wake(conn_session_fetched);
	loop_ok = cache_set_loop(srv->cache, W.loop) == 0;
	if (!loop_ok)
		log_err("session cache: cannot run on the event loop; "
		    "serving full handshakes");
	tickets_worker(srv->tickets, W.loop, W.st, loop_ok);
	ev_timer_init(&purge_check, purge_check_cb, 1., 1.);
	ev_timer_init(&purge_step, purge_step_cb, 0., PURGE_SLICE);
	if (cache_needs_purge(srv->cache))
		ev_timer_start(W.loop, &purge_check);
	take_sockets(srv, index);
	ev_init(&resume_timer, resume_cb);
	ev_init(&alog_timer, alog_flush_cb);
	access_log_init(srv->access_fd, srv->cf->access_log,
	    srv->cf->syslog_socket, srv->cf->access_log_format,
	    (size_t)srv->cf->access_log_buffer, alog_wake);
	ev_signal_init(&sig_term, term_cb, SIGTERM);
	ev_signal_start(W.loop, &sig_term);
	ev_signal_init(&sig_int, term_cb, SIGINT);
	ev_signal_start(W.loop, &sig_int);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);

	ev_run(W.loop, 0);
	access_log_flush();
	W.st->connections = 0;
	_exit(0);
}
