/*
 * luna_cksum: the Internet checksum's ones' complement sum (RFC 1071) over a
 * buffer, as the shim computes it for a link without checksum offload.
 * No DPDK here: c-shims/test/cksum_test.c compiles this header alone and
 * checks every path against a plain 16-bit loop.
 *
 * The sum is of 16-bit words in host order, an odd last byte taking the
 * first byte of a word (what DPDK's __rte_raw_cksum gives), folded to 16
 * bits and 0 only for a sum of zeros. It rests on 2^16 = 1 modulo 0xffff:
 * any wider word is the sum of its 16-bit words modulo 0xffff, so the loops
 * add 32-bit words into 64-bit lanes, which cannot overflow below 2^32 of
 * them, and fold once at the end.
 *
 * Two paths, picked once per process: AVX2 (32 bytes an instruction, four
 * vectors a step) where the CPU has it, else a scalar loop 16 bytes a step.
 * Buffers of any length, alignment and parity.
 */
#ifndef LUNA_CKSUM_H
#define LUNA_CKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LUNA_CKSUM_X86 1
#endif

/* Folds a 64-bit partial sum to 16 bits, end-around carries kept. */
__attribute__((always_inline)) static inline uint16_t luna_cksum_fold(uint64_t s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The unfolded sum of buf[0..len), 16 bytes a step. */
static inline uint64_t luna_cksum_scalar(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t s0 = 0, s1 = 0;
	for (; len >= 16; p += 16, len -= 16) {
		uint64_t a, b;
		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		s0 += (a & 0xffffffff) + (a >> 32);
		s1 += (b & 0xffffffff) + (b >> 32);
	}
	uint64_t s = s0 + s1;
	if (len >= 8) {
		uint64_t a;
		memcpy(&a, p, 8);
		s += (a & 0xffffffff) + (a >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t a;
		memcpy(&a, p, 4);
		s += a;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t w;
		memcpy(&w, p, 2);
		s += w;
		p += 2;
		len -= 2;
	}
	if (len == 1) {
		uint16_t left = 0;
		memcpy(&left, p, 1); /* the first byte of a word, in memory order */
		s += left;
	}
	return s;
}

#ifdef LUNA_CKSUM_X86
/* AVX2, tuned as for the first CPUs that have it: tuned for the shim's
 * -march=corei7 (DPDK's flags), GCC splits each unaligned 32-byte load in
 * two. (Clang is asked for AVX2 alone.) */
#ifdef __clang__
#define LUNA_CKSUM_AVX2_TARGET __attribute__((target("avx2")))
#else
#define LUNA_CKSUM_AVX2_TARGET __attribute__((target("avx2,tune=haswell")))
#endif

/* Adds each 32-bit lane of v into the 64-bit lanes of *acc (two ops:
 * the even lanes masked, the odd ones shifted down). */
LUNA_CKSUM_AVX2_TARGET static inline void luna_cksum_avx2_add(__m256i *acc, __m256i v)
{
	const __m256i lo = _mm256_set1_epi64x(0xffffffff);
	*acc = _mm256_add_epi64(*acc, _mm256_add_epi64(_mm256_and_si256(v, lo), _mm256_srli_epi64(v, 32)));
}

/* The unfolded sum of buf[0..len) with AVX2: unaligned loads, four
 * independent accumulators over 128 bytes a step, then 32 a step, then
 * what is left (under 32 bytes, starting at an even offset) by the scalar
 * loop. */
LUNA_CKSUM_AVX2_TARGET static uint64_t luna_cksum_avx2(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
	for (; len >= 128; p += 128, len -= 128) {
		luna_cksum_avx2_add(&a0, _mm256_loadu_si256((const __m256i *)p));
		luna_cksum_avx2_add(&a1, _mm256_loadu_si256((const __m256i *)(p + 32)));
		luna_cksum_avx2_add(&a2, _mm256_loadu_si256((const __m256i *)(p + 64)));
		luna_cksum_avx2_add(&a3, _mm256_loadu_si256((const __m256i *)(p + 96)));
	}
	for (; len >= 32; p += 32, len -= 32)
		luna_cksum_avx2_add(&a0, _mm256_loadu_si256((const __m256i *)p));
	/* Each lane is below 2^32 times the words added into it: four lanes of
	 * four accumulators add up without overflow for any buffer in memory. */
	__m256i a = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
	__m128i h = _mm_add_epi64(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
	uint64_t s = (uint64_t)_mm_cvtsi128_si64(h) + (uint64_t)_mm_extract_epi64(h, 1);
	/* The upper halves cleared for the SSE code around (GCC adds no vzeroupper
	 * to a function whose AVX2 comes from its target attribute alone): left
	 * dirty, each SSE instruction after merges them, or the CPU saves and
	 * restores them at each switch. */
	_mm256_zeroupper();
	return s + luna_cksum_scalar(p, len);
}

/* 1 where the CPU runs AVX2: set once, when the library loads. */
static int luna_cksum_have_avx2;

__attribute__((constructor)) static void luna_cksum_init(void)
{
	__builtin_cpu_init();
	luna_cksum_have_avx2 = __builtin_cpu_supports("avx2") != 0;
}

/* Below this length the vector path's set-up costs more than it saves
 * (headers: 20 to 60 bytes). */
#define LUNA_CKSUM_AVX2_MIN 64
#endif

/* The ones' complement sum of buf[0..len) folded to 16 bits. */
static inline uint16_t cksum16(const void *buf, size_t len)
{
#ifdef LUNA_CKSUM_X86
	if (len >= LUNA_CKSUM_AVX2_MIN && luna_cksum_have_avx2)
		return luna_cksum_fold(luna_cksum_avx2(buf, len));
#endif
	return luna_cksum_fold(luna_cksum_scalar(buf, len));
}

/* Adds the folded sum of a piece that starts `at` bytes into a longer
 * summed whole (a link of a chain): a piece at an odd offset holds its
 * bytes in the other halves of the whole's words, so its sum goes in
 * byte-swapped (RFC 1071 2(B)). */
static inline uint64_t luna_cksum_combine(uint64_t sum, uint16_t piece, size_t at)
{
	if (at & 1)
		piece = (uint16_t)((piece << 8) | (piece >> 8));
	return sum + piece;
}

/*
 * Hot sums: the sum of a buffer's payload taken while the payload is copied
 * in, when its bytes are in the near caches, for a transmit path that sums
 * them again later (after a segmentation cut) when they have left them.
 *
 * A buffer is cut into blocks of LUNA_HOT_BLOCK bytes from its offset 0.
 * luna_copy_sum() copies bytes to [at, at + len) of the buffer and keeps,
 * for each block that starts in that range, the folded sum of its bytes in
 * it (the last block may end early, at at + len; the bytes before the first
 * block start are copied only); luna_copy_sum_more() copies more bytes
 * after them and sums them in. luna_hot_sum() sums any range of the buffer
 * from those: the blocks wholly inside the range are added from their sums,
 * only the partial blocks at its two ends are read. Blocks start at even
 * offsets, so all of them sit in the same halves of the range's words: their
 * sums add up as they are, and go in byte-swapped where the range starts at
 * an odd offset (RFC 1071 2(B)).
 */
#define LUNA_HOT_BLOCK 128

#ifdef LUNA_CKSUM_X86
/* Copies `blocks` whole blocks from src to dst, the folded sum of each in
 * sums[0..blocks): one pass, each 32-byte vector loaded once, stored and
 * added. */
LUNA_CKSUM_AVX2_TARGET static void luna_copy_sum_avx2(uint8_t *dst, const uint8_t *src, uint32_t blocks,
						      uint16_t *sums)
{
	for (uint32_t b = 0; b < blocks; b++, dst += LUNA_HOT_BLOCK, src += LUNA_HOT_BLOCK) {
		__m256i v0 = _mm256_loadu_si256((const __m256i *)src);
		__m256i v1 = _mm256_loadu_si256((const __m256i *)(src + 32));
		__m256i v2 = _mm256_loadu_si256((const __m256i *)(src + 64));
		__m256i v3 = _mm256_loadu_si256((const __m256i *)(src + 96));
		_mm256_storeu_si256((__m256i *)dst, v0);
		_mm256_storeu_si256((__m256i *)(dst + 32), v1);
		_mm256_storeu_si256((__m256i *)(dst + 64), v2);
		_mm256_storeu_si256((__m256i *)(dst + 96), v3);
		__m256i a = _mm256_setzero_si256(), c = a;
		luna_cksum_avx2_add(&a, v0);
		luna_cksum_avx2_add(&c, v1);
		luna_cksum_avx2_add(&a, v2);
		luna_cksum_avx2_add(&c, v3);
		a = _mm256_add_epi64(a, c);
		__m128i h = _mm_add_epi64(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
		sums[b] = luna_cksum_fold((uint64_t)_mm_cvtsi128_si64(h) + (uint64_t)_mm_extract_epi64(h, 1));
	}
	_mm256_zeroupper(); /* as in luna_cksum_avx2 */
}
#endif

/* Copies src[0..len) to buf[at..at + len) and fills sums[b] for each block
 * b that starts in that range (see above). sums has a slot for every block
 * of the buffer. */
static inline void luna_copy_sum(uint8_t *buf, uint32_t at, const uint8_t *src, uint32_t len, uint16_t *sums)
{
	const uint32_t end = at + len;
	uint32_t b = (at + LUNA_HOT_BLOCK - 1) / LUNA_HOT_BLOCK;
	uint32_t pos = b * LUNA_HOT_BLOCK;
	if (pos >= end) {
		memcpy(buf + at, src, len);
		return;
	}
	memcpy(buf + at, src, pos - at);
	src += pos - at;
#ifdef LUNA_CKSUM_X86
	if (luna_cksum_have_avx2) {
		uint32_t whole = (end - pos) / LUNA_HOT_BLOCK;
		luna_copy_sum_avx2(buf + pos, src, whole, sums + b);
		b += whole;
		pos += whole * LUNA_HOT_BLOCK;
		src += whole * LUNA_HOT_BLOCK;
	}
#endif
	/* Summed from the source: loads of bytes just stored by memcpy (rep movs)
	 * wait for the stores. */
	for (; pos < end; b++) {
		uint32_t n = end - pos < LUNA_HOT_BLOCK ? end - pos : LUNA_HOT_BLOCK;
		memcpy(buf + pos, src, n);
		sums[b] = cksum16(src, n);
		pos += n;
		src += n;
	}
}

/* luna_copy_sum() continued: copies src[0..len) to buf[hi..hi + len), right
 * after the bytes [lo, hi) whose sums it keeps in sums, and sums them in
 * (the last block, where it ends early, filled up first): sums then hold
 * for [lo, hi + len). */
static inline void luna_copy_sum_more(uint8_t *buf, uint32_t lo, uint32_t hi, const uint8_t *src, uint32_t len,
				      uint16_t *sums)
{
	const uint32_t first = (lo + LUNA_HOT_BLOCK - 1) / LUNA_HOT_BLOCK * LUNA_HOT_BLOCK;
	if (hi < first) {
		/* Still before the first block: copied only, up to it. */
		uint32_t n = first - hi < len ? first - hi : len;
		memcpy(buf + hi, src, n);
		src += n;
		len -= n;
		hi += n;
	} else if (hi % LUNA_HOT_BLOCK != 0 && len > 0) {
		uint32_t b = hi / LUNA_HOT_BLOCK;
		uint32_t n = LUNA_HOT_BLOCK - hi % LUNA_HOT_BLOCK;
		if (n > len)
			n = len;
		memcpy(buf + hi, src, n);
		sums[b] = luna_cksum_fold(luna_cksum_combine(sums[b], cksum16(src, n), hi % LUNA_HOT_BLOCK));
		src += n;
		len -= n;
		hi += n;
	}
	if (len > 0)
		luna_copy_sum(buf, hi, src, len, sums);
}

/* The folded sum of buf[s..e), where luna_copy_sum() filled sums for
 * buf[lo..hi) and those bytes have not changed since: the blocks inside
 * both ranges from their sums, the rest of [s, e) read here. */
static inline uint16_t luna_hot_sum(const uint8_t *buf, uint32_t lo, uint32_t hi, const uint16_t *sums,
				    uint32_t s, uint32_t e)
{
	const uint32_t a = s > lo ? s : lo;
	uint32_t b = (a + LUNA_HOT_BLOCK - 1) / LUNA_HOT_BLOCK;
	const uint32_t first = b * LUNA_HOT_BLOCK;
	if (first >= e || first >= hi)
		return cksum16(buf + s, e - s);
	uint64_t blocks = 0;
	uint32_t pos = first;
	while (pos < hi) {
		uint32_t q = pos + LUNA_HOT_BLOCK < hi ? pos + LUNA_HOT_BLOCK : hi;
		if (q > e)
			break;
		blocks += sums[b++];
		pos = q;
	}
	uint64_t sum = first > s ? cksum16(buf + s, first - s) : 0;
	sum = luna_cksum_combine(sum, luna_cksum_fold(blocks), first - s);
	if (pos < e)
		sum = luna_cksum_combine(sum, cksum16(buf + pos, e - pos), pos - s);
	return luna_cksum_fold(sum);
}

#endif
