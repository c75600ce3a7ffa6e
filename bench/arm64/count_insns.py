#!/usr/bin/env python3
"""Reads qemu-user's log of `-d in_asm,exec,nochain` on stdin and prints how many guest
instructions ran: each translated block's size from its IN: listing, times the Trace lines
that executed it (bench/arm64/count.sh)."""
import re
import sys

sizes = {}
block_pc, block_n = None, 0
executed = 0
trace = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")
insn = re.compile(r"^0x([0-9a-f]+):\s")
for line in sys.stdin:
    if line.startswith("Trace"):
        m = trace.match(line)
        if m:
            executed += sizes.get(int(m.group(1), 16), 0)
        continue
    m = insn.match(line)
    if m:
        if block_pc is None:
            block_pc = int(m.group(1), 16)
        block_n += 1
    elif line.startswith("IN:") or not line.strip():
        if block_pc is not None:
            sizes[block_pc] = block_n
        block_pc, block_n = None, 0
if block_pc is not None:
    sizes[block_pc] = block_n
print(executed)
