# Two entry points: `make run` (whole stack on embedded defaults) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint bench fuzz clean

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

bench: $(STAMP)
	$(PY) scripts/bench_inference.py
	$(PY) scripts/bench_relay.py
	$(PY) scripts/bench_enroll.py
	$(PY) scripts/bench_voice_identity.py

fuzz: $(STAMP)
	FUZZ_EXAMPLES=5000 SCHEMATHESIS_EXAMPLES=200 $(PY) -m pytest tests/functions/test_decode_fuzz.py \
	    tests/functions/test_api_schema_fuzz.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
