// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_migration_test: VFIO migration uAPI v2 on vfmig (module loaded with
 * experimental_migration=1), driven like a VMM would drive it, with the userspace 82576 VF
 * driver (vf82576.c) playing the guest. Both VFs are opened into ONE type1 container, so the
 * rings and buffers VF0 used are at the same IOVAs for VF1: a VF0 -> VF1 "migration" inside
 * one machine, with the guest memory simply shared.
 *
 * Environment:
 *   VFMIG_BDF    VF0 (bound to vfmig with experimental_migration=1)
 *   VFMIG_BDF2   VF1 of the same PF (bound to vfmig)
 *   VFMIG_PF_IF  the PF's netdev, up
 *
 * The PF side: the PF forgets a VF's guest-chosen MAC and disables its Rx/Tx (VFRE/VFTE) on
 * every VF reset and re-enables them only after the VF's mailbox reset message. On RESUMING ->
 * STOP the driver rebuilds that itself (igb-migration.rst, "PF-side state and the mailbox"): it
 * sends the reset message and the saved MAC through the target VF's mailbox and applies the
 * source's administrator settings through the PF netdev. So the VF0 -> VF1 test resets VF1
 * (VFIO_DEVICE_RESET: a fresh target, the fixture's handshake undone) and does NOT perform VF1's
 * handshake; after the migration the frames the PF sends to VF0's (guest-chosen) MAC arrive on
 * VF1, and `ip link show <pf>` lists VF1 with that MAC. The MACs here are guest-chosen (set
 * through the mailbox by vfmig_bring_up()); suite_migration.sh assigns no administrative MAC before
 * this test.
 */
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vf82576.h"
#include "vfmig_util.h"

#define DMA_IOVA	VFMIG_DMA_IOVA
#define DMA_SIZE	VFMIG_DMA_SIZE
#define RING_COUNT	VFMIG_RING_COUNT
#define BUF_SIZE	VFMIG_BUF_SIZE
#define RX_TIMEOUT_MS	VFMIG_RX_TIMEOUT_MS
#define STREAM_MAX	VFMIG_STREAM_MAX

/* Stream header offsets (Documentation/vfmig/state-format.rst). */
#define HDR_MAJOR	4
#define HDR_DEVICE	10

/* --- save streams (the migration uAPI calls are mig_* in vfmig_util.c) ------------------- */

static const size_t odd_chunks[] = { 1, 7, 13, 333, 2, 61, 4099 };
#define N_ODD ((int)ARRAY_SIZE(odd_chunks))

/* CRC32C (Castagnoli, reflected), as the stream trailer uses. */
static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0u;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82F63B78u & -(crc & 1));
	}
	return ~crc;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static uint16_t get_le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

/* Recomputes the trailer after an edit, so that only the edit is wrong. */
static void fix_crc(uint8_t *buf, size_t len)
{
	put_le32(buf + len - 4, crc32c(buf, len - 4));
}

FIXTURE(mig) {
	struct vf_container c;
	struct vf_dev vf0, vf1;
	struct vf_dma dma;
	struct vf_ring rx, tx;
	int ifindex;
	uint8_t pf_mac[6];
	int sock;
	uint32_t nonce;
	uint8_t *stream;
};

