#!/usr/bin/env python3
"""Dump the ISO-BMFF box tree of MP4 files as JSON, with the fields that matter for CENC.

    python mp4_tree.py [--iv-size N] [--strict] [--brief] FILE [FILE...]

Run it with the venv from `scripts/tools.sh python` (needs pymp4). Every box is parsed with
pymp4 (`pymp4.parser.Box.parse` on the box's exact bytes); the box framing (type, size, offset,
children) is walked here, because pymp4 1.4.0's container parsing silently drops the children
that follow an `encv`/`enca` sample entry (e.g. `mvex` and `pssh` after the video `trak`).

pymp4's `senc` structure fails on every senc tried, even a minimal one (its per-sample
`If(this.flags...)` looks in the wrong context), and only knows 8-byte per-sample IVs (cbcs with
a constant IV has none).
`senc` is therefore decoded here too (ISO/IEC 23001-7 7.2), with the per-sample IV size taken
from `--iv-size`, else from a `tenc` seen earlier in the arguments (give the init segment
first), else inferred (the one size of 0/8/16 that fills the box exactly and agrees with the
`saiz` in the same `traf`). The node says which parser produced it (`parsed_by`) and keeps
pymp4's error in `pymp4_error`.

Output: {"files":[{"file","size","boxes":[BOX...]}]} where BOX is
  {"type","offset","size","header_size","pymp4": "ok"|"raw"|"skipped"|"error",
   ...CENC fields for tenc/schm/frma/pssh/senc/saiz/saio (and a few others)...,
   "fields": {...other scalar fields pymp4 parsed...}, "children":[BOX...]}
Exit status: 0 on success; 1 with a one-line error on stderr if a file cannot be framed or
pymp4 fails on a box it claims to understand (except `senc`, see above; with --strict, any
pymp4 error is fatal).
"""

from __future__ import annotations

import argparse
import base64
import json
import mmap
import os
import struct
import sys
import uuid

try:
    from pymp4.parser import Box
except ImportError as e:  # pragma: no cover - environment problem
    print(f"mp4_tree: error: pymp4 is not importable ({e}); use the python from "
          "`scripts/tools.sh python`", file=sys.stderr)
    sys.exit(1)

# Boxes whose payload is a plain sequence of boxes.
CONTAINERS = {
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"mvex", b"moof", b"traf",
    b"sinf", b"schi", b"edts", b"udta", b"mfra", b"skip", b"meco", b"strk", b"rinf", b"srpp",
}
# Sample entries (inside stsd) and the size of their fixed part before child boxes.
VISUAL_ENTRIES = {b"encv", b"avc1", b"avc3", b"hvc1", b"hev1", b"av01", b"vp08", b"vp09",
                  b"dvh1", b"dvhe", b"mp4v"}
AUDIO_ENTRIES = {b"enca", b"mp4a", b"ac-3", b"ec-3", b"ac-4", b"Opus", b"fLaC", b"alac"}
# Boxes pymp4 is not asked to parse (payload only; could be huge).
NO_PYMP4 = {b"mdat", b"free", b"skip", b"wide"}
SYSTEM_NAMES = {
    "edef8ba979d64acea3c827dcd51d21ed": "widevine",
    "9a04f07998404286ab92e65be0885f95": "playready",
    "1077efecc0b24d02ace33c1e52e2fb4b": "common",
    "e2719d58a985b3c9781ab030af78d30e": "clearkey-dashif",
    "94ce86fb07ff4f43adb893d2fa968ca2": "fairplay",
    "5e629af538da4063897797ffbd9902d4": "marlin",
}


class Fatal(Exception):
    pass


def hexs(b) -> str:
    return bytes(b).hex()


def uuid_hex(u) -> str:
    return u.hex if isinstance(u, uuid.UUID) else hexs(u)


