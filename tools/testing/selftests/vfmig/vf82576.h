/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vf82576: a minimal userspace driver for an Intel 82576 VF (8086:10ca) owned through VFIO
 * (type1 container), as a VMM's guest driver would own it: reset + PF mailbox handshake, one Rx
 * and one Tx queue (queue 0) with advanced descriptors in caller-provided DMA memory, polling
 * (MSI-X vectors can be wired to eventfds to check that interrupts arrive, but the driver never
 * waits for one). See vf82576.c for what QEMU's igb model requires.
 *
 * Ring state is explicit (struct vf_ring): descriptor memory, per-entry buffers and the software
 * head/tail live in the caller's DMA arena, not in the device handle, so a ring can be compared
 * before/after a migration and attached to another VF handle in the same container.
 */
#ifndef VF82576_H
#define VF82576_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vfio_region_info;
struct vfio_info_cap_header;

/* --- VF BAR0 registers (drivers/net/ethernet/intel/igbvf/regs.h); queue 0 only ----------- */
#define VF_CTRL		0x0000
#define VF_STATUS	0x0008
#define VF_EICS		0x1520
#define VF_EIMS		0x1524
#define VF_EIMC		0x1528
#define VF_EIAC		0x152C
#define VF_EIAM		0x1530
#define VF_EICR		0x1580
#define VF_EITR(n)	(0x1680 + 4 * (n))
#define VF_IVAR0	0x1700
#define VF_IVAR_MISC	0x1740
#define VF_RDBAL	0x2800
#define VF_RDBAH	0x2804
#define VF_RDLEN	0x2808
#define VF_SRRCTL	0x280C
#define VF_RDH		0x2810
#define VF_RDT		0x2818
#define VF_RXDCTL	0x2828
#define VF_TDBAL	0x3800
#define VF_TDBAH	0x3804
#define VF_TDLEN	0x3808
#define VF_TDH		0x3810
#define VF_TDT		0x3818
#define VF_TXDCTL	0x3828
#define VF_TDWBAL	0x3838
#define VF_TDWBAH	0x383C
#define VF_VMBMEM	0x0800	/* 16 dwords */
#define VF_V2PMAILBOX	0x0C40
#define VF_GPRC		0x0F10
#define VF_GPTC		0x0F14
#define VF_GORC		0x0F18
#define VF_GOTC		0x0F34
#define VF_MPRC		0x0F3C

/* CTRL / STATUS */
#define VF_CTRL_RST		0x04000000
#define VF_STATUS_LU		0x00000002

/* V2PMAILBOX bits */
#define VF_MBX_REQ	0x01	/* VF -> PF: message in VMBMEM */
#define VF_MBX_ACK	0x02	/* VF -> PF: PF's message read */
#define VF_MBX_VFU	0x04	/* VF owns VMBMEM */
#define VF_MBX_PFU	0x08	/* PF owns VMBMEM */
#define VF_MBX_PFSTS	0x10	/* PF wrote a message (read-to-clear) */
#define VF_MBX_PFACK	0x20	/* PF acked our message (read-to-clear) */
#define VF_MBX_RSTI	0x40	/* PF in reset */
#define VF_MBX_RSTD	0x80	/* PF reset done (read-to-clear) */
#define VF_MBX_R2C	(VF_MBX_PFSTS | VF_MBX_PFACK | VF_MBX_RSTD)
#define VF_MBX_WORDS	16

/* Mailbox messages (igbvf/mbx.h) */
#define VF_MSG_RESET		0x01
#define VF_MSG_SET_MAC_ADDR	0x02
#define VF_MSG_SET_MULTICAST	0x03
#define VF_MSG_SET_VLAN		0x04
#define VF_MSG_SET_LPE		0x05
#define VF_MSG_ACK		0x80000000u
#define VF_MSG_NACK		0x40000000u
#define VF_MSG_CTS		0x20000000u
#define VF_MSG_PF_CONTROL	0x0100

/* SRRCTL / RXDCTL / TXDCTL */
#define VF_SRRCTL_BSIZEPKT_SHIFT	10	/* in 1 KiB units, bits 6:0 */
#define VF_SRRCTL_DESCTYPE_ADV_ONEBUF	0x02000000
#define VF_SRRCTL_DROP_EN		0x80000000
#define VF_RXDCTL_ENABLE		0x02000000
#define VF_TXDCTL_ENABLE		0x02000000

