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
#   make dkms-install   install the source into /usr/src/vfmig-$(VERSION) and dkms install it
#   make vfmigctl-docs  vfmigctl's man pages and bash/zsh/fish completions, from its clap
#                   definition, into build/vfmigctl/{man,completions}
#   make clean
#
# KDIR=  the kernel build tree (a full one: see scripts/prebuild-check); LLVM= comes from its config.

VFMIG_CACHE ?= $(HOME)/.cache/vfmig
VFMIG_KERNEL_VARIANT ?= base
KDIR ?= $(VFMIG_CACHE)/build/$(VFMIG_KERNEL_VARIANT)
# rustc: the one on PATH, else rustup's in ~/.cargo/bin (scripts/prebuild-check finds the same).
ifeq ($(shell command -v rustc),)
export PATH := $(HOME)/.cargo/bin:$(PATH)
endif
RUST_LIB_SRC ?= /usr/src/rustc-$(shell rustc --version | cut -d' ' -f2)/library
VFMIG_VERSION := $(strip $(file <$(CURDIR)/VERSION))

# LLVM: the clang/LLVM the target kernel was built with, from its config (scripts/kernel-llvm:
# -19 for the test kernel, built with Debian's clang-19); nothing for a GCC-built kernel.
# LLVM=... on the command line wins.
# (Not fatal here: targets that do not build the module must work without a kernel.)
ifeq ($(origin LLVM),undefined)
ifneq ($(wildcard $(KDIR)/.config $(KDIR)/include/config/auto.conf),)
LLVM := $(shell $(CURDIR)/scripts/kernel-llvm $(KDIR) || echo FAILED)
endif
endif
# dkms 3.1.2 and later pass LLVM=1 for a clang-built kernel ("clang, version unknown"), which
# needs unversioned clang/ld.lld/llvm-*: where the kernel's own clang is found under another
# name (Debian's clang-19), that is used instead.
ifeq ($(origin LLVM)/$(LLVM),command line/1)
ifneq ($(wildcard $(KDIR)/.config $(KDIR)/include/config/auto.conf),)
VFMIG_LLVM_FOUND := $(shell $(CURDIR)/scripts/kernel-llvm $(KDIR) 2>/dev/null)
ifneq ($(VFMIG_LLVM_FOUND),)
override LLVM := $(VFMIG_LLVM_FOUND)
MAKEOVERRIDES := $(filter-out LLVM=1,$(MAKEOVERRIDES))
endif
endif
endif
# A kernel built with LLVM takes CC, LD, ... from LLVM=. DKMS adds "CC=clang LD=ld.lld" to the
# make command when vmlinux was built by clang, whatever its version suffix (Debian has clang-19
# and no clang): those two are not passed on, so that the kernel's make chooses the tools from
# LLVM=. Any other CC= or LD= given on the command line is.
ifneq ($(LLVM),)
MAKEOVERRIDES := $(filter-out CC=clang LD=ld.lld,$(MAKEOVERRIDES))
endif

# Warnings are errors (Kbuild) in the project's own builds: by default against the project's
# test kernel (KDIR has scripts/kernel's stamp), and always in scripts/check. A user's or DKMS
# build against another kernel (dkms.conf passes VFMIG_WERROR=0) does not fail on a warning that
# another compiler version finds.
VFMIG_WERROR ?= $(if $(wildcard $(KDIR)/.vfmig-stamp),1,0)

# Before building: the LLVM choice succeeded, then scripts/prebuild-check.
PREBUILD = @if [ "$(LLVM)" = FAILED ]; then echo "vfmig: no LLVM for $(KDIR) (above); pass LLVM=" >&2; exit 1; fi; \
	$(CURDIR)/scripts/prebuild-check $(KDIR)

KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) $(if $(LLVM),LLVM=$(LLVM)) RUST_LIB_SRC=$(RUST_LIB_SRC) \
	VFMIG_WERROR=$(VFMIG_WERROR)
KMAKE_KUNIT = $(MAKE) -C $(KDIR) M=$(KUNIT_SRC) MO=$(KUNIT_OUT) VFMIG_KUNIT=1 \
	$(if $(LLVM),LLVM=$(LLVM)) RUST_LIB_SRC=$(RUST_LIB_SRC) VFMIG_WERROR=$(VFMIG_WERROR)

