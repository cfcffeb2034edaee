/* check_status.c - status_render (src/status.c): sums over the worker
 * slots, the text and JSON forms (every field present, JSON well formed),
 * and a buffer too small for the page (truncated, never overrun). */
#include "config.h"

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cachetd.h"
#include "check_run.h"

/* Every counter of the page, in order, before "cache_store". */
static const char *const fields[] = {
	"uptime", "workers", "connections", "requests", "http_requests",
	"http_redirects", "http_acme_served",
	"connections_drained", "connections_refused", "key_update_limit",
	"handshakes_full", "handshakes_resumed",
	"handshakes_failed_timeout", "handshakes_failed_closed",
	"handshakes_failed_not_tls", "handshakes_failed_protocol",
	"handshakes_failed_cipher", "handshakes_failed_alert",
	"handshakes_failed_other", "renegotiations", "post_handshake_auth",
	"tickets_renewed", "tickets_unknown_key", "ticket_keys_local",
	"ticket_keys_held",
	"cache_hits", "cache_local_hits", "cache_misses", "cache_stores",
	"cache_store_failures",
	"cache_removes", "cache_expired", "cache_full", "cache_errors",
	"cache_repairs", "cache_evictions", "cache_fetch_timeouts",
	"cache_server_errors",
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static struct worker_stats slots[MAX_WORKERS];
static struct server srv;

/* A server of three live workers (slots 0, 1 and 7) and one slot of a
 * worker that exited (pid 0, its counters kept): counters that count
 * events include it, "connections" (open now) and "workers" do not. */
static void
setup(void)
{
	static const int live[] = { 0, 1, 7 };
	char err[256];
	size_t i;
	int f;

	memset(slots, 0, sizeof slots);
	memset(&srv, 0, sizeof srv);
	srv.stats = slots;
	srv.started = time(NULL) - 100;
	srv.cache = cache_open("none", &(struct cache_opts){ .uid = (uid_t)-1,
	    .gid = (gid_t)-1 }, NULL, err, sizeof err);
	ck_assert_msg(srv.cache != NULL, "cache_open none: %s", err);
	for (i = 0; i < 3; i++) {
		struct worker_stats *s = &slots[live[i]];

		s->pid = 1000 + live[i];
		s->connections = 1;
		s->handshakes_full = 10;
		s->handshakes_resumed = 20;
		s->requests = 30;
		s->renegotiations = 1;
		s->pha = 2;
		s->drained = 3;
		s->refused = 4;
		s->key_update_abuse = 5;
		for (f = 0; f < HF_COUNT; f++)
			s->hs_failed[f] = (uint64_t)(f + 1);
		s->cache.hits = 100;
		s->cache.misses = 200;
		s->cache.stores = 300;
		s->cache.store_failures = 6;
		s->cache.removes = 7;
		s->cache.expired = 8;
		s->cache.full = 9;
		s->cache.errors = 11;
		s->cache.repairs = 12;
		s->cache.evictions = 13;
		s->cache.fetch_timeouts = 14;
		s->cache.server_errors = 15;
	}
	/* an exited worker: counted events, no open connection */
	slots[MAX_WORKERS - 1].connections = 50;
	slots[MAX_WORKERS - 1].requests = 1000;
	slots[MAX_WORKERS - 1].cache.hits = 1000;
	/* a huge value: printed in full, not wrapped or cut */
	slots[1].cache.evictions = UINT64_C(10000000000000000000) - 26;
}

static void
teardown(void)
{
	cache_close(srv.cache);
}

/* The value of "name: N" in the text page, or -1 if absent. */
static long long
text_field(const char *page, const char *name)
{
	char key[64];
	const char *p = page;
	size_t k = (size_t)snprintf(key, sizeof key, "%s: ", name);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, k) == 0)
			return strtoll(p + k, NULL, 10);
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return -1;
}

