// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig C shell: the pci_driver, the vfio_device_ops table and the debugfs files.
 *
 * vfio_pci_core_register_device() requires the vfio_pci_core_device as the PCI drvdata and
 * the ops tables are C structures, so they live here. Everything else (which devices are
 * accepted, their providers, migration state) is decided by the Rust crate through the calls
 * declared in vfmig_glue.h. Module init/exit are Rust's (module! in vfmig_main.rs), which
 * registers this driver through vfmig_glue_register_driver().
 *
 * Migration (module parameter migration, on by default): the vfio_migration_ops and the data
 * fd's file_operations are here; every decision (arcs, stream, generations) is Rust's. The
 * reset_done error handler tells Rust the function was reset (migration state back to RUNNING).
 *
 * debugfs (vfmig/{state,regs} in the VFIO device's own directory, beside VFIO core's
 * migration/{state,features}: /sys/kernel/debug/vfio/<BDF>/vfmig/, with CONFIG_VFIO_DEBUGFS) is
 * created here because a read of "regs" must fail with -ENODEV while the device is closed, and
 * the Rust debugfs abstraction's read callbacks cannot return an errno; the seq_file show
 * callbacks call into Rust, which prints.
 */
#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/interval_tree.h>
#include <linux/iova_bitmap.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/pm_runtime.h>
#include <linux/ratelimit.h>
#include <linux/rtnetlink.h>
#include <linux/seq_file.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "vfmig_glue.h"

/**
 * struct vfmig_device - one VF bound to vfmig
 * @core: the vfio-pci core device; must be first-class drvdata for vfio_pci_core
 * @rs: the Rust per-device state, owned by the Rust side (vfmig_rs_probe/remove)
 * @debugfs: the device's debugfs directory, /sys/kernel/debug/vfio/<BDF>/vfmig (NULL without
 *	CONFIG_VFIO_DEBUGFS)
 * @migf_lock: protects @migf; outside every other vfmig lock
 * @migf: the last migration data file handed out (a reference is held), or NULL
 * @trap_start: first byte of the trapped BAR0 range (page aligned)
 * @trap_end: end of the trapped BAR0 range (page aligned); 0: nothing is trapped
 * @log_rs: limits the kernel messages userspace can cause (refused arcs and restores)
 */
struct vfmig_device {
	struct vfio_pci_core_device core;
	void *rs;
	struct dentry *debugfs;
	struct mutex migf_lock;
	struct vfmig_mig_file *migf;
	u64 trap_start;
	u64 trap_end;
	struct ratelimit_state log_rs;
};

/**
 * struct vfmig_mig_file - a migration data fd (save: read, resume: write)
 * @filp: the anon inode file
 * @lock: serializes read/write and protects @disabled; taken before the Rust state lock
 * @disabled: set (under @lock) when the device is closed or the file is superseded; a disabled
 *            file never touches @vmdev again, so it may outlive the device
 * @vmdev: the device
 * @gen: the Rust generation of this file; Rust refuses read/write once it is stale
 */
struct vfmig_mig_file {
	struct file *filp;
	struct mutex lock;
	bool disabled;
	struct vfmig_device *vmdev;
	u64 gen;
};

static_assert(sizeof(struct vfmig_pf_vf_config) == VFMIG_PF_VF_CONFIG_SIZE);

static_assert(sizeof(struct vfmig_pci_ident) == VFMIG_PCI_IDENT_SIZE);

static void vfmig_fill_ident(struct pci_dev *pdev, struct vfmig_pci_ident *id)
{
	memset(id, 0, sizeof(*id));
	id->vendor = pdev->vendor;
	id->device = pdev->device;
	id->subsystem_vendor = pdev->subsystem_vendor;
	id->subsystem_device = pdev->subsystem_device;
	id->revision = pdev->revision;
	id->is_virtfn = pdev->is_virtfn;
	id->domain = pci_domain_nr(pdev->bus);
	id->bus = pdev->bus->number;
	id->devfn = pdev->devfn;
	if (pdev->is_virtfn) {
		struct pci_dev *pf = pci_physfn(pdev);
		int vf = pci_iov_vf_id(pdev);

		id->vf_id = vf < 0 ? 0xffff : vf;
		id->pf_domain = pci_domain_nr(pf->bus);
		id->pf_bus = pf->bus->number;
		id->pf_devfn = pf->devfn;
	}
}

int vfmig_glue_bar_iomap(struct vfio_pci_core_device *vdev, int bar, void __iomem **addr,
			 u64 *len)
{
	void __iomem *io;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	io = vfio_pci_core_get_iomap(vdev, bar);
	if (IS_ERR(io))
		return PTR_ERR(io);
	*addr = io;
	*len = pci_resource_len(vdev->pdev, bar);
	return 0;
}

