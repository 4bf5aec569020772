// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_hostile_test: the migration uAPI against a hostile or unlucky user (regression tests for
 * the code review of Nov 2026, defects 3, 4 and 8 and its minor PRECOPY_INFO finding). vfmig
 * loaded with migration on (the default); VF0 and VF1 of one PF in one type1 container.
 *
 *  - precopy_info_end: once PRE_COPY's initial data is read, read() gives ENOMSG and
 *    VFIO_MIG_GET_PRECOPY_INFO gives initial_bytes == 0 AND dirty_bytes == 0 (the uAPI's
 *    "temporary end of stream"), in PRE_COPY and PRE_COPY_P2P.
 *  - truncated_keeps_resuming: a truncated stream: RESUMING -> STOP fails with EBADMSG, the
 *    device stays in RESUMING (the target is untouched: no reason for ERROR), its data fd
 *    still takes the missing bytes, and then RESUMING -> STOP succeeds.
 *  - stalled_tx_keeps_state: the failure that can be caused: a quiesce that times out on a Tx
 *    queue that cannot drain (the PF has the VF's Tx off after a VF reset without the mailbox
 *    handshake). RUNNING -> RUNNING_P2P fails and the state stays RUNNING with the guest's
 *    queues enabled; PRE_COPY -> PRE_COPY_P2P fails and the state stays PRE_COPY with its data
 *    fd working; once the VF can transmit the arcs succeed.
 *  - other_device_refused: streams of another device identity and of another provider are
 *    refused, the target is untouched and stays in RESUMING.
 *  - endless_streams, endless_garbage, endless_long_stream: 64 MiB written into RESUMING (valid
 *    streams back to back; garbage; one stream that declares 16 MiB and never ends) keep kernel
 *    memory bounded (MemAvailable, Slab) and, where the data cannot be a transfer, end in an
 *    error.
 *  - write_after_resuming: write() on the data fd of a RESUMING that ended (STOP, or a reset)
 *    fails with ENODEV.
 *  - data_fd_poll: poll() on save and resume fds in PRE_COPY (before and at ENOMSG),
 *    PRE_COPY_P2P, STOP_COPY, RESUMING and once stale answers at once (the default mask: no poll method); epoll refuses
 *    them (EPERM).
 *  - close_device_resuming_fd, close_device_precopy_fd: the device fd closed while a RESUMING or
 *    PRE_COPY data fd is open; the data fd then fails (ENODEV), nothing crashes.
 *  - precopy_read_fault: a read() of the PRE_COPY data fd stalls in a page fault of its user
 *    buffer (userfaultfd, missing mode) while another thread moves PRE_COPY -> PRE_COPY_P2P ->
 *    STOP_COPY; then the faulting copy is made to fail (the page is unmapped and the fault
 *    woken: copy_to_user gets EFAULT). The read gives EFAULT (or a short count); the rest of
 *    the data fd then holds what that read did not deliver, followed by the final stream, and
 *    restores into VF1. On a module that re-bases its read position in STOP_COPY this
 *    underflows the position: a Rust overflow panic, a kernel BUG. run separately (last).
 *
 * Environment: VFMIG_BDF (VF0), VFMIG_BDF2 (VF1, same PF), VFMIG_PF_IF (the PF netdev, up).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/userfaultfd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vf82576.h"
#include "vfmig_util.h"
#include "vfmig_adv.h"

#define STREAM_MAX	VFMIG_STREAM_MAX
#define MARKER		0x00abc000u
#define MiB		(1024ul * 1024)
#define ENDLESS_TOTAL	(64 * MiB)
#define ENDLESS_CHUNK	(256 * 1024ul)
#define MEM_BOUND_KB	(16 * 1024l)	/* what a bounded transfer may cost, at most */

FIXTURE(host) {
	struct vf_container c;
	struct vf_dev vf0, vf1;
	struct vf_dma dma;
	struct vf_ring rx, tx;
	uint8_t *stream;
};