FIXTURE_SETUP(mig)
{
	uint64_t flags;
	int ret;

	self->sock = -1;
	self->c.fd = -1;
	self->vf0.device_fd = self->vf0.group_fd = -1;
	self->vf1.device_fd = self->vf1.group_fd = -1;
	self->stream = NULL;
	if (!*vfmig_env("VFMIG_BDF") || !*vfmig_env("VFMIG_BDF2") || !*vfmig_env("VFMIG_PF_IF"))
		SKIP(return, "VFMIG_BDF, VFMIG_BDF2 and VFMIG_PF_IF must be set");
	self->ifindex = if_nametoindex(vfmig_env("VFMIG_PF_IF"));
	ASSERT_GT(self->ifindex, 0);
	ASSERT_EQ(0, vfmig_netdev_mac(vfmig_env("VFMIG_PF_IF"), self->pf_mac));
	srand(time(NULL) ^ getpid());
	self->nonce = (uint32_t)rand() ^ ((uint32_t)getpid() << 16);
	self->stream = malloc(STREAM_MAX);
	ASSERT_NE(NULL, self->stream);

	ASSERT_EQ(0, vf_container_open(&self->c));
	ASSERT_EQ(0, vf_open(&self->c, vfmig_env("VFMIG_BDF"), &self->vf0));
	ASSERT_EQ(0, vf_open(&self->c, vfmig_env("VFMIG_BDF2"), &self->vf1));
	ASSERT_EQ(0, vf_dma_map(&self->c, &self->dma, DMA_SIZE, DMA_IOVA));
	/* Not offering migration here means the module was loaded without the parameter. */
	ASSERT_EQ(0, mig_flags(self->vf0.device_fd, &flags))
		TH_LOG("MIGRATION feature missing: is vfmig loaded with experimental_migration=1?");
	ASSERT_EQ(0, vfmig_bring_up(&self->vf0, 0x04, 0));
	ASSERT_EQ(0, vfmig_bring_up(&self->vf1, 0x04, 1));
	ASSERT_NE(0, memcmp(self->vf0.mac, self->vf1.mac, 6));

	ASSERT_EQ(0, vf_ring_alloc(&self->dma, &self->rx, RING_COUNT, BUF_SIZE));
	ASSERT_EQ(0, vf_ring_alloc(&self->dma, &self->tx, RING_COUNT, BUF_SIZE));

	ret = vfmig_pkt_open(self->ifindex, 0);
	ASSERT_GE(ret, 0);
	self->sock = ret;
}

FIXTURE_TEARDOWN(mig)
{
	if (self->sock >= 0)
		close(self->sock);
	if (self->vf1.device_fd >= 0)
		vf_close(&self->vf1);
	if (self->vf0.device_fd >= 0)
		vf_close(&self->vf0);
	vf_dma_unmap(&self->dma);
	if (self->c.fd >= 0)
		vf_container_close(&self->c);
	free(self->stream);
}

/* PF side: waits for frame `want` from `src`, in order. */
static int pf_recv(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
		   const uint8_t *src, uint32_t want)
{
	static uint8_t buf[4096];
	uint32_t seq;
	ssize_t n;

	n = vfmig_pkt_recv_ours(self->sock, vf_now_ms() + RX_TIMEOUT_MS, self->nonce,
				VFMIG_DIR_VF_TO_PF, buf, sizeof(buf), &seq);
	if (n < 0) {
		TH_LOG("PF: seq %u not received", want);
		return -1;
	}
	if (seq != want || !vfmig_same_frame(buf, n, self->pf_mac, src, self->nonce,
					     VFMIG_DIR_VF_TO_PF, seq)) {
		TH_LOG("PF: got seq %u (len %zd), expected %u: lost, duplicated or corrupt", seq, n,
		       want);
		return -1;
	}
	return 0;
}

static int pf_send(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
		   const uint8_t *dst, uint32_t seq)
{
	int ret = vfmig_pf_send(self->sock, self->ifindex, dst, self->pf_mac, self->nonce,
				VFMIG_DIR_PF_TO_VF, seq);

	if (ret)
		TH_LOG("PF: sendto seq %u: %s", seq, strerror(-ret));
	return ret ? -1 : 0;
}

/* VF side: waits for frame `want` (to `dst`) in the Rx ring, in order; others are counted. */
static int ring_recv(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
		     struct vf_dev *vf, const uint8_t *dst, uint32_t want, int *others)
{
	struct vf_rx_frame f;

