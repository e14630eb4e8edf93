# sentry-bridge: build, test and run.
#
#   make              build build/release/sentry-bridge (+ the simulator)
#   make run          the service on its embedded default (private PostgreSQL + simulators)
#   make check        every test, under AddressSanitizer + UndefinedBehaviorSanitizer
#   make check-browser  only the web console's browser tests (headless Chromium)
#   make bench        benchmarks that print their figures
#   make install PREFIX=/usr/local
#
# Dependencies are Debian packages; scripts/deps.sh installs what is missing
# when run as root, or prints the apt-get command to run.

PREFIX ?= /usr/local
CC ?= cc
PKGS := libmicrohttpd libcurl jansson libpq openssl cjose yaml-0.1
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wpointer-arith -Wundef -Wimplicit-fallthrough -Wvla
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g $(WARN) -iquote . -iquote bridge/core -iquote build/gen \
	-DSB_VERSION='"$(VERSION)"' -DSB_GIT_REV='"$(GIT_REV)"'
REL_CFLAGS := $(BASE_CFLAGS) -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 $(SAN)

# Sources by layer. bridge/core is the plumbing; it never includes sso/,
# integrations/ or the wiring in bridge/*.c.
CORE_SRCS := $(wildcard bridge/core/*.c)
APP_SRCS := $(filter-out bridge/main.c,$(wildcard bridge/*.c)) $(wildcard bridge/console/*.c) $(wildcard sso/*.c) \
	$(wildcard integrations/*/*.c) $(wildcard policies/*.c)
LIB_SRCS := $(CORE_SRCS) $(APP_SRCS) build/gen/migrations.c
SIM_SRCS := $(wildcard tests/sim/*.c)
UNIT_SRCS := $(wildcard tests/unit/*.c)
MIGRATIONS := $(sort $(wildcard bridge/migrations/*.sql))
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

ifeq ($(filter clean distclean help,$(MAKECMDGOALS)),)
-include build/flags.mk
endif

.PHONY: all deps run check unit integration bench bench-access bench-console bench-gitlab bench-hooks bench-provision bench-slack bench-slack-directory bench-sync install clean distclean valgrind fuzz format help
.DEFAULT_GOAL := all

all: build/release/sentry-bridge build/release/sentry-bridge-sim

help:
	@sed -n '3,10p' Makefile

# The package check runs once per change of the script; its output is the
# pkg-config flags every compile uses.
build/flags.mk: scripts/deps.sh
	@mkdir -p build
	@scripts/deps.sh build
	@printf 'PKG_CFLAGS := %s\nPKG_LIBS := %s\n' "$$(pkg-config --cflags $(PKGS))" \
		"$$(pkg-config --libs $(PKGS)) -lpthread -lm" > $@.tmp && mv $@.tmp $@

# Migrations are compiled into the binary: one program, nothing to ship beside it.
build/gen/migrations.c: $(MIGRATIONS) scripts/embed-migrations.sh
	@mkdir -p build/gen
	scripts/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

define objs
$(patsubst %.c,build/$(1)/obj/%.o,$(2))
endef

build/release/obj/%.o: %.c build/flags.mk
	@mkdir -p $(dir $@)
	@echo "  CC   $@"
	@$(CC) $(REL_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

build/asan/obj/%.o: %.c build/flags.mk
	@mkdir -p $(dir $@)
	@echo "  CC   $@"
	@$(CC) $(ASAN_CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

# The generated file's objects (it lives under build/gen).
build/release/obj/build/gen/%.o: build/gen/%.c build/flags.mk
	@mkdir -p $(dir $@)
	@echo "  CC   $@"
	@$(CC) $(REL_CFLAGS) $(PKG_CFLAGS) -c $< -o $@
build/asan/obj/build/gen/%.o: build/gen/%.c build/flags.mk
	@mkdir -p $(dir $@)
	@echo "  CC   $@"
	@$(CC) $(ASAN_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

REL_LIB_OBJS := $(call objs,release,$(LIB_SRCS))
ASAN_LIB_OBJS := $(call objs,asan,$(LIB_SRCS))

build/release/sentry-bridge: $(REL_LIB_OBJS) build/release/obj/bridge/main.o
	@echo "  LD   $@"
	@$(CC) $(REL_CFLAGS) -o $@ $^ $(PKG_LIBS)
build/asan/sentry-bridge: $(ASAN_LIB_OBJS) build/asan/obj/bridge/main.o
	@echo "  LD   $@"
	@$(CC) $(ASAN_CFLAGS) -o $@ $^ $(PKG_LIBS)

build/release/sentry-bridge-sim: $(call objs,release,$(SIM_SRCS))
	@echo "  LD   $@"
	@$(CC) $(REL_CFLAGS) -o $@ $^ $(PKG_LIBS)
build/asan/sentry-bridge-sim: $(call objs,asan,$(SIM_SRCS))
	@echo "  LD   $@"
	@$(CC) $(ASAN_CFLAGS) -o $@ $^ $(PKG_LIBS)

build/asan/check_unit: $(ASAN_LIB_OBJS) $(call objs,asan,$(UNIT_SRCS))
	@echo "  LD   $@"
	@$(CC) $(ASAN_CFLAGS) -o $@ $^ $(PKG_LIBS) $$(pkg-config --libs check)
build/release/check_unit: $(REL_LIB_OBJS) $(call objs,release,$(UNIT_SRCS))
	@echo "  LD   $@"
	@$(CC) $(REL_CFLAGS) -o $@ $^ $(PKG_LIBS) $$(pkg-config --libs check)

# Fuzz targets: in `make check` each is linked with a replayer of its corpus;
# `make fuzz` builds real libFuzzer binaries with clang.
build/asan/fuzz_%: build/asan/obj/tests/fuzz/fuzz_%.o build/asan/obj/tests/fuzz/standalone.o $(ASAN_LIB_OBJS)
	@echo "  LD   $@"
	@$(CC) $(ASAN_CFLAGS) -o $@ $^ $(PKG_LIBS)
build/release/fuzz_%: build/release/obj/tests/fuzz/fuzz_%.o build/release/obj/tests/fuzz/standalone.o $(REL_LIB_OBJS)
	@echo "  LD   $@"
	@$(CC) $(REL_CFLAGS) -o $@ $^ $(PKG_LIBS)

fuzz: build/flags.mk build/gen/migrations.c
	@command -v clang >/dev/null || { echo "make fuzz needs clang: apt-get install clang" >&2; exit 1; }
	@mkdir -p build/fuzz
	for t in $(FUZZ_TARGETS); do \
		clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -iquote . -iquote bridge/core \
			-iquote build/gen -DSB_VERSION='"$(VERSION)"' -DSB_GIT_REV='"$(GIT_REV)"' $(PKG_CFLAGS) \
			tests/fuzz/fuzz_$$t.c $(LIB_SRCS) -o build/fuzz/fuzz_$$t $(PKG_LIBS) || exit 1; \
	done
	@echo "run e.g.: build/fuzz/fuzz_config -max_total_time=60 tests/fuzz/corpus/config"

deps:
	scripts/deps.sh check

# make check: build everything under the sanitizers, then run the harness,
# which starts a private PostgreSQL and the simulators and stops them after.
check:
	@scripts/deps.sh check
	$(MAKE) build/asan/sentry-bridge build/asan/sentry-bridge-sim build/asan/check_unit \
		$(addprefix build/asan/fuzz_,$(FUZZ_TARGETS)) build/release/sentry-bridge build/release/sentry-bridge-sim
	tests/run.sh

# The browser stage alone (tests/browser/run.sh); `make screenshots` also
# refreshes the pictures of docs/console.md (docs/screenshots/).
.PHONY: check-browser screenshots
check-browser:
	@scripts/deps.sh check
	$(MAKE) build/asan/sentry-bridge build/asan/sentry-bridge-sim
	SB_TESTS=browser tests/run.sh

screenshots:
	@scripts/deps.sh check
	$(MAKE) build/asan/sentry-bridge build/asan/sentry-bridge-sim
	SB_TESTS=browser SB_DOC_SCREENSHOTS=1 tests/run.sh

# The integration path once more, without sanitizers, under valgrind.
valgrind:
	@scripts/deps.sh check
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim build/release/check_unit \
		$(addprefix build/release/fuzz_,$(FUZZ_TARGETS))
	SB_VALGRIND=1 tests/run.sh

run:
	@scripts/deps.sh run
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim
	scripts/run-embedded.sh

bench:
	@scripts/deps.sh check
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim
	tests/bench/run.sh
	tests/bench/sync.sh
	tests/bench/hooks.sh
	tests/bench/access.sh
	tests/bench/provision.sh
	tests/bench/gitlab.sh
	tests/bench/console.sh
	tests/bench/slack.sh
	[ ! -x tests/bench/slack_directory.sh ] || tests/bench/slack_directory.sh

bench-access:
	@scripts/deps.sh check
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim
	tests/bench/access.sh

bench-console:
	@scripts/deps.sh check
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim
	tests/bench/console.sh

bench-hooks:
	@scripts/deps.sh check
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim
	tests/bench/hooks.sh

bench-provision:
	@scripts/deps.sh check
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim
	tests/bench/provision.sh

bench-gitlab:
	@scripts/deps.sh check
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim
	tests/bench/gitlab.sh

bench-slack-directory:
	@scripts/deps.sh check
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim
	tests/bench/slack_directory.sh

# Slack alerting (issue 8): tests/bench/slack.sh, then the directory
# benchmark when present (tests/bench/slack_directory.sh).
bench-slack:
	@scripts/deps.sh check
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim
	tests/bench/slack.sh
	[ ! -x tests/bench/slack_directory.sh ] || tests/bench/slack_directory.sh

bench-sync:
	@scripts/deps.sh check
	$(MAKE) build/release/sentry-bridge build/release/sentry-bridge-sim
	tests/bench/sync.sh

install: build/release/sentry-bridge
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/sentry-bridge
	install -m 0755 build/release/sentry-bridge $(DESTDIR)$(PREFIX)/bin/sentry-bridge
	install -m 0644 sentry-bridge.example.yaml README.md $(DESTDIR)$(PREFIX)/share/doc/sentry-bridge/
	cp -r docs $(DESTDIR)$(PREFIX)/share/doc/sentry-bridge/

clean:
	rm -rf build

distclean: clean
	-scripts/pg.sh stop run/pg 2>/dev/null
	rm -rf run

-include $(shell find build -name '*.d' 2>/dev/null)
