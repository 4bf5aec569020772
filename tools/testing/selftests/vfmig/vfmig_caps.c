// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_caps BDF: open a VF through its VFIO cdev (iommufd) as a VMM does and print what the
 * bound driver offers for migration: the MIGRATION feature flags, MIG_DATA_SIZE and whether
 * DMA logging can be started. Used by `make demo`.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vfmig_util.h"

int main(int argc, char **argv)
{
	struct vfio_device_feature_migration mig = {};
	struct vfio_device_feature_mig_data_size sz = {};
	int dev, iommufd, ret;
	const char *step;

	if (argc != 2) {
		fprintf(stderr, "usage: %s BDF\n", argv[0]);
		return 2;
	}
	dev = vfmig_open_iommufd(argv[1], &iommufd, &step);
	if (dev < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[1], step, strerror(-dev));
		return 1;
	}

	printf("%s:\n", argv[1]);
	ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &mig,
			    sizeof(mig));
	if (ret)
		printf("  migration:      not offered (%s)\n", strerror(-ret));
	else
		printf("  migration:      flags 0x%llx%s%s%s\n", (unsigned long long)mig.flags,
		       mig.flags & VFIO_MIGRATION_STOP_COPY ? " STOP_COPY" : "",
		       mig.flags & VFIO_MIGRATION_P2P ? " P2P" : "",
		       mig.flags & VFIO_MIGRATION_PRE_COPY ? " PRE_COPY" : "");
	ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &sz,
			    sizeof(sz));
	if (ret)
		printf("  stop-copy size: n/a (%s)\n", strerror(-ret));
	else
		printf("  stop-copy size: %llu bytes\n", (unsigned long long)sz.stop_copy_length);
	ret = vfmig_feature(dev, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0);
	printf("  dirty logging:  %s\n", ret ? strerror(-ret) : "supported");
	close(dev);
	close(iommufd);
	return 0;
}
