#!/usr/bin/env bash
# Fetch the browser builds of GraphiQL, React and ReactDOM at the versions
# pinned in web/package-lock.json and check each tarball against the
# lockfile's integrity hash. Then copy the files the pages load into
# web/vendor/ and write their SHA-256 sums to web/vendor/SHA256SUMS, against
# which the Go tests check the embedded copies, offline.
#
#   web/update-assets.sh           refresh web/vendor/ from the npm registry
#   web/update-assets.sh --check   change nothing; fail when web/vendor/ differs
#
# To move to a new version: edit web/package.json, run
# `npm install --package-lock-only --ignore-scripts` in web/, then this script.
# Needs node and npm; `go build` does not, because web/vendor/ is committed.
set -euo pipefail
cd "$(dirname "$0")"

mode=update
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# Each line: npm package, path inside its tarball, file name in web/vendor/.
files=(
  "graphiql package/graphiql.min.js graphiql.min.js"
  "graphiql package/graphiql.min.css graphiql.min.css"
  "graphiql package/LICENSE graphiql.LICENSE"
  "react package/umd/react.production.min.js react.production.min.js"
  "react package/LICENSE react.LICENSE"
  "react-dom package/umd/react-dom.production.min.js react-dom.production.min.js"
  "react-dom package/LICENSE react-dom.LICENSE"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# lockfile_field PACKAGE FIELD prints version or integrity from the lockfile.
lockfile_field() {
  node -e '
    const lock = require("./package-lock.json");
    const entry = lock.packages["node_modules/" + process.argv[1]];
    if (!entry) { console.error("web/package-lock.json has no entry for " + process.argv[1]); process.exit(1); }
    console.log(entry[process.argv[2]]);
  ' "$1" "$2"
}

# sri_sha512 FILE prints the file's hash in the lockfile's format.
sri_sha512() {
  node -e '
    const data = require("fs").readFileSync(process.argv[1]);
    console.log("sha512-" + require("crypto").createHash("sha512").update(data).digest("base64"));
  ' "$1"
}

for pkg in graphiql react react-dom; do
  version=$(lockfile_field "$pkg" version)
  want=$(lockfile_field "$pkg" integrity)
  tarball=$(cd "$work" && npm pack --silent "$pkg@$version" | tail -n1)
  got=$(sri_sha512 "$work/$tarball")
  if [ "$got" != "$want" ]; then
    echo "update-assets: $pkg@$version tarball has integrity $got, but web/package-lock.json pins $want" >&2
    exit 1
  fi
  mkdir -p "$work/$pkg"
  tar -xzf "$work/$tarball" -C "$work/$pkg"
  echo "update-assets: $pkg@$version matches its lockfile integrity"
done

mkdir -p "$work/vendor"
for line in "${files[@]}"; do
  read -r pkg inside name <<<"$line"
  cp "$work/$pkg/$inside" "$work/vendor/$name"
done
(cd "$work/vendor" && sha256sum -- * >SHA256SUMS)

if [ "$mode" = check ]; then
  if ! diff -r "$work/vendor" vendor >/dev/null; then
    echo "update-assets: web/vendor/ differs from the pinned npm tarballs; run web/update-assets.sh and commit the result" >&2
    diff -rq "$work/vendor" vendor >&2 || true
    exit 1
  fi
  echo "update-assets: web/vendor/ matches the pinned npm tarballs"
  exit 0
fi

rm -rf vendor
cp -r "$work/vendor" vendor
echo "update-assets: web/vendor/ refreshed:"
cat vendor/SHA256SUMS
