/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfmig_util: helpers shared by the programs that drive a VF with the vf82576 userspace driver
 * (vfmig_traffic_test.c, vfmig_migration_test.c, vfmig_dirty_test.c in this directory and
 * tools/bench/vfmig_bench.c): the test frame format, the PF side's
 * AF_PACKET socket, VF identity as the PF driver sees it, the mailbox bring-up and the migration
 * uAPI v2 calls. Plain C (no kselftest harness): errors are returned as -errno, the callers
 * report them. Link vfmig_util.c and vf82576.c.
 */
#ifndef VFMIG_UTIL_H
#define VFMIG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vf82576.h"

/* Parameters the VF programs share. */
#define VFMIG_DMA_IOVA		0x10000000ull	/* the "guest memory" arena */
#define VFMIG_DMA_SIZE		(1u << 20)
#define VFMIG_RING_COUNT	32
#define VFMIG_BUF_SIZE		2048
#define VFMIG_MBX_TIMEOUT_MS	10000	/* a PF answer; KASAN and a loaded host made 3 s too short */
#define VFMIG_RX_TIMEOUT_MS	3000
#define VFMIG_STREAM_MAX	65536		/* bytes of a save stream, at most */

/* --- environment and identity ------------------------------------------------------------ */

/* getenv, "" when unset. */
const char *vfmig_env(const char *name);
/* "aa:bb:cc:dd:ee:ff" -> mac; 0 or -1. */
int vfmig_parse_mac(const char *s, uint8_t mac[6]);
/* A netdev's MAC from /sys/class/net/IF/address; 0 or -errno. */
int vfmig_netdev_mac(const char *ifname, uint8_t mac[6]);
/* The number after "KEY: " in vfmig's debugfs state file of the VF `bdf`, or -1. */
long vfmig_state_num(const char *bdf, const char *key);
/* Waits up to timeout_ms for the netdev's carrier; 0 or -ETIMEDOUT. */
int vfmig_wait_carrier(const char *ifname, int timeout_ms);
/* The VF's index under its PF (physfn/virtfnN), or -1 if bdf is not a VF. */
int vfmig_vf_index(const char *bdf);
/* The line of `ip link show dev PF` for VF `vf` (ndo_get_vf_config; leading blanks and the
 * newline removed) into out; 0 or -errno (-ENOENT: no such entry). */
int vfmig_pf_vf_line(const char *pf_if, int vf, char *out, size_t len);
/* The MAC the PF driver reports for its VF `vf` (ndo_get_vf_config, via `ip link show PF`);
 * 0 or -errno (-ENOENT: no such entry). */
int vfmig_pf_view_of_vf_mac(const char *pf_if, int vf, uint8_t mac[6]);
/* The VF's VFIO cdev name (vfioN, from /sys/bus/pci/devices/BDF/vfio-dev); 0 or -errno. */
int vfmig_cdev_name(const char *bdf, char *buf, size_t len);
/* Opens the VF as a VMM does through iommufd: /dev/vfio/devices/vfioN, /dev/iommu,
 * VFIO_DEVICE_BIND_IOMMUFD, a new IOAS (IOMMU_IOAS_ALLOC), VFIO_DEVICE_ATTACH_IOMMUFD_PT.
 * The device fd and *iommufd, or -errno with *step naming what failed (nothing left open). */
int vfmig_open_iommufd(const char *bdf, int *iommufd, const char **step);
/* The reset handshake as a guest driver does at probe (vf_reset); when the PF NACKs (no
 * administrative MAC), sets 02:76:66:6d:mac4:mac5 through the mailbox. 0 or -errno. */
int vfmig_bring_up(struct vf_dev *vf, uint8_t mac4, uint8_t mac5);

/* --- test frames --------------------------------------------------------------------------- */

#define VFMIG_ETHERTYPE_TEST	0x88b5		/* IEEE local experimental */
#define VFMIG_FRAME_MAGIC	0x56464d47	/* "VFMG" */
#define VFMIG_FRAME_MAX		2048		/* a buffer that holds any test frame */

enum { VFMIG_DIR_VF_TO_PF = 1, VFMIG_DIR_PF_TO_VF = 2, VFMIG_DIR_VF_TO_VF = 3 };

