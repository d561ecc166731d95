#!/usr/bin/env python3
"""A Portico plug-in in Python 3 with the standard library only.

It looks up a fishing license by number (GET /licences/{number}) and takes
Portico's events by webhook (POST /portico/events), doing the plug-in side
of the protocol as docs/plugins.md describes it ("The protocol", "Without
a JOSE library"): no JOSE or crypto package, so ES256 is verified with the
curve arithmetic below and RS256 with pow().

    PORTICO_WEBHOOK_SECRET=whsec_... python3 plugin.py \
        --issuer http://localhost:8080 --plugin-id fishing-licences --addr 127.0.0.1:8093

It prints "listening on http://HOST:PORT" once it answers (with port 0,
the port it was given).
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading
import time
import urllib.request

# Made-up records, the plug-in's own system.
LICENCES = {
    "FL-2026-0001": {"number": "FL-2026-0001", "holder": "Ana Example", "valid_until": "2027-06-30", "status": "valid"},
}

CLOCK_SKEW = 30  # seconds allowed either way on exp, nbf and iat
MAX_LIFETIME = 300  # Portico's tokens live at most five minutes
WEBHOOK_TOLERANCE = 300  # Standard Webhooks: refuse timestamps five minutes off


def b64url(s):
    """Decodes base64url without padding, as JWS and JWK write it."""
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# ES256: ECDSA on P-256 with SHA-256 (FIPS 186-4). Verification needs only
# public values, so plain integer arithmetic is safe here (no secret to leak
# through timing).
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)


def point_add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def point_mul(k, point):
    result = None
    while k:
        if k & 1:
            result = point_add(result, point)
        point = point_add(point, point)
        k >>= 1
    return result


def verify_es256(jwk, signed, sig):
    # A JWS ES256 signature is R then S, 32 bytes each (RFC 7518, 3.4), not DER.
    if len(sig) != 64 or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        return False
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    if not (0 < r < N and 0 < s < N):
        return False
    q = (int.from_bytes(b64url(jwk["x"]), "big"), int.from_bytes(b64url(jwk["y"]), "big"))
    if (q[1] * q[1] - (q[0] ** 3 + A * q[0] + B)) % P != 0:
        return False  # not on the curve
    e = int.from_bytes(hashlib.sha256(signed).digest(), "big")
    w = pow(s, -1, N)
    point = point_add(point_mul(e * w % N, G), point_mul(r * w % N, q))
    return point is not None and point[0] % N == r


SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def verify_rs256(jwk, signed, sig):
    # RSASSA-PKCS1-v1_5: sig^e mod n is 00 01 FF..FF 00 DigestInfo(SHA-256).
    if jwk.get("kty") != "RSA":
        return False
    n, e = int.from_bytes(b64url(jwk["n"]), "big"), int.from_bytes(b64url(jwk["e"]), "big")
    k = (n.bit_length() + 7) // 8
    if len(sig) != k:
        return False
    em = pow(int.from_bytes(sig, "big"), e, n).to_bytes(k, "big")
    t = SHA256_DIGEST_INFO + hashlib.sha256(signed).digest()
    return hmac.compare_digest(em, b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t)


class TokenError(Exception):
    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class KeysUnavailable(Exception):
    pass


class Verifier:
    """Checks Portico's call tokens: the list of "Verifying a call"."""

    def __init__(self, issuer, plugin_id, refetch_interval=60):
        self.issuer, self.plugin_id, self.refetch_interval = issuer, plugin_id, refetch_interval
        self.keys, self.fetched, self.lock = {}, 0.0, threading.Lock()

    def fetch(self):
        try:
            with urllib.request.urlopen(self.issuer + "/.well-known/openid-configuration", timeout=5) as r:
                disc = json.load(r)
            if disc.get("issuer") != self.issuer:
                raise KeysUnavailable("the discovery document's issuer is %r" % disc.get("issuer"))
            with urllib.request.urlopen(disc["jwks_uri"], timeout=5) as r:
                self.keys = {k["kid"]: k for k in json.load(r)["keys"] if "kid" in k}
            self.fetched = time.time()
        except (OSError, ValueError, KeyError) as e:
            raise KeysUnavailable("cannot fetch Portico's keys: %s" % e) from e

    def key(self, kid):
        with self.lock:
            age = time.time() - self.fetched
            # An unknown kid may be a new key (rotation): fetch again, but at
            # most once a minute so forged tokens cannot make us flood Portico;
            # and hourly anyway so withdrawn keys stop being trusted.
            if not self.keys or age > 3600 or (kid not in self.keys and age >= self.refetch_interval):
                self.fetch()
            return self.keys.get(kid)

    def verify(self, authorization):
        if not authorization.startswith("Bearer "):
            raise TokenError("missing", "no bearer token")
        parts = authorization[len("Bearer "):].split(".")
        if len(parts) != 3:
            raise TokenError("malformed", "the token is not a compact JWS")
        try:
            header, claims, sig = json.loads(b64url(parts[0])), json.loads(b64url(parts[1])), b64url(parts[2])
        except ValueError:
            raise TokenError("malformed", "the token is not base64url JSON")
        alg = header.get("alg")
        if alg not in ("ES256", "RS256"):
            raise TokenError("algorithm", "algorithm %r is not accepted" % alg)
        jwk = self.key(header.get("kid"))
        if jwk is None:
            raise TokenError("unknown_key", "no key %r in Portico's key set" % header.get("kid"))
        # The signed bytes are the two parts as received, never re-encoded.
        signed = (parts[0] + "." + parts[1]).encode("ascii")
        ok = verify_es256(jwk, signed, sig) if alg == "ES256" else verify_rs256(jwk, signed, sig)
        if not ok:
            raise TokenError("signature", "the signature does not match")
        now = time.time()
        if claims.get("iss") != self.issuer:
            raise TokenError("issuer", "the token is from %r, not %r" % (claims.get("iss"), self.issuer))
        if claims.get("aud") != self.plugin_id:
            raise TokenError("audience", "the token is for %r, not %r" % (claims.get("aud"), self.plugin_id))
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", claims.get("iat"))
        if not all(isinstance(v, (int, float)) for v in (exp, iat, nbf)):
            raise TokenError("malformed", "exp and iat must be numbers")
        if exp <= now - CLOCK_SKEW:
            raise TokenError("expired", "the token expired at %s" % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp)))
        if iat > now + CLOCK_SKEW or nbf > now + CLOCK_SKEW:
            raise TokenError("not_yet_valid", "the token is not valid yet")
        if exp - iat > MAX_LIFETIME:
            raise TokenError("lifetime", "the token lives %ds, more than %ds" % (exp - iat, MAX_LIFETIME))
        for c in ("sub", "jti", "agency", "service"):
            if not claims.get(c):
                raise TokenError("missing_claim", "the token has no %s" % c)
        return claims


