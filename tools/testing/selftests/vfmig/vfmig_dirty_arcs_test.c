// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_dirty_arcs_test: DMA dirty logging across vfmig's own quiesce/unquiesce (regression
 * tests for the code review of Nov 2026, defects 2 and 6). vfmig loaded with
 * migration=1.
 *
 *  - arcs.written_pages_reported: Rx buffers are posted (RDT) while the VF runs, each at its own
 *    page of a 4 MiB area; then, per variant,
 *      p2p_start       RUNNING_P2P, DMA_LOGGING_START, RUNNING;
 *      stop_start      RUNNING_P2P, STOP, START, RUNNING_P2P, RUNNING;
 *      report_in_stop  START (RUNNING), RUNNING_P2P, STOP, a REPORT in STOP, RUNNING_P2P,
 *                      RUNNING;
 *    then the PF netdev sends frames to the VF (AF_PACKET), which QEMU's igb writes into the
 *    posted buffers, and a REPORT follows: every page the device wrote (the buffer of each
 *    descriptor that came back with DD, and the descriptor ring's page) must be set in it.
 *    Ground truth is the descriptor write-backs, as in vfmig_dirty_test.
 *  - iommufd_probe_matches_start: through a cdev/iommufd binding, where START cannot work
 *    (no vfio_dma_rw), VFIO_DEVICE_FEATURE_PROBE of DMA_LOGGING_START fails with ENOTTY, as START
 *    itself fails; through the group (type1 container) PROBE and START succeed.
 *
 * Environment: VFMIG_BDF (the VF, bound to vfmig), VFMIG_PF_IF (the PF netdev, up).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "vfmig_adv.h"

#define AREA_IOVA	0x10000000ull
#define AREA_SIZE	(4ull << 20)
#define RING_IOVA	0x20000000ull
#define RING_AREA_SIZE	(256ull << 10)	/* 64 pages: one bitmap word */
#define RING_COUNT	32
#define BUF_SIZE	2048
#define SZ_4K		4096ull
#define AREA_PAGES	(AREA_SIZE / SZ_4K)
#define RING_PAGES	(RING_AREA_SIZE / SZ_4K)
#define NPOST		12	/* buffers posted before the arcs */
#define NFRAMES		8	/* frames sent after them */
#define VF_QUEUE_STRIDE	0x100

static const struct vfio_device_feature_dma_logging_range ranges[] = {
	{ .iova = AREA_IOVA, .length = AREA_SIZE },
	{ .iova = RING_IOVA, .length = RING_AREA_SIZE },
};

static int log_start(int dev)
{
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = SZ_4K,
		.num_ranges = 2,
		.ranges = (uintptr_t)ranges,
	};

	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
			     &ctl, sizeof(ctl));
}

static int log_stop(int dev)
{
	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
			     NULL, 0);
}

static int log_report(int dev, uint64_t iova, uint64_t len, uint64_t *bitmap)
{
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = iova,
		.length = len,
		.page_size = SZ_4K,
		.bitmap = (uintptr_t)bitmap,
	};

	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
			     &rep, sizeof(rep));
}

static bool bit(const uint64_t *bm, uint64_t n)
{
	return (bm[n / 64] >> (n % 64)) & 1;
}

static int popcount_bm(const uint64_t *bm, size_t words)
{
	int n = 0;

	for (size_t i = 0; i < words; i++)
		n += __builtin_popcountll(bm[i]);
	return n;
}

enum mode { P2P_START, STOP_START, REPORT_IN_STOP };

FIXTURE(arcs) {
	struct vf_container c;
	struct vf_dev vf;
	struct vf_dma area, ringmem;
	union vf_rx_desc *desc;
	uint64_t desc_iova;
	uint64_t buf_iova[RING_COUNT];
	uint32_t head, tail;
	int ifindex, sock;
	uint8_t pf_mac[6];
	uint32_t nonce;
	bool logging;
};

FIXTURE_VARIANT(arcs) {
	enum mode mode;
};

FIXTURE_VARIANT_ADD(arcs, p2p_start) {
	.mode = P2P_START,
};

FIXTURE_VARIANT_ADD(arcs, stop_start) {
	.mode = STOP_START,
};

FIXTURE_VARIANT_ADD(arcs, report_in_stop) {
	.mode = REPORT_IN_STOP,
};

