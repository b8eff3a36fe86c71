# emotune -- plain make. `make` builds build/emotune; `make test` installs what is
# missing, builds with -Werror and with ASan+UBSan, and runs every test;
# `make bench` runs the benchmarks; `make fuzz` runs the fuzzers for a bounded time.

CC      ?= cc
PKGS    := libturbojpeg libpng libwebp libexif jansson yajl lmdb hiredis \
           libavformat libavcodec libswresample libavutil fftw3f libmicrohttpd \
           libavdevice libswscale libmpdclient
DEPS_OK := build/.deps-ok

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE    := -std=c11 -D_DEFAULT_SOURCE -Isrc $(WARN)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lopenblas -lm -lpthread

# A portable baseline: x86-64-v2 on x86-64, the compiler's default elsewhere.
# NATIVE=1 builds for this machine's CPU only.
ARCH    := $(shell $(CC) -dumpmachine | cut -d- -f1)
ifeq ($(NATIVE),1)
MARCH   := -march=native
TARGET  := this CPU only (NATIVE=1)
else ifeq ($(ARCH),x86_64)
MARCH   := -march=x86-64-v2
TARGET  := x86-64-v2
else
MARCH   :=
TARGET  := $(ARCH)
endif
# The kernels of one instruction set are compiled alone with its flags
# (src/nn/kernels_*.c); emotune picks among them at run time (src/nn/cpu.c).
ifeq ($(ARCH),x86_64)
KFLAGS_avx2   := -mavx2 -mfma -ffp-contract=fast
KFLAGS_avx512 := -mavx512f -mavx2 -mfma -mprefer-vector-width=512 -ffp-contract=fast
endif
kflags = $(KFLAGS_$(patsubst kernels_%,%,$(basename $(notdir $(1)))))
OPT     := -O3 $(MARCH) -g
SAN     := -O1 $(MARCH) -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

