# The two commands a new user needs: `make demo` and `make test`. Both install what is
# missing (scripts/setup), build, then run.
BUILD ?= build
CMAKE_FLAGS ?=

.PHONY: all setup build test unit integration demo bench clean

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

bench: build
	LTXGUARD_BIN=$(BUILD)/src/ltxguard python3 bench/watch_footprint.py --seconds 30

clean:
	rm -rf $(BUILD)
