/*
 * status.c - the status page (like nginx's stub_status): uptime, workers,
 * connections, handshakes and the session cache counters, summed over the
 * per-worker slots in shared memory.  Text, or JSON with ?format=json.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cachetd.h"

/* Is the peer address (text) one of the allowed addresses? */
int
status_allowed(const struct location *loc, const char *peer)
{
	unsigned char a[16], b[16];
	int fam = strchr(peer, ':') != NULL ? AF_INET6 : AF_INET;
	size_t i, n = fam == AF_INET6 ? 16 : 4;

	if (inet_pton(fam, peer, a) != 1)
		return 0;
	for (i = 0; i < loc->nallow_addr; i++)
		if (inet_pton(fam, loc->allow_addr[i], b) == 1 &&
		    memcmp(a, b, n) == 0)
			return 1;
	return 0;
}

/* Append to out (cap bytes, n used); a line that does not fit is left
 * out whole and nothing after it is written.  Returns the new length, or
 * cap once full. */
static size_t __attribute__((format(printf, 4, 5)))
put(char *out, size_t cap, size_t n, const char *fmt, ...)
{
	va_list ap;
	int m;

	if (n >= cap)
		return n;               /* full already */
	va_start(ap, fmt);
	m = vsnprintf(out + n, cap - n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= cap - n) {
		out[n] = '\0';
		return cap;             /* full: later lines are dropped */
	}
	return n + (size_t)m;
}

size_t
status_render(const struct server *srv, int json, char *out, size_t cap)
{
	struct worker_stats t;
	const struct worker_stats *s;
	long workers = 0;
	size_t n;
	int i, k;

	memset(&t, 0, sizeof t);
	for (i = 0; i < MAX_WORKERS; i++) {
		s = &srv->stats[i];
		if (s->pid != 0) {
			workers++;
			t.connections += s->connections;
		}
		t.handshakes_full += s->handshakes_full;
		t.handshakes_resumed += s->handshakes_resumed;
		t.requests += s->requests;
		t.http_requests += s->http_requests;
		t.http_redirects += s->http_redirects;
		t.http_acme += s->http_acme;
		t.renegotiations += s->renegotiations;
		t.pha += s->pha;
		t.drained += s->drained;
		t.key_update_abuse += s->key_update_abuse;
		for (k = 0; k < HF_COUNT; k++)
			t.hs_failed[k] += s->hs_failed[k];
		t.refused += s->refused;
		t.tickets_renewed += s->tickets_renewed;
		t.tickets_unknown += s->tickets_unknown;
		t.ticket_keys_local += s->ticket_keys_local;
		t.cache.hits += s->cache.hits;
		t.cache.local_hits += s->cache.local_hits;
		t.cache.misses += s->cache.misses;
		t.cache.stores += s->cache.stores;
		t.cache.store_failures += s->cache.store_failures;
		t.cache.removes += s->cache.removes;
		t.cache.expired += s->cache.expired;
		t.cache.full += s->cache.full;
		t.cache.errors += s->cache.errors;
		t.cache.repairs += s->cache.repairs;
		t.cache.evictions += s->cache.evictions;
		t.cache.fetch_timeouts += s->cache.fetch_timeouts;
		t.cache.server_errors += s->cache.server_errors;
	}
#define FIELDS(F) \
	F("uptime", (unsigned long long)(time(NULL) - srv->started)) \
	F("workers", (unsigned long long)workers) \
	F("connections", (unsigned long long)t.connections) \
	F("requests", (unsigned long long)t.requests) \
	F("http_requests", (unsigned long long)t.http_requests) \
	F("http_redirects", (unsigned long long)t.http_redirects) \
	F("http_acme_served", (unsigned long long)t.http_acme) \
	F("connections_drained", (unsigned long long)t.drained) \
	F("connections_refused", (unsigned long long)t.refused) \
	F("key_update_limit", (unsigned long long)t.key_update_abuse) \
	F("handshakes_full", (unsigned long long)t.handshakes_full) \
	F("handshakes_resumed", (unsigned long long)t.handshakes_resumed) \
	F("handshakes_failed_timeout", (unsigned long long)t.hs_failed[HF_TIMEOUT]) \
	F("handshakes_failed_closed", (unsigned long long)t.hs_failed[HF_CLOSED]) \
	F("handshakes_failed_not_tls", (unsigned long long)t.hs_failed[HF_NOT_TLS]) \
	F("handshakes_failed_protocol", (unsigned long long)t.hs_failed[HF_PROTOCOL]) \
	F("handshakes_failed_cipher", (unsigned long long)t.hs_failed[HF_CIPHER]) \
	F("handshakes_failed_alert", (unsigned long long)t.hs_failed[HF_ALERT]) \
	F("handshakes_failed_other", (unsigned long long)t.hs_failed[HF_OTHER]) \
	F("renegotiations", (unsigned long long)t.renegotiations) \
	F("post_handshake_auth", (unsigned long long)t.pha) \
	F("tickets_renewed", (unsigned long long)t.tickets_renewed) \
	F("tickets_unknown_key", (unsigned long long)t.tickets_unknown) \
	F("ticket_keys_local", (unsigned long long)t.ticket_keys_local) \
	F("ticket_keys_held", (unsigned long long)tickets_held(srv->tickets)) \
	F("cache_hits", (unsigned long long)t.cache.hits) \
	F("cache_local_hits", (unsigned long long)t.cache.local_hits) \
	F("cache_misses", (unsigned long long)t.cache.misses) \
	F("cache_stores", (unsigned long long)t.cache.stores) \
	F("cache_store_failures", (unsigned long long)t.cache.store_failures) \
	F("cache_removes", (unsigned long long)t.cache.removes) \
	F("cache_expired", (unsigned long long)t.cache.expired) \
	F("cache_full", (unsigned long long)t.cache.full) \
	F("cache_errors", (unsigned long long)t.cache.errors) \
	F("cache_repairs", (unsigned long long)t.cache.repairs) \
	F("cache_evictions", (unsigned long long)t.cache.evictions) \
	F("cache_fetch_timeouts", (unsigned long long)t.cache.fetch_timeouts) \
	F("cache_server_errors", (unsigned long long)t.cache.server_errors)

	n = 0;
	if (cap == 0)
		return 0;
	out[0] = '\0';
#define TEXT(name, v) \
	n = put(out, cap, n, "%s: %llu\n", name, v);
#define JSON(name, v) \
	n = put(out, cap, n, "%s\"%s\": %llu", n > 1 ? ", " : "", name, v);
	if (json) {
		n = put(out, cap, n, "{");
		FIELDS(JSON)
		n = put(out, cap, n, ", \"cache_store\": \"%s\"}\n",
		    cache_kind(srv->cache));
	} else {
		FIELDS(TEXT)
		n = put(out, cap, n, "cache_store: %s\n",
		    cache_kind(srv->cache));
	}
	return n >= cap ? strlen(out) : n;
}
