# ORFEAS - plain Makefile.
#   make            build build/orfeas (installs missing Debian packages first)
#   make test       build and run every test (cmocka), closing with a summary
#   make sanitize   the same tests built with ASan+UBSan, in build-san/
#   make bench      benchmarks (see BENCHMARKS.md)
#   make run        start ORFEAS on its embedded defaults
#   make format     clang-format every source file
#   make fuzz       libFuzzer harnesses (clang, build-fuzz/), each FUZZ_SECONDS
#   make fuzz-smoke the same, 10 s each (CI)
# Sources are found by wildcard: a new .c file under src/ joins the engine
# library, a new tests/test_*.c becomes a test program.

BUILD    ?= build
CC       ?= gcc
OPT      ?= -O2
SANFLAGS ?=
PKGS     := spng libturbojpeg libwebp libexif libcrypto jansson libmicrohttpd
CPPFLAGS += -Iinclude $(patsubst %,-I%,$(wildcard src/*)) -Itests -D_GNU_SOURCE
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -Werror -pthread -MMD -MP $(SANFLAGS)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lmeshoptimizer -lm -pthread
LDFLAGS  += $(SANFLAGS)

ENGINE_SRC := $(filter-out src/cli/% src/server/%,$(wildcard src/*/*.c))
SERVER_SRC := $(wildcard src/server/*.c)
CLI_SRC    := $(wildcard src/cli/*.c)
TEST_SRC   := $(wildcard tests/test_*.c)
TEST_UTIL  := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UTIL_OBJ   := $(TEST_UTIL:%.c=$(BUILD)/obj/%.o)
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
SETUP      := $(BUILD)/.setup-ok

.PHONY: all test sanitize bench run format clean setup
.SECONDARY:
all: $(BUILD)/orfeas

setup: $(SETUP)
$(SETUP): scripts/setup.sh
	@bash scripts/setup.sh build
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/%.o: %.c | $(SETUP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/liborfeas.a: $(ENGINE_OBJ)
	ar rcs $@ $^

# The server is a library of its own on top of the engine's: the engine
# never links server code.
$(BUILD)/liborfeas-server.a: $(SERVER_OBJ)
	ar rcs $@ $^

$(BUILD)/orfeas: $(CLI_OBJ) $(BUILD)/liborfeas-server.a $(BUILD)/liborfeas.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(UTIL_OBJ) $(BUILD)/liborfeas-server.a $(BUILD)/liborfeas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcurl -lcmocka

test: $(BUILD)/orfeas $(TEST_BIN)
	@bash tests/run.sh $(BUILD)

sanitize:
	$(MAKE) BUILD=build-san OPT=-O1 SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

BENCH_BIN  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c))
bench: $(BUILD)/orfeas $(BENCH_BIN)
	@bash scripts/setup.sh bench
	@bash bench/run.sh $(BUILD)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(UTIL_OBJ) $(BUILD)/liborfeas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

run: $(BUILD)/orfeas
	@bash scripts/run.sh $(BUILD)

format:
	clang-format -i $(wildcard include/*.h src/*/*.[ch] tests/*.[ch] bench/*.c)

clean:
	rm -rf build build-san build-tsan

# ---- fuzzing (libFuzzer, clang) -------------------------------------------
# The engine and server are compiled again with clang into build-fuzz/ with
# coverage instrumentation (fuzzer-no-link) and ASan + UBSan; each harness
# fuzz/fuzz_<name>.c links against them with -fsanitize=fuzzer and runs for
# FUZZ_SECONDS on a copy of its seed corpus fuzz/corpus/<name>/ (the copy
# collects what the run finds; the committed seeds stay as they are).
# Crashes land in build-fuzz/crashes/; any crash fails the target.
FUZZ_BUILD    := build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_NAMES    := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_OPTS     := -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 -print_final_stats=1

.PHONY: fuzz fuzz-smoke fuzz-build
fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 SANFLAGS="$(FUZZ_SANFLAGS)" \
	  $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/%)

fuzz: fuzz-build
	@failed=""; mkdir -p $(FUZZ_BUILD)/crashes; \
	for h in $(FUZZ_NAMES); do \
	  rm -rf $(FUZZ_BUILD)/corpus/$$h && mkdir -p $(FUZZ_BUILD)/corpus/$$h && \
	  cp fuzz/corpus/$$h/* $(FUZZ_BUILD)/corpus/$$h/ 2>/dev/null; \
	  echo "fuzz: $$h for $(FUZZ_SECONDS) s (log $(FUZZ_BUILD)/$$h.log)"; \
	  if $(FUZZ_BUILD)/fuzz/$$h $(FUZZ_OPTS) -artifact_prefix=$(FUZZ_BUILD)/crashes/$$h- \
	       $(FUZZ_BUILD)/corpus/$$h > $(FUZZ_BUILD)/$$h.log 2>&1; then \
	    grep -E '^#[0-9]+.*DONE|^stat::(average_exec_per_sec|peak_rss_mb)' $(FUZZ_BUILD)/$$h.log; \
	  else \
	    failed="$$failed $$h"; tail -60 $(FUZZ_BUILD)/$$h.log; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed (inputs in $(FUZZ_BUILD)/crashes/)"; exit 1; fi; \
	echo "fuzz: no crash in $(words $(FUZZ_NAMES)) harnesses"

fuzz-smoke:
	$(MAKE) FUZZ_SECONDS=10 fuzz

# A harness: its object (the usual pattern rule) and the libraries.
$(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(BUILD)/liborfeas-server.a $(BUILD)/liborfeas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# ---- ThreadSanitizer --------------------------------------------------------
# The tests with threads of their own (the job manager, the cache, the
# parallel loop, metrics, logs, the rate limiter) and the ones that start the
# server (itself built with TSan: a race there fails its clean exit), built
# with -fsanitize=thread into build-tsan/ and run; any report fails them.
TSAN_TESTS := test_core test_jobs test_cache test_metrics test_log test_ratelimit test_monitor test_server test_limits
.PHONY: tsan
tsan:
	$(MAKE) BUILD=build-tsan OPT=-O1 SANFLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
	  build-tsan/orfeas $(TSAN_TESTS:%=build-tsan/tests/%)
	TSAN_OPTIONS="halt_on_error=1 abort_on_error=0 exitcode=66 second_deadlock_stack=1 $(TSAN_OPTIONS)" \
	  bash tests/run.sh build-tsan $(TSAN_TESTS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
