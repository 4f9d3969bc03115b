# Thin wrapper over CMake. `make demo` and `make test` install what is missing (apt-get),
# build Release, then run the demo / the test suite (all labels except `slow`). `make demo`
# builds only the two programs it runs (the ssmkit program and example_demo).
# CMAKE_FLAGS=-DSSM_WITH_CUDA=ON|OFF chooses the CUDA backend (default: ON only with nvcc and a GPU).
BUILD ?= build
JOBS  ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps configure build build-demo demo test test-slow bench bench-all clean

all: build

deps:
	@bash .ci/deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

build-demo: configure
	cmake --build $(BUILD) -j$(JOBS) --target ssmkit_cli example_demo

demo: build-demo
	$(BUILD)/examples/example_demo
	$(BUILD)/src/cli/ssmkit demo --out $(BUILD)/demo --figure $(BUILD)/demo/demo.png

test: build
	cd $(BUILD) && ctest --output-on-failure -LE slow -j$(JOBS)

test-slow: build
	cd $(BUILD) && ctest --output-on-failure -L slow

bench: build
	$(BUILD)/bench/ssmkit-bench

bench-all: build
	@for b in $(BUILD)/bench/bench_*; do echo "== $$b"; $$b; done

clean:
	rm -rf $(BUILD)
