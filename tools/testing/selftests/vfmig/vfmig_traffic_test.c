// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_traffic_test: a userspace 82576 VF driver (vf82576.c) owns a VF through VFIO as a guest
 * driver would and exchanges Ethernet frames with the PF's netdev (AF_PACKET) through the
 * 82576's internal VMDq switch, both ways, including ring wrap-around.
 *
 * Environment:
 *   VFMIG_BDF    the VF (bound to vfmig or vfio-pci by the caller)
 *   VFMIG_PF_IF  the PF's netdev (e.g. eth0), up
 *   VFMIG_VF_MAC optional: the MAC the administrator assigned (ip link set PF vf N mac M); the
 *                reset handshake must then ACK with exactly this MAC
 *   VFMIG_BDF2   optional: a second VF of the same PF (bound to vfmig or vfio-pci) for the
 *                tests that put two VF groups into one container (skipped without it)
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "vf82576.h"
#include "vfmig_util.h"

#define DMA_IOVA	VFMIG_DMA_IOVA
#define DMA_SIZE	VFMIG_DMA_SIZE
#define RING_COUNT	VFMIG_RING_COUNT
#define BUF_SIZE	VFMIG_BUF_SIZE
#define MBX_TIMEOUT_MS	VFMIG_MBX_TIMEOUT_MS
#define RX_TIMEOUT_MS	VFMIG_RX_TIMEOUT_MS

static bool valid_unicast(const uint8_t *mac)
{
	static const uint8_t zero[6];

	return !(mac[0] & 1) && memcmp(mac, zero, 6);
}

FIXTURE(vf) {
	struct vf_container c;
	struct vf_dev vf;
	struct vf_dma dma;
	struct vf_ring rx, tx;
	int reset_ret;
	int vf_idx;
	const char *pf_if;
	int ifindex;
	uint8_t pf_mac[6];
	int sock;
	uint32_t nonce;
};

FIXTURE_SETUP(vf)
{
	int ret;

	self->sock = -1;
	self->c.fd = -1;
	self->vf.device_fd = self->vf.group_fd = -1;
	if (!*vfmig_env("VFMIG_BDF") || !*vfmig_env("VFMIG_PF_IF"))
		SKIP(return, "VFMIG_BDF and VFMIG_PF_IF must be set");
	self->pf_if = vfmig_env("VFMIG_PF_IF");
	self->vf_idx = vfmig_vf_index(vfmig_env("VFMIG_BDF"));
	ASSERT_GE(self->vf_idx, 0) TH_LOG("%s is not a VF", vfmig_env("VFMIG_BDF"));
	self->ifindex = if_nametoindex(self->pf_if);
	ASSERT_GT(self->ifindex, 0) TH_LOG("no netdev %s", self->pf_if);
	ASSERT_EQ(vfmig_netdev_mac(self->pf_if, self->pf_mac), 0);
	srand(time(NULL) ^ getpid());
	self->nonce = (uint32_t)rand() ^ ((uint32_t)getpid() << 16);

	ASSERT_EQ(vf_container_open(&self->c), 0);
	ASSERT_EQ(vf_open(&self->c, vfmig_env("VFMIG_BDF"), &self->vf), 0);
	ASSERT_EQ(vf_dma_map(&self->c, &self->dma, DMA_SIZE, DMA_IOVA), 0);

	/* as igbvf probes: reset + handshake; without an administrative MAC, pick one */
	self->reset_ret = vf_reset(&self->vf, MBX_TIMEOUT_MS);
	ASSERT_GE(self->reset_ret, 0) TH_LOG("VF reset handshake failed: %d", self->reset_ret);
	if (self->reset_ret == 0) {
		uint8_t mac[6] = { 0x02, 0x76, 0x66, 0x6d, 0x00, (uint8_t)self->vf_idx };

		ASSERT_EQ(vf_set_mac(&self->vf, mac, MBX_TIMEOUT_MS), 0);
	}

	ASSERT_EQ(vf_ring_alloc(&self->dma, &self->rx, RING_COUNT, BUF_SIZE), 0);
	ASSERT_EQ(vf_ring_alloc(&self->dma, &self->tx, RING_COUNT, BUF_SIZE), 0);
	ASSERT_EQ(vf_rx_attach(&self->vf, &self->rx), 0);
	ASSERT_EQ(vf_tx_attach(&self->vf, &self->tx), 0);
	ASSERT_EQ(vf_rx_post(&self->vf, &self->rx, -1), RING_COUNT - 1);

	ret = vfmig_pkt_open(self->ifindex, 4 << 20);
	ASSERT_GE(ret, 0) TH_LOG("AF_PACKET socket on %s: %s", self->pf_if, strerror(-ret));
	self->sock = ret;
}

