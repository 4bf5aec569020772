// SPDX-License-Identifier: GPL-2.0
/*
 * vf82576: userspace driver for an 82576 VF through VFIO (see vf82576.h).
 *
 * What QEMU's igb model (QEMU 10.0, hw/net/igb_core.c + igbvf.c) requires, and what the PF
 * driver (Linux igb) requires, learnt while writing this:
 *
 * - Rx must use advanced descriptors: SRRCTL.DESCTYPE = advanced one buffer (legacy Rx is not
 *   emulated), BSIZEPKT in 1 KiB units. On write-back QEMU zeroes the 16-byte descriptor and
 *   writes length/status with DD last, so the buffer address is gone: the driver keeps its own
 *   per-entry buffer table (struct vf_ring) and rewrites pkt_addr when it re-posts an entry.
 *   A descriptor with pkt_addr 0 is "completed" with nothing written (length 0).
 * - A frame is dropped (not queued) when the pool's ring has too few free descriptors
 *   (tail - head, one per buffer), or when RXDCTL.ENABLE or the PF's VFRE bit is clear. So Rx
 *   buffers must be posted before the peer sends.
 * - RDT writes only store the tail and flush QEMU's queued packets; enabling RXDCTL has no side
 *   effect, so RDT is written last. A tail >= ring size makes the ring look empty.
 * - Tx is synchronous: the TDT write sends everything between TDH and TDT before the MMIO write
 *   returns (looped back into the PF's/other VF's Rx ring at the same time), and writes DD back
 *   only for descriptors with RS. Tx needs TXDCTL.ENABLE and the PF's VFTE bit at the time of
 *   the TDT write; descriptors queued while disabled wait for the next TDT write.
 * - VF<->PF traffic never touches the wire: with VMDq (MRQC bit 0) and DTXSWC loopback, which
 *   igb sets when VFs exist, a unicast frame whose destination is in an RAR entry goes only to
 *   that entry's pool. Broadcast goes to every pool with VMOLR.BAM and also out of the wire
 *   (and back into the sender's own Rx ring). Frames larger than 1514 need VMOLR.LPE (the
 *   E1000_VF_SET_LPE message); this driver never sends those.
 * - CTRL.RST through the VF BAR only clears the VF's queue enables and VFRE/VFTE and sets VFLRE
 *   for the PF (ring registers, SRRCTL, mailbox, counters are kept). CTRL reads back 0.
 * - The PF only re-enables the VF (VFRE/VFTE, MAC filter in its RAR, CTS) when it receives
 *   E1000_VF_RESET through the mailbox; on VFLRE it forgets a MAC the VF set itself and keeps
 *   only one set by the administrator (ip link set PF vf N mac M). Without an administrative
 *   MAC the reset reply is NACK and the VF must send E1000_VF_SET_MAC_ADDR.
 * - V2PMAILBOX is read-to-clear for PFSTS, PFACK and RSTD, and the PF acks our message and
 *   writes its reply before we look, so every read must accumulate those bits in software
 *   (vf->mbx_r2c) as igbvf does; otherwise the reply's PFSTS is lost while polling for PFACK.
 *   RSTI stays set until the PF driver has come up (PF netdev up): "PF still in reset".
 * - vfio-pci (and vfmig) reset the VF (FLR) when the device is opened and closed: the PF sees
 *   VFLRE each time, so every open must be followed by the reset handshake before traffic.
 * - All BAR0 accesses must be 32-bit; unknown offsets read 0 and writes are dropped.
 * - vfmig loaded with migration on (the default) traps all of BAR0 (it keeps shadows of EIMS, IVAR,
 *   the statistics and the mailbox status, and logs the buffers the doorbells hand over): the
 *   region has no VFIO_REGION_INFO_FLAG_MMAP and no sparse mmap capability, every mmap of it
 *   fails with EINVAL, and vf_open maps nothing: every register goes through pread/pwrite on the
 *   region. A variant driver that traps only part of the BAR reports a sparse mmap capability;
 *   vf_open then maps what the capability allows and vf_rd32/vf_wr32 pick the path per 4 KiB
 *   page.
 * - Per-VF counters (0xF10..) are read-only and count only in VMDq mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vf82576.h"

#define pr_err(fmt, ...) fprintf(stderr, "vf82576: " fmt "\n", ##__VA_ARGS__)

uint64_t vf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_us(unsigned int us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000L };

	nanosleep(&ts, NULL);
}

/* --- VFIO ------------------------------------------------------------------------------- */

