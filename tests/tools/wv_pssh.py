#!/usr/bin/env python3
"""Decode a PSSH box (base64 or hex) with pywidevine and print JSON.

    python wv_pssh.py BASE64_OR_HEX_PSSH

Run it with the venv from `scripts/tools.sh python`. The argument is a whole `pssh` box (as in a
DASH <cenc:pssh> element, an HLS EXT-X-KEY data: URI, or mp4_tree.py's `box_b64`), in base64 or
hex. pywidevine's `PSSH` class parses it (strict mode: anything that is neither a PSSH box, a
WidevinePsshData message nor a PlayReady header is an error), and for the Widevine system ID the
init data is decoded with pywidevine's `WidevinePsshData` protobuf class.

Output (one JSON object):
  {"system_id": hex, "system": "widevine"|"playready"|null, "version": 0|1, "flags": n,
   "key_ids": [hex...],            # pywidevine's view: v1 box KIDs, else those in the init data
   "box_key_ids": [hex...],        # the v1 box's own KID list ([] for v0)
   "key_ids_cenc_order": [hex...], # PlayReady only: key_ids with the GUID byte swap undone
   "init_data_hex": hex, "init_data_size": n,
   "content_id_hex": hex|null, "protection_scheme": "cenc"|"cbcs"|...|null,
   "widevine_pssh_data": {every field set in the protobuf, bytes as hex}|null,
   "widevine_roundtrip_exact": bool|null}   # re-serialising the protobuf gives the same bytes
Exit status 0, or 1 with a one-line error on stderr.
"""

from __future__ import annotations

import base64
import binascii
import json
import string
import sys
import uuid

try:
    from google.protobuf.message import DecodeError
    from pywidevine.license_protocol_pb2 import WidevinePsshData
    from pywidevine.pssh import PSSH
except ImportError as e:  # pragma: no cover - environment problem
    print(f"wv_pssh: error: pywidevine is not importable ({e}); use the python from "
          "`scripts/tools.sh python`", file=sys.stderr)
    sys.exit(1)

SYSTEMS = {
    PSSH.SystemId.Widevine.hex: "widevine",
    PSSH.SystemId.PlayReady.hex: "playready",
    "1077efecc0b24d02ace33c1e52e2fb4b": "common",
}


def fourcc(n: int) -> str:
    b = n.to_bytes(4, "big")
    return b.decode("ascii") if all(32 <= c < 127 for c in b) else f"0x{n:08x}"


def kid_hex(k) -> str:
    return k.hex if isinstance(k, uuid.UUID) else bytes(k).hex()


def proto_fields(msg) -> dict:
    """Every field set in a protobuf message; bytes as hex, enums by name."""
    out = {}
    for fd, value in msg.ListFields():
        def conv(v, fd=fd):
            if fd.type == fd.TYPE_BYTES:
                return bytes(v).hex()
            if fd.type == fd.TYPE_ENUM:
                ev = fd.enum_type.values_by_number.get(v)
                return ev.name if ev else v
            if fd.type == fd.TYPE_MESSAGE:
                return proto_fields(v)
            return v
        repeated = fd.is_repeated if hasattr(fd, "is_repeated") else fd.label == fd.LABEL_REPEATED
        if repeated:
            out[fd.name] = [conv(v) for v in value]
        else:
            out[fd.name] = conv(value)
    if "protection_scheme" in out:
        out["protection_scheme_fourcc"] = fourcc(out["protection_scheme"])
    return out


def decode_arg(arg: str) -> bytes:
    s = "".join(arg.split())
    if s.lower().startswith("0x"):
        s = s[2:]
    if s and len(s) % 2 == 0 and all(c in string.hexdigits for c in s):
        return bytes.fromhex(s)
    try:
        return base64.b64decode(s + "=" * (-len(s) % 4), altchars=b"-_" if "-" in s or "_" in s
                                else None, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"argument is neither hex nor base64 ({e})")


def main(argv) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print("usage: wv_pssh.py BASE64_OR_HEX_PSSH", file=sys.stderr)
        return 2 if len(argv) != 1 else 0
    try:
        raw = decode_arg(argv[0])
        if not raw:
            raise ValueError("empty PSSH")
        pssh = PSSH(raw, strict=True)
        sid = pssh.system_id.hex
        out = {
            "system_id": sid,
            "system": SYSTEMS.get(sid),
            "version": pssh.version,
            "flags": pssh.flags,
            "key_ids": None,
            "box_key_ids": [],
            "init_data_hex": bytes(pssh.init_data).hex(),
            "init_data_size": len(pssh.init_data),
            "content_id_hex": None,
            "protection_scheme": None,
            "widevine_pssh_data": None,
            "widevine_roundtrip_exact": None,
        }
        # The v1 box's own KIDs (pywidevine keeps them privately; dump() re-emits them).
        if pssh.version == 1:
            from pymp4.parser import Box
            box = Box.parse(pssh.dump())
            out["box_key_ids"] = [kid_hex(k) for k in (box.key_IDs or [])]
        try:
            out["key_ids"] = [kid_hex(k) for k in pssh.key_ids]
        except (ValueError, DecodeError) as e:
            out["key_ids"] = None
            out["key_ids_error"] = str(e).splitlines()[0][:200]
        if pssh.system_id == PSSH.SystemId.PlayReady and out["key_ids"] and pssh.version == 0:
            # PlayReady headers store KIDs as little-endian GUIDs and pywidevine returns those
            # bytes as-is; this is the same KIDs in CENC (big-endian, as in tenc) byte order.
            out["key_ids_cenc_order"] = [uuid.UUID(bytes_le=bytes.fromhex(k)).hex
                                         for k in out["key_ids"]]
        if pssh.system_id == PSSH.SystemId.Widevine:
            wv = WidevinePsshData()
            try:
                wv.ParseFromString(bytes(pssh.init_data))
            except DecodeError as e:
                raise ValueError(f"Widevine init data is not a WidevinePsshData message: {e}")
            fields = proto_fields(wv)
            out["widevine_pssh_data"] = fields
            out["widevine_roundtrip_exact"] = wv.SerializeToString() == bytes(pssh.init_data)
            if wv.HasField("content_id"):
                out["content_id_hex"] = wv.content_id.hex()
            if wv.HasField("protection_scheme"):
                out["protection_scheme"] = fourcc(wv.protection_scheme)
    except Exception as e:  # pywidevine/construct/protobuf raise many kinds
        msg = " ".join(str(e).split())[:300]
        print(f"wv_pssh: error: {type(e).__name__}: {msg}", file=sys.stderr)
        return 1
    print(json.dumps(out, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
