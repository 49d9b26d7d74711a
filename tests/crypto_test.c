/*
 * crypto_test.c - digests and MACs against published vectors, randomness,
 * hex and base64 (including every rejection), and the request signature.
 */
#include "harness.h"

#include "../libdbsync/src/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static char *hex_of(const void *p, size_t n)
{
	char *s = th_alloc(2 * n + 1);

	dbsync__hex_encode(p, n, s);
	return s;
}

static char *sha256_hex(const void *p, size_t n)
{
	unsigned char md[DBSYNC__SHA256_SIZE];

	dbsync__crypto_sha256(p, n, md);
	return hex_of(md, sizeof(md));
}

static char *hmac_hex(const void *key, size_t key_len, const void *p, size_t n)
{
	unsigned char md[DBSYNC__SHA256_SIZE];

	dbsync__crypto_hmac_sha256(key, key_len, p, n, md);
	return hex_of(md, sizeof(md));
}

static unsigned char *filled(int byte, size_t n)
{
	unsigned char *p = th_alloc(n);

	memset(p, byte, n);
	return p;
}

/* base64-decode a C string that must be valid; returns case memory. */
static unsigned char *b64_ok(const char *in, size_t *n)
{
	unsigned char *out, *copy;

	ASSERT_OK(dbsync__base64_decode(in, strlen(in), &out, n));
	ASSERT_NOT_NULL(out);
	copy = th_alloc(*n + 1);
	memcpy(copy, out, *n);
	free(out);
	return copy;
}

/* `len` bytes at `in` must be rejected with DBSYNC_INVALID and no output. */
static void b64_bad(const char *in, size_t len)
{
	static unsigned char sentinel[1];
	unsigned char *out = sentinel;
	size_t n = 12345;
	int rc = dbsync__base64_decode(in, len, &out, &n);

	ASSERT_MSG(rc == DBSYNC_INVALID,
		   "\"%.*s\" (%zu bytes): got %d, want DBSYNC_INVALID",
		   (int)len, in, len, rc);
	ASSERT_NULL(out);
	ASSERT_EQ_INT(n, 0);
}

/* ---- SHA-256: FIPS 180-2 appendix B ------------------------------------ */

TEST(sha256_abc)
{
	ASSERT_EQ_STR(sha256_hex("abc", 3),
		      "ba7816bf8f01cfea414140de5dae2223"
		      "b00361a396177a9cb410ff61f20015ad");
}

TEST(sha256_empty)
{
	ASSERT_EQ_STR(sha256_hex("", 0),
		      "e3b0c44298fc1c149afbf4c8996fb924"
		      "27ae41e4649b934ca495991b7852b855");
	/* No data at all is the same empty message. */
	ASSERT_EQ_STR(sha256_hex(NULL, 0),
		      "e3b0c44298fc1c149afbf4c8996fb924"
		      "27ae41e4649b934ca495991b7852b855");
}

TEST(sha256_two_blocks)
{
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	ASSERT_EQ_STR(sha256_hex(m, strlen(m)),
		      "248d6a61d20638b8e5c026930c3e6039"
		      "a33ce45964ff2167f6ecedd419db06c1");
}

TEST(sha256_million_a)
{
	ASSERT_EQ_STR(sha256_hex(filled('a', 1000000), 1000000),
		      "cdc76e5c9914fb9281a1c7e284d73e67"
		      "f1809a48a497200e046d39ccc7112cd0");
}

TEST(sha256_embedded_nul)
{
	/* Length, not NUL, ends the input: `printf 'a\000b\377' | sha256sum` */
	ASSERT_EQ_STR(sha256_hex("a\0b\377", 4),
		      "a37cc3026aae4d519e0b19c298fa913b"
		      "4dccfdf0658cbccbb7deaa0226d5acdb");
}

/* ---- HMAC-SHA-256: RFC 4231 section 4 ----------------------------------- */

TEST(hmac_rfc4231_case1)
{
	ASSERT_EQ_STR(hmac_hex(filled(0x0b, 20), 20, "Hi There", 8),
		      "b0344c61d8db38535ca8afceaf0bf12b"
		      "881dc200c9833da726e9376c2e32cff7");
}

TEST(hmac_rfc4231_case2)
{
	const char *data = "what do ya want for nothing?";

	ASSERT_EQ_STR(hmac_hex("Jefe", 4, data, strlen(data)),
		      "5bdcc146bf60754e6a042426089575c7"
		      "5a003f089d2739839dec58b964ec3843");
}