FIXTURE_SETUP(host)
{
	uint64_t flags;

	self->c.fd = -1;
	self->vf0.device_fd = self->vf0.group_fd = -1;
	self->vf1.device_fd = self->vf1.group_fd = -1;
	if (!*vfmig_env("VFMIG_BDF") || !*vfmig_env("VFMIG_BDF2"))
		SKIP(return, "VFMIG_BDF and VFMIG_BDF2 must be set");
	self->stream = malloc(2 * STREAM_MAX);
	ASSERT_NE(NULL, self->stream);
	ASSERT_EQ(0, vf_container_open(&self->c));
	ASSERT_EQ(0, vf_open(&self->c, vfmig_env("VFMIG_BDF"), &self->vf0));
	ASSERT_EQ(0, vf_open(&self->c, vfmig_env("VFMIG_BDF2"), &self->vf1));
	ASSERT_EQ(0, vf_dma_map(&self->c, &self->dma, VFMIG_DMA_SIZE, VFMIG_DMA_IOVA));
	ASSERT_EQ(0, mig_flags(self->vf0.device_fd, &flags))
		TH_LOG("MIGRATION feature missing: is vfmig loaded with migration on (the default)?");
	ASSERT_EQ(0, vfmig_bring_up(&self->vf0, 0x09, 0));
	ASSERT_EQ(0, vfmig_bring_up(&self->vf1, 0x09, 1));
	ASSERT_EQ(0, vf_ring_alloc(&self->dma, &self->rx, VFMIG_RING_COUNT, VFMIG_BUF_SIZE));
	ASSERT_EQ(0, vf_ring_alloc(&self->dma, &self->tx, VFMIG_RING_COUNT, VFMIG_BUF_SIZE));
	/* the guest's queues on VF0, Rx buffers posted */
	ASSERT_EQ(0, vf_rx_attach(&self->vf0, &self->rx));
	ASSERT_EQ(0, vf_tx_attach(&self->vf0, &self->tx));
	vf_rx_post(&self->vf0, &self->rx, -1);
}

FIXTURE_TEARDOWN(host)
{
	if (self->vf1.device_fd >= 0)
		vf_close(&self->vf1);
	if (self->vf0.device_fd >= 0)
		vf_close(&self->vf0);
	vf_dma_unmap(&self->dma);
	if (self->c.fd >= 0)
		vf_container_close(&self->c);
	free(self->stream);
}

/* Saves VF0 (-> STOP_COPY, the stream read, -> STOP) into self->stream: the length. */
static ssize_t save_vf0(struct __test_metadata *_metadata, FIXTURE_DATA(host) *self)
{
	ssize_t len;
	int fd;

	ASSERT_EQ(0, mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_STOP_COPY, &fd));
	ASSERT_GE(fd, 0);
	len = mig_read_stream(fd, self->stream, STREAM_MAX, 4096);
	close(fd);
	ASSERT_GT(len, ADV_HDR_LEN);
	ASSERT_EQ(0, mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_STOP, NULL));
	return len;
}

/* VF1 as a fresh target (reset), with a marker in RDBAL that a restore would overwrite. */
static void fresh_target(struct __test_metadata *_metadata, FIXTURE_DATA(host) *self)
{
	ASSERT_EQ(0, ioctl(self->vf1.device_fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(self->vf1.device_fd));
	vf_wr32(&self->vf1, VF_RDBAL, MARKER);
	ASSERT_EQ(MARKER, vf_rd32(&self->vf1, VF_RDBAL));
}

/* --- defect (minor): PRECOPY_INFO at the temporary end of the stream ---------------------------- */

TEST_F_TIMEOUT(host, precopy_info_end, 120)
{
	struct vfio_precopy_info pi = { .argsz = sizeof(pi) };
	int dev = self->vf0.device_fd, fd;
	ssize_t got = 0, n;

	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi));
	ASSERT_GT(pi.initial_bytes, ADV_HDR_LEN);
	ksft_print_msg("precopy: initial_bytes %llu dirty_bytes %llu\n",
		       (unsigned long long)pi.initial_bytes, (unsigned long long)pi.dirty_bytes);
	while ((n = read(fd, self->stream + got, 100)) > 0)
		got += n;
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ENOMSG, errno);
	EXPECT_EQ((ssize_t)pi.initial_bytes, got);

	for (int p2p = 0; p2p < 2; p2p++) {
		const char *st = p2p ? "PRE_COPY_P2P" : "PRE_COPY";

		if (p2p)
			ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL));
		pi.argsz = sizeof(pi);
		ASSERT_EQ(0, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi));
		ksft_print_msg("precopy: %s, initial data read: initial_bytes %llu dirty_bytes "
			       "%llu\n", st, (unsigned long long)pi.initial_bytes,
			       (unsigned long long)pi.dirty_bytes);
		errno = 0;
		EXPECT_EQ(-1, read(fd, self->stream, 1));
		EXPECT_EQ(ENOMSG, errno) TH_LOG("%s: read: %s", st, strerror(errno));
		EXPECT_EQ(0, pi.initial_bytes) TH_LOG("%s", st);
		EXPECT_EQ(0, pi.dirty_bytes) TH_LOG("%s: read() says ENOMSG (no data for now), "
						    "PRECOPY_INFO says %llu dirty bytes", st,
						    (unsigned long long)pi.dirty_bytes);
	}
	/* the final stream still comes in STOP_COPY */
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_STOP_COPY, NULL));
	n = mig_read_stream(fd, self->stream, STREAM_MAX, 4096);
	EXPECT_GT(n, ADV_HDR_LEN);
	close(fd);
}