FIXTURE_TEARDOWN(vf)
{
	if (self->sock >= 0)
		close(self->sock);
	if (self->vf.device_fd >= 0) {
		vf_rx_detach(&self->vf);
		vf_tx_detach(&self->vf);
		vf_close(&self->vf);
	}
	vf_dma_unmap(&self->dma);
	if (self->c.fd >= 0)
		vf_container_close(&self->c);
}

/* Receives frames of ours on the PF socket until seq `want` arrives in order. */
static int pf_recv(struct __test_metadata *_metadata, FIXTURE_DATA(vf) *self, uint32_t want)
{
	static uint8_t buf[4096];
	const char *why;
	uint32_t seq;
	ssize_t n;

	n = vfmig_pkt_recv_ours(self->sock, vf_now_ms() + RX_TIMEOUT_MS, self->nonce,
				VFMIG_DIR_VF_TO_PF, buf, sizeof(buf), &seq);
	if (n < 0) {
		TH_LOG("PF: seq %u not received within %d ms", want, RX_TIMEOUT_MS);
		return -1;
	}
	if (seq != want) {
		TH_LOG("PF: got seq %u, expected %u (lost or reordered)", seq, want);
		return -1;
	}
	why = vfmig_frame_mismatch(buf, n, self->pf_mac, self->vf.mac, self->nonce,
				   VFMIG_DIR_VF_TO_PF, seq);
	if (why) {
		TH_LOG("PF: %s", why);
		return -1;
	}
	return 0;
}

static int pf_send(struct __test_metadata *_metadata, FIXTURE_DATA(vf) *self, uint32_t seq)
{
	int ret = vfmig_pf_send(self->sock, self->ifindex, self->vf.mac, self->pf_mac, self->nonce,
				VFMIG_DIR_PF_TO_VF, seq);

	if (ret)
		TH_LOG("PF: sendto seq %u: %s", seq, strerror(-ret));
	return ret ? -1 : 0;
}

/* Receives frames of ours (direction dir, dst -> src as given) in Rx ring r until seq `want`;
 * other frames are skipped and counted. */
static int ring_recv(struct __test_metadata *_metadata, FIXTURE_DATA(vf) *self, struct vf_dev *vf,
		     struct vf_ring *r, int dir, const uint8_t *dst, const uint8_t *src,
		     uint32_t want, int *others)
{
	struct vf_rx_frame f;

	for (;;) {
		const char *why;
		uint32_t seq;

		if (!vf_rx_wait(r, &f, RX_TIMEOUT_MS)) {
			TH_LOG("%s: seq %u not received within %d ms (sw head %u tail %u, RDH %u RDT %u)",
			       vf->bdf, want, RX_TIMEOUT_MS, r->head, r->tail, vf_rd32(vf, VF_RDH),
			       vf_rd32(vf, VF_RDT));
			return -1;
		}
		if (!(f.status_error & VF_RXD_STAT_EOP) || (f.status_error & VF_RXD_ERR_MASK)) {
			TH_LOG("%s: entry %u status 0x%08x (want EOP, no errors)", vf->bdf, f.index,
			       f.status_error);
			return -1;
		}
		if (!vfmig_frame_ours(f.data, f.len, self->nonce, dir, &seq)) {
			(*others)++;
			continue;
		}
		if (seq != want) {
			TH_LOG("%s: got seq %u, expected %u (lost or reordered)", vf->bdf, seq, want);
			return -1;
		}
		why = vfmig_frame_mismatch(f.data, f.len, dst, src, self->nonce, dir, seq);
		if (why) {
			TH_LOG("%s: %s", vf->bdf, why);
			return -1;
		}
		return 0;
	}
}