TEST(hmac_rfc4231_case3)
{
	ASSERT_EQ_STR(hmac_hex(filled(0xaa, 20), 20, filled(0xdd, 50), 50),
		      "773ea91e36800e46854db8ebd09181a7"
		      "2959098b3ef8c122d9635514ced565fe");
}

TEST(hmac_rfc4231_case4)
{
	unsigned char key[25];
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i + 1);
	ASSERT_EQ_STR(hmac_hex(key, sizeof(key), filled(0xcd, 50), 50),
		      "82558a389a443c0ea4cc819899f2083a"
		      "85f0faa3e578f8077a2e3ff46729665b");
}

TEST(hmac_rfc4231_case6)
{
	/* A 131-byte key, longer than a block: hashed first. */
	const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";

	ASSERT_EQ_STR(hmac_hex(filled(0xaa, 131), 131, data, strlen(data)),
		      "60e431591ee0b67f0d8a26aacbf5b77f"
		      "8e0bc6213728c5140546040f0ee37f54");
}

TEST(hmac_rfc4231_case7)
{
	const char *data =
		"This is a test using a larger than block-size key and a "
		"larger than block-size data. The key needs to be hashed "
		"before being used by the HMAC algorithm.";

	ASSERT_EQ_STR(hmac_hex(filled(0xaa, 131), 131, data, strlen(data)),
		      "9b09ffa71b942fcb27635fbcd5b0e944"
		      "bfdc63644f0713938a7f51535c3a35e2");
}

TEST(hmac_empty_key_and_data)
{
	/* python3 -c 'import hmac; print(hmac.new(b"", b"", "sha256")
	 *             .hexdigest())' */
	const char *want = "b613679a0814d9ec772f95d778c35fc5"
			   "ff1697c493715653c6c712144292c5ad";

	ASSERT_EQ_STR(hmac_hex("", 0, "", 0), want);
	ASSERT_EQ_STR(hmac_hex(NULL, 0, NULL, 0), want);
}

/* ---- constant-time compare ---------------------------------------------- */

TEST(equal_same_bytes)
{
	unsigned char a[32], b[32];

	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	ASSERT_EQ_INT(dbsync__crypto_equal(a, b, sizeof(a)), 1);
	ASSERT_EQ_INT(dbsync__crypto_equal(a, a, sizeof(a)), 1);
}

TEST(equal_different_bytes)
{
	ASSERT_EQ_INT(dbsync__crypto_equal("abcdef", "abcxef", 6), 0);
	ASSERT_EQ_INT(dbsync__crypto_equal("\x00\x00", "\xff\xff", 2), 0);
}

TEST(equal_first_and_last_byte)
{
	unsigned char a[32], b[32];

	memset(a, 7, sizeof(a));
	memcpy(b, a, sizeof(b));
	b[0] ^= 1;
	ASSERT_EQ_INT(dbsync__crypto_equal(a, b, sizeof(a)), 0);
	b[0] ^= 1;
	b[31] ^= 0x80;
	ASSERT_EQ_INT(dbsync__crypto_equal(a, b, sizeof(a)), 0);
	/* Only the first n bytes count. */
	ASSERT_EQ_INT(dbsync__crypto_equal(a, b, 31), 1);
}

TEST(equal_every_single_bit)
{
	unsigned char a[32], b[32];
	size_t i;
	int bit;

	for (i = 0; i < sizeof(a); i++)
		a[i] = (unsigned char)(i * 37);
	for (i = 0; i < sizeof(a); i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(b, a, sizeof(b));
			b[i] ^= (unsigned char)(1u << bit);
			ASSERT_MSG(dbsync__crypto_equal(a, b, sizeof(a)) == 0,
				   "byte %zu bit %d", i, bit);
		}
}

TEST(equal_zero_length)
{
	ASSERT_EQ_INT(dbsync__crypto_equal("a", "b", 0), 1);
	ASSERT_EQ_INT(dbsync__crypto_equal(NULL, NULL, 0), 1);
}

/* ---- randomness --------------------------------------------------------- */

TEST(random_two_calls_differ)
{
	unsigned char a[32], b[32];

	ASSERT_OK(dbsync__crypto_random(a, sizeof(a)));
	ASSERT_OK(dbsync__crypto_random(b, sizeof(b)));
	ASSERT(memcmp(a, b, sizeof(a)) != 0);
}

