# API benchmark: wrk drives the running server over loopback (Debian package, installed when missing).
.PHONY: wrk-bin
wrk-bin:
	@command -v wrk >/dev/null 2>&1 || { echo "installing wrk (Debian package)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null; }

bench: wrk-bin

# Chromium screenshots of the receipt page (docs/receipts.md): docs/img/receipt-{good,failing,unverifiable}-{1280,390}.png
.PHONY: receipt-screenshots
receipt-screenshots:
	PYTHONPATH=. $(PY) -m tests.api.receipt_screenshots docs/img