/* Only Rx queue 0 may name memory here (see vfmig_dirty_test.c, clear_unused_queues). */
static void clear_unused_queues(struct vf_dev *vf)
{
	for (uint32_t q = 0; q < 2; q++) {
		vf_wr32(vf, VF_TDWBAL + q * VF_QUEUE_STRIDE, 0);
		vf_wr32(vf, VF_TDWBAH + q * VF_QUEUE_STRIDE, 0);
		vf_wr32(vf, VF_TDLEN + q * VF_QUEUE_STRIDE, 0);
		vf_wr32(vf, VF_TDBAL + q * VF_QUEUE_STRIDE, 0);
		vf_wr32(vf, VF_TDBAH + q * VF_QUEUE_STRIDE, 0);
	}
	vf_wr32(vf, VF_RDLEN + VF_QUEUE_STRIDE, 0);
	vf_wr32(vf, VF_RDBAL + VF_QUEUE_STRIDE, 0);
	vf_wr32(vf, VF_RDBAH + VF_QUEUE_STRIDE, 0);
}

FIXTURE_SETUP(arcs)
{
	struct vf_ring r = { 0 };
	int idx, ret;

	self->sock = -1;
	self->c.fd = -1;
	self->vf.device_fd = self->vf.group_fd = -1;
	if (!*vfmig_env("VFMIG_BDF") || !*vfmig_env("VFMIG_PF_IF"))
		SKIP(return, "VFMIG_BDF and VFMIG_PF_IF must be set");
	idx = vfmig_vf_index(vfmig_env("VFMIG_BDF"));
	ASSERT_GE(idx, 0);
	self->ifindex = if_nametoindex(vfmig_env("VFMIG_PF_IF"));
	ASSERT_GT(self->ifindex, 0);
	ASSERT_EQ(0, vfmig_netdev_mac(vfmig_env("VFMIG_PF_IF"), self->pf_mac));
	self->nonce = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16) ^ 0x41524353;

	ASSERT_EQ(0, vf_container_open(&self->c));
	ASSERT_EQ(0, vf_open(&self->c, vfmig_env("VFMIG_BDF"), &self->vf));
	ASSERT_EQ(0, vf_dma_map(&self->c, &self->area, AREA_SIZE, AREA_IOVA));
	ASSERT_EQ(0, vf_dma_map(&self->c, &self->ringmem, RING_AREA_SIZE, RING_IOVA));
	ret = vfmig_feature(self->vf.device_fd, VFIO_DEVICE_FEATURE_PROBE |
			    VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0);
	ASSERT_EQ(0, ret) TH_LOG("DMA logging not offered (%s): migration=1?",
				 strerror(-ret));
	ret = vfmig_bring_up(&self->vf, 0x07, (uint8_t)idx);
	ASSERT_EQ(0, ret) TH_LOG("VF bring-up: %s", strerror(-ret));
	clear_unused_queues(&self->vf);

	self->desc = vf_dma_alloc(&self->ringmem, RING_COUNT * sizeof(union vf_rx_desc), 4096,
				  &self->desc_iova);
	ASSERT_NE(NULL, self->desc);
	r.desc = self->desc;
	r.desc_iova = self->desc_iova;
	r.count = RING_COUNT;
	r.buf_size = BUF_SIZE;
	ASSERT_EQ(0, vf_rx_attach(&self->vf, &r));
	self->head = self->tail = 0;
	ret = vfmig_pkt_open(self->ifindex, 0);
	ASSERT_GE(ret, 0);
	self->sock = ret;
}

FIXTURE_TEARDOWN(arcs)
{
	if (self->sock >= 0)
		close(self->sock);
	if (self->vf.device_fd >= 0) {
		if (self->logging)
			log_stop(self->vf.device_fd);
		vf_rx_detach(&self->vf);
		vf_close(&self->vf);
	}
	vf_dma_unmap(&self->ringmem);
	vf_dma_unmap(&self->area);
	if (self->c.fd >= 0)
		vf_container_close(&self->c);
}

static void set_state(struct __test_metadata *_metadata, FIXTURE_DATA(arcs) *self, uint32_t s)
{
	int ret = mig_set(self->vf.device_fd, s, NULL);

	ASSERT_EQ(0, ret) TH_LOG("-> %s: %s", mig_state_name(s), strerror(-ret));
	ASSERT_EQ(s, mig_get(self->vf.device_fd));
}

/* Reports both ranges into area/ring bitmaps (cleared first). */
static void report(struct __test_metadata *_metadata, FIXTURE_DATA(arcs) *self, uint64_t *bm_area,
		   uint64_t *bm_ring)
{
	int ret;

	memset(bm_area, 0, AREA_PAGES / 8);
	memset(bm_ring, 0, RING_PAGES / 8);
	ret = log_report(self->vf.device_fd, AREA_IOVA, AREA_SIZE, bm_area);
	ASSERT_EQ(0, ret) TH_LOG("REPORT of the area in %s: %s",
				 mig_state_name(mig_get(self->vf.device_fd)), strerror(-ret));
	ret = log_report(self->vf.device_fd, RING_IOVA, RING_AREA_SIZE, bm_ring);
	ASSERT_EQ(0, ret) TH_LOG("REPORT of the ring: %s", strerror(-ret));
}

