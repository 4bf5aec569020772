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
#   make clean

VFMIG_CACHE ?= $(HOME)/.cache/vfmig
VFMIG_KERNEL_VARIANT ?= base
KDIR ?= $(VFMIG_CACHE)/build/$(VFMIG_KERNEL_VARIANT)
LLVM ?= -19
RUST_LIB_SRC ?= /usr/src/rustc-$(shell rustc --version | cut -d' ' -f2)/library
export PATH := $(HOME)/.cargo/bin:$(PATH)

KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM) RUST_LIB_SRC=$(RUST_LIB_SRC)

.PHONY: all modules clippy kernel clean check check-sanitize demo bench fuzz modules_install

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

clean:
	$(KMAKE) clean
