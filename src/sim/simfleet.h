/* simfleet: the fleet fleetsim plays: factories and devices, built from a seed (or the
 * demo recipe, or a fleet file), their addresses, fault injection by fraction, and the
 * Ansible inventories (INI and YAML) that describe it. Pure except for reading the
 * fleet file and writing the inventories. */
#ifndef FLEETSIM_SIMFLEET_H
#define FLEETSIM_SIMFLEET_H

#include "sim/simdev.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct simfactory {
	char name[48];  /* city: the group is factory_<name> */
	char code[8];   /* three letters in host names: edge-<code>-NN */
} simfactory;

typedef struct simfleet {
	simfactory *factories;
	size_t nfactories;
	simdev *devs;
	size_t ndevs;
	uint64_t seed;
} simfleet;

typedef struct simfleet_opts {
	size_t devices, factories;
	uint64_t seed;
	int demo;            /* the demo recipe: 15 factories, 200 devices, a handful of each condition */
	uint32_t base;       /* first address for sequential layout; 0: 127.<d/254>.<f+1>.<d%254+1> */
	int load_delay_ms;
	int slow_ms;
	double epoch;        /* wall clock at start, for the _created series */
} simfleet_opts;

/* Builds the fleet. Returns NULL with *err on impossible requests (too many
 * factories for the default layout, addresses leaving 127.0.0.0/8, ...). */
simfleet *simfleet_generate(const simfleet_opts *o, char **err);
/* Builds the fleet from a fleet file (format in docs/fleetsim.md). o->devices,
 * o->factories and o->demo are ignored. */
simfleet *simfleet_load(const char *path, const simfleet_opts *o, char **err);
void simfleet_free(simfleet *f);

simdev *simfleet_find(const simfleet *f, const char *host);

/* Gives `kind` to round(fraction * ndevs) devices picked by `seed` (every device
 * but those already having another fault are candidates; kind NONE clears
 * that many). Returns the chosen hosts as a JSON array. */
json_t *simfleet_inject(simfleet *f, simfault kind, double fraction, uint64_t seed);

typedef struct simfleet_invopts {
	const char *registry_url;   /* NULL: no model_registry variable */
	int agent_port, metrics_port; /* written only when not 8080 / 8000 */
} simfleet_invopts;

char *simfleet_ini(const simfleet *f, const simfleet_invopts *o);
char *simfleet_yaml(const simfleet *f, const simfleet_invopts *o);

/* "a.b.c.d" <-> host-order IPv4. Returns -1 on a malformed address. */
int simfleet_parse_addr(const char *s, uint32_t *out);
void simfleet_format_addr(uint32_t a, char out[16]);

#endif
