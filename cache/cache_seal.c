/*
 * cache_seal.c - sealed records: the format every backend stores, sealed
 * and opened with AES-256-GCM, and the seal key file.
 *
 * Record format (version 1), all integers big-endian:
 *
 *   0  u8   version            |
 *   1  u8   flags              |  header, not secret, authenticated:
 *   2  u8   reserved[2]        |
 *   4  u64  created            |  the expiry cannot be moved without
 *  12  u64  expires            |  breaking the tag
 *  20  u32  length of sealed   |
 *  24  u8   nonce[12]          |
 *  36  sealed bytes (AES-256-GCM of the DER session), then tag[16]
 *
 * Flags: CACHE_REC_ONCE, a single-use record (a TLS 1.3 ticket): a take
 * removes only those (cache_take), so a client cannot spend a reusable
 * TLS 1.2 session by offering its ID as a ticket.
 *
 * Additional data: the session ID, then the 36 header bytes.  A record
 * sealed under another ID, another key, or changed by one bit does not
 * open, and is a miss.  Every backend stores these bytes as they are;
 * the key is the same on every process (and, with a network store, on
 * every host sharing the seal-key-file).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cache_int.h"

#define REC_VERSION  1
#define REC_NONCE    12


static void
put_u64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t
get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Parse a header: 0 if well formed (version and length agree). */
int
cache_rec_times(const unsigned char *v, size_t vl, time_t *created,
    time_t *expires)
{
	if (vl < CACHE_REC_HDR + CACHE_REC_TAG || v[0] != REC_VERSION)
		return -1;
	if ((size_t)get_u32(v + 20) != vl - CACHE_REC_HDR - CACHE_REC_TAG)
		return -1;
	*created = (time_t)get_u64(v + 4);
	*expires = (time_t)get_u64(v + 12);
	return 0;
}

int
cache_rec_once(const unsigned char *v, size_t vl)
{
	return vl >= CACHE_REC_HDR + CACHE_REC_TAG && v[0] == REC_VERSION &&
	    (v[1] & CACHE_REC_ONCE) != 0;
}

/* The cipher and two contexts, one to seal and one to open, each given
 * the key once: a record then costs setting its nonce, not the key
 * schedule and GHASH table of AES-256-GCM again (the key never changes
 * in a cache's life). */
int
cache_aead_ready(struct cache *c)
{
	if (c->dctx != NULL)
		return 0;
	if (!c->have_key)
		return -1;
	if (c->aead == NULL &&
	    (c->aead = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL)
		return -1;
	if (c->cctx == NULL && ((c->cctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex2(c->cctx, c->aead, c->key, NULL, NULL) != 1)) {
		EVP_CIPHER_CTX_free(c->cctx);
		c->cctx = NULL;
		return -1;
	}
	if ((c->dctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex2(c->dctx, c->aead, c->key, NULL, NULL) != 1) {
		EVP_CIPHER_CTX_free(c->dctx);
		c->dctx = NULL;
		return -1;
	}
	return 0;
}

int
cache_seal(struct cache *c, const unsigned char *id, size_t idlen,
    const unsigned char *data, size_t len, time_t created, time_t expires,
    unsigned flags, unsigned char *out)
{
	EVP_CIPHER_CTX *x = c->cctx;
	int n, f;

	out[0] = REC_VERSION;
	out[1] = (unsigned char)flags;
	out[2] = out[3] = 0;
	put_u64(out + 4, (uint64_t)created);
	put_u64(out + 12, (uint64_t)expires);
	put_u32(out + 20, (uint32_t)len);
	if (RAND_bytes(out + 24, REC_NONCE) != 1)
		return -1;
	if (EVP_EncryptInit_ex2(x, NULL, NULL, out + 24, NULL) != 1 ||
	    EVP_EncryptUpdate(x, NULL, &n, id, (int)idlen) != 1 ||
	    EVP_EncryptUpdate(x, NULL, &n, out, CACHE_REC_HDR) != 1 ||
	    EVP_EncryptUpdate(x, out + CACHE_REC_HDR, &n, data,
	    (int)len) != 1 ||
	    EVP_EncryptFinal_ex(x, out + CACHE_REC_HDR + n, &f) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, CACHE_REC_TAG,
	    out + CACHE_REC_HDR + len) != 1)
		return -1;
	return 0;
}

int
cache_unseal(struct cache *c, const unsigned char *id, size_t idlen,
    const unsigned char *v, size_t vl, unsigned char *out)
{
	EVP_CIPHER_CTX *x = c->dctx;
	size_t len = vl - CACHE_REC_HDR - CACHE_REC_TAG;
	int n, f;

	if (EVP_DecryptInit_ex2(x, NULL, NULL, v + 24, NULL) != 1 ||
	    EVP_DecryptUpdate(x, NULL, &n, id, (int)idlen) != 1 ||
	    EVP_DecryptUpdate(x, NULL, &n, v, CACHE_REC_HDR) != 1 ||
	    EVP_DecryptUpdate(x, out, &n, v + CACHE_REC_HDR, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, CACHE_REC_TAG,
	    (void *)(v + CACHE_REC_HDR + len)) != 1 ||
	    EVP_DecryptFinal_ex(x, out + n, &f) != 1)
		return -1;
	return 0;
}

/* Read a seal key file: exactly 32 bytes, not readable by group/others. */
int
cache_read_key(const char *path, unsigned char key[CACHE_KEY_LEN], char *err,
    size_t errlen)
{
	unsigned char buf[CACHE_KEY_LEN + 1];
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "seal-key-file '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "seal-key-file '%s': readable by group or "
		    "others (mode %03o); chmod 600 it", path,
		    (unsigned)st.st_mode & 0777);
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n != CACHE_KEY_LEN) {
		snprintf(err, errlen, "seal-key-file '%s': must hold exactly %d "
		    "bytes (head -c 32 /dev/urandom), not %zd", path,
		    CACHE_KEY_LEN, n);
		return -1;
	}
	memcpy(key, buf, CACHE_KEY_LEN);
	OPENSSL_cleanse(buf, sizeof buf);
	return 0;
}

int
cache_read_password(const char *path, char *out, size_t len, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t n;
	char *nl;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "password-file '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "password-file '%s': readable by group "
		    "or others (mode %03o); chmod 600 it", path,
		    (unsigned)st.st_mode & 0777);
		close(fd);
		return -1;
	}
	n = read(fd, out, len);
	close(fd);
	if (n < 0 || (size_t)n >= len) {
		OPENSSL_cleanse(out, len);
		snprintf(err, errlen, "password-file '%s': %s", path, n < 0 ?
		    strerror(errno) : "longer than a password line");
		return -1;
	}
	out[n] = '\0';
	if ((nl = strpbrk(out, "\r\n")) != NULL)
		*nl = '\0';
	if (out[0] == '\0') {
		snprintf(err, errlen, "password-file '%s': empty", path);
		return -1;
	}
	return 0;
}
