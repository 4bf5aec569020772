// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_dirty_test: VFIO DMA dirty-page logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_START / _REPORT
 * / _STOP) of vfmig (loaded with migration on (the default)), checked against ground truth.
 *
 * The userspace VF driver (vf82576.c) owns the VF through a type1 container. Its Rx ring (queue
 * 0, advanced one-buffer descriptors) is handed buffers at random pages all over a 64 MiB
 * "guest memory" area; the PF's netdev sends frames to the VF's MAC (AF_PACKET), which igb's
 * VMDq switch delivers into those buffers. Every descriptor that comes back with DD set (and a
 * length) names a page the device wrote, and the descriptor ring's page was written too: that
 * is the ground truth the REPORTs are compared with.
 *
 *  - Zero false negatives: a write can only happen after its buffer was posted (RDT write) and,
 *    when the frame in it is one of ours, after the frame was sent. A written page must be set
 *    in some REPORT issued after that point and no later than the first REPORT issued after the
 *    write was seen (DD); REPORTs are also issued at random moments between posting, sending
 *    and polling, so buffers owned by the device across a REPORT are covered.
 *  - False positives are bounded: pages reported without an observed write. "Raw" counts all
 *    of them; "adjusted" leaves out the descriptor ring's own pages and pages holding a buffer
 *    the device still owned (posted, not yet completed: the driver must report those, it
 *    cannot know whether they were written). What is left, pages the oracle cannot explain
 *    (no buffer was ever written or owned there, not the ring), must be none, and the
 *    driver's debugfs `dirty_overflows` must stay 0: nothing here can overflow the log, so a
 *    tracker that falls back to "everything is dirty" (or reports junk) fails.
 *
 * Further cases: the core's and the driver's range checks, page sizes, PROBE, BAR0 fully trapped
 * (no page of it mmappable) and DMA logging refused through iommufd.
 *
 * Environment:
 *   VFMIG_BDF          the VF, bound to vfmig loaded with migration on (the default)
 *   VFMIG_PF_IF        the PF's netdev, up
 *   VFMIG_VF_MAC       optional: the administrative MAC of the VF; the reset handshake must
 *                      return it
 *   VFMIG_SEED         optional: the seed of the randomized rounds (printed either way; it
 *                      fixes the test's choices, not the emulated device's timing)
 *   VFMIG_DIRTY_ROUNDS optional: the number of randomized rounds (default 1000); also
 *                      `--rounds N` on the command line, before the harness's options
 *   VFMIG_EXPECT_TRAP  1: BAR0 must be fully trapped: no mmap flag, no sparse mmap
 *                      capability, every mmap EINVAL (else bar0_trapped is skipped)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vf82576.h"
#include "vfmig_util.h"

#define AREA_IOVA	0x10000000ull		/* the large area the buffers come from */
#define AREA_SIZE	(64ull << 20)
#define RING_IOVA	0x20000000ull		/* the descriptor ring's memory */
#define RING_AREA_SIZE	(2ull << 20)		/* one 2 MiB page, for the 2 MiB test */
#define RING_COUNT	64
#define BUF_SIZE	2048			/* two buffer slots per 4 KiB page */
#define SZ_4K		4096ull
#define SZ_2M		(2ull << 20)
#define AREA_PAGES	(AREA_SIZE / SZ_4K)
#define RING_PAGES	(RING_AREA_SIZE / SZ_4K)
#define NPAGES		(AREA_PAGES + RING_PAGES)	/* area, then ring-area pages */
#define NSLOTS		(AREA_SIZE / BUF_SIZE)
#define MAX_POST	8			/* buffers posted per round, at most */
#define MAX_FRAMES	4			/* frames sent per round, at most */
#define RX_TIMEOUT_MS	VFMIG_RX_TIMEOUT_MS
#define DEFAULT_ROUNDS	1000
#define VF_QUEUE_STRIDE	0x100			/* queue 1's registers: +0x100 */

static unsigned long opt_rounds = DEFAULT_ROUNDS;

/* --- DMA logging uAPI -------------------------------------------------------------------- */

static int log_start(int dev, uint64_t *page_size,
		     const struct vfio_device_feature_dma_logging_range *ranges, uint32_t n)
{
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = *page_size,
		.num_ranges = n,
		.ranges = (uintptr_t)ranges,
	};
	int ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_SET |
				     VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &ctl, sizeof(ctl));

	if (!ret)
		*page_size = ctl.page_size;	/* the page size the driver chose */
	return ret;
}

static int log_stop(int dev)
{
	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
			     NULL, 0);
}

/* Reads and clears the log of [iova, iova + len) into bitmap (1 bit a page_size; only sets). */
static int log_report(int dev, uint64_t iova, uint64_t len, uint64_t page_size, uint64_t *bitmap)
{
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = iova,
		.length = len,
		.page_size = page_size,
		.bitmap = (uintptr_t)bitmap,
	};

	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
			     &rep, sizeof(rep));
}

static int feature_probe(int dev, uint32_t flags)
{
	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_PROBE | flags, NULL, 0);
}

static const struct vfio_device_feature_dma_logging_range both_ranges[] = {
	{ .iova = AREA_IOVA, .length = AREA_SIZE },
	{ .iova = RING_IOVA, .length = RING_AREA_SIZE },
};

static bool test_bit64(const uint64_t *bm, uint64_t n)
{
	return (bm[n / 64] >> (n % 64)) & 1;
}

/* --- randomness: splitmix64, the choices reproducible from the printed seed ----------------- */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(struct rng *r, uint32_t n)
{
	return n ? rnd(r) % n : 0;
}

/* true with probability 1/n */
static bool one_in(struct rng *r, uint32_t n)
{
	return rnd_below(r, n) == 0;
}

/* --- the fixture: VF up, memory mapped, Rx queue 0 on our ring, PF socket ------------------ */

/* One Rx descriptor's bookkeeping: the buffer handed to the device and how many REPORTs had
 * been issued when it was posted. */
struct rx_entry {
	uint64_t iova;
	uint32_t epoch;
};

FIXTURE(dirty) {
	struct vf_container c;
	struct vf_dev vf;
	struct vf_dma area;
	struct vf_dma ringmem;
	union vf_rx_desc *desc;
	uint64_t desc_iova;
	uint32_t head, tail;	/* next entry to complete / next entry to post */
	struct rx_entry e[RING_COUNT];
	int ifindex;
	int sock;
	uint8_t pf_mac[6];
	uint32_t nonce;
	bool logging;
};

/*
 * The driver logs every descriptor ring and Tx head write-back word the VF's registers name as
 * written at any time, enabled or not, and the VF keeps its ring registers across resets: rings
 * an earlier program left (the traffic test's were at 0x10000000, inside the area) would be
 * reported at every REPORT. Nothing but Rx queue 0 may name memory here.
 */
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

