# hromada-verify as its own distribution (packaging/verifier: only the `verifier` package, built from this tree).
# Included by the main Makefile (`-include mk/*.mk`). docs/audit.md, "Installing the verifier alone".
VERIFIER_BUILD ?= .build
# An auditor needs no project environment to build it: any pip will do (the project's when it exists).
VERIFIER_PIP ?= $(if $(wildcard $(PIP)),$(PIP),$(PYTHON) -m pip)

.PHONY: verifier-wheel

# Writes $(VERIFIER_BUILD)/hromada_verify-<version>-py3-none-any.whl (pip's isolated build fetches hatchling).
verifier-wheel:
	@mkdir -p $(VERIFIER_BUILD)
	rm -f $(VERIFIER_BUILD)/hromada_verify-*.whl
	$(VERIFIER_PIP) wheel --no-deps --disable-pip-version-check -q --wheel-dir $(VERIFIER_BUILD) ./packaging/verifier
	@ls $(VERIFIER_BUILD)/hromada_verify-*.whl
