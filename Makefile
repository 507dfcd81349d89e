# luna-ts: set-up, shim build, tests, demo and benchmark.
#   make demo    set up what is missing, then run the demo
#   make test    set up what is missing, then run the tests under Bun and Deno
#   make luna    the `luna` command as one executable: dist/luna (bun build --compile)
SHELL := /bin/bash
.DEFAULT_GOAL := demo

SHIM_SRC := c-shims/luna_shim.c c-shims/luna_shim.h c-shims/packet_port.c c-shims/packet_port.h c-shims/luna_cksum.h
SHIM     := c-shims/build/libluna_shim.so
BIN      := node_modules/.bin
CFLAGS   ?= -O2 -g
SHIM_CFLAGS := $(CFLAGS) -Wall -Wextra -Werror -fPIC -shared

.PHONY: setup packages deps shim luna test test-bun test-deno demo bench clean

setup: packages deps shim

packages:
	@scripts/setup.sh packages

deps: node_modules/.stamp

node_modules/.stamp: package.json package-lock.json
	@scripts/setup.sh npm
	@touch $@

shim: $(SHIM)

$(SHIM): $(SHIM_SRC)
	@mkdir -p $(dir $@)
	@echo "building $@"
	@hash=$$(cat $(SHIM_SRC) | sha256sum | cut -c1-64); \
	gcc $(SHIM_CFLAGS) -DLUNA_SOURCE_HASH="\"$$hash\"" $$(pkg-config --cflags libdpdk) \
	  c-shims/luna_shim.c c-shims/packet_port.c -o $@.tmp $$(pkg-config --libs libdpdk) -lrte_net_ring
	@mv $@.tmp $@

# The compiled command embeds the shim library and Bun's runtime; it needs
# DPDK's shared libraries on the machine that runs it.
LUNA_SOURCES := $(shell find src ffi -name '*.ts') package.json
luna: dist/luna

dist/luna: $(SHIM) $(LUNA_SOURCES)
	@mkdir -p dist
	@echo "building $@"
	@$(BIN)/bun build --compile src/cli/compiled.ts --outfile $@.tmp.$$$$ >/dev/null \
	  || { rm -f $@.tmp.$$$$; exit 1; }; mv -f $@.tmp.$$$$ $@

test: setup
	@scripts/test.sh

test-bun: setup
	$(BIN)/bun test

test-deno: setup
	$(BIN)/deno test -A

demo: setup
	$(BIN)/bun examples/demo.ts

bench: setup
	$(BIN)/bun bench/mod.ts $(ARGS)

clean:
	rm -rf c-shims/build dist