static int cmp32(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

TEST(random_no_duplicates_balanced_bits)
{
	enum { N = 1000, SIZE = 32, BITS = SIZE * 8 };
	unsigned char(*bufs)[SIZE] = th_alloc(N * SIZE);
	long ones = 0, at[BITS] = {0};
	size_t i, j;

	for (i = 0; i < N; i++)
		ASSERT_OK(dbsync__crypto_random(bufs[i], SIZE));
	for (i = 0; i < N; i++)
		for (j = 0; j < BITS; j++)
			if (bufs[i][j / 8] >> (j % 8) & 1) {
				ones++;
				at[j]++;
			}
	/* 256,000 fair bits: mean 128,000, standard deviation 253. */
	th_note("%ld of %d bits set", ones, N * BITS);
	ASSERT_GT_INT(ones, 128000 - 2000);
	ASSERT_LT_INT(ones, 128000 + 2000);
	/* Each bit position over 1,000 draws: mean 500, deviation 15.8. */
	for (j = 0; j < BITS; j++)
		ASSERT_MSG(at[j] > 400 && at[j] < 600,
			   "bit %zu set %ld times of %d", j, at[j], N);

	qsort(bufs, N, SIZE, cmp32);
	for (i = 1; i < N; i++)
		ASSERT_MSG(memcmp(bufs[i - 1], bufs[i], SIZE) != 0,
			   "duplicate 32-byte value");
}

TEST(random_zero_length)
{
	unsigned char buf[1] = {0x42};

	ASSERT_OK(dbsync__crypto_random(buf, 0));
	ASSERT_EQ_INT(buf[0], 0x42);
	ASSERT_OK(dbsync__crypto_random(NULL, 0));
}

TEST(random_large)
{
	size_t n = 1 << 20;
	unsigned char *buf = th_alloc(n);
	unsigned char *zero = th_alloc(n);

	memset(buf, 0, n);
	memset(zero, 0, n);
	ASSERT_OK(dbsync__crypto_random(buf, n));
	/* The last 4 KiB too, not only a prefix. */
	ASSERT(memcmp(buf + n - 4096, zero, 4096) != 0);
}

/* ---- hex ---------------------------------------------------------------- */

TEST(hex_round_trip)
{
	unsigned char in[256], out[256];
	char *s;
	size_t i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)i;
	s = hex_of(in, sizeof(in));
	ASSERT_EQ_INT(strlen(s), 512);
	ASSERT(strncmp(s, "000102", 6) == 0);
	ASSERT(strcmp(s + 500, "fafbfcfdfeff") == 0);
	ASSERT_EQ_INT(strspn(s, "0123456789abcdef"), 512);
	ASSERT_OK(dbsync__hex_decode(s, strlen(s), out, sizeof(out)));
	ASSERT(memcmp(in, out, sizeof(in)) == 0);
}

TEST(hex_empty)
{
	char s[1] = {'x'};

	dbsync__hex_encode("", 0, s);
	ASSERT_EQ_STR(s, "");
	ASSERT_OK(dbsync__hex_decode("", 0, NULL, 0));
}

TEST(hex_upper_case_accepted)
{
	unsigned char out[4];

	ASSERT_OK(dbsync__hex_decode("DEADbeef", 8, out, sizeof(out)));
	ASSERT(memcmp(out, "\xde\xad\xbe\xef", 4) == 0);
	ASSERT_OK(dbsync__hex_decode("aBcD", 4, out, 2));
	ASSERT(memcmp(out, "\xab\xcd", 2) == 0);
}

TEST(hex_odd_length)
{
	unsigned char out[4] = {1, 2, 3, 4};

	ASSERT_CODE(dbsync__hex_decode("abc", 3, out, sizeof(out)),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync__hex_decode("a", 1, out, sizeof(out)),
		    DBSYNC_INVALID);
	ASSERT(memcmp(out, "\1\2\3\4", 4) == 0);
}

TEST(hex_bad_character)
{
	static const char *const bad[] = {"0g", "g0", "ab c", " abc", "abc ",
					  "0x12", "12-4", "\xff\xff", "ab\n0",
					  "+1"};
	unsigned char out[4] = {1, 2, 3, 4};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_MSG(dbsync__hex_decode(bad[i], strlen(bad[i]), out,
					      sizeof(out)) == DBSYNC_INVALID,
			   "accepted \"%s\"", bad[i]);
	/* An embedded NUL inside the explicit length is not a digit. */
	ASSERT_CODE(dbsync__hex_decode("ab\0d", 4, out, sizeof(out)),
		    DBSYNC_INVALID);
	/* A bad digit late in the input leaves out untouched. */
	ASSERT_CODE(dbsync__hex_decode("abcdez", 6, out, sizeof(out)),
		    DBSYNC_INVALID);
	ASSERT(memcmp(out, "\1\2\3\4", 4) == 0);
}

