#!/usr/bin/env python3
"""tests/guest/test_serve_audio.py - host-side audio checks for `virtdsp serve` with real
guests (test_serve.sh, tools/demo.sh). Standard library only; 16-bit PCM WAV files.

  pattern OUT.wav --seconds S     a capture source no stretch of which repeats within
                                  65536 frames: a recording can be located in it exactly
  excerpt REF.wav OUT.wav         OUT is a contiguous stretch of REF, bit-exact
  find REF.wav OUT.wav            REF (without its leading and trailing silence) occurs in
                                  OUT bit-exact, with only silence around it
  sine OUT.wav --freqs F1,F2 --amp A [--min-snr DB] [--tol-db DB] [--frames N --tol-frames T]
                                  the last sound in OUT (after 0.5 s of silence) is one sine
                                  per channel at the given level: level, SNR, length
  blocks OUT.wav --a F1,F2:AMP --b F3,F4:AMP
                                  per 0.1 s block, which of two signals (one sine per channel
                                  each) are present and at what level: the mix of two guests
  level OUT.wav                   peak and RMS (dBFS) and frames of the non-silent part

Every command prints key=value lines and exits 0 only if its check passes (1 otherwise,
2 on bad input)."""

import argparse
import array
import math
import operator
import sys
import wave


def die(msg):
    print(f"test_serve_audio: {msg}", file=sys.stderr)
    sys.exit(2)


def read(path):
    """(rate, channels, [samples of channel 0], [channel 1], ...) of a 16-bit WAV."""
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
    return rate, ch, [data[c::ch] for c in range(ch)]


def write(path, rate, chans):
    n = len(chans[0])
    data = array.array("h", bytes(2 * n * len(chans)))
    for c, s in enumerate(chans):
        data[c::len(chans)] = s
    if sys.byteorder != "little":
        data.byteswap()
    with wave.open(path, "wb") as w:
        w.setnchannels(len(chans))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def frames_of(chans):
    return list(zip(*chans))


def nonsilent_range(chans):
    """[first, last+1) of the frames with any non-zero sample, or (0, 0)."""
    n = len(chans[0])
    first, last = n, -1
    for s in chans:
        i = 0
        while i < n and not s[i]:
            i += 1
        j = n - 1
        while j >= i and not s[j]:
            j -= 1
        if i < n:
            first, last = min(first, i), max(last, j)
    return (first, last + 1) if last >= 0 else (0, 0)


def positions(s, v, limit):
    """Indices k < limit with s[k] == v."""
    k = -1
    while True:
        try:
            k = s.index(v, k + 1, limit)
        except ValueError:
            return
        yield k


def report(kv, ok):
    for k, v in kv.items():
        print(f"{k}={v}")
    print(f"result={'pass' if ok else 'fail'}")
    sys.exit(0 if ok else 1)


# ---- pattern, excerpt, find -------------------------------------------------------------

P_LEFT, P_RIGHT = 7919, 40503	# odd: n -> n*K mod 65536 is a bijection


def cmd_pattern(a):
    period = 65536
    one = [array.array("h", [(((n * k) & 0xFFFF) >> 1) - 16384 for n in range(period)])
           for k in (P_LEFT, P_RIGHT)]
    total = int(a.seconds * a.rate)
    reps = total // period + 1
    chans = [(s * reps)[:total] for s in one]
    write(a.out, a.rate, chans)
    print(f"pattern.frames={total}")


def cmd_excerpt(a):
    rr, rc, ref = read(a.ref)
    orate, oc, out = read(a.out)
    if (rr, rc) != (orate, oc):
        report({"excerpt.error": f"formats differ: {rr} Hz {rc} ch vs {orate} Hz {oc} ch"}, False)
    n, m = len(out[0]), len(ref[0])
    kv = {"excerpt.out_frames": n, "excerpt.ref_frames": m}
    if n == 0 or n > m:
        report(kv, False)
    head = tuple(c[0] for c in out)
    cands = [k for k in positions(ref[0], head[0], m - n + 1)
             if all(ref[c][k] == head[c] for c in range(rc))]
    for k in cands:
        if all(ref[c][k:k + n] == out[c] for c in range(rc)):
            kv.update({"excerpt.offset_frames": k, "excerpt.candidates": len(cands)})
            report(kv, True)
    # where does it stop matching, from the best candidate
    best, where = None, -1
    for k in cands[:64]:
        i = 0
        while i < n and all(ref[c][k + i] == out[c][i] for c in range(rc)):
            i += 1
        if i > where:
            best, where = k, i
    kv.update({"excerpt.candidates": len(cands), "excerpt.best_offset": best,
               "excerpt.matching_frames": where})
    report(kv, False)


