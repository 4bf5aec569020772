// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_race_test: concurrency and teardown of one VF bound to vfmig (migration=1).
 *
 *   vfmig_race_test [--seconds N] [--seed N]            (default mode "race")
 *     Threads on the same device and data fd for a bounded time: migration requests to random
 *     targets, data fd read/write/PRECOPY_INFO (also into an unmapped buffer, so that the copy
 *     fails and the driver gives bytes back), VFIO_DEVICE_RESET, close of the data fd,
 *     DMA_LOGGING START/REPORT/STOP, trapped BAR writes (doorbells, ring registers, queue
 *     enables), PF traffic and debugfs reads. Checks: every thread keeps making progress (a
 *     watchdog; alarm() ends a hung run as a failure), every fd closes, and the device is
 *     usable afterwards (a save + restore onto the same VF, then frames are received). A
 *     kernel splat fails the run through the VM harness.
 *
 *   vfmig_race_test --uffd
 *     PRE_COPY_P2P: a read() of the data fd stalls in its copy to userspace (userfaultfd) while
 *     the device goes to STOP_COPY; then the copy fails (the page is unmapped). The driver must
 *     neither crash (code review #3: the read gives bytes back into a rebuilt buffer) nor lose
 *     its place: the bytes read from the fd must still make a transfer that restores.
 *
 *   vfmig_race_test --remove sriov|pf --state S
 *     The device open in state S (a live data fd where S has one, logging on, buffers posted)
 *     while the VF is removed: `echo 0 > sriov_numvfs` (sriov) or unbinding the PF from igb
 *     (pf). The removal must wait for the device to be closed, not hang it: the REQ interrupt
 *     fires, the device's calls still return, every fd closes, and the removal completes once
 *     they are closed. With sriov the data fd is kept until after the VF is gone (it must fail
 *     with ENODEV and close). The caller recreates the VFs.
 *
 *   vfmig_race_test --reset-arcs [--seconds N]
 *     10 N rounds (default 200) of VFIO_DEVICE_RESET from one thread while another, after a
 *     random delay (0-30 ms, within the reset's FLR), makes an arc that writes the VF (RUNNING_P2P -> RUNNING, RESUMING ->
 *     RUNNING). Once both returned the reset must be the last thing the device saw: RUNNING,
 *     no queue enabled; the arc may fail only with EAGAIN.
 *
 *   vfmig_race_test --rmmod --state S
 *     `rmmod vfmig` (delete_module, O_NONBLOCK) while the device is open in state S must fail
 *     at once (EBUSY/EWOULDBLOCK), and again while only a data fd is left open.
 *
 * States S: RUNNING STOP STOP_COPY RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P (ERROR needs a
 * device fault; no request of a user reaches it).
 *
 * Environment: VFMIG_BDF, VFMIG_PF_IF, VFMIG_VF_MAC (administrative MAC), VFMIG_PF_BDF (for
 * --remove). Output: TAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vf82576.h"
#include "vfmig_util.h"

#define AREA_IOVA	0x10000000ull
#define AREA_SIZE	(4ull << 20)
#define RX_COUNT	64
#define BUF_SIZE	2048
#define XFER_MAX	(256 * 1024)
#define QSTRIDE		0x100

#define ST_ERROR	VFIO_DEVICE_STATE_ERROR
#define ST_STOP		VFIO_DEVICE_STATE_STOP
#define ST_RUNNING	VFIO_DEVICE_STATE_RUNNING
#define ST_STOP_COPY	VFIO_DEVICE_STATE_STOP_COPY
#define ST_RESUMING	VFIO_DEVICE_STATE_RESUMING
#define ST_P2P		VFIO_DEVICE_STATE_RUNNING_P2P
#define ST_PRE		VFIO_DEVICE_STATE_PRE_COPY
#define ST_PRE_P2P	VFIO_DEVICE_STATE_PRE_COPY_P2P

static const char *snames[] = { "ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING",
				"RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P" };

static const char *sname(int s)
{
	return s >= 0 && s < 8 ? snames[s] : "?";
}

static int tap_n, tap_fail;
static uint64_t seed;

static void tap(bool ok, const char *name, const char *fmt, ...)
{
	char why[512] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	tap_n++;
	if (!ok)
		tap_fail++;
	printf("%sok %d %s%s%s\n", ok ? "" : "not ", tap_n, name, *why ? " # " : "", why);
	fflush(stdout);
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* --- splitmix64, per thread --------------------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(uint64_t *s, uint32_t n)
{
	return n ? rnd(s) % n : 0;
}

/* --- the device ------------------------------------------------------------------------------- */

static struct vf_container cont;
static struct vf_dev vf;
static struct vf_dma area;
static int dev = -1, sock = -1, ifindex, vf_idx;
static uint8_t pf_mac[6], admin_mac[6];
static uint32_t nonce, pf_seq;
static union vf_rx_desc *rxd;
static uint64_t rxd_iova, bufs_iova;
static uint32_t rx_tail;

static const char *what_now = "setup";	/* for the alarm handler */

static void on_alarm(int sig)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "not ok 99 no_hang # HANG: still in \"%s\" when the "
			 "alarm fired (seed 0x%016llx)\n", what_now, (unsigned long long)seed);

	(void)sig;
	if (write(1, msg, n) < 0)
		_exit(3);
	_exit(3);
}

static uint32_t bar_rd(uint32_t off)
{
	uint32_t v = ~0u;

	if (pread(dev, &v, 4, vf.bar0_offset + off) != 4)
		return ~0u;
	return v;
}

static int bar_wr(uint32_t off, uint32_t v)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return pwrite(dev, &v, 4, vf.bar0_offset + off) == 4 ? 0 : -errno;
}

/* Reset handshake, Rx queue 0 on a fresh ring with every buffer posted. */
static int guest_init(void)
{
	int ret = vfmig_bring_up(&vf, 0x07, (uint8_t)vf_idx);

	if (ret)
		return ret;
	for (uint32_t q = 0; q < 2; q++) {
		bar_wr(VF_TDWBAL + q * QSTRIDE, 0);
		bar_wr(VF_TDWBAH + q * QSTRIDE, 0);
		bar_wr(VF_TDLEN + q * QSTRIDE, 0);
	}
	bar_wr(VF_RDLEN + QSTRIDE, 0);
	bar_wr(VF_RXDCTL, 0);
	for (uint32_t i = 0; i < RX_COUNT; i++) {
		rxd[i].read.pkt_addr = bufs_iova + i * BUF_SIZE;
		rxd[i].read.hdr_addr = 0;
	}
	bar_wr(VF_RDBAL, (uint32_t)rxd_iova);
	bar_wr(VF_RDBAH, (uint32_t)(rxd_iova >> 32));
	bar_wr(VF_RDLEN, RX_COUNT * 16);
	bar_wr(VF_SRRCTL, VF_SRRCTL_DESCTYPE_ADV_ONEBUF | VF_SRRCTL_DROP_EN | (BUF_SIZE >> 10));
	bar_wr(VF_RDH, 0);
	bar_wr(VF_RXDCTL, VF_RXDCTL_ENABLE);
	rx_tail = RX_COUNT - 1;
	return bar_wr(VF_RDT, rx_tail);
}