int vfmig_glue_mem_begin(struct vfio_pci_core_device *vdev)
{
	down_read(&vdev->memory_lock);
	/* as vfio_pci_mmap_huge_fault: not while the device is in (or entering) low power */
	if (vdev->pm_runtime_engaged || !__vfio_pci_memory_enabled(vdev)) {
		up_read(&vdev->memory_lock);
		return -EIO;
	}
	return 0;
}

void vfmig_glue_mem_end(struct vfio_pci_core_device *vdev)
{
	up_read(&vdev->memory_lock);
}

/*
 * The user accessors: they wait for a reset that blocks config access (pci_cfg_access_lock)
 * instead of writing into it. Only the low byte, where MEMORY is, is written, and only the
 * MEMORY bit is changed back, so a VMM's write of the other byte is not undone. Returns
 * whether the bit was set here (to be cleared by ..._restore).
 */
u16 vfmig_glue_mem_decode_on(struct vfio_pci_core_device *vdev)
{
	u8 cmd;

	lockdep_assert_held_read(&vdev->memory_lock);
	if (pci_user_read_config_byte(vdev->pdev, PCI_COMMAND, &cmd) || cmd == 0xff ||
	    (cmd & PCI_COMMAND_MEMORY))
		return 0;
	if (pci_user_write_config_byte(vdev->pdev, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY))
		return 0;
	return 1;
}

void vfmig_glue_mem_decode_restore(struct vfio_pci_core_device *vdev, u16 set)
{
	u8 cmd;

	lockdep_assert_held_read(&vdev->memory_lock);
	if (!set || pci_user_read_config_byte(vdev->pdev, PCI_COMMAND, &cmd))
		return;
	if (pci_user_write_config_byte(vdev->pdev, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY))
		pci_warn(vdev->pdev, "vfmig: could not clear the memory enable it had set\n");
}

/* device_for_each_child() callback: a registered netdev of the PF with VF ops. rtnl held. */
static int vfmig_match_pf_netdev(struct device *dev, void *data)
{
	struct net_device **out = data;
	struct net_device *nd;

	if (!dev->class || strcmp(dev->class->name, "net"))
		return 0;
	nd = to_net_dev(dev);
	if (nd->reg_state != NETREG_REGISTERED || !nd->netdev_ops->ndo_get_vf_config)
		return 0;
	*out = nd;
	return 1;
}

int vfmig_glue_pf_vf_config(struct vfio_pci_core_device *vdev, struct vfmig_pf_vf_config *out)
{
	struct pci_dev *pdev = vdev->pdev, *pf;
	struct net_device *nd = NULL;
	struct ifla_vf_info ivi;
	int vf, ret = -ENODEV;

	if (!pdev->is_virtfn)
		return -ENODEV;
	pf = pci_physfn(pdev);
	vf = pci_iov_vf_id(pdev);
	if (vf < 0)
		return vf;

	/* As rtnl_fill_vfinfo() prepares it for the PF driver. */
	memset(&ivi, 0, sizeof(ivi));
	ivi.vlan_proto = htons(ETH_P_8021Q);
	ivi.spoofchk = -1;
	ivi.rss_query_en = -1;
	ivi.trusted = -1;

	/*
	 * The PF's netdev is a child of the PF's device, in whatever network namespace it lives:
	 * look among the PF's children, not through a namespace's list of every netdev. rtnl_lock
	 * keeps it registered while the PF driver answers, as for rtnl_fill_vfinfo().
	 */
	rtnl_lock();
	device_for_each_child(&pf->dev, &nd, vfmig_match_pf_netdev);
	if (nd)
		ret = nd->netdev_ops->ndo_get_vf_config(nd, vf, &ivi);
	rtnl_unlock();
	if (ret) {
		pci_info_ratelimited(pdev, "vfmig: the PF's view of VF %d is not readable (%pe)\n",
				     vf, ERR_PTR(ret));
		return ret;
	}

	memset(out, 0, sizeof(*out));
	memcpy(out->mac, ivi.mac, sizeof(out->mac));
	out->vlan = ivi.vlan;
	out->vlan_proto = ntohs(ivi.vlan_proto);
	out->qos = ivi.qos;
	out->spoofchk = ivi.spoofchk == 1;	/* -1: not reported */
	out->trusted = ivi.trusted == 1;
	out->link_state = ivi.linkstate;
	out->min_tx_rate = ivi.min_tx_rate;
	out->max_tx_rate = ivi.max_tx_rate;
	if (ivi.vlan > 4095 || ivi.qos > 7 || ivi.linkstate > IFLA_VF_LINK_STATE_DISABLE)
		return -EINVAL;
	return 0;
}

