#!/usr/bin/env python3
"""Benchmark fixtures: a valid safetensors file of a given size, and a static hub site for nginx.

  fixtures.py model  FILE SIZE_BYTES      -> writes FILE (if missing or of another size) and FILE.sha256;
                                             prints the sha256 (cached: computed once per file)
  fixtures.py site   SITE_DIR REPO FILE   -> lays out SITE_DIR so that nginx serves, for repo owner/name:
        /api/models/{repo}/revision/main            {"sha": "<commit>"}
        /api/models/{repo}/tree/{commit}            [{"type":"file","path":"model.safetensors",...}]
        /{repo}/resolve/{commit}/model.safetensors  -> FILE (a symlink)
                                             prints the commit id

The data is real (a 1 MiB pseudo-random block repeated), not a sparse file: a cold read has to reach
the disk, and nothing compresses it. Tensors are F16 [rows, 4096] of at most 64 MiB each; the header
is padded with spaces to a multiple of 8 bytes, as the reference writer does.
"""
import hashlib
import json
import os
import random
import sys

BLOCK = 1 << 20
ROW_BYTES = 4096 * 2          # one F16 row of 4096 columns
TENSOR_BYTES = 64 << 20


def header_for(size):
    """A header whose tensors tile exactly SIZE - 8 - len(header) bytes of data."""
    # The header length depends on the tensor count, which depends on the header length: iterate.
    header_len = 0
    for _ in range(10):
        data = size - 8 - header_len
        if data <= 0:
            raise SystemExit(f"size {size} is too small for a safetensors file")
        entries = {"__metadata__": {"format": "pt", "generator": "hoist-bench"}}
        offset, i = 0, 0
        while offset < data:
            n = min(TENSOR_BYTES, data - offset)
            if n >= ROW_BYTES:
                n -= n % ROW_BYTES
                shape, dtype = [n // ROW_BYTES, 4096], "F16"
            else:
                shape, dtype = [n], "U8"  # a tail smaller than a row
            entries[f"model.layers.{i}.mlp.weight"] = {"dtype": dtype, "shape": shape,
                                                      "data_offsets": [offset, offset + n]}
            offset += n
            i += 1
        text = json.dumps(entries, separators=(",", ":")).encode()
        padded = text + b" " * (-len(text) % 8)
        if len(padded) == header_len:
            return padded
        header_len = len(padded)
    raise SystemExit("header length did not settle")


def make_model(path, size):
    sha_file = path + ".sha256"
    if os.path.exists(path) and os.path.getsize(path) == size and os.path.exists(sha_file):
        with open(sha_file) as f:
            return f.read().strip()
    header = header_for(size)
    rng = random.Random(42)
    block = rng.randbytes(BLOCK)
    h = hashlib.sha256()
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        head = len(header).to_bytes(8, "little") + header
        out.write(head)
        h.update(head)
        left = size - len(head)
        while left > 0:
            chunk = block if left >= BLOCK else block[:left]
            out.write(chunk)
            h.update(chunk)
            left -= len(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    digest = h.hexdigest()
    with open(sha_file, "w") as f:
        f.write(digest + "\n")
    return digest


def make_site(site, repo, model):
    size = os.path.getsize(model)
    with open(model + ".sha256") as f:
        sha256 = f.read().strip()
    commit = hashlib.sha1(f"{repo}:{sha256}".encode()).hexdigest()
    # The git oid of an LFS file is the sha1 of its pointer file; any 40-hex value works for Hoist.
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    oid = hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()
    api = os.path.join(site, "api", "models", repo)
    os.makedirs(os.path.join(api, "revision"), exist_ok=True)
    os.makedirs(os.path.join(api, "tree"), exist_ok=True)
    with open(os.path.join(api, "revision", "main"), "w") as f:
        json.dump({"id": repo, "sha": commit}, f)
    with open(os.path.join(api, "tree", commit), "w") as f:
        json.dump([{"type": "file", "path": "model.safetensors", "size": size, "oid": oid,
                    "lfs": {"oid": sha256, "size": size, "pointerSize": len(pointer)}}], f)
    resolve = os.path.join(site, repo, "resolve", commit)
    os.makedirs(resolve, exist_ok=True)
    link = os.path.join(resolve, "model.safetensors")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.abspath(model), link)
    return commit


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "model":
        print(make_model(sys.argv[2], int(sys.argv[3])))
    elif len(sys.argv) == 5 and sys.argv[1] == "site":
        print(make_site(sys.argv[2], sys.argv[3], sys.argv[4]))
    else:
        sys.exit(__doc__)