static int vf_recv(struct __test_metadata *_metadata, FIXTURE_DATA(vf) *self, uint32_t want,
		   int *others)
{
	return ring_recv(_metadata, self, &self->vf, &self->rx, VFMIG_DIR_PF_TO_VF, self->vf.mac,
			 self->pf_mac, want, others);
}

static int vf_send(struct __test_metadata *_metadata, FIXTURE_DATA(vf) *self, uint32_t seq)
{
	static uint8_t buf[VFMIG_FRAME_MAX];
	int ret;

	vfmig_build_frame(buf, self->pf_mac, self->vf.mac, self->nonce, VFMIG_DIR_VF_TO_PF, seq);
	ret = vf_tx_send(&self->vf, &self->tx, buf, vfmig_frame_len(seq));
	if (ret)
		TH_LOG("VF: tx seq %u: %s", seq, strerror(-ret));
	return ret;
}

/* Sends n frames VF->PF in batches, each batch received and checked on the PF. */
static void vf_to_pf(struct __test_metadata *_metadata, FIXTURE_DATA(vf) *self, uint32_t n,
		     uint32_t batch)
{
	uint32_t gptc0 = vf_rd32(&self->vf, VF_GPTC);
	uint64_t done0 = self->tx.done;
	struct vf_queue_regs q;

	for (uint32_t s = 0; s < n; s += batch) {
		uint32_t e = s + batch < n ? s + batch : n;

		for (uint32_t i = s; i < e; i++)
			ASSERT_EQ(vf_send(_metadata, self, i), 0);
		for (uint32_t i = s; i < e; i++)
			ASSERT_EQ(pf_recv(_metadata, self, i), 0);
	}
	vf_tx_clean(&self->tx);
	/* every descriptor written back, hardware and driver agree on the indices */
	EXPECT_EQ(self->tx.done - done0, n);
	EXPECT_EQ(self->tx.head, self->tx.tail);
	EXPECT_EQ(self->tx.tail, n % RING_COUNT);
	ASSERT_EQ(vf_tx_regs(&self->vf, &q), 0);
	EXPECT_EQ(q.head, self->tx.head);
	EXPECT_EQ(q.tail, self->tx.tail);
	EXPECT_EQ(q.base, self->tx.desc_iova);
	EXPECT_EQ(q.len, RING_COUNT * 16);
	/* the VF's good-packets-transmitted counter saw exactly our frames */
	EXPECT_EQ(vf_rd32(&self->vf, VF_GPTC) - gptc0, n);
}

/* Sends n frames PF->VF in batches that fit the posted buffers, re-posting after each. */
static void pf_to_vf(struct __test_metadata *_metadata, FIXTURE_DATA(vf) *self, uint32_t n,
		     uint32_t batch)
{
	uint32_t gprc0 = vf_rd32(&self->vf, VF_GPRC);
	uint64_t done0 = self->rx.done;
	struct vf_queue_regs q;
	int others = 0;

	ASSERT_LE(batch, RING_COUNT - 1);
	for (uint32_t s = 0; s < n; s += batch) {
		uint32_t e = s + batch < n ? s + batch : n;

		ASSERT_EQ(vf_ring_space(&self->rx), 0) TH_LOG("all buffers must be posted");
		for (uint32_t i = s; i < e; i++)
			ASSERT_EQ(pf_send(_metadata, self, i), 0);
		for (uint32_t i = s; i < e; i++)
			ASSERT_EQ(vf_recv(_metadata, self, i, &others), 0);
		vf_rx_post(&self->vf, &self->rx, -1);
	}
	if (others)
		TH_LOG("VF also received %d unrelated frames", others);
	EXPECT_EQ(self->rx.done - done0, n + others);
	ASSERT_EQ(vf_rx_regs(&self->vf, &q), 0);
	/* device head = next entry it will fill = driver's head (all completions consumed) */
	EXPECT_EQ(q.head, self->rx.head);
	EXPECT_EQ(q.tail, self->rx.tail);
	EXPECT_EQ(q.base, self->rx.desc_iova);
	EXPECT_EQ(q.len, RING_COUNT * 16);
	EXPECT_TRUE(q.ctl & VF_RXDCTL_ENABLE);
	EXPECT_GE(vf_rd32(&self->vf, VF_GPRC) - gprc0, n);
}