/* Frames received since guest_init (DD set). */
static uint32_t rx_done(void)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < RX_COUNT; i++)
		n += !!(((volatile union vf_rx_desc *)rxd)[i].wb.status_error & VF_RXD_STAT_DD);
	return n;
}

static const struct vfio_device_feature_dma_logging_range range = {
	.iova = AREA_IOVA, .length = AREA_SIZE,
};

static int log_start(void)
{
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = 4096, .num_ranges = 1, .ranges = (uintptr_t)&range,
	};

	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
			     &ctl, sizeof(ctl));
}

static int log_stop(void)
{
	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
			     NULL, 0);
}

static int log_report(void)
{
	static uint64_t bm[AREA_SIZE / 4096 / 64];
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = AREA_IOVA, .length = AREA_SIZE, .page_size = 4096, .bitmap = (uintptr_t)bm,
	};

	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
			     &rep, sizeof(rep));
}

static int dev_setup(void)
{
	uint64_t flags = 0;
	int ret;

	if (vfmig_parse_mac(vfmig_env("VFMIG_VF_MAC"), admin_mac))
		return -EINVAL;
	vf_idx = vfmig_vf_index(vfmig_env("VFMIG_BDF"));
	ifindex = if_nametoindex(vfmig_env("VFMIG_PF_IF"));
	if (vf_idx < 0 || !ifindex || vfmig_netdev_mac(vfmig_env("VFMIG_PF_IF"), pf_mac))
		return -ENODEV;
	nonce = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16) ^ 0x52414345;
	ret = vf_container_open(&cont);
	if (!ret)
		ret = vf_open(&cont, vfmig_env("VFMIG_BDF"), &vf);
	if (!ret)
		ret = vf_dma_map(&cont, &area, AREA_SIZE, AREA_IOVA);
	if (ret)
		return ret;
	dev = vf.device_fd;
	if (mig_flags(dev, &flags) || !(flags & VFIO_MIGRATION_PRE_COPY)) {
		diag("migration flags 0x%llx: is vfmig loaded with migration on (the default)?",
		     (unsigned long long)flags);
		return -ENOTTY;
	}
	rxd = vf_dma_alloc(&area, RX_COUNT * sizeof(*rxd), 4096, &rxd_iova);
	if (!rxd || !vf_dma_alloc(&area, RX_COUNT * BUF_SIZE, 4096, &bufs_iova))
		return -ENOMEM;
	sock = vfmig_pkt_open(ifindex, 1 << 20);
	if (sock < 0)
		return sock;
	return guest_init();
}

static void pf_send(void)
{
	vfmig_pf_send(sock, ifindex, vf.mac, pf_mac, nonce, VFMIG_DIR_PF_TO_VF, pf_seq++);
}

