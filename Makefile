# SPDX-License-Identifier: LGPL-2.1-or-later
# Thin wrapper over meson. `make demo` and `make test` install missing Debian packages first.
PREFIX ?= /usr/local
BUILD ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?=

.PHONY: all build deps demo test test-fast install bench clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized $(MESON_OPTS)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory build
	@./scripts/demo.sh $(BUILD)

# The whole suite twice: a normal build, then ASan+UBSan.
test: deps
	@./scripts/run-tests.sh $(BUILD) $(ASAN_BUILD)

# Only the normal build (for quick iteration).
test-fast: deps
	@./scripts/run-tests.sh $(BUILD)

install: build
	meson configure $(BUILD) -Dprefix=$(abspath $(PREFIX)) >/dev/null
	meson install -C $(BUILD) --quiet
	@echo "installed into $(abspath $(PREFIX))"

bench: deps
	@VIDPIPE_BENCH=1 ./scripts/install-deps.sh
	@$(MAKE) --no-print-directory build
	@for b in bench/*.sh; do echo "== $$b"; BUILD=$(BUILD) $$b || exit 1; done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
