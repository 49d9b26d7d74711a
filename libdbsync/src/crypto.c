/* crypto.c - hashing, MACs, randomness and byte encodings over libcrypto. */

/* Hide everything OpenSSL 3 deprecated, so a slip is a compile error. */
#define OPENSSL_API_COMPAT 30000

#include "crypto.h"

#include "dbsync/errors.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Stands in for NULL with zero-length input: libcrypto and memcpy want a
 * real pointer even when they read nothing. */
static const unsigned char no_bytes[1];

static const void *nonnull(const void *p)
{
	return p ? p : no_bytes;
}

int dbsync__crypto_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	/* RAND_bytes takes an int length. */
	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;

		if (RAND_bytes(p, chunk) != 1)
			return DBSYNC_ERROR;
		p += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

/* HMAC-SHA-256 over the concatenation of `nparts` pieces, so a signature's
 * string never has to be assembled in memory. 0 or -1 (libcrypto failed). */
static int hmac_parts(const void *key, size_t key_len,
		      const void *const *parts, const size_t *lens,
		      size_t nparts, unsigned char out[DBSYNC__SHA256_SIZE])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	size_t i, out_len = 0;
	int ok = 0;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     digest, 0);
	params[1] = OSSL_PARAM_construct_end();

	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mac)
		goto done;
	ctx = EVP_MAC_CTX_new(mac);
	/* A NULL key would mean "keep the previous key"; the empty key is a
	 * valid HMAC key and must be passed as one. */
	if (!ctx || !EVP_MAC_init(ctx, nonnull(key), key_len, params))
		goto done;
	for (i = 0; i < nparts; i++)
		if (lens[i] > 0 && !EVP_MAC_update(ctx, parts[i], lens[i]))
			goto done;
	ok = EVP_MAC_final(ctx, out, &out_len, DBSYNC__SHA256_SIZE) &&
	     out_len == DBSYNC__SHA256_SIZE;
done:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

/*
 * The void functions below cannot report a failure, and a wrong digest or
 * MAC handed back silently could make a forged signature compare equal.
 * libcrypto only fails here when it cannot allocate or its configuration is
 * broken, so stopping the process is the one safe answer.
 */
void dbsync__crypto_sha256(const void *data, size_t n,
			   unsigned char out[DBSYNC__SHA256_SIZE])
{
	if (!EVP_Digest(nonnull(data), n, out, NULL, EVP_sha256(), NULL))
		abort();
}

void dbsync__crypto_hmac_sha256(const void *key, size_t key_len,
				const void *data, size_t n,
				unsigned char out[DBSYNC__SHA256_SIZE])
{
	const void *parts[1] = {data};
	size_t lens[1] = {n};

	if (hmac_parts(key, key_len, parts, lens, 1, out) != 0)
		abort();
}

int dbsync__crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(nonnull(a), nonnull(b), n) == 0;
}

/* ---- hex ----------------------------------------------------------------- */

static const char hex_digits[] = "0123456789abcdef";

