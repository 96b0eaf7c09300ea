#!/usr/bin/env bash
# Prints the free space where the tests write (TMPDIR) and where the build goes, and warns
# when it is below what a full `make test` was measured to need: about 2 GB of scratch
# (real-model conversions, removed as tests finish) plus ~1.5 GB of debug build.
set -euo pipefail
need_mb=${CKPT_DISK_NEED_MB:-4096}
for dir in "${TMPDIR:-/tmp}" "$PWD"; do
    free_mb=$(df -Pm "$dir" | awk 'NR==2 {print $4}')
    echo "disk: ${free_mb} MB free under $dir"
    if [ "$free_mb" -lt "$need_mb" ]; then
        echo "warning: under ${need_mb} MB free under $dir; tests that convert real models may fail with 'No space left on device'" >&2
    fi
done
