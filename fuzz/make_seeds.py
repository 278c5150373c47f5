#!/usr/bin/env python3
"""Writes the checked-in seed corpus (fuzz/corpus/<target>/seed-*). Standard library only.

The JWT seeds are signed with the fuzz key of src/lib.rs for its fixed clock (NOW), so the
valid ones stay sessions for the fuzzed JWT app. `$T` and `$J` are replaced by the live
database token and JWT when the target runs (see src/lib.rs).
"""

import base64
import hashlib
import hmac
import json
import pathlib

SECRET = b"sessionward-fuzz-secret-0123456789abcdef"
KID = "fuzz"
ISSUER = "sessionward-fuzz"
USER = "fuzz-user"
NOW = 1_893_456_000

HERE = pathlib.Path(__file__).resolve().parent


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def jwt(header: dict, claims: dict, key: bytes = SECRET, sign: bool = True) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    if not sign:
        return signing_input + "."
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def claims(**changes) -> dict:
    value = {
        "sub": USER,
        "sid": "0b6e9a0e-4c57-4d2a-9a43-5f2f0c1d2e3f",
        "jti": "5c0f6a1b2d3e4f5a6b7c8d9e0f1a2b3c",
        "iat": NOW,
        "exp": NOW + 3600,
        "iss": ISSUER,
        "aud": ISSUER,
        "auth_time": NOW,
        "abs_exp": NOW + 86_400,
        "role": "user",
    }
    value.update(changes)
    return {k: v for k, v in value.items() if v is not None}


HS256 = {"alg": "HS256", "typ": "JWT", "kid": KID}
VALID = jwt(HS256, claims())

SEEDS = {
    "cookie": {
        "live-database": b"session-id=$T",
        "live-jwt": b"session-id=$J",
        "fixed-jwt": f"session-id={VALID}".encode(),
        "among-others": b"a=1; session-id=$T; b=2",
        "twice-in-one-header": b"session-id=$T; session-id=$T",
        "twice-in-two-headers": b"session-id=$T\nsession-id=$T",
        "foreign-utf8-cookie": "lang=español; session-id=$T".encode(),
        "foreign-latin1-cookie": b"x=\xe9; session-id=$T; y=\xff",
        "quoted": b'session-id="$T"',
        "whitespace": b"session-id = \t$T \t",
        "empty-value": b"session-id=",
        "no-value": b"session-id",
        "percent-encoded": b"session-id=%41%42%43",
        "padded": b"session-id=$T=",
    },
    "bearer": {
        "live-database": b"Bearer $T",
        "live-jwt": b"Bearer $J",
        "fixed-jwt": f"Bearer {VALID}".encode(),
        "lower-case-and-spaces": b"bearer   $T  ",
        "two-headers": b"Bearer $T\nBearer $T",
        "two-in-one-header": b"Bearer $T, Bearer $J",
        "basic": b"Basic ZnV6ei11c2VyOnBhc3N3b3Jk",
        "scheme-only": b"Bearer",
        "empty-token": b"Bearer ",
        "tab": b"Bearer\t$T",
        "non-utf8": b"Bearer $T\xff",
    },
    "jwt": {
        "live": b"$J",
        "valid-hs256": VALID.encode(),
        "alg-none": jwt({"alg": "none", "typ": "JWT", "kid": KID}, claims(), sign=False).encode(),
        "alg-nOnE": jwt({"alg": "nOnE", "kid": KID}, claims(), sign=False).encode(),
        "alg-hs512-same-key": jwt({"alg": "HS512", "kid": KID}, claims()).encode(),
        "no-kid": jwt({"alg": "HS256"}, claims()).encode(),
        "unknown-kid": jwt({"alg": "HS256", "kid": "../../etc/passwd"}, claims()).encode(),
        "jku-jwk": jwt(
            {"alg": "HS256", "kid": KID, "jku": "https://attacker.example/jwks.json",
             "jwk": {"kty": "oct", "k": b64(b"attacker")}},
            claims(),
            key=b"attacker",
        ).encode(),
        "wrong-key": jwt(HS256, claims(), key=b"x" * 40).encode(),
        "exp-as-string": jwt(HS256, claims(exp=str(NOW + 3600))).encode(),
        "exp-huge": jwt(HS256, claims(exp=2**63 - 1, abs_exp=2**63 - 1)).encode(),
        "beyond-absolute-limit": jwt(HS256, claims(exp=NOW + 400 * 86_400, abs_exp=NOW + 400 * 86_400)).encode(),
        "aud-list": jwt(HS256, claims(aud=[ISSUER, "other"])).encode(),
        "no-sub": jwt(HS256, claims(sub=None)).encode(),
        "four-segments": (VALID + ".AAAA").encode(),
        "truncated": VALID[: len(VALID) - 5].encode(),
    },
}


def main() -> None:
    for target, seeds in SEEDS.items():
        directory = HERE / "corpus" / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (directory / f"seed-{name}").write_bytes(data)
    print(f"wrote {sum(len(s) for s in SEEDS.values())} seeds; valid fixed JWT: {VALID}")


if __name__ == "__main__":
    main()
