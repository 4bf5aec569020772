# SPDX-License-Identifier: GPL-2.0
#
# vfmig top-level Makefile.
#
#   make            build vfmig.ko against KDIR (default: the cached test kernel, scripts/kernel)
#   make check      host tests, kernel + module build, VM tests; ends with "N passed, N failed"
#   make check-sanitize  the VM tests on the KASAN/lockdep/kmemleak kernel (slow, not in CI)
#   make demo       boot the test VM and show vfmig driving a VF
#   make bench      benchmarks (print numbers)
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

.PHONY: all modules clippy kernel clean check check-sanitize demo bench fuzz soak modules_install

all: modules

modules:
	$(KMAKE) modules

clippy:
	$(KMAKE) CLIPPY=1 modules

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