START_TEST(text_sums)
{
	char out[4096];
	size_t n = status_render(&srv, 0, out, sizeof out);

	ck_assert_uint_eq(n, strlen(out));
	ck_assert_int_eq(out[n - 1], '\n');
	ck_assert_int_eq(text_field(out, "workers"), 3);
	ck_assert_int_eq(text_field(out, "connections"), 3);
	ck_assert_int_eq(text_field(out, "requests"), 3 * 30 + 1000);
	ck_assert_int_eq(text_field(out, "handshakes_full"), 30);
	ck_assert_int_eq(text_field(out, "handshakes_resumed"), 60);
	ck_assert_int_eq(text_field(out, "renegotiations"), 3);
	ck_assert_int_eq(text_field(out, "post_handshake_auth"), 6);
	ck_assert_int_eq(text_field(out, "connections_drained"), 9);
	ck_assert_int_eq(text_field(out, "connections_refused"), 12);
	ck_assert_int_eq(text_field(out, "key_update_limit"), 15);
	ck_assert_int_eq(text_field(out, "handshakes_failed_timeout"), 3 * (HF_TIMEOUT + 1));
	ck_assert_int_eq(text_field(out, "handshakes_failed_closed"), 3 * (HF_CLOSED + 1));
	ck_assert_int_eq(text_field(out, "handshakes_failed_not_tls"), 3 * (HF_NOT_TLS + 1));
	ck_assert_int_eq(text_field(out, "handshakes_failed_protocol"), 3 * (HF_PROTOCOL + 1));
	ck_assert_int_eq(text_field(out, "handshakes_failed_cipher"), 3 * (HF_CIPHER + 1));
	ck_assert_int_eq(text_field(out, "handshakes_failed_alert"), 3 * (HF_ALERT + 1));
	ck_assert_int_eq(text_field(out, "handshakes_failed_other"), 3 * (HF_OTHER + 1));
	ck_assert_int_eq(text_field(out, "cache_hits"), 3 * 100 + 1000);
	ck_assert_int_eq(text_field(out, "cache_misses"), 600);
	ck_assert_int_eq(text_field(out, "cache_stores"), 900);
	ck_assert_int_eq(text_field(out, "cache_store_failures"), 18);
	ck_assert_int_eq(text_field(out, "cache_removes"), 21);
	ck_assert_int_eq(text_field(out, "cache_expired"), 24);
	ck_assert_int_eq(text_field(out, "cache_full"), 27);
	ck_assert_int_eq(text_field(out, "cache_errors"), 33);
	ck_assert_int_eq(text_field(out, "cache_repairs"), 36);
	ck_assert_int_eq(text_field(out, "cache_fetch_timeouts"), 42);
	ck_assert_int_eq(text_field(out, "cache_server_errors"), 45);
	ck_assert_msg(strstr(out, "\ncache_evictions: 10000000000000000000\n")
	    != NULL, "64-bit sum: %s", out);
	/* uptime from srv->started (100 s ago; a slow machine may add some) */
	ck_assert_int_ge(text_field(out, "uptime"), 100);
	ck_assert_int_le(text_field(out, "uptime"), 160);
	ck_assert_msg(strstr(out, "\ncache_store: none\n") != NULL, "%s", out);
}
END_TEST

START_TEST(text_every_field_once)
{
	char out[4096], key[64];
	const char *p;
	size_t i, lines = 0;

	status_render(&srv, 0, out, sizeof out);
	for (i = 0; i < NFIELDS; i++) {
		snprintf(key, sizeof key, "\n%s: ", fields[i]);
		/* at the start or after a newline, exactly once */
		p = strncmp(out, key + 1, strlen(key + 1)) == 0 ? out :
		    strstr(out, key);
		ck_assert_msg(p != NULL, "text: no %s in:\n%s", fields[i], out);
		ck_assert_msg(strstr(p + 1, key) == NULL, "text: %s twice",
		    fields[i]);
	}
	/* each line "name: value" and nothing else */
	for (p = out; *p != '\0'; p = strchr(p, '\n') + 1) {
		const char *colon = strstr(p, ": ");
		const char *nl = strchr(p, '\n');

		ck_assert_ptr_nonnull(nl);
		ck_assert_msg(colon != NULL && colon < nl, "line without ': '");
		lines++;
	}
	ck_assert_uint_eq(lines, NFIELDS + 1);  /* + cache_store */
}
END_TEST

/* A tiny JSON reader for the one shape the page has: a flat object of
 * string keys and unsigned-integer or string values.  Returns the number
 * of members, or -1 (with the reason in *why) if out is not that. */
static int
json_flat_object(const char *s, const char **why)
{
	int members = 0;

	while (isspace((unsigned char)*s))
		s++;
	if (*s++ != '{')
		return *why = "no '{'", -1;
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s++ != '"')
			return *why = "key not a string", -1;
		while (*s != '"' && *s != '\0') {
			if ((unsigned char)*s < 0x20 || *s == '\\')
				return *why = "control or escape in key", -1;
			s++;
		}
		if (*s++ != '"')
			return *why = "unterminated key", -1;
		if (*s++ != ':')
			return *why = "no ':' after key", -1;
		while (*s == ' ')
			s++;
		if (*s == '"') {
			s++;
			while (*s != '"' && *s != '\0') {
				if ((unsigned char)*s < 0x20 || *s == '\\')
					return *why = "control in string", -1;
				s++;
			}
			if (*s++ != '"')
				return *why = "unterminated string", -1;
		} else if (isdigit((unsigned char)*s)) {
			if (*s == '0' && isdigit((unsigned char)s[1]))
				return *why = "leading zero", -1;
			while (isdigit((unsigned char)*s))
				s++;
		} else
			return *why = "value neither number nor string", -1;
		members++;
		while (*s == ' ')
			s++;
		if (*s == ',') {
			s++;
			continue;
		}
		if (*s++ != '}')
			return *why = "no ',' or '}' after a value", -1;
		break;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '\0')
		return *why = "bytes after the object", -1;
	return members;
}

