/*
 * luna_shim: see luna_shim.h for the contract. This file only translates
 * between DPDK and the descriptor/handle conventions TypeScript uses.
 */
#define _GNU_SOURCE
/* rte_ipv4_udptcp_cksum_mbuf (checksums over a chain) is still marked
 * experimental in DPDK 22.11; it is an inline function of rte_ip.h. */
#define ALLOW_EXPERIMENTAL_API
#include "luna_shim.h"
#include "luna_cksum.h"
#include "packet_port.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_gro.h>
#include <rte_gso.h>
#include <rte_interrupts.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_memzone.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#ifndef LUNA_SOURCE_HASH
#define LUNA_SOURCE_HASH "unknown"
#endif

/* ------------------------------------------------------- memif departures */

/*
 * A memif peer may leave at any moment. DPDK's memif driver then disconnects
 * on the EAL's interrupt thread: it clears its "connected" flag and unmaps
 * the shared regions, taking no lock, while a burst on a polling thread may
 * be reading or writing those regions; the poller then dies of SIGSEGV (seen
 * when a peer process exits in the middle of a transfer). The driver's calls
 * to munmap are therefore routed, through its own GOT entry, to region_unmap,
 * which waits until no burst on a memif port is in flight. A burst that
 * starts after that finds the flag cleared and returns without touching the
 * regions, so waiting for the bursts in flight is enough.
 *
 * A burst says it is in flight without a locked instruction (two of those,
 * a read lock taken and given back, cost 50-80 ns a burst on the hosts we
 * measure, 12% of a memif receiver's time): each receive or transmit queue
 * of a guarded port has a counter of its own, odd during a burst, written
 * with plain stores by the one thread that polls the queue (DPDK's rule).
 * The unmapping side pays instead: membarrier(2) makes every thread of the
 * process pass a full memory barrier, after which a burst either had made
 * its counter odd where region_unmap sees it (and is waited for) or reads
 * the driver's flag after the barrier and finds it cleared. Where
 * membarrier's expedited command is not available, and for queues beyond
 * the counters, a burst counts itself in one shared counter with locked
 * instructions instead (the Dekker handshake with guard_unmapping).
 */
static int region_guard; /* 1: the driver's munmap is guarded; -1: memif not loaded or not patched */
static int region_guard_errno;
static uint8_t port_guarded[LUNA_PORTS_MAX];

#define GUARD_QUEUES 64
struct guard_seq {
	uint32_t seq; /* odd while a burst of its queue is in flight */
	uint8_t pad[RTE_CACHE_LINE_SIZE - sizeof(uint32_t)];
};
static struct guard_seq guard_seqs[RTE_MAX_ETHPORTS][GUARD_QUEUES][2] __rte_cache_aligned;
static int guard_fenced;             /* membarrier's private expedited command is registered */
static uint32_t guard_shared;        /* bursts in flight that count here instead */
static uint32_t guard_unmapping;     /* region_unmap is waiting or unmapping */
static pthread_mutex_t guard_unmap_lock = PTHREAD_MUTEX_INITIALIZER;

/* The counter of a burst on (port, queue, tx), or NULL: the shared count. */
static inline uint32_t *guard_slot(uint16_t port, uint16_t queue, int tx)
{
	return likely(guard_fenced && queue < GUARD_QUEUES) ? &guard_seqs[port][queue][tx].seq : NULL;
}

static inline void guard_enter(uint32_t *seq)
{
	if (likely(seq != NULL)) {
		__atomic_store_n(seq, *seq + 1, __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST); /* the burst's accesses stay after it */
		return;
	}
	for (;;) {
		__atomic_fetch_add(&guard_shared, 1, __ATOMIC_SEQ_CST);
		if (likely(!__atomic_load_n(&guard_unmapping, __ATOMIC_SEQ_CST)))
			return;
		__atomic_fetch_sub(&guard_shared, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&guard_unmapping, __ATOMIC_ACQUIRE))
			sched_yield();
	}
}

static inline void guard_leave(uint32_t *seq)
{
	if (likely(seq != NULL))
		__atomic_store_n(seq, *seq + 1, __ATOMIC_RELEASE);
	else
		__atomic_fetch_sub(&guard_shared, 1, __ATOMIC_RELEASE);
}

static int region_unmap(void *addr, size_t len)
{
	pthread_mutex_lock(&guard_unmap_lock);
	__atomic_store_n(&guard_unmapping, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&guard_shared, __ATOMIC_SEQ_CST) != 0)
		sched_yield();
	if (guard_fenced) {
		/* Registered, so it does not fail; if it ever did, waiting for odd counters is all
		 * that is left to do. */
		(void)syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
		for (int p = 0; p < RTE_MAX_ETHPORTS; p++) {
			if (!port_guarded[p])
				continue;
			for (int q = 0; q < GUARD_QUEUES; q++)
				for (int t = 0; t < 2; t++) {
					uint32_t *seq = &guard_seqs[p][q][t].seq;
					const uint32_t v = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
					if (v & 1)
						while (__atomic_load_n(seq, __ATOMIC_ACQUIRE) == v)
							sched_yield();
				}
		}
	}
	int rc = munmap(addr, len);
	__atomic_store_n(&guard_unmapping, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&guard_unmap_lock);
	return rc;
}

#if defined(__x86_64__)
#define GOT_SLOT_TYPES(t) ((t) == R_X86_64_JUMP_SLOT || (t) == R_X86_64_GLOB_DAT)
#elif defined(__aarch64__)
#define GOT_SLOT_TYPES(t) ((t) == R_AARCH64_JUMP_SLOT || (t) == R_AARCH64_GLOB_DAT)
#else
#define GOT_SLOT_TYPES(t) 0
#endif

struct got_hook {
	const char *lib;
	const char *sym;
	void *to;
	int found;   /* the library is loaded */
	int patched; /* slots rewritten */
};

/* An address from a loaded object's dynamic section: glibc rewrites most of
 * them to absolute addresses in place, other loaders leave them relative. */
static uintptr_t dyn_ptr(const struct dl_phdr_info *info, ElfW(Addr) v)
{
	return v >= info->dlpi_addr ? v : info->dlpi_addr + v;
}

static int got_hook_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct got_hook *h = arg;
	if (info->dlpi_name == NULL || strstr(info->dlpi_name, h->lib) == NULL)
		return 0;
	h->found = 1;
	const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	const ElfW(Dyn) *dyn = NULL;
	uintptr_t relro_lo = 0, relro_hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		if (ph->p_type == PT_GNU_RELRO) {
			/* the loader makes read-only the whole pages inside this range */
			relro_lo = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
			relro_hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
		}
	}
	if (dyn == NULL)
		return 1;
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	const ElfW(Rela) *rel[2] = { NULL, NULL };
	size_t rel_size[2] = { 0, 0 };
	for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_SYMTAB)
			symtab = (const ElfW(Sym) *)dyn_ptr(info, d->d_un.d_ptr);
		else if (d->d_tag == DT_STRTAB)
			strtab = (const char *)dyn_ptr(info, d->d_un.d_ptr);
		else if (d->d_tag == DT_JMPREL)
			rel[0] = (const ElfW(Rela) *)dyn_ptr(info, d->d_un.d_ptr);
		else if (d->d_tag == DT_PLTRELSZ)
			rel_size[0] = d->d_un.d_val;
		else if (d->d_tag == DT_RELA)
			rel[1] = (const ElfW(Rela) *)dyn_ptr(info, d->d_un.d_ptr);
		else if (d->d_tag == DT_RELASZ)
			rel_size[1] = d->d_un.d_val;
	}
	if (symtab == NULL || strtab == NULL)
		return 1;
	for (int t = 0; t < 2; t++) {
		for (size_t k = 0; rel[t] != NULL && k < rel_size[t] / sizeof(ElfW(Rela)); k++) {
			const ElfW(Rela) *r = &rel[t][k];
			if (!GOT_SLOT_TYPES(ELF64_R_TYPE(r->r_info)))
				continue;
			if (strcmp(strtab + symtab[ELF64_R_SYM(r->r_info)].st_name, h->sym) != 0)
				continue;
			void **slot = (void **)(info->dlpi_addr + r->r_offset);
			uintptr_t pg = (uintptr_t)slot & ~(page - 1);
			int ro = pg >= relro_lo && pg < relro_hi;
			if (ro && mprotect((void *)pg, page, PROT_READ | PROT_WRITE) != 0) {
				region_guard_errno = errno;
				return 1;
			}
			__atomic_store_n(slot, h->to, __ATOMIC_RELEASE);
			if (ro)
				(void)mprotect((void *)pg, page, PROT_READ);
			h->patched++;
		}
	}
	return 1;
}

/* After rte_eal_init, which loads the drivers. */
static void region_guard_install(void)
{
	if (region_guard != 0)
		return;
	/* Before the hook, so that no burst ever counts in one way and leaves in the other. */
	guard_fenced = syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	struct got_hook h = { "librte_net_memif.so", "munmap", (void *)region_unmap, 0, 0 };
	dl_iterate_phdr(got_hook_object, &h);
	region_guard = h.patched > 0 ? 1 : -1;
	if (h.found && h.patched == 0 && region_guard_errno == 0)
		region_guard_errno = ENOENT;
}

/* LUNA_PORT_TX_QUADS: transmit bursts of at most 4 packets (see luna_shim.h). */
static uint8_t port_tx_quads[LUNA_PORTS_MAX];

/* rte_eth_tx_burst() over m[0..n) in calls of at most 4 packets, until one
 * takes fewer than it was given. */
static uint16_t tx_burst_quads(uint16_t port, uint16_t queue, struct rte_mbuf **m, uint16_t n)
{
	uint16_t done = 0;
	while (done < n) {
		uint16_t k = n - done < 4 ? (uint16_t)(n - done) : 4;
		uint16_t s = rte_eth_tx_burst(port, queue, m + done, k);
		done = (uint16_t)(done + s);
		if (s < k)
			break;
	}
	return done;
}

/* A receive (tx = 0) or transmit (tx = 1) burst, marked in flight where the port is memif. */
static inline uint16_t port_burst(int tx, uint16_t port, uint16_t queue, struct rte_mbuf **m,
				  uint16_t n)
{
	if (pkt_port_is(port))
		return tx ? pkt_tx_burst(port, queue, m, n) : pkt_rx_burst(port, queue, m, n);
	if (tx && unlikely(port_tx_quads[port])) {
		if (likely(!port_guarded[port]))
			return tx_burst_quads(port, queue, m, n);
		uint32_t *seq = guard_slot(port, queue, 1);
		guard_enter(seq);
		uint16_t k = tx_burst_quads(port, queue, m, n);
		guard_leave(seq);
		return k;
	}
	if (likely(!port_guarded[port]))
		return tx ? rte_eth_tx_burst(port, queue, m, n) : rte_eth_rx_burst(port, queue, m, n);
	uint32_t *seq = guard_slot(port, queue, tx);
	guard_enter(seq);
	uint16_t k = tx ? rte_eth_tx_burst(port, queue, m, n) : rte_eth_rx_burst(port, queue, m, n);
	guard_leave(seq);
	return k;
}

/* ---------------------------------------------------------------- errors */

/* DPDK logs through a stream we own: the tail is kept so that a failure can
 * be reported with the lines DPDK printed while it happened. */
#define LOG_TAIL_SIZE 8192
static char log_tail[LOG_TAIL_SIZE];
static size_t log_tail_len;
static int log_echo;
static FILE *log_stream;

static char last_error[LOG_TAIL_SIZE + 512];
static size_t log_mark; /* log_tail_len when the current operation began */

static ssize_t log_write(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	if (log_echo)
		(void)!write(2, buf, size);
	if (size >= LOG_TAIL_SIZE) {
		memcpy(log_tail, buf + size - LOG_TAIL_SIZE, LOG_TAIL_SIZE);
		log_tail_len = LOG_TAIL_SIZE;
		log_mark = 0;
		return (ssize_t)size;
	}
	if (log_tail_len + size > LOG_TAIL_SIZE) {
		size_t drop = log_tail_len + size - LOG_TAIL_SIZE;
		memmove(log_tail, log_tail + drop, log_tail_len - drop);
		log_tail_len -= drop;
		log_mark = log_mark > drop ? log_mark - drop : 0;
	}
	memcpy(log_tail + log_tail_len, buf, size);
	log_tail_len += size;
	return (ssize_t)size;
}

static void log_capture(void)
{
	if (log_stream != NULL)
		return;
	cookie_io_functions_t io = { .write = log_write };
	log_stream = fopencookie(NULL, "w", io);
	if (log_stream != NULL) {
		setvbuf(log_stream, NULL, _IOLBF, 0);
		rte_openlog_stream(log_stream);
	}
}

static void op_begin(void)
{
	log_capture();
	log_mark = log_tail_len;
	last_error[0] = '\0';
}

/* Records a failure with the DPDK log lines printed since op_begin(). */
static int32_t fail(int32_t err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	if (log_stream != NULL)
		fflush(log_stream);
	if (n > 0 && (size_t)n < sizeof(last_error) && log_tail_len > log_mark) {
		size_t room = sizeof(last_error) - (size_t)n - 1;
		size_t len = log_tail_len - log_mark;
		if (len > room)
			len = room;
		memcpy(last_error + n, log_tail + log_mark, len);
		last_error[(size_t)n + len] = '\0';
	}
	return err < 0 ? err : -err;
}

static int32_t copy_out(const char *s, uint8_t *out, uint32_t cap)
{
	size_t len = strlen(s);
	if (out != NULL && cap > 0) {
		size_t n = len < cap - 1 ? len : cap - 1;
		memcpy(out, s, n);
		out[n] = '\0';
	}
	return (int32_t)len;
}

int32_t luna_shim_abi(void)
{
	return LUNA_SHIM_ABI;
}

int32_t luna_shim_build_id(uint8_t *out, uint32_t cap)
{
	return copy_out(LUNA_SOURCE_HASH, out, cap);
}

int32_t luna_last_error(uint8_t *out, uint32_t cap)
{
	return copy_out(last_error, out, cap);
}

void luna_log_echo(int32_t on)
{
	log_echo = on != 0;
}

/* ------------------------------------------------------------------- EAL */

/* The lcores whose pool caches may hold buffers: the EAL's (noted once it
 * is up) and every one a thread registered through luna_thread_register,
 * kept after it unregisters (DPDK does not flush its caches then). Only a
 * thread with an lcore id puts buffers in a cache. Appended under the lock,
 * read without it: an entry is written before the count that covers it. */
static uint16_t cache_lcores[RTE_MAX_LCORE];
static uint32_t cache_lcores_n;
static pthread_mutex_t cache_lcores_lock = PTHREAD_MUTEX_INITIALIZER;