/* Advanced descriptors */
#define VF_RXD_STAT_DD		0x00000001
#define VF_RXD_STAT_EOP		0x00000002
#define VF_RXD_ERR_MASK		0xFF000000	/* RXE, IPE, TCPE, ... */
#define VF_TXD_DTYP_DATA	0x00300000
#define VF_TXD_DCMD_EOP		0x01000000
#define VF_TXD_DCMD_IFCS	0x02000000
#define VF_TXD_DCMD_RS		0x08000000
#define VF_TXD_DCMD_DEXT	0x20000000
#define VF_TXD_PAYLEN_SHIFT	14
#define VF_TXD_STAT_DD		0x00000001

union vf_rx_desc {
	struct {
		uint64_t pkt_addr;
		uint64_t hdr_addr;
	} read;
	struct {
		uint16_t pkt_info;
		uint16_t hdr_info;
		uint32_t rss;
		uint32_t status_error;
		uint16_t length;
		uint16_t vlan;
	} wb;
};

union vf_tx_desc {
	struct {
		uint64_t buffer_addr;
		uint32_t cmd_type_len;
		uint32_t olinfo_status;
	} read;
	struct {
		uint64_t rsvd;
		uint32_t nxtseq_seed;
		uint32_t status;
	} wb;
};

_Static_assert(sizeof(union vf_rx_desc) == 16, "rx desc");
_Static_assert(sizeof(union vf_tx_desc) == 16, "tx desc");

/* --- VFIO ------------------------------------------------------------------------------- */

/* One type1 container; several VF groups can share it (and thus one IOVA space). */
struct vf_container {
	int fd;
	bool iommu_set;
};

/* Anonymous memory mapped for DMA at a caller-chosen IOVA, with a bump allocator. */
struct vf_dma {
	uint8_t *va;
	uint64_t iova;
	size_t size;
	size_t used;
	struct vf_container *c;
};

/* BAR0 pages are tracked in units of 4 KiB; pages beyond VF_BAR0_MAX_PAGES are only ever
 * accessed through pread/pwrite when BAR0 is sparsely mmappable. */
#define VF_BAR0_PAGE		4096u
#define VF_BAR0_MAX_PAGES	64

struct vf_dev {
	struct vf_container *c;
	char bdf[32];
	int group_fd;
	int device_fd;
	/* BAR0's address range, bar0_size bytes, or NULL (every access by pread/pwrite on the
	 * region). Either a full mmap of BAR0 (bar0_full), or, when the region reports a sparse
	 * mmap capability, a PROT_NONE reservation with the sparse areas mapped into it (bit n of
	 * bar0_mapped: 4 KiB page n is mapped); the trapped pages go through pread/pwrite. */
	volatile uint32_t *bar0;
	bool bar0_full;
	uint64_t bar0_mapped;
	uint64_t bar0_offset;		/* region offset in device_fd */
	uint64_t bar0_size;
	uint64_t cfg_offset;		/* config space region offset */
	uint32_t mbx_r2c;		/* read-to-clear mailbox bits seen but not consumed */
	uint8_t mac[6];
	bool mac_valid;
};

/* A descriptor ring with one DMA buffer per entry. head/tail are the driver's indices:
 * head = next entry the driver expects the device to complete (next_to_clean),
 * tail = next entry the driver will hand to the device (the value last written to RDT/TDT).
 * Entries head..tail-1 belong to the device. One entry is always left free.
 */
struct vf_ring {
	void *desc;			/* count descriptors (union vf_rx_desc / vf_tx_desc) */
	uint64_t desc_iova;
	uint32_t count;			/* multiple of 8 (RDLEN/TDLEN granularity is 128 bytes) */
	uint32_t head;
	uint32_t tail;
	uint32_t buf_size;		/* bytes per buffer; a multiple of 1 KiB for Rx */
	uint8_t *buf_va;		/* count * buf_size bytes */
	uint64_t buf_iova;
	uint64_t done;			/* entries completed so far (frames received / sent) */
};

static inline void *vf_ring_buf(const struct vf_ring *r, uint32_t i)
{
	return r->buf_va + (size_t)i * r->buf_size;
}

static inline uint64_t vf_ring_buf_iova(const struct vf_ring *r, uint32_t i)
{
	return r->buf_iova + (uint64_t)i * r->buf_size;
}

/* Entries currently owned by the device. */
static inline uint32_t vf_ring_used(const struct vf_ring *r)
{
	return (r->tail + r->count - r->head) % r->count;
}