FIXTURE_SETUP(dirty)
{
	struct vf_ring r = { 0 };
	int idx, ret;

	self->sock = -1;
	self->c.fd = -1;
	self->vf.device_fd = self->vf.group_fd = -1;
	if (!*vfmig_env("VFMIG_BDF") || !*vfmig_env("VFMIG_PF_IF"))
		SKIP(return, "VFMIG_BDF and VFMIG_PF_IF must be set");
	idx = vfmig_vf_index(vfmig_env("VFMIG_BDF"));
	ASSERT_GE(idx, 0) TH_LOG("%s is not a VF", vfmig_env("VFMIG_BDF"));
	self->ifindex = if_nametoindex(vfmig_env("VFMIG_PF_IF"));
	ASSERT_GT(self->ifindex, 0) TH_LOG("no netdev %s", vfmig_env("VFMIG_PF_IF"));
	ASSERT_EQ(0, vfmig_netdev_mac(vfmig_env("VFMIG_PF_IF"), self->pf_mac));
	self->nonce = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16) ^ 0x44495254;

	ASSERT_EQ(0, vf_container_open(&self->c));
	ASSERT_EQ(0, vf_open(&self->c, vfmig_env("VFMIG_BDF"), &self->vf));
	ASSERT_EQ(0, vf_dma_map(&self->c, &self->area, AREA_SIZE, AREA_IOVA));
	ASSERT_EQ(0, vf_dma_map(&self->c, &self->ringmem, RING_AREA_SIZE, RING_IOVA));
	/* DMA logging offered at all: the module was loaded with migration on (the default) */
	ret = feature_probe(self->vf.device_fd, VFIO_DEVICE_FEATURE_SET |
						VFIO_DEVICE_FEATURE_DMA_LOGGING_START);
	ASSERT_EQ(0, ret) TH_LOG("DMA logging not offered (%s): is vfmig loaded with "
				 "migration=1?", strerror(-ret));

	/* as igbvf probes: reset + handshake; without an administrative MAC, pick one */
	ret = vfmig_bring_up(&self->vf, 0x06, (uint8_t)idx);
	ASSERT_EQ(0, ret) TH_LOG("VF bring-up (reset handshake, MAC): %s", strerror(-ret));
	if (*vfmig_env("VFMIG_VF_MAC")) {
		uint8_t admin[6];

		ASSERT_EQ(0, vfmig_parse_mac(vfmig_env("VFMIG_VF_MAC"), admin));
		ASSERT_EQ(0, memcmp(admin, self->vf.mac, 6))
			TH_LOG("the reset handshake did not return VFMIG_VF_MAC");
	}

	clear_unused_queues(&self->vf);
	/* Rx queue 0 on a ring whose buffers this test chooses per post (vf_rx_attach programs
	 * base, length, SRRCTL for 2 KiB advanced one-buffer descriptors, head = tail = 0) */
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
	ASSERT_GE(ret, 0) TH_LOG("AF_PACKET socket: %s", strerror(-ret));
	self->sock = ret;
}

FIXTURE_TEARDOWN(dirty)
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

static uint32_t ring_used(FIXTURE_DATA(dirty) *self)
{
	return (self->tail + RING_COUNT - self->head) % RING_COUNT;
}

static uint32_t ring_space(FIXTURE_DATA(dirty) *self)
{
	return RING_COUNT - 1 - ring_used(self);
}

/* Hands the device one buffer at iova in the tail entry (RDT not written). */
static void post_one(FIXTURE_DATA(dirty) *self, uint64_t iova, uint32_t epoch)
{
	volatile union vf_rx_desc *d = &self->desc[self->tail];

	d->read.pkt_addr = iova;
	d->read.hdr_addr = 0;	/* also clears DD of the previous write-back */
	self->e[self->tail].iova = iova;
	self->e[self->tail].epoch = epoch;
	self->tail = (self->tail + 1) % RING_COUNT;
}

/* Writes RDT: the device may use every entry up to the tail from now on (a trapped register
 * with migration on (the default): vf_wr32 goes through pwrite, the driver logs the buffers). */
static void post_commit(FIXTURE_DATA(dirty) *self)
{
	vf_wr32(&self->vf, VF_RDT, self->tail);
}

/* A completed entry at head: 1 with its buffer iova, length and posting epoch (head advances),
 * or 0. */
static int poll_one(FIXTURE_DATA(dirty) *self, uint64_t *iova, uint16_t *len, uint32_t *epoch,
		    uint32_t *index)
{
	volatile union vf_rx_desc *d;

	if (self->head == self->tail)
		return 0;
	d = &self->desc[self->head];
	if (!(d->wb.status_error & VF_RXD_STAT_DD))
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*len = d->wb.length;
	*iova = self->e[self->head].iova;
	*epoch = self->e[self->head].epoch;
	*index = self->head;
	self->head = (self->head + 1) % RING_COUNT;
	return 1;
}

static void *area_va(FIXTURE_DATA(dirty) *self, uint64_t iova)
{
	return self->area.va + (iova - AREA_IOVA);
}

/* Page index (area pages, then ring-area pages) of an IOVA in either range. */
static uint32_t page_index(uint64_t iova)
{
	if (iova >= RING_IOVA)
		return AREA_PAGES + (iova - RING_IOVA) / SZ_4K;
	return (iova - AREA_IOVA) / SZ_4K;
}

static uint64_t page_iova(uint32_t p)
{
	return p < AREA_PAGES ? AREA_IOVA + p * SZ_4K : RING_IOVA + (p - AREA_PAGES) * SZ_4K;
}

/* --- ground truth ---------------------------------------------------------------------------- */

/* A write seen (DD): page p was written after REPORT number `after` had returned. */
struct seen_write {
	uint32_t page;
	uint32_t after;
	uint32_t seq;		/* our frame in it, or UINT32_MAX */
	uint32_t round;
};

enum { SEQ_UNSENT, SEQ_SENT, SEQ_RECEIVED, SEQ_GIVEN_UP };

struct truth {
	/* per page: */
	uint32_t *last_reported;	/* the number of the last REPORT that set it (0: none) */
	uint8_t *written;		/* a write seen since the last REPORT */
	uint16_t *owned;		/* buffers there the device owns (posted, not done) */
	uint8_t *slot_busy;		/* per 2 KiB slot of the area: a buffer posted there */
	struct rng slots;		/* free-slot choice: drawn as often as slots are busy, so a
					 * stream apart from the rounds' (a seed repeats the rounds
					 * whatever arrived when) */
	uint32_t *send_epoch;		/* per seq: REPORTs returned when it was sent */
	uint8_t *seq_state;
	uint32_t nseq_max;
	struct seen_write *seen;	/* writes seen since the last REPORT */
	size_t nseen, seen_cap;
	uint64_t *bm_area, *bm_ring;
	uint32_t reports;		/* REPORTs issued (both ranges each) */
	uint32_t seq;			/* next frame to send */
	uint32_t in_flight;		/* frames sent, not yet seen nor given up */
	uint32_t round;
	/* counters */
	uint64_t posted, sent, received, others, lost, late, corrupt, writes;
	uint64_t reported, true_pos, fp_ring, fp_owned, fp_other, false_neg;
	/* the descriptor ring's pages (page indexes): the only ring-area pages it may write */
	uint32_t ring_first, ring_last;
};