/* --- defect 4: a failed arc keeps the last good state ---------------------------------------------- */

TEST_F_TIMEOUT(host, truncated_keeps_resuming, 120)
{
	int dev = self->vf1.device_fd, fd, ret, state;
	ssize_t len, w;

	len = save_vf0(_metadata, self);
	fresh_target(_metadata, self);
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_RESUMING, &fd));
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, mig_write_stream(fd, self->stream, len - 10, NULL, 0));
	ret = mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL);
	state = mig_get(dev);
	ksft_print_msg("truncated: RESUMING -> STOP: %s, state %s\n", strerror(-ret),
		       adv_state_name(state));
	EXPECT_EQ(-EBADMSG, ret);
	EXPECT_EQ(VFIO_DEVICE_STATE_RESUMING, state) TH_LOG("a refused transfer left %s",
							    adv_state_name(state));
	EXPECT_EQ(MARKER, vf_rd32(&self->vf1, VF_RDBAL)) TH_LOG("the target was touched");
	/* the rest of the transfer, on the same fd, then the arc again */
	errno = 0;
	w = write(fd, self->stream + len - 10, 10);
	EXPECT_EQ(10, w) TH_LOG("writing the missing bytes: %s", strerror(errno));
	ret = mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL);
	EXPECT_EQ(0, ret) TH_LOG("RESUMING -> STOP with the whole stream: %s", strerror(-ret));
	EXPECT_EQ(VFIO_DEVICE_STATE_STOP, mig_get(dev));
	EXPECT_EQ(vf_rd32(&self->vf0, VF_RDBAL), vf_rd32(&self->vf1, VF_RDBAL));
	close(fd);
}

/*
 * The quiesce of RUNNING -> RUNNING_P2P (and PRE_COPY -> PRE_COPY_P2P) waits, bounded, for the
 * Tx queues to drain (TDH == TDT). A guest whose VF was reset (CTRL.RST) and that enabled its Tx
 * queue again without the mailbox reset handshake has Tx off at the PF (VFTE): a frame queued
 * then never leaves and the quiesce times out. Nothing was lost: the driver only cleared the
 * queue enables, which it can put back. The arc fails, the state stays RUNNING (PRE_COPY, with
 * its data fd working) and the guest's queues are enabled again; once the PF lets the VF
 * transmit (the handshake), the same arcs succeed.
 */
static void tx_stall(struct __test_metadata *_metadata, FIXTURE_DATA(host) *self)
{
	static uint8_t frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct vf_dev *vf = &self->vf0;
	uint32_t tdh, tdt;

	vf_wr32(vf, VF_CTRL, VF_CTRL_RST);	/* the PF turns the VF's Tx off (VFTE) */
	usleep(200 * 1000);
	vf_rd32(vf, VF_V2PMAILBOX);		/* RSTD, read to clear */
	self->rx.head = self->rx.tail = 0;
	self->tx.head = self->tx.tail = 0;
	ASSERT_EQ(0, vf_rx_attach(vf, &self->rx));
	ASSERT_EQ(0, vf_tx_attach(vf, &self->tx));
	vf_rx_post(vf, &self->rx, -1);
	ASSERT_EQ(0, vf_tx_send(vf, &self->tx, frame, sizeof(frame)));
	usleep(100 * 1000);
	tdh = vf_rd32(vf, VF_TDH);
	tdt = vf_rd32(vf, VF_TDT);
	ksft_print_msg("stall: after CTRL.RST without the handshake, a queued frame: TDH %u TDT %u\n",
		       tdh, tdt);
	ASSERT_NE(tdh, tdt) TH_LOG("the frame left although the PF has the VF's Tx off: no stall");
}

/* The PF lets the VF transmit again (E1000_VF_RESET through the mailbox, without CTRL.RST), and
 * the stalled frame goes (TDT written again). */
static void tx_unstall(struct __test_metadata *_metadata, FIXTURE_DATA(host) *self)
{
	const uint32_t msg[1] = { VF_MSG_RESET };
	struct vf_dev *vf = &self->vf0;
	uint32_t reply;
	uint64_t end;

	reply = adv_mbx_request(vf, msg, 1);
	ASSERT_NE(0, reply) TH_LOG("mailbox reset handshake failed");
	if (reply & VF_MSG_NACK) {	/* no MAC assigned: the guest sets its own */
		ASSERT_EQ(0, vf_set_mac(vf, vf->mac, VFMIG_MBX_TIMEOUT_MS));
	}
	vf_wr32(vf, VF_TDT, self->tx.tail);
	end = vf_now_ms() + 1000;
	while (vf_rd32(vf, VF_TDH) != vf_rd32(vf, VF_TDT) && vf_now_ms() < end)
		usleep(1000);
	ASSERT_EQ(vf_rd32(vf, VF_TDT), vf_rd32(vf, VF_TDH)) TH_LOG("the frame still does not leave");
}

