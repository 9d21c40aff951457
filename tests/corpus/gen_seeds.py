#!/usr/bin/python3
"""Write the seed corpora of the fuzz harnesses other than the features
scanner's (that one is tests/corpus/gen_features.py):

  tests/corpus/spool/        whole spool file images (fuzz_spool)
  tests/corpus/sidecar/      model.json files (fuzz_sidecar)
  tests/corpus/conn_redact/  encoded connection-string cases
                             (fuzz_conn_redact; layout below)

Seeds are named seed-*; inputs the fuzzer found and that were kept
(`tests/fuzz/run.sh --merge`) sit beside them under their SHA-1 names.
Everything is made by an independent encoder (struct, zlib.crc32), not
by the library.  Rerun after editing:  /usr/bin/python3 tests/corpus/gen_seeds.py
"""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(sub, name, data):
    d = os.path.join(HERE, sub)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- spool: "MSPOOLv\n" + records (u32 magic, u32 len, u32 crc, payload)
REC_MAGIC = 0x5250534D


def record(payload):
    lenf = struct.pack("<I", len(payload))
    crc = zlib.crc32(payload, zlib.crc32(lenf)) & 0xFFFFFFFF
    return struct.pack("<I", REC_MAGIC) + lenf + struct.pack("<I", crc) + payload


def blob(fmt, name, ver, feat, t=1700000000123456, pred=1.5,
         actual=float("nan"), conf=0.25, uuid=bytes(range(16, 32))):
    e = ">" if fmt == 2 else "<"
    hdr = struct.pack(e + "BBHHHII", fmt, 0, len(name), len(ver), 0,
                      len(feat), 0)
    hdr += uuid + struct.pack(e + "qddd", t, pred, actual, conf)
    return hdr + name + ver + feat


def spool(v, *payloads):
    return b"MSPOOL%d\n" % v + b"".join(record(p) for p in payloads)


b2 = blob(2, b"churn", b"v1", b'{"a":1}')
b1 = blob(1, b"churn", b"v1", b'{"a":1}')
write("spool", "v2-one", spool(2, b2))
write("spool", "v1-one", spool(1, b1))
write("spool", "v2-three", spool(2, b2, blob(2, b"m", b"2", b"{}", pred=-0.0),
                                 blob(2, b"x" * 40, b"1.0.0",
                                      b'{"k":[1,2,3],"s":"\\u00e9"}')))
write("spool", "v2-torn", spool(2, b2, b2)[:-5])
mid = bytearray(spool(2, b2, b2, b2))
mid[8 + 12 + len(b2) + 20] ^= 0xFF
write("spool", "v2-corrupt-middle", bytes(mid))
write("spool", "v2-garbage-between", spool(2, b2) + b"junkMSPR\x00" + record(b2))
write("spool", "v2-not-a-blob", spool(2, b"tiny", b"\x02" + b"\x00" * 70))
write("spool", "v9-unknown", b"MSPOOL9\n" + record(b2))
write("spool", "header-only", b"MSPOOL2\n")
write("spool", "not-spool", b"hello world\n")
write("spool", "v2-empty-record", spool(2, b""))

# ---- sidecar: model.json as our writer writes it, and damaged forms
good = {
    "accuracy_score": 0.93, "exported_at": "2026-11-23T10:00:00Z",
    "file": "model-" + "ab" * 32 + ".bin", "metrics": {"f1": 0.9, "n": 3},
    "model_name": "churn", "model_type": "sklearn", "model_version": "v1",
    "r2_score": None, "rmse_score": None, "run_id": "run-1",
    "sha256": "ab" * 32, "size": 123,
}
write("sidecar", "ours", json.dumps(good, indent=2, sort_keys=True) + "\n")
write("sidecar", "old-no-file", json.dumps({k: v for k, v in good.items()
                                             if k != "file"}))
write("sidecar", "minimal", '{"sha256":"%s"}' % ("0" * 64))
write("sidecar", "empty-object", "{}")
write("sidecar", "array", "[1,2]")
write("sidecar", "bad-file", json.dumps(dict(good, file="../etc/passwd")))
write("sidecar", "wrong-types", json.dumps(dict(good, sha256=None, size="1",
                                                 metrics=[1],
                                                 model_version=7)))
write("sidecar", "dup-keys", '{"size":1,"size":2,"model_name":"a",'
                             '"model_name":""}')
write("sidecar", "truncated", json.dumps(good)[:40])
write("sidecar", "unicode", json.dumps(dict(good, model_name="mod\u00e8le",
                                             metrics={"\u00b5": 1e-300})))