static int truth_init(struct truth *t, uint32_t nseq, uint64_t desc_iova)
{
	memset(t, 0, sizeof(*t));
	t->ring_first = page_index(desc_iova);
	t->ring_last = page_index(desc_iova + RING_COUNT * sizeof(union vf_rx_desc) - 1);
	t->last_reported = calloc(NPAGES, sizeof(*t->last_reported));
	t->written = calloc(NPAGES, 1);
	t->owned = calloc(NPAGES, sizeof(*t->owned));
	t->slot_busy = calloc(NSLOTS, 1);
	t->send_epoch = calloc(nseq, sizeof(*t->send_epoch));
	t->seq_state = calloc(nseq, 1);
	t->nseq_max = nseq;
	t->seen_cap = 1024;
	t->seen = calloc(t->seen_cap, sizeof(*t->seen));
	t->bm_area = calloc(AREA_PAGES / 64, sizeof(uint64_t));
	t->bm_ring = calloc(RING_PAGES / 64, sizeof(uint64_t));
	if (!t->last_reported || !t->written || !t->owned || !t->slot_busy || !t->send_epoch ||
	    !t->seq_state || !t->seen || !t->bm_area || !t->bm_ring)
		return -ENOMEM;
	return 0;
}

static void truth_free(struct truth *t)
{
	free(t->last_reported);
	free(t->written);
	free(t->owned);
	free(t->slot_busy);
	free(t->send_epoch);
	free(t->seq_state);
	free(t->seen);
	free(t->bm_area);
	free(t->bm_ring);
}

static void note_write(struct truth *t, uint32_t page, uint32_t after, uint32_t seq)
{
	if (t->nseen == t->seen_cap) {
		struct seen_write *n = realloc(t->seen, 2 * t->seen_cap * sizeof(*n));

		if (!n)
			abort();
		t->seen = n;
		t->seen_cap *= 2;
	}
	t->seen[t->nseen++] = (struct seen_write){ page, after, seq, t->round };
	t->written[page] = 1;
	t->writes++;
}

/* Page p was set by REPORT k: which kind of page it is. */
static void account(struct __test_metadata *_metadata, struct truth *t, uint32_t p, uint32_t k)
{
	t->reported++;
	t->last_reported[p] = k;
	if (t->written[p]) {
		t->true_pos++;
	} else if (p >= t->ring_first && p <= t->ring_last) {
		t->fp_ring++;
	} else if (p < AREA_PAGES && t->owned[p]) {
		t->fp_owned++;
	} else {
		if (t->fp_other < 5)
			TH_LOG("REPORT %u (round %u): page 0x%llx set, unexplained: nothing written "
			       "or owned there, not the descriptor ring", k, t->round,
			       (unsigned long long)page_iova(p));
		t->fp_other++;
	}
}

/*
 * A number of the driver's debugfs `state` file of the VF (`key: N`), or -errno (-ENOENT: no
 * such line; the logging lines are only there while logging runs). Read from the module, but
 * only ever required to be 0 where nothing can overflow: the module cannot pass by printing
 * what the test wants to see unless it also reports no unexplained page.
 */
