"""Chromium screenshots of the receipt page (docs/receipts.md): a verified, a failing and an unverifiable receipt, at
1280 and 390 CSS pixels, written as docs/img/receipt-<case>-<width>.png. Not part of `make test`; run it with
`make receipt-screenshots` (or `python -m tests.api.receipt_screenshots DIR`).

The chain is the JSON-RPC stub of tests/api/rpc_stub.py serving chain id 11155111 (Sepolia's): the screenshots
show what the page says, not a real anchor. "Failing" is a receipt whose anchor the server fabricated (the chain
carries another root); "unverifiable" is the good receipt while the chain RPC cannot be reached.
"""

from __future__ import annotations

import argparse
import base64
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

from tests.api.receipt_site import ORIGIN, Site, Witness, check_page, chromium, with_lines
from tests.api.rpc_stub import RpcStub
from tests.ports import free_port

CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
WIDTHS = (1280, 390)


def _shoot(browser: Any, width: int, path: Path) -> None:
    metrics = {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    height = int(browser.execute_script("return document.documentElement.scrollHeight"))
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": height})
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})
    width_px, height_px, palette, indices = browser.execute_async_script(_QUANTIZE, shot["data"])
    path.write_bytes(_palette_png(int(width_px), int(height_px), palette, base64.b64decode(indices)))


# Reduces the screenshot to at most 256 colours in a canvas of the same browser (no image library needed): the 255
# most frequent colours at 4 bits per channel, each other pixel to its nearest; returns [w, h, palette, indices].
_QUANTIZE = """
const [data, done] = [arguments[0], arguments[arguments.length - 1]];
const img = new Image();
img.onload = () => {
  const c = document.createElement("canvas");
  c.width = img.width; c.height = img.height;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  const n = c.width * c.height, bucket = new Uint16Array(n), count = new Uint32Array(4096);
  const sum = new Float64Array(4096 * 3);
  for (let i = 0; i < n; i++) {
    const r = px[4 * i], gr = px[4 * i + 1], b = px[4 * i + 2];
    const k = ((r >> 4) << 8) | ((gr >> 4) << 4) | (b >> 4);
    bucket[i] = k; count[k]++; sum[3 * k] += r; sum[3 * k + 1] += gr; sum[3 * k + 2] += b;
  }
  const order = Array.from(count.keys()).filter((k) => count[k]).sort((a, b) => count[b] - count[a]).slice(0, 256);
  const palette = order.map((k) => [0, 1, 2].map((j) => Math.round(sum[3 * k + j] / count[k])));
  const index = new Int16Array(4096).fill(-1);
  order.forEach((k, i) => { index[k] = i; });
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let p = index[bucket[i]];
    if (p < 0) {
      let best = 1e9;
      for (let j = 0; j < palette.length; j++) {
        const q = palette[j];
        const d = (q[0] - px[4 * i]) ** 2 + (q[1] - px[4 * i + 1]) ** 2 + (q[2] - px[4 * i + 2]) ** 2;
        if (d < best) { best = d; p = j; }
      }
      index[bucket[i]] = p;
    }
    out[i] = p;
  }
  let bin = "";
  for (let i = 0; i < n; i += 0x8000) bin += String.fromCharCode.apply(null, out.subarray(i, i + 0x8000));
  done([c.width, c.height, palette, btoa(bin)]);
};
img.src = "data:image/png;base64," + data;
"""


def _palette_png(width: int, height: int, palette: list[list[int]], indices: bytes) -> bytes:
    """An 8-bit palette PNG (colour type 3), rows unfiltered, deflated at level 9."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + indices[y * width : (y + 1) * width] for y in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
        + chunk(b"PLTE", bytes(v for rgb in palette for v in rgb))
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        site, chain = Site(Path(tmp) / "site"), RpcStub(11155111)
        try:
            w1, w2 = Witness("witness.lviv.example"), Witness("witness.kyiv.example")
            pins: dict[str, Any] = {
                "log_key": site.log_key,
                "rpc_url": chain.url,
                "chain_id": 11155111,
                "contract": CONTRACT,
                "witnesses": [{"name": "Львів", "key": w1.verifier_key}, {"name": "Київ", "key": w2.verifier_key}],
            }
            anchor = chain.put_anchor(ORIGIN, site.size, site.root, CONTRACT)
            good = {**with_lines(site.receipt, w1.cosign(site.body), w2.cosign(site.body)), "anchor": anchor}
            good["status"] = "anchored"
            cases = {
                "good": (pins, good),
                "failing": (pins, {**good, "anchor": {**anchor, "root": "11" * 32}}),
                "unverifiable": ({**pins, "rpc_url": f"http://127.0.0.1:{free_port()}/"}, good),
            }
            with chromium(Path(tmp) / "profile") as browser:
                for name, (case_pins, receipt) in cases.items():
                    site.pin(**case_pins)
                    for width in WIDTHS:
                        browser.execute_cdp_cmd(
                            "Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600},
                        )
                        status, text = check_page(browser, site.url, receipt)
                        want = {"good": "ok", "failing": "fail", "unverifiable": "partial"}[name]
                        if status != want:
                            raise SystemExit(f"{name} at {width}px: status {status}, expected {want}\n{text}")
                        browser.execute_script("document.getElementById('receipt').value = '';")
                        path = out / f"receipt-{name}-{width}.png"
                        _shoot(browser, width, path)
                        written.append(path)
        finally:
            chain.close()
            site.close()
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", type=Path, default=Path("docs/img"))
    for p in main(parser.parse_args().out):
        print(f"{p} {p.stat().st_size} bytes")