	for (;;) {
		uint32_t seq;

		if (!vf_rx_wait(&self->rx, &f, RX_TIMEOUT_MS)) {
			TH_LOG("%s: seq %u not received (sw head %u tail %u, RDH %u RDT %u)",
			       vf->bdf, want, self->rx.head, self->rx.tail, vf_rd32(vf, VF_RDH),
			       vf_rd32(vf, VF_RDT));
			return -1;
		}
		if (!(f.status_error & VF_RXD_STAT_EOP) || (f.status_error & VF_RXD_ERR_MASK)) {
			TH_LOG("%s: entry %u status 0x%08x", vf->bdf, f.index, f.status_error);
			return -1;
		}
		if (!vfmig_frame_ours(f.data, f.len, self->nonce, VFMIG_DIR_PF_TO_VF, &seq)) {
			(*others)++;
			continue;
		}
		if (seq != want || !vfmig_same_frame(f.data, f.len, dst, self->pf_mac, self->nonce,
					       VFMIG_DIR_PF_TO_VF, seq)) {
			TH_LOG("%s: got seq %u, expected %u: lost, duplicated or corrupt", vf->bdf,
			       seq, want);
			return -1;
		}
		return 0;
	}
}

/* Frames first..first+n-1 both ways through `vf` on the fixture's rings. */
static void exchange(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
		     struct vf_dev *vf, uint32_t first, uint32_t n, int *others)
{
	static uint8_t buf[VFMIG_FRAME_MAX];

	for (uint32_t i = first; i < first + n; i++) {
		vfmig_build_frame(buf, self->pf_mac, vf->mac, self->nonce, VFMIG_DIR_VF_TO_PF, i);
		ASSERT_EQ(0, vf_tx_send(vf, &self->tx, buf, vfmig_frame_len(i)));
		ASSERT_EQ(0, pf_recv(_metadata, self, vf->mac, i));
		ASSERT_EQ(0, pf_send(_metadata, self, vf->mac, i));
		ASSERT_EQ(0, ring_recv(_metadata, self, vf, vf->mac, i, others));
		vf_rx_post(vf, &self->rx, -1);
	}
}

static void attach_rings(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
			 struct vf_dev *vf)
{
	ASSERT_EQ(0, vf_rx_attach(vf, &self->rx));
	ASSERT_EQ(0, vf_tx_attach(vf, &self->tx));
	vf_rx_post(vf, &self->rx, -1);
}

/* Saves `vf` (from RUNNING, any state that reaches STOP_COPY) into self->stream. */
static ssize_t save(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
		    struct vf_dev *vf, size_t chunk)
{
	uint64_t size_before = 0, size_in = 0;
	ssize_t len;
	int fd;

	EXPECT_EQ(0, mig_data_size(vf->device_fd, &size_before));
	EXPECT_EQ(0, mig_set(vf->device_fd, VFIO_DEVICE_STATE_STOP_COPY, &fd));
	EXPECT_GE(fd, 0);
	if (fd < 0)
		return -1;
	EXPECT_EQ(0, mig_data_size(vf->device_fd, &size_in));
	len = mig_read_stream(fd, self->stream, STREAM_MAX, chunk);
	EXPECT_GT(len, 40) TH_LOG("read_stream: %zd", len);
	/* MIG_DATA_SIZE is exact, before and during STOP_COPY */
	EXPECT_EQ((uint64_t)len, size_before);
	EXPECT_EQ((uint64_t)len, size_in);
	/* at the end read() keeps answering 0 */
	EXPECT_EQ(0, read(fd, self->stream + len, 16));
	close(fd);
	return len;
}

/* Restores `len` bytes of self->stream into `vf` (any state that reaches RESUMING), leaving it
 * in STOP; 0 or the -errno of RESUMING -> STOP. *write_err is the first write's -errno. */
static int restore(struct __test_metadata *_metadata, FIXTURE_DATA(mig) *self,
		   struct vf_dev *vf, const uint8_t *buf, size_t len, int *write_err)
{
	int fd, ret;

	ret = mig_set(vf->device_fd, VFIO_DEVICE_STATE_RESUMING, &fd);
	EXPECT_EQ(0, ret);
	EXPECT_GE(fd, 0);
	if (fd < 0)
		return -EBADF;
	EXPECT_EQ(VFIO_DEVICE_STATE_RESUMING, mig_get(vf->device_fd));
	*write_err = mig_write_stream(fd, buf, len, odd_chunks, N_ODD);
	ret = mig_set(vf->device_fd, VFIO_DEVICE_STATE_STOP, NULL);
	/* the fd of a state the device left does not work any more */
	EXPECT_EQ(-1, write(fd, buf, 1));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	return ret;
}