def cmd_find(a):
    rr, rc, ref = read(a.ref)
    orate, oc, out = read(a.out)
    if (rr, rc) != (orate, oc):
        report({"find.error": f"formats differ: {rr} Hz {rc} ch vs {orate} Hz {oc} ch"}, False)
    f0, f1 = nonsilent_range(ref)
    if f1 == 0:
        die(f"{a.ref} is silent")
    body = [c[f0:f1] for c in ref]
    n, m = f1 - f0, len(out[0])
    head = tuple(c[0] for c in body)
    kv = {"find.ref_frames": n, "find.out_frames": m}
    found = None
    for k in positions(out[0], head[0], m - n + 1):
        if all(out[c][k] == head[c] for c in range(rc)) and \
           all(out[c][k:k + n] == body[c] for c in range(rc)):
            found = k
            break
    if found is None:
        report(kv, False)
    # silence around it: nothing mixed in just before or after (a.margin frames)
    before = [out[c][max(0, found - a.margin):found] for c in range(rc)]
    after = [out[c][found + n:found + n + a.margin] for c in range(rc)]
    loud = sum(1 for s in before + after for v in s if v)
    kv.update({"find.offset_frames": found, "find.nonzero_around": loud})
    report(kv, loud == 0)


# ---- sine fits --------------------------------------------------------------------------

def fit(s, freq, rate):
    """Least-squares a*sin + b*cos + dc at @freq over @s: (amplitude, residual rms)."""
    n = len(s)
    w = 2 * math.pi * freq / rate
    sn = [math.sin(w * i) for i in range(n)]
    cs = [math.cos(w * i) for i in range(n)]
    one = [1.0] * n
    basis = [sn, cs, one]
    m = [[sum(map(operator.mul, p, q)) for q in basis] for p in basis]
    v = [sum(map(operator.mul, p, s)) for p in basis]
    # 3x3 Gauss-Jordan
    for i in range(3):
        piv = m[i][i]
        for j in range(3):
            if j != i:
                f = m[j][i] / piv
                m[j] = [x - f * y for x, y in zip(m[j], m[i])]
                v[j] -= f * v[i]
    x = [v[i] / m[i][i] for i in range(3)]
    res = [si - x[0] * a - x[1] * b - x[2] for si, a, b in zip(s, sn, cs)]
    rms = math.sqrt(sum(r * r for r in res) / n)
    return math.hypot(x[0], x[1]), rms


def db(x):
    return 20 * math.log10(x) if x > 0 else -999.0


def last_region(chans, gap):
    """[first, last+1) of the last stretch of sound that follows @gap silent frames (or the
    start): a guest booted again after a failed try plays after its first attempt."""
    f0, f1 = nonsilent_range(chans)
    zero = 0
    for i in range(f1 - 1, f0 - 1, -1):
        if any(c[i] for c in chans):
            if zero >= gap:
                return i + 1 + zero, f1
            zero = 0
        else:
            zero += 1
    return f0, f1


