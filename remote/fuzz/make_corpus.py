#!/usr/bin/env python3
"""Writes the seed corpus of the remote fuzzers from PROTOCOL.md alone.

It is deliberately a second, independent encoder of the wire format: the
corpus test (tests/remote/decoder_corpus_test.cpp) checks that the C++ decoder
accepts every `valid-*` file and refuses every `bad-<reason>-*` file with
that reason, so the document and the code cannot drift apart silently.

Run from anywhere: python3 remote/fuzz/make_corpus.py
"""
import hashlib
import hmac
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

KINDS = dict(hello=1, challenge=2, response=3, accept=4, reject=5, heartbeat=6, message=7,
             ask_request=8, ask_reply=9, ask_failure=10, watch=11, unwatch=12, terminated=13, close=14)
MAGIC = 0x594C4F56
VERSION = 3


def frame(kind, flags=0, target=b"", node=b"", sender=b"", marker=0, corr=0, payload=b"",
          length=None, reserved=0):
    body = target + node + sender + payload
    if length is None:
        length = 32 + len(body)
    return struct.pack("<IBBHHHIQQ", length, KINDS.get(kind, kind) if isinstance(kind, str) else kind,
                       flags, len(target), len(node), len(sender), reserved, marker, corr) + body


def intro(incarnation, nonce):
    return struct.pack("<IHHQ", MAGIC, VERSION, 0, incarnation) + nonce


def prefixed(b):
    return struct.pack("<H", len(b)) + b


def proof(secret, role, i_name, i_inc, i_nonce, a_name, a_inc, a_nonce):
    """PROTOCOL.md 6.1: HMAC-SHA256 over the role label and the transcript."""
    label = b"volley handshake %s proof" % role
    msg = prefixed(label) + struct.pack("<H", VERSION) + prefixed(i_name) + struct.pack("<Q", i_inc) + \
        i_nonce + prefixed(a_name) + struct.pack("<Q", a_inc) + a_nonce
    return hmac.new(secret, msg, hashlib.sha256).digest()


# Script opcodes of fuzz_checks.hpp (check_handshake_sessions).
OPEN, RAW, RELAY, INTRO, TRANSPLANT = range(5)
A_ACCEPTOR, B_ACCEPTOR, A_INITIATOR, B_INITIATOR = 0, 1, 2, 3


def script(*ops):
    """Each op is a tuple of ints (single bytes) and bytes (raw operands)."""
    return b"".join(bytes([x]) if isinstance(x, int) else x for op in ops for x in op)