struct arc {
	uint32_t from, to;
	bool data_fd;
};

/* (a) the features, every legal single arc, the data fds, illegal requests */
TEST_F_TIMEOUT(mig, arcs, 120)
{
	static const struct arc arcs[] = {
		{ VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_RUNNING_P2P, false },
		{ VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_RUNNING, false },
		{ VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_RUNNING_P2P, false },
		{ VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_STOP, false },
		{ VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RUNNING_P2P, false },
		{ VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_STOP, false },
		{ VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_STOP_COPY, true },
		{ VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_STOP, false },
		{ VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RESUMING, true },
		{ VFIO_DEVICE_STATE_RESUMING, VFIO_DEVICE_STATE_STOP, false },
		{ VFIO_DEVICE_STATE_STOP, VFIO_DEVICE_STATE_RUNNING_P2P, false },
		{ VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_RUNNING, false },
	};
	static const uint32_t illegal[] = {
		VFIO_DEVICE_STATE_ERROR, VFIO_DEVICE_STATE_PRE_COPY, VFIO_DEVICE_STATE_PRE_COPY_P2P,
		8, 0xffffffff,
	};
	int dev = self->vf0.device_fd;
	struct vfio_precopy_info pi = { .argsz = sizeof(pi) };
	uint64_t flags = 0;
	ssize_t len = 0;
	int fd, save_fd = -1, others = 0;

	ASSERT_EQ(0, mig_flags(dev, &flags));
	ASSERT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P, flags);
	attach_rings(_metadata, self, &self->vf0);
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(dev));

	for (size_t i = 0; i < ARRAY_SIZE(arcs); i++) {
		const struct arc *a = &arcs[i];

		ASSERT_EQ(a->from, mig_get(dev));
		ASSERT_EQ(0, mig_set(dev, a->to, &fd)) TH_LOG("arc %u -> %u", a->from, a->to);
		ASSERT_EQ(a->to, mig_get(dev));
		ASSERT_EQ(a->data_fd, fd >= 0) TH_LOG("arc %u -> %u data fd %d", a->from, a->to, fd);
		if (a->to == VFIO_DEVICE_STATE_RUNNING_P2P || a->to == VFIO_DEVICE_STATE_STOP) {
			/* the queues are quiesced: enables clear */
			EXPECT_FALSE(vf_rd32(&self->vf0, VF_RXDCTL) & VF_RXDCTL_ENABLE);
			EXPECT_FALSE(vf_rd32(&self->vf0, VF_TXDCTL) & VF_TXDCTL_ENABLE);
		}
		if (a->to == VFIO_DEVICE_STATE_RUNNING) {
			/* the guest's enables are back */
			EXPECT_TRUE(vf_rd32(&self->vf0, VF_RXDCTL) & VF_RXDCTL_ENABLE);
			EXPECT_TRUE(vf_rd32(&self->vf0, VF_TXDCTL) & VF_TXDCTL_ENABLE);
		}
		if (a->to == VFIO_DEVICE_STATE_STOP_COPY) {
			uint64_t size = 0;

			/* no PRE_COPY: the precopy ioctl is refused on the data fd */
			EXPECT_EQ(-1, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi));
			EXPECT_EQ(EINVAL, errno);
			len = mig_read_stream(fd, self->stream, STREAM_MAX, 100);
			ASSERT_GT(len, 40);
			ASSERT_EQ(0, mig_data_size(dev, &size));
			EXPECT_EQ((uint64_t)len, size);
			save_fd = fd;
			continue;
		}
		if (a->from == VFIO_DEVICE_STATE_STOP_COPY) {
			/* the save fd died with the state */
			EXPECT_EQ(-1, read(save_fd, self->stream + len, 1));
			EXPECT_EQ(ENODEV, errno);
			close(save_fd);
		}
		if (a->to == VFIO_DEVICE_STATE_RESUMING) {
			EXPECT_EQ(-1, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &pi));
			EXPECT_EQ(EINVAL, errno);
			EXPECT_EQ(0, mig_write_stream(fd, self->stream, len, &(size_t){ 64 }, 1));
			save_fd = fd;
			continue;
		}
		if (a->from == VFIO_DEVICE_STATE_RESUMING) {
			EXPECT_EQ(-1, write(save_fd, self->stream, 1));
			EXPECT_EQ(ENODEV, errno);
			close(save_fd);
		}
		if (fd >= 0)
			close(fd);
	}

	/* illegal targets: EINVAL, state unchanged */
	for (size_t i = 0; i < ARRAY_SIZE(illegal); i++) {
		EXPECT_EQ(-EINVAL, mig_set(dev, illegal[i], NULL)) TH_LOG("target %u", illegal[i]);
		EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(dev));
	}

	/* multi-step requests are walked by the driver, one arc at a time */
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_STOP_COPY, &fd));
	ASSERT_GE(fd, 0);
	EXPECT_EQ(len, mig_read_stream(fd, self->stream, STREAM_MAX, 4096));
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_RUNNING, NULL));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(dev));
	EXPECT_EQ(-1, read(fd, self->stream, 1));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	EXPECT_TRUE(vf_rd32(&self->vf0, VF_RXDCTL) & VF_RXDCTL_ENABLE);
	/* still moves frames after all that */
	exchange(_metadata, self, &self->vf0, 0, 4, &others);

	/* a reset ends any migration state: RUNNING again, the data fd dead */
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_STOP_COPY, &fd));
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, ioctl(dev, VFIO_DEVICE_RESET));
	EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(dev));
	EXPECT_EQ(-1, read(fd, self->stream, 10));
	EXPECT_EQ(ENODEV, errno);
	close(fd);

	/* a data fd outlives the device fd, but no longer reaches the device */
	ASSERT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_STOP_COPY, &fd));
	ASSERT_GE(fd, 0);
	EXPECT_EQ(10, read(fd, self->stream, 10));
	vf_close(&self->vf0);
	EXPECT_EQ(-1, read(fd, self->stream, 10));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
}