TEST_F_TIMEOUT(vf, mailbox_reset_mac, 60)
{
	uint8_t mac[6], pf_view[6], admin[6];
	int ret;

	/* the fixture's handshake, then a second one: both must agree */
	ret = vf_reset(&self->vf, MBX_TIMEOUT_MS);
	ASSERT_GE(ret, 0);
	ASSERT_EQ(ret, self->reset_ret) TH_LOG("reset reply changed between two resets");
	if (*vfmig_env("VFMIG_VF_MAC")) {
		ASSERT_EQ(vfmig_parse_mac(vfmig_env("VFMIG_VF_MAC"), admin), 0);
		ASSERT_EQ(ret, 1) TH_LOG("administrative MAC set, but the PF NACKed the reset");
		ASSERT_EQ(memcmp(self->vf.mac, admin, 6), 0);
	}
	if (ret == 0) {
		TH_LOG("PF NACKed (no MAC assigned); setting one through the mailbox");
		mac[0] = 0x02; mac[1] = 0x76; mac[2] = 0x66; mac[3] = 0x6d;
		mac[4] = 0x01; mac[5] = self->vf_idx;
		ASSERT_EQ(vf_set_mac(&self->vf, mac, MBX_TIMEOUT_MS), 0);
	}
	memcpy(mac, self->vf.mac, 6);
	ASSERT_TRUE(self->vf.mac_valid);
	ASSERT_TRUE(valid_unicast(mac));
	TH_LOG("VF %d MAC %02x:%02x:%02x:%02x:%02x:%02x (%s)", self->vf_idx, mac[0], mac[1], mac[2],
	       mac[3], mac[4], mac[5], ret ? "reset ACK" : "set by VF");
	ASSERT_EQ(vfmig_pf_view_of_vf_mac(self->pf_if, self->vf_idx, pf_view), 0)
		TH_LOG("no 'vf %d' entry in ip link show %s", self->vf_idx, self->pf_if);
	ASSERT_EQ(memcmp(pf_view, mac, 6), 0)
		TH_LOG("PF reports %02x:%02x:%02x:%02x:%02x:%02x", pf_view[0], pf_view[1],
		       pf_view[2], pf_view[3], pf_view[4], pf_view[5]);
	/* the handshake left the PF out of reset and the link up */
	EXPECT_FALSE(vf_rd32(&self->vf, VF_V2PMAILBOX) & VF_MBX_RSTI);
	EXPECT_TRUE(vf_rd32(&self->vf, VF_STATUS) & VF_STATUS_LU);
}

TEST_F_TIMEOUT(vf, vf_to_pf, 120)
{
	vf_to_pf(_metadata, self, 16, 16);
}

TEST_F_TIMEOUT(vf, pf_to_vf, 120)
{
	pf_to_vf(_metadata, self, 16, 16);
}

/* More frames than ring entries: the Tx ring wraps three times. */
TEST_F_TIMEOUT(vf, vf_to_pf_wrap, 180)
{
	vf_to_pf(_metadata, self, 3 * RING_COUNT + 5, 8);
	EXPECT_GT(self->tx.done, (uint64_t)RING_COUNT);
}