bool vfmig_glue_log_ratelimit(struct vfio_pci_core_device *vdev)
{
	struct vfmig_device *vmdev = container_of(vdev, struct vfmig_device, core);

	return __ratelimit(&vmdev->log_rs);
}

int vfmig_glue_dma_read(struct vfio_pci_core_device *vdev, u64 iova, void *buf, size_t len)
{
	return vfio_dma_rw(&vdev->vdev, iova, buf, len, false);
}

void vfmig_glue_bitmap_set(void *bitmap, u64 iova, u64 len)
{
	iova_bitmap_set(bitmap, iova, len);
}

/* Whether BAR0 bytes [@start, @start + @len) touch the trapped range. */
static bool vfmig_trapped(struct vfmig_device *vmdev, u64 start, u64 len)
{
	return vmdev->trap_end && len && start < vmdev->trap_end &&
	       start + len > vmdev->trap_start;
}

/* A @sz-byte (1, 2 or 4) register value to or from userspace, as vfio-pci copies it. */
static ssize_t vfmig_put_user(char __user *buf, u32 val, size_t sz)
{
	u16 v16 = val;
	u8 v8 = val;

	if (sz == 4)
		return copy_to_user(buf, &val, 4) ? -EFAULT : 4;
	if (sz == 2)
		return copy_to_user(buf, &v16, 2) ? -EFAULT : 2;
	return copy_to_user(buf, &v8, 1) ? -EFAULT : 1;
}

static int vfmig_get_user(const char __user *buf, u32 *val, size_t sz)
{
	u16 v16;
	u8 v8;

	if (sz == 4)
		return copy_from_user(val, buf, 4) ? -EFAULT : 0;
	if (sz == 2) {
		if (copy_from_user(&v16, buf, 2))
			return -EFAULT;
		*val = v16;
		return 0;
	}
	if (copy_from_user(&v8, buf, 1))
		return -EFAULT;
	*val = v8;
	return 0;
}

/*
 * One trapped access of @sz bytes at BAR0 offset @off: Rust logs what a write hands to the device
 * and performs the access itself, through the provider's shadows. The value inspected is the
 * value written (copied once from userspace). @sz bytes or -errno.
 */
static ssize_t vfmig_trap_rw(struct vfmig_device *vmdev, char __user *buf, u64 off, size_t sz,
			     bool iswrite)
{
	u32 val = 0;
	int ret;

	if (off + sz > pci_resource_len(vmdev->core.pdev, 0))
		return -EINVAL;
	if (iswrite) {
		ret = vfmig_get_user(buf, &val, sz);
		if (!ret)
			ret = vfmig_rs_trap_write(vmdev->rs, &vmdev->core, off, sz, val);
		return ret ? ret : sz;
	}
	ret = vfmig_rs_trap_read(vmdev->rs, &vmdev->core, off, sz, &val);
	return ret ? ret : vfmig_put_user(buf, val, sz);
}

/*
 * Userspace reads and writes of the device. Accesses touching the trapped part of BAR0 are split
 * into the accesses vfio_pci_core would make (4, 2 or 1 bytes, naturally aligned) and each
 * trapped one goes to Rust (vfmig_trap_rw); the others to vfio_pci_core.
 */
static ssize_t vfmig_rw(struct vfio_device *core_vdev, char __user *buf, size_t count,
			loff_t *ppos, bool iswrite)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);
	unsigned int index = VFIO_PCI_OFFSET_TO_INDEX(*ppos);
	u64 pos = *ppos & VFIO_PCI_OFFSET_MASK;
	size_t done = 0;

	if (index != VFIO_PCI_BAR0_REGION_INDEX || !vfmig_trapped(vmdev, pos, count))
		return iswrite ? vfio_pci_core_write(core_vdev, buf, count, ppos) :
				 vfio_pci_core_read(core_vdev, buf, count, ppos);

	/* As vfio_pci_rw(): the device leaves runtime low power for the access. */
	if (pm_runtime_resume_and_get(&vmdev->core.pdev->dev)) {
		pci_info_ratelimited(vmdev->core.pdev, "vfmig: runtime resume failed\n");
		return -EIO;
	}
	while (done < count) {
		size_t left = count - done, sz;
		u64 off = pos + done;
		ssize_t ret;

		if (left >= 4 && !(off % 4))
			sz = 4;
		else if (left >= 2 && !(off % 2))
			sz = 2;
		else
			sz = 1;
		if (vfmig_trapped(vmdev, off, sz)) {
			ret = vfmig_trap_rw(vmdev, buf + done, off, sz, iswrite);
		} else {
			loff_t p = *ppos + done;

			ret = iswrite ? vfio_pci_core_write(core_vdev, buf + done, sz, &p) :
					vfio_pci_core_read(core_vdev, buf + done, sz, &p);
		}
		if (ret < 0) {
			if (done)
				break;
			pm_runtime_put(&vmdev->core.pdev->dev);
			return ret;
		}
		done += ret;
	}
	pm_runtime_put(&vmdev->core.pdev->dev);
	*ppos += done;
	return done;
}

