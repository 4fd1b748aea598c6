#!/usr/bin/env python3
"""tests/guest/test_controls_audio.py - level analysis of a host output WAV for
test_controls.sh: a guest plays a steady tone and changes its mixer controls while it plays,
so each channel of the host output is a sequence of steady levels (and exact silence while
muted) joined by short transitions. Standard library only; 16-bit PCM WAV.

  levels OUT.wav --expect-CH SPEC [--expect-CH SPEC ...] [options]

Per channel (CH: 0, 1, ...) the file is cut into blocks (default 0.1 s; the test tones have
a whole number of cycles in a block, so a block's RMS is the tone's level). A block's level
is 20 log10(RMS * sqrt 2), dB relative to a full-scale sine; a block of exact zeros is
"zero". Runs of at least --min-blocks consecutive blocks within --steady-db of their first
block are the channel's steady segments; shorter runs between them are transitions. Leading
and trailing zero segments (before the stream and after it) are dropped.

SPEC is a comma list, one item per expected segment, in order:
  LEVEL        the segment's level (RMS over all its blocks) is LEVEL +- --tol-db
  zero         every sample of the segment is 0
  <LEVEL       below LEVEL dB (not zero)
  ~            any level
--delta CH:I:J:DB checks that segment J's level is segment I's + DB (+- --tol-db), I and J
counting from 1. --cover START,END (seconds) checks that one segment of every checked channel
spans START..END. Prints key=value lines; exit 0 only if every check passes (1 otherwise,
2 on bad input)."""

import argparse
import array
import math
import sys
import wave


def die(msg):
    print(f"test_controls_audio: {msg}", file=sys.stderr)
    sys.exit(2)


def read(path):
    try:
        with wave.open(path, "rb") as w:
            if w.getsampwidth() != 2:
                die(f"{path}: {8 * w.getsampwidth()}-bit samples, only 16-bit is handled")
            ch, rate, n = w.getnchannels(), w.getframerate(), w.getnframes()
            data = array.array("h")
            data.frombytes(w.readframes(n))
    except (OSError, EOFError, wave.Error) as e:
        die(f"{path}: {e}")
    if sys.byteorder != "little":
        data.byteswap()
    return rate, [data[c::ch] for c in range(ch)]


def db(ms):
    """Level of a mean square (full-scale 1.0) as dB relative to a full-scale sine."""
    return 10 * math.log10(2 * ms) if ms > 0 else -math.inf


def blocks_of(s, size):
    """(mean square, all zero) per whole block."""
    out = []
    for b in range(len(s) // size):
        blk = s[b * size:(b + 1) * size]
        acc = sum(v * v for v in blk)
        out.append((acc / size / (32768.0 * 32768.0), acc == 0))
    return out


def segments(blks, steady_db, min_blocks):
    """Steady runs as [first block, end block, mean square, zero]."""
    runs = []
    i = 0
    while i < len(blks):
        ms0, z0 = blks[i]
        j = i + 1
        while j < len(blks):
            ms, z = blks[j]
            if z != z0 or (not z and abs(db(ms) - db(ms0)) > steady_db):
                break
            j += 1
        runs.append([i, j, sum(b[0] for b in blks[i:j]) / (j - i), z0])
        i = j
    segs = [r for r in runs if r[1] - r[0] >= min_blocks]
    # Two steady runs at one level with only a transition between them are one segment
    # interrupted (a gap the device filled, a click): merged, and counted.
    merged, interruptions = [], 0
    for r in segs:
        if merged and merged[-1][3] == r[3] and (
                r[3] or abs(db(merged[-1][2]) - db(r[2])) <= steady_db):
            m = merged[-1]
            n0, n1 = m[1] - m[0], r[1] - r[0]
            m[2] = (m[2] * n0 + r[2] * n1) / (n0 + n1)
            m[1] = r[1]
            interruptions += 1
        else:
            merged.append(r)
    while merged and merged[0][3]:
        merged.pop(0)
    while merged and merged[-1][3]:
        merged.pop()
    return merged, interruptions


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["levels"])
    ap.add_argument("wav")
    ap.add_argument("--block", type=float, default=0.1, help="seconds")
    ap.add_argument("--min-blocks", type=int, default=5)
    ap.add_argument("--steady-db", type=float, default=0.02)
    ap.add_argument("--tol-db", type=float, default=0.05)
    ap.add_argument("--max-interruptions", type=int, default=0)
    ap.add_argument("--delta", action="append", default=[])
    ap.add_argument("--cover")
    ap.add_argument("--expect-0")
    ap.add_argument("--expect-1")
    a = ap.parse_args()

    rate, chans = read(a.wav)
    size = int(round(a.block * rate))
    expect = {0: a.expect_0, 1: a.expect_1}
    kv, ok, levels, segs_of = {}, True, {}, {}
    for c, spec in expect.items():
        if spec is None:
            continue
        if c >= len(chans):
            die(f"{a.wav} has no channel {c}")
        segs, inter = segments(blocks_of(chans[c], size), a.steady_db, a.min_blocks)
        segs_of[c] = segs
        kv[f"ch{c}.segments"] = len(segs)
        kv[f"ch{c}.interruptions"] = inter
        if inter > a.max_interruptions:
            ok = False
        items = spec.split(",")
        if len(items) != len(segs):
            ok = False
        for k, s in enumerate(segs, 1):
            lv = db(s[2])
            levels[(c, k)] = lv
            kv[f"ch{c}.seg{k}"] = ("zero" if s[3] else f"{lv:.3f}dB") + \
                f"@{s[0] * a.block:.1f}-{s[1] * a.block:.1f}s"
            if k > len(items):
                continue
            it = items[k - 1]
            if it == "~":
                good = True
            elif it == "zero":
                good = s[3]
            elif it.startswith("<"):
                good = not s[3] and lv < float(it[1:])
            else:
                good = not s[3] and abs(lv - float(it)) <= a.tol_db
            if not good:
                kv[f"ch{c}.seg{k}.expected"] = it
                ok = False
    for d in a.delta:
        try:
            c, i, j, want = d.split(":")
            c, i, j, want = int(c), int(i), int(j), float(want)
        except ValueError:
            die(f"--delta wants CH:I:J:DB, got '{d}'")
        if (c, i) in levels and (c, j) in levels:
            got = levels[(c, j)] - levels[(c, i)]
            kv[f"ch{c}.delta_{i}_{j}"] = f"{got:.3f}dB"
            if not abs(got - want) <= a.tol_db:
                ok = False
        else:
            kv[f"ch{c}.delta_{i}_{j}"] = "missing"
            ok = False
    if a.cover:
        try:
            t0, t1 = (float(x) for x in a.cover.split(","))
        except ValueError:
            die(f"--cover wants START,END, got '{a.cover}'")
        for c, segs in segs_of.items():
            good = any(s[0] * a.block <= t0 and s[1] * a.block >= t1 for s in segs)
            kv[f"ch{c}.covers_{t0:.1f}_{t1:.1f}s"] = "yes" if good else "no"
            ok = ok and good
    for k, v in kv.items():
        print(f"{k}={v}")
    print(f"result={'pass' if ok else 'fail'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
