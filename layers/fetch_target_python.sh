#!/bin/sh
# Provides CPython 3.13, the Lambda runtime's version, as DIR/bin/python3.13, for compiling
# the layer's bytecode (`make target-python`). Usage: fetch_target_python.sh DIR
#
# A python3.13 on the PATH that really is 3.13 (a pyenv shim of a version not selected is
# not) is used as it is, no download: DIR/bin/python3.13 runs it. Otherwise it comes from
# Debian 13's packages, which apt fetches from Debian's archive and checks against the
# archive's signing keys (debian-archive-keyring), with apt state of its own under DIR: the
# machine's apt sources and installed packages are left as they are. The packages are
# unpacked, not installed, and DIR/bin/python3.13 runs the interpreter with the glibc it
# was built for, unpacked beside it (Debian 12's is older). Bytecode depends
# only on the Python version, not on the processor: this x86_64 build compiles for arm64.
set -eu
DIR=$(realpath -m "$1")
APT="$DIR/apt"
is_python313() {
	"$1" -c 'import sys; assert sys.version_info[:2] == (3, 13), sys.version'
}
rm -rf "$DIR"
mkdir -p "$DIR/bin"
ON_PATH=$(command -v python3.13 || true)
if [ -n "$ON_PATH" ] && is_python313 "$ON_PATH" 2>/dev/null; then
	# The interpreter itself, not a shim that chooses a version again in each directory
	# (unless it runs only through what is on the PATH, a wrapper setting its environment).
	REAL=$("$ON_PATH" -c 'import sys; print(sys.executable)')
	is_python313 "$REAL" 2>/dev/null || REAL=$ON_PATH
	printf '#!/bin/sh\nexec "%s" "$@"\n' "$REAL" >"$DIR/bin/python3.13"
	chmod +x "$DIR/bin/python3.13"
	exit 0
fi
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/debs" "$DIR/root"
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
is_python313 "$DIR/bin/python3.13"
# The standard library's bytecode, as Debian's install (and Lambda's runtime) has it: the
# benchmark's cold starts would compile it otherwise.
"$DIR/bin/python3.13" -m compileall -q "$DIR/root/usr/lib/python3.13" >/dev/null
