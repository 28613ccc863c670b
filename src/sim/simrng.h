/* simrng: the simulator's seeded random numbers (xoshiro256**), so one seed always plays the same fleet. */
#ifndef FLEETSIM_SIMRNG_H
#define FLEETSIM_SIMRNG_H

#include <stdint.h>

typedef struct simrng {
	uint64_t s[4];
} simrng;

/* A stream is a (seed, stream) pair: devices draw from their own stream so one
 * device's draws never shift another's. */
void simrng_seed(simrng *r, uint64_t seed, uint64_t stream);
uint64_t simrng_next(simrng *r);
/* Uniform in [0, 1). */
double simrng_uniform(simrng *r);
/* Standard normal (Box-Muller, no cached second value: the stream stays a pure
 * function of the number of calls). */
double simrng_normal(simrng *r);
/* Uniform integer in [0, n); n > 0. */
uint64_t simrng_below(simrng *r, uint64_t n);
/* A well-mixed 64-bit hash of two values (splitmix64 finaliser). */
uint64_t simrng_mix(uint64_t a, uint64_t b);

#endif