TEST(hex_cap_too_small)
{
	unsigned char out[4] = {1, 2, 3, 4};

	ASSERT_CODE(dbsync__hex_decode("00112233", 8, out, 3), DBSYNC_INVALID);
	ASSERT_CODE(dbsync__hex_decode("00", 2, out, 0), DBSYNC_INVALID);
	ASSERT(memcmp(out, "\1\2\3\4", 4) == 0);
	/* Exactly enough room, and more than enough. */
	ASSERT_OK(dbsync__hex_decode("00112233", 8, out, 4));
	ASSERT(memcmp(out, "\x00\x11\x22\x33", 4) == 0);
	ASSERT_OK(dbsync__hex_decode("44", 2, out, 4));
	ASSERT(memcmp(out, "\x44\x11\x22\x33", 4) == 0);
}

TEST(hex_decode_reads_only_len)
{
	unsigned char out[2];

	/* "abcdZZ" is not hex, but only the first 4 characters are asked for. */
	ASSERT_OK(dbsync__hex_decode("abcdZZ", 4, out, sizeof(out)));
	ASSERT(memcmp(out, "\xab\xcd", 2) == 0);
}

/* ---- base64 ------------------------------------------------------------- */

static const struct {
	const char *plain, *encoded;
} rfc4648[] = {
	{"", ""},	  {"f", "Zg=="},	{"fo", "Zm8="},
	{"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy"},
};

TEST(base64_rfc4648_encode)
{
	size_t i;

	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		char *s = dbsync__base64_encode(rfc4648[i].plain,
						strlen(rfc4648[i].plain));

		ASSERT_NOT_NULL(s);
		ASSERT_EQ_STR(th_strdup(s), rfc4648[i].encoded);
		free(s);
	}
}

TEST(base64_rfc4648_decode)
{
	size_t i, n;

	for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		unsigned char *p = b64_ok(rfc4648[i].encoded, &n);

		ASSERT_EQ_INT(n, strlen(rfc4648[i].plain));
		ASSERT(memcmp(p, rfc4648[i].plain, n) == 0);
	}
}

TEST(base64_empty_gives_buffer)
{
	unsigned char *out = NULL;
	size_t n = 99;

	ASSERT_OK(dbsync__base64_decode("", 0, &out, &n));
	ASSERT_NOT_NULL(out);
	ASSERT_EQ_INT(n, 0);
	free(out);
	ASSERT_OK(dbsync__base64_decode(NULL, 0, &out, &n));
	ASSERT_NOT_NULL(out);
	free(out);

	{
		char *s = dbsync__base64_encode(NULL, 0);

		ASSERT_NOT_NULL(s);
		ASSERT_EQ_STR(th_strdup(s), "");
		free(s);
	}
}

TEST(base64_all_digits)
{
	/* Every alphabet character once, in order: 0..63 as 6-bit groups. */
	const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			  "0123456789+/";
	unsigned char *p;
	char *s;
	size_t n, i;

	p = b64_ok(all, &n);
	ASSERT_EQ_INT(n, 48);
	for (i = 0; i < 64; i++) {
		size_t bit = i * 6;
		unsigned v = (unsigned)(p[bit / 8] << 8 |
					(bit / 8 + 1 < n ? p[bit / 8 + 1] : 0));

		ASSERT_EQ_INT((v >> (10 - bit % 8)) & 0x3f, i);
	}
	s = dbsync__base64_encode(p, n);
	ASSERT_NOT_NULL(s);
	ASSERT_EQ_STR(th_strdup(s), all);
	free(s);
}