.PHONY: all modules clippy kunit kernel clean check check-sanitize check-e2e demo bench bench-e2e fuzz soak modules_install dkms-install vfmigctl-docs

all: modules

# Objects built against another build of the test kernel are not always seen stale by kbuild
# (a config change reshaped struct pci_dev under an unchanged vfmig_glue.o): clean when the
# kernel's build stamp (scripts/kernel) changed since the last module build.
KSTAMP_CHECK = if [ -f $(KDIR)/.vfmig-stamp ] && ! cmp -s $(KDIR)/.vfmig-stamp .vfmig-kstamp; then \
	$(KMAKE) clean >/dev/null && cp $(KDIR)/.vfmig-stamp .vfmig-kstamp; fi

# The toolchain and the kernel's Rust artefacts first (scripts/prebuild-check): a clear message
# instead of rustc's "incompatible version" errors.
modules:
	$(PREBUILD)
	@$(KSTAMP_CHECK)
	$(KMAKE) modules

clippy:
	$(PREBUILD)
	@$(KSTAMP_CHECK)
	$(KMAKE) CLIPPY=1 modules

# The test module: the same sources built with the KUnit suites as build/kunit/vfmig_kunit.ko.
# kbuild's MO= keeps its objects apart from the production ones, but refuses a source directory
# that holds a build (modules.order), so the sources are seen through build/kunit/src, a
# directory of symlinks to this tree. CLIPPY=1 lints it.
KUNIT_OUT = $(CURDIR)/build/kunit
KUNIT_SRC = $(KUNIT_OUT)/src
kunit:
	$(PREBUILD)
	@mkdir -p $(KUNIT_SRC)
	@for f in Kbuild VERSION rust tools; do ln -sfn $(CURDIR)/$$f $(KUNIT_SRC)/$$f; done
	@if [ -f $(KDIR)/.vfmig-stamp ] && ! cmp -s $(KDIR)/.vfmig-stamp $(KUNIT_OUT)/.vfmig-kstamp; then \
		$(KMAKE_KUNIT) clean >/dev/null && cp $(KDIR)/.vfmig-stamp $(KUNIT_OUT)/.vfmig-kstamp; fi
	$(KMAKE_KUNIT) $(if $(CLIPPY),CLIPPY=$(CLIPPY)) modules

modules_install:
	$(KMAKE) modules_install

# From source with DKMS (root): the module's source into /usr/src/vfmig-$(VERSION) (scripts/
# dkms-source), then built and installed for the running kernel, and for new kernels by
# AUTOINSTALL. Undone by: dkms remove vfmig/$(VERSION) --all; rm -r /usr/src/vfmig-$(VERSION)
dkms-install:
	scripts/dkms-source $(DESTDIR)/usr/src/vfmig-$(VFMIG_VERSION)
	$(if $(DESTDIR),,dkms install vfmig/$(VFMIG_VERSION))

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

# Generated by the hidden `vfmigctl generate` (clap_mangen, clap_complete): never out of date
# with --help. Install e.g. man/*.1 to /usr/share/man/man1, completions/vfmigctl.bash to
# /usr/share/bash-completion/completions/vfmigctl, _vfmigctl to a $$fpath directory,
# vfmigctl.fish to /usr/share/fish/vendor_completions.d.
VFMIGCTL_DOCS ?= $(CURDIR)/build/vfmigctl
VFMIGCTL_RUN = cargo run -q --manifest-path tools/Cargo.toml -p vfmigctl --
vfmigctl-docs:
	rm -rf $(VFMIGCTL_DOCS) && mkdir -p $(VFMIGCTL_DOCS)
	$(VFMIGCTL_RUN) generate man $(VFMIGCTL_DOCS)/man
	for sh in bash zsh fish; do \
		$(VFMIGCTL_RUN) generate completions $$sh $(VFMIGCTL_DOCS)/completions || exit 1; \
	done

clean:
	$(KMAKE) clean
	rm -rf $(KUNIT_OUT)
