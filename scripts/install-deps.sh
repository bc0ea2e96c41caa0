#!/usr/bin/env bash
# Installs the Debian 12 packages astrofm builds, tests and benchmarks with.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev libomp-14-dev
  libhdf5-dev hdf5-plugin-lzf liblzf1 hdf5-tools
  libhealpix-cxx-dev libcfitsio-dev libjpeg-dev libpng-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-numpy python3-h5py python3-astropy python3-healpy python3-matplotlib python3-pil
  libtorch-dev libopenblas-dev python3-torch python3-sklearn
  libopenmpi-dev openmpi-bin
  libfaiss-dev libhnswlib-dev python3-faiss python3-hnswlib
  pybind11-dev python3-dev python3-pytest python3-venv
  libcpp-httplib-dev python3-pyvo python3-requests python3-yaml stilts wrk python3-flask
  chromium fonts-liberation
)
# Node.js and npm for the browser test: Debian's, unless the machine has its
# own (e.g. NodeSource's nodejs, which bundles npm and conflicts with Debian's npm).
command -v npm >/dev/null || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "astrofm: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
