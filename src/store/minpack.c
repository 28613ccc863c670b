/* minpack: the packed form of an hour of minute rollups (bit-packed delta streams). */
#include "store/minpack.h"
#include "util/xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Layout (format 1), integers little-endian, varints LEB128, zigzag for signed:
 *   u8 format, u8 nfields, u64 bitmap of the minutes present (m = its popcount)
 *   stream(m: samples), stream(m: worst state code)
 *   per field: varint q, varint r (min and max are kept in units of Q = q * r);
 *     u8 kind: bits 0-1 presence (0 no minute has it, 1 all do, 2 a bitmap of
 *     ceil(m/8) bytes over the m minutes follows), bits 2, 3, 4 (AVG_, MIN_,
 *     MAX_DIRECT) how the averages, minima and maxima are written; then over its
 *     k minutes, with a the average in units of q (rounded to nearest), min
 *     rounded down and max up to multiples of Q:
 *       averages: stream(k: a) if AVG_DIRECT, else zigzag first a, stream(k-1:
 *         differences of a) (smooth series: small steps; noisy ones: direct)
 *       minima: stream(k: min / Q) if MIN_DIRECT, else stream(k: floor(a / r) - min / Q)
 *       maxima: stream(k: max / Q) if MAX_DIRECT, else stream(k: max / Q - ceil(a / r))
 *     The encoder writes each both ways and keeps the shorter.
 *   stream(k): zigzag base, u8 width, ceil(k * width / 8) bytes of (v - base),
 *     LSB first. */
#define FORMAT 1
#define PRESENCE 3u
#define AVG_DIRECT 4u
#define MIN_DIRECT 8u
#define MAX_DIRECT 16u
#define LIMIT (INT64_C(1) << 60)

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	b->p = xgrow(b->p, &b->cap, b->len + n, 1);
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put_u8(struct buf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;
	put(b, &c, 1);
}

static void put_varint(struct buf *b, uint64_t v)
{
	do {
		unsigned char c = v & 0x7f;
		v >>= 7;
		if (v)
			c |= 0x80;
		put(b, &c, 1);
	} while (v);
}