def verify_webhook(secret, headers, body, now=None):
    """Checks a delivery the Standard Webhooks way ("Events by webhook")."""
    msg_id, ts, sigs = headers.get("webhook-id"), headers.get("webhook-timestamp"), headers.get("webhook-signature")
    if not (msg_id and ts and sigs and ts.isdigit()):
        return False
    if abs((now or time.time()) - int(ts)) > WEBHOOK_TOLERANCE:
        return False  # a replay, or a clock far off
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(want, s) for s in sigs.split(" "))


def make_handler(verifier, secret, seen_events):
    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status, obj=None, content_type="application/json", headers=()):
            body = json.dumps(obj).encode() if obj is not None else b""
            self.send_response(status)
            if obj is not None:
                self.send_header("Content-Type", content_type)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def problem(self, status, title, detail, headers=(), **extra):
            self.answer(status, {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra},
                        "application/problem+json", headers)

        def do_GET(self):
            try:
                claims = verifier.verify(self.headers.get("Authorization", ""))
            except TokenError as e:
                # Log the reason, never the token.
                sys.stderr.write("refused a call: %s\n" % e.reason)
                self.problem(401, "Unauthorized", e.detail, [("WWW-Authenticate", 'Bearer error="invalid_token"')], reason=e.reason)
                return
            except KeysUnavailable as e:
                self.problem(503, "Service Unavailable", str(e))
                return
            sys.stderr.write("call agency=%s service=%s case=%s jti=%s\n" % (
                claims["agency"], claims["service"], claims.get("case", "-"), claims["jti"]))
            prefix = "/licences/"
            if not self.path.startswith(prefix):
                self.problem(404, "Not Found", "no operation at %s" % self.path)
                return
            number = self.path[len(prefix):]
            licence = LICENCES.get(number)
            if licence is None:
                self.problem(404, "Not Found", "no licence numbered %s" % number)
                return
            self.answer(200, licence)

        def do_POST(self):
            # The raw body, before any parsing: the signature covers these bytes.
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/portico/events":
                self.problem(404, "Not Found", "no operation at %s" % self.path)
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            if not verify_webhook(secret, headers, body):
                self.answer(401)
                return
            event = json.loads(body)
            # At least once: the same event may come again; handle it once.
            if event["id"] not in seen_events:
                seen_events.add(event["id"])
                sys.stderr.write("event %s %s agency=%s\n" % (event["type"], event["id"], event.get("porticoagency")))
            self.answer(204)

        def log_message(self, fmt, *args):
            pass  # the lines above say what matters, without paths holding personal data

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--issuer", required=True, help="Portico's public URL, the tokens' iss")
    ap.add_argument("--plugin-id", required=True, help="this plug-in's id, the tokens' aud")
    ap.add_argument("--addr", default="127.0.0.1:8093", help="host:port to listen on")
    ap.add_argument("--refetch-interval", type=float, default=60,
                    help="least seconds between two fetches of the keys for tokens naming an unknown key")
    args = ap.parse_args()
    secret = os.environ.get("PORTICO_WEBHOOK_SECRET", "")
    if not secret.startswith("whsec_"):
        sys.exit("set PORTICO_WEBHOOK_SECRET to the whsec_ secret `portico plugin register` printed")
    verifier = Verifier(args.issuer.rstrip("/"), args.plugin_id, args.refetch_interval)
    host, port = args.addr.rsplit(":", 1)
    server = http.server.ThreadingHTTPServer((host, int(port)), make_handler(verifier, secret, set()))
    print("listening on http://%s:%d" % server.server_address[:2], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