TEST(base64_round_trip_random)
{
	uint64_t seed = th_seed();
	th_rng rng;
	unsigned char in[300];
	size_t len, i, n;

	th_rng_init(&rng, seed);
	for (len = 0; len <= sizeof(in); len++) {
		char *s;
		unsigned char *out;

		for (i = 0; i < len; i++)
			in[i] = (unsigned char)th_rng_next(&rng);
		s = dbsync__base64_encode(in, len);
		ASSERT_NOT_NULL(s);
		ASSERT_EQ_INT(strlen(s), (len + 2) / 3 * 4);
		ASSERT_OK(dbsync__base64_decode(s, strlen(s), &out, &n));
		free(s);
		ASSERT_EQ_INT(n, len);
		ASSERT_MSG(memcmp(in, out, len) == 0, "length %zu differs",
			   len);
		free(out);
	}
}

TEST(base64_bad_length)
{
	b64_bad("Z", 1);
	b64_bad("Zg", 2);
	b64_bad("Zg=", 3);
	b64_bad("Zm9vY", 5);
	b64_bad("Zm9vYg=", 7);
	b64_bad("Zm9vYmFy=", 9);
}

TEST(base64_bad_characters)
{
	b64_bad("Zm9!", 4);
	b64_bad("Zm-_", 4); /* the URL-safe alphabet is not ours */
	b64_bad("Zm9v.A==", 8);
	b64_bad("\xc3\xa9Zm", 4);
	b64_bad("Zm\x7fv", 4);
}

TEST(base64_misplaced_padding)
{
	b64_bad("=Zm9", 4);
	b64_bad("Z=m9", 4);
	b64_bad("Zg=v", 4);
	b64_bad("Zg==Zm9v", 8); /* padding in a group that is not the last */
	b64_bad("Zm8=Zm9v", 8);
	b64_bad("Zm9vZ=8=", 8);
}

TEST(base64_three_or_four_pads)
{
	b64_bad("Z===", 4);
	b64_bad("====", 4);
	b64_bad("Zm9vZ===", 8);
}

TEST(base64_whitespace)
{
	b64_bad("Zm 9", 4);
	b64_bad(" Zm9", 4);
	b64_bad("Zm9\n", 4);
	b64_bad("Zm9v\r\nZg==", 10);
	b64_bad("Zm9v\nZg==", 9);
	b64_bad("Zm9v\tZm9v   ", 12);
}

TEST(base64_embedded_nul)
{
	b64_bad("Zm\0v", 4);
	b64_bad("Zm9v\0\0\0\0", 8);
	b64_bad("Zg=\0", 4);
}

TEST(base64_noncanonical_pad_bits)
{
	/* "f" is "Zg=="; "Zh==" carries a stray low bit in the pad area. */
	b64_bad("Zh==", 4);
	b64_bad("Zv==", 4);
	/* "fo" is "Zm8="; "Zm9=" sets one of the two spare bits. */
	b64_bad("Zm9=", 4);
	b64_bad("Zm/=", 4);
}

/* ---- request signature -------------------------------------------------- */

/*
 * Known answers computed with the openssl command line tool, not with this
 * library:
 *
 * printf 'POST\n/v1/push\n1700000000\nabcd\n%s' \
 *   "$(printf '{}' | sha256sum | cut -d' ' -f1)" \
 *   | openssl dgst -sha256 -hmac 'secret'
 */
TEST(sign_known_answer)
{
	char sig[65];

	ASSERT_OK(dbsync__crypto_sign("secret", 6, "POST", "/v1/push",
				      "1700000000", "abcd", "{}", 2, sig));
	ASSERT_EQ_STR(sig, "48c27dc62cd46761e3835097cea5a94f"
			   "d74df31b97d10185b6cc7328d5d43967");
}

/*
 * A binary secret holding a NUL and a body holding NUL and 0xff, both taken
 * by length:
 *
 * printf 'POST\n/v1/pull\n1764193200\n0123456789abcdef0123456789abcdef\n%s' \
 *   "$(printf 'a\000b\377' | sha256sum | cut -d' ' -f1)" \
 *   | openssl dgst -sha256 -mac HMAC -macopt hexkey:00ff7f0080
 */
TEST(sign_known_answer_binary)
{
	char sig[65];

	ASSERT_OK(dbsync__crypto_sign("\x00\xff\x7f\x00\x80", 5, "POST",
				      "/v1/pull", "1764193200",
				      "0123456789abcdef0123456789abcdef",
				      "a\0b\377", 4, sig));
	ASSERT_EQ_STR(sig, "e68b96f187aaac36818e9112eb4fc7d9"
			   "17f57cadc35fc6e35942ad7fa26b919c");
}