TEST_F_TIMEOUT(host, stalled_tx_keeps_state, 120)
{
	struct vfio_precopy_info pi = { .argsz = sizeof(pi) };
	struct vf_dev *vf = &self->vf0;
	int ret, state, fd;
	ssize_t n;

	/* RUNNING -> RUNNING_P2P */
	tx_stall(_metadata, self);
	ret = mig_set(vf->device_fd, VFIO_DEVICE_STATE_RUNNING_P2P, NULL);
	state = mig_get(vf->device_fd);
	ksft_print_msg("stall: RUNNING -> RUNNING_P2P: %s, state %s, RXDCTL 0x%08x TXDCTL 0x%08x\n",
		       ret ? strerror(-ret) : "succeeded", adv_state_name(state),
		       vf_rd32(vf, VF_RXDCTL), vf_rd32(vf, VF_TXDCTL));
	ASSERT_NE(0, ret) TH_LOG("the quiesce did not wait for the queued frame");
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, state) TH_LOG("a failed, undoable quiesce left %s",
							   adv_state_name(state));
	EXPECT_TRUE(vf_rd32(vf, VF_RXDCTL) & VF_RXDCTL_ENABLE) TH_LOG("the guest's Rx queue is off");
	EXPECT_TRUE(vf_rd32(vf, VF_TXDCTL) & VF_TXDCTL_ENABLE) TH_LOG("the guest's Tx queue is off");
	if (state != VFIO_DEVICE_STATE_RUNNING) {
		ASSERT_EQ(0, ioctl(vf->device_fd, VFIO_DEVICE_RESET));
		tx_stall(_metadata, self);
	}
	tx_unstall(_metadata, self);
	EXPECT_EQ(0, mig_set(vf->device_fd, VFIO_DEVICE_STATE_RUNNING_P2P, NULL));
	EXPECT_EQ(0, mig_set(vf->device_fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(vf->device_fd));

	/* PRE_COPY -> PRE_COPY_P2P: the transfer goes on */
	tx_stall(_metadata, self);
	ASSERT_EQ(0, mig_set(vf->device_fd, VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_GE(fd, 0);
	ret = mig_set(vf->device_fd, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL);
	state = mig_get(vf->device_fd);
	ksft_print_msg("stall: PRE_COPY -> PRE_COPY_P2P: %s, state %s\n",
		       ret ? strerror(-ret) : "succeeded", adv_state_name(state));
	ASSERT_NE(0, ret);
	EXPECT_EQ(VFIO_DEVICE_STATE_PRE_COPY, state);
	EXPECT_TRUE(vf_rd32(vf, VF_TXDCTL) & VF_TXDCTL_ENABLE) TH_LOG("the guest's Tx queue is off");
	errno = 0;
	EXPECT_EQ(0, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi)) TH_LOG("PRECOPY_INFO: %s",
								   strerror(errno));
	n = read(fd, self->stream, STREAM_MAX);
	EXPECT_GT(n, ADV_HDR_LEN) TH_LOG("the transfer's data fd: %s",
					 n < 0 ? strerror(errno) : "no data");
	if (state == VFIO_DEVICE_STATE_PRE_COPY) {
		tx_unstall(_metadata, self);
		EXPECT_EQ(0, mig_set(vf->device_fd, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL));
		EXPECT_EQ(0, mig_set(vf->device_fd, VFIO_DEVICE_STATE_STOP_COPY, NULL));
		n = mig_read_stream(fd, self->stream, STREAM_MAX, 4096);
		EXPECT_GT(n, ADV_HDR_LEN);
	}
	close(fd);
}

/* --- defect 8: hostile streams and writers --------------------------------------------------------- */

TEST_F_TIMEOUT(host, other_device_refused, 120)
{
	static const char *const what[] = { "other device identity (8086:10cb)",
					    "other provider (2)" };
	uint8_t *b = malloc(STREAM_MAX);
	int dev = self->vf1.device_fd;
	ssize_t len;

	ASSERT_NE(NULL, b);
	len = save_vf0(_metadata, self);
	for (int i = 0; i < 2; i++) {
		int werr = 0, ret, fd, state;

		memcpy(b, self->stream, len);
		if (i == 0)
			adv_put_le16(b + ADV_HDR_DEVICE, 0x10cb);
		else
			adv_put_le16(b + ADV_HDR_PROVIDER, 2);
		adv_fix_crc(b, len);
		fresh_target(_metadata, self);
		ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_RESUMING, &fd));
		werr = mig_write_stream(fd, b, len, NULL, 0);
		ret = mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL);
		state = mig_get(dev);
		ksft_print_msg("other: %s: write %s, RESUMING -> STOP %s, state %s\n", what[i],
			       strerror(-werr), strerror(-ret), adv_state_name(state));
		EXPECT_TRUE(werr || ret) TH_LOG("%s: accepted", what[i]);
		/* refused before anything was applied: the last good state, RESUMING */
		EXPECT_EQ(VFIO_DEVICE_STATE_RESUMING, state) TH_LOG("%s: %s", what[i],
								    adv_state_name(state));
		EXPECT_EQ(MARKER, vf_rd32(&self->vf1, VF_RDBAL)) TH_LOG("%s: target touched",
									what[i]);
		close(fd);
	}
	ASSERT_EQ(0, ioctl(dev, VFIO_DEVICE_RESET));
	free(b);
}