# Every module under src/ except the command line goes into one library.
LIB_SRC := $(filter-out src/cli/%,$(wildcard src/*/*.c))
CLI_SRC := $(wildcard src/cli/*.c)
HDRS    := $(wildcard src/*/*.h)
TESTS   := $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
# Every tests/*support.c is linked into every test program.
TEST_SUPPORT := $(wildcard tests/*support.c)
TEST_SUPPORT_H := $(wildcard tests/*support.h)
FUZZERS := $(patsubst fuzz/%.c,%,$(filter-out fuzz/replay.c,$(wildcard fuzz/fuzz_*.c)))
MODELS  := tiny_face_detector_model-weights_manifest.json tiny_face_detector_model.bin \
           face_expression_model-weights_manifest.json face_expression_model.bin
MODEL_SRC := node_modules/@vladmandic/face-api/model

.PHONY: all deps run demo test test-build bench fuzz clean models cross-arm64 train \
        man install uninstall deb
all: build/emotune models

$(DEPS_OK): scripts/deps.sh package.json package-lock.json
	scripts/deps.sh
	@mkdir -p build && touch $@

deps:
	scripts/deps.sh
	@mkdir -p build && touch $(DEPS_OK)

# --- release build (build/) and sanitizer build (build/san/) ---------------
build/obj/%.o: src/%.c $(HDRS) src/nn/kernels_impl.h | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) $(call kflags,$<) $(PKG_CFLAGS) -c $< -o $@

build/san/obj/%.o: src/%.c $(HDRS) src/nn/kernels_impl.h | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(SAN) $(call kflags,$<) $(PKG_CFLAGS) -c $< -o $@

# The OpenAPI document is written as JSON and compiled in as a C string.
build/gen/openapi_json.inc: src/server/openapi.json
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' \
	    -e 's/@ET_VERSION@/" ET_VERSION "/g' $< > $@
OPENAPI_OBJ := build/obj/server/openapi.o build/san/obj/server/openapi.o \
               build/fuzz/obj/server/openapi.o
$(OPENAPI_OBJ): build/gen/openapi_json.inc
$(OPENAPI_OBJ): BASE += -Ibuild/gen
$(OPENAPI_OBJ): FUZZ_CFLAGS += -Ibuild/gen

# emotune-1's weights (issue 13; written by tools/train_expr.py) are compiled
# in as a C string, once they match their checksum: a weights file that does
# not match its .sha256 (sha256sum's format, the path relative to here) stops
# the build. EXPR_HEAD=FILE builds with another file (and FILE.sha256).
EXPR_HEAD ?= models/emotune-expressions-1.json
# build/gen/expr_head.name holds the file last embedded; it changes (and the
# copy is made again) whenever EXPR_HEAD names another file, newer or not.
EXPR_HEAD_NAME := build/gen/expr_head.name
$(shell mkdir -p build/gen && { [ "$$(cat $(EXPR_HEAD_NAME) 2>/dev/null)" = "$(EXPR_HEAD)" ] || \
          echo "$(EXPR_HEAD)" > $(EXPR_HEAD_NAME); })
build/gen/expr_head_json.inc: $(EXPR_HEAD) $(EXPR_HEAD).sha256 $(EXPR_HEAD_NAME)
	@mkdir -p $(dir $@)
	@grep -q '  $(EXPR_HEAD)$$' $(EXPR_HEAD).sha256 && \
	  sha256sum --quiet --strict -c $(EXPR_HEAD).sha256 || \
	  { echo "$(EXPR_HEAD) does not match its checksum $(EXPR_HEAD).sha256: a damaged or" \
	         "hand-edited weights file (tools/train_expr.py writes both)"; exit 1; }
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@.tmp && mv $@.tmp $@
HEAD_OBJ := build/obj/vision/head_json.o build/san/obj/vision/head_json.o \
            build/fuzz/obj/vision/head_json.o build/arm64/obj/vision/head_json.o
$(HEAD_OBJ): build/gen/expr_head_json.inc
$(HEAD_OBJ): BASE += -Ibuild/gen
$(HEAD_OBJ): FUZZ_CFLAGS += -Ibuild/gen
# tests/test_expr_model.c checks the file the build embedded.
build/tests/test_expr_model build/san/tests/test_expr_model: \
	TEST_FLAGS = -DET_TEST_EXPR_HEAD='"$(EXPR_HEAD)"'

# `emotune version` tells which target the build was for.
build/obj/cli/version_cmd.o build/san/obj/cli/version_cmd.o: BASE += -DET_BUILD_TARGET='"$(TARGET)"'

LIB_OBJ     := $(patsubst src/%.c,build/obj/%.o,$(LIB_SRC))
LIB_OBJ_SAN := $(patsubst src/%.c,build/san/obj/%.o,$(LIB_SRC))
CLI_OBJ     := $(patsubst src/%.c,build/obj/%.o,$(CLI_SRC))
CLI_OBJ_SAN := $(patsubst src/%.c,build/san/obj/%.o,$(CLI_SRC))

build/libemotune.a: $(LIB_OBJ)
	ar rcs $@ $^
build/san/libemotune.a: $(LIB_OBJ_SAN)
	ar rcs $@ $^

build/emotune: $(CLI_OBJ) build/libemotune.a
	$(CC) $(OPT) $^ $(PKG_LIBS) -o $@
build/san/emotune: $(CLI_OBJ_SAN) build/san/libemotune.a
	$(CC) $(SAN) $^ $(PKG_LIBS) -o $@

# The model files travel next to the binaries, where emotune looks by default.
models: $(addprefix build/models/,$(MODELS)) $(addprefix build/san/models/,$(MODELS))
build/models/%: $(MODEL_SRC)/% | $(DEPS_OK)
	@mkdir -p $(dir $@) && cp $< $@
build/san/models/%: $(MODEL_SRC)/% | $(DEPS_OK)
	@mkdir -p $(dir $@) && cp $< $@
$(MODEL_SRC)/%: | $(DEPS_OK)
	@test -f $@ || { echo "missing $@: run make deps"; exit 1; }
# npm ci puts them there, within the same make run on a fresh clone: without
# this, make would take them for intermediates of the rule above and delete
# them from node_modules once copied (then face-api's reference has none).
.SECONDARY: $(addprefix $(MODEL_SRC)/,$(MODELS))
# Human's emotion net (issue 19): @vladmandic/human 3.3.6's models/emotion.json
# and .bin, copied next to face-api's once they match their checksums in
# models/human-emotion.sha256 (a mismatch stops the build).
EMO_MODELS := emotion.json emotion.bin
EMO_SRC := node_modules/@vladmandic/human/models
EMO_SUMS := models/human-emotion.sha256
emo_check = @grep -q '  $(EMO_SRC)/$(notdir $@)$$' $(EMO_SUMS) && \
	  grep '  $(EMO_SRC)/$(notdir $@)$$' $(EMO_SUMS) | sha256sum --quiet --strict -c - || \
	  { echo "$(EMO_SRC)/$(notdir $@) does not match its checksum in $(EMO_SUMS)"; exit 1; }
models: $(addprefix build/models/,$(EMO_MODELS)) $(addprefix build/san/models/,$(EMO_MODELS))
build/models/emotion.%: $(EMO_SRC)/emotion.% $(EMO_SUMS) | $(DEPS_OK)
	$(emo_check)
	@mkdir -p $(dir $@) && cp $< $@
build/san/models/emotion.%: $(EMO_SRC)/emotion.% $(EMO_SUMS) | $(DEPS_OK)
	$(emo_check)
	@mkdir -p $(dir $@) && cp $< $@
$(EMO_SRC)/%: | $(DEPS_OK)
	@test -f $@ || { echo "missing $@: run make deps"; exit 1; }
.SECONDARY: $(addprefix $(EMO_SRC)/,$(EMO_MODELS))

# --- tests ----------------------------------------------------------------
build/tests/%: tests/%.c $(TEST_SUPPORT) $(TEST_SUPPORT_H) build/libemotune.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) $(PKG_CFLAGS) $(TEST_FLAGS) -Itests $< $(TEST_SUPPORT) build/libemotune.a $(PKG_LIBS) -lcmocka -o $@
build/san/tests/%: tests/%.c $(TEST_SUPPORT) $(TEST_SUPPORT_H) build/san/libemotune.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(SAN) $(PKG_CFLAGS) $(TEST_FLAGS) -Itests $< $(TEST_SUPPORT) build/san/libemotune.a $(PKG_LIBS) -lcmocka -o $@

# Fuzz targets replayed on their corpora by a plain driver (no clang needed).
build/san/replay/%: fuzz/%.c fuzz/replay.c build/san/libemotune.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(SAN) $(PKG_CFLAGS) $< fuzz/replay.c build/san/libemotune.a $(PKG_LIBS) -o $@

test-build: build/emotune build/san/emotune models \
	$(addprefix build/tests/,$(TESTS)) $(addprefix build/san/tests/,$(TESTS)) \
	$(addprefix build/san/replay/,$(FUZZERS)) build/tests/dump_rgb

build/tests/dump_rgb: tests/tools/dump_rgb.c build/libemotune.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) $(PKG_CFLAGS) $< build/libemotune.a $(PKG_LIBS) -o $@

test: $(DEPS_OK)
	$(MAKE) test-build cross-arm64
	scripts/run-tests.sh

# --- arm64: the portable code compiles for another architecture -----------
# Compiles the vision core (core, image, nn, vision) with Debian's
# aarch64-linux-gnu-gcc, into an arm64 archive. Compile only: the libraries'
# headers are the host's (they do not depend on the architecture), found
# after the cross compiler's own.
CROSS_CC  ?= aarch64-linux-gnu-gcc
CROSS_INC := -idirafter /usr/include -idirafter /usr/include/$(shell $(CC) -dumpmachine) \
             $(shell pkg-config --cflags-only-I libpng 2>/dev/null)
CROSS_SRC := $(wildcard src/core/*.c src/image/*.c src/nn/*.c src/vision/*.c)
CROSS_OBJ := $(patsubst src/%.c,build/arm64/obj/%.o,$(CROSS_SRC))
build/arm64/obj/%.o: src/%.c $(HDRS) src/nn/kernels_impl.h | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CROSS_CC) $(BASE) -O2 -g $(CROSS_INC) -c $< -o $@
build/arm64/libemotune-vision.a: $(CROSS_OBJ)
	$(CROSS_CC:gcc=ar) rcs $@ $^
cross-arm64: build/arm64/libemotune-vision.a
	@for o in $(CROSS_OBJ); do $(CROSS_CC:gcc=readelf) -h $$o | grep -q 'Machine: *AArch64' || \
	  { echo "cross-arm64: $$o is not an arm64 object"; exit 1; }; done
	@echo "cross-arm64: $(words $(CROSS_OBJ)) files of src/core, image, nn and vision compile for arm64"

# --- fuzzing with libFuzzer (clang) ---------------------------------------
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := $(BASE) -O1 $(MARCH) -g $(PKG_CFLAGS)
build/fuzz/obj/%.o: src/%.c $(HDRS) src/nn/kernels_impl.h | $(DEPS_OK)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined $(call kflags,$<) -c $< -o $@
build/fuzz/%: fuzz/%.c $(patsubst src/%.c,build/fuzz/obj/%.o,$(LIB_SRC)) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $^ $(PKG_LIBS) -o $@
fuzz: $(addprefix build/fuzz/,$(FUZZERS))
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZERS)

# --- run and bench --------------------------------------------------------
# `make run`: the web page at http://127.0.0.1:8080 until Ctrl-C, playing
# MUSIC (default ~/Music, else a demo library); `make demo`: the command line
# from face to songs.
run: $(DEPS_OK) all
	MUSIC='$(MUSIC)' LISTEN='$(LISTEN)' scripts/run.sh
demo: $(DEPS_OK) all
	scripts/demo.sh

# Each bench program is one file of bench/ linked with the library
# (bench_detect, bench_kernels, bench_store, bench_decode, sim_recommend,
# bench_next, server_load; expr_features writes the labelled faces' features
# for tools/expr_cv.py and make train; find_rate counts faces found in whole
# pictures, face-api mode against emotune-1's second pass; issue 13).
build/bench/%: bench/%.c build/libemotune.a
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) $(PKG_CFLAGS) $< build/libemotune.a $(PKG_LIBS) -o $@

bench: $(DEPS_OK) all build/tests/dump_rgb build/bench/bench_detect build/bench/bench_kernels build/bench/bench_store \
	build/bench/bench_decode build/bench/sim_recommend build/bench/server_load build/bench/bench_next \
	build/bench/expr_features build/bench/find_rate build/bench/bench_emotion \
	build/bench/bench_calibration
	bench/run.sh
	bench/store.sh
	bench/scan.sh
	bench/recommend.sh
	bench/server.sh
	build/bench/bench_next 5000 100
	bench/expressions.sh

# emotune-1's weights from the labelled faces (tools/train.sh; issue 13).
train: $(DEPS_OK) build/bench/expr_features
	tools/train.sh

clean:
	rm -rf build

# --- install and Debian package -------------------------------------------
# `make install` (PREFIX=/usr/local, DESTDIR for a staging folder): the
# binary in bin/, the models and the web page in share/emotune/ (the binary
# finds them as ../share/emotune from itself, so a DESTDIR or another PREFIX
# works as installed; --models/--web, EMOTUNE_MODELS/EMOTUNE_WEB override),
# the manual page, bash completion and the systemd units (emotune.service for
# a user, emotune-system.service for a box of its own). `make uninstall`
# removes exactly those. `make man`: build/emotune.1 from the help texts
# (scripts/make-man.sh). `make deb`: the Debian package, in build/deb/
# (scripts/make-deb.sh; debian/).
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share/emotune
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMD_USER_DIR   ?= $(PREFIX)/lib/systemd/user
SYSTEMD_SYSTEM_DIR ?= $(PREFIX)/lib/systemd/system
# the page's files: those static.c serves (directly in web/, by extension)
WEB_FILES   := $(sort $(foreach e,html js mjs css svg png webp json txt,$(wildcard web/*.$(e))))
INST_MODELS := $(addprefix build/models/,$(MODELS) $(EMO_MODELS))
INST_FILES  := $(BINDIR)/emotune $(addprefix $(DATADIR)/models/,$(MODELS) $(EMO_MODELS)) \
               $(patsubst web/%,$(DATADIR)/web/%,$(WEB_FILES)) $(MANDIR)/man1/emotune.1.gz \
               $(BASHCOMPDIR)/emotune $(SYSTEMD_USER_DIR)/emotune.service \
               $(SYSTEMD_SYSTEM_DIR)/emotune-system.service

man: build/emotune.1
build/emotune.1: build/emotune man/emotune.1.in scripts/make-man.sh
	scripts/make-man.sh build/emotune man/emotune.1.in > $@.tmp && mv $@.tmp $@

install: build/emotune build/emotune.1 $(INST_MODELS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/models $(DESTDIR)$(DATADIR)/web \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSTEMD_USER_DIR) \
	  $(DESTDIR)$(SYSTEMD_SYSTEM_DIR)
	install -m 755 build/emotune $(DESTDIR)$(BINDIR)/emotune
	install -m 644 $(INST_MODELS) $(DESTDIR)$(DATADIR)/models/
	install -m 644 $(WEB_FILES) $(DESTDIR)$(DATADIR)/web/
	gzip -9n < build/emotune.1 > $(DESTDIR)$(MANDIR)/man1/emotune.1.gz
	chmod 644 $(DESTDIR)$(MANDIR)/man1/emotune.1.gz
	install -m 644 completion/emotune.bash $(DESTDIR)$(BASHCOMPDIR)/emotune
	sed 's|/usr/bin/emotune|$(BINDIR)/emotune|g' dist/systemd/emotune.service \
	  > $(DESTDIR)$(SYSTEMD_USER_DIR)/emotune.service
	sed 's|/usr/bin/emotune|$(BINDIR)/emotune|g' dist/systemd/emotune-system.service \
	  > $(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/emotune-system.service
	chmod 644 $(DESTDIR)$(SYSTEMD_USER_DIR)/emotune.service \
	  $(DESTDIR)$(SYSTEMD_SYSTEM_DIR)/emotune-system.service

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INST_FILES))
	-rmdir $(DESTDIR)$(DATADIR)/models $(DESTDIR)$(DATADIR)/web $(DESTDIR)$(DATADIR) 2> /dev/null

deb:
	scripts/make-deb.sh
