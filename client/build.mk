# mhook, the command-line client of mhookd's socket (client/*.c). Included by the top
# Makefile on x86-64 hosts, after BUILD, CC, CFLAGS, LDFLAGS and JSONC_CFLAGS are set.
# It shares the event sinks with mhookd, so that it prints what mhookd prints, and
# nothing else of mhookd's (the client layer of tools/layers.py).

MHOOK_CLIENT_SRC := $(wildcard client/*.c)
MHOOK_CLIENT_OBJ := $(MHOOK_CLIENT_SRC:%.c=$(BUILD)/obj/%.o) \
                    $(addprefix $(BUILD)/obj/,sinks/event.o sinks/text.o sinks/json.o sinks/utf8.o \
                                              sinks/event_parse.o)

$(BUILD)/mhook: $(MHOOK_CLIENT_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -ljson-c

all: $(BUILD)/mhook