static ssize_t vfmig_write(struct vfio_device *core_vdev, const char __user *buf, size_t count,
			   loff_t *ppos)
{
	return vfmig_rw(core_vdev, (char __user *)buf, count, ppos, true);
}

static ssize_t vfmig_read(struct vfio_device *core_vdev, char __user *buf, size_t count,
			  loff_t *ppos)
{
	return vfmig_rw(core_vdev, buf, count, ppos, false);
}

/* No mapping of BAR0 may cover the trapped range. */
static int vfmig_mmap(struct vfio_device *core_vdev, struct vm_area_struct *vma)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);
	u64 index = vma->vm_pgoff >> (VFIO_PCI_OFFSET_SHIFT - PAGE_SHIFT);

	if (index == VFIO_PCI_BAR0_REGION_INDEX) {
		u64 start = ((u64)vma->vm_pgoff << PAGE_SHIFT) & VFIO_PCI_OFFSET_MASK;

		if (vfmig_trapped(vmdev, start, vma->vm_end - vma->vm_start))
			return -EINVAL;
	}
	return vfio_pci_core_mmap(core_vdev, vma);
}

/* BAR0 announces the parts outside the trapped range as its sparse mmap areas. */
static int vfmig_get_region_info_caps(struct vfio_device *core_vdev,
				      struct vfio_region_info *info, struct vfio_info_cap *caps)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);
	struct vfio_region_info_cap_sparse_mmap *sparse;
	u64 len = pci_resource_len(vmdev->core.pdev, 0);
	size_t size;
	u32 n = 0;
	int ret;

	ret = vfio_pci_ioctl_get_region_info(core_vdev, info, caps);
	if (ret || info->index != VFIO_PCI_BAR0_REGION_INDEX || !vmdev->trap_end ||
	    !(info->flags & VFIO_REGION_INFO_FLAG_MMAP))
		return ret;
	/* All of it trapped: nothing to map. */
	if (!vmdev->trap_start && vmdev->trap_end >= len) {
		info->flags &= ~VFIO_REGION_INFO_FLAG_MMAP;
		return 0;
	}

	size = struct_size(sparse, areas, 2);
	sparse = kzalloc(size, GFP_KERNEL);
	if (!sparse)
		return -ENOMEM;
	sparse->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
	sparse->header.version = 1;
	if (vmdev->trap_start) {
		sparse->areas[n].offset = 0;
		sparse->areas[n].size = vmdev->trap_start;
		n++;
	}
	if (vmdev->trap_end < len) {
		sparse->areas[n].offset = vmdev->trap_end;
		sparse->areas[n].size = len - vmdev->trap_end;
		n++;
	}
	sparse->nr_areas = n;
	ret = vfio_info_add_capability(caps, &sparse->header, struct_size(sparse, areas, n));
	kfree(sparse);
	return ret;
}

/*
 * ioeventfds write BAR registers from the kernel, around vfmig_write(): none while a range is
 * trapped (QEMU falls back to handling the access itself).
 */
static long vfmig_ioctl(struct vfio_device *core_vdev, unsigned int cmd, unsigned long arg)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);

	if (cmd == VFIO_DEVICE_IOEVENTFD && vmdev->trap_end)
		return -EOPNOTSUPP;
	return vfio_pci_core_ioctl(core_vdev, cmd, arg);
}

/* A dma-buf of a BAR lets other devices write it by peer-to-peer DMA: none while trapping. */
static int vfmig_device_feature(struct vfio_device *core_vdev, u32 flags, void __user *arg,
				size_t argsz)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);

	if ((flags & VFIO_DEVICE_FEATURE_MASK) == VFIO_DEVICE_FEATURE_DMA_BUF && vmdev->trap_end)
		return -EOPNOTSUPP;
	return vfio_pci_core_ioctl_feature(core_vdev, flags, arg, argsz);
}

static int vfmig_log_start(struct vfio_device *core_vdev, struct rb_root_cached *ranges,
			   u32 nnodes, u64 *page_size)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);
	struct interval_tree_node *node;
	struct vfmig_range *r;
	u32 n = 0;
	int ret;