static void drain_sock(void)
{
	uint8_t b[2048];

	while (recv(sock, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

/* A whole transfer saved now (RUNNING -> STOP_COPY -> read -> STOP): its length or -errno. */
static ssize_t save_now(uint8_t *buf, size_t cap)
{
	ssize_t len;
	int fd, ret;

	ret = mig_set(dev, ST_STOP_COPY, &fd);
	if (ret)
		return ret;
	len = mig_read_stream(fd, buf, cap, 4096);
	close(fd);
	ret = mig_set(dev, ST_STOP, NULL);
	return ret ? ret : len;
}

/*
 * From RUNNING to `state`, leaving a live data fd where the state has one (partly read or
 * written): the fd, -1 for none, or -errno.
 */
static int drive_to(int state, uint8_t *xfer, ssize_t *xlen)
{
	uint8_t b[64];
	int fd = -1, ret;

	*xlen = 0;
	switch (state) {
	case ST_RUNNING:
		return -1;
	case ST_P2P:
	case ST_STOP:
		ret = mig_set(dev, state, NULL);
		return ret ? ret : -1;
	case ST_STOP_COPY:
	case ST_PRE:
		ret = mig_set(dev, state, &fd);
		if (ret)
			return ret;
		if (read(fd, b, 10) != 10)
			diag("partial read in %s: %s", sname(state), strerror(errno));
		return fd;
	case ST_PRE_P2P:
		ret = mig_set(dev, ST_PRE, &fd);
		if (!ret)
			ret = mig_set(dev, ST_PRE_P2P, NULL);
		if (!ret && read(fd, b, 10) != 10)
			diag("partial read in PRE_COPY_P2P: %s", strerror(errno));
		return ret ? ret : fd;
	case ST_RESUMING:
		*xlen = save_now(xfer, XFER_MAX);
		if (*xlen <= 0)
			return *xlen ? (int)*xlen : -EIO;
		ret = mig_set(dev, ST_RESUMING, &fd);
		if (ret)
			return ret;
		/* half of a transfer written */
		if (write(fd, xfer, *xlen / 2) != *xlen / 2)
			diag("partial write: %s", strerror(errno));
		return fd;
	}
	return -EINVAL;
}

static int parse_state(const char *s)
{
	for (int i = 0; i < 8; i++)
		if (!strcmp(s, snames[i]))
			return i;
	return -1;
}

/* --- race ------------------------------------------------------------------------------------- */

enum { T_STATE, T_IO, T_RESET, T_CLOSE, T_LOG, T_BAR, T_TRAFFIC, T_DEBUGFS, T_N };
static const char *tname[T_N] = { "set_state", "data_io", "reset", "close_fd", "dma_logging",
				  "bar", "traffic", "debugfs" };

static atomic_bool stop_all;
static atomic_ullong progress[T_N];
static atomic_ullong close_errors;
static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static int cur_fd = -1;
static bool cur_resume;		/* cur_fd is a resume fd (else a save fd) */
static uint8_t xfer[XFER_MAX];
static atomic_long xfer_len;
static void *bad_page;

static int fd_take_dup(bool *resume)
{
	int fd;

	pthread_mutex_lock(&fd_lock);
	fd = cur_fd >= 0 ? dup(cur_fd) : -1;
	*resume = cur_resume;
	pthread_mutex_unlock(&fd_lock);
	return fd;
}

static void fd_close_checked(int fd)
{
	if (fd >= 0 && close(fd))
		atomic_fetch_add(&close_errors, 1);
}

static void fd_publish(int fd, bool resume)
{
	int old;

	pthread_mutex_lock(&fd_lock);
	old = cur_fd;
	cur_fd = fd;
	cur_resume = resume;
	pthread_mutex_unlock(&fd_lock);
	fd_close_checked(old);
}

/*
 * Every call's result, judged: each request may fail only with the errnos the uAPI and
 * Documentation/vfmig/design.rst give it for what the threads do, told apart by what can be
 * known here. SET_STATE: an invalid target gets exactly EINVAL; a valid one may fail only from
 * RESUMING (the refused restore of a partial or foreign transfer, the mailbox handshake), and
 * after a success the state is the target (or RUNNING: a reset came in between; only this
 * thread sets states, the reset thread only goes back to RUNNING). Data fds are judged by their
 * kind (save or resume; a write to a save fd or a read of a resume fd never succeeds). Anything
 * else (EIO, ENOMEM, ETIMEDOUT, EFAULT from an ioctl, a BAR access that fails) is counted with
 * the first one kept and fails errnos_documented. Each request kind must also have succeeded
 * at least once (every_request_kind_ran) and every state been reached. ERROR is never reached
 * here: no fault is injected, so the device state is always known; seeing it fails
 * never_error_state (and scripts/vm fails any run whose kernel log shows a device entering it).
 */
enum op { O_SET, O_SET_RESTORE, O_SET_INVALID, O_SET_NOPATH, O_GET, O_SREAD, O_SREAD_BAD, O_SWRITE,
	  O_SPRECOPY, O_RREAD, O_RWRITE, O_RWRITE_BAD, O_RPRECOPY, O_RESET, O_LOG_START,
	  O_LOG_STOP, O_LOG_REPORT, O_BAR, O_N };
static const char *oname[O_N] = {
	"SET_STATE", "SET_STATE from RESUMING", "SET_STATE invalid", "SET_STATE without a path",
	"GET_STATE", "save read",
	"save read(unmapped)", "save write", "save PRECOPY_INFO", "resume read", "resume write",
	"resume write(unmapped)", "resume PRECOPY_INFO", "DEVICE_RESET", "LOG_START", "LOG_STOP",
	"LOG_REPORT", "BAR access" };
#define MUST_FAIL	-1	/* first entry: success is wrong too */
#define MAY_FAIL_ONLY	-2	/* first entry: no success needed */
static const int allowed[O_N][12] = {
	[O_SET] = { EAGAIN },	/* a reset came first: the arc is not made */
	/* a refused, truncated or foreign transfer; the mailbox handshake (design.rst) */
	[O_SET_RESTORE] = { MAY_FAIL_ONLY, EINVAL, EBADMSG, EPROTO, ENODEV, EOPNOTSUPP, EPERM,
			    EBUSY, EAGAIN, ETIMEDOUT },
	[O_SET_INVALID] = { MUST_FAIL, EINVAL },
	/* STOP_COPY -> PRE_COPY(_P2P): no path in the uAPI's FSM (succeeds after a reset) */
	[O_SET_NOPATH] = { MAY_FAIL_ONLY, EINVAL },
	[O_GET] = { 0 },
	/* a stale fd, the temporary end of a pre-copy stream */
	[O_SREAD] = { ENODEV, ENOMSG },
	[O_SREAD_BAD] = { MAY_FAIL_ONLY, ENODEV, ENOMSG, EFAULT },
	[O_SWRITE] = { MUST_FAIL, EBADF },
	/* not in a PRE_COPY state, or a stale fd */
	[O_SPRECOPY] = { EINVAL, ENODEV },
	[O_RREAD] = { MUST_FAIL, EBADF },
	/* a stale fd; a stream error found on arrival */
	[O_RWRITE] = { ENODEV, EBADMSG, EPROTO, EINVAL, EOPNOTSUPP },
	[O_RWRITE_BAD] = { MAY_FAIL_ONLY, ENODEV, EFAULT, EBADMSG, EPROTO, EINVAL, EOPNOTSUPP },
	[O_RPRECOPY] = { MAY_FAIL_ONLY, EINVAL, ENODEV },
	[O_RESET] = { 0 },
	[O_LOG_START] = { EBUSY },		/* already started */
	[O_LOG_STOP] = { 0 },
	[O_LOG_REPORT] = { EINVAL },		/* not started */
	[O_BAR] = { 0 },
};
static atomic_ullong calls[O_N], errs[O_N], bad_results, error_states, reached[8];
static atomic_uint errcnt[O_N][160];
static pthread_mutex_t first_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_bad[256];

static void bad(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&bad_results, 1) == 0) {
		pthread_mutex_lock(&first_lock);
		va_start(ap, fmt);
		vsnprintf(first_bad, sizeof(first_bad), fmt, ap);
		va_end(ap);
		pthread_mutex_unlock(&first_lock);
	}
}

/* Judges one result: ret < 0 with errno err, or success. */
static void judge(enum op o, long ret, int err)
{
	atomic_fetch_add(&calls[o], 1);
	if (ret >= 0) {
		if (allowed[o][0] == MUST_FAIL)
			bad("%s succeeded (%ld)", oname[o], ret);
		return;
	}
	atomic_fetch_add(&errs[o], 1);
	if (err > 0 && err < 160)
		atomic_fetch_add(&errcnt[o][err], 1);
	for (int i = 0; i < 12 && allowed[o][i]; i++)
		if (allowed[o][i] == err)
			return;
	bad("%s: %s", oname[o], strerror(err));
}

/* Judges a call that returns -1 and sets errno, or >= 0 (errno read after the call). */
#define JUDGE(o, call)						\
	do {							\
		long ret_ = (call);				\
								\
		judge(o, ret_, ret_ < 0 ? errno : 0);		\
	} while (0)

/* Judges a call that returns -errno or >= 0. */
static void judge_neg(enum op o, long ret)
{
	judge(o, ret, ret < 0 ? (int)-ret : 0);
}

/* The "last_error" lines of the device's debugfs state file (the failed arc), for a report. */
static const char *last_error_line(void)
{
	static __thread char out[256];
	char path[256], buf[4096], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/kernel/debug/vfio/%s/vfmig/state", vfmig_env("VFMIG_BDF"));
	fd = open(path, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return "no debugfs state";
	buf[n] = 0;
	p = strstr(buf, "last_error");
	snprintf(out, sizeof(out), "%s", p ? p : "no last_error");
	for (char *q = out; *q; q++)
		if (*q == '\n')
			*q = ' ';
	return out;
}

/* A sample of the state by any thread: ERROR is never right here. */
static void sample_state(void)
{
	int now = mig_get(dev);

	judge_neg(O_GET, now);
	if (now == ST_ERROR)
		atomic_fetch_add(&error_states, 1);
}

static void nap_us(uint64_t *s, uint32_t max)
{
	struct timespec ts = { 0, (long)below(s, max) * 1000 };

	nanosleep(&ts, NULL);
}

static void *thread_main(void *arg)
{
	int t = (int)(intptr_t)arg;
	uint64_t s = seed ^ ((uint64_t)(t + 1) * 0x1000193);
	static uint8_t iobufs[T_N][8192];
	uint8_t *buf = iobufs[t];

	while (!atomic_load(&stop_all)) {
		switch (t) {
		case T_STATE: {
			uint32_t target;
			int fd = -1, ret;

			int pre = mig_get(dev), now;
			bool invalid, nopath;

			target = below(&s, 10) ? 1 + below(&s, 7) : below(&s, 2) ? 0 : 8;
			invalid = target == ST_ERROR || target > 7;
			ret = mig_set(dev, target, &fd);
			/* from `pre`, or from RUNNING if a reset came in between */
			nopath = pre == ST_STOP_COPY && (target == ST_PRE || target == ST_PRE_P2P);
			judge_neg(invalid ? O_SET_INVALID : nopath ? O_SET_NOPATH :
				  pre == ST_RESUMING ? O_SET_RESTORE : O_SET, ret);
			if (ret && !invalid && !nopath && pre != ST_RESUMING && ret != -EAGAIN)
				diag("SET_STATE %s -> %s: %s; %s", sname(pre), sname(target),
				     strerror(-ret), last_error_line());
			now = mig_get(dev);
			judge_neg(O_GET, now);
			if (!ret && !invalid) {
				atomic_fetch_add(&reached[target], 1);
				if (now != (int)target && now != ST_RUNNING)
					bad("SET_STATE %s succeeded, then the state is %s", sname(target),
					    sname(now));
			}
			if (now == ST_ERROR) {
				atomic_fetch_add(&error_states, 1);
				JUDGE(O_RESET, ioctl(dev, VFIO_DEVICE_RESET));
			}
			if (!ret && fd >= 0) {
				/* a whole transfer, now and then, for the writers */
				if (target == ST_STOP_COPY && !below(&s, 3)) {
					ssize_t n = mig_read_stream(fd, xfer, sizeof(xfer), 4096);

					if (n > 0)
						atomic_store(&xfer_len, n);
				}
				fd_publish(fd, target == ST_RESUMING);
			}
			nap_us(&s, 2000);
			break;
		}
		case T_IO: {
			struct vfio_precopy_info pi = { .argsz = sizeof(pi) };
			long xl = atomic_load(&xfer_len);
			int k = below(&s, 8), fd;
			bool r;

			fd = fd_take_dup(&r);
			if (fd < 0) {
				nap_us(&s, 500);
				break;
			}
			if (k < 3)
				JUDGE(r ? O_RREAD : O_SREAD, read(fd, buf, 1 + below(&s, 8192)));
			else if (k == 3)	/* the copy to userspace fails: bytes given back */
				JUDGE(r ? O_RREAD : O_SREAD_BAD,
				      read(fd, bad_page, 1 + below(&s, 4096)));
			else if (k == 4 && xl > 0)
				JUDGE(r ? O_RWRITE : O_SWRITE, write(fd, xfer, 1 + below(&s, xl)));
			else if (k == 5)
				JUDGE(r ? O_RWRITE_BAD : O_SWRITE,
				      write(fd, bad_page, 1 + below(&s, 64)));
			else if (k == 6)
				JUDGE(r ? O_RWRITE : O_SWRITE, write(fd, buf, 1 + below(&s, 100)));
			else
				JUDGE(r ? O_RPRECOPY : O_SPRECOPY,
				      ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi));
			fd_close_checked(fd);
			break;
		}
		case T_RESET:
			nap_us(&s, 60000);
			JUDGE(O_RESET, ioctl(dev, VFIO_DEVICE_RESET));
			break;
		case T_CLOSE: {
			int fd;

			nap_us(&s, 30000);
			pthread_mutex_lock(&fd_lock);
			fd = cur_fd;
			cur_fd = -1;
			pthread_mutex_unlock(&fd_lock);
			fd_close_checked(fd);
			break;
		}
		case T_LOG: {
			int k = below(&s, 6);

			if (k == 0)
				judge_neg(O_LOG_START, log_start());
			else if (k == 1)
				judge_neg(O_LOG_STOP, log_stop());
			else
				judge_neg(O_LOG_REPORT, log_report());
			sample_state();
			nap_us(&s, 1000);
			break;
		}
		case T_BAR: {
			int k = below(&s, 8);

			if (k < 3) {
				uint32_t i = below(&s, RX_COUNT);

				rxd[i].read.pkt_addr = bufs_iova + below(&s, RX_COUNT) * BUF_SIZE;
				rxd[i].read.hdr_addr = 0;
				judge_neg(O_BAR, bar_wr(VF_RDT, below(&s, RX_COUNT)));
			} else if (k == 3) {
				judge_neg(O_BAR, bar_wr(VF_RXDCTL, below(&s, 2) ? VF_RXDCTL_ENABLE : 0));
			} else if (k == 4) {
				judge_neg(O_BAR, bar_wr(VF_RDBAL, (uint32_t)rxd_iova));
				judge_neg(O_BAR, bar_wr(VF_RDLEN, RX_COUNT * 16));
			} else if (k == 5) {
				judge_neg(O_BAR, bar_wr(VF_EITR(below(&s, 3)), below(&s, 0x8000) & ~3u));
			} else {
				uint32_t v;

				for (int j = 0; j < 3; j++) {
					static const uint32_t off[] = { VF_RDH, VF_V2PMAILBOX, VF_EIMS };

					JUDGE(O_BAR, pread(dev, &v, 4, vf.bar0_offset + off[j]) == 4 ?
						     0 : -1);
				}
			}
			break;
		}
		case T_TRAFFIC:
			pf_send();
			drain_sock();
			nap_us(&s, 1000);
			break;
		case T_DEBUGFS: {
			char path[256];
			int fd;

			snprintf(path, sizeof(path), "/sys/kernel/debug/vfio/%s/vfmig/%s",
				 vfmig_env("VFMIG_BDF"), below(&s, 2) ? "state" : "regs");
			fd = open(path, O_RDONLY);
			if (fd >= 0) {
				(void)!read(fd, buf, 8192);
				close(fd);
			}
			nap_us(&s, 20000);
			break;
		}
		}
		atomic_fetch_add(&progress[t], 1);
	}
	return NULL;
}

/* The device usable: RUNNING, handshake, a save + restore onto itself, frames received. */
static void final_usable(void)
{
	static uint8_t b[XFER_MAX];
	ssize_t len;
	int fd = -1, ret, s;
	uint64_t end;

	what_now = "final check";
	log_stop();
	s = mig_get(dev);
	if (s != ST_RUNNING) {
		ret = ioctl(dev, VFIO_DEVICE_RESET);
		diag("state %s after the race; reset: %s", sname(s), ret ? strerror(errno) : "ok");
	}
	tap(mig_get(dev) == ST_RUNNING, "running_after_reset", "state %s", sname(mig_get(dev)));
	ret = guest_init();
	tap(!ret, "guest_reinit", ret ? "%s" : NULL, strerror(-ret));
	len = save_now(b, sizeof(b));
	tap(len > 40, "final_save", "%zd", len);
	if (len <= 40)
		return;
	ret = mig_set(dev, ST_RESUMING, &fd);
	if (!ret)
		ret = mig_write_stream(fd, b, len, NULL, 0);
	if (!ret)
		ret = mig_set(dev, ST_RUNNING, NULL);
	if (fd >= 0)
		close(fd);
	tap(!ret && mig_get(dev) == ST_RUNNING, "final_restore", "%s, state %s",
	    ret ? strerror(-ret) : "ok", sname(mig_get(dev)));
	/* the restored rings continue: buffers posted, frames arrive */
	for (uint32_t i = 0; i < RX_COUNT; i++) {
		rxd[i].read.pkt_addr = bufs_iova + i * BUF_SIZE;
		rxd[i].read.hdr_addr = 0;
	}
	bar_wr(VF_RDH, 0);
	bar_wr(VF_RDT, RX_COUNT - 1);
	for (int i = 0; i < 8; i++)
		pf_send();
	end = vf_now_ms() + 3000;
	while (rx_done() < 8 && vf_now_ms() < end)
		usleep(1000);
	tap(rx_done() >= 8, "final_traffic", "%u of 8 frames received", rx_done());
}

static int run_race(unsigned int seconds)
{
	pthread_t th[T_N];
	unsigned long long last[T_N] = { 0 };
	uint64_t last_move[T_N], t0 = vf_now_ms();
	bool hang = false;
	/* a thread that does not come round within this long hangs (at most half the run) */
	uint64_t hang_ms = seconds * 500ull < 20000 ? seconds * 500ull : 20000;

	bad_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	log_start();
	for (int t = 0; t < T_N; t++) {
		last_move[t] = t0;
		pthread_create(&th[t], NULL, thread_main, (void *)(intptr_t)t);
	}
	what_now = "race";
	while (vf_now_ms() - t0 < seconds * 1000ull && !hang) {
		sleep(1);
		for (int t = 0; t < T_N; t++) {
			unsigned long long p = atomic_load(&progress[t]);

			if (p != last[t]) {
				last[t] = p;
				last_move[t] = vf_now_ms();
			} else if (vf_now_ms() - last_move[t] > hang_ms) {
				diag("HANG: thread %s made no progress for %llu ms", tname[t],
				     (unsigned long long)(vf_now_ms() - last_move[t]));
				hang = true;
			}
		}
	}
	atomic_store(&stop_all, true);
	what_now = "joining the threads";
	for (int t = 0; t < T_N; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < T_N; t++)
		diag("thread %-12s %llu iterations", tname[t], (unsigned long long)last[t]);
	tap(!hang, "no_hang", hang ? "a thread stopped making progress" : NULL);
	for (int o = 0; o < O_N; o++) {
		char hist[256] = "";
		size_t m = 0;

		for (int e = 1; e < 160; e++)
			if (atomic_load(&errcnt[o][e]) && m < sizeof(hist))
				m += snprintf(hist + m, sizeof(hist) - m, " %s %u",
					      strerrorname_np(e) ?: "?", atomic_load(&errcnt[o][e]));
		diag("%-16s %llu calls, %llu failed%s%s", oname[o],
		     (unsigned long long)atomic_load(&calls[o]),
		     (unsigned long long)atomic_load(&errs[o]), m ? ":" : "", hist);
	}
	tap(!atomic_load(&bad_results), "errnos_documented", "%llu results outside the documented "
	    "errnos, the first: %s", (unsigned long long)atomic_load(&bad_results), first_bad);
	tap(!atomic_load(&error_states), "never_error_state", "ERROR seen %llu times",
	    (unsigned long long)atomic_load(&error_states));
	{
		/* each kind of request ran, and succeeded where it can; every state reached */
		char missing[512] = "";
		size_t m = 0;

		for (int o = 0; o < O_N; o++) {
			unsigned long long c = atomic_load(&calls[o]), e = atomic_load(&errs[o]);
			bool need_ok = allowed[o][0] != MUST_FAIL && allowed[o][0] != MAY_FAIL_ONLY;

			if ((!c || (need_ok && c == e)) && m < sizeof(missing))
				m += snprintf(missing + m, sizeof(missing) - m, " %s%s", oname[o],
					      c ? " (only failed)" : "");
		}
		for (int t = 1; t < 8; t++)
			if (!atomic_load(&reached[t]) && m < sizeof(missing))
				m += snprintf(missing + m, sizeof(missing) - m, " %s reached",
					      sname(t));
		if (atomic_load(&xfer_len) <= 0 && m < sizeof(missing))
			m += snprintf(missing + m, sizeof(missing) - m, " a whole transfer");
		tap(!m, "every_request_kind_ran", "never:%s", missing);
		m = 0;
		for (int t = 0; t < T_N; t++)
			if (!atomic_load(&progress[t]) && m < sizeof(missing))
				m += snprintf(missing + m, sizeof(missing) - m, " %s", tname[t]);
		tap(!m, "every_thread_ran", "no iteration completed:%s", missing);
	}
	fd_publish(-1, false);
	tap(!atomic_load(&close_errors), "every_fd_closes", "%llu close() errors",
	    (unsigned long long)atomic_load(&close_errors));
	final_usable();
	return 0;
}

/* --- uffd: a read stalled in its copy across PRE_COPY_P2P -> STOP_COPY --------------------- */

struct uffd_reader {
	int fd;
	void *addr;
	size_t len;
	ssize_t ret;
	int err;
	atomic_bool done;
};

static void *uffd_read_thread(void *arg)
{
	struct uffd_reader *r = arg;

	r->ret = read(r->fd, r->addr, r->len);
	r->err = errno;
	atomic_store(&r->done, true);
	return NULL;
}

static int run_uffd(void)
{
	static uint8_t got[XFER_MAX], back[XFER_MAX];
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };
	struct uffd_reader r = { 0 };
	struct pollfd pfd;
	struct uffd_msg msg;
	pthread_t th;
	size_t have = 0, first = 0;
	ssize_t n;
	int uffd, fd = -1, ret, rfd = -1, nstreams = 0;
	uint32_t total, flags;
	void *region;

	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		tap(true, "uffd_read_vs_stop_copy", "SKIP userfaultfd: %s", strerror(errno));
		return 4;
	}
	region = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg.range.start = (uintptr_t)region;
	reg.range.len = 2 * 4096;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (region == MAP_FAILED || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		tap(false, "uffd_setup", "%s", strerror(errno));
		return 1;
	}
	ret = mig_set(dev, ST_PRE, &fd);
	if (!ret)
		ret = mig_set(dev, ST_PRE_P2P, NULL);
	if (ret || fd < 0) {
		tap(false, "uffd_pre_copy_p2p", "%s", strerror(-ret));
		return 1;
	}
	/* the first 10 bytes read normally: the stalled read covers the rest of the initial data */
	have = read(fd, got, 10);
	r.fd = fd;
	r.addr = region;
	r.len = 8192;
	what_now = "uffd: waiting for the reader's fault";
	pthread_create(&th, NULL, uffd_read_thread, &r);
	pfd.fd = uffd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) != 1 || read(uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT) {
		tap(false, "uffd_reader_faulted", "no fault within 10 s (reader done %d, ret %zd)",
		    atomic_load(&r.done), r.ret);
		return 1;
	}
	tap(!atomic_load(&r.done), "uffd_reader_stalled", NULL);
	/* the reader sits in its copy_to_user; the device moves on */
	what_now = "uffd: PRE_COPY_P2P -> STOP_COPY under a stalled read";
	ret = mig_set(dev, ST_STOP_COPY, NULL);
	tap(!ret, "uffd_stop_copy_while_reader_stalled", ret ? "%s" : NULL, strerror(-ret));
	/* the copy fails: the page goes away, the reader is woken */
	what_now = "uffd: failing the stalled copy";
	munmap(region, 2 * 4096);
	close(uffd);
	for (int i = 0; i < 1000 && !atomic_load(&r.done); i++)
		usleep(10000);
	tap(atomic_load(&r.done), "uffd_reader_returned", NULL);
	pthread_join(th, NULL);
	diag("the stalled read returned %zd (%s)", r.ret, r.ret < 0 ? strerror(r.err) : "bytes");
	if (r.ret > 0) {
		/* it copied something after all (the fault was resolved): nothing to give back */
		diag("the reader got %zd bytes; not the failing-copy case", r.ret);
	}
	/* everything else of the transfer */
	what_now = "uffd: reading the rest";
	n = mig_read_stream(fd, got + have, sizeof(got) - have, 4096);
	diag("after the failed copy: %zd more bytes (%zu before)", n, have);
	if (n > 0)
		have += n;
	/* the bytes read from the fd must be whole streams: the initial data (with the bytes the
	 * failed read gave back), then the final state */
	for (size_t off = 0; off + 40 <= have; off += total) {
		memcpy(&total, got + off + 28, 4);
		memcpy(&flags, got + off + 24, 4);
		if (memcmp(got + off, "VFMG", 4) || total < 40 || total > have - off) {
			nstreams = -1;
			break;
		}
		if (!nstreams)
			first = total;
		nstreams++;
	}
	tap(nstreams >= 1 && n > 0, "uffd_transfer_intact",
	    "%zu bytes read in all, %d whole streams (first %zu bytes)", have, nstreams, first);
	close(fd);
	ret = mig_set(dev, ST_STOP, NULL);
	if (!ret)
		ret = mig_set(dev, ST_RESUMING, &rfd);
	if (!ret) {
		memcpy(back, got, have);
		ret = mig_write_stream(rfd, back, have, NULL, 0);
	}
	if (!ret)
		ret = mig_set(dev, ST_RUNNING, NULL);
	if (rfd >= 0)
		close(rfd);
	tap(!ret, "uffd_transfer_restores", ret ? "%s" : NULL, strerror(-ret));
	return tap_fail ? 1 : 0;
}