void dbsync__hex_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex_digits[p[i] >> 4];
		out[2 * i + 1] = hex_digits[p[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int dbsync__hex_decode(const char *in, size_t len, unsigned char *out,
		       size_t cap)
{
	size_t i;

	if (len % 2 != 0 || len / 2 > cap)
		return DBSYNC_INVALID;
	/* Check everything first so a bad digit leaves `out` untouched. */
	for (i = 0; i < len; i++)
		if (hex_value((unsigned char)in[i]) < 0)
			return DBSYNC_INVALID;
	for (i = 0; i < len; i += 2)
		out[i / 2] = (unsigned char)(hex_value((unsigned char)in[i]) << 4 |
					     hex_value((unsigned char)in[i + 1]));
	return 0;
}

/* ---- base64 -------------------------------------------------------------- */

static const char b64_digits[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *dbsync__base64_encode(const void *in, size_t n)
{
	const unsigned char *p = in;
	char *out, *o;
	size_t i;

	if (n / 3 >= (SIZE_MAX - 1) / 4)
		return NULL;
	out = malloc((n + 2) / 3 * 4 + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
			     p[i + 2];

		*o++ = b64_digits[v >> 18];
		*o++ = b64_digits[(v >> 12) & 0x3f];
		*o++ = b64_digits[(v >> 6) & 0x3f];
		*o++ = b64_digits[v & 0x3f];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		*o++ = b64_digits[v >> 18];
		*o++ = b64_digits[(v >> 12) & 0x3f];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		*o++ = b64_digits[v >> 18];
		*o++ = b64_digits[(v >> 12) & 0x3f];
		*o++ = b64_digits[(v >> 6) & 0x3f];
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict on purpose: one byte string has exactly one accepted encoding, so
 * nothing can be smuggled past a comparison of the encoded form. Rejected:
 * a length that is not a multiple of 4, anything outside the alphabet
 * (whitespace, NUL, the URL-safe '-' '_'), '=' anywhere but as the last one
 * or two characters, and pad bits that are not zero ("Zh==" for "f").
 */
int dbsync__base64_decode(const char *in, size_t len, unsigned char **out,
			  size_t *out_len)
{
	size_t pad = 0, ndigits, i, o = 0, n;
	uint32_t acc = 0;
	unsigned char *buf;

	*out = NULL;
	*out_len = 0;
	if (len % 4 != 0)
		return DBSYNC_INVALID;
	if (len > 0 && in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	ndigits = len - pad;
	for (i = 0; i < ndigits; i++)
		if (b64_value((unsigned char)in[i]) < 0)
			return DBSYNC_INVALID;
	/* 2 pad chars leave 4 spare bits in the last digit, 1 leaves 2. */
	if (pad > 0 &&
	    (b64_value((unsigned char)in[ndigits - 1]) & (pad == 2 ? 0x0f : 0x03)))
		return DBSYNC_INVALID;

	n = len / 4 * 3 - pad;
	buf = malloc(n > 0 ? n : 1);
	if (!buf)
		return DBSYNC_NOMEM;
	for (i = 0; i < ndigits; i++) {
		acc = acc << 6 | (uint32_t)b64_value((unsigned char)in[i]);
		if (i % 4 == 3) {
			buf[o++] = (unsigned char)(acc >> 16);
			buf[o++] = (unsigned char)(acc >> 8);
			buf[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	if (pad == 2) {
		buf[o++] = (unsigned char)(acc >> 4);
	} else if (pad == 1) {
		buf[o++] = (unsigned char)(acc >> 10);
		buf[o++] = (unsigned char)(acc >> 2);
	}
	*out = buf;
	*out_len = o;
	return 0;
}

/* ---- request signature -------------------------------------------------- */

/* A newline inside a field would let two different requests share one
 * signed string ("POST\n/a" + "b" against "POST" + "/a\nb"). */
static int bad_field(const char *s)
{
	return !s || strchr(s, '\n') != NULL;
}

int dbsync__crypto_sign(const void *secret, size_t secret_len,
			const char *method, const char *path,
			const char *timestamp, const char *nonce,
			const void *body, size_t body_len, char out[65])
{
	unsigned char hash[DBSYNC__SHA256_SIZE], mac[DBSYNC__SHA256_SIZE];
	char body_hex[2 * DBSYNC__SHA256_SIZE + 1];
	const char *fields[9];
	const void *parts[9];
	size_t lens[9], i;

	if ((!secret && secret_len > 0) || (!body && body_len > 0) ||
	    bad_field(method) || bad_field(path) || bad_field(timestamp) ||
	    bad_field(nonce))
		return DBSYNC_INVALID;

	if (!EVP_Digest(nonnull(body), body_len, hash, NULL, EVP_sha256(),
			NULL))
		return DBSYNC_ERROR;
	dbsync__hex_encode(hash, sizeof(hash), body_hex);

	fields[0] = method;
	fields[2] = path;
	fields[4] = timestamp;
	fields[6] = nonce;
	fields[1] = fields[3] = fields[5] = fields[7] = "\n";
	fields[8] = body_hex;
	for (i = 0; i < 9; i++) {
		parts[i] = fields[i];
		lens[i] = strlen(fields[i]);
	}
	if (hmac_parts(secret, secret_len, parts, lens, 9, mac) != 0)
		return DBSYNC_ERROR;
	dbsync__hex_encode(mac, sizeof(mac), out);
	return 0;
}