def cmd_sine(a):
    rate, ch, chans = read(a.out)
    freqs = [float(f) for f in a.freqs.split(",")]
    if len(freqs) != ch:
        die(f"{len(freqs)} frequencies for {ch} channels")
    f0, f1 = last_region(chans, rate // 2)
    # The signal's length: from the first to the last sample above -40 dB of the expected
    # amplitude (a converter's filter rings for a few frames below that at both ends).
    thr = int(a.amp * 32768 * 0.01)
    loud = [[1 if abs(v) > thr else 0 for v in c[f0:f1]] for c in chans]
    l0 = min((s.index(1) for s in loud if 1 in s), default=0)
    l1 = max((len(s) - s[::-1].index(1) for s in loud if 1 in s), default=0)
    kv = {"sine.rate": rate, "sine.nonsilent_frames": f1 - f0, "sine.frames": l1 - l0,
          "sine.start_frame": f0 + l0}
    ok = l1 - l0 > rate // 10
    if a.frames is not None:
        ok = ok and abs((l1 - l0) - a.frames) <= a.tol_frames
    # skip the edges: the first and last 10 ms carry the converter's transients
    edge = rate // 100
    lo, hi = f0 + edge, f1 - edge
    for c in range(ch):
        s = [v / 32768.0 for v in chans[c][lo:hi]] if hi > lo else [0.0]
        amp, rms = fit(s, freqs[c], rate)
        snr = db(amp / math.sqrt(2) / rms) if rms > 0 else 999.0
        kv[f"sine.ch{c}.freq_hz"] = freqs[c]
        kv[f"sine.ch{c}.level_db"] = f"{db(amp):.3f}"
        kv[f"sine.ch{c}.expected_db"] = f"{db(a.amp):.3f}"
        kv[f"sine.ch{c}.snr_db"] = f"{snr:.1f}"
        ok = ok and abs(db(amp) - db(a.amp)) <= a.tol_db and snr >= a.min_snr
    report(kv, ok)


def cmd_level(a):
    rate, ch, chans = read(a.out)
    f0, f1 = nonsilent_range(chans)
    kv = {"level.frames": f1 - f0, "level.seconds": f"{(f1 - f0) / rate:.3f}", "level.rate": rate,
          "level.channels": ch}
    for c in range(ch):
        s = chans[c][f0:f1]
        peak = max((abs(v) for v in s), default=0) / 32768.0
        rms = math.sqrt(sum(v * v for v in s) / len(s)) / 32768.0 if len(s) else 0.0
        kv[f"level.ch{c}.peak_dbfs"] = f"{db(peak):.2f}"
        kv[f"level.ch{c}.rms_dbfs"] = f"{db(rms):.2f}"
    report(kv, f1 > f0)


def parse_sig(spec):
    f, amp = spec.split(":")
    return [float(x) for x in f.split(",")], float(amp)


def cmd_blocks(a):
    """Per block of 0.1 s (a whole number of cycles of every test frequency, so the
    correlations are exact projections), the amplitude of signal A and B on each channel.
    A block has a signal when its level is within tol of the expected on every channel;
    a block where it is partly present (a start or end inside it) is 'edge'."""
    rate, ch, chans = read(a.out)
    fa, amp_a = parse_sig(a.a)
    fb, amp_b = parse_sig(a.b)
    blk = rate // 10
    for f in fa + fb:
        if abs(f * blk / rate - round(f * blk / rate)) > 1e-9:
            die(f"{f} Hz is not a whole number of cycles in 0.1 s")
    tables = {}
    for f in set(fa + fb):
        w = 2 * math.pi * f / rate
        tables[f] = ([math.sin(w * i) for i in range(blk)], [math.cos(w * i) for i in range(blk)])

    def amp(s, f):
        sn, cs = tables[f]
        return 2.0 / blk * math.hypot(sum(map(operator.mul, s, sn)), sum(map(operator.mul, s, cs)))

    nblk = len(chans[0]) // blk
    state = []	# per block: (A present, B present, A partial, B partial, worst level error dB, snr)
    for b in range(nblk):
        seg = [[v / 32768.0 for v in chans[c][b * blk:(b + 1) * blk]] for c in range(ch)]
        la = [amp(seg[c], fa[c]) for c in range(ch)]
        lb = [amp(seg[c], fb[c]) for c in range(ch)]
        tol = 10 ** (a.tol_db / 20)
        has_a = all(amp_a / tol <= x <= amp_a * tol for x in la)
        has_b = all(amp_b / tol <= x <= amp_b * tol for x in lb)
        part_a = not has_a and any(x > amp_a * 0.01 for x in la)
        part_b = not has_b and any(x > amp_b * 0.01 for x in lb)
        err = max([abs(db(x) - db(amp_a)) for x in la if has_a] +
                  [abs(db(x) - db(amp_b)) for x in lb if has_b] + [0])
        energy = sum(sum(v * v for v in s) for s in seg) / blk
        tone = sum(x * x / 2 for x in (la if has_a else []) + (lb if has_b else []))
        resid = max(energy - tone, 1e-20)
        snr = db(math.sqrt(tone / resid)) if tone > 0 else None
        state.append((has_a, has_b, part_a, part_b, err, snr))

    def runs(idx):
        """Contiguous runs [start, end) of blocks where state[b][idx] holds."""
        out, start = [], None
        for b, s in enumerate(state + [(False,) * 6]):
            if s[idx] and start is None:
                start = b
            elif not s[idx] and start is not None:
                out.append((start, b))
                start = None
        return out

    ra, rb = runs(0), runs(1)
    # Blocks next to a run's start or end may hold part of a signal that the presence test
    # still counts (a gap of 2 ms in 100 ms moves the level by 0.2 dB): the SNR is judged
    # away from every boundary.
    edge = set()
    for x, y in ra + rb:
        edge.update((x - 1, x, y - 1, y))
    both = sum(1 for s in state if s[0] and s[1])
    only_a = sum(1 for s in state if s[0] and not s[1] and not s[3])
    only_b = sum(1 for s in state if s[1] and not s[0] and not s[2])
    clean = [s for b, s in enumerate(state) if (s[0] or s[1]) and not s[2] and not s[3] and b not in edge]
    kv = {
        "blocks.count": nblk,
        "blocks.a_runs": " ".join(f"{x / 10:.1f}-{y / 10:.1f}s" for x, y in ra) or "none",
        "blocks.b_runs": " ".join(f"{x / 10:.1f}-{y / 10:.1f}s" for x, y in rb) or "none",
        "blocks.a_seconds": sum(y - x for x, y in ra) / 10,
        "blocks.b_seconds": sum(y - x for x, y in rb) / 10,
        "blocks.both_seconds": both / 10,
        "blocks.only_a_seconds": only_a / 10,
        "blocks.only_b_seconds": only_b / 10,
        "blocks.max_level_error_db": f"{max([s[4] for s in clean] + [0]):.3f}",
        "blocks.min_snr_db": f"{min([s[5] for s in clean if s[5] is not None] + [999]):.1f}",
    }
    ok = True
    # A guest that starved (its own aplay reported underruns) leaves gaps the device filled
    # with silence: each may split its run in two.
    if a.a_runs is not None:
        ok = ok and a.a_runs <= len(ra) <= a.a_runs + a.a_gaps
    if a.b_runs is not None:
        ok = ok and a.b_runs <= len(rb) <= a.b_runs + a.b_gaps
    if a.min_both is not None:
        ok = ok and both / 10 >= a.min_both
    for rng, key, gaps in ((a.a_seconds, "blocks.a_seconds", a.a_gaps),
                           (a.b_seconds, "blocks.b_seconds", a.b_gaps)):
        if rng is not None and gaps == 0:
            lo, hi = (float(x) for x in rng.split(","))
            ok = ok and lo <= kv[key] <= hi
    if a.a_gaps == 0 and a.b_gaps == 0:
        ok = ok and float(kv["blocks.min_snr_db"]) >= a.min_snr
    report(kv, ok)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("pattern")
    s.add_argument("out")
    s.add_argument("--seconds", type=float, required=True)
    s.add_argument("--rate", type=int, default=48000)
    s = sub.add_parser("excerpt")
    s.add_argument("ref")
    s.add_argument("out")
    s = sub.add_parser("find")
    s.add_argument("ref")
    s.add_argument("out")
    s.add_argument("--margin", type=int, default=480, help="silent frames required around it")
    s = sub.add_parser("sine")
    s.add_argument("out")
    s.add_argument("--freqs", required=True)
    s.add_argument("--amp", type=float, required=True)
    s.add_argument("--tol-db", type=float, default=0.1)
    s.add_argument("--min-snr", type=float, default=60.0)
    s.add_argument("--frames", type=int)
    s.add_argument("--tol-frames", type=int, default=0)
    s = sub.add_parser("blocks")
    s.add_argument("out")
    s.add_argument("--a", required=True, help="F_LEFT,F_RIGHT:AMPLITUDE")
    s.add_argument("--b", required=True)
    s.add_argument("--tol-db", type=float, default=0.2)
    s.add_argument("--min-snr", type=float, default=60.0)
    s.add_argument("--a-runs", type=int, help="contiguous runs of A required")
    s.add_argument("--b-runs", type=int)
    s.add_argument("--min-both", type=float, help="seconds both must be present")
    s.add_argument("--a-gaps", type=int, default=0, help="underruns guest A reported")
    s.add_argument("--b-gaps", type=int, default=0, help="underruns guest B reported")
    s.add_argument("--a-seconds", help="MIN,MAX seconds of blocks with A fully present")
    s.add_argument("--b-seconds", help="MIN,MAX seconds of blocks with B fully present")
    s = sub.add_parser("level")
    s.add_argument("out")
    a = p.parse_args()
    {"pattern": cmd_pattern, "excerpt": cmd_excerpt, "find": cmd_find, "sine": cmd_sine,
     "blocks": cmd_blocks, "level": cmd_level}[a.cmd](a)


if __name__ == "__main__":
    main()