/* Entries the driver may still hand to the device. */
static inline uint32_t vf_ring_space(const struct vf_ring *r)
{
	return r->count - 1 - vf_ring_used(r);
}

/* A received frame; data points into the ring's buffer for entry index, valid until that entry
 * is posted again. */
struct vf_rx_frame {
	const uint8_t *data;
	uint16_t len;
	uint32_t status_error;
	uint32_t index;
};

/* Hardware view of one queue, read from BAR0. */
struct vf_queue_regs {
	uint64_t base;
	uint32_t len;
	uint32_t head;
	uint32_t tail;
	uint32_t ctl;		/* RXDCTL / TXDCTL */
	uint32_t srrctl;	/* Rx only */
};

/* All functions return 0 or a negative errno unless documented otherwise; on failure they
 * also print the reason to stderr. */
int vf_container_open(struct vf_container *c);
void vf_container_close(struct vf_container *c);

/* Adds the VF's IOMMU group to the container (setting the type1v2 IOMMU on the first one),
 * gets the device fd, maps BAR0 and enables memory decoding and bus mastering. The group
 * must be viable (every device in it bound to vfio-pci or a VFIO variant driver). BAR0 is
 * mmapped whole when the region allows mmap; with a VFIO_REGION_INFO_CAP_SPARSE_MMAP
 * capability only its areas are (see struct vf_dev); without VFIO_REGION_INFO_FLAG_MMAP (all of
 * BAR0 trapped) nothing is, and every access goes through pread/pwrite. */
int vf_open(struct vf_container *c, const char *bdf, struct vf_dev *vf);
void vf_close(struct vf_dev *vf);

/* Maps size bytes of fresh anonymous memory at iova into the container. The container needs
 * its IOMMU set, i.e. at least one VF opened; groups added later see existing mappings. */
int vf_dma_map(struct vf_container *c, struct vf_dma *d, size_t size, uint64_t iova);
int vf_dma_unmap(struct vf_dma *d);
/* Carves size bytes aligned to align out of the arena; NULL when it is full. */
void *vf_dma_alloc(struct vf_dma *d, size_t size, size_t align, uint64_t *iova);

/* VFIO_DEVICE_GET_REGION_INFO including the capability chain (argsz grown and the ioctl
 * repeated until everything fits): a malloc'd struct to free(), or NULL with errno set. */
struct vfio_region_info *vf_region_info(int device_fd, uint32_t index);
/* The first capability with this id in the chain of an info from vf_region_info, or NULL.
 * The chain is bounds-checked against ri->argsz. */
const struct vfio_info_cap_header *vf_region_cap(const struct vfio_region_info *ri,
						  uint16_t id);

/* Whether BAR0 offset off is accessed through the mmap (else pread/pwrite). */
static inline bool vf_bar0_mmapped(const struct vf_dev *vf, uint32_t off)
{
	uint32_t page = off / VF_BAR0_PAGE;

	if (!vf->bar0)
		return false;
	if (vf->bar0_full)
		return true;
	return page < VF_BAR0_MAX_PAGES && (vf->bar0_mapped >> page) & 1;
}

/* 32-bit BAR0 accesses, through the mmap for mapped pages and pread/pwrite on the region for
 * the others (trapped pages of a sparse BAR, or no mmap at all). vf_wr32 orders all earlier
 * memory writes (descriptors) before the register write (doorbells) on both paths. */
uint32_t vf_rd32(struct vf_dev *vf, uint32_t off);
void vf_wr32(struct vf_dev *vf, uint32_t off, uint32_t val);
int vf_cfg_read(struct vf_dev *vf, uint32_t off, void *buf, size_t len);
int vf_cfg_write(struct vf_dev *vf, uint32_t off, const void *buf, size_t len);

/* MSI-X through VFIO (VFIO_DEVICE_SET_IRQS, VFIO_PCI_MSIX_IRQ_INDEX, eventfd triggers), as a
 * VMM wires a guest's vectors. vf_msix_enable checks VFIO_DEVICE_GET_IRQ_INFO (eventfd-capable,
 * at least nvec vectors), creates one non-blocking eventfd per vector 0..nvec-1 into efd[] and
 * enables MSI-X with them; 0 or -errno (nothing left enabled or open). vf_msix_disable turns
 * MSI-X off (VFIO_IRQ_SET_DATA_NONE, count 0) and closes the eventfds (efd[i] = -1). */
