# Shared by scripts/test-asan.sh and scripts/test-valgrind.sh. Sourced, not run.

# build_instrumented DIR CFLAGS LDFLAGS: builds the addon with extra flags (and the compiler in
# $CC/$CXX, if set) into DIR
# (DIR/src/build/Release/virtkit.node), never into build/: DIR/src holds symbolic links to
# binding.gyp, native/ and scripts/, and node-gyp builds there. Prints the addon's path.
build_instrumented() {
  local dir=$1 flags=$2 ldflags=$3 root
  root=$(pwd)
  mkdir -p "$dir/src"
  ln -sfn "$root/binding.gyp" "$dir/src/binding.gyp"
  ln -sfn "$root/native" "$dir/src/native"
  ln -sfn "$root/scripts" "$dir/src/scripts"
  # Flags or compiler differ from the last build: start over (make would keep the old objects).
  if [ "$(cat "$dir/flags" 2>/dev/null)" != "$flags|$ldflags|${CXX:-}" ]; then
    rm -rf "$dir/src/build"
    printf '%s' "$flags|$ldflags|${CXX:-}" > "$dir/flags"
  fi
  (
    cd "$dir/src"
    export CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS="$ldflags"
    # npx, as ensure_built does: npm's configuration (nodedir, proxies) reaches node-gyp.
    [ -f build/Makefile ] || npx --no-install node-gyp configure --loglevel=warn >&2
    npx --no-install node-gyp build --loglevel=warn >/dev/null
  )
  echo "$root/$dir/src/build/Release/virtkit.node"
}
