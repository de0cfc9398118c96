#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the seed corpus of the libvduse fuzz targets (tests/fuzz/corpus/).

Each seed is a well-formed (or deliberately malformed) input in the layout
the target expects, so that mutations start from inputs that reach deep
into the ring parser and the message handler.
"""
import os
import struct
import sys

WIN = 0x100000
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")


def put(buf, off, data):
    if len(buf) < off + len(data):
        buf.extend(b"\0" * (off + len(data) - len(buf)))
    buf[off:off + len(data)] = data


def sdesc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def pdesc(addr, length, bid, flags):
    return struct.pack("<QIHH", addr, length, bid, flags)


def split_ring(heads, descs, event=False, base=0, drv=0x1000, num=8, avail=None):
    """Window bytes for a split ring: descriptor table, avail ring with heads."""
    w = bytearray()
    for i, d in descs.items():
        put(w, base + 16 * i, sdesc(*d))
    idx = len(heads) if avail is None else avail
    ring = struct.pack("<HH", 0, idx) + b"".join(struct.pack("<H", h) for h in heads)
    put(w, drv, ring)
    if event:
        put(w, drv + 4 + 2 * num, struct.pack("<H", 1))
    put(w, 0x3000, bytes(range(256)) * 4)
    return w


def write(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(data))


B = WIN + 0x3000
# ---- fuzz_ring: mode byte, size selector, position (2 bytes), window ----
# split, 8 entries (1 << 3), indirect + event idx
chain = {0: (B, 16, 1, 1), 1: (B + 0x100, 512, 3, 2), 2: (B + 0x400, 1, 2, 0),
         3: (B + 0x500, 64, 2, 0), 4: (B + 0x600, 48, 4, 0)}
ind = b"".join([sdesc(B, 8, 1, 1), sdesc(B + 0x100, 64, 3, 2), sdesc(B + 0x400, 1, 2, 0)])
w = split_ring([0, 3, 4], chain, event=True)
put(w, 0x600, ind)
write("fuzz_ring", "split-chains", bytes([2 | 4, 3, 0, 0]) + w)
write("fuzz_ring", "split-rewrite", bytes([2 | 4 | 128, 3, 0, 0]) + w)
write("fuzz_ring", "split-asid1", bytes([2 | 64, 3, 0, 0]) + w)
w2 = split_ring([0], {0: (B, 16, 1, 1), 1: (B, 16, 1, 0)})
write("fuzz_ring", "split-loop", bytes([2, 3, 0, 0]) + w2)
w3 = split_ring([0, 1, 2, 3, 4, 5, 6, 7], {i: (B + 16 * i, 16, 2, 0) for i in range(8)})
write("fuzz_ring", "split-full", bytes([0, 3, 0, 0]) + w3)
w4 = split_ring([0], {0: (B, 16, 1, 1), 1: (WIN + 0x10000, 16, 2, 0)})
write("fuzz_ring", "split-ro-write", bytes([0, 3, 0, 0]) + w4)
# packed, 8 entries, driver area at +0x1000, device at +0x2000
AV, US = 1 << 7, 1 << 15
pw = bytearray()
put(pw, 0, pdesc(B, 16, 3, 1 | AV))
put(pw, 16, pdesc(B + 0x100, 512, 3, 1 | 2 | AV))
put(pw, 32, pdesc(B + 0x400, 1, 3, 2 | AV))
put(pw, 48, pdesc(B + 0x600, 48, 1, 4 | AV))
put(pw, 64, pdesc(B + 0x500, 64, 2, 2 | AV))
put(pw, 0x600, ind)
put(pw, 0x1000, struct.pack("<HH", 0, 0))
put(pw, 0x3000, bytes(range(256)))
write("fuzz_ring", "packed-chains", bytes([1 | 2 | 4, 7, 0, 1]) + pw)
write("fuzz_ring", "packed-rewrite", bytes([1 | 2 | 128, 7, 0, 1]) + pw)
# driver event area at +0x1002: misaligned, the queue must break at start
write("fuzz_ring", "packed-misaligned", bytes([1 | 2 | 16, 7, 0, 1]) + pw)
pw2 = bytearray(pw)
put(pw2, 0, pdesc(B, 16, 3, 1 | AV))
put(pw2, 16, pdesc(B, 16, 3, 1 | AV))
write("fuzz_ring", "packed-unavail", bytes([1, 7, 0, 3]) + pw2)

# ---- fuzz_msg: features, ring-bytes/128, flags, pad, ring memory, requests ----
def req(rtype, payload=b"", rid=1):
    return struct.pack("<II4I", rtype, rid, 0, 0, 0, 0) + payload.ljust(128, b"\0")


mem = bytearray()
for q in range(3):
    descs = {i: (B + 0x40 * i, 32, 2 if i % 2 else 0, 0) for i in range(4)}
    for i, d in descs.items():
        put(mem, q * 0x1000 + 16 * i, sdesc(*d))
    put(mem, 0x4000 + q * 0x100, struct.pack("<HH4H", 0, 4, 0, 1, 2, 3))
put(mem, 0x3000, bytes(range(256)))
mem = bytes(mem[:0x5000]).ljust(0x5000, b"\0")
nblk = len(mem) // 128
msgs = [req(3, struct.pack("<II", 1, 1)), req(1, bytes([0x0f])),
        req(0, struct.pack("<I", 0)), req(0, struct.pack("<I", 2)),
        req(2, struct.pack("<QQI", 0, 2**64 - 1, 1)), req(0, struct.pack("<I", 2)),
        req(2, struct.pack("<QQI", 0x100000, 0x100fff, 0)), req(3, struct.pack("<II", 1, 0)),
        req(4, struct.pack("<II", 1, 1)), req(5), req(9), req(1, bytes([0]))]
write("fuzz_msg", "split-sequence", bytes([2, nblk, 0, 0, 0, 0, 0, 0]) + mem + b"".join(msgs))
write("fuzz_msg", "raw-types", bytes([0, nblk, 1, 0, 0, 0, 0, 0]) + mem + b"".join(msgs))
write("fuzz_msg", "packed-sequence", bytes([8 | 2, nblk, 0, 0, 0, 0, 0, 0]) + mem + b"".join(msgs))
write("fuzz_msg", "status-only", bytes([0, 0, 0, 0, 0, 0, 0, 0]) +
      req(1, bytes([0x0f])) + req(1, bytes([0x8b])) + req(1, bytes([0])))

# ---- fuzz_cvq: control features, pairs, offloads, then (le16 length, command)... ----
def cmd(cls, c, data=b""):
    body = bytes([cls, c]) + data
    return struct.pack("<H", len(body)) + body


def mac_table(uni, multi):
    return (struct.pack("<I", len(uni)) + b"".join(uni) +
            struct.pack("<I", len(multi)) + b"".join(multi))


def rss(types, table, uncl, max_tx, key):
    return (struct.pack("<IHH", types, len(table) - 1, uncl) + struct.pack("<%dH" % len(table), *table) +
            struct.pack("<HB", max_tx, len(key)) + key)


ALL_CTRL, ALL_OFF = 0xff, 0x7f | 0x80     # every control feature; offloads, announce pending
uni = [bytes([0x02, 0, 0, 0, 0, i]) for i in range(3)]
multi = [bytes([0x01, 0, 0x5e, 0, 0, i]) for i in range(2)]
key = bytes(range(1, 41))
everything = [cmd(1, 1, bytes([0x52, 0x54, 0, 0xab, 0xcd, 0xef])), cmd(1, 0, mac_table(uni, multi)),
              cmd(0, 0, b"\0"), cmd(0, 1, b"\1"), cmd(0, 5, b"\1"), cmd(2, 0, struct.pack("<H", 100)),
              cmd(2, 0, struct.pack("<H", 4095)), cmd(2, 1, struct.pack("<H", 100)),
              cmd(4, 0, struct.pack("<H", 3)), cmd(4, 1, rss(0x3f, [0, 1, 2, 3, 3, 2, 1, 0], 1, 4, key)),
              cmd(5, 0, struct.pack("<Q", 1 << 7)), cmd(3, 0)]
write("fuzz_cvq", "everything", bytes([ALL_CTRL, 3, ALL_OFF]) + b"".join(everything))
over = [bytes([0x02, 0, 0, 0, i // 256, i % 256]) for i in range(65)]
overm = [bytes([0x01, 0, 0x5e, 0, i // 256, i % 256]) for i in range(70)]
write("fuzz_cvq", "table-overflow", bytes([ALL_CTRL, 1, 0]) +
      cmd(1, 0, mac_table(over, multi)) + cmd(0, 0, b"\0") + cmd(1, 0, mac_table(uni, overm)))
write("fuzz_cvq", "rss-then-mq", bytes([ALL_CTRL, 7, 0x03]) +
      cmd(4, 1, rss(0x07, [i % 8 for i in range(128)], 7, 8, key[:16])) + cmd(4, 0, struct.pack("<H", 2)) +
      cmd(4, 1, rss(0, [0], 0, 1, b"")))
write("fuzz_cvq", "refused", bytes([0x01, 0, 0]) +
      cmd(0, 6, b"\1") + cmd(1, 1, bytes(6)) + cmd(2, 0, struct.pack("<H", 5)) +
      cmd(4, 1, rss(1, [0], 0, 1, b"")) + cmd(6, 0) + cmd(0, 0, b"\0\0"))

# ---- fuzz_blk: disk flags, segment counts, le16 segment lengths, readable bytes ----
def blkreq(flags, readable, writable, body):
    segs = readable + writable
    return (bytes([flags, (len(readable) - 1) | (len(writable) << 2)]) +
            b"".join(struct.pack("<H", n) for n in segs) + body)


def outhdr(rtype, sector):
    return struct.pack("<IIQ", rtype, 0, sector)


def dwz(sector, nsec, flags):
    return struct.pack("<QII", sector, nsec, flags)


write("fuzz_blk", "read", blkreq(6, [16], [512, 3584, 1], outhdr(0, 8)))
write("fuzz_blk", "write", blkreq(6, [16, 1024, 3072], [1], outhdr(1, 16) + bytes(range(256)) * 16))
write("fuzz_blk", "write-ro", blkreq(7, [16, 512], [1], outhdr(1, 0) + b"\xaa" * 512))
write("fuzz_blk", "flush-getid", blkreq(6, [16], [21], outhdr(4, 0)))
write("fuzz_blk", "getid", blkreq(6, [16], [8, 13], outhdr(8, 0)))
write("fuzz_blk", "discard", blkreq(6, [16, 32], [1], outhdr(11, 0) + dwz(0, 8, 0) + dwz(64, 16, 0)))
write("fuzz_blk", "write-zeroes", blkreq(6, [48], [1], outhdr(13, 0) + dwz(8, 8, 1) + dwz(32, 32, 0)))
write("fuzz_blk", "read-4k-blocks", blkreq(14, [16], [4096, 1], outhdr(0, 8)))

# ---- fuzz_cvqtext: 0 + state JSON, or 1 + a command in vdpa-cvq's syntax ----
STATE = """{
  "version": 1,
  "features": "0x1000000310df0022",
  "max_pairs": 4,
  "pairs": 3,
  "mac": "02:aa:bb:cc:dd:01",
  "rx": {"promisc": false, "allmulti": true, "alluni": false, "nomulti": false, "nouni": false, "nobcast": true},
  "mac_table": {"unicast": ["02:00:00:00:00:01"], "multicast": ["01:00:5e:00:00:01"], "unicast_overflow": false, "multicast_overflow": false},
  "vlans": [20, 4095],
  "offloads": "0x0000000000000002",
  "rss": {"enabled": true, "redirect": true, "hash_types": 5, "indirection_table": [0, 1, 2, 0], "unclassified_queue": 0, "max_tx_vq": 3, "key": "6d5a56da255b0ec2"},
  "rings": [{"vq": 0, "pos": 0}, {"vq": 1, "pos": 7}]
}
"""
write("fuzz_cvqtext", "state", b"\0" + STATE.encode())
write("fuzz_cvqtext", "state-overflow", b"\0" + STATE.replace('"unicast_overflow": false', '"unicast_overflow": true')
      .replace('["02:00:00:00:00:01"]', '[]').encode())
# QEMU 10.0.2's restore values: a HASH_CONFIG state with RSS and HASH_REPORT
# (bit 57) negotiated, sent as RSS_CONFIG, its 2-byte key as 40 bytes; 40
# unicast + 30 multicast entries (QEMU's model: 64 in all, so all-multicast)
UNI40 = ", ".join('"02:00:00:00:01:%02x"' % i for i in range(40))
MULTI30 = ", ".join('"01:00:5e:00:01:%02x"' % i for i in range(30))
write("fuzz_cvqtext", "state-hash", b"\0" + STATE.replace('"0x1000000310df0022"', '"0x1200000310df0022"')
      .replace('"redirect": true', '"redirect": false').replace('[0, 1, 2, 0]', '[]')
      .replace('"max_tx_vq": 3', '"max_tx_vq": 0').replace('6d5a56da255b0ec2', '6d5a')
      .replace('["02:00:00:00:00:01"]', '[' + UNI40 + ']').replace('["01:00:5e:00:00:01"]', '[' + MULTI30 + ']')
      .encode())
# CTRL_RX_EXTRA without CTRL_RX (bit 18): QEMU's load_rx sends no RX mode at all
write("fuzz_cvqtext", "state-rxextra", b"\0" + STATE.replace('"0x1000000310df0022"', '"0x1000000310db0022"')
      .replace('"promisc": false, "allmulti": true', '"promisc": true, "allmulti": false')
      .replace('["02:00:00:00:00:01"]', '[]').replace('["01:00:5e:00:00:01"]', '[]').encode())
for i, c in enumerate(["mac=52:54:00:12:34:56", "promisc=0", "vlan-add=100", "mq=4", "offloads=0x80",
                       "mac-table=02:00:00:00:00:01,02:00:00:00:00:02/01:00:5e:00:00:01",
                       "rss=5:6d5a56da255b0ec2:0,1,2,0", "hash=5:6d5a", "announce"]):
    write("fuzz_cvqtext", "cmd-%d" % i, b"\1" + c.encode())