static long long debugfs_state_value(const char *bdf, const char *key)
{
	char path[256], line[256];
	size_t klen = strlen(key);
	long long v = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/vfio/%s/vfmig/state", bdf);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Logging is running and never fell back to "every logged page is dirty" (debugfs). */
static void expect_no_overflow(struct __test_metadata *_metadata, FIXTURE_DATA(dirty) *self,
			       const char *when)
{
	long long ovf = debugfs_state_value(self->vf.bdf, "dirty_overflows");
	long long now = debugfs_state_value(self->vf.bdf, "dirty_overflowed");

	ksft_print_msg("dirty: %s: debugfs dirty_overflows %lld, dirty_overflowed %lld\n", when,
		       ovf, now);
	EXPECT_LE(0, ovf) TH_LOG("%s: no dirty_overflows in /sys/kernel/debug/vfio/%s/vfmig/state: %s",
				 when, self->vf.bdf, strerror((int)-ovf));
	EXPECT_EQ(0, ovf) TH_LOG("%s: the tracker fell back to \"all dirty\" %lld time(s) where "
				 "nothing can overflow", when, ovf);
	EXPECT_EQ(0, now) TH_LOG("%s: the tracker is in its \"all dirty\" fallback", when);
}

/* One REPORT of both ranges (4 KiB pages); checks every write seen before it. */
static void report(struct __test_metadata *_metadata, FIXTURE_DATA(dirty) *self,
		   struct truth *t)
{
	uint32_t k;
	int ret;

	memset(t->bm_area, 0, AREA_PAGES / 8);
	memset(t->bm_ring, 0, RING_PAGES / 8);
	ret = log_report(self->vf.device_fd, AREA_IOVA, AREA_SIZE, SZ_4K, t->bm_area);
	ASSERT_EQ(0, ret) TH_LOG("REPORT of the area: %s", strerror(-ret));
	ret = log_report(self->vf.device_fd, RING_IOVA, RING_AREA_SIZE, SZ_4K, t->bm_ring);
	ASSERT_EQ(0, ret) TH_LOG("REPORT of the ring: %s", strerror(-ret));
	k = ++t->reports;

	for (uint32_t w = 0; w < NPAGES / 64; w++) {
		uint64_t bits = w < AREA_PAGES / 64 ? t->bm_area[w] :
						      t->bm_ring[w - AREA_PAGES / 64];

		for (; bits; bits &= bits - 1)
			account(_metadata, t, w * 64 + __builtin_ctzll(bits), k);
	}
	/* zero false negatives: each write seen must be set in a REPORT after it could have
	 * happened, up to this one */
	for (size_t i = 0; i < t->nseen; i++) {
		const struct seen_write *w = &t->seen[i];

		if (t->last_reported[w->page] > w->after)
			continue;
		if (t->false_neg < 10)
			TH_LOG("FALSE NEGATIVE: page 0x%llx written (round %u, seq %d) after "
			       "REPORT %u, not set by REPORTs %u..%u (last set by %u)",
			       (unsigned long long)page_iova(w->page), w->round,
			       w->seq == UINT32_MAX ? -1 : (int)w->seq, w->after, w->after + 1, k,
			       t->last_reported[w->page]);
		t->false_neg++;
	}
	for (size_t i = 0; i < t->nseen; i++)
		t->written[t->seen[i].page] = 0;
	t->nseen = 0;
}

/* Posts up to n buffers at random free slots of the area and writes RDT once. */
static uint32_t post_random(FIXTURE_DATA(dirty) *self, struct truth *t, uint32_t n)
{
	uint32_t done = 0;

	while (done < n && ring_space(self)) {
		uint32_t slot;
		uint64_t iova;

		do
			slot = rnd_below(&t->slots, NSLOTS);
		while (t->slot_busy[slot]);
		t->slot_busy[slot] = 1;
		iova = AREA_IOVA + (uint64_t)slot * BUF_SIZE;
		t->owned[page_index(iova)]++;
		post_one(self, iova, t->reports);
		done++;
	}
	if (done)
		post_commit(self);
	t->posted += done;
	return done;
}

/* Takes every completed entry: the buffer page and the descriptor page become written pages.
 * Returns how many entries completed. */
static uint32_t poll_ring(struct __test_metadata *_metadata, FIXTURE_DATA(dirty) *self,
			  struct truth *t)
{
	uint32_t n = 0, index, epoch, seq;
	uint64_t iova;
	uint16_t len;

	while (poll_one(self, &iova, &len, &epoch, &index)) {
		uint32_t after = epoch, fseq = UINT32_MAX;
		uint32_t page = page_index(iova);

		n++;
		t->slot_busy[(iova - AREA_IOVA) / BUF_SIZE] = 0;
		t->owned[page]--;
		if (len && vfmig_frame_ours(area_va(self, iova), len, self->nonce,
					    VFMIG_DIR_PF_TO_VF, &seq) && seq < t->seq) {
			const char *why;

			/* our frame: it cannot have been written before it was sent */
			if (t->send_epoch[seq] > after)
				after = t->send_epoch[seq];
			fseq = seq;
			if (t->seq_state[seq] == SEQ_SENT) {
				t->seq_state[seq] = SEQ_RECEIVED;
				t->received++;
				t->in_flight--;
			} else {
				t->late++;
			}
			why = vfmig_frame_mismatch(area_va(self, iova), len, self->vf.mac,
						   self->pf_mac, self->nonce, VFMIG_DIR_PF_TO_VF,
						   seq);
			if (why) {
				if (t->corrupt < 5)
					TH_LOG("buffer 0x%llx: %s", (unsigned long long)iova, why);
				t->corrupt++;
			}
		} else {
			t->others++;
		}
		if (len)
			note_write(t, page, after, fseq);
		/* the write-back of the descriptor, after the data */
		note_write(t, page_index(self->desc_iova + index * sizeof(union vf_rx_desc)),
			   after, fseq);
	}
	return n;
}

static int send_frame(struct __test_metadata *_metadata, FIXTURE_DATA(dirty) *self,
		      struct truth *t)
{
	uint32_t seq = t->seq;
	int ret;

	if (seq >= t->nseq_max)
		return -ENOSPC;
	/* every REPORT that returned before the sendto precedes the write */
	t->send_epoch[seq] = t->reports;
	ret = vfmig_pf_send(self->sock, self->ifindex, self->vf.mac, self->pf_mac, self->nonce,
			    VFMIG_DIR_PF_TO_VF, seq);
	if (ret) {
		TH_LOG("PF: sendto seq %u: %s", seq, strerror(-ret));
		return ret;
	}
	t->seq_state[seq] = SEQ_SENT;
	t->seq++;
	t->sent++;
	t->in_flight++;
	return 0;
}

static void print_stats(struct truth *t, uint64_t seed, unsigned long rounds, uint64_t ms)
{
	uint64_t raw = t->reported - t->true_pos;

	ksft_print_msg("dirty: seed 0x%016llx, %lu rounds in %llu ms, %u REPORTs\n",
		       (unsigned long long)seed, rounds, (unsigned long long)ms, t->reports);
	ksft_print_msg("dirty: buffers posted %llu; frames sent %llu, received %llu, lost %llu "
		       "(late %llu), corrupt %llu; unrelated frames %llu; writes seen %llu\n",
		       (unsigned long long)t->posted, (unsigned long long)t->sent,
		       (unsigned long long)t->received, (unsigned long long)t->lost,
		       (unsigned long long)t->late, (unsigned long long)t->corrupt,
		       (unsigned long long)t->others, (unsigned long long)t->writes);
	ksft_print_msg("dirty: pages reported %llu: written %llu, ring pages %llu, owned by the "
		       "device %llu, unexplained %llu\n",
		       (unsigned long long)t->reported, (unsigned long long)t->true_pos,
		       (unsigned long long)t->fp_ring, (unsigned long long)t->fp_owned,
		       (unsigned long long)t->fp_other);
	ksft_print_msg("dirty: false positives raw %llu/%llu = %.2f%%, adjusted (without ring and "
		       "owned pages) %llu/%llu = %.2f%%; false negatives %llu\n",
		       (unsigned long long)raw, (unsigned long long)t->reported,
		       t->reported ? 100.0 * raw / t->reported : 0.0,
		       (unsigned long long)t->fp_other, (unsigned long long)t->reported,
		       t->reported ? 100.0 * t->fp_other / t->reported : 0.0,
		       (unsigned long long)t->false_neg);
}

/*
 * The randomized rounds. Each round: maybe a REPORT; post 0..MAX_POST buffers at random pages
 * (up to a ring occupancy that changes every 100 rounds);
 * maybe a REPORT; send 0..MAX_FRAMES frames (at most one less than the buffers the device
 * owns and no frame is already using), polling and reporting at random moments; wait for all
 * of them, reporting at random moments; a final REPORT, after which every write seen so far
 * must have been reported.
 */
TEST_F_TIMEOUT(dirty, random_rounds, 600)
{
	const char *s = vfmig_env("VFMIG_SEED");
	uint64_t ps = SZ_4K, seed, t0;
	uint32_t fill = RING_COUNT - 1;
	struct truth t;
	struct rng r;
	int ret;

	seed = *s ? strtoull(s, NULL, 0) : ((uint64_t)time(NULL) << 20) ^ getpid();
	r.s = seed;
	ksft_print_msg("dirty: seed 0x%016llx (set VFMIG_SEED to repeat), %lu rounds\n",
		       (unsigned long long)seed, opt_rounds);
	ASSERT_EQ(0, truth_init(&t, opt_rounds * MAX_FRAMES + 1, self->desc_iova));
	t.slots.s = seed ^ 0x5eedda7a5eedda7aull;

	ret = log_start(self->vf.device_fd, &ps, both_ranges, 2);
	ASSERT_EQ(0, ret) TH_LOG("START: %s", strerror(-ret));
	self->logging = true;
	ASSERT_EQ(SZ_4K, ps);
	t0 = vf_now_ms();

	for (t.round = 0; t.round < opt_rounds; t.round++) {
		uint32_t avail, nframes, npost;
		uint64_t end;

		/* how full the ring is kept changes every 100 rounds: from a few buffers owned
		 * across REPORTs to all of them */
		if (t.round % 100 == 0)
			fill = 2 + rnd_below(&r, RING_COUNT - 2);
		if (one_in(&r, 6))
			report(_metadata, self, &t);
		npost = rnd_below(&r, MAX_POST + 1);
		if (ring_used(self) + npost > fill)
			npost = fill > ring_used(self) ? fill - ring_used(self) : 0;
		post_random(self, &t, npost);
		if (one_in(&r, 4))
			report(_metadata, self, &t);

		/* what the device still has, with one buffer to spare for an unrelated frame */
		poll_ring(_metadata, self, &t);
		avail = ring_used(self) > t.in_flight + 1 ? ring_used(self) - t.in_flight - 1 : 0;
		nframes = rnd_below(&r, MAX_FRAMES + 1);
		if (nframes > avail)
			nframes = avail;
		for (uint32_t i = 0; i < nframes; i++) {
			ASSERT_EQ(0, send_frame(_metadata, self, &t));
			if (one_in(&r, 3))
				poll_ring(_metadata, self, &t);
			if (one_in(&r, 6))
				report(_metadata, self, &t);
		}

		end = vf_now_ms() + RX_TIMEOUT_MS;
		while (t.in_flight) {
			if (poll_ring(_metadata, self, &t)) {
				if (one_in(&r, 4))
					report(_metadata, self, &t);
				continue;
			}
			if (vf_now_ms() > end) {
				TH_LOG("round %u: %u frames not received within %d ms (head %u "
				       "tail %u, RDH %u RDT %u)", t.round, t.in_flight,
				       RX_TIMEOUT_MS, self->head, self->tail,
				       vf_rd32(&self->vf, VF_RDH), vf_rd32(&self->vf, VF_RDT));
				for (uint32_t q = 0; q < t.seq; q++) {
					if (t.seq_state[q] == SEQ_SENT)
						t.seq_state[q] = SEQ_GIVEN_UP;
				}
				t.lost += t.in_flight;
				t.in_flight = 0;
				break;
			}
			usleep(50);
		}
		/* anything else that completed meanwhile, then the round's final REPORT */
		poll_ring(_metadata, self, &t);
		report(_metadata, self, &t);
		if (t.false_neg) {	/* the first failing round is logged; enough */
			t.round++;
			break;
		}
	}

	print_stats(&t, seed, t.round, vf_now_ms() - t0);
	EXPECT_EQ(0, t.false_neg) TH_LOG("seed 0x%016llx", (unsigned long long)seed);
	EXPECT_EQ(0, t.corrupt);
	/* a frame may only be missing when an unrelated one took its buffer */
	EXPECT_LE(t.lost, t.others) TH_LOG("%llu frames lost", (unsigned long long)t.lost);
	EXPECT_GT(t.received, 0);
	/* no false positive the oracle cannot explain, and no "all dirty" fallback */
	EXPECT_EQ(0, t.fp_other) TH_LOG("%llu of %llu pages reported are unexplained (seed "
					"0x%016llx)", (unsigned long long)t.fp_other,
					(unsigned long long)t.reported, (unsigned long long)seed);
	expect_no_overflow(_metadata, self, "after the rounds");
	EXPECT_EQ(0, log_stop(self->vf.device_fd));
	self->logging = false;
	truth_free(&t);
}

/* Waits until every frame sent by send_frame() was seen (or the timeout). */
static void wait_frames(struct __test_metadata *_metadata, FIXTURE_DATA(dirty) *self,
			struct truth *t)
{
	uint64_t end = vf_now_ms() + RX_TIMEOUT_MS;

	while (t->in_flight && vf_now_ms() <= end) {
		if (!poll_ring(_metadata, self, t))
			usleep(100);
	}
	poll_ring(_metadata, self, t);
	ASSERT_EQ(0, t->in_flight) TH_LOG("%u frames not received", t->in_flight);
}

/* page_size 2 MiB: START returns 2 MiB, and a 2 MiB REPORT sets every 2 MiB page that holds a
 * written buffer (and the ring's), and no other: a set 2 MiB page where no buffer was written or
 * owned is unexplained and fails, as does an "all dirty" fallback (debugfs dirty_overflows). */
TEST_F_TIMEOUT(dirty, page_size_2m, 120)
{
	uint64_t ps = SZ_2M, bm[1] = { 0 }, bm_ring[1] = { 0 };	/* 32 bits and 1 bit */
	bool want[AREA_SIZE / SZ_2M] = { false }, owned[AREA_SIZE / SZ_2M] = { false };
	uint32_t missing = 0, extra = 0, set = 0;
	struct truth t;
	struct rng r = { .s = 0x2b2b2b2bull ^ (uint64_t)time(NULL) };
	int ret;

	ASSERT_EQ(0, truth_init(&t, 64, self->desc_iova));
	ret = log_start(self->vf.device_fd, &ps, both_ranges, 2);
	ASSERT_EQ(0, ret) TH_LOG("START with 2 MiB pages: %s", strerror(-ret));
	self->logging = true;
	EXPECT_EQ(SZ_2M, ps) TH_LOG("START chose page size 0x%llx", (unsigned long long)ps);

	t.slots.s = r.s ^ 0x5eedda7a5eedda7aull;
	ASSERT_EQ(16, post_random(self, &t, 16));
	for (int i = 0; i < 8; i++)
		ASSERT_EQ(0, send_frame(_metadata, self, &t));
	wait_frames(_metadata, self, &t);
	for (size_t i = 0; i < t.nseen; i++) {
		if (t.seen[i].page < AREA_PAGES)
			want[t.seen[i].page * SZ_4K / SZ_2M] = true;
	}
	for (uint32_t p = 0; p < AREA_PAGES; p++) {
		if (t.owned[p])
			owned[p * SZ_4K / SZ_2M] = true;
	}

	ret = log_report(self->vf.device_fd, AREA_IOVA, AREA_SIZE, SZ_2M, bm);
	ASSERT_EQ(0, ret) TH_LOG("REPORT with 2 MiB pages: %s", strerror(-ret));
	ret = log_report(self->vf.device_fd, RING_IOVA, RING_AREA_SIZE, SZ_2M, bm_ring);
	ASSERT_EQ(0, ret) TH_LOG("REPORT of the ring with 2 MiB pages: %s", strerror(-ret));
	for (uint32_t g = 0; g < AREA_SIZE / SZ_2M; g++) {
		bool got = test_bit64(bm, g);

		set += got;
		if (want[g] && !got) {
			TH_LOG("2 MiB page 0x%llx holds a written buffer, not reported",
			       (unsigned long long)(AREA_IOVA + g * SZ_2M));
			missing++;
		}
		if (got && !want[g] && !owned[g]) {
			TH_LOG("2 MiB page 0x%llx set: nothing written or owned there",
			       (unsigned long long)(AREA_IOVA + g * SZ_2M));
			extra++;
		}
	}
	/* nothing beyond the range's 32 bits */
	EXPECT_EQ(0, bm[0] >> (AREA_SIZE / SZ_2M));
	EXPECT_EQ(0, bm_ring[0] >> 1);
	EXPECT_EQ(0, missing);
	EXPECT_TRUE(test_bit64(bm_ring, 0)) TH_LOG("the ring's 2 MiB page was written");
	ksft_print_msg("dirty: 2 MiB pages: %u of %u set, %u unexplained (%llu writes seen, "
		       "%llu unrelated frames)\n", set, (unsigned int)(AREA_SIZE / SZ_2M), extra,
		       (unsigned long long)t.writes, (unsigned long long)t.others);
	EXPECT_EQ(0, extra) TH_LOG("%u 2 MiB pages set with nothing written or owned there", extra);
	expect_no_overflow(_metadata, self, "2 MiB pages");
	EXPECT_EQ(0, log_stop(self->vf.device_fd));
	self->logging = false;
	truth_free(&t);
}

/* page_size 4 KiB is kept as 4 KiB. */
TEST_F(dirty, page_size_4k)
{
	uint64_t ps = SZ_4K;

	ASSERT_EQ(0, log_start(self->vf.device_fd, &ps, both_ranges, 2));
	self->logging = true;
	EXPECT_EQ(SZ_4K, ps);
	EXPECT_EQ(0, log_stop(self->vf.device_fd));
	self->logging = false;
}

/* More ranges than fit one kernel page: E2BIG from the core; exactly that many work. */
TEST_F(dirty, too_many_ranges)
{
	uint32_t max = sysconf(_SC_PAGESIZE) / sizeof(struct vfio_device_feature_dma_logging_range);
	struct vfio_device_feature_dma_logging_range *rg = calloc(max + 1, sizeof(*rg));
	uint64_t ps = SZ_4K;
	int ret;

	ASSERT_NE(NULL, rg);
	for (uint32_t i = 0; i <= max; i++) {
		rg[i].iova = AREA_IOVA + i * 2 * SZ_4K;
		rg[i].length = SZ_4K;
	}
	EXPECT_EQ(-E2BIG, log_start(self->vf.device_fd, &ps, rg, max + 1));
	/* the core guarantees at least a page's worth */
	ret = log_start(self->vf.device_fd, &ps, rg, max);
	EXPECT_EQ(0, ret) TH_LOG("%u ranges: %s", max, strerror(-ret));
	if (!ret)
		EXPECT_EQ(0, log_stop(self->vf.device_fd));
	free(rg);
}

/* Overlapping ranges: EINVAL from the core; logging is not left half-started. */
TEST_F(dirty, overlapping_ranges)
{
	const struct vfio_device_feature_dma_logging_range overlap[] = {
		{ .iova = AREA_IOVA, .length = 2 * SZ_4K },
		{ .iova = AREA_IOVA + SZ_4K, .length = 2 * SZ_4K },
	}, same[] = {
		{ .iova = AREA_IOVA, .length = SZ_4K },
		{ .iova = AREA_IOVA, .length = SZ_4K },
	};
	uint64_t ps = SZ_4K;

	EXPECT_EQ(-EINVAL, log_start(self->vf.device_fd, &ps, overlap, 2));
	EXPECT_EQ(-EINVAL, log_start(self->vf.device_fd, &ps, same, 2));
	ASSERT_EQ(0, log_start(self->vf.device_fd, &ps, both_ranges, 2));
	EXPECT_EQ(0, log_stop(self->vf.device_fd));
}

TEST_F(dirty, zero_ranges)
{
	uint64_t ps = SZ_4K;

	EXPECT_EQ(-EINVAL, log_start(self->vf.device_fd, &ps, both_ranges, 0));
}

/* A range whose start or length is not a multiple of the page size: EINVAL. */
TEST_F(dirty, unaligned_range)
{
	const struct vfio_device_feature_dma_logging_range start[] = {
		{ .iova = AREA_IOVA + 0x800, .length = SZ_4K },
	}, length[] = {
		{ .iova = AREA_IOVA, .length = SZ_4K + 0x800 },
	};
	uint64_t ps = SZ_4K;

	EXPECT_EQ(-EINVAL, log_start(self->vf.device_fd, &ps, start, 1));
	EXPECT_EQ(-EINVAL, log_start(self->vf.device_fd, &ps, length, 1));
	/* aligned to 4 KiB but not to the 2 MiB asked for */
	ps = SZ_2M;
	EXPECT_EQ(-EINVAL, log_start(self->vf.device_fd, &ps, length, 1));
}

/* One START at a time: the second gets EBUSY from the driver, the first keeps running. */
TEST_F(dirty, start_twice)
{
	uint64_t ps = SZ_4K, bm[AREA_PAGES / 64];

	ASSERT_EQ(0, log_start(self->vf.device_fd, &ps, both_ranges, 2));
	self->logging = true;
	EXPECT_EQ(-EBUSY, log_start(self->vf.device_fd, &ps, both_ranges, 2));
	EXPECT_EQ(0, log_report(self->vf.device_fd, AREA_IOVA, AREA_SIZE, SZ_4K, bm));
	EXPECT_EQ(0, log_stop(self->vf.device_fd));
	self->logging = false;
	/* after STOP, START works again */
	EXPECT_EQ(0, log_start(self->vf.device_fd, &ps, both_ranges, 2));
	EXPECT_EQ(0, log_stop(self->vf.device_fd));
}

TEST_F(dirty, report_without_start)
{
	uint64_t ps = SZ_4K, bm[AREA_PAGES / 64];

	EXPECT_EQ(-EINVAL, log_report(self->vf.device_fd, AREA_IOVA, AREA_SIZE, SZ_4K, bm));
	/* nor after a STOP */
	ASSERT_EQ(0, log_start(self->vf.device_fd, &ps, both_ranges, 2));
	ASSERT_EQ(0, log_stop(self->vf.device_fd));
	EXPECT_EQ(-EINVAL, log_report(self->vf.device_fd, AREA_IOVA, AREA_SIZE, SZ_4K, bm));
}

/* STOP without START: either answer is allowed by the uAPI; which one is printed. */
TEST_F(dirty, stop_without_start)
{
	int ret = log_stop(self->vf.device_fd);

	ksft_print_msg("dirty: STOP without START: %s\n", ret ? strerror(-ret) : "0 (success)");
	EXPECT_TRUE(ret == 0 || ret == -EINVAL) TH_LOG("STOP without START: %s", strerror(-ret));
}

/* REPORT windows outside what was started, and bad report page sizes: EINVAL. */
TEST_F(dirty, report_outside_ranges)
{
	uint64_t ps = SZ_4K, bm[AREA_PAGES / 64 + 1];

	ASSERT_EQ(0, log_start(self->vf.device_fd, &ps, both_ranges, 2));
	self->logging = true;
	/* in the gap between the two ranges, and far away */
	EXPECT_EQ(-EINVAL, log_report(self->vf.device_fd, AREA_IOVA + AREA_SIZE, SZ_4K, SZ_4K, bm));
	EXPECT_EQ(-EINVAL, log_report(self->vf.device_fd, 0x30000000, SZ_4K, SZ_4K, bm));
	/* straddling the end of a range */
	EXPECT_EQ(-EINVAL, log_report(self->vf.device_fd, AREA_IOVA + AREA_SIZE - SZ_4K,
				      2 * SZ_4K, SZ_4K, bm));
	/* page sizes below 4 KiB or not a power of two (core) */
	EXPECT_EQ(-EINVAL, log_report(self->vf.device_fd, AREA_IOVA, AREA_SIZE, 2048, bm));
	EXPECT_EQ(-EINVAL, log_report(self->vf.device_fd, AREA_IOVA, AREA_SIZE, 3 * SZ_4K, bm));
	/* inside still works */
	EXPECT_EQ(0, log_report(self->vf.device_fd, AREA_IOVA, AREA_SIZE, SZ_4K, bm));
	EXPECT_EQ(0, log_stop(self->vf.device_fd));
	self->logging = false;
}

/* PROBE: START and STOP are SET features, REPORT a GET feature. */
TEST_F(dirty, probe)
{
	int dev = self->vf.device_fd;

	EXPECT_EQ(0, feature_probe(dev, VFIO_DEVICE_FEATURE_DMA_LOGGING_START));
	EXPECT_EQ(0, feature_probe(dev, VFIO_DEVICE_FEATURE_SET |
					VFIO_DEVICE_FEATURE_DMA_LOGGING_START));
	EXPECT_EQ(-EINVAL, feature_probe(dev, VFIO_DEVICE_FEATURE_GET |
					      VFIO_DEVICE_FEATURE_DMA_LOGGING_START));
	EXPECT_EQ(0, feature_probe(dev, VFIO_DEVICE_FEATURE_SET |
					VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP));
	EXPECT_EQ(0, feature_probe(dev, VFIO_DEVICE_FEATURE_GET |
					VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT));
	EXPECT_EQ(-EINVAL, feature_probe(dev, VFIO_DEVICE_FEATURE_SET |
					      VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT));
}

/*
 * BAR0 fully trapped (VFMIG_EXPECT_TRAP=1): with migration on (the default) the driver keeps
 * shadows of registers all over the BAR (interrupt mask and vector mapping, statistics, the
 * mailbox status), so no page of BAR0 may be mapped: GET_REGION_INFO has no
 * VFIO_REGION_INFO_FLAG_MMAP and no sparse mmap capability, an mmap of the whole BAR or of any
 * of its pages fails with EINVAL, and every register is reached through pread/pwrite on the
 * device fd, as vf82576 does when there is nothing to map.
 */
TEST_F(dirty, bar0_trapped)
{
	int dev = self->vf.device_fd;
	struct vfio_region_info *ri;
	uint32_t status = 0;
	void *p;

	if (strcmp(vfmig_env("VFMIG_EXPECT_TRAP"), "1"))
		SKIP(return, "VFMIG_EXPECT_TRAP=1 not set");
	ri = vf_region_info(dev, VFIO_PCI_BAR0_REGION_INDEX);
	ASSERT_NE(NULL, ri) TH_LOG("GET_REGION_INFO: %s", strerror(errno));
	ksft_print_msg("dirty: BAR0 region flags 0x%x, size 0x%llx\n", ri->flags,
		       (unsigned long long)ri->size);
	EXPECT_EQ(0x4000, ri->size);
	EXPECT_TRUE(ri->flags & VFIO_REGION_INFO_FLAG_READ);
	EXPECT_TRUE(ri->flags & VFIO_REGION_INFO_FLAG_WRITE);
	EXPECT_FALSE(ri->flags & VFIO_REGION_INFO_FLAG_MMAP);
	EXPECT_EQ(NULL, vf_region_cap(ri, VFIO_REGION_INFO_CAP_SPARSE_MMAP))
		TH_LOG("BAR0 carries a sparse mmap capability");

	/* the whole BAR, and each 4 KiB page alone (the first one holds CTRL and STATUS): refused */
	errno = 0;
	p = mmap(NULL, ri->size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, ri->offset);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno) TH_LOG("mmap of BAR0: %s", strerror(errno));
	if (p != MAP_FAILED)
		munmap(p, ri->size);
	for (uint64_t off = 0; off < ri->size; off += 0x1000) {
		errno = 0;
		p = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, dev, ri->offset + off);
		EXPECT_EQ(MAP_FAILED, p) TH_LOG("BAR0 page 0x%llx mapped", (unsigned long long)off);
		EXPECT_EQ(EINVAL, errno) TH_LOG("mmap of BAR0 page 0x%llx: %s",
						(unsigned long long)off, strerror(errno));
		if (p != MAP_FAILED)
			munmap(p, 0x1000);
	}
	/* read-only too: nothing of the BAR maps */
	errno = 0;
	p = mmap(NULL, 0x1000, PROT_READ, MAP_SHARED, dev, ri->offset);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, 0x1000);

	/* the registers are there through pread: STATUS of a live function (not all-ones), the
	 * same value vf82576 reads */
	EXPECT_EQ(4, pread(dev, &status, 4, ri->offset + VF_STATUS));
	EXPECT_NE(0xffffffffu, status);
	EXPECT_EQ(status, vf_rd32(&self->vf, VF_STATUS));

	/* vf82576 mapped nothing and goes through pread/pwrite for every register */
	EXPECT_EQ(NULL, self->vf.bar0);
	EXPECT_FALSE(self->vf.bar0_full);
	EXPECT_EQ(0, self->vf.bar0_mapped);
	EXPECT_FALSE(vf_bar0_mmapped(&self->vf, VF_STATUS));
	EXPECT_FALSE(vf_bar0_mmapped(&self->vf, VF_V2PMAILBOX));
	EXPECT_FALSE(vf_bar0_mmapped(&self->vf, VF_RDT));
	EXPECT_FALSE(vf_bar0_mmapped(&self->vf, VF_TDT));
	/* a register through that path (Tx queue 0 is unused here) */
	vf_wr32(&self->vf, VF_TDBAL, 0x00abc000);
	EXPECT_EQ(0x00abc000, vf_rd32(&self->vf, VF_TDBAL));
	vf_wr32(&self->vf, VF_TDBAL, 0);
	/* and the ring programmed through it by the fixture */
	EXPECT_EQ((uint32_t)self->desc_iova, vf_rd32(&self->vf, VF_RDBAL));
	free(ri);
}

