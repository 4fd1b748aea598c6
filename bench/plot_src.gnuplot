# bench/plot_src.gnuplot - one PNG per virtdsp preset and direction: response and 1 kHz spectrum beside libsoxr.
#
# bench_src --plot DIR runs it as: gnuplot -e "<variables>" plot_src.gnuplot
# Variables: out (PNG path), dirname ("44.1→48"), nyq_in, nyq_out (Hz),
# pb_lo, pb_hi (pass-band detail scale, dB), and for the two converters
# a_* (virtdsp) and b_* (libsoxr): *_label, *_resp, *_spec (data files
# written by bench_src; an empty name leaves that converter out).
# Re-plot by hand from the .dat files with the same command.

nyq_low = nyq_in < nyq_out ? nyq_in : nyq_out
have_a = strlen(a_resp) > 0
have_b = strlen(b_resp) > 0

set terminal pngcairo size 1600,1050 font "DejaVu Sans,11" noenhanced
set output out
set multiplot layout 2,2 title sprintf("Sample-rate conversion %s kHz: %s vs %s (stereo float32, 480-frame chunks, -1 dBFS tones)", \
	dirname, have_a ? a_label : "(virtdsp not run)", have_b ? b_label : "(none)") font ",13"

set grid
set key bottom left opaque box
set style line 1 lc rgb "#1f4e9c" lw 2
set style line 2 lc rgb "#2ca02c" lw 1.5
set style line 3 lc rgb "#c0392b" lw 2 dt 2
set style line 4 lc rgb "#e67e22" lw 1.5 dt 2
set style line 9 lc rgb "#444444" lw 1 dt 3

# --- stepped-tone magnitude response over the whole input band ---
set title "Response to single tones, 0 .. input Nyquist (above output Nyquist: alias level)"
set xlabel "input tone frequency (kHz)"
set ylabel "dB re input tone"
set xrange [0:nyq_in/1000]
set yrange [-200:10]
set ytics 20
if (nyq_out < nyq_in) {
	set arrow 1 from nyq_out/1000, graph 0 to nyq_out/1000, graph 1 nohead ls 9
	set label 1 "output Nyquist" at nyq_out/1000, graph 0.5 rotate by 90 center offset -1,0
}
cmd = ""
if (have_a) cmd = cmd . sprintf("'%s' u ($1/1000):2 w l ls 1 t '%s tone gain', '%s' u ($1/1000):3 w l ls 2 t '%s image/alias+noise', ", a_resp, a_label, a_resp, a_label)
if (have_b) cmd = cmd . sprintf("'%s' u ($1/1000):2 w l ls 3 t '%s tone gain', '%s' u ($1/1000):3 w l ls 4 t '%s image/alias+noise', ", b_resp, b_label, b_resp, b_label)
if (strlen(cmd) > 0) { eval("plot " . cmd . " NaN notitle") } else { plot NaN notitle }
unset arrow 1
unset label 1

# --- pass-band detail ---
set title "Pass-band detail (ripple is measured 20 Hz .. 0.9 of the lower Nyquist)"
set xrange [0:nyq_low/1000]
set yrange [pb_lo:pb_hi]
set ytics autofreq
set arrow 2 from 0.9*nyq_low/1000, graph 0 to 0.9*nyq_low/1000, graph 1 nohead ls 9
set label 2 "0.9 Nyquist" at 0.9*nyq_low/1000, graph 0.75 rotate by 90 center offset -1,0
cmd = ""
if (have_a) cmd = cmd . sprintf("'%s' u ($1/1000):2 w lp ls 1 pt 7 ps 0.5 t '%s', ", a_resp, a_label)
if (have_b) cmd = cmd . sprintf("'%s' u ($1/1000):2 w lp ls 3 pt 6 ps 0.5 t '%s', ", b_resp, b_label)
if (strlen(cmd) > 0) { eval("plot " . cmd . " NaN notitle") } else { plot NaN notitle }
unset arrow 2
unset label 2

# --- spectra of a converted 1 kHz tone, side by side ---
set xlabel "output frequency (kHz)"
set ylabel "dBFS (peak of 16 bins)"
set xrange [0:nyq_out/1000]
set yrange [-240:10]
set ytics 20
set key top right
set title sprintf("Spectrum of a converted 1 kHz tone: %s", have_a ? a_label : "virtdsp")
if (have_a) { plot a_spec u ($1/1000):2 w l ls 1 t a_label } else {
	set label 3 "not run" at graph 0.5, graph 0.5 center
	unset key
	plot NaN notitle
	unset label 3
	set key top right
}
set title sprintf("Spectrum of a converted 1 kHz tone: %s", have_b ? b_label : "libsoxr")
if (have_b) { plot b_spec u ($1/1000):2 w l lc rgb "#c0392b" lw 1.5 t b_label } else {
	set label 3 "not run" at graph 0.5, graph 0.5 center
	unset key
	plot NaN notitle
	unset label 3
}

unset multiplot
