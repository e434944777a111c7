# libmhook's test lanes (included from libmhook/build.mk). Native tests link the static
# libmhook.a into dynamic executables (dladdr1, GOT and lazy binding are exercised), and
# test_patch is linked once more against libmhook.so. Cross lanes build static binaries
# and run them under qemu-user (plus dynamic builds of test_patch and test_slots, run
# against the cross libc); on ARM every C test is built as Thumb (the Debian default) and
# as ARM code. The relocator unit tests are built here too, from the relocator sources
# alone, so that every arch's relocator runs on every lane; on x86-64 also the fast length
# decoder's cross-check against Zydis (libmhook's branch-into sweeps use it). test_far
# runs with MHOOK_FORCE_FAR=1; MHOOK_TEST_ROUNDS sets test_threads' and test_batch's
# rounds (fewer under qemu). test_batch patches the benchmark's generated functions (bench_funcs.c).

LMT_DIR   := $(BUILD)/tests/libmhook
LMT_HAZ   := tests/libmhook/hazards_$(ARCH).S
LMT_NAMES := test_patch test_threads test_slots test_libc test_far test_batch
LMT_EXTRA_test_batch := tests/libmhook/bench_funcs.c
LMT_UNIT_SRC := $(wildcard tests/unit/test_reloc_aarch64.c tests/unit/test_reloc_arm.c)
LMT_RELOC_PURE := $(wildcard reloc/aarch64*.c reloc/arm*.c)

ifeq ($(ARCH),$(HOST_ARCH))
  LMT_LINK := -rdynamic
  LMT_RUN  :=
else
  LMT_LINK := -static
  LMT_RUN  := qemu-$(ARCH)
  # Dynamic builds too, run against Debian's cross libc: they exercise dladdr1, GOT
  # patching (R_AARCH64_*/R_ARM_* JUMP_SLOT and GLOB_DAT) and lazy binding.
  LMT_TRIPLE_aarch64 := aarch64-linux-gnu
  LMT_TRIPLE_arm := arm-linux-gnueabihf
  LMT_RUN_DYN := qemu-$(ARCH) -L /usr/$(LMT_TRIPLE_$(ARCH))
  LMT_DYN_BINS := $(LMT_DIR)/dyn/test_patch $(LMT_DIR)/dyn/test_slots
endif
ifeq ($(ARCH),arm)
  LMT_MODES := thumb arm
else
  LMT_MODES := native
endif
LMT_MODEFLAGS_thumb := -mthumb
LMT_MODEFLAGS_arm := -marm
LMT_MODEFLAGS_native :=

LMT_BINS := $(foreach m,$(LMT_MODES),$(foreach t,$(LMT_NAMES),$(LMT_DIR)/$(m)/$(t)))
LMT_UNIT_BINS := $(LMT_UNIT_SRC:tests/unit/%.c=$(LMT_DIR)/unit/%)
ifeq ($(ARCH),x86_64)
  LMT_UNIT_BINS += $(LMT_DIR)/unit/test_x86_64_quick
endif
ifeq ($(SANITIZE),1)
  # ASan replaces malloc and memcpy itself: the libc self-hooking test runs unsanitized.
  LMT_BINS := $(filter-out %/test_libc,$(LMT_BINS))
endif
ifeq ($(ARCH),$(HOST_ARCH))
  LMT_BINS += $(LMT_DIR)/native/test_patch_so
endif

define LMT_MODE_RULE
$(LMT_DIR)/$(1)/%: tests/libmhook/%.c $(LMT_HAZ) $(BUILD)/libmhook.a tests/libmhook/check.h \
		tests/libmhook/bench_funcs.c tests/libmhook/bench.h
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $(LMT_MODEFLAGS_$(1)) $$(LDFLAGS) $(LMT_LINK) -Wl,-z,lazy -o $$@ $$< \
		$$(LMT_EXTRA_$$*) $(LMT_HAZ) $(BUILD)/libmhook.a $$(LIBMHOOK_LIBS) -lpthread
endef
$(foreach m,$(LMT_MODES),$(eval $(call LMT_MODE_RULE,$(m))))

$(LMT_DIR)/dyn/%: tests/libmhook/%.c $(LMT_HAZ) $(BUILD)/libmhook.a tests/libmhook/check.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -rdynamic -Wl,-z,lazy -o $@ $< $(LMT_HAZ) $(BUILD)/libmhook.a \
		$(LIBMHOOK_LIBS) -lpthread

$(LMT_DIR)/native/test_patch_so: tests/libmhook/test_patch.c $(LMT_HAZ) $(BUILD)/libmhook.so
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LMT_HAZ) -L$(BUILD) -l:libmhook.so \
		-Wl,-rpath,$(CURDIR)/$(BUILD)

$(LMT_DIR)/unit/%: tests/unit/%.c $(LMT_RELOC_PURE)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $(if $(LMT_RUN),-static) -o $@ $< $(LMT_RELOC_PURE)

$(LMT_DIR)/unit/test_x86_64_quick: tests/unit/test_x86_64_quick.c reloc/x86_64_quick.c \
		reloc/x86_64_quick.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< reloc/x86_64_quick.c $(ZYDIS_LIBS)

.PHONY: libmhook-tests libmhook-run libmhook-check-native libmhook-check-aarch64 \
	libmhook-check-arm libmhook-bench
libmhook-tests: $(BUILD)/libmhook.a $(LMT_BINS) $(LMT_UNIT_BINS) $(LMT_DYN_BINS)

# A hung test (a parking bug) must fail the lane, not stall it.
LMT_TIMEOUT := timeout 300

libmhook-run: libmhook-tests
	@tests/run_c.sh $(foreach t,$(LMT_UNIT_BINS) $(LMT_BINS),\
		"MHOOK_FORCE_FAR=$(if $(filter %/test_far,$(t)),1,0) $(LMT_TIMEOUT) $(LMT_RUN) $(t)") \
		$(foreach t,$(LMT_DYN_BINS),"$(LMT_TIMEOUT) $(LMT_RUN_DYN) $(t)")

libmhook-check-native:
	$(MAKE) libmhook-run example-seed
	$(MAKE) SANITIZE=1 libmhook-run

libmhook-check-aarch64:
	$(MAKE) ARCH=aarch64 libmhook-run MHOOK_TEST_ROUNDS=500

libmhook-check-arm:
	$(MAKE) ARCH=arm libmhook-run MHOOK_TEST_ROUNDS=500

export MHOOK_TEST_ROUNDS

CHECK_LANES += libmhook-check-native libmhook-check-aarch64 libmhook-check-arm

$(LMT_DIR)/bench: tests/libmhook/bench.c tests/libmhook/bench_funcs.c tests/libmhook/bench.h $(BUILD)/libmhook.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $(LMT_LINK) -o $@ tests/libmhook/bench.c \
		tests/libmhook/bench_funcs.c $(BUILD)/libmhook.a $(LIBMHOOK_LIBS) -lpthread

libmhook-bench: $(LMT_DIR)/bench
	$(LMT_RUN) $(LMT_DIR)/bench $(BENCH_CALLS)
