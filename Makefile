# SPDX-License-Identifier: GPL-2.0
#
# vfmig top-level Makefile.
#
#   make            build vfmig.ko against KDIR (default: the cached test kernel, scripts/kernel)
#   make kunit      the test module build/kunit/vfmig_kunit.ko: the same sources with the KUnit
#                   suites (VFMIG_KUNIT=1, --cfg vfmig_kunit); vfmig.ko never has them
#   make check      host tests, kernel + module build, VM tests; ends with "N passed, N failed"
#   make check-sanitize  the VM tests on the KASAN/lockdep/kmemleak kernel (slow, not in CI)
#   make demo       boot the test VM and show vfmig driving a VF
#   make bench      benchmarks (print numbers)
#   make bench-e2e  end to end with QEMU: vfmig against logging off and hot-unplug (one table)
#   make check-e2e  the longer end-to-end scenarios (make check runs the short one)
#   make fuzz       a longer fuzzing run of the state decoder
#   make soak       the interleaving/race suite alone, long (SOAK_STEPS, SOAK_RACE_SECONDS)
#   make clean

VFMIG_CACHE ?= $(HOME)/.cache/vfmig
VFMIG_KERNEL_VARIANT ?= base
KDIR ?= $(VFMIG_CACHE)/build/$(VFMIG_KERNEL_VARIANT)
LLVM ?= -19
RUST_LIB_SRC ?= /usr/src/rustc-$(shell rustc --version | cut -d' ' -f2)/library
export PATH := $(HOME)/.cargo/bin:$(PATH)

KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM) RUST_LIB_SRC=$(RUST_LIB_SRC)
KMAKE_KUNIT = $(MAKE) -C $(KDIR) M=$(KUNIT_SRC) MO=$(KUNIT_OUT) VFMIG_KUNIT=1 LLVM=$(LLVM) RUST_LIB_SRC=$(RUST_LIB_SRC)

.PHONY: all modules clippy kunit kernel clean check check-sanitize check-e2e demo bench bench-e2e fuzz soak modules_install

all: modules

# Objects built against another build of the test kernel are not always seen stale by kbuild
# (a config change reshaped struct pci_dev under an unchanged vfmig_glue.o): clean when the
# kernel's build stamp (scripts/kernel) changed since the last module build.
KSTAMP_CHECK = if [ -f $(KDIR)/.vfmig-stamp ] && ! cmp -s $(KDIR)/.vfmig-stamp .vfmig-kstamp; then \
	$(KMAKE) clean >/dev/null && cp $(KDIR)/.vfmig-stamp .vfmig-kstamp; fi

modules:
	@$(KSTAMP_CHECK)
	$(KMAKE) modules

clippy:
	@$(KSTAMP_CHECK)
	$(KMAKE) CLIPPY=1 modules

# The test module: the same sources built with the KUnit suites as build/kunit/vfmig_kunit.ko.
# kbuild's MO= keeps its objects apart from the production ones, but refuses a source directory
# that holds a build (modules.order), so the sources are seen through build/kunit/src, a
# directory of symlinks to this tree. CLIPPY=1 lints it.
KUNIT_OUT = $(CURDIR)/build/kunit
KUNIT_SRC = $(KUNIT_OUT)/src
kunit:
	@mkdir -p $(KUNIT_SRC)
	@for f in Kbuild rust tools; do ln -sfn $(CURDIR)/$$f $(KUNIT_SRC)/$$f; done
	@if [ -f $(KDIR)/.vfmig-stamp ] && ! cmp -s $(KDIR)/.vfmig-stamp $(KUNIT_OUT)/.vfmig-kstamp; then \
		$(KMAKE_KUNIT) clean >/dev/null && cp $(KDIR)/.vfmig-stamp $(KUNIT_OUT)/.vfmig-kstamp; fi
	$(KMAKE_KUNIT) $(if $(CLIPPY),CLIPPY=$(CLIPPY)) modules

modules_install:
	$(KMAKE) modules_install

kernel:
	scripts/kernel $(VFMIG_KERNEL_VARIANT)

check:
	scripts/check

check-sanitize:
	scripts/check-sanitize

demo:
	scripts/demo

bench:
	scripts/bench

bench-e2e:
	scripts/bench-e2e

# Every end-to-end scenario but make check's and the bench (e2e/e2e_vm.sh): plain, a guest paused
# and resumed during the migration, Rx rings wrapping in pre-copy, cross-PF, refusal by a
# vfio-pci target, QEMU's iommufd backend.
check-e2e: modules
	rm -rf build/check-e2e && mkdir -p build/check-e2e
	scripts/vm --igb 2 --name check-e2e --out $(CURDIR)/build/check-e2e --timeout 3600 \
		-- tools/testing/selftests/vfmig/e2e/e2e_vm.sh plain paused ringwrap crosspf refuse iommufd

fuzz:
	scripts/fuzz $${FUZZ_SECONDS:-600}

# vfmig_interleave_test and vfmig_race_test for longer than in `make check` (a random seed each
# time unless SOAK_SEED is set; the seed is printed), in a VM of their own. The defaults take
# a little over an hour under TCG (about 2.9 ms a step, then the races, removals and rmmods;
# 800000 steps took 56 minutes in all).
SOAK_STEPS ?= 1100000
SOAK_RACE_SECONDS ?= 900
SOAK_SEED ?=
# The results are checked against the manifest's interleave/race names (build/soak/manifest.log).
soak: modules
	$(MAKE) -s -C tools/testing/selftests/vfmig KDIR=$(KDIR) OUTPUT=$(CURDIR)/build/selftests
	rm -rf build/soak && mkdir -p build/soak
	scripts/vm --igb 2 --name soak --out $(CURDIR)/build/soak \
		--timeout $$(( $(SOAK_STEPS) / 100 + $(SOAK_RACE_SECONDS) + 1800 )) \
		--append "VFMIG_INTERLEAVE_STEPS=$(SOAK_STEPS) VFMIG_RACE_SECONDS=$(SOAK_RACE_SECONDS) $(if $(SOAK_SEED),VFMIG_SEED=$(SOAK_SEED))" \
		-- tools/testing/selftests/vfmig/interleave_vm.sh
	{ printf 'module.install\nmodule.modprobe\nmodule.rmmod\n'; \
	  grep -E '^(interleave|race)[._]' tools/testing/selftests/vfmig/expected-results; } \
		>build/soak/expected-results
	scripts/check-results build/soak/results build/soak/expected-results >build/soak/manifest.log; \
		rc=$$?; cat build/soak/manifest.log; exit $$rc

clean:
	$(KMAKE) clean
	rm -rf $(KUNIT_OUT)
