// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_caps BDF: open a VF through its VFIO cdev (iommufd) as a VMM does and print what the
 * bound driver offers for migration: the MIGRATION feature flags, MIG_DATA_SIZE and whether
 * DMA logging can be started. Used by `make demo`.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

static int open_cdev(const char *bdf)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, "vfio", 4)) {
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s", de->d_name);
			closedir(d);
			return open(path, O_RDWR);
		}
	}
	closedir(d);
	errno = ENOENT;
	return -1;
}

static int feature(int dev, uint32_t flags, void *data, size_t len)
{
	char buf[sizeof(struct vfio_device_feature) + 64] = {};
	struct vfio_device_feature *f = (void *)buf;
	int ret;

	f->argsz = sizeof(*f) + len;
	f->flags = flags;
	ret = ioctl(dev, VFIO_DEVICE_FEATURE, f);
	if (!ret && data)
		memcpy(data, f->data, len);
	return ret ? -errno : 0;
}

int main(int argc, char **argv)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct vfio_device_feature_migration mig;
	struct vfio_device_feature_mig_data_size sz;
	int dev, iommufd, ret;

	if (argc != 2) {
		fprintf(stderr, "usage: %s BDF\n", argv[0]);
		return 2;
	}
	dev = open_cdev(argv[1]);
	iommufd = open("/dev/iommu", O_RDWR);
	if (dev < 0 || iommufd < 0) {
		perror("open");
		return 1;
	}
	bind.iommufd = iommufd;
	if (ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind) || ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc)) {
		perror("bind");
		return 1;
	}
	attach.pt_id = alloc.out_ioas_id;
	if (ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach)) {
		perror("attach");
		return 1;
	}

	printf("%s:\n", argv[1]);
	ret = feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof(mig));
	if (ret)
		printf("  migration:      not offered (%s)\n", strerror(-ret));
	else
		printf("  migration:      flags 0x%llx%s%s%s\n", (unsigned long long)mig.flags,
		       mig.flags & VFIO_MIGRATION_STOP_COPY ? " STOP_COPY" : "",
		       mig.flags & VFIO_MIGRATION_P2P ? " P2P" : "",
		       mig.flags & VFIO_MIGRATION_PRE_COPY ? " PRE_COPY" : "");
	ret = feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &sz, sizeof(sz));
	if (ret)
		printf("  stop-copy size: n/a (%s)\n", strerror(-ret));
	else
		printf("  stop-copy size: %llu bytes\n", (unsigned long long)sz.stop_copy_length);
	ret = feature(dev, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0);
	printf("  dirty logging:  %s\n", ret ? strerror(-ret) : "supported");
	close(dev);
	close(iommufd);
	return 0;
}
