# The two commands a new user needs: `make demo` and `make test`. Both install what is
# missing (scripts/setup), build, then run.
BUILD ?= build
CMAKE_FLAGS ?=

.PHONY: all setup build test unit integration demo bench bench-quick clean asan valgrind fuzz-smoke
.PHONY: package

all: build

setup:
	@bash scripts/setup

build: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 900 -j 2

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit -j 2

integration: build
	cd $(BUILD) && ctest --output-on-failure -L integration

demo: build
	@bash scripts/demo $(BUILD)/src/ltxguard

# Every benchmark (evidence vs shell, scale, watch footprint, detection latency; ~40 min, as
# root): bench/results/*.json, docs/benchmarks.svg, and every ratio printed at the end.
bench: build
	LTXGUARD_BIN=$(BUILD)/src/ltxguard LTXGUARD_BUILD_DIR=$(BUILD) python3 bench/run_all.py
	LTXGUARD_BIN=$(BUILD)/src/ltxguard LTXGUARD_BUILD_DIR=$(BUILD) python3 bench/overshoot.py

# The same at smoke sizes (< 2 min); results in a temp dir, docs/ untouched.
bench-quick: build
	LTXGUARD_BIN=$(BUILD)/src/ltxguard LTXGUARD_BUILD_DIR=$(BUILD) python3 bench/run_all.py --quick

# Sanitizers and fuzzing (docs/fuzzing.md): unit tests under ASan+UBSan, the binaries once
# under valgrind, every libFuzzer target for FUZZ_SECONDS with clang.
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

UNIT_TARGETS = unit_util unit_formats unit_sys unit_collect unit_model unit_output unit_cmd

# Debug (-O0) with line tables only (-g1, about a fifth faster to compile than -g): the
# checks and the file:line in reports are the same as in an optimised build.
asan: setup
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
	  -DLTXGUARD_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) --target $(UNIT_TARGETS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  ctest --output-on-failure -L unit -j 2

valgrind: build
	@bash scripts/valgrind $(BUILD)

fuzz-smoke: setup
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DLTXGUARD_FUZZ=ON -DLTXGUARD_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) --target fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/smoke.sh $(FUZZ_BUILD)

# The Debian package (CPack, cmake/Install.cmake): $(BUILD)/ltxguard_<version>_<arch>.deb
package: build
	cd $(BUILD) && cpack -G DEB

clean:
	rm -rf $(BUILD)
