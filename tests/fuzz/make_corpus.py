#!/usr/bin/python3
"""Writes the seed corpus of fuzz_frame_decoder: a dozen small protocol streams, frontend and
backend, valid and a few deliberately broken. Deterministic; run it again after editing.

    /usr/bin/python3 tests/fuzz/make_corpus.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "frame_decoder")


def cstr(text):
    return text.encode() + b"\0"


def msg(kind, body=b""):
    """A regular message: type byte, Int32 length counting itself, body."""
    return kind.encode() + struct.pack("!i", len(body) + 4) + body


def packet(body):
    """A startup-phase packet: Int32 length counting itself, body."""
    return struct.pack("!i", len(body) + 4) + body


def startup(params, version=196608):
    body = struct.pack("!i", version)
    for name, value in params:
        body += cstr(name) + cstr(value)
    return packet(body + b"\0")


def bind(portal, statement, formats, params, result_formats):
    body = cstr(portal) + cstr(statement)
    body += struct.pack("!h", len(formats)) + b"".join(struct.pack("!h", f) for f in formats)
    body += struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    body += struct.pack("!h", len(result_formats))
    body += b"".join(struct.pack("!h", f) for f in result_formats)
    return msg("B", body)


def error_fields(kind, fields):
    return msg(kind, b"".join(code.encode() + cstr(v) for code, v in fields) + b"\0")


SEEDS = {
    "startup_then_query": startup([("user", "alice"), ("database", "app"),
                                   ("options", "-c search_path=s1"),
                                   ("application_name", "psql")])
    + msg("Q", cstr("SELECT 1")) + msg("X"),
    "ssl_request": packet(struct.pack("!i", 80877103)),
    "gssenc_request": packet(struct.pack("!i", 80877104)),
    "cancel_request": packet(struct.pack("!iii", 80877102, 4242, 987654321)),
    "startup_v3_2_pq_option": startup([("user", "bob"), ("_pq_.feature", "on")],
                                      version=(3 << 16) | 2),
    "startup_v2_refused": packet(struct.pack("!i", 2 << 16) + cstr("user") + cstr("x") + b"\0"),
    "extended_query": msg("P", cstr("s1") + cstr("SELECT $1::int") + struct.pack("!hi", 1, 23))
    + bind("", "s1", [0], [b"42"], [1])
    + msg("D", b"P" + cstr(""))
    + msg("E", cstr("") + struct.pack("!i", 0))
    + msg("C", b"S" + cstr("s1"))
    + msg("H") + msg("S"),
    "bind_nulls_binary": bind("p", "", [1, 0], [None, b"\x00\x00\x00\x07", b""], [0, 1]),
    "copy_in": msg("Q", cstr("COPY t FROM STDIN")) + msg("d", b"1\tone\n") + msg("d", b"2\ttwo\n")
    + msg("c") + msg("f", cstr("client gave up")),
    "sasl_exchange": msg("p", cstr("SCRAM-SHA-256") + struct.pack("!i", 11) + b"n,,n=,r=abc")
    + msg("p", b"c=biws,r=abcdef,p=proof") + msg("p", cstr("md5" + "0" * 32))
    + msg("F", struct.pack("!ihhh", 1598, 0, 0, 0)),
    "backend_session_start": msg("R", struct.pack("!i", 10) + cstr("SCRAM-SHA-256") + b"\0")
    + msg("R", struct.pack("!i", 11) + b"r=abc,s=c2FsdA==,i=4096")
    + msg("R", struct.pack("!i", 12) + b"v=sig")
    + msg("R", struct.pack("!i", 0))
    + msg("R", struct.pack("!i", 5) + b"\x01\x02\x03\x04")
    + msg("v", struct.pack("!ii", 196608, 1) + cstr("_pq_.feature"))
    + msg("S", cstr("server_version") + cstr("15.4"))
    + msg("K", struct.pack("!ii", 31337, -7)) + msg("Z", b"I"),
    "backend_query_result": msg("T", struct.pack("!h", 2)
                                + cstr("id") + struct.pack("!ihihih", 16384, 1, 23, 4, -1, 0)
                                + cstr("name") + struct.pack("!ihihih", 16384, 2, 25, -1, -1, 0))
    + msg("D", struct.pack("!hi", 2, 1) + b"1" + struct.pack("!i", -1))
    + msg("C", cstr("SELECT 1"))
    + error_fields("N", [("S", "NOTICE"), ("V", "NOTICE"), ("C", "00000"), ("M", "hi")])
    + error_fields("E", [("S", "ERROR"), ("V", "ERROR"), ("C", "23505"),
                         ("M", "duplicate key"), ("D", "Key (id)=(1) already exists."),
                         ("s", "public"), ("t", "t"), ("n", "t_pkey")])
    + msg("Z", b"E"),
    "oversize_header": b"Q" + struct.pack("!I", 0x7FFFFFFF) + b"SELECT",
    "bad_lengths": b"S" + struct.pack("!i", 3) + packet(b"") + b"Q" + struct.pack("!i", -1),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), OUT))


if __name__ == "__main__":
    main()