/* (b) VF0 runs traffic, is saved, VF1 restores and continues on the same rings */
TEST_F_TIMEOUT(mig, save_restore_traffic, 180)
{
	struct vf_queue_regs rx0, tx0, rx1, tx1;
	int others = 0, werr = 0, vf1_idx;
	uint8_t pf_view[6];
	ssize_t len;

	vf1_idx = vfmig_vf_index(vfmig_env("VFMIG_BDF2"));
	ASSERT_GE(vf1_idx, 0) TH_LOG("%s is not a VF", vfmig_env("VFMIG_BDF2"));
	/* VF1 as a fresh target: the reset makes the PF forget the MAC the fixture's handshake set
	 * and turn VF1's Rx/Tx off. The test does not perform VF1's handshake: the driver sends
	 * the reset message and VF0's MAC through VF1's mailbox on RESUMING -> STOP. */
	ASSERT_EQ(0, ioctl(self->vf1.device_fd, VFIO_DEVICE_RESET));
	attach_rings(_metadata, self, &self->vf0);
	exchange(_metadata, self, &self->vf0, 0, 10, &others);
	vf_tx_clean(&self->tx);
	/* the guest's view right before the migration starts */
	ASSERT_EQ(0, vf_rx_regs(&self->vf0, &rx0));
	ASSERT_EQ(0, vf_tx_regs(&self->vf0, &tx0));
	ASSERT_EQ(10, tx0.tail);
	ASSERT_EQ(self->rx.tail, rx0.tail);

	len = save(_metadata, self, &self->vf0, 100);
	ASSERT_GT(len, 40);
	/* the source stays stopped: its queues are disabled */
	EXPECT_FALSE(vf_rd32(&self->vf0, VF_RXDCTL) & VF_RXDCTL_ENABLE);
	EXPECT_FALSE(vf_rd32(&self->vf0, VF_TXDCTL) & VF_TXDCTL_ENABLE);
	ASSERT_EQ(0, mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_STOP, NULL));

	ASSERT_EQ(0, restore(_metadata, self, &self->vf1, self->stream, len, &werr));
	ASSERT_EQ(0, werr);
	ASSERT_EQ(VFIO_DEVICE_STATE_STOP, mig_get(self->vf1.device_fd));
	/* programmed, but nothing runs before RUNNING */
	EXPECT_FALSE(vf_rd32(&self->vf1, VF_RXDCTL) & VF_RXDCTL_ENABLE);
	EXPECT_FALSE(vf_rd32(&self->vf1, VF_TXDCTL) & VF_TXDCTL_ENABLE);
	ASSERT_EQ(0, mig_set(self->vf1.device_fd, VFIO_DEVICE_STATE_RUNNING, NULL));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(self->vf1.device_fd));

	ASSERT_EQ(0, vf_rx_regs(&self->vf1, &rx1));
	ASSERT_EQ(0, vf_tx_regs(&self->vf1, &tx1));
	EXPECT_EQ(rx0.base, rx1.base);
	EXPECT_EQ(rx0.len, rx1.len);
	EXPECT_EQ(rx0.head, rx1.head);
	EXPECT_EQ(rx0.tail, rx1.tail);
	EXPECT_EQ(rx0.ctl, rx1.ctl);
	EXPECT_EQ(rx0.srrctl, rx1.srrctl);
	EXPECT_EQ(tx0.base, tx1.base);
	EXPECT_EQ(tx0.len, tx1.len);
	EXPECT_EQ(tx0.head, tx1.head);
	EXPECT_EQ(tx0.tail, tx1.tail);
	EXPECT_EQ(tx0.ctl, tx1.ctl);
	EXPECT_EQ(vf_rd32(&self->vf0, VF_TDWBAL), vf_rd32(&self->vf1, VF_TDWBAL));

	/* The guest's MAC moved with it: the PF lists VF1 with VF0's MAC ... */
	ASSERT_EQ(0, vfmig_pf_view_of_vf_mac(vfmig_env("VFMIG_PF_IF"), vf1_idx, pf_view))
		TH_LOG("no 'vf %d' entry in ip link show %s", vf1_idx, vfmig_env("VFMIG_PF_IF"));
	EXPECT_EQ(0, memcmp(pf_view, self->vf0.mac, 6))
		TH_LOG("PF lists VF %d with %02x:%02x:%02x:%02x:%02x:%02x", vf1_idx, pf_view[0],
		       pf_view[1], pf_view[2], pf_view[3], pf_view[4], pf_view[5]);
	/* ... and the traffic below is addressed to it: what the PF sends to VF0's MAC arrives on
	 * VF1 (VF0's queues stay disabled) */
	memcpy(self->vf1.mac, self->vf0.mac, 6);

	/* VF1 carries on where VF0 stopped: both rings wrap, nothing lost or duplicated */
	exchange(_metadata, self, &self->vf1, 10, 2 * RING_COUNT, &others);
	vf_tx_clean(&self->tx);
	EXPECT_EQ(10 + 2 * RING_COUNT, self->tx.done);
	EXPECT_EQ(vf_rd32(&self->vf1, VF_TDH), self->tx.tail);
	EXPECT_EQ(vf_rd32(&self->vf1, VF_RDH), self->rx.head);
	/* the source never moved again */
	EXPECT_EQ(tx0.head, vf_rd32(&self->vf0, VF_TDH));
	EXPECT_EQ(rx0.head, vf_rd32(&self->vf0, VF_RDH));
	if (others)
		TH_LOG("%d unrelated frames received", others);
	vf_rx_detach(&self->vf1);
	vf_tx_detach(&self->vf1);
}