TEST_F_TIMEOUT(arcs, written_pages_reported, 120)
{
	static uint64_t bm_area[AREA_PAGES / 64], bm_ring[RING_PAGES / 64];
	uint32_t ours = 0, others = 0, completed = 0, missing = 0;
	uint32_t written_area[RING_COUNT], nwritten = 0;
	uint32_t desc_page = (self->desc_iova - RING_IOVA) / SZ_4K;
	uint64_t end;
	int ret;

	/* buffers at pages 3, 10, 17, ...: one buffer a page, posted while the VF runs */
	for (uint32_t i = 0; i < NPOST; i++) {
		volatile union vf_rx_desc *d = &self->desc[self->tail];

		self->buf_iova[self->tail] = AREA_IOVA + (3 + 7 * i) * SZ_4K;
		d->read.pkt_addr = self->buf_iova[self->tail];
		d->read.hdr_addr = 0;
		self->tail = (self->tail + 1) % RING_COUNT;
	}
	vf_wr32(&self->vf, VF_RDT, self->tail);

	switch (variant->mode) {
	case P2P_START:
		set_state(_metadata, self, VFIO_DEVICE_STATE_RUNNING_P2P);
		ret = log_start(self->vf.device_fd);
		ASSERT_EQ(0, ret) TH_LOG("START in RUNNING_P2P: %s", strerror(-ret));
		self->logging = true;
		set_state(_metadata, self, VFIO_DEVICE_STATE_RUNNING);
		break;
	case STOP_START:
		set_state(_metadata, self, VFIO_DEVICE_STATE_RUNNING_P2P);
		set_state(_metadata, self, VFIO_DEVICE_STATE_STOP);
		ret = log_start(self->vf.device_fd);
		ASSERT_EQ(0, ret) TH_LOG("START in STOP: %s", strerror(-ret));
		self->logging = true;
		set_state(_metadata, self, VFIO_DEVICE_STATE_RUNNING_P2P);
		set_state(_metadata, self, VFIO_DEVICE_STATE_RUNNING);
		break;
	case REPORT_IN_STOP:
		ret = log_start(self->vf.device_fd);
		ASSERT_EQ(0, ret) TH_LOG("START in RUNNING: %s", strerror(-ret));
		self->logging = true;
		set_state(_metadata, self, VFIO_DEVICE_STATE_RUNNING_P2P);
		set_state(_metadata, self, VFIO_DEVICE_STATE_STOP);
		report(_metadata, self, bm_area, bm_ring);
		ksft_print_msg("arcs: REPORT in STOP: %d area page(s), %d ring page(s)\n",
			       popcount_bm(bm_area, AREA_PAGES / 64),
			       popcount_bm(bm_ring, RING_PAGES / 64));
		set_state(_metadata, self, VFIO_DEVICE_STATE_RUNNING_P2P);
		set_state(_metadata, self, VFIO_DEVICE_STATE_RUNNING);
		break;
	}
	ASSERT_TRUE(vf_rd32(&self->vf, VF_RXDCTL) & VF_RXDCTL_ENABLE);

	/* the device writes the frames into the buffers posted before the arcs */
	for (uint32_t seq = 0; seq < NFRAMES; seq++) {
		ret = vfmig_pf_send(self->sock, self->ifindex, self->vf.mac, self->pf_mac,
				    self->nonce, VFMIG_DIR_PF_TO_VF, seq);
		ASSERT_EQ(0, ret) TH_LOG("PF: sendto seq %u: %s", seq, strerror(-ret));
	}
	end = vf_now_ms() + VFMIG_RX_TIMEOUT_MS;
	while (ours < NFRAMES && self->head != self->tail && vf_now_ms() < end) {
		volatile union vf_rx_desc *d = &self->desc[self->head];
		uint32_t seq;
		uint16_t len;

		if (!(d->wb.status_error & VF_RXD_STAT_DD)) {
			usleep(200);
			continue;
		}
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		len = d->wb.length;
		if (len) {
			uint64_t iova = self->buf_iova[self->head];

			written_area[nwritten++] = (iova - AREA_IOVA) / SZ_4K;
			if (vfmig_frame_ours(self->area.va + (iova - AREA_IOVA), len, self->nonce,
					     VFMIG_DIR_PF_TO_VF, &seq))
				ours++;
			else
				others++;
		}
		completed++;
		self->head = (self->head + 1) % RING_COUNT;
	}
	ksft_print_msg("arcs: %u descriptors completed (%u of our %u frames, %u others)\n",
		       completed, ours, NFRAMES, others);
	ASSERT_GT(completed, 0) TH_LOG("the VF wrote nothing (RDH %u RDT %u RXDCTL 0x%08x)",
				       vf_rd32(&self->vf, VF_RDH), vf_rd32(&self->vf, VF_RDT),
				       vf_rd32(&self->vf, VF_RXDCTL));

	/* the REPORT after the writes: every page written is in it */
	report(_metadata, self, bm_area, bm_ring);
	ksft_print_msg("arcs: REPORT after the traffic: %d area page(s), %d ring page(s)\n",
		       popcount_bm(bm_area, AREA_PAGES / 64), popcount_bm(bm_ring, RING_PAGES / 64));
	for (uint32_t i = 0; i < nwritten; i++) {
		if (!bit(bm_area, written_area[i])) {
			TH_LOG("MISSED: buffer page 0x%llx written by the device, not reported",
			       (unsigned long long)(AREA_IOVA + written_area[i] * SZ_4K));
			missing++;
		}
	}
	if (!bit(bm_ring, desc_page)) {
		TH_LOG("MISSED: descriptor ring page 0x%llx (write-backs) not reported",
		       (unsigned long long)(RING_IOVA + desc_page * SZ_4K));
		missing++;
	}
	EXPECT_EQ(0, missing) TH_LOG("%u of %u written page(s) missing from the REPORT", missing,
				     nwritten + 1);
	EXPECT_EQ(0, log_stop(self->vf.device_fd));
	self->logging = false;
}