/* --- removal and rmmod with the device open ---------------------------------------------------- */

struct remover {
	char path[256];
	char value[64];
	int ret;
	atomic_bool done;
	uint64_t ms;
};

static void *remove_thread(void *arg)
{
	struct remover *rm = arg;
	uint64_t t0 = vf_now_ms();
	int fd = open(rm->path, O_WRONLY);

	rm->ret = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		if (write(fd, rm->value, strlen(rm->value)) < 0)
			rm->ret = -errno;
		close(fd);
	}
	rm->ms = vf_now_ms() - t0;
	atomic_store(&rm->done, true);
	return NULL;
}

static int req_irq(int *efd)
{
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} s = { 0 };

	*efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s.set.argsz = sizeof(s);
	s.set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	s.set.index = VFIO_PCI_REQ_IRQ_INDEX;
	s.set.start = 0;
	s.set.count = 1;
	s.fd = *efd;
	return ioctl(dev, VFIO_DEVICE_SET_IRQS, &s) ? -errno : 0;
}

static int run_remove(const char *how, int state)
{
	static uint8_t x[XFER_MAX];
	struct remover rm = { 0 };
	char bdfpath[300];
	pthread_t th;
	ssize_t xlen = 0;
	uint8_t b[16];
	int efd = -1, fd, ret, s;
	uint64_t cnt = 0;
	struct pollfd pfd;

	ret = req_irq(&efd);
	if (ret)
		diag("REQ interrupt not wired: %s", strerror(-ret));
	ret = log_start();
	tap(!ret, "logging_on", ret ? "%s" : NULL, strerror(-ret));
	for (int i = 0; i < 4; i++)
		pf_send();
	fd = drive_to(state, x, &xlen);
	s = mig_get(dev);
	tap(fd >= -1 && s == state, "in_state", "drive_to: %d, state %s", fd, sname(s));
	if (fd < -1)
		return 1;
	if (!strcmp(how, "sriov")) {
		snprintf(rm.path, sizeof(rm.path), "/sys/bus/pci/devices/%s/sriov_numvfs",
			 vfmig_env("VFMIG_PF_BDF"));
		snprintf(rm.value, sizeof(rm.value), "0");
	} else {
		snprintf(rm.path, sizeof(rm.path), "/sys/bus/pci/drivers/igb/unbind");
		snprintf(rm.value, sizeof(rm.value), "%s", vfmig_env("VFMIG_PF_BDF"));
	}
	what_now = "removal pending, device open";
	pthread_create(&th, NULL, remove_thread, &rm);
	/* the kernel asks the user to release the device */
	pfd.fd = efd;
	pfd.events = POLLIN;
	if (efd >= 0) {
		ret = poll(&pfd, 1, 15000);
		if (ret == 1 && read(efd, &cnt, 8) == 8)
			tap(true, "req_irq_fired", NULL);
		else
			tap(false, "req_irq_fired", "no device request within 15 s (removal %s)",
			    atomic_load(&rm.done) ? "done" : "pending");
	}
	tap(!atomic_load(&rm.done), "removal_waits_for_release",
	    atomic_load(&rm.done) ? "the removal finished with the device open (%d)" : NULL,
	    rm.ret);
	/* the device's calls still return while the removal waits */
	what_now = "device calls during the pending removal";
	{
		/*
		 * They return, promptly, with what they give outside a removal: the state as it
		 * was, REPORT working, RESET refused only because the removal holds the device
		 * lock (EAGAIN from pci_try_reset_function), the BAR readable, the arc to
		 * STOP_COPY taken (refused from RESUMING: the half transfer is incomplete).
		 */
		uint64_t t = vf_now_ms();
		int rep, rst, arc, s2;
		uint32_t status;
		char why[300];

		bool fd_ok = true;

		s = mig_get(dev);
		rep = log_report();
		rst = ioctl(dev, VFIO_DEVICE_RESET) ? errno : 0;
		if (fd >= 0) {
			/* as outside a removal: a save fd reads (its transfer has more than 10
			 * bytes), is not writable and answers PRECOPY_INFO only in the PRE_COPY
			 * states; a resume fd takes bytes and is not readable */
			struct vfio_precopy_info pi = { .argsz = sizeof(pi) };
			bool resume = state == ST_RESUMING;
			bool pre = state == ST_PRE || state == ST_PRE_P2P;
			ssize_t rd, wr;
			int pe, rde, wre;

			rd = read(fd, b, sizeof(b));
			rde = errno;
			wr = write(fd, b, 1);
			wre = errno;
			pe = ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi) ? errno : 0;
			fd_ok = (resume ? rd < 0 && rde == EBADF && wr == 1 :
					  rd == (ssize_t)sizeof(b) && wr < 0 && wre == EBADF) &&
				(pre ? !pe : pe == EINVAL);
			diag("during removal: data fd read %zd (%s), write %zd (%s), PRECOPY_INFO %s",
			     rd, rd < 0 ? strerror(rde) : "ok", wr, wr < 0 ? strerror(wre) : "ok",
			     pe ? strerror(pe) : "ok");
		}
		arc = mig_set(dev, ST_STOP_COPY, NULL);
		s2 = mig_get(dev);
		status = bar_rd(VF_STATUS);
		t = vf_now_ms() - t;
		snprintf(why, sizeof(why), "state %s, REPORT %d, RESET %s, -> STOP_COPY %s (then "
			 "%s), STATUS 0x%x, %llu ms", sname(s), rep, rst ? strerror(rst) : "ok",
			 arc ? strerror(-arc) : "ok", sname(s2), status, (unsigned long long)t);
		diag("during removal: %s", why);
		tap(s == state && !rep && rst == EAGAIN && fd_ok && status != ~0u && t < 10000 &&
		    (state == ST_RESUMING ? arc == -EBADMSG && s2 == ST_RESUMING :
					    !arc && s2 == ST_STOP_COPY),
		    "device_calls_return_during_removal", "%s", why);
	}
	/* release: sriov keeps the data fd across the removal */
	what_now = "closing the device";
	if (strcmp(how, "sriov") && fd >= 0) {
		tap(!close(fd), "data_fd_closes", NULL);
		fd = -1;
	}
	if (efd >= 0) {
		ioctl(dev, VFIO_DEVICE_SET_IRQS, &(struct vfio_irq_set){
			.argsz = sizeof(struct vfio_irq_set), .index = VFIO_PCI_REQ_IRQ_INDEX,
			.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER });
		close(efd);
	}
	close(sock);
	{
		int dfd = vf.device_fd, gfd = vf.group_fd;

		vf.device_fd = vf.group_fd = -1;	/* vf_close would touch config space */
		tap(!close(dfd), "device_fd_closes", NULL);
		tap(!close(gfd), "group_fd_closes", NULL);
	}
	vf_container_close(&cont);
	what_now = "waiting for the removal to complete";
	for (int i = 0; i < 3000 && !atomic_load(&rm.done); i++)
		usleep(10000);
	tap(atomic_load(&rm.done) && !rm.ret, "removal_completes",
	    "done %d ret %d after %llu ms", atomic_load(&rm.done), rm.ret,
	    (unsigned long long)rm.ms);
	if (!atomic_load(&rm.done))
		return 1;
	pthread_join(th, NULL);
	snprintf(bdfpath, sizeof(bdfpath), "/sys/bus/pci/devices/%s", vfmig_env("VFMIG_BDF"));
	tap(access(bdfpath, F_OK), "vf_gone", NULL);
	if (fd >= 0) {
		struct vfio_precopy_info pi = { .argsz = sizeof(pi) };

		ssize_t n;
		int err;

		what_now = "the data fd of a removed VF";
		/* ENODEV; a resume fd is not readable, a save fd not writable (EBADF) */
		n = read(fd, b, sizeof(b));
		err = errno;
		tap(n < 0 && (err == ENODEV || (err == EBADF && state == ST_RESUMING)),
		    "data_fd_read_after_removal", "%zd, %s", n, strerror(err));
		n = write(fd, b, 1);
		err = errno;
		tap(n < 0 && (err == ENODEV || (err == EBADF && state != ST_RESUMING)),
		    "data_fd_write_after_removal", "%zd, %s", n, strerror(err));
		tap(ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi) < 0, "precopy_info_after_removal",
		    NULL);
		tap(!close(fd), "data_fd_closes_after_removal", NULL);
	}
	return tap_fail ? 1 : 0;
}

