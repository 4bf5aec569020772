// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_bench BDF: `make bench`, guest part. Measures, on a VF bound to vfmig in the test VM:
 *   - opening and closing the device through VFIO (type1), which includes the VF reset that
 *     vfio-pci-core performs on open and close;
 *   - a register snapshot of the open device, as the migration save path takes it (through
 *     /sys/kernel/debug/vfio/<BDF>/vfmig/regs: snapshot + formatting + one read);
 *   - a 32-bit BAR0 register read through the userspace mmap, for scale (through pread when
 *     the driver traps BAR0, as with migration on (the default));
 *   with BDF2 and PF_IF (vfmig loaded with migration on (the default), both VFs bound to it), the
 *   migration uAPI v2 over MIG_CYCLES cycles, VF0 -> VF1 in one type1 container as
 *   vfmig_migration_test does it (VF0's rings programmed, both VFs brought up by their
 *   mailbox reset handshake):
 *   - the P2P quiesce arc RUNNING -> RUNNING_P2P alone;
 *   - save: RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY and reading the whole stream;
 *   - restore: STOP -> RESUMING, writing the stream, RESUMING -> STOP -> RUNNING_P2P -> RUNNING;
 *   - the switchover after a pre-copy, as a VMM makes it: the source in PRE_COPY hands out its
 *     initial data, which the target (RESUMING) is written before the switchover, as in a
 *     live migration (this arms the target: "arm"); then the source's part of the switchover
 *     (PRE_COPY -> PRE_COPY_P2P -> STOP_COPY and reading the final stream) and the target's
 *     (writing the final stream, RESUMING -> STOP -> RUNNING_P2P -> RUNNING), which is guest
 *     downtime too.
 * Prints median and p99 in microseconds. Under TCG the absolute numbers are those of an
 * emulated machine; compare runs, not against hardware.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vf82576.h"
#include "vfmig_util.h"

#define MIG_CYCLES	200

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	printf("  %-44s %10.1f %10.1f %6d\n", name, v[(n - 1) / 2], v[(n - 1) * 99 / 100], n);
}

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "vfmig_bench: " __VA_ARGS__);	\
			fprintf(stderr, "\n");				\
			ret = 1;					\
			goto out;					\
		}							\
	} while (0)

