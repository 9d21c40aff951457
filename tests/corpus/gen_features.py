#!/usr/bin/python3
"""Write tests/corpus/features/: one input_features case per file, raw
bytes, named after what it covers.  db_json_diff replays every file
against PostgreSQL (the scanner's verdict must equal whether
SELECT $1::jsonb succeeds and is an object); the fuzzer uses the
directory as its seed corpus.

Files named diverge-* are deliberate differences: the scanner refuses,
the server accepts (nesting beyond 512, see json_check.h); db_json_diff
checks that they still diverge that way.

Rerun after editing:  /usr/bin/python3 tests/corpus/gen_features.py
"""
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "features")
cases = {}


def add(name, data):
    if isinstance(data, str):
        data = data.encode()
    assert name not in cases, name
    cases[name] = data


def obj(name, value):
    """{"a":<value>}"""
    add(name, b'{"a":' + (value.encode() if isinstance(value, str) else value) + b'}')


def string(name, body):
    """{"a":"<body>"} with body as raw bytes"""
    obj(name, b'"' + (body.encode() if isinstance(body, str) else body) + b'"')


# -- numbers: plain forms, signs, leading zeros, syntax errors
for i, v in enumerate(["0", "-0", "1", "-1", "123", "1.5", "-1.5", "0.0",
                       "1e5", "1E5", "1e+5", "1e-5", "-0.0e-0", "0e0",
                       "1.25e+10", "9007199254740993", "1e1000", "123456789.987654321e-3"]):
    obj("num-ok-%02d" % i, v)
for i, v in enumerate(["+1", "--1", "01", "-01", "00", "00.5", ".5", "-.5",
                       "1.", "1.e5", "1e", "1e+", "1e-", "-", "1ee5",
                       "1e5.5", "1.2.3", "0x10", "1_000", "NaN", "-NaN",
                       "Infinity", "-Infinity", "inf", "1e5x", "١"]):
    obj("num-bad-%02d" % i, v)

# -- numbers at and around numeric's limits (after the exponent)
limits = [
    # the three that reached COPY batches
    ("0.1e200000", "defect-a"), ("0e2000000000", "defect-b"),
    ("0.5e131073", "defect-c"),
    # first nonzero digit at 10^131071 is the top
    ("1e131071", "top"), ("1e131072", "top-plus1"), ("-9e131071", "neg-top"),
    ("-9e131072", "neg-top-plus1"), ("12e131070", "two-digit-top"),
    ("12e131071", "two-digit-over"), ("10e131070", "ten-top"),
    ("10e131071", "ten-over"), ("0.5e131072", "frac-top"),
    ("0.0001e131075", "zeros-top"), ("0.0001e131076", "zeros-over"),
    ("0.00000e131076", "all-zeros-up"), ("0e1073741822", "zero-exp-max"),
    ("0e1073741823", "zero-exp-intmax-half"), ("1e1073741823", "exp-intmax-half"),
    ("0e99999999999999999999", "zero-exp-huge"),
    ("1e99999999999999999999", "exp-huge"),
    ("1E+131071", "top-plus-sign"), ("1E+131072", "top-plus-sign-over"),
    # display scale: 16383 at most
    ("1e-16383", "scale-top"), ("1e-16384", "scale-over"),
    ("0e-16383", "zero-scale-top"), ("0e-16384", "zero-scale-over"),
    ("-0e-16383", "negzero-scale-top"), ("0.00e-16381", "frac-scale-top"),
    ("0.00e-16382", "frac-scale-over"), ("0.5e-16382", "half-scale-top"),
    ("0.5e-16383", "half-scale-over"), ("0e-1073741822", "zero-exp-min"),
    ("1e-1073741823", "exp-neg-intmax-half"),
    ("1e-99999999999999999999", "exp-neg-huge"),
    ("123.456e-16380", "mixed-scale-top"), ("123.456e-16381", "mixed-scale-over"),
    ("1.5e131071", "frac-digits-top"), ("99.99e131070", "frac-digits-over"),
]
for v, name in limits:
    obj("num-lim-" + name, v)
obj("num-long-int-131072", "1" + "0" * 131071)
obj("num-long-int-131073", "1" + "0" * 131072)
obj("num-long-int-131072-frac", "9" * 131072 + ".5")
obj("num-long-frac-16383", "0." + "1" * 16383)
obj("num-long-frac-16384", "0." + "1" * 16384)
obj("num-long-frac-zeros-16384", "0." + "0" * 16384)
obj("num-long-frac-16384-e1", "0." + "1" * 16384 + "e1")
obj("num-long-frac-16383-e-1", "0." + "1" * 16383 + "e-1")
obj("num-long-int-131073-e-1", "1" + "0" * 131072 + "e-1")

