#!/bin/bash
# A/B of kiOS's Go runtime defaults (README.md beside this file): the
# default EFI (/etc/kios/env: GOGC=50 for containerd, the shims and the
# kubelet) against the same image built with those files empty (the Go
# runtime's own GOGC=100). Standalone, RAM-only, 2 GiB VMs, one at a
# time, alternating; each boot's console is kept, and PID 1's second
# event=meminfo line (60 s after its boot steps end) is printed.
# Usage, from the repository after `make build`: bench/results/gogc/run.sh OUTDIR [ROUNDS]
set -e
out=$1; rounds=${2:-2}; mkdir -p "$out"
stock=$(mktemp -d); trap 'rm -rf "$stock"' EXIT
mkdir -p "$stock/config/kios/env"
: > "$stock/config/kios/env/containerd"; : > "$stock/config/kios/env/kubelet"
out/kios build --config "$stock/config" -o "$stock/stock.efi" > /dev/null
for i in $(seq 1 "$rounds"); do
  for v in tuned stock; do
    efi=out/kios-amd64.efi; [ $v = stock ] && efi=$stock/stock.efi
    rm -f "$out/$v-$i.console"
    out/kios vm --efi "$efi" --memory 2048 --serial "$out/$v-$i.console" > /dev/null 2>&1 &
    pid=$!
    for s in $(seq 1 240); do
      n=$(grep -c "event=meminfo " "$out/$v-$i.console" 2>/dev/null || true)
      [ "${n:-0}" -ge 2 ] && break
      sleep 1
    done
    kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
    echo "$v $i: $(grep 'event=meminfo ' "$out/$v-$i.console" | tail -1 | sed 's/.*event=meminfo //')"
  done
done