#if IS_ENABLED(CONFIG_IOMMUFD)
	/*
	 * The tracker reads descriptors with vfio_dma_rw(), which needs a type1 container: a
	 * physical device bound to iommufd has no access object for it.
	 */
	if (core_vdev->iommufd_device)
		return -EOPNOTSUPP;
#endif
	r = kvmalloc_array(nnodes, sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	for (node = interval_tree_iter_first(ranges, 0, ULONG_MAX); node && n < nnodes;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX)) {
		r[n].first = node->start;
		r[n].last = node->last;
		n++;
	}
	ret = vfmig_rs_log_start(vmdev->rs, &vmdev->core, r, n, page_size);
	kvfree(r);
	return ret;
}

static int vfmig_log_stop(struct vfio_device *core_vdev)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);

	return vfmig_rs_log_stop(vmdev->rs);
}

static int vfmig_log_read_and_clear(struct vfio_device *core_vdev, unsigned long iova,
				    unsigned long length, struct iova_bitmap *dirty)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);

	return vfmig_rs_log_report(vmdev->rs, &vmdev->core, iova, length, dirty);
}

static const struct vfio_log_ops vfmig_log_ops = {
	.log_start = vfmig_log_start,
	.log_stop = vfmig_log_stop,
	.log_read_and_clear = vfmig_log_read_and_clear,
};

/* Marks @migf disabled: no read/write reaches the device any more. */
static void vfmig_disable_file(struct vfmig_mig_file *migf)
{
	mutex_lock(&migf->lock);
	migf->disabled = true;
	mutex_unlock(&migf->lock);
}

/* Disables and drops the device's data file unless it is generation @live. migf_lock held. */
static void vfmig_put_stale_file(struct vfmig_device *vmdev, u64 live)
{
	struct vfmig_mig_file *migf = vmdev->migf;

	lockdep_assert_held(&vmdev->migf_lock);
	if (!migf || (live && migf->gen == live))
		return;
	vfmig_disable_file(migf);
	fput(migf->filp);
	vmdev->migf = NULL;
}

static int vfmig_mig_release(struct inode *inode, struct file *filp)
{
	struct vfmig_mig_file *migf = filp->private_data;

	mutex_destroy(&migf->lock);
	kfree(migf);
	return 0;
}

/* Bytes of a data fd's read or write handled per step (one kernel bounce buffer). */
#define VFMIG_MIG_CHUNK 4096

/*
 * read() of a save data fd, one chunk at a time: under the file's lock (which keeps the file
 * from being disabled, and so the device from going away, meanwhile) Rust copies the next bytes
 * of the stream into a kernel buffer; the copy to userspace happens with no lock held, so a
 * reader stalled in a page fault (userfaultfd, FUSE) holds up no state change, reset or close.
 * Bytes that do not reach userspace are given back. A pending signal ends the read early.
 */
