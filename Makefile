# Two commands matter: `make demo` and `make test`.  Both set up everything
# they need on a fresh Debian/Ubuntu machine (run as root).
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := clang clang-19 llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make gcc \
	libc6-dev python3-venv python3-dev \
	openmpi-bin libopenmpi-dev mpich libmpich-dev libhdf5-dev liburing-dev
# One file per package group: if any is missing, the packages are installed.
APT_PROBES := /usr/bin/clang /usr/bin/clang-19 /usr/sbin/bpftool /usr/include/bpf/libbpf.h /usr/include/gelf.h \
	/usr/bin/mpicc /usr/bin/mpicc.mpich /usr/include/hdf5/serial/hdf5.h /usr/include/liburing.h
INSTALLED := $(VENV)/.installed
# The package is installed editable: Python edits are live, and only a
# change to what is compiled (BPF objects, the shim) or to the package's
# description reinstalls it.
SOURCES := $(wildcard bpf/*.c bpf/*.h csrc/*.c csrc/*.h csrc/*.py) setup.py pyproject.toml

# Compilers whose objects must load within the verifier budget (make test).
REPORT_COMPILERS := clang clang-19
CLANG ?= clang

.PHONY: all setup demo test test-unit lint bench bench-compare clean verifier-report kernels

all: setup

# System packages: only installed when a tool is missing.
.apt-done:
	@missing=0; for f in $(APT_PROBES); do [ -e $$f ] || missing=1; done; \
	if [ $$missing = 1 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); \
	fi
	@touch $@

$(VENV)/bin/python: .apt-done
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(INSTALLED): $(VENV)/bin/python $(SOURCES) requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q -e .
	@touch $@

setup: $(INSTALLED)

demo: setup
	@bash demo/run.sh $(VENV)

# make test boots one kernel besides the running one (the oldest we claim);
# make kernels boots them all.
TEST_KERNEL := 6.1.0-57-amd64

test: setup
	$(MAKE) --no-print-directory lint
	@for c in $(REPORT_COMPILERS); do $(MAKE) --no-print-directory verifier-report CLANG=$$c || exit 1; done
	$(PY) -m pytest -q tests
	python3 kernels/matrix.py --only $(TEST_KERNEL) --out build/kernels-test.md

# Every kernel of kernels/list.txt (or a subset: make kernels KERNELS="6.12 running"),
# booted in qemu: verifier report and smoke recordings; rewrites docs/kernels.md.
kernels: setup
	@$(MAKE) --no-print-directory -s -C bpf CLANG=clang-19 OUT=$(CURDIR)/build/bpf-clang-19
	python3 kernels/matrix.py --out docs/kernels.md $(if $(KERNELS),--only $(KERNELS))

# ruff on every Python file of the tree, mypy --strict on the package and
# the scripts (what each checks: pyproject.toml).
lint: setup
	$(PY) -m ruff check
	$(PY) -m mypy

# The tests that need no root and no BPF: the core (format, logs, merge,
# heatmap arithmetic, the import contract), in seconds.
test-unit: setup
	$(PY) -m pytest -q -m "not kernel" tests

# Every program of the objects $(CLANG) builds, loaded on the running kernel:
# its stack and verified instructions against the budget (docs/kernels.md).
verifier-report: setup
	@$(MAKE) --no-print-directory -s -C bpf CLANG=$(CLANG) OUT=$(CURDIR)/build/bpf-$(CLANG)
	$(PY) -m ebpf_darshan.verifier_report --objects build/bpf-$(CLANG)

bench: setup
	$(PY) bench/overhead.py
	$(PY) bench/pause.py

# This tree against another source tree built in place (docs/performance.md).
bench-compare: setup
	@test -n "$(BASELINE)" || { echo "usage: make bench-compare BASELINE=DIR"; exit 2; }
	cd bench && ../$(PY) compare.py $(BASELINE)

clean:
	rm -rf build src/*.egg-info src/ebpf_darshan/bpf src/ebpf_darshan/_shim* .apt-done
	$(MAKE) -C bpf clean