/* Migration uAPI v2 timings, VF0 -> VF1 (see the top of the file). */
static int bench_migration(const char *bdf0, const char *bdf1, const char *pf_if)
{
	static double tp[MIG_CYCLES], ts[MIG_CYCLES], tr[MIG_CYCLES];
	static double ta[MIG_CYCLES], tss[MIG_CYCLES], tsr[MIG_CYCLES];
	struct vf_container c = { .fd = -1 };
	struct vf_dev vf0 = { .device_fd = -1 }, vf1 = { .device_fd = -1 };
	struct vf_dma dma = { 0 };
	struct vf_ring rx, tx;
	uint8_t *stream = malloc(VFMIG_STREAM_MAX), *pre = malloc(VFMIG_STREAM_MAX);
	ssize_t pre_len = 0, fin_len = 0;
	long armed0;
	uint64_t flags = 0;
	ssize_t len = 0, first_len = -1;
	int i, ret = 0, fd, fd1, d0, d1;
	char label[80];

	CHECK(stream && pre, "malloc");
	(void)pf_if;	/* the PF netdev must be up for the handshake; no frames are sent here */
	CHECK(!vf_container_open(&c), "container");
	CHECK(!vf_open(&c, bdf0, &vf0), "open %s", bdf0);
	CHECK(!vf_open(&c, bdf1, &vf1), "open %s", bdf1);
	CHECK(!vf_dma_map(&c, &dma, VFMIG_DMA_SIZE, VFMIG_DMA_IOVA), "dma map");
	d0 = vf0.device_fd;
	d1 = vf1.device_fd;
	CHECK(!mig_flags(d0, &flags),
	      "no MIGRATION feature: is vfmig loaded with migration on (the default)?");
	CHECK(!vfmig_bring_up(&vf0, 0x04, 0), "VF0 mailbox handshake");
	CHECK(!vfmig_bring_up(&vf1, 0x04, 1), "VF1 mailbox handshake");
	CHECK(!vf_ring_alloc(&dma, &rx, VFMIG_RING_COUNT, VFMIG_BUF_SIZE), "rx ring");
	CHECK(!vf_ring_alloc(&dma, &tx, VFMIG_RING_COUNT, VFMIG_BUF_SIZE), "tx ring");
	CHECK(!vf_rx_attach(&vf0, &rx) && !vf_tx_attach(&vf0, &tx), "attach rings to VF0");
	vf_rx_post(&vf0, &rx, -1);
	/* VF1 waits in STOP, as a migration target before RESUMING */
	CHECK(!mig_set(d1, VFIO_DEVICE_STATE_STOP, NULL), "VF1 -> STOP");

	armed0 = vfmig_state_num(bdf1, "restores_armed");
	for (i = 0; i < MIG_CYCLES; i++) {
		double t0;

		/* the P2P quiesce arc alone, then back */
		t0 = vfmig_now_us();
		CHECK(!mig_set(d0, VFIO_DEVICE_STATE_RUNNING_P2P, NULL), "RUNNING -> RUNNING_P2P");
		tp[i] = vfmig_now_us() - t0;
		CHECK(!mig_set(d0, VFIO_DEVICE_STATE_RUNNING, NULL), "RUNNING_P2P -> RUNNING");

		/* save: the arcs to STOP_COPY, one at a time, and the whole stream */
		t0 = vfmig_now_us();
		CHECK(!mig_set(d0, VFIO_DEVICE_STATE_RUNNING_P2P, NULL), "RUNNING -> RUNNING_P2P");
		CHECK(!mig_set(d0, VFIO_DEVICE_STATE_STOP, NULL), "RUNNING_P2P -> STOP");
		CHECK(!mig_set(d0, VFIO_DEVICE_STATE_STOP_COPY, &fd) && fd >= 0, "STOP -> STOP_COPY");
		len = mig_read_stream(fd, stream, VFMIG_STREAM_MAX, VFMIG_STREAM_MAX);
		ts[i] = vfmig_now_us() - t0;
		close(fd);
		CHECK(len > 40, "read stream: %zd", len);
		CHECK(first_len < 0 || len == first_len, "stream size changed: %zd", len);
		first_len = len;
		/* the source goes back to RUNNING for the next cycle (driver walks the arcs) */
		CHECK(!mig_set(d0, VFIO_DEVICE_STATE_RUNNING, NULL), "STOP_COPY -> RUNNING");

		/* restore into VF1 */
		t0 = vfmig_now_us();
		CHECK(!mig_set(d1, VFIO_DEVICE_STATE_RESUMING, &fd) && fd >= 0, "STOP -> RESUMING");
		CHECK(!mig_write_stream(fd, stream, len, NULL, 0), "write stream");
		CHECK(!mig_set(d1, VFIO_DEVICE_STATE_STOP, NULL), "RESUMING -> STOP");
		CHECK(!mig_set(d1, VFIO_DEVICE_STATE_RUNNING_P2P, NULL), "STOP -> RUNNING_P2P");
		CHECK(!mig_set(d1, VFIO_DEVICE_STATE_RUNNING, NULL), "RUNNING_P2P -> RUNNING");
		tr[i] = vfmig_now_us() - t0;
		close(fd);
		/* VF1 back to STOP: it and VF0 share the rings, only one may run them */
		CHECK(!mig_set(d1, VFIO_DEVICE_STATE_STOP, NULL), "VF1 RUNNING -> STOP");

		/* the switchover after a pre-copy: the initial data first, while the source runs */
		CHECK(!mig_set(d0, VFIO_DEVICE_STATE_PRE_COPY, &fd) && fd >= 0, "-> PRE_COPY");
		pre_len = read(fd, pre, VFMIG_STREAM_MAX);
		CHECK(pre_len > 40, "read initial data: %zd", pre_len);
		CHECK(read(fd, stream, VFMIG_STREAM_MAX) < 0 && errno == ENOMSG,
		      "initial data not all read at once");
		CHECK(!mig_set(d1, VFIO_DEVICE_STATE_RESUMING, &fd1) && fd1 >= 0, "STOP -> RESUMING");
		t0 = vfmig_now_us();
		CHECK(!mig_write_stream(fd1, pre, pre_len, NULL, 0), "write initial data");
		ta[i] = vfmig_now_us() - t0;
		/* the source's part of the switchover */
		t0 = vfmig_now_us();
		CHECK(!mig_set(d0, VFIO_DEVICE_STATE_PRE_COPY_P2P, NULL), "-> PRE_COPY_P2P");
		CHECK(!mig_set(d0, VFIO_DEVICE_STATE_STOP_COPY, NULL), "-> STOP_COPY");
		fin_len = mig_read_stream(fd, stream, VFMIG_STREAM_MAX, VFMIG_STREAM_MAX);
		tss[i] = vfmig_now_us() - t0;
		CHECK(fin_len > 40, "read final stream: %zd", fin_len);
		close(fd);
		/* the target's part */
		t0 = vfmig_now_us();
		CHECK(!mig_write_stream(fd1, stream, fin_len, NULL, 0), "write final stream");
		CHECK(!mig_set(d1, VFIO_DEVICE_STATE_STOP, NULL), "RESUMING -> STOP");
		CHECK(!mig_set(d1, VFIO_DEVICE_STATE_RUNNING_P2P, NULL), "STOP -> RUNNING_P2P");
		CHECK(!mig_set(d1, VFIO_DEVICE_STATE_RUNNING, NULL), "RUNNING_P2P -> RUNNING");
		tsr[i] = vfmig_now_us() - t0;
		close(fd1);
		CHECK(!mig_set(d1, VFIO_DEVICE_STATE_STOP, NULL), "VF1 RUNNING -> STOP");
		CHECK(!mig_set(d0, VFIO_DEVICE_STATE_RUNNING, NULL), "STOP_COPY -> RUNNING");
	}
	report("P2P quiesce: RUNNING -> RUNNING_P2P", tp, MIG_CYCLES);
	snprintf(label, sizeof(label), "save: -> STOP_COPY + read %zd B stream", len);
	report(label, ts, MIG_CYCLES);
	snprintf(label, sizeof(label), "restore: RESUMING, write %zd B, -> RUNNING", len);
	report(label, tr, MIG_CYCLES);
	printf("  %-44s %10zd bytes\n", "state size (VF0 save stream)", len);
	report("pre-copy: write initial data (arms VF1)", ta, MIG_CYCLES);
	snprintf(label, sizeof(label), "switchover, source: -> STOP_COPY + read %zd B", fin_len);
	report(label, tss, MIG_CYCLES);
	snprintf(label, sizeof(label), "switchover, target: write %zd B, -> RUNNING", fin_len);
	report(label, tsr, MIG_CYCLES);
	qsort(tss, MIG_CYCLES, sizeof(*tss), cmp);
	qsort(tsr, MIG_CYCLES, sizeof(*tsr), cmp);
	printf("  %-44s %10.2f\n", "switchover target/source (medians)",
	       tsr[(MIG_CYCLES - 1) / 2] / tss[(MIG_CYCLES - 1) / 2]);
	printf("  %-44s %10ld of %d\n", "switchovers with VF1 armed (debugfs)",
	       vfmig_state_num(bdf1, "restores_armed") - armed0, MIG_CYCLES);
out:
	if (vf0.device_fd >= 0) {
		mig_set(vf0.device_fd, VFIO_DEVICE_STATE_RUNNING, NULL);
		vf_rx_detach(&vf0);
		vf_tx_detach(&vf0);
	}
	if (vf1.device_fd >= 0)
		vf_close(&vf1);
	if (vf0.device_fd >= 0)
		vf_close(&vf0);
	if (dma.va)
		vf_dma_unmap(&dma);
	if (c.fd >= 0)
		vf_container_close(&c);
	free(stream);
	free(pre);
	return ret;
}

