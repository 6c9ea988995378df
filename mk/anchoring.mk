# Anchoring: node tools (anvil, solcjs) pinned in tools/package.json + tools/package-lock.json.
# Included by the main Makefile (`-include mk/*.mk`).
NPM ?= npm
TOOLS_DIR := tools
TOOLS_STAMP := $(TOOLS_DIR)/node_modules/.package-lock.json

.PHONY: node-deps contract-check contract-build

# npm ci writes node_modules/.package-lock.json; reinstall when it is missing or older than the lock.
$(TOOLS_STAMP): $(TOOLS_DIR)/package.json $(TOOLS_DIR)/package-lock.json
	$(NPM) ci --prefix $(TOOLS_DIR) --ignore-scripts --no-audit --no-fund
	@touch $(TOOLS_STAMP)

node-deps: $(TOOLS_STAMP)

deps: node-deps

# Recompile anchoring/contracts/HromadaAnchor.sol with the pinned solcjs and compare byte for byte
# with the committed artifact (exit 1 and a diff when they differ).
contract-check: deps
	$(PY) -m anchoring.compile --check

# Rewrite the artifact after an intended change of the source or of the compiler settings.
contract-build: deps
	$(PY) -m anchoring.compile