struct memsnap {
	long avail, slab;
};

static void mem_snap(struct memsnap *m)
{
	if (!access("/proc/sys/vm/drop_caches", W_OK))
		adv_sh("echo 3 > /proc/sys/vm/drop_caches");
	m->avail = adv_meminfo("MemAvailable");
	m->slab = adv_meminfo("Slab");
}

/*
 * Writes `total` bytes of `data` (cycled, in writes of `chunk` bytes) into a RESUMING data fd of
 * VF1; `stop_at_error` ends at the first failed write. Checks that kernel memory stays bounded
 * while the data fd holds what it was given and after RESUMING -> STOP. Returns the bytes written
 * before the first failed write (total if none failed) and that write's errno in *err.
 */
static uint64_t endless(struct __test_metadata *_metadata, FIXTURE_DATA(host) *self,
			const uint8_t *data, size_t dlen, uint64_t total, bool stop_at_error,
			const char *what, int *err, int *stop_ret)
{
	struct memsnap m0, m1, m2;
	uint64_t done = 0, first_err_at = total, errors = 0;
	int dev = self->vf1.device_fd, fd;
	double t0 = vfmig_now_us();

	*err = 0;
	fresh_target(_metadata, self);
	mem_snap(&m0);
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_RESUMING, &fd));
	while (done < total) {
		size_t off = done % dlen, n = ENDLESS_CHUNK;
		ssize_t w;

		if (n > dlen - off)
			n = dlen - off;
		if (n > total - done)
			n = total - done;
		w = write(fd, data + off, n);
		if (w <= 0) {
			if (!errors++) {
				*err = w < 0 ? errno : EIO;
				first_err_at = done;
			}
			if (stop_at_error)
				break;
			w = n;	/* go on with the next bytes anyway */
		}
		done += w;
	}
	mem_snap(&m1);
	*stop_ret = mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL);
	close(fd);
	mem_snap(&m2);
	ksft_print_msg("endless: %s: %llu MiB offered in %.1f s; first error %s after %llu bytes "
		       "(%llu failed writes); RESUMING -> STOP %s\n", what,
		       (unsigned long long)(done / MiB), (vfmig_now_us() - t0) / 1e6,
		       *err ? strerror(*err) : "none", (unsigned long long)first_err_at,
		       (unsigned long long)errors, *stop_ret ? strerror(-*stop_ret) : "0");
	ksft_print_msg("endless: %s: MemAvailable %ld -> %ld -> %ld KiB, Slab %ld -> %ld -> %ld KiB\n",
		       what, m0.avail, m1.avail, m2.avail, m0.slab, m1.slab, m2.slab);
	EXPECT_LT(m0.avail - m1.avail, MEM_BOUND_KB) TH_LOG("%s: memory grows with the data", what);
	EXPECT_LT(m1.slab - m0.slab, MEM_BOUND_KB) TH_LOG("%s: slab grows with the data", what);
	EXPECT_LT(m0.avail - m2.avail, MEM_BOUND_KB) TH_LOG("%s: memory not given back", what);
	ASSERT_EQ(0, ioctl(dev, VFIO_DEVICE_RESET));
	return first_err_at;
}

/* Valid streams back to back: memory bounded; the transfer loads the last one or is refused as
 * a whole, never half-applied. */
TEST_F_TIMEOUT(host, endless_streams, 600)
{
	uint8_t *buf = malloc(ENDLESS_CHUNK);
	size_t n = 0;
	ssize_t len;
	int err, ret;

	ASSERT_NE(NULL, buf);
	len = save_vf0(_metadata, self);
	while (n + len <= ENDLESS_CHUNK) {
		memcpy(buf + n, self->stream, len);
		n += len;
	}
	/* whole streams only: the transfer ends with a complete one */
	endless(_metadata, self, buf, n, ENDLESS_TOTAL / n * n, true, "valid streams back to back",
		&err, &ret);
	if (!err)
		EXPECT_EQ(0, ret) TH_LOG("every stream accepted, the transfer not loaded");
	free(buf);
}

