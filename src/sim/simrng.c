/* simrng: xoshiro256** seeded through splitmix64; small, fast and the same on every platform. */
#include "sim/simrng.h"

#include <math.h>

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t simrng_mix(uint64_t a, uint64_t b)
{
	uint64_t x = a ^ (b * 0xd1b54a32d192ed03ULL);
	return splitmix(&x);
}

void simrng_seed(simrng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = simrng_mix(seed, stream);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t simrng_next(simrng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double simrng_uniform(simrng *r)
{
	return (double)(simrng_next(r) >> 11) * 0x1.0p-53;
}

double simrng_normal(simrng *r)
{
	/* 1 - u keeps log() away from zero */
	double u1 = 1.0 - simrng_uniform(r);
	double u2 = simrng_uniform(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t simrng_below(simrng *r, uint64_t n)
{
	/* rejection keeps it unbiased; n is tiny next to 2^64 so this rarely loops */
	uint64_t lim = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = simrng_next(r);
	while (x >= lim);
	return x % n;
}
