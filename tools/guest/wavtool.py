#!/usr/bin/env python3
"""tools/guest/wavtool.py - the guest harness's host-side audio helper: generates the
test signals, reports a WAV's format (for QEMU's audiodev settings) and compares what came
out of a guest with what went in, sample-exactly after alignment. Standard library only."""

import argparse
import array
import math
import struct
import sys

# name: (array typecode, bytes per sample, QEMU audiodev format)
FORMATS = {
    "s16": ("h", 2, "s16"),
    "s32": ("i", 4, "s32"),
    "u8": ("B", 1, "u8"),
    "s8": ("b", 1, "s8"),
    "u16": ("H", 2, "u16"),
    "u32": ("I", 4, "u32"),
    "f32": ("f", 4, "f32"),
}


class Audio:
    def __init__(self, fmt, channels, rate, samples):
        self.fmt, self.channels, self.rate, self.samples = fmt, channels, rate, samples

    @property
    def frames(self):
        return len(self.samples) // self.channels

    def frame(self, i):
        c = self.channels
        return tuple(self.samples[i * c:(i + 1) * c])


def fail(msg):
    print(f"wavtool: {msg}", file=sys.stderr)
    sys.exit(2)


def parse_wav(data, path):
    if len(data) < 12 or data[0:4] != b"RIFF" or data[8:12] != b"WAVE":
        fail(f"{path}: not a RIFF/WAVE file")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, ch, rate, _, _, bits = struct.unpack_from("<HHIIHH", body, 0)
            if tag == 0xFFFE and len(body) >= 26:
                tag = struct.unpack_from("<H", body, 24)[0]
            fmt = (tag, ch, rate, bits)
        elif cid == b"data":
            # arecord writes 0x7fffffff-ish sizes when interrupted; trust the file length.
            payload = data[pos + 8:min(len(data), pos + 8 + size)]
            break
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None:
        fail(f"{path}: no fmt or data chunk")
    tag, ch, rate, bits = fmt
    names = {(1, 8): "u8", (1, 16): "s16", (1, 32): "s32", (3, 32): "f32"}
    if (tag, bits) not in names:
        fail(f"{path}: unsupported WAV format tag {tag} with {bits} bits")
    return names[(tag, bits)], ch, rate, payload


def load(path, raw=None):
    with open(path, "rb") as f:
        data = f.read()
    if raw:
        fmt, ch, rate = raw
        payload = data
    else:
        fmt, ch, rate, payload = parse_wav(data, path)
    code, width, _ = FORMATS[fmt]
    usable = len(payload) - len(payload) % (width * ch)
    samples = array.array(code)
    samples.frombytes(payload[:usable])
    if sys.byteorder != "little":
        samples.byteswap()
    return Audio(fmt, ch, rate, samples)


def parse_raw(spec):
    try:
        fmt, ch, rate = spec.split(":")
        if fmt not in FORMATS:
            raise ValueError
        return fmt, int(ch), int(rate)
    except ValueError:
        fail(f"--raw wants FORMAT:CHANNELS:RATE (FORMAT one of {', '.join(FORMATS)}), got '{spec}'")


def cmd_gen(a):
    if a.format != "s16":
        fail("gen writes s16 only")
    freqs = [float(f) for f in a.freqs.split(",")]
    if len(freqs) != a.channels:
        fail(f"--freqs needs one frequency per channel ({a.channels})")
    n = int(round(a.seconds * a.rate))
    peak = a.amplitude * 32767.0
    out = array.array("h")
    for i in range(n):
        for f in freqs:
            out.append(int(round(peak * math.sin(2.0 * math.pi * f * i / a.rate))))
    if sys.byteorder != "little":
        out.byteswap()
    payload = out.tobytes()
    with open(a.output, "wb") as f:
        if not a.raw:
            blockalign = 2 * a.channels
            f.write(b"RIFF" + struct.pack("<I", 36 + len(payload)) + b"WAVE")
            f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, a.channels, a.rate,
                                          a.rate * blockalign, blockalign, 16))
            f.write(b"data" + struct.pack("<I", len(payload)))
        f.write(payload)


def cmd_info(a):
    au = load(a.file)
    print(f"format={FORMATS[au.fmt][2]} channels={au.channels} rate={au.rate} frames={au.frames}")


def first_nonzero(au):
    zero = (0,) * au.channels if au.fmt not in ("u8", "u16", "u32") else None
    for i in range(au.frames):
        fr = au.frame(i)
        if zero is None or fr != zero:
            return i
    return None