int vf_container_open(struct vf_container *c)
{
	int api;

	memset(c, 0, sizeof(*c));
	c->fd = open("/dev/vfio/vfio", O_RDWR);
	if (c->fd < 0) {
		pr_err("open /dev/vfio/vfio: %s", strerror(errno));
		return -errno;
	}
	api = ioctl(c->fd, VFIO_GET_API_VERSION);
	if (api != VFIO_API_VERSION) {
		pr_err("VFIO API version %d", api);
		close(c->fd);
		c->fd = -1;
		return -EINVAL;
	}
	if (ioctl(c->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		pr_err("no type1v2 IOMMU");
		close(c->fd);
		c->fd = -1;
		return -ENODEV;
	}
	return 0;
}

void vf_container_close(struct vf_container *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->iommu_set = false;
}

static int iommu_group_of(const char *bdf)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	return atoi(basename(target));
}

struct vfio_region_info *vf_region_info(int device_fd, uint32_t index)
{
	uint32_t size = sizeof(struct vfio_region_info) + 256;
	struct vfio_region_info *ri = NULL;

	/* The kernel reports the argsz the capabilities need; grow and ask again until they fit
	 * (a capability chain may in principle change between calls, hence the loop). */
	for (int tries = 0; tries < 8; tries++) {
		struct vfio_region_info *n = realloc(ri, size);

		if (!n) {
			free(ri);
			errno = ENOMEM;
			return NULL;
		}
		ri = n;
		memset(ri, 0, size);
		ri->argsz = size;
		ri->index = index;
		if (ioctl(device_fd, VFIO_DEVICE_GET_REGION_INFO, ri)) {
			int err = errno;

			free(ri);
			errno = err;
			return NULL;
		}
		if (ri->argsz <= size)
			return ri;
		size = ri->argsz;
	}
	free(ri);
	errno = EOVERFLOW;
	return NULL;
}

const struct vfio_info_cap_header *vf_region_cap(const struct vfio_region_info *ri, uint16_t id)
{
	uint32_t off;

	if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS))
		return NULL;
	off = ri->cap_offset;
	/* offsets are from the start of the info; a chain ends with next == 0 */
	for (int n = 0; off && n < 64; n++) {
		const struct vfio_info_cap_header *h;

		if (off < sizeof(*ri) || off > ri->argsz || ri->argsz - off < sizeof(*h) || off % 4)
			return NULL;
		h = (const void *)((const uint8_t *)ri + off);
		if (h->id == id)
			return h;
		off = h->next;
	}
	return NULL;
}

int vf_cfg_read(struct vf_dev *vf, uint32_t off, void *buf, size_t len)
{
	ssize_t n = pread(vf->device_fd, buf, len, vf->cfg_offset + off);

	return n == (ssize_t)len ? 0 : -EIO;
}

int vf_cfg_write(struct vf_dev *vf, uint32_t off, const void *buf, size_t len)
{
	ssize_t n = pwrite(vf->device_fd, buf, len, vf->cfg_offset + off);

	return n == (ssize_t)len ? 0 : -EIO;
}

/*
 * Maps what BAR0 allows. Without a sparse mmap capability the whole region (as vfio-pci offers
 * it). With one (a variant driver trapping part of the BAR), a PROT_NONE reservation of the BAR's
 * size, each area mapped over it with MAP_FIXED, and the mapped pages noted in vf->bar0_mapped;
 * the other pages are accessed through pread/pwrite. A failed mmap is not an error: those pages
 * fall back to pread/pwrite, as without any mmap.
 */
