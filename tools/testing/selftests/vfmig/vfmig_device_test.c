// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_device_test: a VF bound to vfmig behaves as a VFIO PCI device, opened both ways a VMM
 * opens one (type1 container through its group, iommufd through its cdev).
 *
 * Device: VFMIG_BDF (segment:bus:device.function), bound to vfmig by the caller.
 * VFMIG_EXPECT_VENDOR / VFMIG_EXPECT_DEVICE (hex) override the expected IDs (8086:10ca).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfmig_util.h"

#define VF_STATUS 0x0008	/* 82576 VF STATUS register in BAR0 */

static const char *bdf(void)
{
	const char *b = getenv("VFMIG_BDF");

	return b ? b : "";
}

static unsigned long env_hex(const char *name, unsigned long dflt)
{
	const char *v = getenv(name);

	return v ? strtoul(v, NULL, 16) : dflt;
}

static int sysfs_link_base(const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf(), attr);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	snprintf(buf, len, "%s", basename(target));
	return 0;
}

static int region_info(int dev, uint32_t index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, ri);
}

/* Shared checks, run on a device fd from either path. */
static void check_device_info(struct __test_metadata *_metadata, int dev)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ASSERT_EQ(0, ioctl(dev, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_RESET);
	EXPECT_GE(info.num_regions, VFIO_PCI_NUM_REGIONS);
	EXPECT_GE(info.num_irqs, VFIO_PCI_MSIX_IRQ_INDEX + 1);
}

static void check_config_space(struct __test_metadata *_metadata, int dev)
{
	struct vfio_region_info ri;
	uint16_t vendor, device;

	ASSERT_EQ(0, region_info(dev, VFIO_PCI_CONFIG_REGION_INDEX, &ri));
	ASSERT_GE(ri.size, 256);
	ASSERT_EQ(2, pread(dev, &vendor, 2, ri.offset + PCI_VENDOR_ID));
	ASSERT_EQ(2, pread(dev, &device, 2, ri.offset + PCI_DEVICE_ID));
	EXPECT_EQ(env_hex("VFMIG_EXPECT_VENDOR", 0x8086), vendor);
	EXPECT_EQ(env_hex("VFMIG_EXPECT_DEVICE", 0x10ca), device);
}

/* Whether vfmig was loaded with migration on (the default; VFMIG_EXPECT_MIGRATION=0: off). */
static bool migration_expected(void)
{
	const char *v = getenv("VFMIG_EXPECT_MIGRATION");

	return !v || strcmp(v, "0");
}

/*
 * BAR0: with migration off, mapped whole as vfio-pci maps it, and mmap and pread see the same
 * register; with migration on, trapped whole (no mmap flag, an mmap fails with EINVAL) and
 * reached through pread.
 */
static void check_bar0(struct __test_metadata *_metadata, int dev)
{
	struct vfio_region_info ri;
	uint32_t by_read, by_mmap;
	volatile uint32_t *bar;

	ASSERT_EQ(0, region_info(dev, VFIO_PCI_BAR0_REGION_INDEX, &ri));
	EXPECT_EQ(16384, ri.size);
	ASSERT_EQ(4, pread(dev, &by_read, 4, ri.offset + VF_STATUS));
	/* A dead or absent function reads all-ones. */
	EXPECT_NE(0xffffffffu, by_read);
	if (migration_expected()) {
		EXPECT_FALSE(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
		bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, ri.offset);
		EXPECT_EQ(MAP_FAILED, bar);
		EXPECT_EQ(EINVAL, errno);
		if (bar != MAP_FAILED)
			munmap((void *)bar, ri.size);
		TH_LOG("%s BAR0 trapped, STATUS = 0x%08x", bdf(), by_read);
		return;
	}
	ASSERT_TRUE(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
	bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, ri.offset);
	ASSERT_NE(MAP_FAILED, bar);
	by_mmap = bar[VF_STATUS / 4];
	/* Both paths must see the same register. */
	EXPECT_EQ(by_read, by_mmap);
	TH_LOG("%s BAR0 STATUS = 0x%08x", bdf(), by_mmap);
	munmap((void *)bar, ri.size);
}

/*
 * What vfmig answers for the migration features. With migration on (the default) it offers
 * STOP_COPY, P2P and PRE_COPY and the device state reads RUNNING; loaded with migration=0 the
 * feature is absent (ENOTTY), as on vfio-pci.
 */
static void check_migration_feature(struct __test_metadata *_metadata, int dev)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_mig_state st;
	} f = {};
	uint64_t flags = 0;

	f.hdr.argsz = sizeof(f);
	f.hdr.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
		      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	if (migration_expected()) {
		EXPECT_EQ(0, mig_flags(dev, &flags));
		EXPECT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY,
			  flags);
		EXPECT_EQ(0, ioctl(dev, VFIO_DEVICE_FEATURE, &f));
		EXPECT_EQ(VFIO_DEVICE_STATE_RUNNING, mig_get(dev));
		return;
	}
	EXPECT_EQ(-ENOTTY, mig_flags(dev, &flags));
	EXPECT_EQ(-1, ioctl(dev, VFIO_DEVICE_FEATURE, &f));
	EXPECT_EQ(ENOTTY, errno);
}