def write(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def main():
    dec = os.path.join(OUT, "frame_decoder")
    hs = os.path.join(OUT, "handshake")
    nonce = bytes(range(32))
    hello = frame("hello", node=b"node-a", payload=intro(7, nonce))
    # The fuzz handshake fixes its own nonce at zeros; this proof is over
    # another nonce, so a handshake that took it would be a forgery.
    forged = proof(b"fuzz-secret", b"initiator", b"node-a", 7, nonce, b"node-b", 9, nonce)
    challenge = frame("challenge", node=b"node-b", payload=intro(9, bytes(32)))
    msg = frame("message", target=b"/user/a", node=b"n", sender=b"/user/b", marker=0x0102030405060708,
                corr=0x1112131415161718, payload=b"\xaa\xbb")
    by_id = frame("ask_request", flags=1, target=struct.pack("<Q", 42), corr=5, payload=b"x" * 16)
    stream = hello + frame("heartbeat") + msg + by_id + frame("ask_reply", corr=5, payload=b"ok") + \
        frame("watch", target=b"/user/w", sender=b"/user/x") + \
        frame("close", payload=struct.pack("<H", 1) + b"bye")

    write(dec, "valid-golden-message", msg)
    write(dec, "valid-stream", stream)
    write(dec, "valid-heartbeat", frame("heartbeat"))
    write(dec, "valid-interned-target", by_id)
    write(dec, "valid-reject", frame("reject", payload=struct.pack("<H", 3) + b"authentication failed"))
    write(dec, "bad-oversized-length", struct.pack("<I", 0x7fffffff) + b"\x07" + bytes(27))
    write(dec, "bad-malformed_header-short-length", frame("heartbeat", length=31))
    write(dec, "bad-malformed_header-reserved", frame("heartbeat", reserved=1))
    write(dec, "bad-malformed_header-flags", frame("heartbeat", flags=0x40))
    write(dec, "bad-malformed_header-target-on-heartbeat", frame("heartbeat", target=b"/a"))
    write(dec, "bad-unknown_kind-zero", frame(0))
    write(dec, "bad-unknown_kind-15", frame(15))
    write(dec, "bad-truncated_payload-sections", frame("message", target=b"/user/a", length=35))
    write(dec, "bad-truncated_payload-cut", msg[:-1])
    write(dec, "bad-bad_path-relative", frame("message", target=b"user/a"))
    write(dec, "bad-bad_path-node", frame("message", target=b"/a", node=b"bad node"))
    # Frames alike but for their ids and payloads (the decoder's short way,
    # parse_frame_like), and the same run with a control byte in the third
    # one's path: its header is alike, so only a compare of its sections
    # with the previous frame's catches it.
    alike = [frame("message", target=b"/user/a", sender=b"/user/b", marker=9, corr=i,
                   payload=bytes([i]) * (1 + i % 2)) for i in range(4)]
    write(dec, "valid-alike-run", b"".join(alike))
    write(dec, "bad-bad_path-alike-run",
          alike[0] + alike[1] + frame("message", target=b"/user\x01", sender=b"/user/b", marker=9,
                                      corr=2, payload=b"\x02") + alike[3])

    write(hs, "hello", hello)
    write(hs, "hello-then-user-frame", hello + msg)
    write(hs, "challenge", challenge)
    write(hs, "response", frame("response", payload=forged))
    write(hs, "hello-then-forged-response", hello + frame("response", payload=forged))
    write(hs, "reject", frame("reject", payload=struct.pack("<H", 1) + b"version"))
    write(hs, "accept", frame("accept", payload=forged))

    # Scripts for check_handshake_sessions (several connections at once).
    # A wire: A dials, B listens, the attacker relays every frame verbatim.
    write(hs, "script-wire-relay", script(
        (OPEN, A_INITIATOR), (OPEN, B_ACCEPTOR),
        (RELAY, 1, 0, 0), (RELAY, 0, 1, 0), (RELAY, 1, 0, 1), (RELAY, 0, 1, 1)))
    # Issue 8's relay: hello to B; hello to A as B; hello to B with A's nonce;
    # the tail of B's answer handed to A as the response.
    write(hs, "script-issue8-relay", script(
        (OPEN, B_ACCEPTOR), (INTRO, 0, (2 << 5) | 2, bytes(range(32))),
        (OPEN, A_ACCEPTOR), (INTRO, 1, (1 << 5) | 1, bytes(range(1, 33))),
        (OPEN, B_ACCEPTOR), (INTRO, 2, 4 | 8, 1),
        (TRANSPLANT, 1, 2, 0, 48, 0)))
    # Reflection: A's own hello to A's listener; A's own challenge to A's dialer.
    write(hs, "script-reflection", script(
        (OPEN, A_INITIATOR), (OPEN, A_ACCEPTOR), (RELAY, 1, 0, 0),
        (OPEN, A_ACCEPTOR), (INTRO, 2, (1 << 5) | 1, bytes(32)), (RELAY, 0, 2, 0),
        (TRANSPLANT, 1, 0, 0, 16, 0)))

    # Known answers of PROTOCOL.md 6.1 (checked in handshake_test.cpp too).
    i_nonce, a_nonce = bytes(range(32)), bytes(range(32, 64))
    for role in (b"initiator", b"acceptor"):
        tag = proof(b"volley-secret", role, b"node-a", 0x0123456789abcdef, i_nonce,
                    b"node-b", 0xfedcba9876543210, a_nonce)
        print(role.decode(), tag.hex())


if __name__ == "__main__":
    main()
