/* simreg: the model registry fleetsim can serve: model files of deterministic bytes,
 * index.json with the seed's metadata (checksum = the real SHA-256 of those bytes), and
 * a baseline feature sample per version for drift detection. Built once, read-only after. */
#ifndef FLEETSIM_SIMREG_H
#define FLEETSIM_SIMREG_H

#include <stddef.h>

typedef struct simreg simreg;

typedef struct simreg_file {
	char *path;          /* URL path, e.g. /models/defect-detection-v3.2-int8.onnx */
	unsigned char *data;
	size_t len;
	const char *content_type;
} simreg_file;

/* base_url: how devices reach the registry ("http://127.0.0.1:5000"), used in
 * index.json's baseline URLs. model_bytes: size of each model file. */
simreg *simreg_new(const char *base_url, size_t model_bytes);
void simreg_free(simreg *r);
const simreg_file *simreg_find(const simreg *r, const char *path);
/* SHA-256 hex of a version's model file, or NULL if the registry has no such version. */
const char *simreg_checksum(const simreg *r, const char *version);

/* SHA-256 of a buffer as 64 lowercase hex digits (+ NUL) via OpenSSL's EVP. */
void simreg_sha256_hex(const void *data, size_t len, char out[65]);

#endif
