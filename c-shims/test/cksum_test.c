/*
 * Checks the shim's ones' complement sum (c-shims/luna_cksum.h) against a
 * plain 16-bit loop: every length 0..2048 at every start offset 0..63, over
 * random bytes and over the extremes (all zeros, all 0xff), each path the
 * CPU has (scalar always, AVX2 where present, and the dispatching cksum16);
 * long buffers (64 KiB, 4 MiB of 0xff: no lane overflows); and chains: a
 * buffer cut into random pieces summed piece by piece and combined as the
 * shim combines an mbuf chain's links (luna_cksum_combine); and hot sums:
 * payload copied into a buffer with its block sums taken on the way
 * (luna_copy_sum), then every range of the buffer summed from them
 * (luna_hot_sum), against the 16-bit loop over the same bytes.
 *
 *   gcc -O2 -Wall -Wextra -Werror $(pkg-config --cflags libdpdk) c-shims/test/cksum_test.c -o cksum_test && ./cksum_test
 *
 * Prints what it checked and "ok", and exits 0; on a mismatch it prints
 * the case (path, length, offset, seed) and exits 1.
 */
#include "../luna_cksum.h"

#include <stdio.h>
#include <stdlib.h>

/* RFC 1071's loop, one 16-bit word at a time, folded as it goes. */
static uint16_t ref_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	size_t i = 0;
	for (; i + 1 < len; i += 2) {
		uint16_t w;
		memcpy(&w, p + i, 2);
		s += w;
		s = (s & 0xffff) + (s >> 16);
	}
	if (i < len) {
		uint16_t w = 0;
		memcpy(&w, p + i, 1);
		s += w;
		s = (s & 0xffff) + (s >> 16);
	}
	return (uint16_t)s;
}

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: reproducible from the seed printed on failure */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t seed;
static unsigned long checks;

static int expect(const char *path, uint16_t got, uint16_t want, size_t len, size_t off)
{
	checks++;
	if (got == want)
		return 0;
	printf("MISMATCH %s len %zu offset %zu: got 0x%04x want 0x%04x (seed %llu)\n", path, len, off, got,
	       want, (unsigned long long)seed);
	return 1;
}

/* Every path over buf[off..off+len). */
static int check_all(const uint8_t *buf, size_t len, size_t off)
{
	const uint8_t *p = buf + off;
	uint16_t want = ref_sum(p, len);
	int bad = expect("scalar", luna_cksum_fold(luna_cksum_scalar(p, len)), want, len, off);
	bad |= expect("cksum16", cksum16(p, len), want, len, off);
#ifdef LUNA_CKSUM_X86
	if (luna_cksum_have_avx2)
		bad |= expect("avx2", luna_cksum_fold(luna_cksum_avx2(p, len)), want, len, off);
#endif
	return bad;
}

/* The buffer cut at random points into up to 6 pieces, each summed alone
 * and combined at its offset within the whole. */
static int check_chain(const uint8_t *p, size_t len)
{
	size_t cuts[7];
	int n = 1 + (int)(rng() % 6);
	cuts[0] = 0;
	for (int i = 1; i < n; i++)
		cuts[i] = len == 0 ? 0 : (size_t)(rng() % (len + 1));
	cuts[n] = len;
	/* sorted: a handful, insertion sort */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && cuts[j] < cuts[j - 1]; j--) {
			size_t t = cuts[j];
			cuts[j] = cuts[j - 1];
			cuts[j - 1] = t;
		}
	uint64_t sum = 0;
	for (int i = 0; i < n; i++)
		sum = luna_cksum_combine(sum, cksum16(p + cuts[i], cuts[i + 1] - cuts[i]), cuts[i]);
	return expect("chain", luna_cksum_fold(sum), ref_sum(p, len), len, (size_t)n);
}

/* A buffer of a pool's shape (2176 bytes of data room) with random bytes
 * copied to [lo, hi) by luna_copy_sum, up to cut1, and luna_copy_sum_more
 * after (0: cut at random, once or twice), over random bytes already there: the copy must be exact,
 * and luna_hot_sum over [s, e) must equal the loop for every s, e (full:
 * each pair from a block before the copy to a block after it; else `pairs`
 * random ones anywhere). */
