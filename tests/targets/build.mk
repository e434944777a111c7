# Test targets (tests/targets/*.c, *.S) and benchmark helpers (tools/ptrace_rtt.c), included
# by the top Makefile on x86-64 hosts. Traced targets are never sanitized, whatever SANITIZE
# says, so they always go to build/targets (see the Makefile). They keep their symbols (-g,
# never stripped): the integration tests hook them by name.

TARGETS_DIR := build/targets
TOOLS_DIR   := build/tools

TARGET_BINS := $(TARGETS_DIR)/libcounter.so $(TARGETS_DIR)/counter $(TARGETS_DIR)/sigtarget \
               $(TARGETS_DIR)/forker $(TARGETS_DIR)/churn $(TARGETS_DIR)/loader $(TARGETS_DIR)/libplugin.so \
               $(TARGETS_DIR)/forkn $(TARGETS_DIR)/hazards $(TARGETS_DIR)/bench_target \
               $(TARGETS_DIR)/libcalls $(TARGETS_DIR)/lazyifunc $(TARGETS_DIR)/nxtarget $(TARGETS_DIR)/cxxtarget $(TARGETS_DIR)/leaderexit $(TARGETS_DIR)/chatter \
               $(TARGETS_DIR)/sectarget $(TARGETS_DIR)/rtpong $(TARGETS_DIR)/sigkeep $(TARGETS_DIR)/alarmer \
               $(TOOLS_DIR)/ptrace_rtt

.PHONY: targets
targets: $(TARGET_BINS)

$(TARGETS_DIR)/libcounter.so: tests/targets/libcounter.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -fPIC -shared -o $@ $<

$(TARGETS_DIR)/counter: tests/targets/counter.c $(TARGETS_DIR)/libcounter.so
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -pthread -o $@ $< -L$(TARGETS_DIR) -lcounter -Wl,-rpath,'$$ORIGIN'

$(TARGETS_DIR)/sigtarget: tests/targets/sigtarget.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -pthread -o $@ $<

$(TARGETS_DIR)/leaderexit: tests/targets/leaderexit.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -pthread -o $@ $<

$(TARGETS_DIR)/chatter: tests/targets/chatter.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -pthread -o $@ $<

$(TARGETS_DIR)/alarmer: tests/targets/alarmer.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -o $@ $<

$(TARGETS_DIR)/sigkeep: tests/targets/sigkeep.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -pthread -o $@ $<

$(TARGETS_DIR)/rtpong: tests/targets/rtpong.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -pthread -o $@ $<

$(TARGETS_DIR)/sectarget: tests/targets/sectarget.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -o $@ $< -lseccomp

$(TARGETS_DIR)/forker: tests/targets/forker.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -o $@ $<

$(TARGETS_DIR)/hazards: tests/targets/hazards.c tests/targets/hazards_asm.S tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -o $@ tests/targets/hazards.c tests/targets/hazards_asm.S

# Lazily bound, and strncat called as itself (no builtin), so that its PLT slot stays
# unresolved until the first call.
$(TARGETS_DIR)/lazyifunc: tests/targets/lazyifunc.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -fno-builtin -Wl,-z,lazy -o $@ $<

$(TARGETS_DIR)/libcalls: tests/targets/libcalls.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -o $@ $<

$(TARGETS_DIR)/bench_target: tests/targets/bench_target.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -o $@ $<

$(TOOLS_DIR)/ptrace_rtt: tools/ptrace_rtt.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -O2 -o $@ $<

$(TARGETS_DIR)/churn: tests/targets/churn.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -pthread -o $@ $<

# Libraries that arrive later: libctor.so (linked, its constructor calls a hooked
# function) and libplugin.so (dlopen'ed by loader, and dlclose'd).
$(TARGETS_DIR)/libctor.so: tests/targets/libctor.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -fPIC -shared -o $@ $<

$(TARGETS_DIR)/libplugin.so: tests/targets/libplugin.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -fPIC -shared -o $@ $<

$(TARGETS_DIR)/loader: tests/targets/loader.c $(TARGETS_DIR)/libctor.so
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -o $@ $< -L$(TARGETS_DIR) -lctor -ldl -Wl,-rpath,'$$ORIGIN'

$(TARGETS_DIR)/forkn: tests/targets/forkn.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -o $@ $<

$(TARGETS_DIR)/nxtarget: tests/targets/nxtarget.c tests/targets/build.mk
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -o $@ $<

# C++ names (demangling, SPECs with '::' and '+' in LIB): a C++ program on libstdc++.
$(TARGETS_DIR)/cxxtarget: tests/targets/cxxtarget.cpp tests/targets/build.mk
	@mkdir -p $(@D)
	$(CXX) -std=c++11 -O1 -g -Wall -Wextra -Werror -fno-inline -o $@ $<
