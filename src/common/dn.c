/*
 * dn.c - a certificate name as one line of text, the form the access
 * lists, the access log and `cachet get -v` all show.
 */
#include "config.h"

#include <limits.h>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "common.h"

void
dn_string(const X509_NAME *name, char *out, size_t len)
{
	int cap = len > INT_MAX ? INT_MAX : (int)len;
	BIO *b;
	int n;

	if (len == 0)
		return;
	out[0] = '\0';
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
		n = BIO_read(b, out, cap - 1);
		out[n > 0 ? n : 0] = '\0';
	}
	BIO_free(b);
}