/* Nothing reaches the trapped registers around the driver, and odd accesses are split the way
 * vfio-pci splits them: ioeventfds and dma-bufs of the device are refused (EOPNOTSUPP), accesses
 * past the end of BAR0 fail (EINVAL), multi-register accesses are split into registers. */
TEST_F(dirty, trap_refuses_bypasses)
{
	int dev = self->vf.device_fd, efd;
	struct vfio_region_info *ri;
	struct vfio_device_ioeventfd ioe = { .argsz = sizeof(ioe) };
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_dma_buf buf;
		struct vfio_region_dma_range range;
	} db = { 0 };
	uint32_t v = 0, w[2] = { 0 };

	if (strcmp(vfmig_env("VFMIG_EXPECT_TRAP"), "1"))
		SKIP(return, "VFMIG_EXPECT_TRAP=1 not set");
	ri = vf_region_info(dev, VFIO_PCI_BAR0_REGION_INDEX);
	ASSERT_NE(NULL, ri);

	/* a kernel-side write of RDT on an eventfd would bypass the doorbell trap */
	efd = eventfd(0, EFD_CLOEXEC);
	ASSERT_GE(efd, 0);
	ioe.flags = VFIO_DEVICE_IOEVENTFD_32;
	ioe.offset = ri->offset + VF_RDT;
	ioe.data = 1;
	ioe.fd = efd;
	EXPECT_EQ(-1, ioctl(dev, VFIO_DEVICE_IOEVENTFD, &ioe));
	EXPECT_EQ(EOPNOTSUPP, errno) TH_LOG("IOEVENTFD: %s", strerror(errno));
	close(efd);

	/* a dma-buf of BAR0 would let another device write its registers by P2P DMA */
	db.hdr.argsz = sizeof(db);
	db.hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	db.buf.region_index = VFIO_PCI_BAR0_REGION_INDEX;
	db.buf.open_flags = O_RDWR;
	db.buf.nr_ranges = 1;
	db.range.offset = 0;
	db.range.length = 0x4000;
	EXPECT_EQ(-1, ioctl(dev, VFIO_DEVICE_FEATURE, &db));
	EXPECT_EQ(EOPNOTSUPP, errno) TH_LOG("DMA_BUF: %s", strerror(errno));

	/* past the end of the BAR: refused; across it: cut short at the end, as vfio-pci does */
	errno = 0;
	EXPECT_EQ(-1, pread(dev, &v, 4, ri->offset + ri->size));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(dev, &v, 4, ri->offset + ri->size));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(2, pread(dev, &v, 4, ri->offset + ri->size - 2));

	/* 8 bytes are two registers, each through the trap (QEMU's igb ignores sub-dword
	 * accesses, so only whole registers are checked) */
	vf_wr32(&self->vf, VF_TDBAL, 0x33221100);
	vf_wr32(&self->vf, VF_TDBAH, 0x5a);
	EXPECT_EQ(8, pread(dev, w, 8, ri->offset + VF_TDBAL));
	EXPECT_EQ(0x33221100u, w[0]);
	EXPECT_EQ(0x5au, w[1]);
	w[0] = 0x00abc000;
	w[1] = 0x7;
	EXPECT_EQ(8, pwrite(dev, w, 8, ri->offset + VF_TDBAL));
	EXPECT_EQ(0x00abc000u, vf_rd32(&self->vf, VF_TDBAL));
	EXPECT_EQ(0x7u, vf_rd32(&self->vf, VF_TDBAH));
	vf_wr32(&self->vf, VF_TDBAL, 0);
	vf_wr32(&self->vf, VF_TDBAH, 0);
	free(ri);
}

