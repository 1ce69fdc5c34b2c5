# Two commands do all the set-up on a fresh machine:
#   make demo   # create/refresh .venv, then run the quickstart pipeline on the packaged default model
#   make test   # create/refresh .venv, then run the whole test suite
VENV ?= .venv
BB = $(VENV)/bin/balancedbio
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv demo chat test test-lower-bounds lint

venv:
	@VENV=$(VENV) bash scripts/setup_env.sh

demo: venv
	$(BB) run configs/quickstart.yaml

chat: venv
	$(BB) chat --prompt "Which gene is mutated in cystic fibrosis, and what does its protein do?" --max-new-tokens 80

test: venv
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider --durations=15 tests

# The lowest transformers the package supports (pyproject: 5.17, the GPU image's) over the venv's other
# packages, on the tests that drive the trainers, the rollouts and the evaluators (about 13 minutes on 2 cores).
LOWER ?= .lower-bounds
test-lower-bounds: venv
	$(VENV)/bin/python -m pip install -q --no-deps --target $(LOWER) "transformers==5.17.0" "huggingface_hub==1.33.0"
	$(VENV)/bin/python -m pip install -q --target $(LOWER) "httpx>=0.28"
	PYTHONPATH=$(abspath $(LOWER)) $(VENV)/bin/python -c "import transformers; assert transformers.__version__ == '5.17.0'"
	PYTHONPATH=$(abspath $(LOWER)) $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/train tests/eval \
		tests/experiments tests/pipeline tests/test_models.py

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
