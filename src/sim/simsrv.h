/* simsrv: the running simulator: one listening socket per device address and port (plus
 * control and registry), one epoll loop that accepts on all of them and hands connections
 * to one libmicrohttpd daemon, the transport-level faults (refused, unreachable, hang,
 * reset), and the shared state every thread works on.
 *
 * Threads: the caller's (simsrv_run: accept, faults, timers), libmicrohttpd's four polling
 * threads (every HTTP request; poll mode, see simhttp_start), and the updater's (model
 * downloads). `mu` guards the fleet
 * and the clock; `park_mu` the parked connections; `sync_mu` the control API's
 * hand-over to the loop. Lock order: mu before park_mu; sync_mu is never held with mu. */
#ifndef FLEETSIM_SIMSRV_H
#define FLEETSIM_SIMSRV_H

#include "sim/simfleet.h"
#include "sim/simreg.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct MHD_Connection;
struct MHD_Daemon;
struct simupd;

/* What a listening socket serves; a device's socket may serve agent and exporter both
 * when the two ports are equal. */
enum { SIMEP_AGENT = 1, SIMEP_METRICS = 2, SIMEP_CONTROL = 4, SIMEP_REGISTRY = 8 };

/* How a device's listening socket is kept, following its fault. */
typedef enum {
	SIMLS_CLOSED,    /* refused: nothing listens, the kernel answers SYN with RST */
	SIMLS_LISTEN,    /* accepted and served */
	SIMLS_NOACCEPT,  /* hang: the kernel completes handshakes, nobody ever reads */
	SIMLS_BLACKHOLE, /* unreachable: backlog 0 and full, the kernel drops every SYN */
} simls;

typedef struct simep {
	int kind;        /* tag for the epoll loop; keep first */
	uint32_t addr;   /* host byte order */
	uint16_t port;
	unsigned roles;  /* SIMEP_* */
	simdev *dev;     /* NULL for control and registry */
	int fd, dummy;   /* listener; the connection that fills a blackhole's backlog */
	simls state;
	bool in_epoll;
} simep;

typedef struct simsrv_opts {
	int agent_port, metrics_port;
	uint32_t control_addr, registry_addr; /* 0: not served */
	uint16_t control_port, registry_port;
	bool manual_clock;                    /* simulated time moves only by the control API */
	double speed;                         /* simulated seconds per wall second */
	int drift_window;
	size_t oversize_bytes;                /* body of the 'oversized' fault */
	void (*log)(const char *msg);         /* run-time problems; called from any thread */
} simsrv_opts;

struct simpark;

typedef struct simsrv {
	simsrv_opts o;
	pthread_mutex_t mu;
	simfleet *fleet;
	const simreg *reg;            /* NULL: no registry */
	struct simupd *upd;
	double start_mono, sim_offset;

	simep *eps;
	size_t neps;
	simep **table;                /* open addressing on (addr, port) */
	size_t tcap;
	struct MHD_Daemon *mhd;
	int epfd, evfd, spare_fd;
	size_t nblackholes;

	pthread_mutex_t park_mu;
	struct simpark *park;
	size_t npark, park_cap;
	atomic_int stopping;

	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	uint64_t sync_req, sync_done;

	struct simrst *resets;        /* connections being reset */
} simsrv;

/* Takes the fleet (and frees it in simsrv_free); reg is borrowed. */
simsrv *simsrv_new(simfleet *fleet, const simreg *reg, const simsrv_opts *o);
/* File descriptors needed for the listeners alone. */
size_t simsrv_fds_needed(const simsrv *s);
/* Opens every socket and starts the HTTP daemon. When it returns 0, every device
 * listens (or is faulted as its fault says). max_conns: HTTP connections at once. */
int simsrv_listen(simsrv *s, unsigned max_conns, char **err);
/* The loop: returns when *stop is set (signals are unblocked only inside the wait,
 * with `waitmask`). Returns 0, or -1 on a broken epoll. */
int simsrv_run(simsrv *s, volatile sig_atomic_t *stop, const sigset_t *waitmask);
/* Stops serving: parked connections are released and the HTTP daemon is stopped,
 * so no handler runs after it. simsrv_free calls it if the caller did not. */
void simsrv_stop(simsrv *s);
void simsrv_free(simsrv *s);

double simsrv_mono(void);
/* With mu held: simulated seconds since start. */
double simsrv_sim_now(const simsrv *s);
/* With mu held: brings a device to the present (simulated tick, finished loads). */
void simsrv_touch(simsrv *s, simdev *d);
simep *simsrv_lookup(simsrv *s, uint32_t addr, uint16_t port);

/* From the HTTP thread, inside the request handler: suspends the connection until
 * `deadline` (monotonic seconds; INFINITY: until the device's fault no longer holds
 * connections). Returns false if the server is stopping (do not suspend then). */
bool simsrv_park(simsrv *s, struct MHD_Connection *c, simdev *d, double deadline);
/* From the HTTP thread, without mu: has the loop apply fault changes to the sockets
 * and waits (bounded) until it has, so the next request sees them. */
void simsrv_sync(simsrv *s);

#endif