static void note_cache_lcore(unsigned int l)
{
	if (l >= RTE_MAX_LCORE)
		return;
	pthread_mutex_lock(&cache_lcores_lock);
	uint32_t n = __atomic_load_n(&cache_lcores_n, __ATOMIC_RELAXED);
	uint32_t i = 0;
	while (i < n && cache_lcores[i] != l)
		i++;
	if (i == n) {
		cache_lcores[n] = (uint16_t)l;
		__atomic_store_n(&cache_lcores_n, n + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&cache_lcores_lock);
}

enum { EAL_NEVER, EAL_UP, EAL_FAILED, EAL_CLEANED };
/* The shim's own mbufs for chains (see "chain pools" below); gone with the EAL. */
static struct rte_mempool *chain_indirect;
static struct rte_mempool *chain_header;
static int eal_state = EAL_NEVER;

int32_t luna_eal_init(const uint8_t *args, uint32_t args_len, int32_t argc)
{
	op_begin();
	if (eal_state == EAL_UP)
		return fail(-EALREADY, "the EAL is already initialised in this process");
	if (eal_state != EAL_NEVER)
		return fail(-EALREADY,
			    "the EAL can be initialised once per process and was %s",
			    eal_state == EAL_FAILED ? "tried already" : "cleaned up");
	if (argc < 1 || argc > 256 || args == NULL || args_len == 0)
		return fail(-EINVAL, "EAL arguments: expected 1 to 256, got %d", argc);
	/* The EAL keeps pointers into argv, so the strings live as long as the
	 * process does. */
	char *copy = malloc(args_len + 1);
	char **argv = calloc((size_t)argc + 1, sizeof(char *));
	if (copy == NULL || argv == NULL) {
		free(copy);
		free(argv);
		return fail(-ENOMEM, "EAL arguments: out of memory");
	}
	memcpy(copy, args, args_len);
	copy[args_len] = '\0';
	char *p = copy;
	for (int i = 0; i < argc; i++) {
		if (p >= copy + args_len) {
			free(copy);
			free(argv);
			return fail(-EINVAL, "EAL arguments: %d strings announced, fewer given", argc);
		}
		argv[i] = p;
		p += strlen(p) + 1;
	}
	int rc = rte_eal_init(argc, argv);
	/* The EAL prints its usage with stdio; flush it now so that it does not
	 * land in the middle of what the runtime writes to the same fd later. */
	fflush(stdout);
	if (rc < 0) {
		eal_state = EAL_FAILED;
		int err = rte_errno ? rte_errno : EINVAL;
		return fail(-err, "rte_eal_init failed: %s\n", rte_strerror(err));
	}
	eal_state = EAL_UP;
	for (unsigned int l = 0; l < RTE_MAX_LCORE; l++)
		if (rte_eal_lcore_role(l) != ROLE_OFF)
			note_cache_lcore(l);
	region_guard_install();
	return rc;
}

/*
 * rte_eal_cleanup unmaps DPDK's memory while the EAL's interrupt thread goes
 * on running: a callback of its in progress (a memif control channel freed
 * after its peer left, say) then touches unmapped memory and the process
 * dies of SIGSEGV as it closes. Before the cleanup the interrupt thread is
 * parked for good inside a callback of ours, which touches no DPDK memory;
 * once it is there, no callback of DPDK's runs again.
 */
static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
static int parked;

static void park_interrupt_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&park_mu);
	parked = 1;
	pthread_cond_broadcast(&park_cv);
	for (;;)
		pthread_cond_wait(&park_cv, &park_mu);
}

/* 0 once the interrupt thread is parked; a negative errno if it could not be. */
static int park_interrupts(void)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
		return -errno;
	/* A private instance lives in the C heap, not in DPDK's memory. */
	struct rte_intr_handle *h = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
	if (h == NULL || rte_intr_fd_set(h, fds[0]) != 0 ||
	    rte_intr_type_set(h, RTE_INTR_HANDLE_EXT) != 0 ||
	    rte_intr_callback_register(h, park_interrupt_thread, NULL) != 0)
		return -EIO;
	if (write(fds[1], "p", 1) != 1)
		return -errno;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&park_mu);
	int rc = 0;
	while (!parked && rc == 0)
		rc = pthread_cond_timedwait(&park_cv, &park_mu, &until);
	pthread_mutex_unlock(&park_mu);
	return parked ? 0 : -ETIMEDOUT;
}

int32_t luna_eal_cleanup(void)
{
	op_begin();
	if (eal_state != EAL_UP)
		return fail(-EINVAL, "the EAL is not running");
	int parked_rc = park_interrupts();
	if (parked_rc < 0)
		RTE_LOG(WARNING, EAL, "luna: the interrupt thread could not be stopped before cleanup: %s\n",
			strerror(-parked_rc));
	int rc = rte_eal_cleanup();
	eal_state = EAL_CLEANED;
	chain_indirect = NULL;
	chain_header = NULL;
	if (rc < 0)
		return fail(rc, "rte_eal_cleanup failed: %s\n", rte_strerror(-rc));
	return 0;
}

static int32_t need_eal(void)
{
	if (eal_state != EAL_UP)
		return fail(-EINVAL, "the EAL is not running: call luna_eal_init first");
	return 0;
}


int32_t luna_thread_register(void)
{
	op_begin();
	if (need_eal() < 0)
		return -EINVAL;
	if (rte_lcore_id() != LCORE_ID_ANY)
		return (int32_t)rte_lcore_id();
	if (rte_thread_register() < 0)
		return fail(-rte_errno, "rte_thread_register failed: %s\n",
			    rte_strerror(rte_errno));
	note_cache_lcore(rte_lcore_id());
	return (int32_t)rte_lcore_id();
}

int32_t luna_thread_unregister(void)
{
	if (eal_state != EAL_UP)
		return -EINVAL;
	rte_thread_unregister();
	return 0;
}

/* ----------------------------------------------------------------- pools */

struct pool {
	struct rte_mempool *mp;
	const struct rte_memzone *mz;
	char *base;
	size_t len;
	uint32_t data_room_off;
	/* Hot sums (luna_cksum.h): while a port using the pool sums in software
	 * (hot_on), luna_copy_in keeps each buffer's block sums in hot[], one
	 * entry per buffer (at its handle / obj_size, naming its handle), and
	 * sets its mark, marks[handle >> 6], which says the entry holds for the
	 * bytes it names. A buffer taken (by the zone, in TypeScript, which maps
	 * marks) or received is unmarked; the transmit path sums from the entry
	 * only a marked buffer's. */
	uint8_t *marks;
	uint8_t *hot;
	uint32_t hot_stride; /* bytes per entry */
	uint32_t obj_size;   /* from one buffer's handle to the next */
	uint8_t hot_on;
};

/* A buffer's hot sums: its payload's bytes [lo, hi) of the data room, as
 * luna_copy_sum() summed them, a slot per block of the data room. */
struct hot_entry {
	uint32_t h;
	uint16_t lo, hi;
	uint16_t sums[];
};
static struct pool pools[LUNA_POOLS_MAX];
static int pool_count;

static struct pool *pool_get(int32_t id)
{
	/* After cleanup the pools' memory is gone: no handle may reach it. */
	if (eal_state != EAL_UP || id < 0 || id >= pool_count || pools[id].mp == NULL)
		return NULL;
	return &pools[id];
}

/* A handle names an mbuf of this pool only if it lies inside the zone, is
 * cache-line aligned, and the mbuf found there says it belongs to the pool. */
static inline struct rte_mbuf *handle_mbuf(const struct pool *p, uint32_t h)
{
	if ((size_t)h + sizeof(struct rte_mbuf) > p->len || (h & (RTE_CACHE_LINE_SIZE - 1)))
		return NULL;
	struct rte_mbuf *m = (struct rte_mbuf *)(p->base + h);
	if (unlikely(m->pool != p->mp || m->buf_addr != (char *)m + p->data_room_off))
		return NULL;
	return m;
}

int32_t luna_pool_create(const uint8_t *name, uint32_t name_len, uint32_t count,
			 uint32_t cache, uint32_t data_room)
{
	op_begin();
	if (need_eal() < 0)
		return -EINVAL;
	if (pool_count >= LUNA_POOLS_MAX)
		return fail(-ENOSPC, "pool: at most %d pools per process", LUNA_POOLS_MAX);
	if (count < 2 || count > (1u << 24))
		return fail(-EINVAL, "pool: count %u out of range 2..16777216", count);
	if (cache > RTE_MEMPOOL_CACHE_MAX_SIZE || cache > count / 1.5)
		return fail(-EINVAL, "pool: cache %u too large for %u buffers", cache, count);
	if (data_room < RTE_PKTMBUF_HEADROOM + 64 || data_room > UINT16_MAX)
		return fail(-EINVAL, "pool: data room %u out of range %d..65535", data_room,
			    RTE_PKTMBUF_HEADROOM + 64);

	char pname[RTE_MEMPOOL_NAMESIZE];
	char zname[RTE_MEMZONE_NAMESIZE];
	int nlen = (int)(name_len < 16 ? name_len : 16);
	snprintf(pname, sizeof(pname), "lp%d_%.*s", pool_count, nlen, (const char *)name);
	snprintf(zname, sizeof(zname), "lz%d_%.*s", pool_count, nlen, (const char *)name);

	unsigned elt = sizeof(struct rte_mbuf) + data_room;
	struct rte_mempool *mp = rte_mempool_create_empty(
		pname, count, elt, cache, sizeof(struct rte_pktmbuf_pool_private),
		SOCKET_ID_ANY, RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (mp == NULL)
		return fail(-rte_errno, "pool: rte_mempool_create_empty: %s\n",
			    rte_strerror(rte_errno));
	int rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL);
	if (rc < 0) {
		rte_mempool_free(mp);
		return fail(rc, "pool: mempool ops: %s\n", rte_strerror(-rc));
	}
	struct rte_pktmbuf_pool_private priv = {
		.mbuf_data_room_size = (uint16_t)data_room,
		.mbuf_priv_size = 0,
	};
	rte_pktmbuf_pool_init(mp, &priv);

	/* One contiguous zone holds every buffer: TypeScript maps it once.
	 * Buffers may straddle pages (NO_IOVA_CONTIG): the zone is reserved
	 * IOVA-contiguous where the memory allows it (hugepages), and where it
	 * does not (--no-huge) only virtual devices, which use no IOVA, run. */
	struct rte_mempool_objsz sz;
	uint32_t obj = rte_mempool_calc_obj_size(elt, 0, &sz);
	size_t len = (size_t)obj * count + RTE_CACHE_LINE_SIZE;
	const struct rte_memzone *mz = rte_memzone_reserve_aligned(
		zname, len, SOCKET_ID_ANY, RTE_MEMZONE_IOVA_CONTIG, RTE_CACHE_LINE_SIZE);
	if (mz == NULL)
		mz = rte_memzone_reserve_aligned(zname, len, SOCKET_ID_ANY, 0,
						 RTE_CACHE_LINE_SIZE);
	if (mz == NULL) {
		int err = rte_errno;
		rte_mempool_free(mp);
		return fail(-err, "pool: cannot reserve %zu bytes for %u buffers: %s\n", len,
			    count, rte_strerror(err));
	}
	if (mz->iova != RTE_BAD_IOVA)
		rc = rte_mempool_populate_iova(mp, mz->addr, mz->iova, mz->len, NULL, NULL);
	else
		rc = rte_mempool_populate_virt(mp, mz->addr, mz->len, (size_t)sysconf(_SC_PAGESIZE),
					       NULL, NULL);
	if (rc < 0 || mp->populated_size != count) {
		unsigned populated = mp->populated_size;
		rte_mempool_free(mp);
		rte_memzone_free(mz);
		return fail(rc < 0 ? rc : -ENOMEM,
			    "pool: populated %u of %u buffers over the zone\n", populated, count);
	}
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);

	struct pool *p = &pools[pool_count];
	p->mp = mp;
	p->mz = mz;
	p->base = mz->addr;
	p->len = mz->len;
	p->data_room_off = (uint32_t)(sizeof(struct rte_mbuf) + rte_pktmbuf_priv_size(mp));
	p->obj_size = sz.total_size;
	p->marks = calloc((mz->len >> 6) + 1, 1);
	if (p->marks == NULL) {
		rte_mempool_free(mp);
		rte_memzone_free(mz);
		memset(p, 0, sizeof(*p));
		return fail(-ENOMEM, "pool: out of memory\n");
	}
	return pool_count++;
}

void *luna_pool_base(int32_t id)
{
	struct pool *p = pool_get(id);
	return p ? p->base : NULL;
}

void *luna_pool_marks(int32_t id)
{
	struct pool *p = pool_get(id);
	return p ? p->marks : NULL;
}

/* The entry of the buffer at handle h, if the table has one for it. */
static inline struct hot_entry *hot_entry_of(const struct pool *p, uint32_t h)
{
	size_t i = h / p->obj_size;
	if (unlikely(i >= p->mp->size))
		return NULL;
	return (struct hot_entry *)(p->hot + i * p->hot_stride);
}

/* Starts loading what hot_or_cksum16 reads of the buffer at handle h. */
static inline void hot_prefetch(const struct pool *p, uint32_t h)
{
	rte_prefetch0(&p->marks[h >> 6]);
	size_t i = h / p->obj_size;
	if (i < p->mp->size)
		rte_prefetch0(p->hot + i * p->hot_stride);
}

/* The table of hot sums, made on first use; 0, or -ENOMEM (then none kept). */
static int hot_table(struct pool *p)
{
	if (p->hot != NULL)
		return 0;
	uint32_t room = rte_pktmbuf_data_room_size(p->mp);
	uint32_t blocks = (room + LUNA_HOT_BLOCK - 1) / LUNA_HOT_BLOCK;
	/* An entry a cache line (two from 3585 bytes of data room on), each on its own. */
	p->hot_stride = (uint32_t)RTE_ALIGN_CEIL(sizeof(struct hot_entry) + 2 * blocks, RTE_CACHE_LINE_SIZE);
	p->hot = aligned_alloc(RTE_CACHE_LINE_SIZE, (size_t)p->mp->size * p->hot_stride);
	if (p->hot != NULL)
		memset(p->hot, 0, (size_t)p->mp->size * p->hot_stride);
	if (p->hot == NULL) {
		p->hot_on = 0;
		return -ENOMEM;
	}
	return 0;
}

/* The folded sum of the n bytes at d, which lie in the data room of the
 * buffer at buf_addr (a zone buffer's or not): from the buffer's hot sums
 * where it has them. */
static inline uint16_t hot_or_cksum16(const struct pool *p, const char *buf_addr, const char *d, uint32_t n)
{
	if (p != NULL && p->hot != NULL && buf_addr >= p->base + p->data_room_off &&
	    buf_addr < p->base + p->len) {
		uint32_t h = (uint32_t)(buf_addr - p->base - p->data_room_off);
		if ((h & 63) == 0 && p->marks[h >> 6]) {
			const struct hot_entry *en = hot_entry_of(p, h);
			if (en != NULL && en->h == h)
				return luna_hot_sum((const uint8_t *)buf_addr, en->lo, en->hi, en->sums,
						    (uint32_t)(d - buf_addr), (uint32_t)(d - buf_addr) + n);
		}
	}
	return cksum16(d, n);
}

int32_t luna_pool_info(int32_t id, uint32_t *out, uint32_t words)
{
	op_begin();
	struct pool *p = pool_get(id);
	if (p == NULL)
		return fail(-ENOENT, "pool %d does not exist", id);
	if (words < LUNA_POOL_INFO_WORDS)
		return fail(-EINVAL, "pool info: need %d words", LUNA_POOL_INFO_WORDS);
	out[LUNA_POOL_INFO_COUNT] = p->mp->size;
	out[LUNA_POOL_INFO_CACHE] = p->mp->cache_size;
	out[LUNA_POOL_INFO_DATA_ROOM] = rte_pktmbuf_data_room_size(p->mp);
	out[LUNA_POOL_INFO_HEADROOM] = RTE_PKTMBUF_HEADROOM;
	out[LUNA_POOL_INFO_DATA_ROOM_OFF] = p->data_room_off;
	out[LUNA_POOL_INFO_REFCNT_OFF] = offsetof(struct rte_mbuf, refcnt);
	out[LUNA_POOL_INFO_LEN_LO] = (uint32_t)p->len;
	out[LUNA_POOL_INFO_LEN_HI] = (uint32_t)((uint64_t)p->len >> 32);
	return LUNA_POOL_INFO_WORDS;
}

/* The pool's free buffers: what rte_mempool_avail_count() says, without
 * reading the cache of every possible lcore. That walk reads RTE_MAX_LCORE
 * (128) caches, each on lines of its own that nothing else touches: about
 * 5 us a call when they are cold, as they are between two counts (1.25% of
 * the CPU of 64 KiB answers over memif). Only the caches of cache_lcores
 * are read here. */
int32_t luna_pool_avail(int32_t id)
{
	struct pool *p = pool_get(id);
	if (p == NULL)
		return -ENOENT;
	const struct rte_mempool *mp = p->mp;
	uint32_t n = __atomic_load_n(&cache_lcores_n, __ATOMIC_ACQUIRE);
	if (n == 0)
		return (int32_t)rte_mempool_avail_count(mp);
	/* The common pool's own count (what rte_mempool_ops_get_count() returns; that wrapper
	 * is internal to librte_mempool). */
	unsigned int count = rte_mempool_get_ops(mp->ops_index)->get_count(mp);
	if (mp->cache_size != 0)
		for (uint32_t i = 0; i < n; i++)
			count += mp->local_cache[cache_lcores[i]].len;
	return (int32_t)(count > mp->size ? mp->size : count);
}

