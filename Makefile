# Two entry points: `make demo` and `make test`. Everything else is a step of those.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)

.PHONY: demo cluster test setup system-deps lint typecheck pytest messages bench-audit bench-kyc \
	bench-kyc-documents bench-kyc-faces bench-kyc-liveness bench-kyc-live bench-kyc-loop bench-media \
	bench-signing bench-cluster

# The demo exports audit checkpoints beside its data, as a deployment must
# (elsewhere: another disk or bucket; README, "anchored log"), matches faces
# with ArcFace on InsightFace's research-only model (README, "Face engines"), and
# asks the fake identity platform and a fake registry that knows the demo's
# company (README, "Identity sources").
DEMO_ENV := SIGNROOM_CHECKPOINT_EXPORT_DIR=$${SIGNROOM_CHECKPOINT_EXPORT_DIR:-var/checkpoints} \
	SIGNROOM_FACE_ENGINE=$${SIGNROOM_FACE_ENGINE:-arcface} \
	SIGNROOM_IDENTITY_SOURCE=$${SIGNROOM_IDENTITY_SOURCE:-fake} \
	SIGNROOM_REGISTRY_SOURCE=$${SIGNROOM_REGISTRY_SOURCE:-fake} \
	SIGNROOM_REGISTRY_SOURCE_FAKE_FILE=$${SIGNROOM_REGISTRY_SOURCE_FAKE_FILE:-web/demo_registry.json}

demo: setup
	$(DEMO_ENV) $(BIN)/signroom migrate
	$(DEMO_ENV) $(BIN)/signroom demo-seed
	$(DEMO_ENV) $(BIN)/signroom serve

# Several nodes on this machine (localcluster/): PostgreSQL, Redis, SeaweedFS, two
# nodes on :8081 and :8082, a worker and HAProxy on :8080; Ctrl-C stops it all.
cluster: setup
	$(BIN)/python -m localcluster

test: setup lint typecheck pytest

setup: system-deps $(STAMP)

system-deps:
	@scripts/system-deps.sh "$(PYTHON)"

$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# One test fast: make pytest ARGS='tests/test_config.py -k bad_settings'
pytest: setup
	$(BIN)/pytest -q $(ARGS)

# Every text key the pages name, as a gettext template for translators
# (docs/adr/0005-gettext-keys.md); the catalogues are web/locale/*/LC_MESSAGES.
messages: setup
	mkdir -p var
	$(BIN)/pybabel --quiet extract -F babel.cfg -k translate:2 -k ntranslate:2 -k t -k tn \
		--omit-header --project signroom -o var/messages.pot .

bench-audit: setup
	$(BIN)/python -m benchmarks.bench_audit

bench-kyc: setup
	$(BIN)/python -m benchmarks.bench_kyc

bench-kyc-documents: setup
	$(BIN)/python -m benchmarks.bench_kyc_documents

bench-kyc-faces: setup
	$(BIN)/python -m benchmarks.bench_kyc_faces

bench-kyc-liveness: setup
	$(BIN)/python -m benchmarks.bench_kyc_liveness

bench-kyc-live: setup
	$(BIN)/python -m benchmarks.bench_kyc_live

bench-kyc-loop: setup
	$(BIN)/python -m benchmarks.bench_kyc_loop

bench-media: setup
	$(BIN)/python -m benchmarks.bench_media

bench-signing: setup
	$(BIN)/python -m benchmarks.bench_signing

bench-cluster: setup
	$(BIN)/python -m benchmarks.bench_cluster