int vf_msix_enable(struct vf_dev *vf, int *efd, uint32_t nvec);
void vf_msix_disable(struct vf_dev *vf, int *efd, uint32_t nvec);
/* The interrupts signalled on such an eventfd since it was last read (the count is reset),
 * waiting up to timeout_ms for one; 0 if none came, -errno on error. */
int64_t vf_irq_wait(int efd, int timeout_ms);

/* Mailbox. vf_mbx_write sends a message and waits for the PF's ACK bit; vf_mbx_read waits for
 * a PF message, reads it and acks it. timeout_ms bounds each wait. */
int vf_mbx_write(struct vf_dev *vf, const uint32_t *msg, int words, int timeout_ms);
/* Sends a message (REQ) and returns at once: V2PMAILBOX is not read again, so the PF's ACK and
 * its answer (PFACK, PFSTS: read-to-clear) stay pending for whoever reads the register next. */
int vf_mbx_post(struct vf_dev *vf, const uint32_t *msg, int words);
int vf_mbx_read(struct vf_dev *vf, uint32_t *msg, int words, int timeout_ms);

/* igbvf's e1000_reset_hw_vf: CTRL.RST (queues disabled, PF sees VFLRE), wait until the PF is
 * out of reset (RSTI clear), send E1000_VF_RESET and read the PF's reply. Returns 1 when the PF
 * ACKed with a MAC (stored in vf->mac), 0 when it NACKed (no MAC assigned; vf->mac cleared;
 * call vf_set_mac), -EAGAIN if the PF stays in reset (netdev down), other negative errno on
 * mailbox errors. Afterwards the PF has enabled the VF's Rx/Tx (VFRE/VFTE) and its MAC filter. */
int vf_reset(struct vf_dev *vf, int timeout_ms);
/* E1000_VF_SET_MAC_ADDR; 0 when the PF ACKed (vf->mac updated), -EPERM on NACK. */
int vf_set_mac(struct vf_dev *vf, const uint8_t mac[6], int timeout_ms);

/* Allocates descriptors and count buffers of buf_size bytes from the arena; head = tail = 0. */
int vf_ring_alloc(struct vf_dma *d, struct vf_ring *r, uint32_t count, uint32_t buf_size);

/* Programs queue 0 from the ring (base, length, SRRCTL for Rx, hardware head = r->head,
 * tail = r->tail) and enables it. Re-attaching a used ring to another VF continues where its
 * struct says. */
int vf_rx_attach(struct vf_dev *vf, const struct vf_ring *r);
int vf_tx_attach(struct vf_dev *vf, const struct vf_ring *r);
/* Clears the queue enable (the device stops using the ring); ring memory is untouched. */
void vf_rx_detach(struct vf_dev *vf);
void vf_tx_detach(struct vf_dev *vf);
int vf_rx_regs(struct vf_dev *vf, struct vf_queue_regs *q);
int vf_tx_regs(struct vf_dev *vf, struct vf_queue_regs *q);

/* Hands up to n free entries (n < 0: all) to the device with their buffers and writes RDT.
 * Returns the number posted. */
int vf_rx_post(struct vf_dev *vf, struct vf_ring *r, int n);
/* Completed entry at head: 1 and *f filled (head advances, the entry is free to be posted
 * again), 0 if none. */
int vf_rx_poll(struct vf_ring *r, struct vf_rx_frame *f);
/* Like vf_rx_poll, waiting up to timeout_ms. */
int vf_rx_wait(struct vf_ring *r, struct vf_rx_frame *f, int timeout_ms);

/* Reclaims sent entries (DD); returns how many. */
int vf_tx_clean(struct vf_ring *r);
/* Copies the frame into the tail entry's buffer, queues it (EOP|IFCS|RS) and writes TDT.
 * -EAGAIN if the ring is full after cleaning, -EMSGSIZE if len > buf_size. */
int vf_tx_send(struct vf_dev *vf, struct vf_ring *r, const void *frame, size_t len);

/* Low-level queue programming from a register image (e.g. saved from another VF): writes base,
 * length, SRRCTL (Rx), head, the enable bit of ctl, then tail last (QEMU restarts the queue on
 * the tail write). Use these instead of *_attach when the device's head differs from the
 * driver's (completed-but-unpolled Rx entries have lost their buffer address). */
int vf_rx_restore(struct vf_dev *vf, const struct vf_queue_regs *q);
int vf_tx_restore(struct vf_dev *vf, const struct vf_queue_regs *q);

/* Monotonic milliseconds, for polling loops. */
uint64_t vf_now_ms(void);

#endif /* VF82576_H */
