# ckpt: `make demo` and `make test` set everything up on a fresh Debian machine.
SWIFT ?= swift
CKPT_RELEASE := .build/release/ckpt
CKPT_DEBUG := .build/debug/ckpt
MODELS := cache/models
SMOL := $(MODELS)/smollm2-135m-instruct-q4_1.gguf
export CKPT_PYTHON := $(CURDIR)/cache/venv/bin/python
export CKPT_MODELS := $(CURDIR)/$(MODELS)

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
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: setup release
	@scripts/demo.sh $(CKPT_RELEASE)

fixtures: python
	cache/venv/bin/pip install -q torch transformers
	for f in Tests/fixtures/make_*.py; do echo "== $$f"; cache/venv/bin/python $$f || exit 1; done

bench: system
	$(SWIFT) build -c release --product compute-bench
	.build/release/compute-bench

clean:
	rm -rf .build
