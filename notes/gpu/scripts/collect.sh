# collect step results into $OUT (small files only)
cp /root/w.log "$OUT/step1.log" 2>/dev/null
cp /root/w/summary.json "$OUT/summary1.json" 2>/dev/null
cp /root/w/summary5.json "$OUT/summary5.json" 2>/dev/null
cp /root/w5.log "$OUT/step5.log" 2>/dev/null
if [ -d /root/w ]; then (cd /root/w && find . \( -name '*.json' -o -name '*.log' -o -name '*.jinja' \) -size -3M -not -name 'samples_*' -not -name 'tokenizer.json' -print0 | tar -czf "$OUT/bundle.tgz" --null -T -); fi
ls -la "$OUT"