int32_t luna_pool_free(int32_t id, int32_t driver_held)
{
	op_begin();
	struct pool *p = pool_get(id);
	if (p == NULL)
		return fail(-ENOENT, "pool %d does not exist", id);
	if (!driver_held && !rte_mempool_full(p->mp))
		return fail(-EBUSY, "pool %d: %u buffers still in use", id,
			    rte_mempool_in_use_count(p->mp));
	rte_mempool_free(p->mp);
	rte_memzone_free(p->mz);
	free(p->marks);
	free(p->hot);
	memset(p, 0, sizeof(*p));
	return 0;
}

struct shareable_walk {
	const struct rte_memseg_list *msl; /* the first list with segments */
	int lists;			   /* lists with segments */
	int fd;				   /* the first list's file */
	size_t len;			   /* its segments' bytes, one after another */
	int gap;			   /* a segment of it not at base + len, or of another file */
};

static int shareable_seg(const struct rte_memseg_list *msl, const struct rte_memseg *ms, void *arg)
{
	struct shareable_walk *w = arg;
	if (w->msl != msl) {
		w->lists++;
		if (w->msl != NULL)
			return 0;
		w->msl = msl;
		w->fd = rte_memseg_get_fd_thread_unsafe(ms);
	}
	if (w->lists > 1)
		return 0;
	if ((char *)ms->addr != (char *)msl->base_va + w->len ||
	    rte_memseg_get_fd_thread_unsafe(ms) != w->fd)
		w->gap = 1;
	w->len += ms->len;
	return 0;
}

int32_t luna_mem_shareable(void)
{
	op_begin();
	if (need_eal() < 0)
		return -EINVAL;
	struct shareable_walk w = { .msl = NULL, .lists = 0, .fd = -1, .len = 0, .gap = 0 };
	rte_memseg_walk(shareable_seg, &w); /* holds the memory lock around the callbacks */
	if (w.msl == NULL || w.fd < 0)
		return fail(-ENOTSUP,
			    "the EAL's memory has no file to share (anonymous memory: --no-huge without "
			    "a memfd, or hugepages without --single-file-segments)");
	if (w.lists > 1)
		return fail(-ENOTSUP,
			    "the EAL's memory spans %d segment lists (pages of more than one size, or "
			    "more than one NUMA socket): memif zero-copy shares the first one only",
			    w.lists);
	if (w.gap)
		return fail(-ENOTSUP,
			    "the EAL's memory is not one file, page after page, from its segment "
			    "list's start (hugepages without --single-file-segments?)");
	return 0;
}

int32_t luna_alloc_bulk(int32_t id, uint32_t *handles, uint32_t n)
{
	struct pool *p = pool_get(id);
	if (unlikely(p == NULL))
		return -ENOENT;
	struct rte_mbuf *m[LUNA_BURST_MAX];
	uint32_t done = 0;
	while (done < n) {
		uint32_t k = n - done < LUNA_BURST_MAX ? n - done : LUNA_BURST_MAX;
		if (rte_pktmbuf_alloc_bulk(p->mp, m, k) != 0) {
			/* All or nothing: give back what this call took. */
			for (uint32_t i = 0; i < done; i++)
				rte_pktmbuf_free((struct rte_mbuf *)(p->base + handles[i]));
			return -ENOBUFS;
		}
		for (uint32_t i = 0; i < k; i++)
			handles[done + i] = (uint32_t)((char *)m[i] - p->base);
		done += k;
	}
	return (int32_t)n;
}

int32_t luna_free_bulk(int32_t id, const uint32_t *handles, uint32_t n)
{
	struct pool *p = pool_get(id);
	if (unlikely(p == NULL))
		return -ENOENT;
	struct rte_mbuf *m[LUNA_BURST_MAX];
	int32_t bad = 0;
	uint32_t k = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct rte_mbuf *mb = handle_mbuf(p, handles[i]);
		if (unlikely(mb == NULL)) {
			bad++;
			continue;
		}
		m[k++] = mb;
		if (k == LUNA_BURST_MAX) {
			rte_pktmbuf_free_bulk(m, k);
			k = 0;
		}
	}
	if (k > 0)
		rte_pktmbuf_free_bulk(m, k);
	return bad ? -EINVAL : (int32_t)n;
}

int32_t luna_refcnt_update(int32_t id, const uint32_t *handles, uint32_t n, int32_t delta)
{
	struct pool *p = pool_get(id);
	if (unlikely(p == NULL))
		return -ENOENT;
	if (delta < -1 || delta > 1)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (unlikely(handle_mbuf(p, handles[i]) == NULL))
			return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		struct rte_mbuf *m = (struct rte_mbuf *)(p->base + handles[i]);
		if (delta > 0)
			rte_mbuf_refcnt_update(m, 1);
		else
			rte_pktmbuf_free(m); /* drops one reference, frees at zero */
	}
	return (int32_t)n;
}

int32_t luna_copy_in(int32_t id, const uint8_t *src, uint32_t src_len, uint32_t src_off,
		     const uint32_t *dst, uint32_t n)
{
	struct pool *p = pool_get(id);
	if (unlikely(p == NULL))
		return -ENOENT;
	uint64_t total = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint32_t *d = dst + 3 * i;
		const struct rte_mbuf *m = handle_mbuf(p, d[0]);
		uint64_t room = m == NULL ? 0 : (uint64_t)((char *)m->buf_addr - p->base);
		if (unlikely(m == NULL || d[1] < room || (uint64_t)d[1] + d[2] > room + m->buf_len))
			return -EINVAL;
		total += d[2];
	}
	if (unlikely((uint64_t)src_off + total > src_len))
		return -EINVAL;
	if (p->hot_on && hot_table(p) == 0) {
		for (uint32_t i = 0; i < n; i++) {
			const uint32_t *d = dst + 3 * i;
			struct rte_mbuf *m = (struct rte_mbuf *)(p->base + d[0]);
			struct hot_entry *en = hot_entry_of(p, d[0]);
			uint32_t lo = (uint32_t)(p->base + d[1] - (char *)m->buf_addr);
			if (en == NULL || d[2] == 0) {
				rte_memcpy(p->base + d[1], src + src_off, d[2]);
			} else if (p->marks[d[0] >> 6] && en->h == d[0] && en->hi == lo) {
				/* Right after the bytes summed (a write topping up the last one): summed in. */
				luna_copy_sum_more(m->buf_addr, en->lo, lo, src + src_off, d[2], en->sums);
				en->hi = (uint16_t)(lo + d[2]);
			} else {
				luna_copy_sum(m->buf_addr, lo, src + src_off, d[2], en->sums);
				en->h = d[0];
				en->lo = (uint16_t)lo;
				en->hi = (uint16_t)(lo + d[2]);
				p->marks[d[0] >> 6] = 1;
			}
			src_off += d[2];
		}
		return (int32_t)n;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint32_t *d = dst + 3 * i;
		rte_memcpy(p->base + d[1], src + src_off, d[2]);
		src_off += d[2];
	}
	return (int32_t)n;
}

/* ---------------------------------------------------------- chain pools */

/* The shim's own mbufs for chains (see luna_shim.h): indirect ones that
 * reference zone buffers, and direct ones that hold a copy of a packet's
 * headers (the head of a chain, and each segment software GSO cuts). Made
 * once per process, by the first port configured to take chains. */
#define CHAIN_INDIRECT_COUNT 32767
#define CHAIN_HEADER_COUNT 16383
#define CHAIN_HEADER_ROOM 256
static int32_t chain_pools_init(void)
{
	if (chain_header != NULL)
		return 0;
	if (chain_indirect == NULL)
		chain_indirect = rte_pktmbuf_pool_create("luna_chain_ind", CHAIN_INDIRECT_COUNT, 256, 0,
							 0, SOCKET_ID_ANY);
	if (chain_indirect == NULL)
		return fail(-rte_errno, "chain pool (indirect mbufs): %s\n", rte_strerror(rte_errno));
	chain_header = rte_pktmbuf_pool_create("luna_chain_hdr", CHAIN_HEADER_COUNT, 256, 0,
					       RTE_PKTMBUF_HEADROOM + CHAIN_HEADER_ROOM, SOCKET_ID_ANY);
	if (chain_header == NULL)
		return fail(-rte_errno, "chain pool (headers): %s\n", rte_strerror(rte_errno));
	return 0;
}

/* ----------------------------------------------------------------- ports */

static int32_t port_pool[LUNA_PORTS_MAX];
static uint8_t port_started[LUNA_PORTS_MAX];
/* Checksum offloads the port does in hardware; the rest the shim does in
 * software over each burst, so that the stack can always ask for them. */
static uint32_t port_rx_hw[LUNA_PORTS_MAX];
static uint32_t port_tx_hw[LUNA_PORTS_MAX];
/* LUNA_PORT_NO_CKSUM: a link that needs no checksums; none filled or verified. */
static uint8_t port_no_cksum[LUNA_PORTS_MAX];
#define SHIM_STATS (LUNA_STAT_WORDS - LUNA_STAT_SHIM_RX_FOREIGN)
static uint64_t shim_stats[LUNA_PORTS_MAX][SHIM_STATS];

/* The AF_XDP sockets of each af_xdp port: the PMD makes one per receive
 * queue while the queue is set up (luna_port_configure notes which sockets
 * appeared then), and nothing else names them (this kernel may lack
 * sock_diag for AF_XDP, and an AF_XDP socket has no getsockname). */
#define XSK_FDS_MAX 16
static int xsk_fds[RTE_MAX_ETHPORTS][XSK_FDS_MAX];
static int xsk_nfds[RTE_MAX_ETHPORTS];
/* What xsk_ring_drops last read per port (the kernel's counts only grow). */
static uint64_t xsk_full_seen[RTE_MAX_ETHPORTS];

/* Lists the sockets of `family` open in this process into out[0..max); returns how many. */
static int open_sockets(int family, int *out, int max)
{
	DIR *dir = opendir("/proc/self/fd");
	if (dir == NULL)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL && n < max) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end != '\0' || fd < 0 || fd == dirfd(dir))
			continue;
		int domain = 0;
		socklen_t len = sizeof(domain);
		if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == family)
			out[n++] = (int)fd;
	}
	closedir(dir);
	return n;
}

/* Notes as `port`'s the AF_XDP sockets open now that are not in before[0..nb). */
static void xsk_note_new(int32_t port, const int *before, int nb)
{
	int now[256];
	int n = open_sockets(AF_XDP, now, 256);
	xsk_nfds[port] = 0;
	xsk_full_seen[port] = 0;
	for (int i = 0; i < n && xsk_nfds[port] < XSK_FDS_MAX; i++) {
		int old = 0;
		for (int j = 0; j < nb && !old; j++)
			old = before[j] == now[i];
		if (!old)
			xsk_fds[port][xsk_nfds[port]++] = now[i];
	}
}

/* Frames the kernel dropped because an AF_XDP socket's rx ring was full.
 * DPDK 22.11's net_af_xdp reports the socket's rx_dropped (as imissed) but
 * not its rx_ring_full: those frames showed in no counter of ours (only in
 * the veth's rx_dropped). XDP_STATISTICS does not zero the kernel's counts:
 * what grew since the last read is added up here. */
static void xsk_ring_drops(int32_t port)
{
	uint64_t full = 0;
	for (int i = 0; i < xsk_nfds[port]; i++) {
		struct xdp_statistics st;
		memset(&st, 0, sizeof(st));
		socklen_t len = sizeof(st);
		if (getsockopt(xsk_fds[port][i], SOL_XDP, XDP_STATISTICS, &st, &len) == 0)
			full += st.rx_ring_full;
	}
	if (full > xsk_full_seen[port])
		__atomic_fetch_add(&shim_stats[port][LUNA_STAT_SHIM_RX_RING_DROPPED - LUNA_STAT_SHIM_RX_FOREIGN],
				   full - xsk_full_seen[port], __ATOMIC_RELAXED);
	xsk_full_seen[port] = full;
}
/* Segmentation of large TCP packets on the port: none, the NIC's, the shim's. */
enum { SEG_NONE, SEG_TSO, SEG_GSO };
static uint8_t port_seg[LUNA_PORTS_MAX];
/* The mbufs one step of a transmit burst makes before it hands them to the
 * PMD; the next step only if the PMD took them all. A ring that is full
 * takes none, and what the call made for it is thrown away (GSO's segments,
 * a chain's mbufs) or made again at the next call (each record's mbuf fields,
 * on cache lines long cold): the steps bound that waste by a step's worth,
 * not by the records waiting (hundreds, with many connections answering at
 * once into a ring the peer drains a burst at a time). A step ends at the
 * first packet that begins past this count, so it holds up to one packet's
 * segments more. */
#define TX_STEP_MBUFS 64
#define TX_STEP_MBUFS_MAX (TX_STEP_MBUFS + LUNA_GSO_SEGS_MAX)
/* Per transmit queue of a port the shim segments for (GSO): what the PMD did
 * not take of the last step that cut packets, up to the end of the last
 * packet cut, sent before anything else at the next burst, so that no packet
 * is cut twice; and whether the ring refused something since the last call
 * the PMD took whole. */
struct tx_backlog {
	uint16_t n;
	uint8_t refusing;
	struct rte_mbuf *m[TX_STEP_MBUFS_MAX];
};
static struct tx_backlog *port_backlog[LUNA_PORTS_MAX];
static uint16_t port_backlog_queues[LUNA_PORTS_MAX];

static void port_backlog_free(int32_t port)
{
	struct tx_backlog *b = port_backlog[port];
	if (b == NULL)
		return;
	for (uint16_t q = 0; q < port_backlog_queues[port]; q++)
		if (b[q].n > 0)
			rte_pktmbuf_free_bulk(b[q].m, b[q].n);
	free(b);
	port_backlog[port] = NULL;
	port_backlog_queues[port] = 0;
}
/* Per receive queue: packets checked (and coalesced) that the last burst
 * call had no records left to describe; the next call hands them out first. */
struct rx_stash {
	uint16_t n, head;
	struct rte_mbuf *m[LUNA_BURST_MAX];
};
static struct rx_stash *port_stash[LUNA_PORTS_MAX];
static uint16_t port_stash_queues[LUNA_PORTS_MAX];
/* LUNA_PORT_GRO: received TCP segments are coalesced in software. */
static uint8_t port_gro[LUNA_PORTS_MAX];

static void port_stash_free(int32_t port)
{
	struct rx_stash *st = port_stash[port];
	if (st == NULL)
		return;
	for (uint16_t q = 0; q < port_stash_queues[port]; q++)
		for (uint16_t i = st[q].head; i < st[q].n; i++)
			rte_pktmbuf_free(st[q].m[i]);
	free(st);
	port_stash[port] = NULL;
	port_stash_queues[port] = 0;
}
/* The MTU luna runs the port at (0: not configured), and the longest frame
 * received that it lets through: MTU + Ethernet header (no VLAN tag). */
static uint16_t port_mtu[LUNA_PORTS_MAX];
static uint32_t port_frame_max[LUNA_PORTS_MAX];
static int port_pool_init;

static void port_pools_reset(void)
{
	if (port_pool_init)
		return;
	for (int i = 0; i < LUNA_PORTS_MAX; i++)
		port_pool[i] = -1;
	port_pool_init = 1;
}

static int32_t need_port(int32_t port)
{
	if (need_eal() < 0)
		return -EINVAL;
	port_pools_reset();
	if (pkt_open(port))
		return 0;
	if (port < 0 || port >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port((uint16_t)port))
		return fail(-ENODEV, "port %d does not exist (%u ports are available)", port,
			    rte_eth_dev_count_avail());
	port_pools_reset();
	return 0;
}

