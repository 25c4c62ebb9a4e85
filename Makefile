# ptt - the front door. `make` builds, `make check` runs every test,
# `make check-asan` runs them again under ASan+UBSan, `make demo` shows the
# stack working. Meson/Ninja do the real work in build*/ directories.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: all deps deps-build install check check-asan demo fuzz bench bench-outbound clean

all: deps-build
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD)
	ninja -C $(BUILD)

deps-build:
	@scripts/deps.sh build

deps:
	@scripts/deps.sh all

# Under /usr/local (meson's prefix): ptt, pttd and the daemons, the spam
# model, pttd's systemd unit and the docs; then README's "Running it for
# your domain".
install: all
	@scripts/deps.sh run
	meson install -C $(BUILD) --no-rebuild

check: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD)
	@ninja -C $(BUILD)
	@tests/run.sh $(BUILD)

check-asan: deps
	@[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) \
		-Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
	@ninja -C $(ASAN_BUILD)
	@tests/run.sh $(ASAN_BUILD)

# `ptt demo`: the whole stack under pttd on loopback, mail both ways, then
# running until Ctrl-C (its files stay in ./demo).
demo: deps all
	@$(BUILD)/src/ptt/ptt demo --dir demo

# Run every libFuzzer harness for FUZZ_SECONDS on a scratch copy of its corpus.
fuzz: deps
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) \
		-Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
	@ninja -C $(FUZZ_BUILD)
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: deps all
	@for b in bench/*/run.sh; do echo "== $$b"; bash $$b $(BUILD) || exit 1; done

bench-outbound: deps all
	@bash bench/outbound/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
