# SPDX-License-Identifier: LGPL-2.1-or-later
"""fiemap_shared.py FILE...: for each file, "SIZE SHARED UNSHARED" in bytes, from the
filesystem's extent map (FS_IOC_FIEMAP): SHARED is the length of the extents flagged
FIEMAP_EXTENT_SHARED (blocks the file shares with another file: a reflink copy on XFS or
btrfs), UNSHARED the length of the others (the blocks the file alone holds). The file is
synced first (FIEMAP_FLAG_SYNC) so that delayed allocations are counted. A filesystem
without an extent map (tmpfs) shares nothing."""
import errno
import fcntl
import os
import struct
import sys

FS_IOC_FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC = 0x1
FIEMAP_EXTENT_LAST = 0x1
FIEMAP_EXTENT_SHARED = 0x2000
HEADER = "=QQLLLL"          # fm_start, fm_length, fm_flags, fm_mapped_extents,
                            # fm_extent_count, fm_reserved
EXTENT = "=QQQQQLLLL"       # fe_logical, fe_physical, fe_length, 2 reserved, fe_flags,
                            # 3 reserved
COUNT = 256


def extents(path):
    with open(path, "rb") as f:
        start, flags = 0, FIEMAP_FLAG_SYNC
        while True:
            req = struct.pack(HEADER, start, 0xFFFFFFFFFFFFFFFF - start, flags, 0, COUNT, 0)
            buf = bytearray(req + b"\0" * (struct.calcsize(EXTENT) * COUNT))
            try:
                fcntl.ioctl(f.fileno(), FS_IOC_FIEMAP, buf)
            except OSError as e:
                if e.errno != errno.EOPNOTSUPP:
                    raise
                # no extent map (tmpfs): nothing is shared
                yield 0, os.fstat(f.fileno()).st_size, 0
                return
            flags = 0
            mapped = struct.unpack_from(HEADER, buf)[3]
            if not mapped:
                return
            off = struct.calcsize(HEADER)
            for _ in range(mapped):
                e = struct.unpack_from(EXTENT, buf, off)
                off += struct.calcsize(EXTENT)
                yield e[0], e[2], e[5]
                start = e[0] + e[2]
                if e[5] & FIEMAP_EXTENT_LAST:
                    return


def main():
    for path in sys.argv[1:]:
        shared = unshared = 0
        for _logical, length, flags in extents(path):
            if flags & FIEMAP_EXTENT_SHARED:
                shared += length
            else:
                unshared += length
        print(os.path.getsize(path), shared, unshared)


if __name__ == "__main__":
    main()