enum { HOT_ROOM = 2176 };
static int check_hot(uint32_t lo, uint32_t hi, uint32_t cut1, int full, int pairs)
{
	static uint8_t buf[HOT_ROOM], src[HOT_ROOM];
	static uint16_t sums[(HOT_ROOM + LUNA_HOT_BLOCK - 1) / LUNA_HOT_BLOCK];
	for (size_t i = 0; i < HOT_ROOM; i++) {
		buf[i] = (uint8_t)rng();
		src[i] = (uint8_t)rng();
	}
	for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++)
		sums[i] = (uint16_t)rng(); /* slots the copy does not fill must not be read */
	/* Copied in up to three steps: a copy, then more after it (a write that tops up). */
	uint32_t cut2 = hi;
	if (cut1 == 0) { /* random: one copy, or a copy and two more */
		cut1 = lo + (uint32_t)(rng() % (hi - lo + 1));
		cut2 = cut1 + (uint32_t)(rng() % (hi - cut1 + 1));
		if (rng() % 4 == 0)
			cut1 = cut2 = hi;
	}
	luna_copy_sum(buf, lo, src, cut1 - lo, sums);
	luna_copy_sum_more(buf, lo, cut1, src + (cut1 - lo), cut2 - cut1, sums);
	luna_copy_sum_more(buf, lo, cut2, src + (cut2 - lo), hi - cut2, sums);
	checks++;
	if (memcmp(buf + lo, src, hi - lo) != 0) {
		printf("MISMATCH copy lo %u hi %u: bytes differ (seed %llu)\n", lo, hi, (unsigned long long)seed);
		return 1;
	}
	int bad = 0;
	if (full) {
		/* Every range that starts and ends within a block of the copy. */
		uint32_t from = lo > LUNA_HOT_BLOCK ? lo - LUNA_HOT_BLOCK : 0;
		uint32_t to = hi + LUNA_HOT_BLOCK < HOT_ROOM ? hi + LUNA_HOT_BLOCK : HOT_ROOM;
		for (uint32_t s = from; s <= to && !bad; s++) {
			/* the loop's sum from s on, one byte further each step */
			uint32_t acc = 0;
			for (uint32_t e = s; e <= to && !bad; e++) {
				if (e > s) {
					uint16_t w = 0;
					memcpy((uint8_t *)&w + ((e - 1 - s) & 1), buf + e - 1, 1);
					acc += w;
					acc = (acc & 0xffff) + (acc >> 16);
				}
				uint16_t got = luna_hot_sum(buf, lo, hi, sums, s, e);
				bad |= expect("hot", got, (uint16_t)acc, e - s, s);
			}
		}
		return bad;
	}
	for (int i = 0; i < pairs && !bad; i++) {
		uint32_t s = (uint32_t)(rng() % (HOT_ROOM + 1));
		uint32_t e = s + (uint32_t)(rng() % (HOT_ROOM - s + 1));
		bad |= expect("hot", luna_hot_sum(buf, lo, hi, sums, s, e), ref_sum(buf + s, e - s), e - s, s);
	}
	return bad;
}

/* Hot sums with each copy path (AVX2 where the CPU has it, then scalar):
 * the shim's case (payload after 128 bytes of headroom, an MSS or a part of
 * one) over every range, then copies at random offsets and parities. */
static int check_hot_all(void)
{
	int bad = 0;
#ifdef LUNA_CKSUM_X86
	const int avx2 = luna_cksum_have_avx2;
	for (int path = 0; path < 2 && !bad; path++) {
		luna_cksum_have_avx2 = path == 0 ? avx2 : 0;
#endif
		bad |= check_hot(128, 128 + 1448, 128 + 1448, 1, 0);
		bad |= check_hot(128, 128 + 1448, 128 + 376, 1, 0); /* a write's tail, topped up */
		bad |= check_hot(128, 128 + 1448, 128 + 1, 1, 0);
		bad |= check_hot(129, 129 + 1447, 129 + 255, 1, 0);
		bad |= check_hot(128, 128 + 1000, 128 + 1000, 0, 20000);
		for (int round = 0; round < 1000 && !bad; round++) {
			uint32_t lo = (uint32_t)(rng() % (HOT_ROOM + 1));
			uint32_t hi = lo + (uint32_t)(rng() % (HOT_ROOM - lo + 1));
			bad |= check_hot(lo, hi, 0, 0, 100);
		}
#ifdef LUNA_CKSUM_X86
	}
	luna_cksum_have_avx2 = avx2;
#endif
	return bad;
}

int main(int argc, char **argv)
{
	seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 0x6c756e61ULL;
	rng_state = seed | 1;
	enum { MAXLEN = 2048, MAXOFF = 64 };
	static uint8_t buf[MAXLEN + MAXOFF];
	int bad = 0;
	for (int fill = 0; fill < 3 && !bad; fill++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = fill == 0 ? (uint8_t)rng() : fill == 1 ? 0xff : 0;
		for (size_t len = 0; len <= MAXLEN && !bad; len++)
			for (size_t off = 0; off < MAXOFF && !bad; off++)
				bad |= check_all(buf, len, off);
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rng();
	for (int round = 0; round < 20000 && !bad; round++) {
		size_t len = (size_t)(rng() % (MAXLEN + 1));
		size_t off = (size_t)(rng() % MAXOFF);
		bad |= check_chain(buf + off, len);
	}
	if (!bad)
		bad |= check_hot_all();
	/* Long buffers: 64 KiB of random bytes; 4 MiB of 0xff, the largest lane sums. */
	size_t big = (size_t)4 << 20;
	uint8_t *b = malloc(big + 1);
	if (b == NULL) {
		printf("no memory\n");
		return 1;
	}
	for (size_t i = 0; i < 65536 + 1; i++)
		b[i] = (uint8_t)rng();
	for (size_t len = 65533; len <= 65536 && !bad; len++)
		bad |= check_all(b, len, 1) | check_all(b, len, 0);
	memset(b, 0xff, big + 1);
	bad |= check_all(b, big, 1);
	free(b);
	if (bad)
		return 1;
	printf("avx2 %s; %lu sums equal the 16-bit loop's (seed %llu)\nok\n",
#ifdef LUNA_CKSUM_X86
	       luna_cksum_have_avx2 ? "checked" : "absent (scalar only)",
#else
	       "absent (not x86-64)",
#endif
	       checks, (unsigned long long)seed);
	return 0;
}