TEST(bound_to_vfmig)
{
	char drv[64];

	ASSERT_EQ(0, sysfs_link_base("driver", drv, sizeof(drv))) TH_LOG("%s has no driver", bdf());
	EXPECT_STREQ("vfmig", drv);
}

FIXTURE(group) {
	int container;
	int group;
	int device;
};

FIXTURE_SETUP(group)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char grp[NAME_MAX + 1], path[PATH_MAX];

	self->container = self->group = self->device = -1;
	ASSERT_EQ(0, sysfs_link_base("iommu_group", grp, sizeof(grp)));
	snprintf(path, sizeof(path), "/dev/vfio/%s", grp);
	self->group = open(path, O_RDWR);
	ASSERT_GE(self->group, 0) TH_LOG("open %s: %s", path, strerror(errno));
	self->container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_GE(self->container, 0);
	ASSERT_EQ(VFIO_API_VERSION, ioctl(self->container, VFIO_GET_API_VERSION));
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_GET_STATUS, &st));
	ASSERT_TRUE(st.flags & VFIO_GROUP_FLAGS_VIABLE);
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	ASSERT_EQ(1, ioctl(self->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, ioctl(self->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	self->device = ioctl(self->group, VFIO_GROUP_GET_DEVICE_FD, bdf());
	ASSERT_GE(self->device, 0) TH_LOG("GET_DEVICE_FD %s: %s", bdf(), strerror(errno));
}

FIXTURE_TEARDOWN(group)
{
	if (self->device >= 0)
		close(self->device);
	if (self->group >= 0)
		close(self->group);
	if (self->container >= 0)
		close(self->container);
}

TEST_F(group, device_info) { check_device_info(_metadata, self->device); }
TEST_F(group, config_space) { check_config_space(_metadata, self->device); }
TEST_F(group, bar0_mmap_status) { check_bar0(_metadata, self->device); }
TEST_F(group, migration_feature) { check_migration_feature(_metadata, self->device); }

TEST_F(group, dma_map)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap) };
	void *buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, buf);
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = (uintptr_t)buf;
	map.iova = 1ull << 32;
	map.size = 1 << 20;
	ASSERT_EQ(0, ioctl(self->container, VFIO_IOMMU_MAP_DMA, &map));
	unmap.iova = map.iova;
	unmap.size = map.size;
	ASSERT_EQ(0, ioctl(self->container, VFIO_IOMMU_UNMAP_DMA, &unmap));
	EXPECT_EQ(map.size, unmap.size);
	munmap(buf, 1 << 20);
}

TEST_F(group, reset)
{
	ASSERT_EQ(0, ioctl(self->device, VFIO_DEVICE_RESET));
	check_config_space(_metadata, self->device);
}

/* An open device pins the module: rmmod is refused because the module is in use (the kernel's
 * delete_module answers EWOULDBLOCK, "in use", for a held reference; not any other failure)
 * and nothing is torn down under the fd. */
TEST_F(group, rmmod_refused_while_open)
{
	struct stat st;
	char buf[32] = "";
	FILE *f;
	long rc;

	f = fopen("/sys/module/vfmig/refcnt", "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(buf, sizeof(buf), f));
	fclose(f);
	EXPECT_GE(atoi(buf), 1) TH_LOG("vfmig refcnt %s with the device open", buf);
	errno = 0;
	rc = syscall(SYS_delete_module, "vfmig", O_NONBLOCK);
	EXPECT_EQ(-1, rc);
	EXPECT_EQ(EWOULDBLOCK, errno) TH_LOG("delete_module(vfmig): %s, want EWOULDBLOCK (in use)",
					     rc ? strerror(errno) : "unloaded");
	EXPECT_EQ(0, stat("/sys/module/vfmig", &st));
	check_config_space(_metadata, self->device);
}

FIXTURE(cdev) {
	int iommufd;
	int device;
};

FIXTURE_SETUP(cdev)
{
	const char *step;
	int ret;

	self->iommufd = self->device = -1;
	ret = vfmig_open_iommufd(bdf(), &self->iommufd, &step);
	ASSERT_GE(ret, 0) TH_LOG("%s: %s", step, strerror(-ret));
	self->device = ret;
}

FIXTURE_TEARDOWN(cdev)
{
	if (self->device >= 0)
		close(self->device);
	if (self->iommufd >= 0)
		close(self->iommufd);
}

TEST_F(cdev, device_info) { check_device_info(_metadata, self->device); }
TEST_F(cdev, config_space) { check_config_space(_metadata, self->device); }
TEST_F(cdev, bar0_mmap_status) { check_bar0(_metadata, self->device); }
TEST_F(cdev, migration_feature) { check_migration_feature(_metadata, self->device); }

TEST_HARNESS_MAIN
