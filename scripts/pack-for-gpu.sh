#!/usr/bin/env bash
# Packs a workbench that runs on the lent GPU machine, which has no Swift toolchain and takes at
# most 64 MiB of carried files: the Swift runtime linked statically, the binary stripped, the
# shared libraries it needs beyond glibc/libstdc++ copied to lib/ with an RPATH of $ORIGIN/lib (set
# on the binary, so the stage processes it starts never see them), all xz-compressed.
#   usage: scripts/pack-for-gpu.sh        -> .build-gpu/workbench-bundle.tar.xz (about 20 MB)
#   then:  scripts/gpu-smoke.sh .build-gpu/workbench-bundle.tar.xz   (on the GPU machine)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v patchelf >/dev/null || { apt-get update -qq && apt-get install -y -qq --no-install-recommends patchelf >/dev/null; }
swift build -c release --static-swift-stdlib --product workbench --scratch-path .build-static 2>&1 | tail -n 1
rm -rf .build-gpu/bundle && mkdir -p .build-gpu/bundle/lib
bin=.build-gpu/bundle/workbench
cp .build-static/release/workbench "$bin" && strip "$bin"
# glibc and the C++ runtime must come from the machine itself; everything else travels.
ldd "$bin" | awk '$3 ~ /^\// { print $1, $3 }' \
  | grep -Ev '^(libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s|ld-linux[^ ]*)\.so' \
  | while read -r name path; do cp -L "$path" ".build-gpu/bundle/lib/$name"; done
patchelf --force-rpath --set-rpath '$ORIGIN/lib' "$bin"   # DT_RPATH: also used for the libs' own deps
for lib in .build-gpu/bundle/lib/*; do patchelf --force-rpath --set-rpath '$ORIGIN' "$lib"; done
tar -C .build-gpu/bundle -cJf .build-gpu/workbench-bundle.tar.xz .
echo "pack-for-gpu: .build-gpu/workbench-bundle.tar.xz ($(du -h .build-gpu/workbench-bundle.tar.xz | cut -f1)); libraries: $(ls .build-gpu/bundle/lib | tr '\n' ' ')"
