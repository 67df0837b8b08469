#!/bin/bash
# kios up before (2c40c65, /tmp/old-kios with /tmp/oldparts) and after (out/kios): one RAM-only node, the stock EFI given.
cd /work/main
for who in old new; do
  if [ $who = old ]; then K=/tmp/old-kios; P=/tmp/oldparts; else K=out/kios; P=out/parts; fi
  D=/tmp/up-$who; rm -rf $D
  s=$(date +%s.%N)
  $K up --dir $D --nodes 1 --ram-only --efi out/kios-amd64.efi --parts $P > /tmp/up-$who.log 2>&1
  rc=$?
  e=$(date +%s.%N)
  echo "$who rc=$rc up_seconds=$(echo "$e - $s" | bc)" | tee -a /tmp/upmeasure.txt
  tail -3 /tmp/up-$who.log
  $K down --dir $D >/dev/null 2>&1
done
