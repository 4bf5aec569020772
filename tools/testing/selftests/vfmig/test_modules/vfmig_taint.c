// SPDX-License-Identifier: GPL-2.0
/*
 * vfmig_taint: the kernel's taint mask for the guest tests. The test kernel has no
 * CONFIG_SYSCTL, so no /proc/sys/kernel/tainted; /sys/module/vfmig_taint/parameters/tainted
 * shows the same number. Built out of tree like vfmig.ko, so loading it sets the out-of-tree
 * taint (and, on a kernel that checks module signatures, the unsigned one) itself: after it is
 * loaded, loading vfmig must change nothing (run_vm.sh, module.load_no_test_taint).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/panic.h>
#include <linux/sysfs.h>

static int tainted_get(char *buf, const struct kernel_param *kp)
{
	unsigned long mask = 0;
	unsigned int i;

	for (i = 0; i < TAINT_FLAGS_COUNT; i++)
		if (test_taint(i))
			mask |= 1UL << i;
	return sysfs_emit(buf, "%lu\n", mask);
}

static const struct kernel_param_ops tainted_ops = {
	.get = tainted_get,
};
module_param_cb(tainted, &tainted_ops, NULL, 0444);
MODULE_PARM_DESC(tainted, "The kernel's taint mask, as /proc/sys/kernel/tainted shows it");

static int __init vfmig_taint_init(void)
{
	return 0;
}
module_init(vfmig_taint_init);

static void __exit vfmig_taint_exit(void)
{
}
module_exit(vfmig_taint_exit);

MODULE_DESCRIPTION("vfmig selftests: the kernel's taint mask on a kernel without sysctl");
MODULE_LICENSE("GPL");