START_TEST(json_well_formed)
{
	char out[4096], key[64];
	const char *why = "";
	size_t n = status_render(&srv, 1, out, sizeof out), i;
	int members;

	ck_assert_uint_eq(n, strlen(out));
	members = json_flat_object(out, &why);
	ck_assert_msg(members >= 0, "not JSON (%s): %s", why, out);
	ck_assert_int_eq(members, (int)NFIELDS + 1);
	for (i = 0; i < NFIELDS; i++) {
		snprintf(key, sizeof key, "\"%s\": ", fields[i]);
		ck_assert_msg(strstr(out, key) != NULL, "json: no %s", key);
	}
	ck_assert_msg(strstr(out, "\"workers\": 3,") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"requests\": 1090,") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"cache_hits\": 1300,") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"cache_server_errors\": 45,") != NULL,
	    "%s", out);
	ck_assert_msg(strstr(out, "\"cache_evictions\": 10000000000000000000,")
	    != NULL, "%s", out);
	ck_assert_msg(strstr(out, "\"cache_store\": \"none\"}") != NULL, "%s",
	    out);
	ck_assert_msg(strncmp(out, "{\"uptime\": ", 11) == 0, "%s", out);
}
END_TEST

/* The self-check of the reader above: it must refuse what is not JSON. */
START_TEST(json_reader_refuses)
{
	static const char *const bad[] = {
		"", "{", "{}x", "{\"a\": 1,}", "{\"a\" 1}", "{\"a\": 1 \"b\": 2}",
		"{\"a\": }", "{\"a\": \"x}", "{\"a\": 01}", "{a: 1}",
		"{\"a\": 1}}", "{\"a\": -1}",
	};
	const char *why;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(json_flat_object(bad[i], &why) < 0,
		    "accepted: %s", bad[i]);
	ck_assert_int_eq(json_flat_object("{\"a\": 1, \"b\": \"x\"}\n", &why),
	    2);
}
END_TEST

/* An empty server (no worker yet, every slot zero): zeros, well formed. */
START_TEST(no_workers)
{
	char out[4096];
	const char *why = "";

	memset(slots, 0, sizeof slots);
	status_render(&srv, 0, out, sizeof out);
	ck_assert_int_eq(text_field(out, "workers"), 0);
	ck_assert_int_eq(text_field(out, "cache_hits"), 0);
	status_render(&srv, 1, out, sizeof out);
	ck_assert_msg(json_flat_object(out, &why) == (int)NFIELDS + 1,
	    "not JSON (%s): %s", why, out);
}
END_TEST

/* The page is rendered into a buffer that ends at a page the process may
 * not touch: one byte written past cap kills the test with SIGSEGV. */
static char *
guarded(size_t cap, void **map, size_t *maplen)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t len = 2 * (size_t)pg;
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	ck_assert_uint_le(cap, (size_t)pg);
	*map = m;
	*maplen = len;
	return m + pg - cap;
}

START_TEST(truncation_never_overruns)
{
	char full[4096];
	size_t whole, caps[] = { 1, 2, 7, 16, 33, 100, 250, 511, 0 }, i;
	int json;

	for (json = 0; json <= 1; json++) {
		whole = status_render(&srv, json, full, sizeof full);
		caps[sizeof caps / sizeof caps[0] - 1] = whole;  /* no room for NUL */
		for (i = 0; i < sizeof caps / sizeof caps[0]; i++) {
			void *map;
			size_t maplen, n;
			char *buf = guarded(caps[i], &map, &maplen);

			n = status_render(&srv, json, buf, caps[i]);
			ck_assert_msg(n < caps[i], "json=%d cap %zu: returned %zu",
			    json, caps[i], n);
			ck_assert_msg(buf[n] == '\0', "json=%d cap %zu: no NUL",
			    json, caps[i]);
			ck_assert_uint_eq(n, strlen(buf));
			/* what fits is the start of the whole page */
			ck_assert_msg(strncmp(buf, full, n) == 0,
			    "json=%d cap %zu: not a prefix", json, caps[i]);
			munmap(map, maplen);
		}
		/* exactly enough room: the whole page */
		{
			void *map;
			size_t maplen;
			char *buf = guarded(whole + 1, &map, &maplen);

			ck_assert_uint_eq(status_render(&srv, json, buf,
			    whole + 1), whole);
			ck_assert_str_eq(buf, full);
			munmap(map, maplen);
		}
	}
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("render");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, text_sums);
	tcase_add_test(tc, text_every_field_once);
	tcase_add_test(tc, json_well_formed);
	tcase_add_test(tc, json_reader_refuses);
	tcase_add_test(tc, no_workers);
	tcase_add_test(tc, truncation_never_overruns);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(suite());
}