TEST_F_TIMEOUT(host, endless_garbage, 600)
{
	uint8_t *buf = malloc(ENDLESS_CHUNK);
	uint32_t x = 0x12345678;
	int err, ret;

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < ENDLESS_CHUNK; i++) {
		x = x * 1103515245 + 12345;
		buf[i] = x >> 24;
	}
	endless(_metadata, self, buf, ENDLESS_CHUNK, ENDLESS_TOTAL, false, "garbage", &err, &ret);
	EXPECT_NE(0, err) TH_LOG("64 MiB of garbage accepted");
	EXPECT_NE(0, ret);
}

/* One stream that declares the largest length (16 MiB) and section count, with the source's
 * sections and then unknown OPTIONAL private sections for ever: it must end in an error within
 * its declared length. */
TEST_F_TIMEOUT(host, endless_long_stream, 600)
{
	const size_t sec = ADV_SEC_HDR_LEN + 512, total = 18 * MiB;
	uint8_t *buf = malloc(total);
	uint64_t at;
	size_t off;
	ssize_t len;
	int err, ret;

	ASSERT_NE(NULL, buf);
	memset(buf, 0, total);
	len = save_vf0(_metadata, self);
	memcpy(buf, self->stream, len - 4);	/* without the trailer */
	adv_put_le32(buf + ADV_HDR_TOTAL_LEN, 16 * MiB);
	adv_put_le32(buf + ADV_HDR_SECTIONS, 4096);
	off = len - 4;
	for (uint32_t i = 0; off + sec <= total; i++, off += sec) {
		adv_put_le16(buf + off, 0x80ff);
		adv_put_le16(buf + off + 2, 1);		/* OPTIONAL */
		adv_put_le16(buf + off + 4, i & 0xffff);
		adv_put_le32(buf + off + 8, 512);
	}
	at = endless(_metadata, self, buf, total, total, true, "one endless stream", &err, &ret);
	EXPECT_NE(0, err) TH_LOG("18 MiB of one stream declared 16 MiB long accepted");
	EXPECT_LE(at, 16 * MiB + ENDLESS_CHUNK);
	EXPECT_NE(0, ret);
	free(buf);
}

TEST_F_TIMEOUT(host, write_after_resuming, 120)
{
	int dev = self->vf1.device_fd, fd;
	ssize_t len;

	len = save_vf0(_metadata, self);
	/* ended by RESUMING -> STOP */
	fresh_target(_metadata, self);
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_RESUMING, &fd));
	ASSERT_EQ(0, mig_write_stream(fd, self->stream, len, NULL, 0));
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL));
	errno = 0;
	EXPECT_EQ(-1, write(fd, self->stream, 1));
	EXPECT_EQ(ENODEV, errno);
	errno = 0;
	EXPECT_EQ(-1, write(fd, self->stream, len));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	/* ended by a reset in the middle of the stream */
	ASSERT_EQ(0, ioctl(dev, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_RESUMING, &fd));
	ASSERT_EQ(0, mig_write_stream(fd, self->stream, len / 2, NULL, 0));
	ASSERT_EQ(0, ioctl(dev, VFIO_DEVICE_RESET));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(dev));
	errno = 0;
	EXPECT_EQ(-1, write(fd, self->stream + len / 2, len - len / 2));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
}

/*
 * poll() and epoll on a data fd. The uAPI defines no readiness for them and vfmig's data fds have
 * no poll method (as hisi_acc's and pds's): poll() must answer at once with the kernel's
 * default mask (always readable and writable; read()/write() then tell), whatever the state
 * and also once the fd is stale; epoll refuses such a file (EPERM). Nothing may block.
 */
static short poll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

	/* a poll that waited would wait forever: -1; alarm() of the harness would end it */
	return poll(&p, 1, -1) == 1 ? p.revents : -1;
}