def jsonable(v, depth=0):
    """pymp4/construct values -> JSON (lists of more than 16 items are cut)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, uuid.UUID):
        return v.hex
    if isinstance(v, (bytes, bytearray)):
        b = bytes(v)
        if len(b) <= 8 and all(32 <= c < 127 for c in b):
            return b.decode("ascii")
        return {"hex": b[:64].hex(), "len": len(b)} if len(b) > 64 else b.hex()
    if depth > 4:
        return str(v)
    if isinstance(v, dict):
        return {str(k): jsonable(x, depth + 1) for k, x in v.items()
                if not str(k).startswith("_") and k not in ("offset", "end", "type")}
    if isinstance(v, (list, tuple)):
        out = [jsonable(x, depth + 1) for x in list(v)[:16]]
        if len(v) > 16:
            out.append(f"... {len(v)} items")
        return out
    return str(v)


def read_header(buf, off, end):
    """Returns (type, size, header_size, large) of the box at off, checked to fit [off, end)."""
    if end - off < 8:
        raise Fatal(f"truncated box header at offset {off} ({end - off} bytes left)")
    size, typ = struct.unpack_from(">I4s", buf, off)
    hdr = 8
    large = size == 1
    if size == 1:
        if end - off < 16:
            raise Fatal(f"truncated largesize header at offset {off}")
        size = struct.unpack_from(">Q", buf, off + 8)[0]
        hdr = 16
    elif size == 0:
        size = end - off
    if typ == b"uuid":
        hdr += 16
    if size < hdr or off + size > end:
        raise Fatal(f"box {typ.decode('latin-1')!r} at offset {off} has size {size}, "
                    f"which does not fit its parent (ends at {end})")
    return typ, size, hdr, large


def type_str(t: bytes) -> str:
    return t.decode("latin-1")


class Walker:
    def __init__(self, iv_size_override=None, strict=False, brief=False):
        self.iv_override = iv_size_override
        self.strict = strict
        self.brief = brief
        self.tenc_iv = {}  # track_ID (or None for "any") -> per-sample IV size from tenc
        self.current_track = None
        self._saiz = None  # the saiz of the traf being walked (senc needs it)
        self._moof_offset = None  # the moof being walked (saio offsets are relative to it)

    # ---- framing -------------------------------------------------------------------------
    def walk(self, buf, off, end, path):
        out = []
        while off < end:
            typ, size, hdr, large = read_header(buf, off, end)
            if typ == b"moof":
                self._moof_offset = off
            node = {"type": type_str(typ), "offset": off, "size": size, "header_size": hdr}
            self.describe(buf, off, size, hdr, large, typ, node, path + [type_str(typ)])
            out.append(node)
            off += size
        return out

    def describe(self, buf, off, size, hdr, large, typ, node, path):
        parsed = None
        if typ in NO_PYMP4 or large:
            node["pymp4"] = "skipped"  # payload only; pymp4 reads 32-bit box sizes only
        else:
            data = bytes(buf[off:off + size])
            try:
                parsed = Box.parse(data)
                node["pymp4"] = "raw" if set(parsed.keys()) <= {"offset", "type", "data", "end"} \
                    and typ not in CONTAINERS else "ok"
            except Exception as e:  # construct raises many kinds
                msg = " ".join(str(e).split())[:200]
                node["pymp4"] = "error"
                node["pymp4_error"] = f"{type(e).__name__}: {msg}"
                if self.strict or typ not in (b"senc",):
                    raise Fatal(f"pymp4 cannot parse {'/'.join(path)} at offset {off}: "
                                f"{type(e).__name__}: {msg}")

        if typ in CONTAINERS:
            if typ == b"traf":
                self.current_track = None
                self._saiz = None
            node["children"] = self.walk(buf, off + hdr, off + size, path)
            if typ == b"traf":
                self.check_saio(node, path)
            return
        if parsed is not None and typ != b"senc":
            self.fields(typ, parsed, node)
        if typ == b"stsd":
            node["children"] = self.sample_entries(buf, off + hdr + 8, off + size, path)
        elif typ == b"senc":
            self.senc(buf, off, size, hdr, node, path, parsed)

    def sample_entries(self, buf, off, end, path):
        out = []
        while off < end:
            typ, size, hdr, _ = read_header(buf, off, end)
            node = {"type": type_str(typ), "offset": off, "size": size, "header_size": hdr,
                    "sample_entry": True}
            if typ in VISUAL_ENTRIES:
                w, h = struct.unpack_from(">HH", buf, off + hdr + 24)
                node.update(width=w, height=h)
                node["children"] = self.walk(buf, off + hdr + 78, off + size,
                                             path + [type_str(typ)])
            elif typ in AUDIO_ENTRIES:
                ch, bits = struct.unpack_from(">HH", buf, off + hdr + 16)
                rate = struct.unpack_from(">I", buf, off + hdr + 24)[0] >> 16
                node.update(channel_count=ch, sample_size=bits, sample_rate=rate)
                node["children"] = self.walk(buf, off + hdr + 28, off + size,
                                             path + [type_str(typ)])
            out.append(node)
            off += size
        return out

    # ---- per-box fields --------------------------------------------------------------------
    def fields(self, typ, p, node):
        if typ == b"tenc":
            bb = p.get("default_byte_blocks")
            crypt = bb.crypt if hasattr(bb, "crypt") else 0
            skip = bb.skip if hasattr(bb, "skip") else 0
            civ = p.get("constant_iv")
            node.update(
                version=p.version,
                default_is_protected=p.is_encrypted,
                default_per_sample_iv_size=p.iv_size,
                default_kid=uuid_hex(p.key_ID),
                default_constant_iv=hexs(civ) if civ else None,
                default_crypt_byte_block=crypt,
                default_skip_byte_block=skip,
            )
            self.tenc_iv[self.current_track] = p.iv_size
            self.tenc_iv[None] = p.iv_size
            return
        if typ == b"schm":
            node.update(scheme_type=jsonable(p.scheme_type), scheme_version=p.scheme_version,
                        scheme_version_hex=f"0x{p.scheme_version:08x}")
            return
        if typ == b"frma":
            node.update(original_format=jsonable(p.original_format))
            return
        if typ == b"pssh":
            sid = uuid_hex(p.system_ID)
            node.update(
                system_id=sid,
                system=SYSTEM_NAMES.get(sid),
                version=p.version,
                key_ids=[uuid_hex(k) for k in (p.key_IDs or [])],
                data_size=len(p.init_data),
                data_hex=None if self.brief else hexs(p.init_data),
                box_b64=base64.b64encode(bytes(Box.build(p))).decode()
                if not self.brief else None,
            )
            return
        if typ == b"saiz":
            node.update(
                flags=int(p.flags.has_aux_info_type),
                aux_info_type=jsonable(struct.pack(">I", p.aux_info_type))
                if p.aux_info_type is not None else None,
                aux_info_type_parameter=p.aux_info_type_parameter,
                default_sample_info_size=p.default_sample_info_size,
                sample_count=p.sample_count,
                sample_info_sizes=list(p.sample_info_sizes)
                if p.sample_info_sizes is not None and not self.brief else None,
            )
            self._saiz = {"sample_count": p.sample_count,
                          "default_size": p.default_sample_info_size,
                          "sizes": list(p.sample_info_sizes)
                          if p.sample_info_sizes is not None else None}
            return
        if typ == b"saio":
            node.update(
                version=p.version,
                flags=int(p.flags.has_aux_info_type),
                aux_info_type=jsonable(struct.pack(">I", p.aux_info_type))
                if p.aux_info_type is not None else None,
                entry_count=len(p.offsets),
                offsets=list(p.offsets),
            )
            return
        if typ == b"tfhd":
            self.current_track = p.track_ID
        if typ in (b"tkhd", b"trex"):
            self.current_track = p.track_ID
        if typ == b"trun":
            node.update(sample_count=p.sample_count, data_offset=p.get("data_offset"))
        f = jsonable(p)
        if isinstance(f, dict):
            f.pop("data", None) if node.get("pymp4") == "raw" else None
            if f:
                node["fields"] = f

    # ---- senc ------------------------------------------------------------------------------
    def senc(self, buf, off, size, hdr, node, path, parsed):
        body = bytes(buf[off + hdr:off + size])
        if len(body) < 8:
            raise Fatal(f"{'/'.join(path)} at offset {off}: senc too short")
        version = body[0]
        flags = int.from_bytes(body[1:4], "big")
        count = struct.unpack_from(">I", body, 4)[0]
        has_sub = bool(flags & 0x2)
        saiz = self._saiz
        candidates = []
        if self.iv_override is not None:
            candidates = [self.iv_override]
        else:
            known = self.tenc_iv.get(self.current_track, self.tenc_iv.get(None))
            candidates = ([known] if known is not None else []) + [8, 16, 0]
        tried = []
        result = None
        for iv in dict.fromkeys(candidates):
            r = _parse_senc_samples(body[8:], count, iv, has_sub)
            if r is None:
                tried.append(f"iv {iv}: does not fill the box")
                continue
            if saiz is not None and not _agrees_with_saiz(r, iv, has_sub, saiz):
                tried.append(f"iv {iv}: disagrees with saiz")
                continue
            result = (iv, r)
            break
        if result is None:
            raise Fatal(f"{'/'.join(path)} at offset {off}: cannot decode senc "
                        f"({count} samples, flags 0x{flags:x}): " + "; ".join(tried))
        iv, samples = result
        node.update(
            version=version,
            flags=flags,
            subsample_encryption=has_sub,
            sample_count=count,
            per_sample_iv_size=iv,
            iv_size_source="--iv-size" if self.iv_override is not None else (
                "tenc" if self.tenc_iv.get(self.current_track, self.tenc_iv.get(None)) == iv
                else "inferred"),
            subsample_counts=[len(s[1]) for s in samples] if has_sub else None,
        )
        if not self.brief:
            node["ivs"] = [s[0].hex() for s in samples] if iv else None
            node["subsamples"] = [[list(x) for x in s[1]] for s in samples] if has_sub else None
        node["subsample_totals"] = (
            {"clear_bytes": sum(c for s in samples for c, _ in s[1]),
             "protected_bytes": sum(p for s in samples for _, p in s[1])} if has_sub else None)
        # Did pymp4 agree?
        ok = False
        if parsed is not None:
            try:
                sei = parsed.sample_encryption_info
                ok = (len(sei) == count and iv == 8 and all(
                    bytes(a.iv) == b[0] and (not has_sub or [
                        (x.clear_bytes, x.cipher_bytes) for x in (a.subsample_encryption_info or [])
                    ] == b[1]) for a, b in zip(sei, samples)))
            except Exception:
                ok = False
        node["parsed_by"] = "pymp4" if ok else "mp4_tree"

    def check_saio(self, traf, path):
        kids = traf.get("children", [])
        saio = next((c for c in kids if c["type"] == "saio"), None)
        senc = next((c for c in kids if c["type"] == "senc"), None)
        if saio and senc and saio.get("entry_count") == 1 and self._moof_offset is not None:
            target = self._moof_offset + saio["offsets"][0]
            traf["saio_points_to_senc_samples"] = target == senc["offset"] + senc["header_size"] + 8


def _parse_senc_samples(data, count, iv, has_sub):
    pos = 0
    out = []
    n = len(data)
    for _ in range(count):
        if pos + iv > n:
            return None
        ivb = data[pos:pos + iv]
        pos += iv
        subs = []
        if has_sub:
            if pos + 2 > n:
                return None
            k = struct.unpack_from(">H", data, pos)[0]
            pos += 2
            if pos + 6 * k > n:
                return None
            for _ in range(k):
                subs.append(struct.unpack_from(">HI", data, pos))
                pos += 6
        out.append((ivb, [tuple(s) for s in subs]))
    return out if pos == n else None


def _agrees_with_saiz(samples, iv, has_sub, saiz):
    """saiz holds each sample's auxiliary-information size: IV + (2 + 6 * subsamples)."""
    if saiz["sample_count"] != len(samples):
        return False
    sizes = [iv + (2 + 6 * len(subs) if has_sub else 0) for _, subs in samples]
    if saiz["default_size"]:
        return all(x == saiz["default_size"] for x in sizes)
    return saiz["sizes"] == sizes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--iv-size", type=int, choices=(0, 8, 16),
                    help="per-sample IV size for senc (default: from tenc, else inferred)")
    ap.add_argument("--strict", action="store_true", help="any pymp4 error is fatal")
    ap.add_argument("--brief", action="store_true",
                    help="leave out per-sample arrays and pssh payloads")
    args = ap.parse_args(argv)
    walker = Walker(args.iv_size, args.strict, args.brief)
    files = []
    for f in args.files:
        try:
            size = os.path.getsize(f)
            with open(f, "rb") as fh:
                if size == 0:
                    raise Fatal("empty file")
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                    walker._moof_offset = None
                    boxes = walker.walk(buf, 0, size, [])
            files.append({"file": f, "size": size, "boxes": boxes})
        except Fatal as e:
            print(f"mp4_tree: error: {f}: {e}", file=sys.stderr)
            return 1
        except OSError as e:
            print(f"mp4_tree: error: {f}: {e.strerror or e}", file=sys.stderr)
            return 1
    json.dump({"files": files}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
