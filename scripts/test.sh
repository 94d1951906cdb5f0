#!/bin/bash
# Build memori-bridge twice and run its tests through ctest:
#   build/       normal build (RelWithDebInfo): every test, the 30 s fuzz run included
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer: the unit tests and
#                the reduced integration set (ctest label "asan")
# Run as root or as a normal user; the test clusters run as a non-root user either
# way. Needs what scripts/install-deps.sh installs.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc)
started=$(date +%s)

step() { printf '\n==> %s (%ds)\n' "$*" "$(($(date +%s) - started))"; }

step "normal build"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$root/build" -j "$jobs"

step "all tests (normal build)"
(cd "$root/build" && ctest --output-on-failure -j 2)

step "sanitized build (ASan + UBSan)"
cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DMB_SANITIZE=ON
cmake --build "$root/build-asan" -j "$jobs"

step "unit and reduced integration tests (sanitized build)"
(cd "$root/build-asan" && ctest --output-on-failure -j 2 -L 'unit|asan')

step "all passed"