/* More frames than ring entries: the Rx ring wraps three times, buffers re-posted. */
TEST_F_TIMEOUT(vf, pf_to_vf_wrap, 180)
{
	pf_to_vf(_metadata, self, 3 * RING_COUNT + 5, RING_COUNT - 1);
	EXPECT_GT(self->rx.done, (uint64_t)RING_COUNT);
}

/* Frames are dropped, not queued, when the VF has no free Rx buffer; posting buffers again
 * resumes reception with the next frame. */
TEST_F_TIMEOUT(vf, rx_no_buffers_drops, 120)
{
	int others = 0;

	/* fill the ring exactly, then one more that must be dropped */
	for (uint32_t i = 0; i < RING_COUNT - 1; i++)
		ASSERT_EQ(pf_send(_metadata, self, i), 0);
	for (uint32_t i = 0; i < RING_COUNT - 1; i++)
		ASSERT_EQ(vf_recv(_metadata, self, i, &others), 0);
	ASSERT_EQ(others, 0);
	ASSERT_EQ(pf_send(_metadata, self, 1000), 0);
	usleep(200 * 1000);
	vf_rx_post(&self->vf, &self->rx, -1);
	ASSERT_EQ(pf_send(_metadata, self, 1001), 0);
	ASSERT_EQ(vf_recv(_metadata, self, 1001, &others), 0)
		TH_LOG("the frame sent without buffers must have been dropped");
}

/* Opens VFMIG_BDF2 into the fixture's container and brings it up like the first VF. */
static void open_second_vf(struct __test_metadata *_metadata, FIXTURE_DATA(vf) *self,
			   struct vf_dev *vf2)
{
	int ret = vf_open(&self->c, vfmig_env("VFMIG_BDF2"), vf2);

	ASSERT_EQ(ret, 0) TH_LOG("open %s into the same container", vfmig_env("VFMIG_BDF2"));
	ret = vf_reset(vf2, MBX_TIMEOUT_MS);
	ASSERT_GE(ret, 0);
	if (ret == 0) {
		uint8_t mac[6] = { 0x02, 0x76, 0x66, 0x6d, 0x02, 0 };

		mac[5] = vfmig_vf_index(vfmig_env("VFMIG_BDF2"));
		ASSERT_EQ(vf_set_mac(vf2, mac, MBX_TIMEOUT_MS), 0);
	}
	ASSERT_NE(memcmp(vf2->mac, self->vf.mac, 6), 0) TH_LOG("both VFs have the same MAC");
}

/* Two VF groups in one container share the DMA arena: VF1 -> VF2 through the VMDq switch,
 * rings of both in the same IOVA space. */
TEST_F_TIMEOUT(vf, vf_to_vf_same_container, 120)
{
	struct vf_dev vf2;
	struct vf_ring rx2;
	uint8_t buf[VFMIG_FRAME_MAX];
	int others = 0;

	if (!*vfmig_env("VFMIG_BDF2"))
		SKIP(return, "VFMIG_BDF2 not set");
	open_second_vf(_metadata, self, &vf2);
	ASSERT_EQ(vf_ring_alloc(&self->dma, &rx2, RING_COUNT, BUF_SIZE), 0);
	ASSERT_EQ(vf_rx_attach(&vf2, &rx2), 0);
	ASSERT_EQ(vf_rx_post(&vf2, &rx2, -1), RING_COUNT - 1);
	for (uint32_t i = 0; i < 20; i++) {
		vfmig_build_frame(buf, vf2.mac, self->vf.mac, self->nonce, VFMIG_DIR_VF_TO_VF, i);
		ASSERT_EQ(vf_tx_send(&self->vf, &self->tx, buf, vfmig_frame_len(i)), 0);
		ASSERT_EQ(ring_recv(_metadata, self, &vf2, &rx2, VFMIG_DIR_VF_TO_VF, vf2.mac,
				    self->vf.mac, i, &others), 0);
	}
	/* nothing of it reached the first VF's own ring */
	EXPECT_EQ(vf_rd32(&self->vf, VF_RDH), 0);
	EXPECT_EQ(vf_rd32(&vf2, VF_RDH), 20);
	vf_rx_detach(&vf2);
	vf_close(&vf2);
}

