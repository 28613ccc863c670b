/* fuzz_promapi: libFuzzer target for Prometheus API answers: the vector parser, and the whole join of a cycle's answers into device results. */
#include "metrics/promapi.h"
#include "poll/promsrc.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static promsrc *ps;

static void setup(void)
{
	promsrc_opts o;
	char *err = NULL;
	if (promsrc_opts_parse("http://127.0.0.1:1", &o, &err))
		abort();
	ps = promsrc_new(&o, &err);
	promsrc_opts_clear(&o);
	if (!ps)
		abort();
	static const char *const addr[] = { "10.0.0.1", "10.0.0.2", "a", "" };
	for (size_t i = 0; i < 4; i++) {
		poll_target t = { .name = "d", .address = addr[i], .agent_port = 8080, .metrics_port = 8000 };
		if (promsrc_add(ps, &t, i == 3 ? "x" : NULL, &err) < 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ps)
		setup();
	const char *body = (const char *)data;
	static const char *const labels[] = { "instance", "__name__", "model_name", "version" };
	promapi_vector v;
	char *err = NULL;
	if (promapi_parse_vector(body, size, labels, 4, &v, &err) == 0) {
		for (size_t i = 0; i < v.n; i++)
			if (!v.s[i].label[0])
				abort(); /* a series without the join label is left out */
		promapi_vector_clear(&v);
	} else {
		if (!err)
			abort();
		free(err);
	}
	/* the input as every answer of a cycle, and as the targets answer */
	const char *bodies[PROMSRC_QUERIES];
	size_t lens[PROMSRC_QUERIES];
	for (int q = 0; q < PROMSRC_QUERIES; q++) {
		bodies[q] = body;
		lens[q] = size;
	}
	const poll_result *r;
	size_t n;
	err = NULL;
	if (promsrc_take(ps, bodies, lens, body, size, 1, &r, &n, &err) == 0) {
		if (n != 4)
			abort();
		for (size_t i = 0; i < n; i++) {
			if (r[i].state != DEV_HEALTHY && !r[i].detail)
				abort(); /* every other state says why */
			if ((r[i].st.have & DEV_HAVE_GPU_TEMP) && !isfinite(r[i].st.gpu_temp))
				abort();
		}
	} else {
		if (!err)
			abort();
		free(err);
	}
	return 0;
}