struct bad {
	const char *name;
	int err;	/* errno of RESUMING -> STOP */
};

/* (c) bad streams are refused with their errno, leave ERROR and an untouched device; a reset
 * brings the device back */
TEST_F_TIMEOUT(mig, bad_streams, 180)
{
	static const struct bad bad[] = {
		{ "empty", EBADMSG },
		{ "truncated", EBADMSG },
		{ "bit-flip", EBADMSG },
		{ "other-device", ENODEV },
		{ "major-2", EPROTO },
	};
	uint8_t *b = malloc(STREAM_MAX);
	int dev = self->vf1.device_fd, werr;
	const uint32_t marker = 0x00abc000;
	ssize_t len;

	ASSERT_NE(NULL, b);
	attach_rings(_metadata, self, &self->vf0);
	len = save(_metadata, self, &self->vf0, 4096);
	ASSERT_GT(len, 40);
	ASSERT_EQ(0, mig_set(self->vf0.device_fd, VFIO_DEVICE_STATE_STOP, NULL));
	/* the identity in the header is this PCI device */
	ASSERT_EQ(0x10ca, get_le16(self->stream + HDR_DEVICE));

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t n = len;
		int ret;

		memcpy(b, self->stream, len);
		switch (i) {
		case 0:
			n = 0;
			break;
		case 1:
			n = len - 10;
			break;
		case 2:
			b[len - 8] ^= 0x10;	/* inside the last section; only the CRC sees it */
			break;
		case 3:
			put_le16(b + HDR_DEVICE, 0x10cb);
			fix_crc(b, len);
			break;
		case 4:
			put_le16(b + HDR_MAJOR, 2);
			fix_crc(b, len);
			break;
		}
		vf_wr32(&self->vf1, VF_RDBAL, marker);
		ASSERT_EQ(marker, vf_rd32(&self->vf1, VF_RDBAL));
		ret = restore(_metadata, self, &self->vf1, b, n, &werr);
		EXPECT_EQ(-bad[i].err, ret) TH_LOG("%s: RESUMING -> STOP: %s", bad[i].name,
						     strerror(-ret));
		/* a write fails at the first byte the decoder refuses, with the same errno */
		if (werr)
			EXPECT_EQ(-bad[i].err, werr) TH_LOG("%s: write: %s", bad[i].name,
							    strerror(-werr));
		/* the failed arc leaves ERROR, which only a reset leaves */
		EXPECT_EQ(VFIO_DEVICE_STATE_ERROR, mig_get(dev)) TH_LOG("%s", bad[i].name);
		EXPECT_EQ(-EINVAL, mig_set(dev, VFIO_DEVICE_STATE_RUNNING, NULL));
		EXPECT_EQ(-EINVAL, mig_set(dev, VFIO_DEVICE_STATE_STOP, NULL));
		/* nothing was applied */
		EXPECT_EQ(marker, vf_rd32(&self->vf1, VF_RDBAL)) TH_LOG("%s", bad[i].name);
		ASSERT_EQ(0, ioctl(dev, VFIO_DEVICE_RESET));
		EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(dev)) TH_LOG("%s", bad[i].name);
	}

	/* after the reset the device works: register writes, the mailbox, a valid restore */
	vf_wr32(&self->vf1, VF_RDBAL, marker + 0x1000);
	EXPECT_EQ(marker + 0x1000, vf_rd32(&self->vf1, VF_RDBAL));
	EXPECT_EQ(0, vfmig_bring_up(&self->vf1, 0x04, 1));
	EXPECT_EQ(0, restore(_metadata, self, &self->vf1, self->stream, len, &werr));
	EXPECT_EQ(0, werr);
	EXPECT_EQ(VFIO_DEVICE_STATE_STOP, mig_get(dev));
	EXPECT_EQ(vf_rd32(&self->vf0, VF_RDBAL), vf_rd32(&self->vf1, VF_RDBAL));
	EXPECT_EQ(vf_rd32(&self->vf0, VF_TDBAL), vf_rd32(&self->vf1, VF_TDBAL));
	/* STOP -> RUNNING_P2P -> RUNNING restarts exactly the saved queues */
	EXPECT_EQ(0, mig_set(dev, VFIO_DEVICE_STATE_RUNNING, NULL));
	EXPECT_TRUE(vf_rd32(&self->vf1, VF_RXDCTL) & VF_RXDCTL_ENABLE);
	vf_rx_detach(&self->vf1);
	vf_tx_detach(&self->vf1);
	free(b);
}

TEST_HARNESS_MAIN
