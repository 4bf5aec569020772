// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_dirty_bench BDF PF_IF: `make bench`, guest part for DMA dirty logging. On a VF bound to
 * vfmig, driven by the userspace VF driver (vf82576.c) as a VMM's guest driver would be:
 *
 *   - Rx frame rate: the PF sends FRAMES frames to the VF's MAC through AF_PACKET (igb's VMDq
 *     switch loops them to the VF) in bursts of BURST; the VF driver takes them off its ring and
 *     hands buffers back 16 at a time (as igbvf does), one RDT write per batch. Measured with
 *     logging off and on (START over [0, 1 GiB), a REPORT of the whole GiB every REPORT_SYNC
 *     frames, and every REPORT_STRESS frames)
 *     frames), alternating, ROUNDS times each; the median rate of each is printed. Whether
 *     BAR0 is trapped depends on how vfmig was loaded (migration=1: all of it,
 *     every register access a pread/pwrite; without it, BAR0 is mapped, logging is not offered
 *     and only the "off" rate is measured);
 *   - REPORT latency over a 1 GiB range at 4 KiB pages (a 32 KiB bitmap), with the Rx ring
 *     full of device-owned buffers, LAT_REPORTS times: median and p99;
 *   - the tracker's memory, from debugfs (dirty_memory_bytes).
 *
 * Under TCG absolute numbers are those of an emulated machine: compare the columns.
 */
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vf82576.h"
#include "vfmig_util.h"

#define FRAMES		2048
#define BURST		32
#define RING		128
#define REPOST_BATCH	16
#define REPORT_STRESS	64	/* frames between REPORTs: far more often than a VMM asks */
#define REPORT_SYNC	1024	/* about a dirty-sync iteration's worth under TCG (~50 ms) */
#define ROUNDS		5
#define LAT_REPORTS	200
#define GIB		(1ull << 30)
#define PAGE		4096ull

static uint64_t bitmap[GIB / PAGE / 64];

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[(n - 1) / 2];
}

static int log_start(int dev)
{
	struct vfio_device_feature_dma_logging_range r = { .iova = 0, .length = GIB };
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = PAGE, .num_ranges = 1, .ranges = (uintptr_t)&r,
	};

	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
			     &ctl, sizeof(ctl));
}

static int log_stop(int dev)
{
	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
			     NULL, 0);
}

static int log_report(int dev)
{
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = 0, .length = GIB, .page_size = PAGE, .bitmap = (uintptr_t)bitmap,
	};

	return vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
			     &rep, sizeof(rep));
}

/* FRAMES frames PF -> VF; frames per second, or < 0. Reports every `every` frames if
 * logging. */
static double rx_rate(struct vf_dev *vf, struct vf_ring *rx, int sock, int ifindex,
		      const uint8_t *pf_mac, int every, uint32_t *seq)
{
	int received = 0, consumed = 0;
	double t0 = vfmig_now_us();

	while (received < FRAMES) {
		int want = BURST, got = 0;

		for (int i = 0; i < want; i++)
			if (vfmig_pf_send(sock, ifindex, vf->mac, pf_mac, 0x6d697274, 0, (*seq)++) < 0)
				return -1;
		while (got < want) {
			struct vf_rx_frame f;

			if (vf_rx_wait(rx, &f, VFMIG_RX_TIMEOUT_MS) != 1) {
				fprintf(stderr, "vfmig_dirty_bench: frame %d not received\n",
					received + got);
				return -1;
			}
			got++;
			if (++consumed == REPOST_BATCH) {
				vf_rx_post(vf, rx, consumed);
				consumed = 0;
			}
			if (every && (received + got) % every == 0 && log_report(vf->device_fd))
				return -1;
		}
		received += got;
	}
	return FRAMES / ((vfmig_now_us() - t0) / 1e6);
}

