# The protocol fuzzer (tests/fuzz/fuzz_protocol.c): libFuzzer over proto_handle and the
# subscription filters, with a fake backend and host, so no input reaches ptrace. Built
# with clang whatever CC is (libFuzzer is clang's), under ASan and UBSan, with UBSan
# findings fatal so that the fuzzer reports them. Included from the top Makefile; it also
# works alone: make -f tests/fuzz/build.mk fuzz-smoke.
#
#   make fuzz         FUZZ_TIME seconds (60) over build/fuzz/corpus, which keeps growing
#                     from the seeds in tests/fuzz/corpus; prints libFuzzer's final stats
#   make fuzz-smoke   20000 runs from the seeds, quiet, a fixed seed (for make check)
#   FUZZ_ARGS=...     more libFuzzer flags for either (-seed=N, -only_ascii=1)
#
# Either fails when the fuzzer crashes; the input is left as build/fuzz/crash-* (replay:
# build/fuzz/fuzz_protocol FILE). Needs clang and libFuzzer: Debian's clang-14 and
# libclang-rt-14-dev.

BUILD ?= build

FUZZ_DIR    := $(BUILD)/fuzz
FUZZ_BIN    := $(FUZZ_DIR)/fuzz_protocol
FUZZ_CC     ?= $(shell command -v clang 2>/dev/null || command -v clang-14 2>/dev/null || echo clang)
FUZZ_TIME   ?= 60
FUZZ_RUNS   ?= 20000
FUZZ_SEED   ?= 1
FUZZ_ARGS   ?=
FUZZ_SRC    := tests/fuzz/fuzz_protocol.c ipc/protocol.c ipc/filter.c sinks/utf8.c
FUZZ_HDR    := ipc/protocol.h ipc/filter.h sinks/event.h sinks/utf8.h
FUZZ_JSONC  := $(shell pkg-config --libs json-c 2>/dev/null || echo -ljson-c)
FUZZ_JSONC_CFLAGS := $(shell pkg-config --cflags json-c 2>/dev/null || echo -I/usr/include/json-c)
FUZZ_CFLAGS := -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
               -Iinclude -I. -D_GNU_SOURCE
FUZZ_WARN   := -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
               -Wimplicit-fallthrough -Wundef -Wwrite-strings -Wshadow
# The harness is held to -Werror; the code under test only warns, as clang's warnings
# differ from gcc's and the top Makefile (gcc) is where those files must be clean.
FUZZ_OBJ    := $(FUZZ_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
# One line of 70 KiB must fit, and the too_big edge (65,536 bytes) be reachable.
FUZZ_FLAGS  := -max_len=80000 -timeout=10 -artifact_prefix=$(FUZZ_DIR)/ \
               -dict=$(FUZZ_DIR)/protocol.dict

$(FUZZ_BIN): $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_OBJ) $(FUZZ_JSONC)

$(FUZZ_DIR)/obj/%.o: %.c $(FUZZ_HDR) tests/fuzz/build.mk
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "fuzz: no clang; apt-get install" \
		"clang-14 libclang-rt-14-dev" >&2; exit 1; }
	@test -f "$$($(FUZZ_CC) -print-resource-dir)/lib/linux/libclang_rt.fuzzer-$$(uname -m).a" \
		|| { echo "fuzz: $(FUZZ_CC) has no libFuzzer; apt-get install" \
		"libclang-rt-14-dev" >&2; exit 1; }
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WARN) $(if $(filter tests/fuzz/%,$<),-Werror) \
		$(FUZZ_JSONC_CFLAGS) -c -o $@ $<

# The protocol's words, which libFuzzer splices into inputs: generated rather than kept
# in the tree, as it follows from docs/protocol.md.
FUZZ_WORDS := "\"id\":" "\"op\":" "\"pid\":" "\"spec\":" "\"strategy\":" "\"pending\":" \
	"\"keep\":" "\"glob\":" "\"limit\":" "\"pids\":" "\"funcs\":" "\"kinds\":" \
	"\"summary_ms\":" "\"attach\"" "\"detach\"" "\"hook\"" "\"unhook\"" "\"list\"" \
	"\"symbols\"" "\"subscribe\"" "\"unsubscribe\"" "\"stats\"" "\"swbp\"" "\"hwbp\"" \
	"\"nx\"" "\"ready\"" "\"armed\"" "\"disarmed\"" "\"exec\"" "\"child\"" "\"call\"" \
	"\"summary\"" "\"error\"" "\"exit\"" "\"malloc\"" "\"libc.so.6:free\"" "\"str*\"" \
	"true" "false" "null" "9007199254740992" "4" "7" "10" "1000" "\\u0000" "\\ud800"

$(FUZZ_DIR)/protocol.dict: tests/fuzz/build.mk
	@mkdir -p $(@D)
	@rm -f $@
	@for w in $(FUZZ_WORDS); do printf '"%s"\n' "$$(printf '%s' "$$w" | sed 's/["\\]/\\&/g')" \
		>> $@; done

.PHONY: fuzz fuzz-smoke

fuzz: $(FUZZ_BIN) $(FUZZ_DIR)/protocol.dict
	@mkdir -p $(FUZZ_DIR)/corpus
	@cp tests/fuzz/corpus/* $(FUZZ_DIR)/corpus/
	@echo "fuzz: $(FUZZ_TIME) s over $(FUZZ_DIR)/corpus (log: $(FUZZ_DIR)/fuzz.log)"
	@$(FUZZ_BIN) $(FUZZ_FLAGS) -max_total_time=$(FUZZ_TIME) -print_final_stats=1 \
		$(FUZZ_ARGS) $(FUZZ_DIR)/corpus >$(FUZZ_DIR)/fuzz.log 2>&1; rc=$$?; \
	grep -a -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_DIR)/fuzz.log | tail -n 1; \
	grep -a -E '^(Done |stat::(number_of_executed_units|average_exec_per_sec|peak_rss))' \
		$(FUZZ_DIR)/fuzz.log; \
	if [ $$rc -ne 0 ]; then grep -a -v -E '^#[0-9]+' $(FUZZ_DIR)/fuzz.log | tail -n 40; \
		echo "fuzz: the fuzzer failed (exit $$rc); the input is $(FUZZ_DIR)/crash-* or" \
		"leak-* or timeout-*" >&2; exit 1; fi

# A scratch first directory takes what the run finds, so the seeds stay as they are.
fuzz-smoke: $(FUZZ_BIN) $(FUZZ_DIR)/protocol.dict
	@rm -rf $(FUZZ_DIR)/smoke && mkdir -p $(FUZZ_DIR)/smoke
	@$(FUZZ_BIN) $(FUZZ_FLAGS) -runs=$(FUZZ_RUNS) -seed=$(FUZZ_SEED) $(FUZZ_ARGS) \
		$(FUZZ_DIR)/smoke tests/fuzz/corpus >$(FUZZ_DIR)/smoke.log 2>&1; rc=$$?; \
	if [ $$rc -ne 0 ]; then grep -a -v -E '^#[0-9]+' $(FUZZ_DIR)/smoke.log | tail -n 40; \
		echo "fuzz-smoke: the fuzzer failed (exit $$rc); log $(FUZZ_DIR)/smoke.log" >&2; \
		exit 1; fi; \
	echo "fuzz-smoke: $$(grep -a -E '^Done ' $(FUZZ_DIR)/smoke.log), no crash"