write("sidecar", "big-ints", json.dumps(dict(good, size=2 ** 63 - 1,
                                              metrics={"n": -2 ** 63})))
write("sidecar", "long-version", json.dumps(dict(good, model_version="v" * 60)))


# ---- conn_redact: [shape][flags][len A][A][len B][B] then the pieces
# user, host, port, db, query, host2, separated by 0x01 (see
# fuzz_conn_redact.c).  Shapes 0..9 are URIs, 10..15 key=value.
def conn(shape, flags=0, a=b"", b=b"", pieces=()):
    def pw(p):
        # the harness maps byte v to chr(0x21 + v % 94)
        return bytes([len(p)]) + bytes((c - 0x21) for c in p)
    return (bytes([shape, flags]) + pw(a) + pw(b) +
            b"\x01".join(p if isinstance(p, bytes) else p.encode()
                         for p in pieces))


URI_SAFE, URI_ALL, URI_RAW = 0, 2, 4
cases = {
    "uri-ok": conn(0, URI_SAFE, b"x", b"y", ["u", "127.0.0.1", "1", "db"]),
    "uri-bracket-open": conn(1, URI_SAFE, b"", b"PW", ["u", "zz", "", "x"]),
    "uri-bracket-v6": conn(1, 16, b"a", b"", ["u", "::1", "1", "x"]),
    "uri-quote-in-pw": conn(1, URI_RAW, b'"', b"PW", ["u", "::1", "", "x"]),
    "uri-bad-percent": conn(0, URI_RAW, b"%zz", b"PW", ["u", "h", "1", "x"]),
    "uri-trailing-percent": conn(0, URI_RAW, b"", b"%", ["u", "h", "1", "x"]),
    "uri-bad-param": conn(0, URI_SAFE, b"", b"", ["u", "h", "1", "x",
                                                  "foo=bar"]),
    "uri-bad-sslmode": conn(0, URI_SAFE, b"", b"", ["u", "h", "1", "x",
                                                    "sslmode=bogus%zz"]),
    "uri-bad-port": conn(0, URI_SAFE, b"", b"", ["u", "127.0.0.1",
                                                 "99999999", "x"]),
    "uri-port-param": conn(0, URI_ALL, b"", b"", ["u", "127.0.0.1", "", "x",
                                                  "port=abc"]),
    "uri-missing-host": conn(2, URI_SAFE, b"", b"", ["u", "127.0.0.1", "1",
                                                     "x",
                                                     "target_session_attrs=bogus"]),
    "uri-no-path": conn(3, URI_SAFE, b"", b"", ["u", ""]),
    "uri-no-at": conn(4, URI_SAFE, b"", b"PW", ["u"]),
    "uri-no-at-path": conn(4, 16, b"", b"", ["u", "", "", "x"]),
    "uri-two-hosts": conn(5, URI_SAFE, b"", b"", ["u", "h1", "1:2", "x", "",
                                                  "h2"]),
    "uri-no-user": conn(6, URI_SAFE, b"", b"", ["", "", "", "x",
                                                "service=nosuch"]),
    "uri-pw-param": conn(7, URI_SAFE, b"", b"", ["u", "h", "", "x",
                                                 "sslmode=bogus"]),
    "uri-pw-param-raw": conn(8, URI_RAW, b"", b"%zz", ["u", "h", "", "x",
                                                       "a=b"]),
    "uri-pw-twice": conn(9, URI_SAFE, b"", b"", ["u", "h", "", "x",
                                                 "connect_timeout=abc"]),
    "kv-ok": conn(10, 0, b"", b"", ["", "127.0.0.1", "1", "x"]),
    "kv-bad-sslmode": conn(10, 0, b"", b"", ["", "h", "", "x",
                                             "sslmode=bogus"]),
    "kv-quoted-junk": conn(11, 0, b"'", b"\\", ["", "h", "", "", "junk"]),
    "kv-spaced": conn(12, 0, b"", b"", ["", "h", "", "", "junk"]),
    "kv-twice": conn(13, 0, b"a", b"b", ["port=abc", "", "", "", "x=y"]),
    "kv-open-quote": conn(14, 0, b"", b"", ["", "", "", "", "host=h"]),
    "kv-around": conn(15, 0, b"", b"", ["junk", "host='x"]),
    "kv-in-other-value": conn(15, 0, b"", b"", ["sslmode='", "'"]),
}
for name, data in cases.items():
    write("conn_redact", name, data)
