# Shared by scripts/test.sh, scripts/demo.sh and .ci/run: install what is missing, build.
# Sourced, not run.

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# ensure_packages FILE: installs the Debian packages listed in FILE (one per line, # comments)
# that are not installed yet. Needs root (or nothing missing).
ensure_packages() {
  local file=$1 missing=() pkg
  while read -r pkg; do
    pkg=${pkg%%#*}; pkg=${pkg//[[:space:]]/}
    [ -n "$pkg" ] || continue
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$pkg")
  done < "$file"
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "virtkit: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "virtkit: not root; install them first: apt-get install ${missing[*]}" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_built: npm dependencies (whose install step builds the addon), then an up-to-date
# build of the addon and the TypeScript.
ensure_built() {
  if [ ! -d node_modules/node-addon-api ] || [ ! -d node_modules/tap ] || [ package.json -nt node_modules/.package-lock.json ]; then
    echo "virtkit: installing npm dependencies"
    npm install --no-audit --no-fund --loglevel=error
  fi
  if [ ! -f build/Makefile ]; then
    npx --no-install node-gyp configure --loglevel=warn
  fi
  npx --no-install node-gyp build --loglevel=warn >/dev/null
  npm run --silent build:ts
}
