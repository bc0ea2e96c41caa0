#!/usr/bin/env bash
# Installs the build into a temporary prefix and runs the installed astrofm
# from another directory: it must find its models and simulator data under
# <prefix>/share/astrofm, not in the source tree.
set -euo pipefail
BUILD=$1
SRC=${2:-$(cd "$(dirname "$0")/.." && pwd)}
P=$(mktemp -d)
trap 'rm -rf "$P"' EXIT
cmake --install "$BUILD" --prefix "$P/usr" >/dev/null
cd "$P"
test -x usr/bin/astrofm
test -f usr/include/astrofm/encoder.h
ls usr/lib/libastrofm_core.a >/dev/null
if ls "$BUILD"/astrofm/_core*.so >/dev/null 2>&1; then  # built with the Python module
ls usr/lib/python3/dist-packages/astrofm/_core*.so >/dev/null
(cd / && OMP_WAIT_POLICY=PASSIVE PYTHONPATH="$P"/usr/lib/python3/dist-packages /usr/bin/python3 -c "import astrofm; e = astrofm.Encoder(\"galaxy-cnn-ssl\"); assert e.path.startswith(\"$P/\"), e.path; print(e)")
fi
paths=$(usr/bin/astrofm models --paths)
echo "$paths"
echo "$paths" | grep -q "^models: $P/usr/share/astrofm/models" || { echo "models not found under the prefix first"; exit 1; }
echo "$paths" | grep -q "^data: $P/usr/share/astrofm/data" || { echo "simulator data not under the prefix"; exit 1; }
usr/bin/astrofm models | grep -q galaxy-cnn-ssl
usr/bin/astrofm -q simulate --objects 4 --seed 3 --out "$P/sim" --no-spectra
usr/bin/astrofm validate "$P/sim" >/dev/null
# docs/library.md's C++ example, built against the prefix with find_package(astrofm).
if [ -f usr/lib/libastrofm_embed.a ]; then
  test -f usr/lib/cmake/astrofm/astrofmConfig.cmake
  mkdir ex
  awk '/^```cpp$/{f=1;next} /^```$/{f=0} f' "$SRC/docs/library.md" > ex/embed_images.cc
  awk '/^```cmake$/{f=1;next} /^```$/{f=0} f' "$SRC/docs/library.md" > ex/CMakeLists.txt
  grep -q "int main" ex/embed_images.cc && grep -q "find_package(astrofm" ex/CMakeLists.txt
  cmake -S ex -B ex/build -DCMAKE_PREFIX_PATH="$P/usr" -DCMAKE_BUILD_TYPE=Release >ex/configure.log 2>&1 || { cat ex/configure.log; exit 1; }
  cmake --build ex/build -j 2 >ex/build.log 2>&1 || { tail -40 ex/build.log; exit 1; }
  out=$(cd / && OMP_WAIT_POLICY=PASSIVE "$P/ex/build/embed_images" "$P/sim")
  echo "$out"
  echo "$out" | grep -Eq "^4 objects, 256 dimensions" || { echo "unexpected output from the library example"; exit 1; }
  # Bad input is an astrofm::Error caught by the example: exit 1, not a crash.
  rc=0; "$P/ex/build/embed_images" "$P/missing" 2>/dev/null || rc=$?
  [ "$rc" = 1 ] || { echo "example exit $rc on a missing dataset"; exit 1; }
fi
echo "install ok"