static long delete_vfmig(void)
{
	return syscall(SYS_delete_module, "vfmig", O_NONBLOCK) ? -errno : 0;
}

/* --- reset vs. an arc that touches the device ----------------------------------------------- */

struct resetter {
	atomic_bool go, done;
	uint32_t delay_us;
	int err;
};

static void *reset_thread(void *arg)
{
	struct resetter *r = arg;

	while (!atomic_load(&r->go))
		;
	r->err = ioctl(dev, VFIO_DEVICE_RESET) ? errno : 0;
	atomic_store(&r->done, true);
	return NULL;
}

/*
 * VFIO_DEVICE_RESET in one thread while another makes an arc that writes the VF (RUNNING_P2P ->
 * RUNNING: the queues enabled again; RESUMING -> RUNNING: a restore that enables the saved
 * queues). Whatever the order, once both returned the reset is the last thing the device saw:
 * the state is RUNNING and no queue is enabled (the guest has not enabled one since). An arc
 * made on the VF after the reset (the reset's software part then applied over it) leaves the
 * queues running. The arc may fail only with EAGAIN (the reset came first).
 */
static int run_reset_arcs(unsigned int rounds)
{
	static uint8_t x[XFER_MAX];
	unsigned int enabled_after = 0, bad_arc = 0, not_running = 0, agains = 0;
	uint64_t s = seed;

	for (unsigned int i = 0; i < rounds; i++) {
		/* the reset holds memory_lock for its whole FLR (100 ms and more): an arc asked
		 * during it takes `state`, then waits for memory_lock behind the reset */
		struct resetter r = { .delay_us = below(&s, 30000) };
		bool restore = i & 1;
		ssize_t len = 0;
		pthread_t th;
		int fd = -1, ret, now;
		uint32_t rx, tx;

		ret = guest_init();
		if (ret) {
			tap(false, "reset_arcs.guest_init", "round %u: %s", i, strerror(-ret));
			return 1;
		}
		bar_wr(VF_RXDCTL, VF_RXDCTL_ENABLE);
		if (restore) {
			len = save_now(x, sizeof(x));	/* ends in STOP */
			if (len <= 0 || mig_set(dev, ST_RESUMING, &fd) ||
			    mig_write_stream(fd, x, len, NULL, 0)) {
				tap(false, "reset_arcs.setup", "round %u: save/resume", i);
				return 1;
			}
		} else if (mig_set(dev, ST_P2P, NULL)) {
			tap(false, "reset_arcs.setup", "round %u: RUNNING -> RUNNING_P2P", i);
			return 1;
		}
		pthread_create(&th, NULL, reset_thread, &r);
		atomic_store(&r.go, true);
		usleep(r.delay_us);
		ret = mig_set(dev, ST_RUNNING, NULL);
		pthread_join(th, NULL);
		if (fd >= 0)
			close(fd);
		now = mig_get(dev);
		rx = bar_rd(VF_RXDCTL);
		tx = bar_rd(VF_TXDCTL);
		if (ret == -EAGAIN)
			agains++;
		else if (ret)
			bad_arc++;
		if (now != ST_RUNNING)
			not_running++;
		if (r.err || ((rx | tx) & VF_RXDCTL_ENABLE)) {
			if (!enabled_after++)
				diag("round %u (%s, arc %u us after the reset began: %s): arc %s, state %s, RXDCTL "
				     "0x%08x TXDCTL 0x%08x", i, restore ? "restore" : "unquiesce",
				     r.delay_us, r.err ? strerror(r.err) : "ok",
				     ret ? strerror(-ret) : "ok", sname(now), rx, tx);
		}
	}
	diag("reset_arcs: %u rounds, %u arcs refused with EAGAIN", rounds, agains);
	tap(!enabled_after, "reset_arcs.reset_is_last", "%u of %u rounds left a queue enabled "
	    "after the reset", enabled_after, rounds);
	tap(!bad_arc, "reset_arcs.arc_result", "%u arcs failed other than with EAGAIN", bad_arc);
	tap(!not_running, "reset_arcs.running", "%u rounds not RUNNING after both", not_running);
	return tap_fail ? 1 : 0;
}