# -- strings: every escape, \u forms, surrogates, \u0000
for i, esc in enumerate(['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r',
                         '\\t', '\\u0041', '\\u00e9', '\\u00E9', '\\u20ac',
                         '\\u0001', '\\u001f', '\\u007f', '\\uffff',
                         '\\ufffe', '\\ud7ff', '\\ue000', 'a\\u0062c']):
    string("str-esc-ok-%02d" % i, esc)
for i, esc in enumerate(['\\x41', '\\a', "\\'", '\\U0041', '\\u12', '\\u12G4',
                         '\\u', '\\', '\\0', '\\v', '\\ ', '\\u+041']):
    string("str-esc-bad-%02d" % i, esc)
string("str-nul-escape", "\\u0000")
string("str-nul-escape-mid", "ab\\u0000cd")
add("str-nul-escape-key", b'{"\\u0000":1}')
string("sur-pair", "\\ud83d\\ude00")
string("sur-pair-upper", "\\uD83D\\uDE00")
string("sur-pair-min", "\\ud800\\udc00")
string("sur-pair-max", "\\udbff\\udfff")
string("sur-high-alone", "\\ud800")
string("sur-high-end", "x\\udbff")
string("sur-low-alone", "\\udc00")
string("sur-low-first", "\\udc00\\ud800")
string("sur-high-high", "\\ud800\\ud800")
string("sur-high-ascii", "\\ud800\\u0041")
string("sur-high-char", "\\ud800x")
string("sur-high-newline-esc", "\\ud800\\n")
string("sur-high-then-raw-low", b"\\ud800\xed\xb0\x80")
add("sur-pair-key", b'{"\\ud83d\\ude00":1}')
add("sur-high-key", b'{"\\ud83d":1}')

# -- raw control characters and NUL bytes
for c in [0x01, 0x08, 0x09, 0x0a, 0x0d, 0x1f]:
    string("str-raw-ctl-%02x" % c, bytes([c]))
string("str-raw-del", b"\x7f")
string("str-raw-nul", b"a\x00b")
add("nul-after-object", b"{}\x00")
add("nul-before-object", b"\x00{}")
add("nul-in-whitespace", b"{ \x00 }")

# -- UTF-8: valid boundaries and every class of invalid sequence
valid_utf8 = {"u0080": b"\xc2\x80", "u07ff": b"\xdf\xbf", "u0800": b"\xe0\xa0\x80",
              "ud7ff": b"\xed\x9f\xbf", "ue000": b"\xee\x80\x80",
              "uffff": b"\xef\xbf\xbf", "u10000": b"\xf0\x90\x80\x80",
              "u10ffff": b"\xf4\x8f\xbf\xbf", "mixed": "café € 😀".encode()}
for name, b in valid_utf8.items():
    string("utf8-ok-" + name, b)
invalid_utf8 = {
    "lone-cont-80": b"\x80", "lone-cont-bf": b"\xbf", "overlong2-c0": b"\xc0\x80",
    "overlong2-c1": b"\xc1\xbf", "overlong3": b"\xe0\x80\x80",
    "overlong3-max": b"\xe0\x9f\xbf", "surrogate-d800": b"\xed\xa0\x80",
    "surrogate-dfff": b"\xed\xbf\xbf", "overlong4": b"\xf0\x80\x80\x80",
    "overlong4-max": b"\xf0\x8f\xbf\xbf", "above-10ffff": b"\xf4\x90\x80\x80",
    "f5": b"\xf5\x80\x80\x80", "f8": b"\xf8\x88\x80\x80\x80", "fe": b"\xfe",
    "ff": b"\xff", "trunc2": b"\xc3", "trunc3": b"\xe2\x82", "trunc4": b"\xf0\x9f\x98",
    "bad-cont2": b"\xc3\x41", "bad-cont3": b"\xe2\x41\x82",
    "bad-cont4": b"\xf0\x9f\x41\x80", "cont-extra": b"\xc3\xa9\x80",
    "cesu-pair": b"\xed\xa0\xbd\xed\xb8\x80",
}
for name, b in invalid_utf8.items():
    string("utf8-bad-" + name, b)
add("utf8-bad-in-key", b'{"\xff":1}')
add("utf8-bad-outside-string", b'{"a":1\xff}')
add("utf8-bad-trunc-at-end", b'{"a":"\xe2\x82')
add("utf8-bom", b'\xef\xbb\xbf{}')
add("utf8-nbsp-whitespace", b'{\xc2\xa0}')

