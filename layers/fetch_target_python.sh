#!/bin/sh
# Installs CPython 3.13, the Lambda runtime's version, under DIR, for compiling the layer's
# bytecode on a machine without it (`make target-python`). Usage: fetch_target_python.sh DIR
#
# It comes from Debian 13's packages, which apt fetches from Debian's archive and checks
# against the archive's signing keys (debian-archive-keyring), with apt state of its own
# under DIR: the machine's apt sources and installed packages are left as they are. The
# packages are unpacked, not installed, and DIR/bin/python3.13 runs the interpreter with
# the glibc it was built for, unpacked beside it (Debian 12's is older). Bytecode depends
# only on the Python version, not on the processor: this x86_64 build compiles for arm64.
set -eu
DIR=$(realpath -m "$1")
APT="$DIR/apt"
rm -rf "$DIR"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs" "$DIR/root" "$DIR/bin"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
	>"$APT/sources.list"
touch "$APT/status"
set -- -o Dir::Etc::sourcelist="$APT/sources.list" -o Dir::Etc::sourceparts=- \
	-o Dir::State::Lists="$APT/lists" -o Dir::State::status="$APT/status" \
	-o Dir::Cache="$APT/cache" -o APT::Sandbox::User=root -qq
apt-get "$@" update
# The interpreter, its standard library and the shared libraries they load.
cd "$APT/debs"
apt-get "$@" download python3.13-minimal libpython3.13-minimal libpython3.13-stdlib libc6 \
	libexpat1 zlib1g libffi8 libbz2-1.0 liblzma5 libzstd1 libmpdec4 libssl3t64 libuuid1
for package in *.deb; do
	dpkg-deb -x "$package" "$DIR/root"
done
LIBS="$DIR/root/usr/lib/$(uname -m)-linux-gnu"
LOADER=$(echo "$LIBS"/ld-linux-*.so.*)
cat >"$DIR/bin/python3.13" <<EOF
#!/bin/sh
PYTHONHOME="$DIR/root/usr" exec "$LOADER" --library-path "$LIBS" "$DIR/root/usr/bin/python3.13" "\$@"
EOF
chmod +x "$DIR/bin/python3.13"
cd / && rm -rf "$APT"
"$DIR/bin/python3.13" -c 'import sys; assert sys.version_info[:2] == (3, 13), sys.version'
# The standard library's bytecode, as Debian's install (and Lambda's runtime) has it: the
# benchmark's cold starts would compile it otherwise.
"$DIR/bin/python3.13" -m compileall -q "$DIR/root/usr/lib/python3.13" >/dev/null