/* The ring structs are the state: VF1's Tx and Rx rings, used part-way, are detached and
 * attached to VF2 (same container, same IOVAs) and continue at the same indices. */
TEST_F_TIMEOUT(vf, rings_move_to_second_vf, 120)
{
	struct vf_queue_regs q;
	struct vf_dev vf2;
	uint32_t tx_tail, rx_head;
	uint8_t buf[VFMIG_FRAME_MAX];
	int others = 0;

	if (!*vfmig_env("VFMIG_BDF2"))
		SKIP(return, "VFMIG_BDF2 not set");
	open_second_vf(_metadata, self, &vf2);

	/* part-way through both rings on VF1 */
	for (uint32_t i = 0; i < 10; i++) {
		ASSERT_EQ(vf_send(_metadata, self, i), 0);
		ASSERT_EQ(pf_recv(_metadata, self, i), 0);
		ASSERT_EQ(pf_send(_metadata, self, i), 0);
		ASSERT_EQ(vf_recv(_metadata, self, i, &others), 0);
	}
	vf_rx_post(&self->vf, &self->rx, -1);
	vf_tx_clean(&self->tx);
	vf_rx_detach(&self->vf);
	vf_tx_detach(&self->vf);
	tx_tail = self->tx.tail;
	rx_head = self->rx.head;
	ASSERT_EQ(tx_tail, 10);
	ASSERT_EQ(rx_head, (10 + others) % RING_COUNT);

	/* VF2 takes the rings over; frames now carry VF2's MAC as peer address */
	ASSERT_EQ(vf_tx_attach(&vf2, &self->tx), 0);
	ASSERT_EQ(vf_rx_attach(&vf2, &self->rx), 0);
	ASSERT_EQ(vf_tx_regs(&vf2, &q), 0);
	EXPECT_EQ(q.head, tx_tail);
	EXPECT_EQ(q.base, self->tx.desc_iova);
	memcpy(self->vf.mac, vf2.mac, 6);	/* helpers address "the VF" by self->vf.mac */
	for (uint32_t i = 10; i < 10 + 2 * RING_COUNT; i++) {
		vfmig_build_frame(buf, self->pf_mac, vf2.mac, self->nonce, VFMIG_DIR_VF_TO_PF, i);
		ASSERT_EQ(vf_tx_send(&vf2, &self->tx, buf, vfmig_frame_len(i)), 0);
		ASSERT_EQ(pf_recv(_metadata, self, i), 0);
		ASSERT_EQ(pf_send(_metadata, self, i), 0);
		ASSERT_EQ(ring_recv(_metadata, self, &vf2, &self->rx, VFMIG_DIR_PF_TO_VF, vf2.mac,
				    self->pf_mac, i, &others), 0);
		vf_rx_post(&vf2, &self->rx, -1);
	}
	vf_tx_clean(&self->tx);
	EXPECT_EQ(self->tx.done, 10 + 2 * RING_COUNT);
	EXPECT_EQ(self->tx.tail, (10 + 2 * RING_COUNT) % RING_COUNT);
	ASSERT_EQ(vf_tx_regs(&vf2, &q), 0);
	EXPECT_EQ(q.head, self->tx.tail);
	ASSERT_EQ(vf_rx_regs(&vf2, &q), 0);
	EXPECT_EQ(q.head, self->rx.head);
	/* the first VF's queues stayed where they were left */
	EXPECT_EQ(vf_rd32(&self->vf, VF_TDH), tx_tail);
	EXPECT_EQ(vf_rd32(&self->vf, VF_RDH), rx_head);
	vf_rx_detach(&vf2);
	vf_tx_detach(&vf2);
	vf_close(&vf2);
}

TEST_HARNESS_MAIN
