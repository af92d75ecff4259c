# Two entry points: `make run` (whole stack on embedded defaults) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast test-official lint wiring-check lock lock-check mutate bench fuzz clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Every version comes from a lock file (exact versions and hashes, made by `make lock` from pyproject.toml):
# pip installs exactly what is listed and nothing else (--require-hashes --no-deps), the project itself last,
# built without isolation by the setuptools the lock pins. The pip inside the venv is the one Python ships.
LOCK := tests/requirements.lock
NODEPS_LOCK := functions/requirements-nodeps.lock
PIP_LOCKED := -m pip install --quiet --require-hashes --no-deps
PIP_SELF := -m pip install --quiet --no-deps --no-build-isolation -e .

$(STAMP): pyproject.toml $(LOCK) $(NODEPS_LOCK) | $(PY)
	@echo "installing the locked dependencies into $(VENV) (a few minutes the first time) ..."
	$(PY) $(PIP_LOCKED) -r $(LOCK) -r $(NODEPS_LOCK)
	$(PY) $(PIP_SELF)
	touch $(STAMP)

# Refresh the lock files from pyproject.toml and print what changed (UPGRADE=name moves one package, UPGRADE=all
# everything); see the README's development section.
lock: $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) scripts/lock.py

# Resolve again into a scratch folder: fails where a lock no longer follows from pyproject.toml (writes nothing).
lock-check: $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) scripts/lock.py --check

run: $(STAMP)
	$(PY) -m functions.serve

# The linter first (ruff, configured in pyproject.toml), then every tier.
test: lint
	$(PY) -m pytest

# The unit tier alone: in-memory parts and a fake endpoint, seconds (tests/unit).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m unit tests/unit

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) scripts/wiring.py --check

# template.yaml and serverless.yml against the wiring table (functions/handlers/wiring.py): every difference, exit 1.
wiring-check: $(STAMP)
	$(PY) scripts/wiring.py --check

# The real-engine tier: the official CosyVoice3 code (../shared/vendor, commit ace7c47) with small random
# weights, on CPU, in its own venv (built once: about 4 GB, 4 minutes), against the engine, the Triton model
# and the relay. `make test` never needs any of it.
OFFICIAL_VENV ?= .venv-official
OFFICIAL_PY := $(OFFICIAL_VENV)/bin/python
OFFICIAL_STAMP := $(OFFICIAL_VENV)/.installed-stamp
COSYVOICE_VENDOR ?= $(abspath ../shared/vendor/CosyVoice-ace7c47)

# torch is the CPU build (2.13.0+cpu): pip finds it in PyTorch's CPU index, which a machine without a local
# copy names with PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu.
OFFICIAL_LOCK := tests/official/requirements.lock
OFFICIAL_NODEPS_LOCK := tests/official/requirements-nodeps.lock

$(OFFICIAL_STAMP): pyproject.toml $(OFFICIAL_LOCK) $(OFFICIAL_NODEPS_LOCK) $(NODEPS_LOCK)
	$(PYTHON) -m venv $(OFFICIAL_VENV)
	@echo "installing the official tier's locked dependencies into $(OFFICIAL_VENV) (about 4 GB, minutes) ..."
	$(OFFICIAL_PY) $(PIP_LOCKED) -r $(OFFICIAL_LOCK) -r $(OFFICIAL_NODEPS_LOCK) -r $(NODEPS_LOCK)
	# PyPI has no CPU torchaudio for torch 2.13 (its native libraries want CUDA's); the official code uses only
	# its pure-Python parts, so it is installed without dependencies and without its native libraries.
	rm -f $$($(OFFICIAL_PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/torchaudio/lib/*.so
	$(OFFICIAL_PY) $(PIP_SELF)
	touch $(OFFICIAL_STAMP)

test-official: $(OFFICIAL_STAMP)
	COSYVOICE_VENDOR=$(COSYVOICE_VENDOR) $(OFFICIAL_PY) -m pytest -q -p no:cacheprovider tests/official

# Mutation testing of the core modules ([tool.mutmut] in pyproject.toml) on the fast tier; prints the kill rate
# per module and the survivors not yet reviewed, and draws artifacts/mutation.png.
mutate: $(STAMP)
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children 2 || true
	$(PY) scripts/mutation_report.py

bench: $(STAMP)
	$(PY) scripts/bench_inference.py
	$(PY) scripts/bench_relay.py
	$(PY) scripts/bench_stream.py
	$(PY) scripts/bench_connections.py
	$(PY) scripts/bench_enroll.py
	$(PY) scripts/bench_voice_identity.py

fuzz: $(STAMP)
	FUZZ_EXAMPLES=5000 SCHEMATHESIS_EXAMPLES=50 $(PY) -m pytest tests/functions/pipeline/test_decode_fuzz.py \
	    tests/functions/api/test_api_schema_fuzz.py

clean:
	rm -rf $(VENV) $(OFFICIAL_VENV) .cache .pytest_cache build *.egg-info
