"""What a function binary is made of: the size of each part (crate, or C library) from its
symbol table, and the sections a stripped binary still carries (unwind tables, relocations).
Used by `make coldstart` on binaries built with their symbols; the shipped zips are stripped.

    python3 scripts/binary_parts.py BINARY [TOP]
"""
import collections
import re
import subprocess
import sys

# C libraries recognised by their symbol prefixes, and tables they keep as data symbols.
C_PARTS = [
    ("aws-lc (C: TLS, RSA signing)", re.compile(
        r"^(aws_lc_|ecp_nistz256|p(256|384|521)_|curve25519_|edwards25519_|x25519_|bignum_|k_|ChaCha|GFp_|sha(256|512)_block)")),
    ("sqlite (C)", re.compile(r"^sqlite3")),
]
RUST_PATH = re.compile(r"^(?:<|&|\*const |\*mut |dyn |mut )*([A-Za-z_][A-Za-z0-9_]*)::")


def part_of(symbol):
    for name, pattern in C_PARTS:
        if pattern.match(symbol):
            return name
    m = RUST_PATH.match(symbol)
    if m:
        crate = m.group(1)
        if crate in ("core", "alloc", "std"):
            return "Rust std/core/alloc"
        return crate.replace("_", "-")
    return "other (unnamed symbols, C runtime)"


def main():
    binary = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    out = subprocess.run(["nm", "--size-sort", "-S", "--demangle=rust", binary],
                         capture_output=True, text=True, check=True).stdout
    parts = collections.Counter()
    for line in out.splitlines():
        fields = line.split(" ", 3)
        if len(fields) < 4 or fields[2].lower() not in ("t", "r", "d", "w", "v"):
            continue
        parts[part_of(fields[3])] += int(fields[1], 16)
    sections = {}
    for line in subprocess.run(["size", "-A", binary], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in (".text", ".rodata", ".eh_frame", ".rela.dyn", ".data.rel.ro"):
            sections[f[0]] = int(f[1])
    print(f"  parts (code and read-only data by symbol): {sum(parts.values()) / 2**20:.2f} MiB")
    shown = parts.most_common(top)
    for name, size in shown:
        print(f"    {size / 1024:8.0f} KiB  {name}")
    rest = sum(parts.values()) - sum(s for _, s in shown)
    print(f"    {rest / 1024:8.0f} KiB  everything else")
    print("  sections: " + ", ".join(f"{k} {v / 2**20:.2f} MiB" for k, v in sections.items()))


if __name__ == "__main__":
    main()