static uint64_t zig(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzig(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int width_of(uint64_t v)
{
	int w = 0;
	while (v) {
		w++;
		v >>= 1;
	}
	return w;
}

static void put_stream(struct buf *b, const int64_t *v, size_t k)
{
	int64_t lo = k ? v[0] : 0, hi = lo;
	for (size_t i = 1; i < k; i++) {
		if (v[i] < lo)
			lo = v[i];
		if (v[i] > hi)
			hi = v[i];
	}
	int w = width_of((uint64_t)hi - (uint64_t)lo);
	put_varint(b, zig(lo));
	put_u8(b, (unsigned)w);
	size_t nbytes = (k * (size_t)w + 7) / 8, start = b->len;
	b->p = xgrow(b->p, &b->cap, b->len + nbytes, 1);
	memset(b->p + start, 0, nbytes);
	b->len += nbytes;
	size_t bit = 0;
	for (size_t i = 0; i < k; i++) {
		uint64_t x = (uint64_t)v[i] - (uint64_t)lo;
		for (int j = 0; j < w; j++, bit++)
			if (x >> j & 1)
				b->p[start + bit / 8] |= (unsigned char)(1u << (bit % 8));
	}
}

/* v rounded to a multiple of q, in units of q (half away from zero). */
static int64_t quantize(int64_t v, int64_t q)
{
	int64_t r = v / q, m = v % q;
	if (m < 0 ? -m * 2 >= q : m * 2 >= q)
		r += v < 0 ? -1 : 1;
	return r;
}

static int64_t floor_div(int64_t v, int64_t q)
{
	int64_t r = v / q;
	return v % q && v < 0 ? r - 1 : r;
}

static int64_t ceil_div(int64_t v, int64_t q)
{
	int64_t r = v / q;
	return v % q && v > 0 ? r + 1 : r;
}

unsigned char *minpack_encode(const minpack_row *rows, size_t n, int nfields, const int64_t *quant,
			      const int64_t *quant_ext, size_t *len)
{
	if (n > MINPACK_MINUTES || nfields < 0 || nfields > MINPACK_MAX_FIELDS)
		return NULL;
	uint64_t bitmap = 0;
	for (size_t i = 0; i < n; i++) {
		const minpack_row *r = &rows[i];
		if (r->minute < 0 || r->minute >= MINPACK_MINUTES || (i && r->minute <= rows[i - 1].minute) || r->n < 0 ||
		    r->n > LIMIT || r->worst < 0 || r->worst > LIMIT)
			return NULL;
		bitmap |= UINT64_C(1) << r->minute;
		for (int f = 0; f < nfields; f++)
			if (r->have & (1u << f) &&
			    (r->min[f] > r->avg[f] || r->avg[f] > r->max[f] || r->min[f] < -LIMIT || r->max[f] > LIMIT))
				return NULL;
	}
	for (int f = 0; f < nfields; f++)
		if (quant[f] < 1 || quant[f] > LIMIT || quant_ext[f] < quant[f] || quant_ext[f] > LIMIT ||
		    quant_ext[f] % quant[f])
			return NULL;
	struct buf b = { 0 };
	put_u8(&b, FORMAT);
	put_u8(&b, (unsigned)nfields);
	for (int i = 0; i < 8; i++)
		put_u8(&b, (unsigned)(bitmap >> (8 * i) & 0xff));
	int64_t s[MINPACK_MINUTES] = { 0 }, mins[MINPACK_MINUTES], maxs[MINPACK_MINUTES], avgs[MINPACK_MINUTES],
		minq[MINPACK_MINUTES], maxq[MINPACK_MINUTES];
	for (size_t i = 0; i < n; i++)
		s[i] = rows[i].n;
	put_stream(&b, s, n);
	for (size_t i = 0; i < n; i++)
		s[i] = rows[i].worst;
	put_stream(&b, s, n);
	for (int f = 0; f < nfields; f++) {
		int64_t q = quant[f], r = quant_ext[f] / q, Q = quant_ext[f];
		put_varint(&b, (uint64_t)q);
		put_varint(&b, (uint64_t)r);
		size_t k = 0;
		unsigned char present[(MINPACK_MINUTES + 7) / 8] = { 0 };
		for (size_t i = 0; i < n; i++) {
			if (!(rows[i].have & (1u << f)))
				continue;
			present[i / 8] |= (unsigned char)(1u << (i % 8));
			int64_t a = quantize(rows[i].avg[f], q);
			avgs[k] = a;
			minq[k] = floor_div(rows[i].min[f], Q);
			maxq[k] = ceil_div(rows[i].max[f], Q);
			mins[k] = floor_div(a, r) - minq[k];
			maxs[k] = maxq[k] - ceil_div(a, r);
			k++;
		}
		if (k == 0) {
			put_u8(&b, 0);
			continue;
		}
		int64_t d[MINPACK_MINUTES];
		for (size_t i = 1; i < k; i++)
			d[i - 1] = avgs[i] - avgs[i - 1];
		struct buf alt[3][2] = { { { 0 } } }; /* [avg, min, max][relative, direct] */
		put_varint(&alt[0][0], zig(avgs[0]));
		put_stream(&alt[0][0], d, k - 1);
		put_stream(&alt[0][1], avgs, k);
		put_stream(&alt[1][0], mins, k);
		put_stream(&alt[1][1], minq, k);
		put_stream(&alt[2][0], maxs, k);
		put_stream(&alt[2][1], maxq, k);
		static const unsigned direct[3] = { AVG_DIRECT, MIN_DIRECT, MAX_DIRECT };
		unsigned kind = k == n ? 1 : 2;
		for (int j = 0; j < 3; j++)
			if (alt[j][1].len < alt[j][0].len)
				kind |= direct[j];
		put_u8(&b, kind);
		if (k < n)
			put(&b, present, (n + 7) / 8);
		for (int j = 0; j < 3; j++) {
			const struct buf *c = &alt[j][kind & direct[j] ? 1 : 0];
			put(&b, c->p, c->len);
			free(alt[j][0].p);
			free(alt[j][1].p);
		}
	}
	*len = b.len;
	return b.p;
}

/* ---- Decoding: every read checked against the end ---- */

struct rd {
	const unsigned char *p;
	size_t len, at;
	bool bad;
};

static unsigned get_u8(struct rd *r)
{
	if (r->at >= r->len) {
		r->bad = true;
		return 0;
	}
	return r->p[r->at++];
}

static uint64_t get_varint(struct rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		unsigned c = get_u8(r);
		if (r->bad)
			return 0;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static void get_stream(struct rd *r, int64_t *v, size_t k)
{
	int64_t lo = unzig(get_varint(r));
	unsigned w = get_u8(r);
	if (r->bad || w > 64) {
		r->bad = true;
		return;
	}
	size_t nbytes = (k * w + 7) / 8;
	if (r->len - r->at < nbytes) {
		r->bad = true;
		return;
	}
	const unsigned char *p = r->p + r->at;
	size_t bit = 0;
	for (size_t i = 0; i < k; i++) {
		uint64_t x = 0;
		for (unsigned j = 0; j < w; j++, bit++)
			if (p[bit / 8] >> (bit % 8) & 1)
				x |= UINT64_C(1) << j;
		v[i] = (int64_t)((uint64_t)lo + x);
	}
	r->at += nbytes;
}

/* a * q, false if it leaves the range a value may have */
static bool scale(int64_t a, int64_t q, int64_t *out)
{
	if (a > LIMIT || a < -LIMIT || (a && (a > 0 ? a : -a) > LIMIT / q))
		return false;
	*out = a * q;
	return true;
}

int minpack_decode(const unsigned char *blob, size_t len, int nfields, minpack_row *out, size_t *n)
{
	*n = 0;
	struct rd r = { blob, len, 0, false };
	if (!blob || get_u8(&r) != FORMAT || get_u8(&r) != (unsigned)nfields || r.bad || nfields > MINPACK_MAX_FIELDS)
		return -1;
	uint64_t bitmap = 0;
	for (int i = 0; i < 8; i++)
		bitmap |= (uint64_t)get_u8(&r) << (8 * i);
	if (r.bad || bitmap >> MINPACK_MINUTES)
		return -1;
	size_t m = 0;
	for (int i = 0; i < MINPACK_MINUTES; i++)
		if (bitmap >> i & 1) {
			memset(&out[m], 0, sizeof out[m]);
			out[m++].minute = i;
		}
	int64_t s[MINPACK_MINUTES] = { 0 };
	get_stream(&r, s, m);
	for (size_t i = 0; i < m && !r.bad; i++)
		out[i].n = s[i];
	get_stream(&r, s, m);
	for (size_t i = 0; i < m && !r.bad; i++)
		out[i].worst = s[i];
	for (int f = 0; f < nfields && !r.bad; f++) {
		int64_t q = (int64_t)get_varint(&r), ratio = (int64_t)get_varint(&r);
		unsigned kind = get_u8(&r);
		if (r.bad || q < 1 || q > LIMIT || ratio < 1 || ratio > LIMIT / q || (kind & PRESENCE) > 2 ||
		    kind > (PRESENCE | AVG_DIRECT | MIN_DIRECT | MAX_DIRECT))
			return -1;
		int64_t Q = q * ratio;
		if ((kind & PRESENCE) == 0) {
			if (kind)
				return -1;
			continue;
		}
		unsigned char present[(MINPACK_MINUTES + 7) / 8];
		memset(present, (kind & PRESENCE) == 1 ? 0xff : 0, sizeof present);
		if ((kind & PRESENCE) == 2)
			for (size_t i = 0; i < (m + 7) / 8; i++)
				present[i] = (unsigned char)get_u8(&r);
		size_t idx[MINPACK_MINUTES], k = 0;
		for (size_t i = 0; i < m; i++)
			if (present[i / 8] >> (i % 8) & 1)
				idx[k++] = i;
		if (k == 0)
			return -1;
		int64_t first = 0, d[MINPACK_MINUTES], lo[MINPACK_MINUTES], hi[MINPACK_MINUTES];
		if (kind & AVG_DIRECT) {
			get_stream(&r, d, k);
		} else {
			first = unzig(get_varint(&r));
			get_stream(&r, d, k - 1);
		}
		get_stream(&r, lo, k);
		get_stream(&r, hi, k);
		if (r.bad)
			return -1;
		int64_t a = first;
		for (size_t i = 0; i < k; i++) {
			if (kind & AVG_DIRECT) {
				a = d[i];
			} else if (i) {
				if ((d[i - 1] > 0 && a > LIMIT - d[i - 1]) || (d[i - 1] < 0 && a < -LIMIT - d[i - 1]))
					return -1;
				a += d[i - 1];
			}
			if (lo[i] > LIMIT || hi[i] > LIMIT || lo[i] < -LIMIT || hi[i] < -LIMIT || a > LIMIT || a < -LIMIT)
				return -1;
			minpack_row *row = &out[idx[i]];
			int64_t mn = kind & MIN_DIRECT ? lo[i] : floor_div(a, ratio) - lo[i];
			int64_t mx = kind & MAX_DIRECT ? hi[i] : ceil_div(a, ratio) + hi[i];
			if (!scale(a, q, &row->avg[f]) || !scale(mn, Q, &row->min[f]) || !scale(mx, Q, &row->max[f]) ||
			    row->min[f] > row->avg[f] || row->avg[f] > row->max[f])
				return -1;
			row->have |= 1u << f;
		}
	}
	if (r.bad || r.at != r.len)
		return -1;
	*n = m;
	return 0;
}
