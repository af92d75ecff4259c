# Two entry points: `make run` (whole stack on embedded defaults) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast test-official lint bench fuzz clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# silero-vad ships its ONNX model in the wheel but declares torch and torchaudio (gigabytes) as dependencies
# it needs only for its own helpers; we run the model with onnxruntime, so it is installed without them.
SILERO_VAD := silero-vad==6.2.3

$(STAMP): pyproject.toml Makefile | $(PY)
	$(PY) -m pip install --quiet -e '.[functions,inference,dev]'
	$(PY) -m pip install --quiet --no-deps '$(SILERO_VAD)'
	touch $(STAMP)

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

# The real-engine tier: the official CosyVoice3 code (../shared/vendor, commit ace7c47) with small random
# weights, on CPU, in its own venv (built once: about 4 GB, 4 minutes), against the engine, the Triton model
# and the relay. `make test` never needs any of it.
OFFICIAL_VENV ?= .venv-official
OFFICIAL_PY := $(OFFICIAL_VENV)/bin/python
OFFICIAL_STAMP := $(OFFICIAL_VENV)/.installed-stamp
COSYVOICE_VENDOR ?= $(abspath ../shared/vendor/CosyVoice-ace7c47)

$(OFFICIAL_STAMP): tests/official/requirements.txt pyproject.toml Makefile
	$(PYTHON) -m venv $(OFFICIAL_VENV)
	$(OFFICIAL_PY) -m pip install --quiet --upgrade pip
	$(OFFICIAL_PY) -m pip install --quiet -r tests/official/requirements.txt
	# PyPI has no CPU torchaudio for torch 2.13 (its native libraries want CUDA's); the official code uses only
	# its pure-Python parts, so it is installed without dependencies and without its native libraries.
	$(OFFICIAL_PY) -m pip install --quiet --no-deps torchaudio==2.3.1
	rm -f $$($(OFFICIAL_PY) -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/torchaudio/lib/*.so
	$(OFFICIAL_PY) -m pip install --quiet -e '.[functions,inference,dev]'
	$(OFFICIAL_PY) -m pip install --quiet --no-deps '$(SILERO_VAD)'
	touch $(OFFICIAL_STAMP)

test-official: $(OFFICIAL_STAMP)
	COSYVOICE_VENDOR=$(COSYVOICE_VENDOR) $(OFFICIAL_PY) -m pytest -q -p no:cacheprovider tests/official

bench: $(STAMP)
	$(PY) scripts/bench_inference.py
	$(PY) scripts/bench_relay.py
	$(PY) scripts/bench_stream.py
	$(PY) scripts/bench_enroll.py
	$(PY) scripts/bench_voice_identity.py

fuzz: $(STAMP)
	FUZZ_EXAMPLES=5000 SCHEMATHESIS_EXAMPLES=50 $(PY) -m pytest tests/functions/test_decode_fuzz.py \
	    tests/functions/test_api_schema_fuzz.py

clean:
	rm -rf $(VENV) $(OFFICIAL_VENV) .cache .pytest_cache build *.egg-info
