#!/usr/bin/env bash
# make deb: the Debian package, built with Debian's own tools from a copy of
# this tree in build/deb/emotune-VERSION (so this checkout's build/ is left
# as it is), with the model files of node_modules/ copied in beside it: the
# package build itself uses no network (debian/rules runs no npm). Then
# lintian, which must find no error. The .deb lands in build/deb/.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C.UTF-8

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
code_version=$(sed -n 's/^#define ET_VERSION "\(.*\)"$/\1/p' src/core/core.h)
[[ $version == "$code_version" ]] ||
  { echo "make-deb: debian/changelog says $version, src/core/core.h $code_version" >&2; exit 1; }

# what the package takes from node_modules (npm ci put it there)
node_files=(node_modules/@vladmandic/face-api/{LICENSE,package.json}
            node_modules/@vladmandic/face-api/model/{tiny_face_detector,face_expression}_model{-weights_manifest.json,.bin}
            node_modules/@vladmandic/human/{LICENSE,package.json}
            node_modules/@vladmandic/human/models/emotion.{json,bin})
for f in "${node_files[@]}"; do
  [[ -f $f ]] || { echo "make-deb: missing $f: run make deps (npm ci) first" >&2; exit 1; }
done

out=build/deb src=build/deb/emotune-$version
rm -rf "$out" && mkdir -p "$src"
# the files git knows or would (tracked and untracked, not ignored), as they
# are in the working tree (else, outside git,
# everything but the build, node_modules and git's own)
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$src"
else
  tar --exclude=./build --exclude=./node_modules --exclude=./.git -cf - . | tar -xf - -C "$src"
fi
tar -cf - "${node_files[@]}" | tar -xf - -C "$src"

(cd "$src" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b)
changes=$(ls "$out"/emotune_"$version"_*.changes)
echo "make-deb: lintian $changes"
lintian --fail-on error --info "$changes"
ls -l "$out"/*.deb