static int32_t copy_name(const uint8_t *s, uint32_t len, char *out, size_t cap)
{
	if (s == NULL || len == 0 || len >= cap)
		return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

int32_t luna_port_count(void)
{
	if (eal_state != EAL_UP)
		return -EINVAL;
	return (int32_t)rte_eth_dev_count_avail();
}

int32_t luna_port_find(const uint8_t *name, uint32_t name_len)
{
	op_begin();
	if (need_eal() < 0)
		return -EINVAL;
	char buf[RTE_ETH_NAME_MAX_LEN];
	if (copy_name(name, name_len, buf, sizeof(buf)) < 0)
		return fail(-EINVAL, "port name: empty or longer than %d bytes",
			    RTE_ETH_NAME_MAX_LEN - 1);
	if (strncmp(buf, LUNA_PACKET_DRIVER, strlen(LUNA_PACKET_DRIVER)) == 0) {
		int32_t id = pkt_find(buf);
		return id >= 0 ? id : fail(-ENODEV, "no port named '%s'", buf);
	}
	uint16_t port;
	if (rte_eth_dev_get_port_by_name(buf, &port) != 0)
		return fail(-ENODEV, "no port named '%s'", buf);
	return port;
}

int32_t luna_port_attach(const uint8_t *devargs, uint32_t len)
{
	op_begin();
	if (need_eal() < 0)
		return -EINVAL;
	char buf[1024];
	if (copy_name(devargs, len, buf, sizeof(buf)) < 0)
		return fail(-EINVAL, "device arguments: empty or longer than 1023 bytes");
	if (strncmp(buf, LUNA_PACKET_DRIVER, strlen(LUNA_PACKET_DRIVER)) == 0) {
		port_pools_reset();
		int32_t id = pkt_attach(buf);
		return id >= 0 ? id : fail(id, "%s", pkt_error());
	}
	int rc = rte_dev_probe(buf);
	if (rc < 0)
		return fail(rc, "cannot attach device '%s': %s\n", buf, rte_strerror(-rc));
	/* The port carries the device's name: the devargs up to the first comma. */
	char *comma = strchr(buf, ',');
	if (comma != NULL)
		*comma = '\0';
	uint16_t port;
	if (rte_eth_dev_get_port_by_name(buf, &port) != 0)
		return fail(-ENODEV, "device '%s' attached but has no ethernet port", buf);
	return port;
}

int32_t luna_port_name(int32_t port, uint8_t *out, uint32_t cap)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port))
		return copy_out(pkt_name(port), out, cap);
	char name[RTE_ETH_NAME_MAX_LEN];
	if (rte_eth_dev_get_name_by_port((uint16_t)port, name) != 0)
		return fail(-ENODEV, "port %d has no name", port);
	return copy_out(name, out, cap);
}

int32_t luna_port_driver(int32_t port, uint8_t *out, uint32_t cap)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port))
		return copy_out(LUNA_PACKET_DRIVER, out, cap);
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get((uint16_t)port, &info);
	if (rc != 0)
		return fail(rc, "port %d: device info: %s\n", port, rte_strerror(-rc));
	return copy_out(info.driver_name ? info.driver_name : "", out, cap);
}

static uint32_t rx_offloads_luna(uint64_t capa)
{
	uint32_t o = 0;
	if (capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM)
		o |= LUNA_OFFLOAD_IPV4_CKSUM;
	if (capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM)
		o |= LUNA_OFFLOAD_TCP_CKSUM;
	if (capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM)
		o |= LUNA_OFFLOAD_UDP_CKSUM;
	if (capa & RTE_ETH_RX_OFFLOAD_RSS_HASH)
		o |= LUNA_OFFLOAD_RSS_HASH;
	if (capa & RTE_ETH_RX_OFFLOAD_TCP_LRO)
		o |= LUNA_OFFLOAD_TCP_LRO;
	return o;
}

static uint32_t tx_offloads_luna(uint64_t capa)
{
	uint32_t o = 0;
	if (capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
		o |= LUNA_OFFLOAD_IPV4_CKSUM;
	if (capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM)
		o |= LUNA_OFFLOAD_TCP_CKSUM;
	if (capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM)
		o |= LUNA_OFFLOAD_UDP_CKSUM;
	if (capa & RTE_ETH_TX_OFFLOAD_TCP_TSO)
		o |= LUNA_OFFLOAD_TCP_TSO;
	return o;
}

static uint64_t rx_offloads_rte(uint32_t o)
{
	uint64_t r = 0;
	if (o & LUNA_OFFLOAD_IPV4_CKSUM)
		r |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	if (o & LUNA_OFFLOAD_TCP_CKSUM)
		r |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
	if (o & LUNA_OFFLOAD_UDP_CKSUM)
		r |= RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	if (o & LUNA_OFFLOAD_RSS_HASH)
		r |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
	if (o & LUNA_OFFLOAD_TCP_LRO)
		r |= RTE_ETH_RX_OFFLOAD_TCP_LRO | RTE_ETH_RX_OFFLOAD_SCATTER;
	return r;
}

static uint64_t tx_offloads_rte(uint32_t o)
{
	uint64_t r = 0;
	if (o & LUNA_OFFLOAD_IPV4_CKSUM)
		r |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	if (o & LUNA_OFFLOAD_TCP_CKSUM)
		r |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	if (o & LUNA_OFFLOAD_UDP_CKSUM)
		r |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	if (o & LUNA_OFFLOAD_TCP_TSO)
		r |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
	return r;
}

static uint32_t rss_luna(uint64_t hf)
{
	uint32_t o = 0;
	if (hf & RTE_ETH_RSS_IPV4)
		o |= LUNA_RSS_IPV4;
	if (hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP)
		o |= LUNA_RSS_IPV4_TCP;
	if (hf & RTE_ETH_RSS_NONFRAG_IPV4_UDP)
		o |= LUNA_RSS_IPV4_UDP;
	return o;
}

static uint64_t rss_rte(uint32_t o)
{
	uint64_t hf = 0;
	if (o & LUNA_RSS_IPV4)
		hf |= RTE_ETH_RSS_IPV4;
	if (o & LUNA_RSS_IPV4_TCP)
		hf |= RTE_ETH_RSS_NONFRAG_IPV4_TCP;
	if (o & LUNA_RSS_IPV4_UDP)
		hf |= RTE_ETH_RSS_NONFRAG_IPV4_UDP;
	return hf;
}

/* Whether the PMD transmits chained mbufs whole. net_af_packet copies chains
 * without saying so; net_af_xdp (22.11) says so and copies only the first
 * segment's bytes in copy mode; net_ring hands them to a receiver that takes
 * single buffers of its own pool only. */
static int tx_chains_ok(const struct rte_eth_dev_info *info)
{
	const char *d = info->driver_name ? info->driver_name : "";
	if (strcmp(d, "net_af_xdp") == 0 || strcmp(d, "net_ring") == 0)
		return 0;
	return (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0 ||
	       strcmp(d, "net_af_packet") == 0;
}

static uint32_t tx_capa_luna(const struct rte_eth_dev_info *info)
{
	uint32_t o = tx_offloads_luna(info->tx_offload_capa);
	if (tx_chains_ok(info))
		o |= LUNA_OFFLOAD_TCP_GSO;
	else
		o &= ~LUNA_OFFLOAD_TCP_TSO; /* a TSO packet is a chain here */
	return o;
}

/* ------------------------------------------------- packet ports (packet_port.c) */

/* A packet port offers what a NIC with TSO, LRO and checksum offloads would. */
#define PKT_RX_CAPA (LUNA_OFFLOAD_IPV4_CKSUM | LUNA_OFFLOAD_TCP_CKSUM | LUNA_OFFLOAD_TCP_LRO)
#define PKT_TX_CAPA (LUNA_OFFLOAD_IPV4_CKSUM | LUNA_OFFLOAD_TCP_CKSUM | LUNA_OFFLOAD_TCP_TSO)

static int32_t packet_port_info(int32_t port, uint32_t *out, uint32_t words)
{
	if (words < LUNA_PORT_INFO_WORDS)
		return fail(-EINVAL, "port info: need %d words", LUNA_PORT_INFO_WORDS);
	struct pkt_info pi;
	if (pkt_info(port, &pi) < 0)
		return fail(-ENODEV, "port %d does not exist", port);
	memset(out, 0, LUNA_PORT_INFO_WORDS * sizeof(uint32_t));
	out[LUNA_PORT_INFO_MAX_RXQ] = 1;
	out[LUNA_PORT_INFO_MAX_TXQ] = 1;
	out[LUNA_PORT_INFO_RX_OFFLOADS] = PKT_RX_CAPA;
	out[LUNA_PORT_INFO_TX_OFFLOADS] = PKT_TX_CAPA;
	out[LUNA_PORT_INFO_RX_DESC_MAX] = 4096;
	out[LUNA_PORT_INFO_TX_DESC_MAX] = 4096;
	out[LUNA_PORT_INFO_MAX_RX_PKTLEN] = pi.frame_max;
	out[LUNA_PORT_INFO_MTU] = port_mtu[port] != 0 ? port_mtu[port] : pi.mtu;
	out[LUNA_PORT_INFO_SOCKET] = UINT32_MAX;
	out[LUNA_PORT_INFO_IF_INDEX] = pi.if_index;
	out[LUNA_PORT_INFO_STARTED] = port_started[port];
	out[LUNA_PORT_INFO_RX_HELD] = pi.rx_held;
	return LUNA_PORT_INFO_WORDS;
}

static int32_t packet_port_configure(int32_t port, int32_t pool, uint32_t nb_rxq, uint32_t nb_txq,
				     uint32_t rx_offloads, uint32_t tx_offloads, uint32_t rss_hashes,
				     uint32_t mtu, uint32_t flags)
{
	struct pool *p = pool_get(pool);
	if (p == NULL)
		return fail(-ENOENT, "pool %d does not exist", pool);
	if ((rx_offloads & ~PKT_RX_CAPA) || (tx_offloads & ~PKT_TX_CAPA))
		return fail(-ENOTSUP, "port %d: offloads asked rx 0x%x tx 0x%x, offered rx 0x%x tx 0x%x", port,
			    rx_offloads, tx_offloads, PKT_RX_CAPA, PKT_TX_CAPA);
	if (rss_hashes != 0)
		return fail(-ENOTSUP, "port %d: RSS on 0x%x asked, a packet port has one queue", port, rss_hashes);
	if (flags & LUNA_PORT_NO_CKSUM)
		return fail(-ENOTSUP, "port %d: a packet port's link is the kernel's: checksums are its offloads'",
			    port);
	struct pkt_info pi;
	if (pkt_info(port, &pi) < 0)
		return fail(-ENODEV, "port %d does not exist", port);
	/* The kernel refuses a frame longer than the interface's MTU that is not a GSO packet. */
	if (mtu != 0 && (mtu < RTE_ETHER_MIN_MTU || mtu > pi.mtu))
		return fail(-EINVAL, "port %d (%s): MTU %u refused: the interface's MTU is %u (set it with ip link)",
			    port, LUNA_PACKET_DRIVER, mtu, pi.mtu);
	if (tx_offloads & LUNA_OFFLOAD_TCP_TSO) {
		int32_t rc = chain_pools_init();
		if (rc < 0)
			return rc;
	}
	int32_t rc = pkt_configure(port, p->mp, nb_rxq, nb_txq);
	if (rc < 0)
		return fail(rc, "%s", pkt_error());
	uint32_t frame = (mtu != 0 ? mtu : pi.mtu) + RTE_ETHER_HDR_LEN;
	port_pool[port] = pool;
	port_mtu[port] = (uint16_t)(frame - RTE_ETHER_HDR_LEN);
	port_frame_max[port] = frame;
	port_rx_hw[port] = rx_offloads;
	port_tx_hw[port] = tx_offloads;
	port_no_cksum[port] = 0;
	port_gro[port] = (flags & LUNA_PORT_GRO) != 0;
	port_tx_quads[port] = (flags & LUNA_PORT_TX_QUADS) != 0;
	port_stash_free(port);
	port_stash[port] = calloc(1, sizeof(struct rx_stash));
	if (port_stash[port] == NULL)
		return fail(-ENOMEM, "port %d: out of memory", port);
	port_stash_queues[port] = 1;
	port_seg[port] = (tx_offloads & LUNA_OFFLOAD_TCP_TSO) ? SEG_TSO : SEG_NONE;
	port_backlog_free(port);
	memset(shim_stats[port], 0, sizeof(shim_stats[port]));
	return 0;
}

/* Closes a packet port: its socket shut, every buffer it held given back, its id free again. */
static int32_t packet_port_close(int32_t port)
{
	int32_t rc = pkt_close(port);
	if (rc < 0)
		return fail(rc, "%s", pkt_error());
	port_pool[port] = -1;
	port_mtu[port] = 0;
	port_started[port] = 0;
	port_backlog_free(port);
	port_stash_free(port);
	return 0;
}

static int32_t packet_port_stats(int32_t port, uint64_t *out)
{
	struct pkt_stats ps;
	if (pkt_stats(port, &ps) < 0)
		return fail(-ENODEV, "port %d does not exist", port);
	memset(out, 0, LUNA_STAT_WORDS * sizeof(uint64_t));
	out[LUNA_STAT_IPACKETS] = ps.ipackets;
	out[LUNA_STAT_OPACKETS] = ps.opackets;
	out[LUNA_STAT_IBYTES] = ps.ibytes;
	out[LUNA_STAT_OBYTES] = ps.obytes;
	out[LUNA_STAT_OERRORS] = ps.oerrors;
	out[LUNA_STAT_RX_NOMBUF] = ps.rx_nombuf;
	for (int i = 0; i < SHIM_STATS; i++)
		out[LUNA_STAT_SHIM_RX_FOREIGN + i] = __atomic_load_n(&shim_stats[port][i], __ATOMIC_RELAXED);
	out[LUNA_STAT_SHIM_RX_RING_DROPPED] += ps.kernel_drops;
	out[LUNA_STAT_SHIM_RX_VNET_DROPPED] += ps.rx_vnet_bad;
	return LUNA_STAT_WORDS;
}

int32_t luna_port_info(int32_t port, uint32_t *out, uint32_t words)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port))
		return packet_port_info(port, out, words);
	if (words < LUNA_PORT_INFO_WORDS)
		return fail(-EINVAL, "port info: need %d words", LUNA_PORT_INFO_WORDS);
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get((uint16_t)port, &info);
	if (rc != 0)
		return fail(rc, "port %d: device info: %s\n", port, rte_strerror(-rc));
	uint16_t mtu = 0;
	(void)rte_eth_dev_get_mtu((uint16_t)port, &mtu);
	int socket = rte_eth_dev_socket_id((uint16_t)port);
	out[LUNA_PORT_INFO_MAX_RXQ] = info.max_rx_queues;
	out[LUNA_PORT_INFO_MAX_TXQ] = info.max_tx_queues;
	out[LUNA_PORT_INFO_RX_OFFLOADS] = rx_offloads_luna(info.rx_offload_capa);
	out[LUNA_PORT_INFO_TX_OFFLOADS] = tx_capa_luna(&info);
	out[LUNA_PORT_INFO_RSS_HASHES] = rss_luna(info.flow_type_rss_offloads);
	out[LUNA_PORT_INFO_RETA_SIZE] = info.reta_size;
	out[LUNA_PORT_INFO_RX_DESC_MAX] = info.rx_desc_lim.nb_max;
	out[LUNA_PORT_INFO_TX_DESC_MAX] = info.tx_desc_lim.nb_max;
	out[LUNA_PORT_INFO_MAX_RX_PKTLEN] = info.max_rx_pktlen;
	out[LUNA_PORT_INFO_MTU] = port_mtu[port] != 0 ? port_mtu[port] : mtu;
	out[LUNA_PORT_INFO_SOCKET] = socket < 0 ? UINT32_MAX : (uint32_t)socket;
	out[LUNA_PORT_INFO_IF_INDEX] = info.if_index;
	out[LUNA_PORT_INFO_STARTED] = port_started[port];
	out[LUNA_PORT_INFO_RX_HELD] = 0; /* a DPDK PMD's receive ring is its own business */
	return LUNA_PORT_INFO_WORDS;
}

