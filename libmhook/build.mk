# libmhook: the in-process patcher. Included by the top Makefile after BUILD, CC, CFLAGS
# and RELOC_OBJ are set. Objects are compiled position-independent into $(BUILD)/pic so
# that one set serves libmhook.so and libmhook.a without changing mhookd's flags.
# -fno-tree-loop-distribute-patterns keeps GCC from turning our byte loops into memcpy
# or memset calls: those may be the very functions being patched.

LIBMHOOK_ARCHS := x86_64 aarch64 arm
LIBMHOOK_SRC := $(filter-out $(foreach a,$(LIBMHOOK_ARCHS),libmhook/arch_$(a).c),$(wildcard libmhook/*.c)) \
                libmhook/arch_$(ARCH).c
ifeq ($(ARCH),x86_64)
  LIBMHOOK_RELOC_SRC := $(wildcard reloc/x86_64*.c)
  LIBMHOOK_LIBS := $(ZYDIS_LIBS)
else ifeq ($(ARCH),aarch64)
  LIBMHOOK_RELOC_SRC := $(wildcard reloc/aarch64*.c)
else
  LIBMHOOK_RELOC_SRC := $(wildcard reloc/arm*.c)
endif
LIBMHOOK_OBJ := $(patsubst %.c,$(BUILD)/pic/%.o,$(LIBMHOOK_SRC) $(LIBMHOOK_RELOC_SRC))
LIBMHOOK_CFLAGS := -fPIC -fno-tree-loop-distribute-patterns

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LIBMHOOK_CFLAGS) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD)/pic -name '*.d' 2>/dev/null)

$(BUILD)/libmhook.a: $(LIBMHOOK_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libmhook.so: $(LIBMHOOK_OBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-z,now -Wl,-z,relro -Wl,-soname,libmhook.so.1 -o $@ $^ $(LIBMHOOK_LIBS)
	ln -sf libmhook.so $(BUILD)/libmhook.so.1

$(BUILD)/mhook.pc: libmhook/mhook.pc.in
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBS@|$(LIBMHOOK_LIBS)|' $< > $@

all: $(BUILD)/libmhook.a $(BUILD)/libmhook.so $(BUILD)/mhook.pc

install: $(BUILD)/libmhook.a $(BUILD)/libmhook.so
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(BUILD)/libmhook.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libmhook.so $(DESTDIR)$(PREFIX)/lib/libmhook.so.1
	ln -sf libmhook.so.1 $(DESTDIR)$(PREFIX)/lib/libmhook.so
	install -m 644 include/mhook.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBS@|$(LIBMHOOK_LIBS)|' libmhook/mhook.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/mhook.pc
	if [ -x $(BUILD)/mhookd ]; then install -m 755 $(BUILD)/mhookd $(DESTDIR)$(PREFIX)/bin/; fi
	if [ -x $(BUILD)/mhook ]; then install -m 755 $(BUILD)/mhook $(DESTDIR)$(PREFIX)/bin/; fi

-include tests/libmhook/build.mk
-include examples/build.mk