# -- nesting: N is the number of containers, the outer object included
def nest(total, kind, inner=None):
    """{"a": ...}: @total containers in all; the innermost is empty, or
    holds the scalar @inner"""
    opener = "[" if kind == "a" else '{"a":'
    closer = "]" if kind == "a" else "}"
    if inner is None:
        inner, n = ("[]" if kind == "a" else "{}"), total - 2
    else:
        n = total - 1
    return '{"a":' + opener * n + inner + closer * n + "}"

for n in [2, 3, 10, 100, 511, 512]:
    add("nest-arr-%d" % n, nest(n, "a"))
    add("nest-obj-%d" % n, nest(n, "o"))
for inner in [("1", "num"), ('"x"', "str"), ("null", "null")]:
    add("nest-arr-512-then-%s" % inner[1], nest(512, "a", inner[0]))
    add("nest-obj-512-then-%s" % inner[1], nest(512, "o", inner[0]))
add("diverge-nest-arr-513", nest(513, "a"))
add("diverge-nest-obj-513", nest(513, "o"))
add("diverge-nest-arr-513-then-num", nest(513, "a", "1"))
add("diverge-nest-arr-1000", nest(1000, "a", "1"))
add("nest-unbalanced-open", '{"a":[[[]]}')
add("nest-unbalanced-close", '{"a":[[]]]}')
add("nest-mismatched", '{"a":[}')

# -- whitespace
for name, ws in {"space": " ", "tab": "\t", "lf": "\n", "cr": "\r",
                 "crlf": "\r\n", "mix": " \t\r\n "}.items():
    add("ws-ok-" + name, ws + '{' + ws + '"a"' + ws + ':' + ws + '1' + ws + '}' + ws)
for name, ws in {"ff": "\f", "vt": "\v", "nbsp": "\u00a0", "ideographic": "\u3000"}.items():
    add("ws-bad-" + name, '{' + ws + '}')

# -- trailing garbage, empty input, non-objects
for i, t in enumerate(["{}x", "{} {}", "{},", "{}}", "{}]", '{}"', "{} 1",
                       "{}//c", "{}/**/", "{}\n\n#"]):
    add("trail-%02d" % i, t)
add("empty", "")
for name, t in {"space": " ", "lf": "\n", "tabs": "\t\t"}.items():
    add("empty-ws-" + name, t)
for i, t in enumerate(["[]", "[{}]", "1", "-1.5", '"s"', '"{}"', "true",
                       "false", "null", "[1,2]", ' [ ] ']):
    add("nonobj-%02d" % i, t)

# -- objects: the ordinary, duplicate keys, broken structure, literals
for i, t in enumerate(['{}', '{"a":1}', '{"a":[1,2.5,-3e10,0,true,false,null]}',
                       '{"":""}', '{"a":{"b":{"c":{}}}}', '{"a":[],"b":{}}',
                       '{"k":"v","n":null,"t":true,"f":false}',
                       '{"x":[{"y":[{"z":[]}]}]}',
                       '{"features":[0.1,0.2,0.3],"id":"abc-123"}']):
    add("obj-ok-%02d" % i, t)
for i, t in enumerate(['{"a":1,"a":2}', '{"a":1,"a":"x","a":[]}',
                       '{"a":{"b":1,"b":2},"a":null}', '{"":1,"":2}']):
    add("dupkey-%02d" % i, t)
for i, t in enumerate(['{', '}', '{"a"}', '{"a":}', '{"a":1,}', '{,}',
                       '{"a" 1}', '{1:2}', "{'a':1}", '{a:1}', '{"a":1 "b":2}',
                       '{"a"::1}', '{"a":1,,"b":2}', '{"a":[1,]}', '{"a":[,1]}',
                       '{"a":[1 2]}', '{"a":"x}', '{"a":"x', '{"a":1',
                       '{"a":/*c*/1}', '{null:1}', '{"a":undefined}']):
    add("obj-bad-%02d" % i, t)
for i, v in enumerate(["tru", "True", "TRUE", "NULL", "nul", "nulll", "truex",
                       "falsey", "fals", "t"]):
    obj("lit-bad-%02d" % i, v)

os.makedirs(OUT, exist_ok=True)
for old in os.listdir(OUT):
    if old.endswith(".json"):
        os.remove(os.path.join(OUT, old))
for name, data in sorted(cases.items()):
    with open(os.path.join(OUT, name + ".json"), "wb") as f:
        f.write(data)
print(len(cases), "cases in", OUT)
