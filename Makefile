# goim-c build. `make` builds the release daemons into build/release/bin;
# `make test` builds everything with ASan+UBSan into build/sanitize, runs the
# unit tests, then the integration tests against real Redis and Kafka;
# `make run` starts a single-machine cluster in the foreground.

SHELL := /bin/bash
VARIANT ?= release
OUT := build/$(VARIANT)

CC ?= cc
WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -pthread $(WARNINGS) -I. -I$(OUT)/gen
ifeq ($(VARIANT),fuzz)
CC := clang-14
VARIANT_CFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
VARIANT_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(VARIANT),sanitize)
VARIANT_CFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
VARIANT_LDFLAGS := -fsanitize=address,undefined
else
VARIANT_CFLAGS := -O2
VARIANT_LDFLAGS :=
endif
CFLAGS += $(BASE_CFLAGS) $(VARIANT_CFLAGS)
LDFLAGS += -pthread $(VARIANT_LDFLAGS)
LIBS := -lnng -lprotobuf-c -lhiredis -lrdkafka -lmicrohttpd -ljansson -lwslay -lssl -lcrypto -ljwt \
        -lpcre2-8 -lcrypt -lsqlite3 -lcurl -lm

PROTOS := $(wildcard proto/*.proto)
PROTO_C := $(patsubst proto/%.proto,$(OUT)/gen/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(patsubst %.c,$(OUT)/obj/%.o,$(COMMON_SRC)) $(PROTO_C:.c=.o)
COMMON_LIB := $(OUT)/libgoimcommon.a

DAEMONS := comet logic job
BINARIES := $(addprefix $(OUT)/bin/,$(DAEMONS)) $(OUT)/bin/devkafka

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRC))

.SECONDARY:
.PHONY: all clean deps unit-test test integration-test run format format-check fuzz fuzz-run \
	js-unit-test browser-test compose-test
.DEFAULT_GOAL := all

all: $(BINARIES)

# ---- generated protobuf code ----
$(OUT)/gen/%.pb-c.c $(OUT)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(OUT)/gen
	protoc-c --c_out=$(OUT)/gen -Iproto $<

$(OUT)/gen/%.pb-c.o: $(OUT)/gen/%.pb-c.c $(PROTO_H)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c $< -o $@

# ---- objects ----
$(OUT)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(COMMON_LIB): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

# logic serves logic/web (demo page, JavaScript client) from a table built into it
# (logic/web_assets.h), generated from the files by logic/web/embed.sh.
LOGIC_WEB_FILES := $(wildcard logic/web/*.html logic/web/*.js logic/web/*.css)
logic_GEN_OBJ := $(OUT)/gen/logic_web_assets.o

$(OUT)/gen/logic_web_assets.c: logic/web/embed.sh $(LOGIC_WEB_FILES)
	@mkdir -p $(dir $@)
	logic/web/embed.sh $(LOGIC_WEB_FILES) > $@.tmp && mv $@.tmp $@

$(OUT)/gen/logic_web_assets.o: $(OUT)/gen/logic_web_assets.c logic/web_assets.h
	$(CC) $(CFLAGS) -c $< -o $@

define daemon_rule
$(1)_OBJ := $$(patsubst %.c,$$(OUT)/obj/%.o,$$(wildcard $(1)/*.c)) $$($(1)_GEN_OBJ)
$$(OUT)/bin/$(1): $$($(1)_OBJ) $$(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$^ $$(LIBS) -o $$@
endef
$(foreach daemon,$(DAEMONS),$(eval $(call daemon_rule,$(daemon))))

$(OUT)/bin/devkafka: $(OUT)/obj/deploy/devkafka.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lrdkafka -o $@

# ---- unit tests (cmocka), one executable per module ----
# tests/unit/test_<daemon>_<module>.c also links that daemon's objects except main.o.
$(OUT)/tests/%: $(OUT)/obj/tests/unit/%.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LIBS) -lcmocka -o $@

define daemon_test_rule
$$(OUT)/tests/test_$(1)_%: $$(OUT)/obj/tests/unit/test_$(1)_%.o $$(filter-out %/main.o,$$($(1)_OBJ)) $$(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $$^ $$(LIBS) -lcmocka -o $$@
endef
$(foreach daemon,$(DAEMONS),$(eval $(call daemon_test_rule,$(daemon))))

unit-test: $(UNIT_BIN)
	@set -e; for test in $(UNIT_BIN); do echo "== $$test"; $$test; done

# ---- fuzzing (libFuzzer, clang): `make fuzz` runs every target FUZZ_SECONDS each ----
# tests/fuzz/fuzz_<name>.c is one target; fuzz_<daemon>_<name>.c also links that daemon's
# objects except main.o. Corpora grow under build/fuzz/corpus/<target>.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(OUT)/fuzzers/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60

$(OUT)/fuzzers/fuzz_%: $(OUT)/obj/tests/fuzz/fuzz_%.o $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LIBS) -o $@

define daemon_fuzz_rule
$$(OUT)/fuzzers/fuzz_$(1)_%: $$(OUT)/obj/tests/fuzz/fuzz_$(1)_%.o $$(filter-out %/main.o,$$($(1)_OBJ)) $$(COMMON_LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) -fsanitize=fuzzer $$^ $$(LIBS) -o $$@
endef
$(foreach daemon,$(DAEMONS),$(eval $(call daemon_fuzz_rule,$(daemon))))

fuzz-run: $(FUZZ_BIN)
	@set -e; for target in $(FUZZ_BIN); do \
	    name=$$(basename $$target); corpus=$(OUT)/corpus/$$name; mkdir -p $$corpus; \
	    echo "== $$name ($(FUZZ_SECONDS) s)"; \
	    seeds=tests/fuzz/corpus/$$name; test -d $$seeds || seeds=; \
	    $$target -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 $$corpus $$seeds 2>&1 | tail -n 2; \
	    test $${PIPESTATUS[0]} -eq 0; \
	done

fuzz:
	$(MAKE) VARIANT=fuzz fuzz-run

# ---- the two commands of the README ----
deps:
	@deploy/install-deps.sh --if-missing

test: deps
	$(MAKE) format-check
	tests/check-comet-layers.sh
	$(MAKE) VARIANT=sanitize all
	tests/check-config-docs.py build/sanitize/bin
	$(MAKE) VARIANT=sanitize unit-test
	$(MAKE) js-unit-test
	$(MAKE) VARIANT=fuzz fuzz-run FUZZ_SECONDS=10
	$(MAKE) VARIANT=sanitize integration-test
	$(MAKE) VARIANT=sanitize browser-test

# Python for the integration tests lives in a venv under build/ (Debian's python is
# externally managed); it is rebuilt when the requirements change.
VENV := build/venv
$(VENV)/.installed: tests/integration/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/integration/requirements.txt
	touch $@

integration-test: $(VENV)/.installed
	GOIM_BIN_DIR=$(CURDIR)/$(OUT)/bin $(VENV)/bin/python -m pytest -q -x tests/integration

# ---- browser: the JavaScript client (logic/web/goim.js) and the demo page ----
# js-unit-test: the client's frame code and state machine under node's test runner (no browser).
# browser-test: tests/browser/test_browser.py starts a cluster with the integration harness and
# runs page.test.js, which drives Debian's Chromium (/usr/bin/chromium) through playwright-core
# (pinned in tests/browser/package-lock.json, installed by `npm ci`; it downloads no browser).
# The page's screenshot is saved to build/browser/demo-page.png.
BROWSER_NODE_MODULES := tests/browser/node_modules/.package-lock.json
$(BROWSER_NODE_MODULES): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund
	touch $@

js-unit-test:
	node --test tests/browser/client.test.js

browser-test: $(VENV)/.installed $(BROWSER_NODE_MODULES)
	GOIM_BIN_DIR=$(CURDIR)/$(OUT)/bin GOIM_ARTIFACTS=$(CURDIR)/build/browser \
	    $(VENV)/bin/python -m pytest -q -x tests/browser

run: deps
	$(MAKE) VARIANT=release all
	deploy/run-cluster.sh $(CURDIR)/build/release/bin

# deploy/docker-compose.yml for real: images built here (no registry needed), a two-comet
# cluster checked from a container, one comet killed and restarted (tests/compose/run.sh; root).
compose-test:
	tests/compose/run.sh

# ---- benchmark: `make bench [SCENARIO=fanout] [CONNS=15000]` (never part of `make test`) ----
# tests/bench/loadgen.c and pusher.c are programs; every other tests/bench/*.c is linked into both.
# run-bench.sh starts a private cluster, runs the scenarios, prints a table and writes
# build/bench/results.json.
SCENARIO ?= all
CONNS ?= 15000
BENCH_PROGRAMS := loadgen pusher
BENCH_MODULE_OBJ := $(patsubst %.c,$(OUT)/obj/%.o,$(filter-out $(addprefix tests/bench/,$(addsuffix .c,$(BENCH_PROGRAMS))),$(wildcard tests/bench/*.c)))
BENCH_BIN := $(addprefix $(OUT)/bench/,$(BENCH_PROGRAMS))

$(OUT)/bench/%: $(OUT)/obj/tests/bench/%.o $(BENCH_MODULE_OBJ) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcrypto -lm -o $@

# tests/unit/test_bench_<module>.c also links the bench modules (part of `make unit-test`).
$(OUT)/tests/test_bench_%: $(OUT)/obj/tests/unit/test_bench_%.o $(BENCH_MODULE_OBJ) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LIBS) -lcmocka -o $@

.PHONY: bench bench-tools
bench-tools: $(BENCH_BIN)

bench: deps
	$(MAKE) VARIANT=release all bench-tools
	BENCH_SCENARIO='$(SCENARIO)' BENCH_CONNS='$(CONNS)' tests/bench/run-bench.sh $(CURDIR)/build/release

# ---- formatting ----
C_FILES := $(wildcard common/*.[ch] comet/*.[ch] logic/*.[ch] job/*.[ch] deploy/*.c tests/unit/*.[ch] tests/fuzz/*.[ch] tests/bench/*.[ch])
format:
	clang-format -i $(C_FILES)
format-check:
	@clang-format --dry-run --Werror $(C_FILES) && echo "format-check: ok"

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