/*
 * An empty body (NULL with length 0 too):
 *
 * printf 'GET\n/v1/status\n0\nff\n%s' \
 *   "$(printf '' | sha256sum | cut -d' ' -f1)" \
 *   | openssl dgst -sha256 -hmac 'k'
 */
TEST(sign_known_answer_empty_body)
{
	const char *want = "5be13abc00f47239cbeb5cd65010b94b"
			   "dbe75b8bb20f900f893f4668acf2bb0b";
	char sig[65];

	ASSERT_OK(dbsync__crypto_sign("k", 1, "GET", "/v1/status", "0", "ff",
				      "", 0, sig));
	ASSERT_EQ_STR(sig, want);
	ASSERT_OK(dbsync__crypto_sign("k", 1, "GET", "/v1/status", "0", "ff",
				      NULL, 0, sig));
	ASSERT_EQ_STR(sig, want);
}

/* The signature is the module's own HMAC over the documented string. */
TEST(sign_matches_hmac_of_string)
{
	const char *body = "{\"protocol\": 1}";
	char sig[65];
	char *str;

	str = th_fmt("POST\n/v1/push\n1764193200\nnonce\n%s",
		     sha256_hex(body, strlen(body)));
	ASSERT_OK(dbsync__crypto_sign("s3", 2, "POST", "/v1/push",
				      "1764193200", "nonce", body,
				      strlen(body), sig));
	ASSERT_EQ_STR(sig, hmac_hex("s3", 2, str, strlen(str)));
}

static const char base_body[] = "{\"protocol\": 1, \"operations\": []}";
static const char base_secret[] = "0123456789abcdef0123456789abcdef";

static char *sign_of(const char *secret, size_t secret_len, const char *method,
		     const char *path, const char *ts, const char *nonce,
		     const void *body, size_t body_len)
{
	char *sig = th_alloc(65);

	ASSERT_OK(dbsync__crypto_sign(secret, secret_len, method, path, ts,
				      nonce, body, body_len, sig));
	ASSERT_EQ_INT(strlen(sig), 64);
	ASSERT_EQ_INT(strspn(sig, "0123456789abcdef"), 64);
	return sig;
}

static char *base_sign(void)
{
	return sign_of(base_secret, strlen(base_secret), "POST", "/v1/push",
		       "1764193200", "00112233445566778899aabbccddeeff",
		       base_body, strlen(base_body));
}

TEST(sign_every_input_matters)
{
	size_t slen = strlen(base_secret), blen = strlen(base_body);
	const char *nonce = "00112233445566778899aabbccddeeff";
	const char *base = base_sign();
	char *body = th_strdup(base_body);
	char *secret = th_strdup(base_secret);
	size_t i;

	/* Same inputs, same signature. */
	ASSERT_EQ_STR(base_sign(), base);

	ASSERT_NE_STR(sign_of(base_secret, slen, "PUT", "/v1/push",
			      "1764193200", nonce, base_body, blen), base);
	ASSERT_NE_STR(sign_of(base_secret, slen, "post", "/v1/push",
			      "1764193200", nonce, base_body, blen), base);
	ASSERT_NE_STR(sign_of(base_secret, slen, "POST", "/v1/pull",
			      "1764193200", nonce, base_body, blen), base);
	ASSERT_NE_STR(sign_of(base_secret, slen, "POST", "/v1/push/",
			      "1764193200", nonce, base_body, blen), base);
	ASSERT_NE_STR(sign_of(base_secret, slen, "POST", "/v1/push",
			      "1764193201", nonce, base_body, blen), base);
	ASSERT_NE_STR(sign_of(base_secret, slen, "POST", "/v1/push",
			      "1764193200", "00112233445566778899aabbccddeefe",
			      base_body, blen), base);
	/* Shifting characters from one field to the next changes it too. */
	ASSERT_NE_STR(sign_of(base_secret, slen, "POST/", "v1/push",
			      "1764193200", nonce, base_body, blen), base);

	for (i = 0; i < blen; i++) {
		body[i] ^= 1;
		ASSERT_MSG(strcmp(sign_of(base_secret, slen, "POST", "/v1/push",
					  "1764193200", nonce, body, blen),
				  base) != 0,
			   "body byte %zu does not matter", i);
		body[i] ^= 1;
	}
	ASSERT_NE_STR(sign_of(base_secret, slen, "POST", "/v1/push",
			      "1764193200", nonce, base_body, blen - 1), base);

	for (i = 0; i < slen; i++) {
		secret[i] ^= 0x20;
		ASSERT_MSG(strcmp(sign_of(secret, slen, "POST", "/v1/push",
					  "1764193200", nonce, base_body, blen),
				  base) != 0,
			   "secret byte %zu does not matter", i);
		secret[i] ^= 0x20;
	}
	ASSERT_NE_STR(sign_of(base_secret, slen - 1, "POST", "/v1/push",
			      "1764193200", nonce, base_body, blen), base);
}