static int run_rmmod(int state)
{
	static uint8_t x[XFER_MAX];
	ssize_t xlen;
	uint64_t t0;
	long ret;
	int fd, s;

	ret = log_start();
	fd = drive_to(state, x, &xlen);
	s = mig_get(dev);
	tap(fd >= -1 && s == state, "in_state", "drive_to: %d, state %s", fd, sname(s));
	what_now = "rmmod with the device open";
	t0 = vf_now_ms();
	ret = delete_vfmig();
	tap(ret == -EBUSY || ret == -EWOULDBLOCK, "rmmod_refused_while_open",
	    "%s after %llu ms", ret ? strerror(-ret) : "UNLOADED", (unsigned long long)(vf_now_ms() - t0));
	diag("rmmod while open: %s", ret ? strerror(-ret) : "succeeded");
	if (!ret)
		return 1;	/* the module is gone under an open device: stop here */
	tap(mig_get(dev) == state, "state_kept", "%s", sname(mig_get(dev)));
	if (fd >= 0) {
		uint8_t b[8];

		/* only the data fd left */
		vf_close(&vf);
		vf_container_close(&cont);
		what_now = "rmmod with only a data fd open";
		t0 = vf_now_ms();
		ret = delete_vfmig();
		tap(ret == -EBUSY || ret == -EWOULDBLOCK, "rmmod_refused_data_fd_open",
		    "%s after %llu ms", ret ? strerror(-ret) : "UNLOADED",
		    (unsigned long long)(vf_now_ms() - t0));
		if (!ret)
			return 1;
		ssize_t n = state == ST_RESUMING ? write(fd, b, 1) : read(fd, b, sizeof(b));
		int err = errno;

		tap(n < 0 && err == ENODEV, "data_fd_dead_after_close", "%zd, %s", n,
		    strerror(err));
		tap(!close(fd), "data_fd_closes", NULL);
	} else {
		log_stop();
		vf_close(&vf);
		vf_container_close(&cont);
	}
	return tap_fail ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *mode = "race", *how = NULL;
	unsigned int seconds = 20;
	int state = -1, ret;
	const char *s;

	setvbuf(stdout, NULL, _IOLBF, 0);
	s = vfmig_env("VFMIG_SEED");
	seed = *s ? strtoull(s, NULL, 0) : ((uint64_t)time(NULL) << 20) ^ getpid();
	s = vfmig_env("VFMIG_RACE_SECONDS");
	if (*s)
		seconds = strtoul(s, NULL, 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--uffd")) {
			mode = "uffd";
		} else if (!strcmp(argv[i], "--remove") && i + 1 < argc) {
			mode = "remove";
			how = argv[++i];
		} else if (!strcmp(argv[i], "--rmmod")) {
			mode = "rmmod";
		} else if (!strcmp(argv[i], "--reset-arcs")) {
			mode = "reset_arcs";
		} else if (!strcmp(argv[i], "--state") && i + 1 < argc) {
			state = parse_state(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--seconds N] [--seed N] | --uffd | --remove "
				"sriov|pf --state S | --rmmod --state S | --reset-arcs [--seconds N]"
				"\n", argv[0]);
			return 2;
		}
	}
	printf("TAP version 13\n");
	diag("race: mode %s%s%s%s%s, seed 0x%016llx", mode, how ? " " : "", how ? how : "",
	     state >= 0 ? " in " : "", state >= 0 ? sname(state) : "", (unsigned long long)seed);
	if (!*vfmig_env("VFMIG_BDF") || !*vfmig_env("VFMIG_PF_IF") || !*vfmig_env("VFMIG_VF_MAC")) {
		printf("1..0 # SKIP VFMIG_BDF, VFMIG_PF_IF and VFMIG_VF_MAC must be set\n");
		return 4;
	}
	if ((!strcmp(mode, "remove") || !strcmp(mode, "rmmod")) && state < 0) {
		fprintf(stderr, "--state RUNNING|STOP|STOP_COPY|RESUMING|RUNNING_P2P|PRE_COPY|"
			"PRE_COPY_P2P (ERROR cannot be reached without a fault)\n");
		return 2;
	}
	if (!strcmp(mode, "remove") && (!*vfmig_env("VFMIG_PF_BDF") ||
					(strcmp(how, "sriov") && strcmp(how, "pf")))) {
		fprintf(stderr, "--remove sriov|pf needs VFMIG_PF_BDF\n");
		return 2;
	}
	signal(SIGALRM, on_alarm);
	alarm(!strcmp(mode, "race") ? seconds + 120 : !strcmp(mode, "reset_arcs") ? 600 : 120);
	ret = dev_setup();
	if (ret) {
		printf("Bail out! device setup: %s\n", strerror(-ret));
		return 1;
	}
	if (!strcmp(mode, "race"))
		ret = run_race(seconds);
	else if (!strcmp(mode, "uffd"))
		ret = run_uffd();
	else if (!strcmp(mode, "reset_arcs"))
		ret = run_reset_arcs(seconds * 10);
	else if (!strcmp(mode, "remove"))
		ret = run_remove(how, state);
	else
		ret = run_rmmod(state);
	alarm(0);
	printf("1..%d\n", tap_n);
	diag("race: mode %s: %d checks, %d failed (seed 0x%016llx)", mode, tap_n, tap_fail,
	     (unsigned long long)seed);
	if (ret == 4 && !tap_fail)
		return 4;
	if (!strcmp(mode, "race") || !strcmp(mode, "uffd") || !strcmp(mode, "reset_arcs")) {
		log_stop();
		if (vf.device_fd >= 0)
			vf_close(&vf);
		vf_container_close(&cont);
	}
	return tap_fail ? 1 : 0;
}
