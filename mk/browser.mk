# The receipt page's browser tests (tests/api/test_page.py) drive headless Chromium: the Debian packages are
# installed here, once, before pytest starts (never from a test: parallel workers would race for the dpkg lock).
# Included by the main Makefile (`-include mk/*.mk`).
.PHONY: chromium-bin
chromium-bin:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || \
	  { echo "installing Chromium and its driver (Debian packages chromium, chromium-driver)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null; }

test: chromium-bin