static void bar0_map(struct vf_dev *vf, const struct vfio_region_info *ri)
{
	const struct vfio_region_info_cap_sparse_mmap *sp;
	const struct vfio_info_cap_header *h;
	uint64_t page = sysconf(_SC_PAGESIZE);
	uint8_t *base;
	void *p;

	h = vf_region_cap(ri, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	if (!h) {
		p = mmap(NULL, ri->size, PROT_READ | PROT_WRITE, MAP_SHARED, vf->device_fd,
			 ri->offset);
		if (p != MAP_FAILED) {
			vf->bar0 = p;
			vf->bar0_full = true;
		}
		return;
	}
	sp = (const void *)h;
	if ((const uint8_t *)h + sizeof(*sp) > (const uint8_t *)ri + ri->argsz ||
	    sp->nr_areas > ((const uint8_t *)ri + ri->argsz - (const uint8_t *)sp->areas) /
			   sizeof(sp->areas[0])) {
		pr_err("%s: BAR0 sparse mmap capability truncated", vf->bdf);
		return;
	}
	if (!sp->nr_areas)
		return;
	base = mmap(NULL, ri->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return;
	for (uint32_t i = 0; i < sp->nr_areas; i++) {
		uint64_t off = sp->areas[i].offset, size = sp->areas[i].size;

		if (!size)
			continue;
		if (off % page || size % page || off > ri->size || size > ri->size - off) {
			pr_err("%s: BAR0 sparse area [0x%llx, +0x%llx) ignored", vf->bdf,
			       (unsigned long long)off, (unsigned long long)size);
			continue;
		}
		p = mmap(base + off, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 vf->device_fd, ri->offset + off);
		if (p == MAP_FAILED) {
			pr_err("%s: mmap of BAR0 area [0x%llx, +0x%llx): %s", vf->bdf,
			       (unsigned long long)off, (unsigned long long)size, strerror(errno));
			/* keep the range reserved: nothing else may land inside the BAR's range */
			mmap(base + off, size, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
			continue;
		}
		for (uint64_t a = off; a < off + size; a += VF_BAR0_PAGE)
			if (a / VF_BAR0_PAGE < VF_BAR0_MAX_PAGES)
				vf->bar0_mapped |= 1ull << (a / VF_BAR0_PAGE);
	}
	if (!vf->bar0_mapped) {
		munmap(base, ri->size);
		return;
	}
	vf->bar0 = (void *)base;
}

int vf_open(struct vf_container *c, const char *bdf, struct vf_dev *vf)
{
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	struct vfio_region_info *ri;
	char path[64];
	uint16_t cmd;
	int group, ret;

	memset(vf, 0, sizeof(*vf));
	vf->c = c;
	vf->group_fd = vf->device_fd = -1;
	snprintf(vf->bdf, sizeof(vf->bdf), "%s", bdf);

	group = iommu_group_of(bdf);
	if (group < 0) {
		pr_err("%s: no IOMMU group: %s", bdf, strerror(-group));
		return group;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	vf->group_fd = open(path, O_RDWR);
	if (vf->group_fd < 0) {
		ret = -errno;
		pr_err("open %s: %s", path, strerror(errno));
		return ret;
	}
	if (ioctl(vf->group_fd, VFIO_GROUP_GET_STATUS, &gs) || !(gs.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		pr_err("group %d not viable", group);
		ret = -EBUSY;
		goto err;
	}
	if (ioctl(vf->group_fd, VFIO_GROUP_SET_CONTAINER, &c->fd)) {
		ret = -errno;
		pr_err("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
		goto err;
	}
	if (!c->iommu_set) {
		if (ioctl(c->fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
			ret = -errno;
			pr_err("VFIO_SET_IOMMU: %s", strerror(errno));
			goto err;
		}
		c->iommu_set = true;
	}
	vf->device_fd = ioctl(vf->group_fd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (vf->device_fd < 0) {
		ret = -errno;
		pr_err("VFIO_GROUP_GET_DEVICE_FD %s: %s", bdf, strerror(errno));
		goto err;
	}

	ri = vf_region_info(vf->device_fd, VFIO_PCI_CONFIG_REGION_INDEX);
	if (!ri)
		goto err_info;
	vf->cfg_offset = ri->offset;
	free(ri);
	ri = vf_region_info(vf->device_fd, VFIO_PCI_BAR0_REGION_INDEX);
	if (!ri)
		goto err_info;
	if (ri->size < 0x4000) {
		pr_err("%s: BAR0 is %llu bytes", bdf, (unsigned long long)ri->size);
		free(ri);
		ret = -ENODEV;
		goto err;
	}
	vf->bar0_offset = ri->offset;
	vf->bar0_size = ri->size;
	if (ri->flags & VFIO_REGION_INFO_FLAG_MMAP)
		bar0_map(vf, ri);
	free(ri);

	/* A guest driver enables memory decoding and bus mastering itself. */
	ret = vf_cfg_read(vf, PCI_COMMAND, &cmd, sizeof(cmd));
	if (!ret) {
		cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
		ret = vf_cfg_write(vf, PCI_COMMAND, &cmd, sizeof(cmd));
	}
	if (ret) {
		pr_err("%s: PCI_COMMAND access failed", bdf);
		goto err;
	}
	return 0;
err_info:
	ret = -errno;
	pr_err("%s: VFIO_DEVICE_GET_REGION_INFO: %s", bdf, strerror(errno));
err:
	vf_close(vf);
	return ret;
}

void vf_close(struct vf_dev *vf)
{
	uint16_t cmd;

	if (vf->device_fd >= 0) {
		if (!vf_cfg_read(vf, PCI_COMMAND, &cmd, sizeof(cmd))) {
			cmd &= ~PCI_COMMAND_MASTER;
			vf_cfg_write(vf, PCI_COMMAND, &cmd, sizeof(cmd));
		}
	}
	if (vf->bar0)	/* the whole mmap, or the reservation with the sparse areas in it */
		munmap((void *)vf->bar0, vf->bar0_size);
	vf->bar0 = NULL;
	vf->bar0_full = false;
	vf->bar0_mapped = 0;
	if (vf->device_fd >= 0)
		close(vf->device_fd);
	if (vf->group_fd >= 0)
		close(vf->group_fd);	/* the group leaves the container */
	vf->device_fd = vf->group_fd = -1;
}

int vf_dma_map(struct vf_container *c, struct vf_dma *d, size_t size, uint64_t iova)
{
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	memset(d, 0, sizeof(*d));
	size = (size + page - 1) & ~(size_t)(page - 1);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		 -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = (uintptr_t)p;
	map.iova = iova;
	map.size = size;
	if (ioctl(c->fd, VFIO_IOMMU_MAP_DMA, &map)) {
		int ret = -errno;

		pr_err("VFIO_IOMMU_MAP_DMA iova 0x%llx size 0x%zx: %s",
		       (unsigned long long)iova, size, strerror(errno));
		munmap(p, size);
		return ret;
	}
	d->va = p;
	d->iova = iova;
	d->size = size;
	d->c = c;
	return 0;
}

int vf_dma_unmap(struct vf_dma *d)
{
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap) };
	int ret = 0;

	if (!d->va)
		return 0;
	unmap.iova = d->iova;
	unmap.size = d->size;
	if (d->c && d->c->fd >= 0 && ioctl(d->c->fd, VFIO_IOMMU_UNMAP_DMA, &unmap))
		ret = -errno;
	munmap(d->va, d->size);
	d->va = NULL;
	return ret;
}

void *vf_dma_alloc(struct vf_dma *d, size_t size, size_t align, uint64_t *iova)
{
	size_t off = (d->used + align - 1) & ~(align - 1);

	if (off + size > d->size)
		return NULL;
	d->used = off + size;
	memset(d->va + off, 0, size);
	if (iova)
		*iova = d->iova + off;
	return d->va + off;
}

/* --- registers -------------------------------------------------------------------------- */

uint32_t vf_rd32(struct vf_dev *vf, uint32_t off)
{
	uint32_t v = 0;

	if (vf_bar0_mmapped(vf, off))
		return vf->bar0[off / 4];
	if (pread(vf->device_fd, &v, 4, vf->bar0_offset + off) != 4)
		return ~0u;
	return v;
}

void vf_wr32(struct vf_dev *vf, uint32_t off, uint32_t val)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);	/* descriptors before doorbells */
	if (vf_bar0_mmapped(vf, off)) {
		vf->bar0[off / 4] = val;
		return;
	}
	if (pwrite(vf->device_fd, &val, 4, vf->bar0_offset + off) != 4)
		pr_err("%s: BAR0 write 0x%x failed", vf->bdf, off);
}

/* --- interrupts ------------------------------------------------------------------------- */

int vf_msix_enable(struct vf_dev *vf, int *efd, uint32_t nvec)
{
	struct vfio_irq_info info = { .argsz = sizeof(info), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	struct vfio_irq_set *set;
	size_t sz = sizeof(*set) + nvec * sizeof(int32_t);
	int ret = 0;

	for (uint32_t i = 0; i < nvec; i++)
		efd[i] = -1;
	if (!nvec)
		return -EINVAL;
	if (ioctl(vf->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &info)) {
		ret = -errno;
		pr_err("%s: VFIO_DEVICE_GET_IRQ_INFO (MSI-X): %s", vf->bdf, strerror(errno));
		return ret;
	}
	if (!(info.flags & VFIO_IRQ_INFO_EVENTFD) || info.count < nvec) {
		pr_err("%s: MSI-X: %u vectors, flags 0x%x; %u eventfd vectors wanted", vf->bdf,
		       info.count, info.flags, nvec);
		return -ENODEV;
	}
	set = calloc(1, sz);
	if (!set)
		return -ENOMEM;
	for (uint32_t i = 0; i < nvec; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (efd[i] < 0) {
			ret = -errno;
			goto out;
		}
	}
	set->argsz = sz;
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_MSIX_IRQ_INDEX;
	set->start = 0;
	set->count = nvec;
	memcpy(set->data, efd, nvec * sizeof(int32_t));
	if (ioctl(vf->device_fd, VFIO_DEVICE_SET_IRQS, set)) {
		ret = -errno;
		pr_err("%s: VFIO_DEVICE_SET_IRQS (MSI-X, %u eventfds): %s", vf->bdf, nvec,
		       strerror(errno));
	}
out:
	free(set);
	if (ret) {
		for (uint32_t i = 0; i < nvec; i++) {
			if (efd[i] >= 0)
				close(efd[i]);
			efd[i] = -1;
		}
	}
	return ret;
}

void vf_msix_disable(struct vf_dev *vf, int *efd, uint32_t nvec)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = VFIO_PCI_MSIX_IRQ_INDEX,
	};

	if (vf->device_fd >= 0)
		ioctl(vf->device_fd, VFIO_DEVICE_SET_IRQS, &set);
	for (uint32_t i = 0; i < nvec; i++) {
		if (efd[i] >= 0)
			close(efd[i]);
		efd[i] = -1;
	}
}

int64_t vf_irq_wait(int efd, int timeout_ms)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t n = 0;

	if (poll(&pfd, 1, timeout_ms) < 0)
		return -errno;
	if (read(efd, &n, sizeof(n)) != sizeof(n))
		return errno == EAGAIN ? 0 : -errno;
	return (int64_t)n;
}

/* --- mailbox (igbvf/mbx.c) ---------------------------------------------------------------- */

static uint32_t mbx_read_status(struct vf_dev *vf)
{
	uint32_t v = vf_rd32(vf, VF_V2PMAILBOX) | vf->mbx_r2c;

	vf->mbx_r2c |= v & VF_MBX_R2C;
	return v;
}

/* Consumes (clears in the software copy) and reports the bits of mask. */
static bool mbx_check(struct vf_dev *vf, uint32_t mask)
{
	uint32_t v = mbx_read_status(vf);

	vf->mbx_r2c &= ~mask;
	return v & mask;
}

static int mbx_wait(struct vf_dev *vf, uint32_t mask, int timeout_ms)
{
	uint64_t end = vf_now_ms() + timeout_ms;

	for (;;) {
		if (mbx_check(vf, mask))
			return 0;
		if (vf_now_ms() > end)
			return -ETIMEDOUT;
		sleep_us(200);
	}
}

static int mbx_lock(struct vf_dev *vf)
{
	for (int i = 0; i < 20; i++) {
		vf_wr32(vf, VF_V2PMAILBOX, VF_MBX_VFU);
		if (mbx_read_status(vf) & VF_MBX_VFU)
			return 0;
		sleep_us(1000);
	}
	pr_err("%s: mailbox owned by the PF", vf->bdf);
	return -EBUSY;
}

int vf_mbx_write(struct vf_dev *vf, const uint32_t *msg, int words, int timeout_ms)
{
	int ret;

	if (words > VF_MBX_WORDS)
		return -EINVAL;
	ret = mbx_lock(vf);
	if (ret)
		return ret;
	/* drop stale acks/messages: we are about to overwrite the buffer */
	mbx_check(vf, VF_MBX_PFACK);
	mbx_check(vf, VF_MBX_PFSTS);
	for (int i = 0; i < words; i++)
		vf_wr32(vf, VF_VMBMEM + 4 * i, msg[i]);
	vf_wr32(vf, VF_V2PMAILBOX, VF_MBX_REQ);	/* also drops VFU */
	ret = mbx_wait(vf, VF_MBX_PFACK, timeout_ms);
	if (ret)
		pr_err("%s: no PF ack for message 0x%08x", vf->bdf, msg[0]);
	return ret;
}

int vf_mbx_post(struct vf_dev *vf, const uint32_t *msg, int words)
{
	int ret;

	if (words > VF_MBX_WORDS)
		return -EINVAL;
	ret = mbx_lock(vf);
	if (ret)
		return ret;
	/* whatever the PF signalled before is dropped: its next PFACK/PFSTS are this message's */
	vf->mbx_r2c = 0;
	for (int i = 0; i < words; i++)
		vf_wr32(vf, VF_VMBMEM + 4 * i, msg[i]);
	vf_wr32(vf, VF_V2PMAILBOX, VF_MBX_REQ);	/* also drops VFU */
	return 0;
}

int vf_mbx_read(struct vf_dev *vf, uint32_t *msg, int words, int timeout_ms)
{
	int ret;

	if (words > VF_MBX_WORDS)
		return -EINVAL;
	ret = mbx_wait(vf, VF_MBX_PFSTS, timeout_ms);
	if (ret) {
		pr_err("%s: no PF message", vf->bdf);
		return ret;
	}
	ret = mbx_lock(vf);
	if (ret)
		return ret;
	for (int i = 0; i < words; i++)
		msg[i] = vf_rd32(vf, VF_VMBMEM + 4 * i);
	vf_wr32(vf, VF_V2PMAILBOX, VF_MBX_ACK);	/* ack and release */
	return 0;
}

int vf_reset(struct vf_dev *vf, int timeout_ms)
{
	uint32_t msg[3] = { VF_MSG_RESET };
	uint64_t end;
	int ret;

	vf_wr32(vf, VF_CTRL, VF_CTRL_RST);
	/* igbvf: no configuration while RSTI/RSTD are asserted (RSTD clears on read) */
	end = vf_now_ms() + timeout_ms;
	while (mbx_read_status(vf) & VF_MBX_RSTI) {
		if (vf_now_ms() > end) {
			pr_err("%s: PF still in reset (RSTI); is the PF netdev up?", vf->bdf);
			return -EAGAIN;
		}
		sleep_us(1000);
	}
	vf->mbx_r2c &= ~VF_MBX_RSTD;

	ret = vf_mbx_write(vf, msg, 1, timeout_ms);
	if (ret)
		return ret;
	ret = vf_mbx_read(vf, msg, 3, timeout_ms);
	if (ret)
		return ret;
	switch (msg[0] & ~VF_MSG_CTS) {
	case VF_MSG_RESET | VF_MSG_ACK:
		memcpy(vf->mac, &msg[1], 6);
		vf->mac_valid = true;
		return 1;
	case VF_MSG_RESET | VF_MSG_NACK:
		memset(vf->mac, 0, 6);
		vf->mac_valid = false;
		return 0;
	default:
		pr_err("%s: unexpected reset reply 0x%08x", vf->bdf, msg[0]);
		return -EPROTO;
	}
}

int vf_set_mac(struct vf_dev *vf, const uint8_t mac[6], int timeout_ms)
{
	uint32_t msg[3] = { VF_MSG_SET_MAC_ADDR };
	int ret;

	memcpy(&msg[1], mac, 6);
	ret = vf_mbx_write(vf, msg, 3, timeout_ms);
	if (ret)
		return ret;
	ret = vf_mbx_read(vf, msg, 3, timeout_ms);
	if (ret)
		return ret;
	if ((msg[0] & ~VF_MSG_CTS) != (VF_MSG_SET_MAC_ADDR | VF_MSG_ACK)) {
		pr_err("%s: SET_MAC_ADDR reply 0x%08x", vf->bdf, msg[0]);
		return -EPERM;
	}
	memcpy(vf->mac, mac, 6);
	vf->mac_valid = true;
	return 0;
}

/* --- rings ------------------------------------------------------------------------------ */

int vf_ring_alloc(struct vf_dma *d, struct vf_ring *r, uint32_t count, uint32_t buf_size)
{
	memset(r, 0, sizeof(*r));
	if (count < 8 || count % 8 || count > 4096 || !buf_size)
		return -EINVAL;
	r->desc = vf_dma_alloc(d, (size_t)count * 16, 128, &r->desc_iova);
	r->buf_va = vf_dma_alloc(d, (size_t)count * buf_size, 4096, &r->buf_iova);
	if (!r->desc || !r->buf_va)
		return -ENOMEM;
	r->count = count;
	r->buf_size = buf_size;
	return 0;
}

int vf_rx_restore(struct vf_dev *vf, const struct vf_queue_regs *q)
{
	vf_wr32(vf, VF_RXDCTL, q->ctl & ~VF_RXDCTL_ENABLE);
	vf_wr32(vf, VF_RDBAL, (uint32_t)q->base);
	vf_wr32(vf, VF_RDBAH, (uint32_t)(q->base >> 32));
	vf_wr32(vf, VF_RDLEN, q->len);
	vf_wr32(vf, VF_SRRCTL, q->srrctl);
	vf_wr32(vf, VF_RDH, q->head);
	vf_wr32(vf, VF_RXDCTL, q->ctl);
	vf_wr32(vf, VF_RDT, q->tail);
	return 0;
}

int vf_tx_restore(struct vf_dev *vf, const struct vf_queue_regs *q)
{
	vf_wr32(vf, VF_TXDCTL, q->ctl & ~VF_TXDCTL_ENABLE);
	vf_wr32(vf, VF_TDBAL, (uint32_t)q->base);
	vf_wr32(vf, VF_TDBAH, (uint32_t)(q->base >> 32));
	vf_wr32(vf, VF_TDLEN, q->len);
	vf_wr32(vf, VF_TDH, q->head);
	vf_wr32(vf, VF_TXDCTL, q->ctl);
	vf_wr32(vf, VF_TDT, q->tail);
	return 0;
}

int vf_rx_attach(struct vf_dev *vf, const struct vf_ring *r)
{
	struct vf_queue_regs q = {
		.base = r->desc_iova,
		.len = r->count * 16,
		.head = r->head,
		.tail = r->tail,
		.ctl = VF_RXDCTL_ENABLE,
		.srrctl = VF_SRRCTL_DESCTYPE_ADV_ONEBUF | VF_SRRCTL_DROP_EN |
			  ((r->buf_size >> VF_SRRCTL_BSIZEPKT_SHIFT) & 0x7f),
	};

	if (r->buf_size % 1024 || r->buf_size > 127 * 1024)
		return -EINVAL;
	return vf_rx_restore(vf, &q);
}

int vf_tx_attach(struct vf_dev *vf, const struct vf_ring *r)
{
	struct vf_queue_regs q = {
		.base = r->desc_iova,
		.len = r->count * 16,
		.head = r->head,
		.tail = r->tail,
		.ctl = VF_TXDCTL_ENABLE,
	};

	vf_wr32(vf, VF_TDWBAL, 0);	/* descriptor write-back, not head write-back */
	vf_wr32(vf, VF_TDWBAH, 0);
	return vf_tx_restore(vf, &q);
}

void vf_rx_detach(struct vf_dev *vf)
{
	vf_wr32(vf, VF_RXDCTL, vf_rd32(vf, VF_RXDCTL) & ~VF_RXDCTL_ENABLE);
}

void vf_tx_detach(struct vf_dev *vf)
{
	vf_wr32(vf, VF_TXDCTL, vf_rd32(vf, VF_TXDCTL) & ~VF_TXDCTL_ENABLE);
}

int vf_rx_regs(struct vf_dev *vf, struct vf_queue_regs *q)
{
	q->base = vf_rd32(vf, VF_RDBAL) | (uint64_t)vf_rd32(vf, VF_RDBAH) << 32;
	q->len = vf_rd32(vf, VF_RDLEN);
	q->head = vf_rd32(vf, VF_RDH);
	q->tail = vf_rd32(vf, VF_RDT);
	q->ctl = vf_rd32(vf, VF_RXDCTL);
	q->srrctl = vf_rd32(vf, VF_SRRCTL);
	return 0;
}

int vf_tx_regs(struct vf_dev *vf, struct vf_queue_regs *q)
{
	q->base = vf_rd32(vf, VF_TDBAL) | (uint64_t)vf_rd32(vf, VF_TDBAH) << 32;
	q->len = vf_rd32(vf, VF_TDLEN);
	q->head = vf_rd32(vf, VF_TDH);
	q->tail = vf_rd32(vf, VF_TDT);
	q->ctl = vf_rd32(vf, VF_TXDCTL);
	q->srrctl = 0;
	return 0;
}

int vf_rx_post(struct vf_dev *vf, struct vf_ring *r, int n)
{
	union vf_rx_desc *ring = r->desc;
	int posted = 0;

	while (vf_ring_space(r) && (n < 0 || posted < n)) {
		volatile union vf_rx_desc *d = &ring[r->tail];

		d->read.pkt_addr = vf_ring_buf_iova(r, r->tail);
		d->read.hdr_addr = 0;	/* also clears DD of the previous write-back */
		r->tail = (r->tail + 1) % r->count;
		posted++;
	}
	if (posted)
		vf_wr32(vf, VF_RDT, r->tail);
	return posted;
}

int vf_rx_poll(struct vf_ring *r, struct vf_rx_frame *f)
{
	union vf_rx_desc *ring = r->desc;
	volatile union vf_rx_desc *d;
	uint32_t st;

	if (r->head == r->tail)
		return 0;
	d = &ring[r->head];
	st = d->wb.status_error;
	if (!(st & VF_RXD_STAT_DD))
		return 0;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	f->status_error = st;
	f->len = d->wb.length;
	f->index = r->head;
	f->data = vf_ring_buf(r, r->head);
	r->head = (r->head + 1) % r->count;
	r->done++;
	return 1;
}

int vf_rx_wait(struct vf_ring *r, struct vf_rx_frame *f, int timeout_ms)
{
	uint64_t end = vf_now_ms() + timeout_ms;

	for (;;) {
		if (vf_rx_poll(r, f))
			return 1;
		if (vf_now_ms() > end)
			return 0;
		sleep_us(100);
	}
}

int vf_tx_clean(struct vf_ring *r)
{
	union vf_tx_desc *ring = r->desc;
	int n = 0;

	while (r->head != r->tail) {
		volatile union vf_tx_desc *d = &ring[r->head];

		if (!(d->wb.status & VF_TXD_STAT_DD))
			break;
		r->head = (r->head + 1) % r->count;
		r->done++;
		n++;
	}
	return n;
}

int vf_tx_send(struct vf_dev *vf, struct vf_ring *r, const void *frame, size_t len)
{
	union vf_tx_desc *ring = r->desc;
	volatile union vf_tx_desc *d;

	if (len > r->buf_size || len > 0x3fff)
		return -EMSGSIZE;
	vf_tx_clean(r);
	if (!vf_ring_space(r))
		return -EAGAIN;
	memcpy(vf_ring_buf(r, r->tail), frame, len);
	d = &ring[r->tail];
	d->read.buffer_addr = vf_ring_buf_iova(r, r->tail);
	d->read.cmd_type_len = VF_TXD_DTYP_DATA | VF_TXD_DCMD_DEXT | VF_TXD_DCMD_IFCS |
			       VF_TXD_DCMD_EOP | VF_TXD_DCMD_RS | (uint32_t)len;
	d->read.olinfo_status = (uint32_t)len << VF_TXD_PAYLEN_SHIFT;	/* DD clear */
	r->tail = (r->tail + 1) % r->count;
	vf_wr32(vf, VF_TDT, r->tail);
	return 0;
}