/* Opened through iommufd (cdev, IOAS) the driver cannot read descriptors (no type1 container
 * for vfio_dma_rw): DMA_LOGGING_START fails, and its PROBE says so (ENOTTY). */
TEST(iommufd_start_unsupported)
{
	char name[NAME_MAX + 1];
	const char *step;
	uint64_t ps = SZ_4K;
	int dev, iommufd, ret;

	if (!*vfmig_env("VFMIG_BDF"))
		SKIP(return, "VFMIG_BDF must be set");
	if (vfmig_cdev_name(vfmig_env("VFMIG_BDF"), name, sizeof(name)) ||
	    access("/dev/iommu", F_OK))
		SKIP(return, "no VFIO cdev or /dev/iommu");
	dev = vfmig_open_iommufd(vfmig_env("VFMIG_BDF"), &iommufd, &step);
	ASSERT_GE(dev, 0) TH_LOG("%s: %s", step, strerror(-dev));

	/* PROBE agrees with START (test audit item 7): through iommufd the feature is not
	 * offered, ENOTTY, as for a driver without DMA logging; through the type1 container
	 * PROBE succeeds (dirty.probe and the fixture's setup). */
	ret = feature_probe(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START);
	EXPECT_EQ(-ENOTTY, ret) TH_LOG("PROBE of DMA_LOGGING_START through iommufd: %s "
				       "(START cannot work there)", ret ? strerror(-ret) : "succeeded");
	ret = log_start(dev, &ps, both_ranges, 2);
	EXPECT_TRUE(ret == -EOPNOTSUPP || ret == -ENOTTY)
		TH_LOG("START through iommufd: %s (want EOPNOTSUPP or ENOTTY)",
		       ret ? strerror(-ret) : "succeeded");
	if (!ret)
		log_stop(dev);
	close(dev);
	close(iommufd);
}

/* The harness's own options, plus --rounds N (before them). */
int main(int argc, char **argv)
{
	const char *env_rounds = vfmig_env("VFMIG_DIRTY_ROUNDS");
	int i, j;

	if (*env_rounds)
		opt_rounds = strtoul(env_rounds, NULL, 0);
	for (i = 1, j = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			opt_rounds = strtoul(argv[++i], NULL, 0);
			continue;
		}
		argv[j++] = argv[i];
	}
	argv[j] = NULL;
	argc = j;
	/* ~10 ms a round under TCG; leave room for slower machines */
	if (opt_rounds > 1000)
		_dirty_random_rounds_object->timeout = 600 * (opt_rounds / 1000 + 1);
	return test_harness_run(argc, argv);
}