TEST_F_TIMEOUT(host, data_fd_poll, 60)
{
	const short ready = POLLIN | POLLOUT;
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, rfd, ep;
	ssize_t len;

	ep = epoll_create1(0);
	ASSERT_GE(ep, 0);
	/* PRE_COPY, the initial data unread, then read to its temporary end (ENOMSG) */
	ASSERT_EQ(0, mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_GE(fd, 0);
	EXPECT_EQ(ready, poll_now(fd) & ready);
	while (read(fd, self->stream, 4096) > 0)
		;
	EXPECT_EQ(ENOMSG, errno);
	EXPECT_EQ(ready, poll_now(fd) & ready);
	errno = 0;
	EXPECT_EQ(-1, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev));
	EXPECT_EQ(EPERM, errno);
	/* PRE_COPY_P2P, then STOP_COPY on the same fd, read to its end; then stale */
	ASSERT_EQ(0, mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL));
	EXPECT_EQ(ready, poll_now(fd) & ready);
	ASSERT_EQ(0, mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_STOP_COPY, NULL));
	EXPECT_EQ(ready, poll_now(fd) & ready);
	len = mig_read_stream(fd, self->stream, STREAM_MAX, 4096);
	EXPECT_GT(len, ADV_HDR_LEN);
	EXPECT_EQ(ready, poll_now(fd) & ready);
	ASSERT_EQ(0, mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_STOP, NULL));
	EXPECT_EQ(ready, poll_now(fd) & ready);
	errno = 0;
	EXPECT_EQ(-1, read(fd, self->stream, 16));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	/* RESUMING: the resume fd, then stale after a reset */
	save_vf0(_metadata, self);
	fresh_target(_metadata, self);
	ASSERT_EQ(0, mig_set(self->vf1.device_fd, VFIO_DEVICE_STATE_RESUMING, &rfd));
	ASSERT_GE(rfd, 0);
	EXPECT_EQ(ready, poll_now(rfd) & ready);
	errno = 0;
	EXPECT_EQ(-1, epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, ioctl(self->vf1.device_fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(ready, poll_now(rfd) & ready);
	close(rfd);
	close(ep);
}

TEST_F_TIMEOUT(host, close_device_resuming_fd, 120)
{
	ssize_t len;
	int fd;

	len = save_vf0(_metadata, self);
	fresh_target(_metadata, self);
	ASSERT_EQ(0, mig_set(self->vf1.device_fd, VFIO_DEVICE_STATE_RESUMING, &fd));
	ASSERT_EQ(0, mig_write_stream(fd, self->stream, len / 2, NULL, 0));
	vf_close(&self->vf1);
	errno = 0;
	EXPECT_EQ(-1, write(fd, self->stream + len / 2, len - len / 2));
	EXPECT_EQ(ENODEV, errno);
	errno = 0;
	EXPECT_EQ(-1, read(fd, self->stream, 16));
	EXPECT_NE(0, errno);
	close(fd);
}

TEST_F_TIMEOUT(host, close_device_precopy_fd, 120)
{
	struct vfio_precopy_info pi = { .argsz = sizeof(pi) };
	int fd;

	ASSERT_EQ(0, mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_GE(fd, 0);
	EXPECT_EQ(10, read(fd, self->stream, 10));
	vf_close(&self->vf0);
	errno = 0;
	EXPECT_EQ(-1, read(fd, self->stream, 100));
	EXPECT_EQ(ENODEV, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi));
	EXPECT_NE(0, errno);
	errno = 0;
	EXPECT_EQ(-1, write(fd, self->stream, 10));
	EXPECT_NE(0, errno);
	close(fd);
}

/* --- defect 3: a read that fails across PRE_COPY_P2P -> STOP_COPY --------------------------------- */

struct reader {
	int fd;
	void *buf;
	size_t len;
	ssize_t ret;
	int err;
};

static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	r->ret = read(r->fd, r->buf, r->len);
	r->err = r->ret < 0 ? errno : 0;
	return NULL;
}

struct arcs {
	int dev;
	int to_p2p, to_stop_copy;
};

static void *arcs_fn(void *arg)
{
	struct arcs *a = arg;

	a->to_p2p = mig_set(a->dev, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL);
	a->to_stop_copy = a->to_p2p ? a->to_p2p :
			  mig_set(a->dev, VFIO_DEVICE_STATE_STOP_COPY, NULL);
	return NULL;
}

static bool join_within(pthread_t t, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000l;
	if (ts.tv_nsec >= 1000000000l) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000l;
	}
	return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

