#!/usr/bin/env bash
# Installs the Debian packages the suite needs (libfluidsynth + a General-MIDI SoundFont + ffmpeg) when run as root
# and they are missing; otherwise prints the exact command to run. Idempotent: silent when everything is present.
set -euo pipefail
PKGS="libfluidsynth3 fluidsynth fluid-soundfont-gm"
missing=""
ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so\.3' || missing="yes"
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || missing="yes"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: $PKGS"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS >/dev/null
else
  echo "libfluidsynth or the FluidR3 GM SoundFont is missing. Install them with:"
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $PKGS"
  echo "(rendering falls back to pretty_midi's TimGM6mb SoundFont when only the SoundFont is missing)"
fi
