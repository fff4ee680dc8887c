# Developer targets. The test suite itself runs with ./scripts/test (pytest).
#
#   make sipssert        OpenSIPS's whole SIPssert suite against opensips-py (about 19 minutes): one line per
#                        scenario, JUnit XML, a Markdown table and every task's log under $(OUT)
#   make sipssert-doc    the same run, then its table written into docs/sipssert.md
#   make sipssert K=dialog/0[1-6]*   only the scenarios matching the pattern (as -k)

PYTHON ?= .venv/bin/python
SHARED ?= $(firstword $(wildcard $(OPENSIPS_PY_SHARED) ../shared /work/shared))
SUITE ?= $(SHARED)/corpus/official/sipssert-opensips-tests
OUT ?= build/sipssert
K ?=
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null)

SIPSSERT = $(PYTHON) -m opensips_py sipssert $(SUITE) $(if $(K),-k '$(K)') \
	--junit $(OUT)/junit.xml --markdown $(OUT)/results.md --logs-dir $(OUT)/logs

.PHONY: sipssert sipssert-doc

sipssert:
	@mkdir -p $(OUT)
	$(SIPSSERT)

sipssert-doc:
	@mkdir -p $(OUT)
	-$(SIPSSERT)
	$(PYTHON) benchmarks/sipssert/update_doc.py $(OUT)/results.md docs/sipssert.md $(COMMIT)