def cmd_compare(a):
    ref = load(a.reference, parse_raw(a.ref_raw) if a.ref_raw else None)
    out = load(a.output, parse_raw(a.out_raw) if a.out_raw else None)
    if (ref.fmt, ref.channels) != (out.fmt, out.channels):
        fail(f"format differs: reference {ref.fmt}/{ref.channels}ch, output {out.fmt}/{out.channels}ch")
    if ref.rate != out.rate:
        fail(f"rate differs: reference {ref.rate}, output {out.rate}")
    c = ref.channels
    k0 = first_nonzero(ref)
    if k0 is None:
        fail("reference is all silence; nothing to align on")
    # Alignment: the output position where the reference's first non-silent frame appears,
    # and from where everything that follows matches exactly (a tone repeats, so the first
    # equal frame is not enough).
    target = ref.frame(k0)
    offset = n = None
    for j in range(out.frames):
        if a.max_offset is not None and j - k0 > a.max_offset:
            break
        if out.frame(j) != target:
            continue
        m = min(ref.frames - k0, out.frames - j)
        if ref.samples[k0 * c:(k0 + m) * c] == out.samples[j * c:(j + m) * c]:
            offset, n = j - k0, m
            break
    lines = [f"compare.ref_frames={ref.frames}", f"compare.out_frames={out.frames}"]
    ok = True
    if offset is None:
        # Report how close the naive alignment on the first non-silent frames came.
        lines.append("compare.aligned=no")
        j0 = first_nonzero(out)
        if j0 is not None:
            m = min(ref.frames - k0, out.frames - j0)
            diff = max((abs(ref.samples[k0 * c + i] - out.samples[j0 * c + i]) for i in range(m * c)),
                       default=0)
            lines += [f"compare.naive_offset_frames={j0 - k0}", f"compare.naive_maxdiff={diff}"]
        ok = False
    else:
        # Whatever precedes the aligned start must be silence (a device may start with zeros).
        signed = ref.fmt not in ("u8", "u16", "u32")
        lead = out.samples[:max(0, offset) * c]
        lead_nonzero = sum(1 for s in lead if s != 0) if signed else 0
        missing = ref.frames - k0 - n
        extra = out.frames - (k0 + offset) - n
        lines += ["compare.aligned=yes", f"compare.offset_frames={offset}",
                  f"compare.compared_frames={n}", f"compare.missing_tail_frames={missing}",
                  f"compare.extra_tail_frames={extra}", f"compare.lead_nonzero_samples={lead_nonzero}",
                  "compare.maxdiff=0"]
        if lead_nonzero:
            lines.append("compare.why=non-silent data before the aligned start")
            ok = False
        if missing > a.max_missing_tail:
            lines.append(f"compare.why=missing {missing} frames at the end, tolerance {a.max_missing_tail}")
            ok = False
        if a.exact_length and (offset != 0 or extra != 0):
            lines.append(f"compare.why=not the same length (offset {offset}, extra {extra})")
            ok = False
        if extra > 0 and a.extra_tail_silent:
            tail = out.samples[(k0 + offset + n) * c:]
            if signed and any(s != 0 for s in tail):
                lines.append("compare.why=non-silent data after the reference's end")
                ok = False
    lines.append(f"compare.result={'pass' if ok else 'fail'}")
    print("\n".join(lines))
    sys.exit(0 if ok else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen", help="write a multi-tone test signal")
    g.add_argument("output")
    g.add_argument("--rate", type=int, default=48000)
    g.add_argument("--channels", type=int, default=2)
    g.add_argument("--seconds", type=float, default=1.0)
    g.add_argument("--freqs", default="440,1000", help="one frequency per channel, Hz")
    g.add_argument("--amplitude", type=float, default=0.5, help="fraction of full scale")
    g.add_argument("--format", default="s16")
    g.add_argument("--raw", action="store_true", help="headerless little-endian samples")
    g.set_defaults(fn=cmd_gen)
    i = sub.add_parser("info", help="print format=, channels=, rate=, frames= of a WAV")
    i.add_argument("file")
    i.set_defaults(fn=cmd_info)
    c = sub.add_parser("compare", help="sample-exact comparison after alignment")
    c.add_argument("reference")
    c.add_argument("output")
    c.add_argument("--ref-raw", metavar="FMT:CH:RATE", help="reference is headerless")
    c.add_argument("--out-raw", metavar="FMT:CH:RATE", help="output is headerless")
    c.add_argument("--max-missing-tail", type=int, default=0, metavar="FRAMES",
                   help="frames the output may lack at the end (QEMU's wav backend truncates)")
    c.add_argument("--exact-length", action="store_true", help="no offset, no extra frames")
    c.add_argument("--extra-tail-silent", action="store_true",
                   help="frames after the reference's end must be silence")
    c.add_argument("--max-offset", type=int, default=None, metavar="FRAMES")
    c.set_defaults(fn=cmd_compare)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