TEST_F_TIMEOUT(host, precopy_read_fault, 180)
{
	struct vfio_precopy_info pi = { .argsz = sizeof(pi) };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_range wake;
	struct uffd_msg msg;
	struct reader r = { 0 };
	struct arcs a = { 0 };
	pthread_t rt, at;
	struct pollfd pfd;
	uint8_t *rest = self->stream;
	long page = sysconf(_SC_PAGESIZE);
	bool arcs_done, reader_done;
	int dev = self->vf0.device_fd, uffd, fd, werr = 0, ret;
	ssize_t delivered, len;
	void *buf;

	ASSERT_EQ(0, ioctl(self->vf1.device_fd, VFIO_DEVICE_RESET));
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_GE(uffd, 0) TH_LOG("userfaultfd: %s (CONFIG_USERFAULTFD?)", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	buf = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	reg.range.start = (uintptr_t)buf;
	reg.range.len = page;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg)) TH_LOG("UFFDIO_REGISTER: %s",
								  strerror(errno));

	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi));
	ASSERT_GT(pi.initial_bytes, ADV_HDR_LEN);
	ASSERT_LE(pi.initial_bytes, (uint64_t)page);

	/* the reader stalls in the fault of its buffer's first byte */
	r.fd = fd;
	r.buf = buf;
	r.len = page;
	ASSERT_EQ(0, pthread_create(&rt, NULL, reader_fn, &r));
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 10000)) TH_LOG("the read did not fault on its buffer");
	ASSERT_EQ((ssize_t)sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	ksft_print_msg("fault: read() of %llu initial bytes stalled in a fault at %p\n",
		       (unsigned long long)pi.initial_bytes, (void *)(uintptr_t)msg.arg.pagefault.address);

	/* meanwhile the VMM stops the VF: PRE_COPY -> PRE_COPY_P2P -> STOP_COPY */
	a.dev = dev;
	ASSERT_EQ(0, pthread_create(&at, NULL, arcs_fn, &a));
	arcs_done = join_within(at, 5000);
	ksft_print_msg("fault: PRE_COPY -> PRE_COPY_P2P -> STOP_COPY %s while the read is stalled"
		       "\n", arcs_done ? "done" : "blocked");
	adv_kmsg("fault: read() of %llu initial bytes stalled in a page fault; PRE_COPY -> "
		 "PRE_COPY_P2P -> STOP_COPY %s meanwhile\n", (unsigned long long)pi.initial_bytes,
		 arcs_done ? "done" : "blocked");

	/* the copy fails: the buffer is unmapped, the fault woken (copy_to_user: EFAULT) */
	ksft_print_msg("fault: failing the stalled copy now\n");
	adv_kmsg("fault: failing the stalled copy now (munmap + UFFDIO_WAKE: EFAULT)\n");
	fflush(stdout);
	fflush(stderr);
	ASSERT_EQ(0, munmap(buf, page));
	wake.start = (uintptr_t)buf;
	wake.len = page;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_WAKE, &wake));
	reader_done = join_within(rt, 10000);
	if (!reader_done) {
		close(uffd);
		uffd = -1;
		pthread_join(rt, NULL);
	}
	if (!arcs_done)
		pthread_join(at, NULL);
	if (uffd >= 0)
		close(uffd);
	ksft_print_msg("fault: the read returned %zd (%s); arcs: %s, %s\n", r.ret,
		       r.ret < 0 ? strerror(r.err) : "bytes", strerror(-a.to_p2p),
		       strerror(-a.to_stop_copy));
	adv_kmsg("fault: the read returned %zd (%s)\n", r.ret,
		 r.ret < 0 ? strerror(r.err) : "bytes");
	/* The arcs must have run across the stalled read (else nothing was raced), and the read
	 * must have returned once its copy failed. */
	EXPECT_TRUE(arcs_done) TH_LOG("the arcs did not complete while the read was stalled");
	EXPECT_TRUE(reader_done) TH_LOG("the read did not return within 10 s of its copy failing");
	EXPECT_EQ(0, a.to_p2p);
	EXPECT_EQ(0, a.to_stop_copy);
	EXPECT_TRUE((r.ret == -1 && r.err == EFAULT) ||
		    (r.ret >= 0 && r.ret < (ssize_t)pi.initial_bytes));
	delivered = r.ret > 0 ? r.ret : 0;

	/* what the failed read did not deliver, then the final stream */
	len = mig_read_stream(fd, rest, 2 * STREAM_MAX, 4096);
	ksft_print_msg("fault: then %zd bytes from the data fd (%llu initial bytes, %zd delivered)"
		       "\n", len, (unsigned long long)pi.initial_bytes, delivered);
	ASSERT_GT(len, ADV_HDR_LEN);
	EXPECT_EQ((ssize_t)(2 * pi.initial_bytes) - delivered, len);
	if (!delivered) {
		EXPECT_TRUE(adv_le32(rest + ADV_HDR_FLAGS) & ADV_FLAG_PRECOPY)
			TH_LOG("the initial data the failed read did not deliver is lost");
	}
	close(fd);
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL));

	/* the transfer restores into VF1 */
	ASSERT_EQ(0, mig_set(self->vf1.device_fd, VFIO_DEVICE_STATE_RESUMING, &fd));
	werr = mig_write_stream(fd, rest, len, NULL, 0);
	ret = mig_set(self->vf1.device_fd, VFIO_DEVICE_STATE_STOP, NULL);
	EXPECT_EQ(0, werr) TH_LOG("write: %s", strerror(-werr));
	EXPECT_EQ(0, ret) TH_LOG("RESUMING -> STOP: %s", strerror(-ret));
	close(fd);
}

TEST_HARNESS_MAIN