static ssize_t vfmig_mig_read(struct file *filp, char __user *buf, size_t len, loff_t *pos)
{
	struct vfmig_mig_file *migf = filp->private_data;
	size_t done = 0;
	ssize_t ret = 0;
	u8 *kbuf;

	if (pos)
		return -ESPIPE;
	kbuf = kmalloc(VFMIG_MIG_CHUNK, GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;
	while (done < len) {
		size_t start = 0;

		if (done && signal_pending(current))
			break;
		mutex_lock(&migf->lock);
		if (migf->disabled)
			ret = -ENODEV;
		else
			ret = vfmig_rs_mig_read(migf->vmdev->rs, migf->gen, kbuf,
						min_t(size_t, len - done, VFMIG_MIG_CHUNK), &start);
		mutex_unlock(&migf->lock);
		if (ret <= 0)
			break;
		if (copy_to_user(buf + done, kbuf, ret)) {
			mutex_lock(&migf->lock);
			if (!migf->disabled)
				vfmig_rs_mig_unread(migf->vmdev->rs, migf->gen, start);
			mutex_unlock(&migf->lock);
			ret = -EFAULT;
			break;
		}
		done += ret;
	}
	kfree(kbuf);
	return done ? done : ret;
}

/*
 * write() of a resume data fd, one chunk at a time: copied from userspace with no lock held,
 * then fed to Rust under the file's lock. A stream error is returned at once.
 */
static ssize_t vfmig_mig_write(struct file *filp, const char __user *buf, size_t len,
			       loff_t *pos)
{
	struct vfmig_mig_file *migf = filp->private_data;
	size_t done = 0;
	ssize_t ret = 0;
	u8 *kbuf;

	if (pos)
		return -ESPIPE;
	kbuf = kmalloc(VFMIG_MIG_CHUNK, GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;
	while (done < len) {
		size_t n = min_t(size_t, len - done, VFMIG_MIG_CHUNK);

		if (done && signal_pending(current))
			break;
		if (copy_from_user(kbuf, buf + done, n)) {
			ret = -EFAULT;
			break;
		}
		mutex_lock(&migf->lock);
		if (migf->disabled)
			ret = -ENODEV;
		else
			ret = vfmig_rs_mig_write(migf->vmdev->rs, &migf->vmdev->core, migf->gen,
						 kbuf, n);
		mutex_unlock(&migf->lock);
		if (ret)
			break;
		done += n;
	}
	kfree(kbuf);
	return done ? done : ret;
}

/*
 * VFIO_MIG_GET_PRECOPY_INFO: valid only in the PRE_COPY states (-EINVAL in any other, as the
 * uAPI asks); vfmig never reports VFIO_PRECOPY_INFO_REINIT, so flags stay 0 with or without
 * the PRECOPY_INFOv2 opt-in. Anything else is not ours.
 */
static long vfmig_mig_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct vfmig_mig_file *migf = filp->private_data;
	unsigned long minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	struct vfio_precopy_info info;
	u64 initial = 0, dirty = 0;
	int ret;

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	if (copy_from_user(&info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	mutex_lock(&migf->lock);
	if (migf->disabled)
		ret = -ENODEV;
	else
		ret = vfmig_rs_mig_precopy_info(migf->vmdev->rs, migf->gen, &initial, &dirty);
	mutex_unlock(&migf->lock);
	if (ret)
		return ret;
	info.flags = 0;
	info.initial_bytes = initial;
	info.dirty_bytes = dirty;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static const struct file_operations vfmig_save_fops = {
	.owner = THIS_MODULE,
	.read = vfmig_mig_read,
	.unlocked_ioctl = vfmig_mig_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = vfmig_mig_release,
	.llseek = noop_llseek,
};

static const struct file_operations vfmig_resume_fops = {
	.owner = THIS_MODULE,
	.write = vfmig_mig_write,
	.unlocked_ioctl = vfmig_mig_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = vfmig_mig_release,
	.llseek = noop_llseek,
};

static struct vfmig_mig_file *vfmig_alloc_file(struct vfmig_device *vmdev, bool save)
{
	struct vfmig_mig_file *migf;
	struct file *filp;

	migf = kzalloc_obj(*migf, GFP_KERNEL_ACCOUNT);
	if (!migf)
		return ERR_PTR(-ENOMEM);
	mutex_init(&migf->lock);
	migf->vmdev = vmdev;
	filp = anon_inode_getfile("vfmig_mig", save ? &vfmig_save_fops : &vfmig_resume_fops,
				  migf, save ? O_RDONLY : O_WRONLY);
	if (IS_ERR(filp)) {
		mutex_destroy(&migf->lock);
		kfree(migf);
		return ERR_CAST(filp);
	}
	migf->filp = filp;
	stream_open(filp->f_inode, filp);
	return migf;
}

static struct file *vfmig_set_state(struct vfio_device *core_vdev,
				    enum vfio_device_mig_state new_state)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);
	struct vfmig_mig_file *migf = NULL;
	u64 new_gen = 0, live_gen = 0;
	int ret;

	/*
	 * Only arcs into STOP_COPY, PRE_COPY(_P2P) and RESUMING can return a data fd (Rust says
	 * whether this one does; PRE_COPY_P2P -> STOP_COPY keeps the fd of PRE_COPY): make the
	 * file first, so that a failure to make it cannot follow a state change.
	 */
	if (new_state == VFIO_DEVICE_STATE_STOP_COPY || new_state == VFIO_DEVICE_STATE_RESUMING ||
	    new_state == VFIO_DEVICE_STATE_PRE_COPY || new_state == VFIO_DEVICE_STATE_PRE_COPY_P2P) {
		migf = vfmig_alloc_file(vmdev, new_state != VFIO_DEVICE_STATE_RESUMING);
		if (IS_ERR(migf))
			return ERR_CAST(migf);
	}

	mutex_lock(&vmdev->migf_lock);
	ret = vfmig_rs_mig_set_state(vmdev->rs, &vmdev->core, new_state, &new_gen, &live_gen);
	vfmig_put_stale_file(vmdev, live_gen);
	if (ret == 1 && migf) {
		migf->gen = new_gen;
		vmdev->migf = migf;
		get_file(migf->filp);	/* one reference for vmdev->migf, one for the fd */
		mutex_unlock(&vmdev->migf_lock);
		return migf->filp;
	}
	mutex_unlock(&vmdev->migf_lock);
	if (migf)
		fput(migf->filp);	/* never reached Rust's state: release frees it */
	if (ret < 0)
		return ERR_PTR(ret);
	return ret ? ERR_PTR(-EINVAL) : NULL;
}

static int vfmig_get_state(struct vfio_device *core_vdev, enum vfio_device_mig_state *state)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);
	u32 s;
	int ret;

	ret = vfmig_rs_mig_get_state(vmdev->rs, &s);
	if (!ret)
		*state = s;
	return ret;
}