TEST(sign_rejects_newline_in_field)
{
	char sig[65] = "untouched";

	ASSERT_CODE(dbsync__crypto_sign("k", 1, "POST\n/v1", "push", "1", "n",
					"", 0, sig),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync__crypto_sign("k", 1, "POST", "/v1\npush", "1", "n",
					"", 0, sig),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync__crypto_sign("k", 1, "POST", "/v1/push", "1\n", "n",
					"", 0, sig),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync__crypto_sign("k", 1, "POST", "/v1/push", "1",
					"\nn", "", 0, sig),
		    DBSYNC_INVALID);
	ASSERT_EQ_STR(sig, "untouched");
	/* A newline in the body is just data. */
	ASSERT_OK(dbsync__crypto_sign("k", 1, "POST", "/v1/push", "1", "n",
				      "{\n}", 3, sig));
}

TEST(sign_rejects_null)
{
	char sig[65] = "untouched";

	ASSERT_CODE(dbsync__crypto_sign("k", 1, NULL, "/", "1", "n", "", 0,
					sig),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync__crypto_sign("k", 1, "POST", NULL, "1", "n", "", 0,
					sig),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync__crypto_sign("k", 1, "POST", "/", NULL, "n", "", 0,
					sig),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync__crypto_sign("k", 1, "POST", "/", "1", NULL, "", 0,
					sig),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync__crypto_sign(NULL, 1, "POST", "/", "1", "n", "", 0,
					sig),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync__crypto_sign("k", 1, "POST", "/", "1", "n", NULL, 1,
					sig),
		    DBSYNC_INVALID);
	ASSERT_EQ_STR(sig, "untouched");
	/* An empty secret is still a key (and NULL with length 0 is it). */
	ASSERT_OK(dbsync__crypto_sign(NULL, 0, "POST", "/", "1", "n", "", 0,
				      sig));
	ASSERT_EQ_STR(sign_of("", 0, "POST", "/", "1", "n", "", 0), sig);
}

static const th_case cases[] = {
	CASE(sha256_abc),
	CASE(sha256_empty),
	CASE(sha256_two_blocks),
	CASE(sha256_million_a),
	CASE(sha256_embedded_nul),
	CASE(hmac_rfc4231_case1),
	CASE(hmac_rfc4231_case2),
	CASE(hmac_rfc4231_case3),
	CASE(hmac_rfc4231_case4),
	CASE(hmac_rfc4231_case6),
	CASE(hmac_rfc4231_case7),
	CASE(hmac_empty_key_and_data),
	CASE(equal_same_bytes),
	CASE(equal_different_bytes),
	CASE(equal_first_and_last_byte),
	CASE(equal_every_single_bit),
	CASE(equal_zero_length),
	CASE(random_two_calls_differ),
	CASE(random_no_duplicates_balanced_bits),
	CASE(random_zero_length),
	CASE(random_large),
	CASE(hex_round_trip),
	CASE(hex_empty),
	CASE(hex_upper_case_accepted),
	CASE(hex_odd_length),
	CASE(hex_bad_character),
	CASE(hex_cap_too_small),
	CASE(hex_decode_reads_only_len),
	CASE(base64_rfc4648_encode),
	CASE(base64_rfc4648_decode),
	CASE(base64_empty_gives_buffer),
	CASE(base64_all_digits),
	CASE(base64_round_trip_random),
	CASE(base64_bad_length),
	CASE(base64_bad_characters),
	CASE(base64_misplaced_padding),
	CASE(base64_three_or_four_pads),
	CASE(base64_whitespace),
	CASE(base64_embedded_nul),
	CASE(base64_noncanonical_pad_bits),
	CASE(sign_known_answer),
	CASE(sign_known_answer_binary),
	CASE(sign_known_answer_empty_body),
	CASE(sign_matches_hmac_of_string),
	CASE(sign_every_input_matters),
	CASE(sign_rejects_newline_in_field),
	CASE(sign_rejects_null),
};
TH_MAIN(cases)