/* PROBE answers what START does: through iommufd both fail (ENOTTY), through the group both
 * work. */
TEST(iommufd_probe_matches_start)
{
	struct vf_container c = { .fd = -1 };
	struct vf_dma area = { 0 }, ringmem = { 0 };
	char name[NAME_MAX + 1];
	struct vf_dev vf;
	const char *step;
	int dev, iommufd, probe, start;

	if (!*vfmig_env("VFMIG_BDF"))
		SKIP(return, "VFMIG_BDF must be set");
	ASSERT_EQ(0, vfmig_cdev_name(vfmig_env("VFMIG_BDF"), name, sizeof(name)))
		TH_LOG("no VFIO cdev for %s", vfmig_env("VFMIG_BDF"));
	ASSERT_EQ(0, access("/dev/iommu", F_OK));
	dev = vfmig_open_iommufd(vfmig_env("VFMIG_BDF"), &iommufd, &step);
	ASSERT_GE(dev, 0) TH_LOG("%s: %s", step, strerror(-dev));
	probe = vfmig_feature(dev, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			      VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0);
	start = log_start(dev);
	ksft_print_msg("iommufd: PROBE of DMA_LOGGING_START: %s; START: %s\n",
		       probe ? strerror(-probe) : "0 (offered)", start ? strerror(-start) : "0");
	if (!start)
		log_stop(dev);
	EXPECT_EQ(-ENOTTY, probe) TH_LOG("PROBE through iommufd: %s (START: %s)",
					 probe ? strerror(-probe) : "offered",
					 start ? strerror(-start) : "works");
	EXPECT_NE(0, start);
	EXPECT_EQ(probe, start) TH_LOG("PROBE and START disagree");
	close(dev);
	close(iommufd);

	/* the group path: offered, and START works */
	ASSERT_EQ(0, vf_container_open(&c));
	ASSERT_EQ(0, vf_open(&c, vfmig_env("VFMIG_BDF"), &vf));
	ASSERT_EQ(0, vf_dma_map(&c, &area, AREA_SIZE, AREA_IOVA));
	ASSERT_EQ(0, vf_dma_map(&c, &ringmem, RING_AREA_SIZE, RING_IOVA));
	probe = vfmig_feature(vf.device_fd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			      VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0);
	EXPECT_EQ(0, probe) TH_LOG("PROBE through the group: %s", strerror(-probe));
	start = log_start(vf.device_fd);
	EXPECT_EQ(0, start) TH_LOG("START through the group: %s", strerror(-start));
	if (!start)
		EXPECT_EQ(0, log_stop(vf.device_fd));
	vf_close(&vf);
	vf_dma_unmap(&ringmem);
	vf_dma_unmap(&area);
	vf_container_close(&c);
}

TEST_HARNESS_MAIN