int32_t luna_port_configure(int32_t port, int32_t pool, uint32_t nb_rxq, uint32_t nb_txq,
			    uint32_t rx_desc, uint32_t tx_desc, uint32_t rx_offloads,
			    uint32_t tx_offloads, uint32_t rss_hashes, uint32_t mtu, uint32_t flags)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port))
		return packet_port_configure(port, pool, nb_rxq, nb_txq, rx_offloads, tx_offloads, rss_hashes,
					     mtu, flags);
	struct pool *p = pool_get(pool);
	if (p == NULL)
		return fail(-ENOENT, "pool %d does not exist", pool);
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get((uint16_t)port, &info);
	if (rc != 0)
		return fail(rc, "port %d: device info: %s\n", port, rte_strerror(-rc));
	port_guarded[port] = info.driver_name != NULL && strcmp(info.driver_name, "net_memif") == 0;
	if (port_guarded[port] && region_guard != 1) {
		port_guarded[port] = 0;
		RTE_LOG(WARNING, EAL,
			"luna: port %d: memif's unmapping of its regions could not be guarded (%s); "
			"a peer that leaves during a burst can crash this process\n",
			port, strerror(region_guard_errno ? region_guard_errno : ENOENT));
	}
	if (nb_rxq < 1 || nb_rxq > info.max_rx_queues || nb_txq < 1 ||
	    nb_txq > info.max_tx_queues)
		return fail(-EINVAL, "port %d: %u rx / %u tx queues asked, the port has %u / %u",
			    port, nb_rxq, nb_txq, info.max_rx_queues, info.max_tx_queues);
	uint32_t rx_capa = rx_offloads_luna(info.rx_offload_capa);
	uint32_t tx_capa = tx_capa_luna(&info);
	if ((rx_offloads & ~rx_capa) || (tx_offloads & ~tx_capa))
		return fail(-ENOTSUP,
			    "port %d: offloads asked rx 0x%x tx 0x%x, offered rx 0x%x tx 0x%x", port,
			    rx_offloads, tx_offloads, rx_capa, tx_capa);
	uint64_t rss_hf = rss_rte(rss_hashes) & info.flow_type_rss_offloads;
	if (rss_hf != rss_rte(rss_hashes))
		return fail(-ENOTSUP, "port %d: RSS on 0x%x asked, offered 0x%x", port,
			    rss_hashes, rss_luna(info.flow_type_rss_offloads));
	if (rx_desc > UINT16_MAX || tx_desc > UINT16_MAX)
		return fail(-EINVAL, "port %d: ring sizes above 65535", port);
	uint16_t pmd_mtu = RTE_ETHER_MTU;
	(void)rte_eth_dev_get_mtu((uint16_t)port, &pmd_mtu);
	uint32_t frame = (mtu != 0 ? mtu : pmd_mtu) + RTE_ETHER_HDR_LEN;
	if (mtu != 0) {
		/* A frame longer than the pool's buffers arrives chained (the PMD's
		 * scatter), which luna takes; the MTU only has a floor here. */
		if (mtu < RTE_ETHER_MIN_MTU || mtu > UINT16_MAX - RTE_ETHER_HDR_LEN)
			return fail(-EINVAL, "port %d: MTU %u: expected %d..%d", port, mtu,
				    RTE_ETHER_MIN_MTU, UINT16_MAX - RTE_ETHER_HDR_LEN);
		/* As ethdev counts a frame's overhead beyond the MTU. */
		uint32_t overhead = info.max_mtu != UINT16_MAX && info.max_rx_pktlen > info.max_mtu
					    ? info.max_rx_pktlen - info.max_mtu
					    : RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
		if (mtu >= info.min_mtu && mtu <= info.max_mtu && mtu + overhead <= info.max_rx_pktlen)
			pmd_mtu = (uint16_t)mtu;
		else if (!(flags & LUNA_PORT_MTU_PMD_UNBOUNDED))
			return fail(-EINVAL,
				    "port %d (%s): MTU %u refused: the PMD takes MTU %u..%u and frames of "
				    "at most %u bytes",
				    port, info.driver_name, mtu, info.min_mtu, info.max_mtu,
				    info.max_rx_pktlen);
	}

	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mtu = pmd_mtu;
	conf.rxmode.offloads = rx_offloads_rte(rx_offloads);
	if (rx_offloads & LUNA_OFFLOAD_TCP_LRO) {
		/* LRO packets span buffers: scatter where the port has it to ask for. */
		if (!(info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER))
			conf.rxmode.offloads &= ~RTE_ETH_RX_OFFLOAD_SCATTER;
		conf.rxmode.max_lro_pkt_size =
			info.max_lro_pkt_size != 0 ? info.max_lro_pkt_size : UINT16_MAX;
	}
	conf.txmode.offloads = tx_offloads_rte(tx_offloads);
	if (tx_offloads & (LUNA_OFFLOAD_TCP_GSO | LUNA_OFFLOAD_TCP_TSO)) {
		if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
			conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
		rc = chain_pools_init();
		if (rc < 0)
			return rc;
	}
	if (rss_hf != 0) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
	}
	rc = rte_eth_dev_configure((uint16_t)port, (uint16_t)nb_rxq, (uint16_t)nb_txq, &conf);
	if (rc < 0)
		return fail(rc, "port %d: configure: %s\n", port, rte_strerror(-rc));
	uint16_t rxd = (uint16_t)rx_desc, txd = (uint16_t)tx_desc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc((uint16_t)port, &rxd, &txd);
	if (rc < 0)
		return fail(rc, "port %d: ring sizes: %s\n", port, rte_strerror(-rc));
	int socket = rte_eth_dev_socket_id((uint16_t)port);
	if (socket < 0)
		socket = SOCKET_ID_ANY;
	int xsk_before[256];
	int xsk_nb = open_sockets(AF_XDP, xsk_before, 256);
	for (uint32_t q = 0; q < nb_rxq; q++) {
		struct rte_eth_rxconf rxconf = info.default_rxconf;
		rxconf.offloads = conf.rxmode.offloads;
		rc = rte_eth_rx_queue_setup((uint16_t)port, (uint16_t)q, rxd, (unsigned)socket,
					    &rxconf, p->mp);
		if (rc < 0)
			return fail(rc, "port %d: rx queue %u: %s\n", port, q, rte_strerror(-rc));
	}
	if (info.driver_name != NULL && strcmp(info.driver_name, "net_af_xdp") == 0)
		xsk_note_new(port, xsk_before, xsk_nb);
	for (uint32_t q = 0; q < nb_txq; q++) {
		struct rte_eth_txconf txconf = info.default_txconf;
		txconf.offloads = conf.txmode.offloads;
		rc = rte_eth_tx_queue_setup((uint16_t)port, (uint16_t)q, txd, (unsigned)socket,
					    &txconf);
		if (rc < 0)
			return fail(rc, "port %d: tx queue %u: %s\n", port, q, rte_strerror(-rc));
	}
	port_pool[port] = pool;
	port_mtu[port] = (uint16_t)(frame - RTE_ETHER_HDR_LEN);
	port_frame_max[port] = frame;
	port_rx_hw[port] = rx_offloads;
	port_tx_hw[port] = tx_offloads;
	port_no_cksum[port] = (flags & LUNA_PORT_NO_CKSUM) != 0;
	/* A port that sums in software: payload copied into the pool keeps its sums. */
	if (!port_no_cksum[port] && (tx_offloads & (LUNA_OFFLOAD_IPV4_CKSUM | LUNA_OFFLOAD_TCP_CKSUM)) !=
					    (LUNA_OFFLOAD_IPV4_CKSUM | LUNA_OFFLOAD_TCP_CKSUM))
		p->hot_on = 1;
	port_gro[port] = (flags & LUNA_PORT_GRO) != 0;
	port_tx_quads[port] = (flags & LUNA_PORT_TX_QUADS) != 0;
	port_stash_free(port);
	port_stash[port] = calloc(nb_rxq, sizeof(struct rx_stash));
	if (port_stash[port] == NULL)
		return fail(-ENOMEM, "port %d: out of memory", port);
	port_stash_queues[port] = (uint16_t)nb_rxq;
	port_seg[port] = (tx_offloads & LUNA_OFFLOAD_TCP_TSO)   ? SEG_TSO
			 : (tx_offloads & LUNA_OFFLOAD_TCP_GSO) ? SEG_GSO
								: SEG_NONE;
	port_backlog_free(port);
	if (port_seg[port] == SEG_GSO) {
		port_backlog[port] = calloc(nb_txq, sizeof(struct tx_backlog));
		if (port_backlog[port] == NULL)
			return fail(-ENOMEM, "port %d: out of memory", port);
		port_backlog_queues[port] = (uint16_t)nb_txq;
	}
	return 0;
}

int32_t luna_port_start(int32_t port)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port)) {
		if (port_pool[port] < 0)
			return fail(-EINVAL, "port %d: configure it before starting it", port);
		int rc = pkt_start(port);
		if (rc < 0)
			return fail(rc, "%s", pkt_error());
		port_started[port] = 1;
		return 0;
	}
	if (port_pool[port] < 0)
		return fail(-EINVAL, "port %d: configure it before starting it", port);
	int rc = rte_eth_dev_start((uint16_t)port);
	if (rc < 0)
		return fail(rc, "port %d: start: %s\n", port, rte_strerror(-rc));
	port_started[port] = 1;
	return 0;
}

int32_t luna_port_stop(int32_t port)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port)) {
		port_started[port] = 0;
		return pkt_stop(port);
	}
	int rc = rte_eth_dev_stop((uint16_t)port);
	if (rc < 0)
		return fail(rc, "port %d: stop: %s\n", port, rte_strerror(-rc));
	port_started[port] = 0;
	return 0;
}

int32_t luna_port_close(int32_t port)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port))
		return packet_port_close(port);
	int rc = rte_eth_dev_close((uint16_t)port);
	if (rc < 0)
		return fail(rc, "port %d: close: %s\n", port, rte_strerror(-rc));
	port_pool[port] = -1;
	port_mtu[port] = 0;
	port_backlog_free(port);
	port_stash_free(port);
	return 0;
}

/* Stops the port (where started), closes it and removes its device from the
 * EAL (a virtual device is unplugged; its name can be probed again), so that
 * the EAL outlives the port and a later stack can attach the same device. */
int32_t luna_port_remove(int32_t port)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port))
		return packet_port_close(port);
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get((uint16_t)port, &info);
	if (rc != 0 || info.device == NULL)
		return fail(rc != 0 ? rc : -ENODEV, "port %d: no device to remove", port);
	struct rte_device *dev = info.device;
	if (port_started[port]) {
		rc = rte_eth_dev_stop((uint16_t)port);
		if (rc < 0)
			return fail(rc, "port %d: stop: %s\n", port, rte_strerror(-rc));
		port_started[port] = 0;
	}
	rc = rte_eth_dev_close((uint16_t)port);
	if (rc < 0)
		return fail(rc, "port %d: close: %s\n", port, rte_strerror(-rc));
	port_pool[port] = -1;
	port_mtu[port] = 0;
	port_backlog_free(port);
	rc = rte_dev_remove(dev);
	if (rc < 0)
		return fail(rc, "port %d: remove its device: %s\n", port, rte_strerror(-rc));
	return 0;
}

int32_t luna_port_promiscuous(int32_t port, int32_t on)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port))
		return 0; /* an AF_PACKET socket sees every frame of its interface */
	int rc = on ? rte_eth_promiscuous_enable((uint16_t)port)
		    : rte_eth_promiscuous_disable((uint16_t)port);
	if (rc < 0)
		return fail(rc, "port %d: promiscuous mode: %s\n", port, rte_strerror(-rc));
	return 0;
}

int32_t luna_port_mac(int32_t port, uint8_t *out6)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port))
		return pkt_mac(port, out6);
	struct rte_ether_addr a;
	int rc = rte_eth_macaddr_get((uint16_t)port, &a);
	if (rc < 0)
		return fail(rc, "port %d: MAC address: %s\n", port, rte_strerror(-rc));
	memcpy(out6, a.addr_bytes, 6);
	return 6;
}

int32_t luna_port_link(int32_t port, uint32_t *out4)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port)) {
		int rc = pkt_link(port, out4);
		return rc < 0 ? fail(rc, "%s", pkt_error()) : rc;
	}
	struct rte_eth_link l;
	int rc = rte_eth_link_get_nowait((uint16_t)port, &l);
	if (rc < 0)
		return fail(rc, "port %d: link: %s\n", port, rte_strerror(-rc));
	out4[0] = l.link_speed;
	out4[1] = l.link_duplex;
	out4[2] = l.link_autoneg;
	out4[3] = l.link_status;
	return 4;
}

/* Frames the kernel dropped because an af_packet socket's ring was full.
 * DPDK 22.11's net_af_packet does not ask (its imissed stays 0), so the
 * shim does: every AF_PACKET socket of this process bound to the port's
 * interface is the PMD's (one per queue pair). PACKET_STATISTICS zeroes
 * the kernel's counts as it reads them: they are added up here. An af_xdp
 * port's full rings are read by xsk_ring_drops into the same counter. */
static void packet_ring_drops(int32_t port)
{
	struct rte_eth_dev_info info;
	if (rte_eth_dev_info_get((uint16_t)port, &info) != 0 || info.driver_name == NULL)
		return;
	if (strcmp(info.driver_name, "net_af_xdp") == 0) {
		xsk_ring_drops(port);
		return;
	}
	if (strcmp(info.driver_name, "net_af_packet") != 0 || info.if_index == 0)
		return;
	int fds[256];
	int n = open_sockets(AF_PACKET, fds, 256);
	uint64_t drops = 0;
	for (int i = 0; i < n; i++) {
		struct sockaddr_ll sll;
		socklen_t len = sizeof(sll);
		if (getsockname(fds[i], (struct sockaddr *)&sll, &len) != 0 ||
		    (uint32_t)sll.sll_ifindex != info.if_index)
			continue;
		struct tpacket_stats st;
		len = sizeof(st);
		if (getsockopt(fds[i], SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
			drops += st.tp_drops;
	}
	__atomic_fetch_add(&shim_stats[port][LUNA_STAT_SHIM_RX_RING_DROPPED - LUNA_STAT_SHIM_RX_FOREIGN],
			   drops, __ATOMIC_RELAXED);
}

int32_t luna_port_stats(int32_t port, uint64_t *out, uint32_t n)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (n < LUNA_STAT_WORDS)
		return fail(-EINVAL, "port stats: need %d values", LUNA_STAT_WORDS);
	if (pkt_port_is(port))
		return packet_port_stats(port, out);
	if (n < LUNA_STAT_WORDS)
		return fail(-EINVAL, "port stats: need %d values", LUNA_STAT_WORDS);
	struct rte_eth_stats s;
	int rc = rte_eth_stats_get((uint16_t)port, &s);
	if (rc < 0)
		return fail(rc, "port %d: stats: %s\n", port, rte_strerror(-rc));
	out[LUNA_STAT_IPACKETS] = s.ipackets;
	out[LUNA_STAT_OPACKETS] = s.opackets;
	out[LUNA_STAT_IBYTES] = s.ibytes;
	out[LUNA_STAT_OBYTES] = s.obytes;
	out[LUNA_STAT_IMISSED] = s.imissed;
	out[LUNA_STAT_IERRORS] = s.ierrors;
	out[LUNA_STAT_OERRORS] = s.oerrors;
	out[LUNA_STAT_RX_NOMBUF] = s.rx_nombuf;
	packet_ring_drops(port);
	for (int i = 0; i < SHIM_STATS; i++)
		out[LUNA_STAT_SHIM_RX_FOREIGN + i] =
			__atomic_load_n(&shim_stats[port][i], __ATOMIC_RELAXED);
	return LUNA_STAT_WORDS;
}

int32_t luna_port_stats_reset(int32_t port)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port)) {
		for (int i = 0; i < SHIM_STATS; i++)
			__atomic_store_n(&shim_stats[port][i], 0, __ATOMIC_RELAXED);
		return pkt_stats_reset(port);
	}
	int rc = rte_eth_stats_reset((uint16_t)port);
	if (rc < 0)
		return fail(rc, "port %d: stats reset: %s\n", port, rte_strerror(-rc));
	packet_ring_drops(port); /* the kernel's counts start again from 0 too */
	for (int i = 0; i < SHIM_STATS; i++)
		__atomic_store_n(&shim_stats[port][i], 0, __ATOMIC_RELAXED);
	return 0;
}

/* Writes the names NUL-separated; returns how many there are, or the bytes
 * needed negated as -ENOSPC when cap is too small. */
int32_t luna_port_xstats_names(int32_t port, uint8_t *out, uint32_t cap)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port))
		return 0; /* no extended counters: stats() says all */
	int n = rte_eth_xstats_get_names((uint16_t)port, NULL, 0);
	if (n < 0)
		return fail(n, "port %d: xstats: %s\n", port, rte_strerror(-n));
	struct rte_eth_xstat_name *names = calloc((size_t)n + 1, sizeof(*names));
	if (names == NULL)
		return fail(-ENOMEM, "port %d: xstats: out of memory", port);
	n = rte_eth_xstats_get_names((uint16_t)port, names, (unsigned)n);
	size_t used = 0;
	for (int i = 0; i < n; i++) {
		size_t len = strnlen(names[i].name, RTE_ETH_XSTATS_NAME_SIZE) + 1;
		if (used + len > cap) {
			free(names);
			return fail(-ENOSPC, "port %d: xstats names need more than %u bytes", port,
				    cap);
		}
		memcpy(out + used, names[i].name, len - 1);
		out[used + len - 1] = '\0';
		used += len;
	}
	free(names);
	return n;
}

