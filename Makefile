# mhook build. `make` builds mhookd (x86-64 hosts) and libmhook; `make check` runs every
# test lane this machine can run; `make SANITIZE=1` builds with ASan+UBSan into build/san;
# `make ARCH=aarch64|arm` cross-builds libmhook into build/<arch>. Sources are found by
# wildcard so that a new file in a module directory needs no Makefile edit.

HOST_ARCH := $(shell uname -m)
ARCH      ?= $(HOST_ARCH)
SANITIZE  ?= 0

ifeq ($(ARCH),$(HOST_ARCH))
  BUILD := build
  CC    ?= cc
else
  BUILD := build/$(ARCH)
  ifeq ($(ARCH),aarch64)
    CC := aarch64-linux-gnu-gcc
  else ifeq ($(ARCH),arm)
    CC := arm-linux-gnueabihf-gcc
  else
    $(error ARCH must be x86_64, aarch64 or arm)
  endif
endif
ifeq ($(SANITIZE),1)
  BUILD := $(BUILD)/san
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

WARN    := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
           -Wimplicit-fallthrough -Wundef -Wwrite-strings -Wshadow
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) $(SANFLAGS) -Iinclude -I. -Itracer/arch/$(ARCH) -D_GNU_SOURCE \
           -DMHOOK_ARCH_$(ARCH)=1
LDFLAGS += $(SANFLAGS)

PYTEST  := /usr/bin/python3 -m pytest

.PHONY: all clean check unit deps demo bench compare install layers
all:

# --- relocators: pure code, every arch's compiles on every host --------------------------
RELOC_SRC := $(wildcard reloc/*.c)
ifneq ($(ARCH),x86_64)
  RELOC_SRC := $(filter-out reloc/x86_64%.c,$(RELOC_SRC))
endif
RELOC_OBJ := $(RELOC_SRC:%.c=$(BUILD)/obj/%.o)
ZYDIS_LIBS := -lZydis -lZycore

# --- mhookd (x86-64 for now) ---------------------------------------------------------------
ifeq ($(ARCH),x86_64)
MHOOKD_SRC := $(wildcard tracer/*.c tracer/arch/$(ARCH)/*.c strategies/*.c handlers/*.c sinks/*.c ipc/*.c)
MHOOKD_LIB_SRC := $(filter-out tracer/main.c,$(MHOOKD_SRC))
MHOOKD_OBJ := $(MHOOKD_LIB_SRC:%.c=$(BUILD)/obj/%.o)
JSONC_CFLAGS := $(shell pkg-config --cflags json-c 2>/dev/null || echo -I/usr/include/json-c)
MHOOKD_LIBS := -lelf $(ZYDIS_LIBS) -ljson-c -lpthread -lstdc++
CFLAGS += $(JSONC_CFLAGS)

$(BUILD)/libmhookd-core.a: $(MHOOKD_OBJ) $(RELOC_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/mhookd: $(BUILD)/obj/tracer/main.o $(BUILD)/libmhookd-core.a
	$(CC) $(LDFLAGS) -o $@ $^ $(MHOOKD_LIBS)

all: $(BUILD)/mhookd

# C unit tests: each tests/unit/test_*.c is one program linked against the core library.
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmhookd-core.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmhookd-core.a $(MHOOKD_LIBS)

# Traced test targets are never sanitized (LeakSanitizer aborts under ptrace and ASan's
# allocator skews malloc counts), so they always go to build/targets.
TARGET_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE
-include tests/targets/build.mk
-include client/build.mk
endif

-include libmhook/build.mk
-include man/install.mk
-include tests/fuzz/build.mk
install: install-man

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

unit: all $(UNIT_BIN) $(if $(filter x86_64,$(ARCH)),targets)
	@tests/run_c.sh $(UNIT_BIN)

deps:
	@tools/deps.sh

# Calls and includes go down the layers (docs/architecture.md).
layers: all
	/usr/bin/python3 tools/layers.py $(CURDIR)/build

# The whole suite: native build, the sanitized build, unit tests, the Python client's and
# the integration tests, a short run of the protocol fuzzer, and the libmhook lanes
# (libmhook/build.mk adds to CHECK_LANES).
check: deps
	$(MAKE) all unit targets
	/usr/bin/python3 tools/layers.py $(CURDIR)/build
	$(MAKE) SANITIZE=1 all unit
	$(PYTEST) -q tests/python tests/integration
	MHOOKD=$(CURDIR)/build/san/mhookd $(PYTEST) -q tests/integration
	$(MAKE) fuzz-smoke
	@for lane in $(CHECK_LANES); do $(MAKE) $$lane || exit 1; done

demo: deps
	$(MAKE) all targets
	tools/demo.sh

# BENCH_BASELINE=path/to/an/older/mhookd measures it too, in the same run.
bench: all targets
	/usr/bin/python3 tools/bench.py $(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE))
	/usr/bin/python3 tools/bench_server.py
	/usr/bin/python3 tools/bench_scale.py
	$(MAKE) libmhook-bench

compare: all targets
	/usr/bin/python3 tools/compare.py

PREFIX  ?= /usr/local
DESTDIR ?=

clean:
	rm -rf build
