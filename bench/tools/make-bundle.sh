#!/usr/bin/env bash
# make-bundle.sh BUILD_DIR OUTPUT.tar.gz
#
# Packs the benchmark suite built in BUILD_DIR (the bench preset, or any
# build with the benchmarks) into a relocatable tarball that runs on any
# x86-64 Linux without Debian's packages, root or network: extract it
# anywhere and call `./run` (arguments go to `volley-bench run`).
#
# How it stays independent of the host:
# - Every ELF (the runner, volley-savina, caf-savina, the micro and remote
#   benchmarks, Erlang's emulator programs) is stripped into real/ (Erlang's
#   stay in place as NAME.real), and what stands under its name is a shell
#   wrapper that starts it through the bundle's own loader with the bundle's
#   libraries: `ld-linux-x86-64.so.2 --library-path lib/ real/NAME`. lib/
#   holds every library ldd lists, glibc's loader and libc included, so the
#   host's glibc (older or newer) is never used.
# - Wrappers find the bundle from their own path (readlink -f "$0"), never
#   from /proc/self/exe: under a wrapper that is the loader. For the same
#   reason Erlang's `erl` (dyn_erl finds its root through /proc/self/exe) is
#   replaced by a script that sets ROOTDIR, BINDIR, EMU and PROGNAME itself
#   and execs erlexec.
# - The generated erlang-savina script has absolute paths to erl and to the
#   compiled workloads; the bundle's copy computes both from its own place.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR OUTPUT.tar.gz" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
output=$2
case $output in /*) ;; *) output=$PWD/$output ;; esac
name=$(basename "$output" .tar.gz)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/$name
mkdir -p "$root/bin" "$root/real" "$root/lib"

loader=/lib64/ld-linux-x86-64.so.2

# Copies every library `ldd` lists for ELF $1 into lib/ (resolving links).
copy_libraries() {
  ldd "$1" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | while read -r lib; do
    [ -e "$root/lib/$(basename "$lib")" ] || cp -L "$lib" "$root/lib/"
  done
}

# write_wrapper PATH TO_ROOT TARGET: a script at PATH that runs the ELF at
# bundle-relative TARGET through the bundle's loader; TO_ROOT is the path
# from PATH's folder up to the bundle's root.
write_wrapper() {
  cat >"$1" <<WRAPPER
#!/bin/sh
B=\$(cd "\$(dirname "\$(readlink -f "\$0")")/$2" && pwd)
exec "\$B/lib/ld-linux-x86-64.so.2" --library-path "\$B/lib" "\$B/$3" "\$@"
WRAPPER
  chmod 755 "$1"
}

# add_program ELF DIR: real/NAME (stripped) and DIR/NAME, its wrapper (DIR is
# a folder right below the bundle's root: bin or micro).
add_program() {
  local elf=$1 dir=$2 name
  name=$(basename "$elf")
  mkdir -p "$root/$dir"
  strip -o "$root/real/$name" "$elf"
  copy_libraries "$elf"
  write_wrapper "$root/$dir/$name" .. "real/$name"
}

# -- the runner and the workload binaries --
for program in bench/runner/volley-bench bench/volley-savina bench/peers/caf/caf-savina \
  bench/remote/remote_bench bench/remote/caf_remote_bench; do
  if [ -x "$build/$program" ]; then
    add_program "$build/$program" bin
  elif [ "$program" = bench/runner/volley-bench ] || [ "$program" = bench/volley-savina ]; then
    echo "make-bundle: $build/$program is not built" >&2
    exit 1
  fi
done
# The micro benchmarks, in a folder of their own: the runner runs every
# executable in --micro-dir.
for elf in "$build"/bench/micro/volley-micro-*; do
  [ -x "$elf" ] && [ -f "$elf" ] && add_program "$elf" micro
done

# glibc itself, whether or not ldd listed each part.
libc_dir=$(dirname "$(ldd "$build/bench/volley-savina" | awk '/libc\.so/ { print $3 }')")
cp -L "$loader" "$root/lib/"
for lib in libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1; do
  [ -e "$libc_dir/$lib" ] && cp -L "$libc_dir/$lib" "$root/lib/"
done

# -- Erlang/OTP and the Erlang workloads --
erlang_script=$build/bench/peers/erlang/erlang-savina
if [ -f "$erlang_script" ] && [ -d "$build/bench/peers/erlang/ebin" ]; then
  erl=$(sed -n "s/^erl='\(.*\)'$/\1/p" "$erlang_script")
  erlang_root=$(cd "$(dirname "$(readlink -f "$erl")")/.." && pwd)
  # Debian's erl is a script in /usr/lib/erlang/bin behind /usr/bin/erl.
  [ -d "$erlang_root/releases" ] || erlang_root=/usr/lib/erlang
  cp -a "$erlang_root" "$root/erlang"
  erts_dirs=("$root"/erlang/erts-*)
  erts=$(basename "${erts_dirs[0]}")
  for program in beam.smp erlexec erl_child_setup inet_gethost epmd heart; do
    elf=$root/erlang/$erts/bin/$program
    [ -f "$elf" ] || continue
    copy_libraries "$elf"
    strip "$elf" 2>/dev/null || true
    mv "$elf" "$elf.real"
    write_wrapper "$elf" ../../.. "erlang/$erts/bin/$program.real"
  done
  rm -f "$root/erlang/bin/erl" "$root/erlang/$erts/bin/erl" "$root/erlang/$erts/bin/dyn_erl"
  cat >"$root/erlang/bin/erl" <<ERL
#!/bin/sh
# erl for a relocated Erlang/OTP (make-bundle.sh): the root is where this
# script is, not where /proc/self/exe says.
ROOTDIR=\$(cd "\$(dirname "\$(readlink -f "\$0")")/.." && pwd)
BINDIR=\$ROOTDIR/$erts/bin
EMU=beam
PROGNAME=erl
export ROOTDIR BINDIR EMU PROGNAME
exec "\$BINDIR/erlexec" "\$@"
ERL
  chmod 755 "$root/erlang/bin/erl"
  cp -r "$build/bench/peers/erlang/ebin" "$root/erlang-ebin"
  # The generated script with erl= and ebin= relative to its own place.
  awk '
    /^erl=/ { print "here=$(cd \"$(dirname \"$(readlink -f \"$0\")\")\" && pwd)"
              print "erl=$here/../erlang/bin/erl"; next }
    /^ebin=/ { print "ebin=$here/../erlang-ebin"; next }
    { print }' "$erlang_script" >"$root/bin/erlang-savina"
  chmod 755 "$root/bin/erlang-savina"
else
  echo "make-bundle: no Erlang workloads in $build: the bundle runs volley and CAF only" >&2
fi

# -- the entry point --
cat >"$root/run" <<'RUN'
#!/bin/sh
# Runs the volley benchmark suite from this bundle: `./run [volley-bench run
# options]`, e.g. `./run --only ping-pong --repetitions 1` or `./run
# --time-budget 840`. Results go to results/ beside this script unless
# --results-dir is given. The file is rewritten after every run, so a run cut
# short keeps what finished ("complete": false).
set -eu
B=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
results="--results-dir=$B/results"
for arg in "$@"; do
  case $arg in --results-dir | --results-dir=*) results= ;; esac
done
exec "$B/bin/volley-bench" run \
  --volley-binary "$B/bin/volley-savina" \
  --caf-binary "$B/bin/caf-savina" \
  --erlang-binary "$B/bin/erlang-savina" \
  --micro-dir "$B/micro" \
  --remote-bench "$B/bin/remote_bench" \
  --caf-remote-bench "$B/bin/caf_remote_bench" \
  ${results:+"$results"} "$@"
RUN
chmod 755 "$root/run"

mkdir -p "$(dirname "$output")"
tar -C "$stage" -czf "$output" "$name"
echo "make-bundle: wrote $output ($(du -sh "$root" | cut -f1) unpacked)" >&2
