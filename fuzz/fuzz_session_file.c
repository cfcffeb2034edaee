/*
 * fuzz_session_file.c - libFuzzer harness for `cachet get`'s session file
 * (--sess-in / --sess-out, src/cachet/session_file.c): "host:port" lines,
 * each followed by a PEM "SSL SESSION PARAMETERS" block; comments start
 * "#".
 *
 * Input: the session file.  Per input:
 *   - sess_parse() of its bytes: no crash, no leak, every entry has a key
 *     and a PEM block that starts with the marker;
 *   - sess_load() for a fixed key, as --sess-in does;
 *   - sess_save() of a fresh resumable session under that key, as
 *     --sess-out does (it re-reads the file and keeps the other usable
 *     entries), then sess_load() must find the session just saved.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cachet.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define KEY "localhost:8443"

static SSL_SESSION *fresh;
static char dir[64], file[96];

static void
cleanup(void)
{
	SSL_SESSION_free(fresh);
	unlink(file);
	rmdir(dir);
}

/* A resumable TLS 1.2 session, as a server would give one. */
static void
init(void)
{
	unsigned char id[32], mk[48];
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	const SSL_CIPHER *ci = ssl ? SSL_CIPHER_find(ssl,
	    (const unsigned char *)"\xc0\x2f") : NULL;

	memset(id, 0xa5, sizeof id);
	memset(mk, 0x5a, sizeof mk);
	if (ci == NULL || (fresh = SSL_SESSION_new()) == NULL ||
	    SSL_SESSION_set_protocol_version(fresh, TLS1_2_VERSION) != 1 ||
	    SSL_SESSION_set_cipher(fresh, ci) != 1 ||
	    SSL_SESSION_set1_id(fresh, id, sizeof id) != 1 ||
	    SSL_SESSION_set1_master_key(fresh, mk, sizeof mk) != 1 ||
	    SSL_SESSION_set_timeout(fresh, 24 * 3600) == 0 ||
	    !SSL_SESSION_is_resumable(fresh)) {
		fprintf(stderr, "fuzz_session_file: cannot make a session\n");
		abort();
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	snprintf(dir, sizeof dir, "%s/fuzz_sess.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("fuzz_session_file: mkdtemp");
		abort();
	}
	snprintf(file, sizeof file, "%s/sessions", dir);
	atexit(cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SSL_SESSION *s;
	int fd;
	struct sess_entry *v;
	size_t n, i;

	if (fresh == NULL)
		init();
	n = sess_parse((const char *)data, size, &v);
	for (i = 0; i < n; i++)
		if (v[i].key == NULL || v[i].pem == NULL ||
		    strncmp(v[i].pem, "-----BEGIN SSL SESSION PARAMETERS-----",
		    38) != 0)
			abort();
	sess_entries_free(v, n);

	if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    write(fd, data, size) != (ssize_t)size || close(fd) != 0) {
		perror("fuzz_session_file: write");
		abort();
	}
	SSL_SESSION_free(sess_load(file, KEY, 0));

	SSL_SESSION_set_time(fresh, time(NULL));
	if (sess_save(file, KEY, fresh) != 0) {
		fprintf(stderr, "fuzz_session_file: sess_save failed\n");
		abort();
	}
	if ((s = sess_load(file, KEY, 0)) == NULL) {
		fprintf(stderr, "fuzz_session_file: the session just saved "
		    "does not load\n");
		abort();
	}
	SSL_SESSION_free(s);
	return 0;
}
