#!/usr/bin/env bash
# tools/setup-deps.sh - install every Debian package virtdsp needs to build, test and benchmark.
# Idempotent: asks apt only for what is missing. Needs root (or sudo) on Debian 12.
set -euo pipefail

PACKAGES=(
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
  libsndfile1-dev libasound2-dev libasound2-plugins alsa-utils libjson-c-dev
  libcmocka-dev valgrind python3
  libsoxr-dev libsamplerate0-dev libspeexdsp-dev
  sox gnuplot-nox
  libflac-dev libmpg123-dev libogg-dev libvorbis-dev libopus-dev
  flac mpg123 lame vorbis-tools opus-tools
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "virtdsp: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