int main(int argc, char **argv)
{
	struct vf_container c = { .fd = -1 };
	struct vf_dev vf = { .device_fd = -1 };
	struct vf_dma dma = { 0 };
	double off[ROUNDS], on[ROUNDS], stress[ROUNDS], lat[LAT_REPORTS];
	uint8_t pf_mac[6];
	struct vf_ring rx;
	bool logging;
	uint32_t seq = 0;
	int ifindex, sock, ret = 1;
	long mem = -1;

	if (argc != 3) {
		fprintf(stderr, "usage: %s BDF PF_IF\n", argv[0]);
		return 2;
	}
	ifindex = if_nametoindex(argv[2]);
	if (!ifindex || vfmig_netdev_mac(argv[2], pf_mac)) {
		fprintf(stderr, "vfmig_dirty_bench: no netdev %s\n", argv[2]);
		return 1;
	}
	sock = vfmig_pkt_open(ifindex, 1 << 20);
	if (sock < 0 || vf_container_open(&c) || vf_open(&c, argv[1], &vf) ||
	    vf_dma_map(&c, &dma, VFMIG_DMA_SIZE, VFMIG_DMA_IOVA) ||
	    vfmig_bring_up(&vf, 0x07, 0x01) || vf_ring_alloc(&dma, &rx, RING, VFMIG_BUF_SIZE) ||
	    vf_rx_attach(&vf, &rx) || vf_rx_post(&vf, &rx, -1) <= 0) {
		fprintf(stderr, "vfmig_dirty_bench: setting up %s failed\n", argv[1]);
		goto out;
	}
	logging = vfmig_feature(vf.device_fd, VFIO_DEVICE_FEATURE_PROBE |
				VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				NULL, 0) == 0;
	printf("  BAR0 of %s: %s\n", argv[1],
	       vf.bar0_full ? "mapped whole (no trap)" :
	       vf.bar0 ? "sparse: partly trapped" : "not mapped: all of it trapped (pread/pwrite)");

	for (int r = 0; r < ROUNDS; r++) {
		off[r] = rx_rate(&vf, &rx, sock, ifindex, pf_mac, 0, &seq);
		if (off[r] < 0)
			goto out;
		if (!logging)
			continue;
		if (log_start(vf.device_fd)) {
			fprintf(stderr, "vfmig_dirty_bench: START: %s\n", strerror(errno));
			goto out;
		}
		on[r] = rx_rate(&vf, &rx, sock, ifindex, pf_mac, REPORT_SYNC, &seq);
		stress[r] = rx_rate(&vf, &rx, sock, ifindex, pf_mac, REPORT_STRESS, &seq);
		if (r == ROUNDS - 1)
			mem = vfmig_state_num(argv[1], "dirty_memory_bytes");
		if (log_stop(vf.device_fd) || on[r] < 0 || stress[r] < 0)
			goto out;
	}
	printf("  %-52s %12s\n", "Rx frame rate (frames/s, median of 5 x 2048)", "");
	printf("  %-52s %12.0f\n", logging ? "  trapped, logging off" : "  mapped, no logging",
	       median(off, ROUNDS));
	if (logging) {
		double m_off = median(off, ROUNDS), m_on = median(on, ROUNDS);
		double m_st = median(stress, ROUNDS);

		printf("  %-52s %12.0f  (%+.1f %%)\n", "  trapped, logging on (REPORT 1 GiB / 1024 frames)",
		       m_on, (m_on - m_off) / m_off * 100);
		printf("  %-52s %12.0f  (%+.1f %%)\n", "  trapped, logging on (REPORT 1 GiB / 64 frames)",
		       m_st, (m_st - m_off) / m_off * 100);

		/* REPORT latency: the ring is full of device-owned buffers. */
		if (log_start(vf.device_fd))
			goto out;
		for (int i = 0; i < LAT_REPORTS; i++) {
			double t0 = vfmig_now_us();

			if (log_report(vf.device_fd)) {
				fprintf(stderr, "vfmig_dirty_bench: REPORT: %s\n", strerror(errno));
				goto out;
			}
			lat[i] = vfmig_now_us() - t0;
		}
		qsort(lat, LAT_REPORTS, sizeof(*lat), cmp);
		printf("  %-52s %9.1f us  (p99 %.1f us, %d reports, %u buffers owned)\n",
		       "REPORT over 1 GiB, 4 KiB pages, median", lat[(LAT_REPORTS - 1) / 2],
		       lat[(LAT_REPORTS - 1) * 99 / 100], LAT_REPORTS, vf_ring_used(&rx));
		log_stop(vf.device_fd);
		printf("  %-52s %9ld bytes\n", "tracker memory (debugfs dirty_memory_bytes)", mem);
	}
	ret = 0;
out:
	vf_rx_detach(&vf);
	vf_close(&vf);
	vf_dma_unmap(&dma);
	vf_container_close(&c);
	if (sock >= 0)
		close(sock);
	return ret;
}
