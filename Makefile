# Thin wrapper over CMake. `make demo` and `make test` install what is missing (apt-get),
# build Release, then run the demo / the test suite (all labels except `slow`). `make demo`
# builds only the two programs it runs (the ssmkit program and example_demo) and configures
# without the Python module (whose venv set-up, from PyPI, it does not need); `make build` and
# `make test` turn it on in the same build tree without rebuilding the library.
# CMAKE_FLAGS=-DSSM_WITH_CUDA=ON|OFF chooses the CUDA backend (default: ON only with nvcc and a GPU).
# A new build tree uses Ninja where it is installed (.ci/deps.sh installs it), else Makefiles.
BUILD ?= build
JOBS  ?= 2
CMAKE_FLAGS ?=
# (evaluated when cmake runs, after `deps` may have installed ninja)
GENERATOR = $$( [ -f $(BUILD)/CMakeCache.txt ] || ! command -v ninja >/dev/null 2>&1 || echo -G Ninja )

.PHONY: all deps configure configure-demo build build-demo demo test test-slow bench bench-all clean

all: build

deps:
	@bash .ci/deps.sh

configure: deps
	cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DSSM_BUILD_PYTHON=ON $(CMAKE_FLAGS)

configure-demo: deps
	cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DSSM_BUILD_PYTHON=OFF $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

build-demo: configure-demo
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