static int vfmig_get_data_size(struct vfio_device *core_vdev, unsigned long *len)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);
	u64 n;
	int ret;

	ret = vfmig_rs_mig_data_size(vmdev->rs, &vmdev->core, &n);
	if (!ret)
		*len = n;
	return ret;
}

static const struct vfio_migration_ops vfmig_mig_ops = {
	.migration_set_state = vfmig_set_state,
	.migration_get_state = vfmig_get_state,
	.migration_get_data_size = vfmig_get_data_size,
};

static void vfmig_reset_done(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core = dev_get_drvdata(&pdev->dev);
	struct vfmig_device *vmdev;

	if (!core)
		return;
	vmdev = container_of(core, struct vfmig_device, core);
	if (vmdev->rs)
		vfmig_rs_reset_done(vmdev->rs);
}

static const struct pci_error_handlers vfmig_err_handlers = {
	.reset_done = vfmig_reset_done,
	.error_detected = vfio_pci_core_aer_err_detected,
};

static int vfmig_open_device(struct vfio_device *core_vdev)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);
	struct vfio_pci_core_device *vdev = &vmdev->core;
	const struct vfio_log_ops *log_ops;
	int ret;

	/*
	 * DMA logging needs the provider's doorbells trapped and vfio_dma_rw(), which reads guest
	 * memory through a type1 container only: a physical device bound to iommufd (cdev) has no
	 * access object for it. The core answers PROBE of DMA_LOGGING_START from log_ops alone, so
	 * log_ops is offered per open, as START would answer: through iommufd, PROBE says ENOTTY
	 * and a VMM picks IOMMU dirty tracking or refuses migration at realize, instead of failing
	 * at START. The device's ioctls run only while it is open, so no caller sees the change.
	 */
	log_ops = vmdev->trap_end ? &vfmig_log_ops : NULL;
#if IS_ENABLED(CONFIG_IOMMUFD)
	if (core_vdev->iommufd_device)
		log_ops = NULL;
#endif
	/*
	 * A deviation from vfio.h, which has log_ops set once before registration: nothing reads it
	 * concurrently but the VFIO debugfs "features" file, hence WRITE_ONCE. The callbacks were
	 * checked at build time (all three are set).
	 */
	WRITE_ONCE(core_vdev->log_ops, log_ops);

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;
	/* The BARs are mapped now; before finish_enable, as other variant drivers fail. */
	ret = vfmig_rs_open(vmdev->rs, vdev);
	if (ret) {
		vfio_pci_core_disable(vdev);
		return ret;
	}
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static void vfmig_close_device(struct vfio_device *core_vdev)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);

	mutex_lock(&vmdev->migf_lock);
	vfmig_rs_close(vmdev->rs);
	vfmig_put_stale_file(vmdev, 0);
	mutex_unlock(&vmdev->migf_lock);
	vfio_pci_core_close_device(core_vdev);
}

static int vfmig_state_show(struct seq_file *m, void *v)
{
	struct vfmig_device *vmdev = m->private;

	return vfmig_rs_show_state(vmdev->rs, m);
}
DEFINE_SHOW_ATTRIBUTE(vfmig_state);

static int vfmig_regs_show(struct seq_file *m, void *v)
{
	struct vfmig_device *vmdev = m->private;

	return vfmig_rs_show_regs(vmdev->rs, &vmdev->core, m);
}
DEFINE_SHOW_ATTRIBUTE(vfmig_regs);

static int vfmig_init_dev(struct vfio_device *core_vdev)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);

	mutex_init(&vmdev->migf_lock);
	ratelimit_state_init(&vmdev->log_rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);
	return vfio_pci_core_init_dev(core_vdev);
}

static void vfmig_release_dev(struct vfio_device *core_vdev)
{
	struct vfmig_device *vmdev = container_of(core_vdev, struct vfmig_device, core.vdev);

	mutex_destroy(&vmdev->migf_lock);
	vfio_pci_core_release_dev(core_vdev);
}

static const struct vfio_device_ops vfmig_ops = {
	.name = "vfmig",
	.init = vfmig_init_dev,
	.release = vfmig_release_dev,
	.open_device = vfmig_open_device,
	.close_device = vfmig_close_device,
	.ioctl = vfmig_ioctl,
	.get_region_info_caps = vfmig_get_region_info_caps,
	.device_feature = vfmig_device_feature,
	.read = vfmig_read,
	.write = vfmig_write,
	.mmap = vfmig_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
	.match_token_uuid = vfio_pci_core_match_token_uuid,
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
};