int main(int argc, char **argv)
{
	static double t[1000];
	char path[256], buf[8192];
	struct vf_container c;
	struct vf_dev vf;
	int i, n, fd;

	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: %s BDF [BDF2 PF_IF]\n", argv[0]);
		return 2;
	}
	printf("vfmig guest benchmark on %s\n", argv[1]);
	printf("  %-44s %10s %10s %6s\n", "operation", "median us", "p99 us", "runs");

	n = 20;
	for (i = 0; i < n; i++) {
		double t0 = vfmig_now_us();

		/* As a VMM starts: a container, the group, the device; closing the last group
		 * releases the container's IOMMU, so each round starts from scratch. */
		if (vf_container_open(&c) || vf_open(&c, argv[1], &vf)) {
			perror("vf_open");
			return 1;
		}
		vf_close(&vf);
		vf_container_close(&c);
		t[i] = vfmig_now_us() - t0;
	}
	report("VFIO container+group+device open, close", t, n);

	if (vf_container_open(&c) || vf_open(&c, argv[1], &vf)) {
		perror("vf_open");
		return 1;
	}
	snprintf(path, sizeof(path), "/sys/kernel/debug/vfio/%s/vfmig/regs", argv[1]);
	n = 200;
	for (i = 0; i < n; i++) {
		double t0 = vfmig_now_us();
		ssize_t got;

		fd = open(path, O_RDONLY);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		got = read(fd, buf, sizeof(buf));
		close(fd);
		if (got <= 0) {
			perror("read regs");
			return 1;
		}
		t[i] = vfmig_now_us() - t0;
	}
	report("register snapshot (debugfs regs)", t, n);

	n = 1000;
	for (i = 0; i < n; i++) {
		double t0 = vfmig_now_us();
		volatile uint32_t v = vf_rd32(&vf, 0x0008);

		(void)v;
		t[i] = vfmig_now_us() - t0;
	}
	report(vf_bar0_mmapped(&vf, 0x0008) ? "BAR0 STATUS read (userspace mmap)"
					    : "BAR0 STATUS read (pread: BAR0 trapped)", t, n);
	vf_close(&vf);
	vf_container_close(&c);
	if (argc == 4)
		return bench_migration(argv[1], argv[2], argv[3]);
	return 0;
}
