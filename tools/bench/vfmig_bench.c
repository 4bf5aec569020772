// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_bench BDF: `make bench`, guest part. Measures, on a VF bound to vfmig in the test VM:
 *   - opening and closing the device through VFIO (type1), which includes the VF reset that
 *     vfio-pci-core performs on open and close;
 *   - a register snapshot of the open device, as the migration save path takes it (through
 *     /sys/kernel/debug/vfmig/<BDF>/regs: snapshot + formatting + one read);
 *   - a 32-bit BAR0 register read through the userspace mmap, for scale.
 * Prints median and p99 in microseconds. Under TCG the absolute numbers are those of an
 * emulated machine; compare runs, not against hardware.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "vf82576.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

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

int main(int argc, char **argv)
{
	static double t[1000];
	char path[256], buf[8192];
	struct vf_container c;
	struct vf_dev vf;
	int i, n, fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s BDF\n", argv[0]);
		return 2;
	}
	printf("vfmig guest benchmark on %s\n", argv[1]);
	printf("  %-44s %10s %10s %6s\n", "operation", "median us", "p99 us", "runs");

	n = 20;
	for (i = 0; i < n; i++) {
		double t0 = now_us();

		/* As a VMM starts: a container, the group, the device; closing the last group
		 * releases the container's IOMMU, so each round starts from scratch. */
		if (vf_container_open(&c) || vf_open(&c, argv[1], &vf)) {
			perror("vf_open");
			return 1;
		}
		vf_close(&vf);
		vf_container_close(&c);
		t[i] = now_us() - t0;
	}
	report("VFIO container+group+device open, close", t, n);

	if (vf_container_open(&c) || vf_open(&c, argv[1], &vf)) {
		perror("vf_open");
		return 1;
	}
	snprintf(path, sizeof(path), "/sys/kernel/debug/vfmig/%s/regs", argv[1]);
	n = 200;
	for (i = 0; i < n; i++) {
		double t0 = now_us();
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
		t[i] = now_us() - t0;
	}
	report("register snapshot (debugfs regs)", t, n);

	n = 1000;
	for (i = 0; i < n; i++) {
		double t0 = now_us();
		volatile uint32_t v = vf_rd32(&vf, 0x0008);

		(void)v;
		t[i] = now_us() - t0;
	}
	report("BAR0 STATUS read (userspace mmap)", t, n);
	vf_close(&vf);
	vf_container_close(&c);
	return 0;
}