/*
 * The device's files go into the directory VFIO core made for it at registration
 * (/sys/kernel/debug/vfio/<BDF>/, where its migration/{state,features} are), as "vfmig/": where
 * VFIO users look, and gone with the VFIO device. Failures are not fatal (debugfs_create_*
 * accept an error parent); a missing VFIO directory (debugfs off or not created) gives none,
 * never a directory at the debugfs root.
 */
static void vfmig_debugfs_init(struct vfmig_device *vmdev)
{
#if IS_ENABLED(CONFIG_VFIO_DEBUGFS)
	struct dentry *root = vmdev->core.vdev.debug_root;

	if (IS_ERR_OR_NULL(root))
		return;
	vmdev->debugfs = debugfs_create_dir("vfmig", root);
	debugfs_create_file("state", 0400, vmdev->debugfs, vmdev, &vfmig_state_fops);
	debugfs_create_file("regs", 0400, vmdev->debugfs, vmdev, &vfmig_regs_fops);
#endif
}

static int vfmig_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vfmig_pci_ident ident;
	struct vfmig_device *vmdev;
	u32 mig_flags, trap_start, trap_end;
	int ret;

	vmdev = vfio_alloc_device(vfmig_device, core.vdev, &pdev->dev, &vfmig_ops);
	if (IS_ERR(vmdev))
		return PTR_ERR(vmdev);

	vfmig_fill_ident(pdev, &ident);
	ret = vfmig_rs_probe(pdev, &ident, &vmdev->rs);
	if (ret)
		goto out_put;

	/* Rust decides whether migration is offered (module parameter migration). */
	mig_flags = vfmig_rs_migration_flags();
	if (mig_flags) {
		vmdev->core.vdev.migration_flags = mig_flags;
		vmdev->core.vdev.mig_ops = &vfmig_mig_ops;
	}
	/*
	 * With migration comes DMA logging, which needs the provider's doorbells trapped; log_ops
	 * is set per open (vfmig_open_device), where the binding is known.
	 */
	if (vfmig_rs_trap_range(vmdev->rs, &trap_start, &trap_end) && trap_end > trap_start) {
		vmdev->trap_start = round_down(trap_start, PAGE_SIZE);
		vmdev->trap_end = round_up(trap_end, PAGE_SIZE);
	}

	dev_set_drvdata(&pdev->dev, &vmdev->core);
	ret = vfio_pci_core_register_device(&vmdev->core);
	if (ret)
		goto out_remove;

	vfmig_debugfs_init(vmdev);
	return 0;

out_remove:
	vfmig_rs_remove(vmdev->rs);
out_put:
	vfio_put_device(&vmdev->core.vdev);
	return ret;
}

static void vfmig_remove(struct pci_dev *pdev)
{
	struct vfmig_device *vmdev =
		container_of(pci_get_drvdata(pdev), struct vfmig_device, core);

	/*
	 * Waits for running show callbacks; no new ones start. Before the unregistration, which
	 * removes VFIO's directory (and would take ours with it, but after our callbacks' data
	 * may be gone).
	 */
	debugfs_remove(vmdev->debugfs);
	vfio_pci_core_unregister_device(&vmdev->core);
	vfmig_rs_remove(vmdev->rs);
	vfio_put_device(&vmdev->core.vdev);
}

/*
 * Bound only through driver_override, as every vfio-pci variant driver is: the PF driver's
 * VFs are normally claimed by igbvf.
 */
static const struct pci_device_id vfmig_pci_table[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_VENDOR_ID_INTEL, 0x10ca) }, /* 82576 VF */
	{}
};
#ifndef VFMIG_KUNIT
/* Not in the KUnit test module (Kbuild, VFMIG_KUNIT=1): it drives no device and must not be
 * what modules.alias resolves an 82576 VF to. */
MODULE_DEVICE_TABLE(pci, vfmig_pci_table);
#endif
MODULE_IMPORT_NS("IOMMUFD");
/* From the VERSION file (Kbuild), the one version of the module, dkms.conf and the packages. */
MODULE_VERSION(VFMIG_VERSION);

static struct pci_driver vfmig_pci_driver = {
	.name = "vfmig",
	.id_table = vfmig_pci_table,
	.probe = vfmig_probe,
	.remove = vfmig_remove,
	.err_handler = &vfmig_err_handlers,
	.driver_managed_dma = true,
};

int vfmig_glue_register_driver(void)
{
	return pci_register_driver(&vfmig_pci_driver);
}

void vfmig_glue_unregister_driver(void)
{
	pci_unregister_driver(&vfmig_pci_driver);
}
