# The one entry point. Every target installs what it needs first (scripts/install-deps is
# quiet and quick when everything is present), then drives CMake presets with Ninja.
#
#   make run     release build, then ternd in the foreground on config/default.toml
#   make test    g++ release build, then clang ASan+UBSan build and every ctest suite
#                (unit, property, conformance, layering, embedding, a short seeded fuzz slice)
#   make build   release build (g++) into build/release
#   make fuzz    every fuzz target for FUZZ_SECONDS each (default 600)
#   make bench   Google Benchmarks, then ternd vs Postfix (bench/mta) -> docs/benchmarks.md
#   make lint    clang-format check and clang-tidy
#   make docs    regenerate docs/configuration.md from the schema
#   make sim     the deterministic simulation over SIM_SEEDS (default 1..10000); a failing
#                seed prints the tern-sim command that replays it

SHELL := /bin/bash
FUZZ_SECONDS ?= 600
SIM_SEEDS ?= 1..10000
JOBS ?= $(shell nproc)

.PHONY: deps build build-asan run test fuzz sim bench lint format docs clean

deps:
	@scripts/install-deps

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

run: build
	build/release/cmd/ternd --config config/default.toml

# The g++ release build is part of the test: both compilers must build everything with
# -Werror, and `make run` must keep working.
test: build build-asan
	@ctest --preset asan

fuzz: build-asan
	@scripts/fuzz-all build/asan $(FUZZ_SECONDS)

sim: build
	build/release/cmd/tern-sim --seeds $(SIM_SEEDS) --jobs $(JOBS)

bench: build
	@cmake --build --preset release --target benchmarks -j $(JOBS)
	@scripts/run-benchmarks build/release

lint: build-asan
	@scripts/lint build/asan

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

docs: build
	build/release/cmd/tern config reference > docs/configuration.md

clean:
	rm -rf build
