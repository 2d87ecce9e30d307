#!/usr/bin/env python3
"""The peer watermarkers of abmark's robustness benchmark, run with their own code.

    peers.py embed   --method M --bits 0110... --src DIR --dst DIR
    peers.py extract --method M --nbits N --src DIR [--size WxH]

Frames are PNG files (`DIR/*.png`, in name order). `embed` writes each frame of `--src` with
the bits embedded to `--dst` (same names, 8-bit BGR, as any video pipeline would store them)
and prints one JSON object: {"method", "frames", "ms_per_frame", "psnr_y"} where psnr_y is the
luma PSNR (BT.601) of the stored marked frames against the originals. `extract` reads each
frame (first resized back to --size, the original frame size, when it differs: the peers have
no registration of their own, so they get the scale back for free) and prints
{"method", "frames": ["0110...", ...], "ms_per_frame"}.

Methods, at their libraries' defaults:
  imwatermark-dwtDct     invisible-watermark 0.2.0, method 'dwtDct'
  imwatermark-dwtDctSvd  invisible-watermark 0.2.0, method 'dwtDctSvd'
  blind-watermark        blind-watermark 0.4.4 (DWT-DCT-SVD, password 1/1, 'bit' mode)

invisible-watermark's package __init__ imports its RivaGAN method, which needs torch; the two
methods compared here do not. The package's own modules are loaded with RivaGAN replaced by a
stub that refuses to run, so no torch install is needed and the dwtDct/dwtDctSvd code is the
library's own, unchanged.
"""

import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import time
import types

import cv2
import numpy as np


def load_imwatermark():
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("peers.py: invisible-watermark is not installed")
    package = types.ModuleType("imwatermark")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["imwatermark"] = package
    riva = types.ModuleType("imwatermark.rivaGan")

    class RivaWatermark:  # noqa: D401 - a stub
        def __init__(self, *args, **kwargs):
            raise RuntimeError("rivaGan is not part of this comparison (needs torch)")

        @classmethod
        def loadModel(cls):
            raise RuntimeError("rivaGan is not part of this comparison (needs torch)")

    riva.RivaWatermark = RivaWatermark
    sys.modules["imwatermark.rivaGan"] = riva
    from imwatermark.watermark import WatermarkDecoder, WatermarkEncoder

    return WatermarkEncoder, WatermarkDecoder


def quiet():
    """blind-watermark prints a banner on every construction: keep stdout for our JSON."""
    return contextlib.redirect_stdout(io.StringIO())


class ImWatermark:
    def __init__(self, method):
        self.method = method
        self.encoder_cls, self.decoder_cls = load_imwatermark()

    def embed(self, bgr, bits):
        encoder = self.encoder_cls()
        encoder.set_watermark("bits", bits)
        return encoder.encode(bgr, self.method)

    def extract(self, bgr, nbits):
        decoder = self.decoder_cls("bits", nbits)
        return [int(b) for b in decoder.decode(bgr, self.method)]


class BlindWatermark:
    def __init__(self):
        with quiet():
            from blind_watermark import WaterMark
        self.cls = WaterMark

    def embed(self, bgr, bits):
        with quiet():
            bwm = self.cls(password_img=1, password_wm=1)
            bwm.read_img(img=bgr)
            bwm.read_wm([bool(b) for b in bits], mode="bit")
            return bwm.embed()

    def extract(self, bgr, nbits):
        with quiet():
            bwm = self.cls(password_img=1, password_wm=1)
            wm = bwm.extract(embed_img=bgr, wm_shape=nbits, mode="bit")
        return [int(v >= 0.5) for v in np.asarray(wm).ravel()]


def method(name):
    if name == "imwatermark-dwtDct":
        return ImWatermark("dwtDct")
    if name == "imwatermark-dwtDctSvd":
        return ImWatermark("dwtDctSvd")
    if name == "blind-watermark":
        return BlindWatermark()
    raise SystemExit(f"peers.py: unknown method {name}")


def frames(directory):
    names = sorted(n for n in os.listdir(directory) if n.endswith(".png"))
    if not names:
        raise SystemExit(f"peers.py: no PNG frames in {directory}")
    return names


def read(path):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"peers.py: cannot read {path}")
    return img


def luma(bgr):
    b, g, r = (bgr[:, :, i].astype(np.float64) for i in range(3))
    return 0.299 * r + 0.587 * g + 0.114 * b


def psnr(a, b):
    mse = float(np.mean((luma(a) - luma(b)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def embed(args):
    m = method(args.method)
    bits = [int(c) for c in args.bits]
    os.makedirs(args.dst, exist_ok=True)
    spent, psnrs = 0.0, []
    names = frames(args.src)
    for name in names:
        src = read(os.path.join(args.src, name))
        start = time.perf_counter()
        marked = m.embed(src, bits)
        spent += time.perf_counter() - start
        stored = np.clip(np.rint(marked), 0, 255).astype(np.uint8)
        if not cv2.imwrite(os.path.join(args.dst, name), stored):
            raise SystemExit(f"peers.py: cannot write {args.dst}/{name}")
        psnrs.append(psnr(src, stored))
    finite = [p for p in psnrs if np.isfinite(p)]
    print(json.dumps({
        "method": args.method,
        "frames": len(names),
        "ms_per_frame": 1000 * spent / len(names),
        "psnr_y": float(np.mean(finite)) if finite else None,
    }))


def extract(args):
    m = method(args.method)
    size = tuple(int(v) for v in args.size.split("x")) if args.size else None
    spent, out = 0.0, []
    names = frames(args.src)
    for name in names:
        img = read(os.path.join(args.src, name))
        if size and (img.shape[1], img.shape[0]) != size:
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        start = time.perf_counter()
        try:
            bits = m.extract(img, args.nbits)
        except Exception as e:  # a peer that cannot read a frame at all: no bits from it
            print(f"peers.py: {args.method} {name}: {e}", file=sys.stderr)
            bits = None
        spent += time.perf_counter() - start
        out.append(None if bits is None else "".join(str(b) for b in bits))
    print(json.dumps({"method": args.method, "frames": out, "ms_per_frame": 1000 * spent / len(names)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed")
    e.add_argument("--method", required=True)
    e.add_argument("--bits", required=True)
    e.add_argument("--src", required=True)
    e.add_argument("--dst", required=True)
    x = sub.add_parser("extract")
    x.add_argument("--method", required=True)
    x.add_argument("--nbits", type=int, required=True)
    x.add_argument("--src", required=True)
    x.add_argument("--size")
    args = parser.parse_args()
    if args.command == "embed" and set(args.bits) - {"0", "1"}:
        raise SystemExit("peers.py: --bits must be 0s and 1s")
    (embed if args.command == "embed" else extract)(args)


if __name__ == "__main__":
    main()