int32_t luna_port_xstats(int32_t port, uint64_t *out, uint32_t n)
{
	op_begin();
	if (need_port(port) < 0)
		return -ENODEV;
	if (pkt_port_is(port))
		return 0;
	int count = rte_eth_xstats_get((uint16_t)port, NULL, 0);
	if (count < 0)
		return fail(count, "port %d: xstats: %s\n", port, rte_strerror(-count));
	struct rte_eth_xstat *xs = calloc((size_t)count + 1, sizeof(*xs));
	if (xs == NULL)
		return fail(-ENOMEM, "port %d: xstats: out of memory", port);
	count = rte_eth_xstats_get((uint16_t)port, xs, (unsigned)count);
	for (int i = 0; i < count && (uint32_t)i < n; i++)
		out[i] = xs[i].value;
	free(xs);
	return count;
}

/* Two ports joined back to back by a pair of rings, in this process: what one
 * sends the other receives. For tests and single-process pipelines. */
int32_t luna_ring_pair(const uint8_t *name, uint32_t name_len, uint32_t ring_size,
		       uint32_t *ports2)
{
	op_begin();
	if (need_eal() < 0)
		return -EINVAL;
	char base[24];
	if (copy_name(name, name_len, base, sizeof(base)) < 0)
		return fail(-EINVAL, "ring pair name: empty or longer than 23 bytes");
	if (!rte_is_power_of_2(ring_size) || ring_size < 64)
		return fail(-EINVAL, "ring pair: size %u is not a power of two >= 64", ring_size);
	char an[RTE_RING_NAMESIZE], bn[RTE_RING_NAMESIZE];
	snprintf(an, sizeof(an), "%s_ab", base);
	snprintf(bn, sizeof(bn), "%s_ba", base);
	struct rte_ring *ab =
		rte_ring_create(an, ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (ab == NULL)
		return fail(-rte_errno, "ring pair: ring %s: %s\n", an, rte_strerror(rte_errno));
	struct rte_ring *ba =
		rte_ring_create(bn, ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (ba == NULL) {
		rte_ring_free(ab);
		return fail(-rte_errno, "ring pair: ring %s: %s\n", bn, rte_strerror(rte_errno));
	}
	char pa[32], pb[32];
	snprintf(pa, sizeof(pa), "%s_a", base);
	snprintf(pb, sizeof(pb), "%s_b", base);
	int a = rte_eth_from_rings(pa, &ba, 1, &ab, 1, SOCKET_ID_ANY);
	if (a < 0)
		return fail(-rte_errno, "ring pair: port %s: %s\n", pa, rte_strerror(rte_errno));
	int b = rte_eth_from_rings(pb, &ab, 1, &ba, 1, SOCKET_ID_ANY);
	if (b < 0)
		return fail(-rte_errno, "ring pair: port %s: %s\n", pb, rte_strerror(rte_errno));
	ports2[0] = (uint32_t)a;
	ports2[1] = (uint32_t)b;
	return 2;
}

/* ----------------------------------------------------------------- bursts */

static inline uint32_t rx_flags(uint64_t ol)
{
	uint32_t f = 0;
	uint64_t ip = ol & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	uint64_t l4 = ol & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	if (ip == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		f |= LUNA_RX_IP_CKSUM_GOOD;
	else if (ip == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		f |= LUNA_RX_IP_CKSUM_BAD;
	if (l4 == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		f |= LUNA_RX_L4_CKSUM_GOOD;
	else if (l4 == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		f |= LUNA_RX_L4_CKSUM_BAD;
	if (ol & RTE_MBUF_F_RX_RSS_HASH)
		f |= LUNA_RX_RSS_HASH;
	return f;
}

static inline uint16_t chain_tcp_cksum(const struct pool *p, const struct rte_mbuf *m,
				       const struct rte_ipv4_hdr *ip, uint32_t off);

/* The TCP or UDP checksum of an unchained IPv4 packet, as
 * rte_ipv4_udptcp_cksum computes it (over its total length), with cksum16. */
static inline uint16_t ipv4_l4_cksum(const struct rte_ipv4_hdr *ip, const void *l4)
{
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	uint32_t l3 = rte_be_to_cpu_16(ip->total_length);
	if (l3 < ihl)
		return 0;
	uint32_t sum = (uint32_t)rte_ipv4_phdr_cksum(ip, 0) + cksum16(l4, l3 - ihl);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (~sum) & 0xffff;
	if (sum == 0 && ip->next_proto_id == IPPROTO_UDP)
		sum = 0xffff;
	return (uint16_t)sum;
}

/* What a NIC's receive checksum offload would say of an IPv4 frame: IP and
 * TCP/UDP checksums verified here, in C, over the burst (over every link of
 * a chained frame, whose IPv4 header must lie in its first). Other frames
 * get no verdict (the stack checks what it reads). */
static inline uint32_t sw_rx_cksum(struct rte_mbuf *mb)
{
	uint32_t len = mb->pkt_len;
	if (mb->data_len < sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr))
		return 0;
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(mb, const struct rte_ether_hdr *);
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	uint32_t total = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < 20 || total < ihl ||
	    sizeof(struct rte_ether_hdr) + total > len ||
	    sizeof(struct rte_ether_hdr) + ihl > mb->data_len)
		return 0; /* malformed: the stack counts why */
	uint32_t f = cksum16(ip, ihl) == 0xffff ? LUNA_RX_IP_CKSUM_GOOD : LUNA_RX_IP_CKSUM_BAD;
	if (f == LUNA_RX_IP_CKSUM_BAD)
		return f;
	if ((rte_be_to_cpu_16(ip->fragment_offset) & 0x3fff) != 0)
		return f; /* a fragment's L4 checksum covers the whole datagram */
	uint32_t l4len = total - ihl;
	const void *l4 = (const char *)ip + ihl;
	if (ip->next_proto_id == IPPROTO_TCP && l4len >= sizeof(struct rte_tcp_hdr)) {
		if (mb->nb_segs > 1) {
			/* Summed with the checksum field in place: zero when it verifies. Only
			 * up to the IPv4 total length: a chain carries no Ethernet padding. */
			if (sizeof(struct rte_ether_hdr) + total != len)
				return f;
			f |= chain_tcp_cksum(NULL, mb, ip, sizeof(struct rte_ether_hdr) + ihl) == 0
				     ? LUNA_RX_L4_CKSUM_GOOD
				     : LUNA_RX_L4_CKSUM_BAD;
			return f;
		}
		uint32_t sum = rte_ipv4_phdr_cksum(ip, 0) + cksum16(l4, l4len);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		f |= sum == 0xffff ? LUNA_RX_L4_CKSUM_GOOD : LUNA_RX_L4_CKSUM_BAD;
	}
	return f;
}

/* ipv4_l4_cksum of a TCP segment on transmit, from pool p's buffer mb: its
 * payload's sum from the buffer's hot sums where it has them. */
static inline uint16_t tx_tcp_cksum(const struct pool *p, const struct rte_mbuf *mb,
				    const struct rte_ipv4_hdr *ip, const struct rte_tcp_hdr *tcp)
{
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	uint32_t l3 = rte_be_to_cpu_16(ip->total_length);
	uint32_t th = (uint32_t)(tcp->data_off >> 4) * 4;
	if (l3 < ihl || th < sizeof(struct rte_tcp_hdr) || th >= l3 - ihl)
		return ipv4_l4_cksum(ip, tcp);
	/* The header's length is a multiple of 4: the payload's words align with the segment's. */
	uint64_t sum = (uint64_t)rte_ipv4_phdr_cksum(ip, 0) + cksum16(tcp, th) +
		       hot_or_cksum16(p, mb->buf_addr, (const char *)tcp + th, l3 - ihl - th);
	return (uint16_t)~luna_cksum_fold(sum);
}

/* Fills the checksums a transmit offload would, for a port without it; p:
 * the pool of mb, whose hot sums the TCP checksum takes. */
static inline void sw_tx_cksum(const struct pool *p, struct rte_mbuf *mb, uint64_t ol)
{
	char *base = rte_pktmbuf_mtod(mb, char *);
	if (mb->l2_len + mb->l3_len + (uint32_t)sizeof(struct rte_tcp_hdr) > mb->data_len)
		return;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(base + mb->l2_len);
	if (ol & RTE_MBUF_F_TX_IP_CKSUM) {
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	if ((ol & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM) {
		struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)((char *)ip + mb->l3_len);
		tcp->cksum = 0;
		tcp->cksum = tx_tcp_cksum(p, mb, ip, tcp);
	} else if ((ol & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_UDP_CKSUM) {
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((char *)ip + mb->l3_len);
		udp->dgram_cksum = 0;
		udp->dgram_cksum = ipv4_l4_cksum(ip, udp);
	}
}

/* A verdict in luna's bits, kept in the mbuf's offload flags while the
 * mbuf waits (coalescing reorders the burst, the stash keeps it). */
static inline void rx_verdict_set(struct rte_mbuf *mb, uint32_t f)
{
	uint64_t ol = mb->ol_flags & ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
	if (f & LUNA_RX_IP_CKSUM_GOOD)
		ol |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	else if (f & LUNA_RX_IP_CKSUM_BAD)
		ol |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
	if (f & LUNA_RX_L4_CKSUM_GOOD)
		ol |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	else if (f & LUNA_RX_L4_CKSUM_BAD)
		ol |= RTE_MBUF_F_RX_L4_CKSUM_BAD;
	mb->ol_flags = ol;
}

/* Whether GRO may take the frame, and if so its packet type and header
 * lengths set as librte_gro reads them. Taken: one buffer, checksums good,
 * IPv4 without fragments and not marked CE, TCP with payload and ACK as its
 * only flag or ACK and PSH, and no Ethernet padding (GRO counts payload from
 * the frame length). Returns 2 for a PSH segment, whose PSH it clears:
 * librte_gro (22.11) takes no segment with a flag but ACK, and Linux's GRO
 * merges a PSH segment last and then flushes its packet (tcp_gro_receive), so
 * rx_coalesce ends the flow's run there and puts the PSH back on whichever
 * packet holds the segment. A 4 KiB answer (two full-sized segments and a short one
 * with PSH) then reaches TCP as one segment, not two. A CE mark goes on alone: librte_gro's flow key leaves out the TOS
 * byte, and a merged packet keeps its first segment's, so a mark would be
 * lost or given to unmarked bytes (Linux's GRO never merges across a change
 * of TOS; a receiver counts marks per segment, RFC 3168 6.1.3, RFC 8257 3.2).
 * librte_gro itself then merges only segments of one flow (addresses, ports, ACK
 * number) whose sequence numbers follow on and whose TCP headers and
 * options are byte for byte the same, so never across a PSH (it ends the run)
 * or a FIN (such a segment is not taken), a SYN/RST/URG/ECE/CWR, an option change (a
 * retransmission stamped at another millisecond carries another TSval) or
 * a hole. What it lacks, said here: it also prepends a segment that comes
 * just before one it holds, so two segments swapped within one burst reach
 * TCP in order; and a retransmission that carries the same options as its
 * neighbours and fills the sequence space right after them merges with
 * them, as it does in Linux's GRO (the receiver cannot tell it apart). */
static inline int gro_eligible(struct rte_mbuf *mb)
{
	mb->packet_type = 0;
	if (mb->nb_segs != 1 || (mb->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) != RTE_MBUF_F_RX_IP_CKSUM_GOOD ||
	    (mb->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		return 0;
	uint32_t len = mb->data_len;
	if (len < sizeof(struct rte_ether_hdr) + 20 + 20)
		return 0;
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(mb, const struct rte_ether_hdr *);
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return 0;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	uint32_t total = rte_be_to_cpu_16(ip->total_length);
	if (ip->next_proto_id != IPPROTO_TCP || ihl < 20 || (ip->type_of_service & 3) == 3 ||
	    (rte_be_to_cpu_16(ip->fragment_offset) & 0x3fff) != 0 ||
	    sizeof(struct rte_ether_hdr) + total != len || total < ihl + 20)
		return 0;
	const struct rte_tcp_hdr *tcp = (const struct rte_tcp_hdr *)((const char *)ip + ihl);
	uint32_t thl = (uint32_t)(tcp->data_off >> 4) * 4;
	if (thl < 20 || ihl + thl >= total ||
	    (tcp->tcp_flags != RTE_TCP_ACK_FLAG && tcp->tcp_flags != (RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG)))
		return 0;
	mb->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_TCP;
	mb->l2_len = sizeof(struct rte_ether_hdr);
	mb->l3_len = ihl;
	mb->l4_len = thl;
	if (tcp->tcp_flags == RTE_TCP_ACK_FLAG)
		return 1;
	((struct rte_tcp_hdr *)tcp)->tcp_flags = RTE_TCP_ACK_FLAG;
	return 2;
}

/* The flow of a packet checked by gro_eligible: its addresses and its ports. */
struct gro_flow {
	uint64_t addrs;
	uint32_t ports;
};
static inline struct gro_flow gro_flow_of(const struct rte_mbuf *mb)
{
	const char *ip = rte_pktmbuf_mtod_offset(mb, const char *, mb->l2_len);
	struct gro_flow f;
	memcpy(&f.addrs, ip + 12, 8);
	memcpy(&f.ports, ip + mb->l3_len, 4);
	return f;
}
/* A slot of 256 for a flow: rx_coalesce's table of the flows pushed in a
 * run (at most RTE_GRO_MAX_BURST_ITEM_NUM, 128: never more than half full). */
static inline uint32_t gro_flow_slot(struct gro_flow f)
{
	uint64_t h = (f.addrs ^ (f.addrs >> 29) ^ f.ports) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 56);
}
/* A bit of 64 for an mbuf: a membership test almost always answered by one mask. */
static inline uint64_t gro_mbuf_bit(const struct rte_mbuf *mb)
{
	uint64_t h = (uint64_t)(uintptr_t)mb * 0x9e3779b97f4a7c15ull;
	return 1ull << (h >> 58);
}

/* Puts back the PSH that gro_eligible cleared from pushed[0..np) on the TCP
 * header of whichever of m[0..n) holds each, as its head or as a link; `mask`
 * has the gro_mbuf_bit() of each. One walk over the links. */
static void gro_restore_psh(struct rte_mbuf **m, uint16_t n, const struct rte_mbuf *const *pushed,
			    uint32_t np, uint64_t mask)
{
	for (uint16_t q = 0; q < n && np > 0; q++)
		for (const struct rte_mbuf *s = m[q]; s != NULL; s = s->next) {
			if (!(mask & gro_mbuf_bit(s)))
				continue;
			uint32_t k = 0;
			while (k < np && pushed[k] != s)
				k++;
			if (k == np)
				continue;
			struct rte_tcp_hdr *tcp = rte_pktmbuf_mtod_offset(m[q], struct rte_tcp_hdr *,
									  m[q]->l2_len + m[q]->l3_len);
			tcp->tcp_flags |= RTE_TCP_PSH_FLAG;
			break;
		}
}

#define SHIM_STAT_ADD(port, which, v)                                                      \
	__atomic_fetch_add(&shim_stats[port][(which) - LUNA_STAT_SHIM_RX_FOREIGN], (v),      \
			   __ATOMIC_RELAXED)

/* Coalesces m[0..n) in place (DPDK's GRO), in runs between the frames it
 * may not take, so that no frame overtakes another of its flow; returns the
 * packets left. A PSH segment ends its flow's part of the run: the run goes
 * on over other flows' segments (one GRO call for up to GRO_RUN_PUSHED_MAX
 * answers, each ending with a PSH, not one each: a call clears GRO's tables,
 * kilobytes) and ends before the next segment of a flow pushed in it. */
/* Flows pushed in one GRO run at most, where it has segments to merge: GRO
 * searches its table of flows linearly for each segment, and a call clears
 * the table, so a call of 8 answers' flows cost less than one of 16 or of a
 * burst's 20 (perf of micro_echo --answer 4096 at 16 and 256 connections:
 * shim, GRO and memset 8.8% and 8.7% of the samples, against 9.2% and 9.8%
 * with no bound and 9.6% and 9.4% with one call an answer). */
#define GRO_RUN_PUSHED_MAX 8
static uint16_t rx_coalesce(int32_t port, struct rte_mbuf **m, uint16_t n)
{
	const struct rte_gro_param param = {
		.gro_types = RTE_GRO_TCP_IPV4,
		.max_flow_num = 32,
		.max_item_per_flow = RTE_GRO_MAX_BURST_ITEM_NUM / 32,
	};
	const struct rte_mbuf *pushed[RTE_GRO_MAX_BURST_ITEM_NUM];
	struct gro_flow pushed_flow[RTE_GRO_MAX_BURST_ITEM_NUM];
	uint8_t table[256]; /* 1 + the index in pushed of a flow, by gro_flow_slot(), probed on */
	uint16_t out = 0;
	uint16_t i = 0;
	while (i < n) {
		uint16_t j = i;
		uint32_t npushed = 0, unpushed = 0;
		uint64_t mbufs = 0; /* gro_mbuf_bit()s of the pushed */
		memset(table, 0, sizeof(table));
		while (j < n && (unsigned)(j - i) < RTE_GRO_MAX_BURST_ITEM_NUM) {
			int e = gro_eligible(m[j]);
			if (e == 0)
				break;
			struct gro_flow f = gro_flow_of(m[j]);
			uint32_t slot = gro_flow_slot(f);
			int seen = 0;
			for (; table[slot] != 0; slot = (slot + 1) & 255) {
				const struct gro_flow *g = &pushed_flow[table[slot] - 1];
				if (g->addrs == f.addrs && g->ports == f.ports) {
					seen = 1;
					break;
				}
			}
			if (seen) {
				/* Its flow was pushed in this run: it starts the next one, PSH and all. */
				if (e == 2)
					rte_pktmbuf_mtod_offset(m[j], struct rte_tcp_hdr *,
								m[j]->l2_len + m[j]->l3_len)
						->tcp_flags |= RTE_TCP_PSH_FLAG;
				break;
			}
			if (e == 2) {
				pushed[npushed] = m[j];
				pushed_flow[npushed++] = f;
				table[slot] = (uint8_t)npushed; /* the empty slot the probe ended on */
				mbufs |= gro_mbuf_bit(m[j]);
			} else {
				unpushed++;
			}
			j++;
			if (npushed >= GRO_RUN_PUSHED_MAX && unpushed > 0)
				break; /* the next segment starts a run */
		}
		/* A run of PSH segments only (a burst of requests) has one segment of each
		 * flow: nothing to merge, no GRO call. */
		if (j - i >= 2 && unpushed > 0) {
			SHIM_STAT_ADD(port, LUNA_STAT_SHIM_RX_GRO_CALLS, 1);
			uint16_t r = rte_gro_reassemble_burst(m + i, j - i, &param);
			gro_restore_psh(m + i, r, pushed, npushed, mbufs);
			for (uint16_t q = 0; q < r; q++) {
				struct rte_mbuf *mb = m[i + q];
				if (mb->nb_segs > 1) {
					SHIM_STAT_ADD(port, LUNA_STAT_SHIM_RX_GRO_PKTS, 1);
					SHIM_STAT_ADD(port, LUNA_STAT_SHIM_RX_GRO_SEGS, mb->nb_segs);
				}
				m[out++] = mb;
			}
		} else {
			/* No GRO call: each pushed segment is a packet of its own. */
			for (uint32_t q = 0; q < npushed; q++) {
				const struct rte_mbuf *pm = pushed[q];
				rte_pktmbuf_mtod_offset(pm, struct rte_tcp_hdr *, pm->l2_len + pm->l3_len)->tcp_flags |=
					RTE_TCP_PSH_FLAG;
			}
			for (uint16_t q = i; q < j; q++)
				m[out++] = m[q];
		}
		if (j < n && j == i) /* m[j] is not GRO's: it goes as it is */
			m[out++] = m[j++];
		i = j;
	}
	return out;
}

int32_t luna_rx_burst(int32_t port, int32_t queue, uint32_t *descs, uint32_t max)
{
	if (unlikely(port < 0 || port >= LUNA_PORTS_MAX || queue < 0 ||
		     queue >= port_stash_queues[port]))
		return -EINVAL;
	struct pool *p = pool_get(port_pool[port]);
	if (unlikely(p == NULL))
		return -EINVAL;
	struct rx_stash *st = &port_stash[port][queue];
	struct rte_mbuf *fresh[LUNA_BURST_MAX];
	struct rte_mbuf **m;
	uint16_t n;
	if (max > LUNA_BURST_MAX)
		max = LUNA_BURST_MAX;
	if (st->head < st->n) {
		m = st->m + st->head;
		n = (uint16_t)(st->n - st->head);
	} else {
		st->head = st->n = 0;
		const int sw_rx =
			(port_rx_hw[port] & (LUNA_OFFLOAD_IPV4_CKSUM | LUNA_OFFLOAD_TCP_CKSUM)) !=
			(LUNA_OFFLOAD_IPV4_CKSUM | LUNA_OFFLOAD_TCP_CKSUM);
		const int no_cksum = port_no_cksum[port];
		const uint32_t frame_max = port_frame_max[port];
		uint16_t got = port_burst(0, (uint16_t)port, (uint16_t)queue, fresh, (uint16_t)max);
		n = 0;
		for (uint16_t i = 0; i < got; i++) {
			struct rte_mbuf *mb = fresh[i];
			if (i + 1 < got)
				rte_prefetch0(fresh[i + 1]);
			int foreign = mb->pool != p->mp;
			for (struct rte_mbuf *s = mb->next; s != NULL && !foreign; s = s->next)
				foreign = s->pool != p->mp || RTE_MBUF_CLONED(s) || rte_mbuf_refcnt_read(s) != 1;
			if (unlikely(foreign)) {
				SHIM_STAT_ADD(port, LUNA_STAT_SHIM_RX_FOREIGN, 1);
				rte_pktmbuf_free(mb);
				continue;
			}
			/* A port's LRO makes packets longer than a frame: only single frames are bounded. */
			if (unlikely(mb->pkt_len > frame_max &&
				     !(mb->ol_flags & RTE_MBUF_F_RX_LRO))) {
				SHIM_STAT_ADD(port, LUNA_STAT_SHIM_RX_OVERSIZE, 1);
				rte_pktmbuf_free(mb);
				continue;
			}
			if (no_cksum)
				rx_verdict_set(mb, LUNA_RX_IP_CKSUM_GOOD | LUNA_RX_L4_CKSUM_GOOD);
			else if (sw_rx || (pkt_port_is(port) && (mb->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
								   RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN))
				/* A packet port's frame that the kernel vouched for neither way is checked here. */
				rx_verdict_set(mb, sw_rx_cksum(mb));
			if (mb->ol_flags & RTE_MBUF_F_RX_LRO)
				SHIM_STAT_ADD(port, LUNA_STAT_SHIM_RX_LRO_PKTS, 1);
			fresh[n++] = mb;
		}
		if (port_gro[port] && n >= 2)
			n = rx_coalesce(port, fresh, n);
		m = fresh;
	}
	uint32_t k = 0;
	uint16_t i = 0;
	for (; i < n; i++) {
		struct rte_mbuf *mb = m[i];
		uint32_t segs = mb->nb_segs;
		if (unlikely(segs > max - k)) {
			if (k > 0)
				break; /* the next call takes it */
			SHIM_STAT_ADD(port, LUNA_STAT_SHIM_RX_MULTISEG, 1);
			rte_pktmbuf_free(mb);
			continue;
		}
		uint32_t flags = rx_flags(mb->ol_flags);
		uint32_t rss = mb->hash.rss;
		if (segs > 1)
			SHIM_STAT_ADD(port, LUNA_STAT_SHIM_RX_CHAINS, 1);
		/* Each link becomes a buffer of its own: the zone releases them one by one. */
		for (struct rte_mbuf *s = mb; s != NULL;) {
			struct rte_mbuf *next = s->next;
			uint32_t *d = descs + k * LUNA_DESC_WORDS;
			d[0] = (uint32_t)((char *)s - p->base);
			d[1] = (uint32_t)s->data_off | ((uint32_t)s->data_len << 16);
			p->marks[d[0] >> 6] = 0; /* written by the port: its hot sums are gone */
			d[2] = (s == mb ? flags : 0) | (next != NULL ? LUNA_RX_MORE : 0);
			d[3] = s == mb ? rss : 0;
			s->next = NULL;
			s->nb_segs = 1;
			s->pkt_len = s->data_len;
			k++;
			s = next;
		}
	}
	if (m == fresh) {
		if (i < n) {
			memcpy(st->m, m + i, (size_t)(n - i) * sizeof(*m));
			st->head = 0;
			st->n = (uint16_t)(n - i);
		}
	} else {
		st->head = (uint16_t)(st->head + i);
	}
	return (int32_t)k;
}

/* The TCP checksum of a chain. DPDK 22.11's rte_raw_cksum_mbuf (under
 * rte_ipv4_udptcp_cksum_mbuf) truncates a segment's partial sum to 16 bits
 * before byte-swapping it when the segment starts at an odd offset, which
 * loses its carries: the sums are folded first here. On transmit each link's
 * bytes come from the hot sums of the zone buffer they lie in where pool p
 * has them (p NULL: every byte summed). */
static inline uint16_t chain_tcp_cksum(const struct pool *p, const struct rte_mbuf *m,
				       const struct rte_ipv4_hdr *ip, uint32_t off)
{
	uint64_t sum = rte_ipv4_phdr_cksum(ip, 0);
	uint32_t done = 0;
	for (; m != NULL; m = m->next) {
		if (off >= m->data_len) {
			off -= m->data_len;
			continue;
		}
		uint32_t len = m->data_len - off;
		sum = luna_cksum_combine(
			sum, hot_or_cksum16(p, m->buf_addr, rte_pktmbuf_mtod_offset(m, const char *, off), len),
			done);
		done += len;
		off = 0;
	}
	return (uint16_t)~luna_cksum_fold(sum);
}

/* Checksums of a chained TCP/IPv4 packet whose headers lie in its first
 * (direct, shim-owned) mbuf: none on a link that needs none, the port's
 * offload where it has one, else computed here over the chain (from the
 * hot sums of pool p's buffers). Idempotent: a chain handed back and sent
 * again is summed afresh. */
static inline void chain_cksum(int32_t port, const struct pool *p, struct rte_mbuf *mb, uint32_t l2,
			       uint32_t l3, uint32_t l4)
{
	const uint64_t ck = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
	mb->ol_flags &= ~(ck | RTE_MBUF_F_TX_TCP_SEG);
	if (port_no_cksum[port])
		return;
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(mb, struct rte_ipv4_hdr *, l2);
	struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)((char *)ip + l3);
	if ((port_tx_hw[port] & (LUNA_OFFLOAD_IPV4_CKSUM | LUNA_OFFLOAD_TCP_CKSUM)) ==
	    (LUNA_OFFLOAD_IPV4_CKSUM | LUNA_OFFLOAD_TCP_CKSUM)) {
		mb->l2_len = l2;
		mb->l3_len = l3;
		mb->l4_len = l4;
		mb->ol_flags |= ck;
		ip->hdr_checksum = 0;
		tcp->cksum = rte_ipv4_phdr_cksum(ip, mb->ol_flags);
		return;
	}
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	tcp->cksum = 0;
	tcp->cksum = chain_tcp_cksum(p, mb, ip, l2 + l3);
}

/* Builds the chain of records descs[0..k) (validated): the headers copied
 * into a direct mbuf of the shim's, the payload referenced through indirect
 * mbufs. The records' own references stay the caller's. NULL when the
 * shim's mbufs ran out. */
static struct rte_mbuf *chain_build(const struct pool *p, const uint32_t *descs, uint32_t k,
				    uint32_t hdr)
{
	struct rte_mbuf *ind[LUNA_CHAIN_RECORDS_MAX];
	struct rte_mbuf *head = rte_pktmbuf_alloc(chain_header);
	if (unlikely(head == NULL))
		return NULL;
	const uint32_t first_len = descs[1] >> 16;
	/* The first record's payload, if any, needs an indirect mbuf of its own. */
	uint32_t skip = first_len > hdr ? 0 : 1;
	uint32_t nind = k - skip;
	if (nind > 0 && unlikely(rte_pktmbuf_alloc_bulk(chain_indirect, ind, nind) != 0)) {
		rte_pktmbuf_free(head);
		return NULL;
	}
	struct rte_mbuf *m0 = (struct rte_mbuf *)(p->base + descs[0]);
	rte_memcpy(rte_pktmbuf_mtod(head, char *), (char *)m0->buf_addr + (descs[1] & 0xffff), hdr);
	head->data_len = (uint16_t)hdr;
	uint32_t total = hdr;
	struct rte_mbuf *prev = head;
	for (uint32_t j = skip; j < k; j++) {
		const uint32_t *d = descs + j * LUNA_DESC_WORDS;
		struct rte_mbuf *zm = (struct rte_mbuf *)(p->base + d[0]);
		struct rte_mbuf *mi = ind[j - skip];
		uint32_t off = d[1] & 0xffff, len = d[1] >> 16;
		if (j == 0) {
			off += hdr;
			len -= hdr;
		}
		rte_pktmbuf_attach(mi, zm);
		mi->ol_flags = RTE_MBUF_F_INDIRECT;
		mi->data_off = (uint16_t)off;
		mi->data_len = (uint16_t)len;
		mi->pkt_len = len;
		prev->next = mi;
		prev = mi;
		total += len;
	}
	prev->next = NULL;
	head->nb_segs = (uint16_t)(nind + 1);
	head->pkt_len = total;
	return head;
}

/* What chain_link() changes in a zone buffer, put back by chain_unlink(). */
struct link_saved {
	struct rte_mbuf *next;
	uint64_t ol_flags;
	uint64_t tx_offload;
	uint32_t pkt_len;
	uint16_t data_off, data_len, nb_segs;
};

/* Puts back the fields of the first k buffers chain_link() linked. */
static void chain_unlink(const struct pool *p, const uint32_t *descs, uint32_t k,
			 const struct link_saved *sv)
{
	for (uint32_t j = 0; j < k; j++) {
		struct rte_mbuf *zm = (struct rte_mbuf *)(p->base + descs[j * LUNA_DESC_WORDS]);
		zm->next = sv[j].next;
		zm->ol_flags = sv[j].ol_flags;
		zm->tx_offload = sv[j].tx_offload;
		zm->pkt_len = sv[j].pkt_len;
		zm->data_off = sv[j].data_off;
		zm->data_len = sv[j].data_len;
		zm->nb_segs = sv[j].nb_segs;
	}
}

/* Links the zone buffers of records descs[0..k) (validated) into the chain
 * that GSO cuts, in place: the first record's buffer, headers and all, is the
 * head. GSO's segments reference the payload through indirect mbufs of their
 * own, so the input chain is needed only while rte_gso_segment() runs; unlike
 * chain_build() no mbuf is taken, attached and freed per record (45 of each
 * for a 64 KiB answer). The buffers' fields are saved in sv[0..k) first, for
 * chain_unlink() to put back: a single record of the same burst may have
 * set them for the PMD. NULL, with nothing changed, when a buffer is named
 * twice (the chain would loop); chain_build() takes those. */
static struct rte_mbuf *chain_link(const struct pool *p, const uint32_t *descs, uint32_t k,
				   struct link_saved *sv)
{
	for (uint32_t j = 0; j < k; j++) {
		struct rte_mbuf *zm = (struct rte_mbuf *)(p->base + descs[j * LUNA_DESC_WORDS]);
		if (unlikely(zm->nb_segs == 0)) { /* marked below: named before */
			chain_unlink(p, descs, j, sv);
			return NULL;
		}
		sv[j] = (struct link_saved){
			.next = zm->next,
			.ol_flags = zm->ol_flags,
			.tx_offload = zm->tx_offload,
			.pkt_len = zm->pkt_len,
			.data_off = zm->data_off,
			.data_len = zm->data_len,
			.nb_segs = zm->nb_segs,
		};
		zm->nb_segs = 0;
	}
	struct rte_mbuf *head = (struct rte_mbuf *)(p->base + descs[0]);
	struct rte_mbuf *prev = NULL;
	uint32_t total = 0;
	for (uint32_t j = 0; j < k; j++) {
		const uint32_t *d = descs + j * LUNA_DESC_WORDS;
		struct rte_mbuf *zm = (struct rte_mbuf *)(p->base + d[0]);
		zm->data_off = (uint16_t)(d[1] & 0xffff);
		zm->data_len = (uint16_t)(d[1] >> 16);
		zm->pkt_len = zm->data_len;
		zm->nb_segs = 1;
		zm->ol_flags = 0;
		zm->next = NULL;
		if (prev != NULL)
			prev->next = zm;
		prev = zm;
		total += zm->data_len;
	}
	head->nb_segs = (uint16_t)k;
	head->pkt_len = total;
	return head;
}

/* One packet of a transmit burst: the records it spans and the mbufs it became. */
struct tx_pkt {
	uint16_t rec_first, rec_end;
	uint16_t m_first, m_count;
	uint8_t shim_owned; /* its mbufs are the shim's (a chain or its segments) */
	uint8_t segmented;  /* cut by GSO: partly sent is sent */
};

#define TX_MBUFS_MAX (LUNA_BURST_MAX + 2 * LUNA_GSO_SEGS_MAX)
/* The packets GSO cuts share a step, so that a burst of small answers
 * (a 4 KiB one is three frames, one large segment) is one PMD call, not one
 * each. What the PMD refuses of a step, up to the end of its last packet
 * cut, waits in the queue's backlog and goes first at the next call: no
 * packet is cut twice. While the ring is refusing (since a refusal, until a
 * call the PMD takes whole), a packet to cut starts a step of its own
 * instead, so that the peer's ring, full, makes the shim cut and hold one
 * packet, not a step's worth. */

int32_t luna_tx_burst(int32_t port, int32_t queue, int32_t pool, uint32_t *descs,
		      uint32_t n)
{
	if (unlikely(port < 0 || port >= LUNA_PORTS_MAX || queue < 0))
		return -EINVAL;
	struct pool *p = pool_get(pool);
	if (unlikely(p == NULL))
		return -ENOENT;
	if (n > LUNA_BURST_MAX)
		n = LUNA_BURST_MAX;
	uint64_t *stats = shim_stats[port] - LUNA_STAT_SHIM_RX_FOREIGN;
	struct tx_backlog *bl = NULL;
	if (port_backlog[port] != NULL && queue < port_backlog_queues[port]) {
		bl = &port_backlog[port][queue];
		if (bl->n > 0) {
			__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_PMD_CALLS], 1, __ATOMIC_RELAXED);
			uint16_t s = port_burst(1, (uint16_t)port, (uint16_t)queue, bl->m, bl->n);
			if (s < bl->n) {
				memmove(bl->m, bl->m + s, (size_t)(bl->n - s) * sizeof(bl->m[0]));
				bl->n = (uint16_t)(bl->n - s);
				return (int32_t)LUNA_BURST_BACKLOG; /* first these, then more */
			}
			bl->n = 0;
		}
	}
	struct rte_mbuf *m[TX_MBUFS_MAX];
	struct tx_pkt pk[LUNA_BURST_MAX];
	const int no_cksum = port_no_cksum[port];
	/* Hot sums the chains' checksums will read: fetched while the chain is cut. */
	const int hot = p->hot != NULL && !no_cksum;
	const int refusing = bl != NULL && bl->refusing;
	int refused_any = 0; /* a step of this call the PMD did not take whole */
	uint32_t i = 0, taken = 0;
	for (;;) {
		uint32_t nm = 0, np = 0;
		uint64_t offload = 0;
		int stop = 0; /* record i cannot go now: it and the rest stay the caller's */
		while (i < n && nm < TX_STEP_MBUFS) {
			uint32_t *d = descs + i * LUNA_DESC_WORDS;
			uint32_t f = d[2];
			if (f & (LUNA_TX_MORE | LUNA_TX_TCP_SEG)) {
				/* A chain: every record of it, or none, goes in this burst. */
				uint32_t k = 1;
				while (k <= LUNA_CHAIN_RECORDS_MAX && i + k - 1 < n &&
				       (descs[(i + k - 1) * LUNA_DESC_WORDS + 2] & LUNA_TX_MORE))
					k++;
				if (i + k > n) {
					stop = 1; /* its end is in a later burst: the caller keeps it */
					break;
				}
				uint32_t l2 = d[3] & 0x7f, l3 = (d[3] >> 8) & 0x1ff, l4 = (d[3] >> 20) & 0xff;
				uint32_t hdr = l2 + l3 + l4;
				int ok = k <= LUNA_CHAIN_RECORDS_MAX && chain_header != NULL && l4 >= 20 &&
					 hdr <= CHAIN_HEADER_ROOM && hdr <= (d[1] >> 16);
				for (uint32_t j = 0; ok && j < k; j++) {
					const uint32_t *e = descs + (i + j) * LUNA_DESC_WORDS;
					struct rte_mbuf *zm = handle_mbuf(p, e[0]);
					ok = zm != NULL && (e[1] & 0xffff) + (e[1] >> 16) <= zm->buf_len;
					if (hot)
						hot_prefetch(p, e[0]);
				}
				if (unlikely(!ok)) {
					__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_INVALID], 1, __ATOMIC_RELAXED);
					stop = 1;
					break;
				}
				uint32_t mss = (f & LUNA_TX_TCP_SEG) ? f >> LUNA_SEG_MSS_SHIFT : 0;
				int gso = mss != 0 && port_seg[port] == SEG_GSO;
				if (nm + (gso ? LUNA_GSO_SEGS_MAX : 1) > TX_MBUFS_MAX) {
					stop = 1; /* the burst is full: the rest waits */
					break;
				}
				/* While the ring refuses, a packet to cut is a step of its
				 * own: cut only once what went before it was taken. */
				if (gso && nm > 0 && refusing)
					break;
				/* A packet GSO cuts is read from the zone's buffers linked in place;
				 * any other (sent whole, or cut by the port's TSO) is a chain the PMD
				 * holds, of the shim's own mbufs. */
				uint32_t total = 0;
				for (uint32_t j = 0; j < k; j++)
					total += descs[(i + j) * LUNA_DESC_WORDS + 1] >> 16;
				struct link_saved sv[LUNA_CHAIN_RECORDS_MAX];
				struct rte_mbuf *head = gso && total > hdr + mss ? chain_link(p, d, k, sv) : NULL;
				const int linked = head != NULL;
				if (!linked)
					head = chain_build(p, d, k, hdr);
				if (unlikely(head == NULL)) {
					__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_NOMBUF], 1, __ATOMIC_RELAXED);
					stop = 1;
					break;
				}
				head->l2_len = l2;
				head->l3_len = l3;
				head->l4_len = l4;
				struct tx_pkt *t = &pk[np];
				t->rec_first = (uint16_t)i;
				t->rec_end = (uint16_t)(i + k);
				t->m_first = (uint16_t)nm;
				t->shim_owned = 1;
				t->segmented = 0;
				if (mss != 0 && head->pkt_len > hdr + mss) {
					if (!gso && port_seg[port] == SEG_TSO) {
						head->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
								 RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_TCP_SEG;
						head->tso_segsz = (uint16_t)mss;
						t->segmented = 1;
						struct rte_ipv4_hdr *ip =
							rte_pktmbuf_mtod_offset(head, struct rte_ipv4_hdr *, l2);
						struct rte_tcp_hdr *tcp = (struct rte_tcp_hdr *)((char *)ip + l3);
						ip->hdr_checksum = 0;
						tcp->cksum = rte_ipv4_phdr_cksum(ip, head->ol_flags);
						offload |= head->ol_flags;
						m[nm] = head;
						t->m_count = 1;
					} else if (gso) {
						struct rte_gso_ctx ctx = {
							.direct_pool = chain_header,
							.indirect_pool = chain_indirect,
							.flag = 0, /* IPv4 ids counted up from the packet's */
							.gso_types = RTE_ETH_TX_OFFLOAD_TCP_TSO,
							.gso_size = (uint16_t)(hdr + mss),
						};
						head->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_SEG;
						int r = rte_gso_segment(head, &ctx, m + nm, LUNA_GSO_SEGS_MAX);
						/* The segments reference the payload; the input chain goes. */
						if (linked)
							chain_unlink(p, d, k, sv);
						if (linked && unlikely(r == 0))
							r = -EINVAL; /* a fragment: the linked chain cannot go whole */
						if (unlikely(r == -ENOMEM)) {
							if (!linked)
								rte_pktmbuf_free(head);
							__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_NOMBUF], 1,
									   __ATOMIC_RELAXED);
							stop = 1; /* the caller keeps it, for a later burst */
							break;
						}
						if (unlikely(r < 0)) {
							/* Not a packet GSO can cut: dropped, counted, never retried. */
							if (!linked)
								rte_pktmbuf_free(head);
							__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_INVALID], 1,
									   __ATOMIC_RELAXED);
							t->m_count = 0;
							t->segmented = 1;
							np++;
							i += k;
							continue;
						}
						if (r == 0) {
							m[nm] = head;
							t->m_count = 1;
						} else {
							if (!linked)
								rte_pktmbuf_free(head);
							t->m_count = (uint16_t)r;
							t->segmented = 1;
						}
						for (uint32_t j = 0; j < t->m_count; j++) {
							chain_cksum(port, p, m[nm + j], l2, l3, l4);
							offload |= m[nm + j]->ol_flags;
						}
					} else {
						/* No segmentation on this port: not a packet it can send. */
						rte_pktmbuf_free(head);
						__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_INVALID], 1, __ATOMIC_RELAXED);
						stop = 1;
						break;
					}
				} else {
					m[nm] = head;
					t->m_count = 1;
					chain_cksum(port, p, head, l2, l3, l4);
					offload |= head->ol_flags;
				}
				nm += t->m_count;
				np++;
				i += k;
				continue;
			}
			struct rte_mbuf *mb = handle_mbuf(p, d[0]);
			uint32_t off = d[1] & 0xffff, len = d[1] >> 16;
			if (unlikely(mb == NULL || off + len > mb->buf_len)) {
				/* Everything before the bad record goes; the caller keeps
				 * the rest and learns of the refusal from the stats. */
				__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_INVALID], 1, __ATOMIC_RELAXED);
				stop = 1;
				break;
			}
			if (nm + 1 > TX_MBUFS_MAX) {
				stop = 1;
				break;
			}
			mb->data_off = (uint16_t)off;
			mb->data_len = (uint16_t)len;
			mb->pkt_len = len;
			uint64_t ol = 0;
			if (f & (LUNA_TX_IPV4 | LUNA_TX_IP_CKSUM | LUNA_TX_TCP_CKSUM | LUNA_TX_UDP_CKSUM)) {
				if (f & LUNA_TX_IPV4)
					ol |= RTE_MBUF_F_TX_IPV4;
				if (f & LUNA_TX_IP_CKSUM)
					ol |= RTE_MBUF_F_TX_IP_CKSUM;
				if (f & LUNA_TX_TCP_CKSUM)
					ol |= RTE_MBUF_F_TX_TCP_CKSUM;
				if (f & LUNA_TX_UDP_CKSUM)
					ol |= RTE_MBUF_F_TX_UDP_CKSUM;
				mb->l2_len = d[3] & 0x7f;
				mb->l3_len = (d[3] >> 8) & 0x1ff;
				mb->l4_len = (d[3] >> 20) & 0xff;
			}
			if (ol != 0 && no_cksum) {
				/* A link that needs none: the checksum fields go as they are. */
				ol = 0;
				d[2] = f & ~(uint32_t)(LUNA_TX_IP_CKSUM | LUNA_TX_TCP_CKSUM | LUNA_TX_UDP_CKSUM);
			} else if (ol != 0 && (port_tx_hw[port] & (LUNA_OFFLOAD_IPV4_CKSUM | LUNA_OFFLOAD_TCP_CKSUM)) !=
					       (LUNA_OFFLOAD_IPV4_CKSUM | LUNA_OFFLOAD_TCP_CKSUM)) {
				/* No hardware offload: the shim fills the checksums, in C, here,
				 * once: a record the PMD refuses comes back without the flags. */
				sw_tx_cksum(p, mb, ol);
				ol = 0;
				d[2] = f & ~(uint32_t)(LUNA_TX_IP_CKSUM | LUNA_TX_TCP_CKSUM | LUNA_TX_UDP_CKSUM);
			}
			mb->ol_flags = ol;
			offload |= ol;
			struct tx_pkt *t = &pk[np++];
			t->rec_first = (uint16_t)i;
			t->rec_end = (uint16_t)(i + 1);
			t->m_first = (uint16_t)nm;
			t->m_count = 1;
			t->shim_owned = 0;
			t->segmented = 0;
			m[nm++] = mb;
			i++;
		}
		uint16_t ready = (uint16_t)nm;
		if (offload != 0 && !pkt_port_is(port))
			ready = rte_eth_tx_prepare((uint16_t)port, (uint16_t)queue, m, ready);
		uint32_t sent = 0;
		if (ready > 0) {
			__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_PMD_CALLS], 1, __ATOMIC_RELAXED);
			sent = port_burst(1, (uint16_t)port, (uint16_t)queue, m, ready);
		}
		/* What the PMD refused, up to the end of the last packet cut (GSO),
		 * waits in the backlog (bl->n is 0
		 * here: a call that could not empty it returned above), rather than
		 * being freed and cut again on every retry while the peer's ring stays
		 * full (with many connections answering 64 KiB at once, over one cut in
		 * three was thrown away). */
		uint32_t hold_end = sent;
		for (uint32_t q = np; sent < nm && q-- > 0;) {
			const struct tx_pkt *t = &pk[q];
			uint32_t end = (uint32_t)t->m_first + t->m_count;
			if (!t->segmented || t->m_count == 0 || end <= sent)
				continue;
			/* With a backlog, the last packet cut; without (a port that
			 * cuts with TSO, whose packets are one mbuf each), a packet
			 * partly sent only. */
			if (bl != NULL || t->m_first < sent) {
				hold_end = end;
				break;
			}
		}
		if (bl == NULL) {
			/* No backlog: the rest of a packet partly sent is lost, counted;
			 * TCP sends it again. */
			if (hold_end > sent) {
				rte_pktmbuf_free_bulk(m + sent, hold_end - sent);
				__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_SEG_DROPPED], hold_end - sent,
						   __ATOMIC_RELAXED);
			}
		} else if (hold_end > sent) {
			memcpy(bl->m, m + sent, (size_t)(hold_end - sent) * sizeof(m[0]));
			bl->n = (uint16_t)(hold_end - sent);
		}
		/* Packets go in order: those whose mbufs all went, segmented ones of
		 * which some went, and those held, are the PMD's (their records'
		 * references are dropped: the shim's mbufs hold their own); the rest
		 * stay the caller's. */
		uint32_t refused = 0;
		for (uint32_t q = 0; q < np; q++) {
			struct tx_pkt *t = &pk[q];
			uint32_t end = (uint32_t)t->m_first + t->m_count;
			int gone = end <= sent || t->m_first < hold_end;
			if (gone) {
				if (t->segmented && t->m_count > 0) {
					/* Counted once taken (a packet handed back is cut again). */
					__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_SEG_PKTS], 1, __ATOMIC_RELAXED);
					if (port_seg[port] == SEG_GSO)
						__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_SEG_SEGS], t->m_count,
								   __ATOMIC_RELAXED);
				}
				if (t->shim_owned)
					for (uint32_t r = t->rec_first; r < t->rec_end; r++)
						rte_pktmbuf_free_seg(
							(struct rte_mbuf *)(p->base + descs[r * LUNA_DESC_WORDS]));
				taken = t->rec_end;
			} else {
				refused += t->m_count;
				if (t->shim_owned)
					rte_pktmbuf_free_bulk(m + t->m_first, t->m_count);
			}
		}
		if (refused > 0)
			__atomic_fetch_add(&stats[LUNA_STAT_SHIM_TX_REFUSED], refused, __ATOMIC_RELAXED);
		if (sent < nm)
			refused_any = 1;
		/* Another step while the PMD takes all it is given. */
		if (stop || i >= n || sent < nm)
			break;
	}
	if (bl != NULL)
		bl->refusing = refused_any;
	return (int32_t)(taken | (bl != NULL && bl->n > 0 ? LUNA_BURST_BACKLOG : 0));
}
