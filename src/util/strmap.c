/* strmap: linear-probing hash table with tombstones, FNV-1a hashing. */
#include "util/strmap.h"
#include "util/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	const char *key; /* NULL: empty; TOMB: deleted */
	void *value;
	uint32_t hash;
};

struct strmap {
	struct slot *slots;
	size_t cap;   /* power of two */
	size_t count; /* live entries */
	size_t used;  /* live + tombstones */
};

static const char tomb_key[1];
#define TOMB tomb_key

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

strmap *strmap_new(void)
{
	strmap *m = xcalloc(1, sizeof *m);
	m->cap = 16;
	m->slots = xcalloc(m->cap, sizeof *m->slots);
	return m;
}

void strmap_free(strmap *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

static struct slot *find(const strmap *m, const char *key, uint32_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != TOMB && s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
}

static void rehash(strmap *m, size_t ncap)
{
	struct slot *old = m->slots;
	size_t ocap = m->cap;
	m->slots = xcalloc(ncap, sizeof *m->slots);
	m->cap = ncap;
	m->used = m->count;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].key || old[i].key == TOMB)
			continue;
		size_t mask = ncap - 1;
		size_t j = old[i].hash & mask;
		while (m->slots[j].key)
			j = (j + 1) & mask;
		m->slots[j] = old[i];
	}
	free(old);
}

void *strmap_get(const strmap *m, const char *key)
{
	struct slot *s = find(m, key, hash_str(key));
	return s ? s->value : NULL;
}

void *strmap_put(strmap *m, const char *key, void *value)
{
	uint32_t h = hash_str(key);
	struct slot *s = find(m, key, h);
	if (s) {
		void *prev = s->value;
		s->key = key;
		s->value = value;
		return prev;
	}
	if ((m->used + 1) * 4 >= m->cap * 3)
		rehash(m, m->count * 2 + 2 >= m->cap ? m->cap * 2 : m->cap);
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	while (m->slots[i].key && m->slots[i].key != TOMB)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].value = value;
	m->slots[i].hash = h;
	m->count++;
	return NULL;
}

void *strmap_del(strmap *m, const char *key)
{
	struct slot *s = find(m, key, hash_str(key));
	if (!s)
		return NULL;
	void *prev = s->value;
	s->key = TOMB;
	s->value = NULL;
	m->count--;
	return prev;
}

size_t strmap_count(const strmap *m)
{
	return m->count;
}

int strmap_next(const strmap *m, size_t *it, const char **key, void **value)
{
	while (*it < m->cap) {
		struct slot *s = &m->slots[(*it)++];
		if (s->key && s->key != TOMB) {
			if (key)
				*key = s->key;
			if (value)
				*value = s->value;
			return 1;
		}
	}
	return 0;
}
