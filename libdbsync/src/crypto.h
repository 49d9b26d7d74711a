/*
 * crypto.h - hashing, MACs, randomness and byte encodings.
 *
 * The only module that speaks to OpenSSL (libcrypto), so the crypto library
 * can be replaced in one place. Everything here is pure and thread-safe.
 */
#ifndef DBSYNC_CRYPTO_H
#define DBSYNC_CRYPTO_H

#include <stddef.h>

#define DBSYNC__SHA256_SIZE 32

/* Fill `buf` with `n` bytes from the operating system's CSPRNG (through
 * OpenSSL's RAND_bytes). 0 or DBSYNC_ERROR if the generator failed. */
int dbsync__crypto_random(void *buf, size_t n);

/* SHA-256 and HMAC-SHA-256 (any key length, including 0; data and key may
 * be NULL when their length is 0). They cannot report failure: if libcrypto
 * fails (out of memory, broken configuration) they abort() rather than hand
 * back a wrong value that a forged signature might match. */
void dbsync__crypto_sha256(const void *data, size_t n,
			   unsigned char out[DBSYNC__SHA256_SIZE]);

void dbsync__crypto_hmac_sha256(const void *key, size_t key_len,
				const void *data, size_t n,
				unsigned char out[DBSYNC__SHA256_SIZE]);

/* 1 if the `n` bytes at a and b are equal, 0 otherwise, in time that
 * depends only on n (for comparing signatures). */
int dbsync__crypto_equal(const void *a, const void *b, size_t n);

/* Lower-case hex; `out` has room for 2n+1 bytes (NUL-terminated). */
void dbsync__hex_encode(const void *in, size_t n, char *out);

/* Decode exactly `len` hex digits (either case) into out (len/2 bytes,
 * `cap` bytes available). 0, or DBSYNC_INVALID for odd length, a non-hex
 * character (NUL included), or not enough room; on error `out` is left
 * untouched. */
int dbsync__hex_decode(const char *in, size_t len, unsigned char *out,
		       size_t cap);

/* Standard base64 (RFC 4648 alphabet) with padding; returns a malloc'd
 * NUL-terminated string (free with free()) or NULL when out of memory. */
char *dbsync__base64_encode(const void *in, size_t n);

/* Decode standard base64 (padding required, no whitespace). On success
 * *out is malloc'd (free with free(); never NULL, even for empty input) and
 * *out_len its length. DBSYNC_INVALID for malformed input: a length that is
 * not a multiple of 4, a character outside the alphabet, '=' other than as
 * the last one or two characters, or non-zero pad bits (only the canonical
 * encoding is accepted); DBSYNC_NOMEM. On error *out is NULL, *out_len 0. */
int dbsync__base64_decode(const char *in, size_t len, unsigned char **out,
			  size_t *out_len);

/*
 * The request signature of docs/protocol.md:
 * hex(HMAC-SHA-256(secret, method "\n" path "\n" timestamp "\n" nonce "\n"
 * hex(SHA-256(body)))), all hex lower-case. `out` receives 64 hex digits and
 * a NUL. 0; DBSYNC_INVALID for a NULL string, NULL secret or body with a
 * non-zero length, or a newline inside method, path, timestamp or nonce
 * (it would make two different requests sign the same string);
 * DBSYNC_ERROR if libcrypto failed (in practice: out of memory).
 */
int dbsync__crypto_sign(const void *secret, size_t secret_len,
			const char *method, const char *path,
			const char *timestamp, const char *nonce,
			const void *body, size_t body_len, char out[65]);

#endif
