# ckpt: `make demo` and `make test` set everything up on a fresh Debian machine.
SWIFT ?= swift
CKPT_RELEASE := .build/release/ckpt
CKPT_DEBUG := .build/debug/ckpt
# The oracle venv and the real models live outside the clone (git-ignored either way), so a
# fresh clone on the same machine reuses them; each script installs what is missing.
export CKPT_CACHE ?= $(HOME)/.cache/ckpt
export CKPT_PYTHON := $(CKPT_CACHE)/venv/bin/python
export CKPT_MODELS := $(CKPT_CACHE)/models

.PHONY: setup system python models build release test demo fuzz bench fixtures clean

system:
	@scripts/setup-system.sh

python:
	@scripts/setup-python.sh

models:
	@scripts/fetch-models.sh

setup: system python models

build: system
	$(SWIFT) build

release: system
	$(SWIFT) build -c release

test: setup
	@scripts/check-disk.sh
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: setup release
	@scripts/demo.sh $(CKPT_RELEASE)

fuzz: system
	@scripts/fuzz.sh

bench: setup release
	@scripts/setup-python.sh --bench
	@scripts/bench.sh

fixtures: python
	$(CKPT_CACHE)/venv/bin/pip install -q torch transformers tokenizers
	for f in Tests/fixtures/make_*.py; do echo "== $$f"; $(CKPT_PYTHON) $$f || exit 1; done

clean:
	rm -rf .build
