# The seed-story example (included from libmhook/build.mk): native builds only, since it
# is C++ and the cross lanes carry no C++ runtime for static linking; skipped (not
# failed) where no C++ compiler is installed. The native libmhook lane runs it and checks
# what it prints.
ifeq ($(ARCH),$(HOST_ARCH))
ifneq ($(shell command -v $(CXX) 2>/dev/null),)
EXAMPLE_CXXFLAGS := -std=c++11 -O2 -g -Wall -Wextra -Werror -Iinclude $(SANFLAGS)

$(BUILD)/examples/seed: examples/seed.cpp $(BUILD)/libmhook.a include/mhook.h
	@mkdir -p $(@D)
	$(CXX) $(EXAMPLE_CXXFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmhook.a $(LIBMHOOK_LIBS)

all: $(BUILD)/examples/seed

.PHONY: example-seed
example-seed: $(BUILD)/examples/seed
	$(BUILD)/examples/seed > $(BUILD)/examples/seed.out
	@cat $(BUILD)/examples/seed.out
	@printf 'them\nus\n' > $(BUILD)/examples/seed.want
	@head -2 $(BUILD)/examples/seed.out | cmp -s - $(BUILD)/examples/seed.want && \
		tail -1 $(BUILD)/examples/seed.out | grep -qx them && echo "example: 1 passed, 0 failed" || \
		{ echo "example: 0 passed, 1 failed"; exit 1; }
else
example-seed:
	@echo "example: skipped, no C++ compiler ($(CXX))"
endif
endif
