# The two commands: `make run` (set up, build the index if missing, serve the chat page)
# and `make test`. Everything works offline once the packages are installed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test install index bench load eval browser-deps postgres-deps clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: pip then takes the machine's local CPU wheel, not a CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

index: install
	$(PY) -m assistant -v build

run: install
	$(PY) app.py

# Debian's chromium and CJK fonts for the browser test; installed only when missing.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then \
		echo "installing chromium and fonts-noto-cjk for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

# Debian's PostgreSQL server for the shared-feedback test (tests/postgres.py starts its own
# throwaway instance on a loopback port); installed only when missing.
postgres-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing postgresql for the feedback-store test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

test: install browser-deps postgres-deps
	$(PY) -m pytest -q

# make eval LLM_URL=http://127.0.0.1:8080/v1 [LLM_MODEL=name]: the LLM composer through that server as well
eval: install
	$(PY) -m eval $(if $(LLM_URL),--llm $(LLM_URL)) $(if $(LLM_MODEL),--llm-model $(LLM_MODEL))

bench: install
	$(PY) -m bench

load: install
	$(PY) -m bench.load

clean:
	rm -rf $(VENV) index/*.json index/*.faiss var