struct vfmig_frame_hdr {
	uint8_t dst[6];
	uint8_t src[6];
	uint16_t proto;
	uint32_t magic;
	uint32_t nonce;		/* the run's, so that frames of other runs are ignored */
	uint8_t dir;
	uint8_t pad;
	uint16_t len;
	uint32_t seq;
} __attribute__((packed));

/* 60..459 bytes, a function of seq (no padding by the device). */
int vfmig_frame_len(uint32_t seq);
/* Writes frame seq (vfmig_frame_len(seq) bytes) into buf. */
void vfmig_build_frame(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint32_t nonce,
		       int dir, uint32_t seq);
/* 1 and *seq if buf is one of ours (this nonce, this direction), else 0. */
int vfmig_frame_ours(const uint8_t *buf, size_t len, uint32_t nonce, int dir, uint32_t *seq);
/* Compares a received frame with what was sent for seq: NULL if equal, else a description
 * (a static buffer, valid until the next call). */
const char *vfmig_frame_mismatch(const uint8_t *buf, size_t len, const uint8_t *dst,
				 const uint8_t *src, uint32_t nonce, int dir, uint32_t seq);
static inline bool vfmig_same_frame(const uint8_t *buf, size_t len, const uint8_t *dst,
				    const uint8_t *src, uint32_t nonce, int dir, uint32_t seq)
{
	return !vfmig_frame_mismatch(buf, len, dst, src, nonce, dir, seq);
}

/* --- the PF side: an AF_PACKET socket on the PF netdev ------------------------------------ */

/* A raw socket for VFMIG_ETHERTYPE_TEST bound to ifindex, with SO_RCVBUF rcvbuf if > 0;
 * the fd or -errno. */
int vfmig_pkt_open(int ifindex, int rcvbuf);
/* Sends len bytes to dst, retrying (up to 100 ms) while the queue is full; 0 or -errno. */
int vfmig_pkt_send(int sock, int ifindex, const uint8_t *dst, const void *buf, size_t len);
/* Builds frame seq (dst <- src, direction dir) and sends it; 0 or -errno. */
int vfmig_pf_send(int sock, int ifindex, const uint8_t *dst, const uint8_t *src, uint32_t nonce,
		  int dir, uint32_t seq);
/* Waits until end_ms (vf_now_ms clock) for the next received frame of ours (not our own
 * outgoing ones, this nonce and direction): its length and *seq, or -ETIMEDOUT. */
ssize_t vfmig_pkt_recv_ours(int sock, uint64_t end_ms, uint32_t nonce, int dir, uint8_t *buf,
			    size_t cap, uint32_t *seq);

/* --- VFIO_DEVICE_FEATURE: migration uAPI v2 ---------------------------------------------- */

/* VFIO_DEVICE_FEATURE with flags and a payload of len bytes (at most 64) copied from data
 * before and back into data after a successful call (data may be NULL with len 0, e.g. for
 * PROBE); argsz is the header plus len. 0 or -errno. */
int vfmig_feature(int dev, uint32_t flags, void *data, size_t len);

/* VFIO_DEVICE_FEATURE_MIGRATION flags; 0 or -errno. */
int mig_flags(int dev, uint64_t *flags);
/* Sets the device state; 0 or -errno. *data_fd is the returned fd (-1 for none); with
 * data_fd NULL a returned fd is closed. */
int mig_set(int dev, uint32_t state, int *data_fd);
/* The device state, or -errno. */
int mig_get(int dev);
/* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE; 0 or -errno. */
int mig_data_size(int dev, uint64_t *len);
/* Reads a save fd to its end in chunks of `chunk` bytes: the length, or -errno. */
ssize_t mig_read_stream(int fd, uint8_t *buf, size_t cap, size_t chunk);
/* Writes a stream in the chunk sizes given (cycled), or in as few writes as the fd takes when
 * chunks is NULL: 0 or the first failed write's -errno. */
int mig_write_stream(int fd, const uint8_t *buf, size_t len, const size_t *chunks, int nchunks);
const char *mig_state_name(uint32_t state);

/* Monotonic microseconds, for timings. */
double vfmig_now_us(void);

#endif /* VFMIG_UTIL_H */
