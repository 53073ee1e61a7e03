# usage: bash c34.sh cN B.partNN
cp .gpu/$1/$2 /root/stage/ && ls -la /root/stage
if [ -f .gpu/scripts/RELAUNCH ]; then
  echo "RELAUNCH requested"; [ -f /root/step1.pid ] && kill -- -$(cat /root/step1.pid) 2>/dev/null; sleep 1
  rm -rf /root/repo /root/w; mkdir -p /root/repo
  tar -cf - --exclude=./.gpu/c1 --exclude=./.gpu/c2 --exclude=./.gpu/c3 --exclude=./.gpu/c4 --exclude=./.gpu/c5 . | tar -xf - -C /root/repo
  source /root/repo/.gpu/scripts/env.sh
  (cd /root && setsid nohup python3 /root/repo/.gpu/scripts/step1.py /root/w > /root/w.log 2>&1 < /dev/null & echo $! > /root/step1.pid)
  sleep 20
fi
tail -n 30 /root/w.log
bash .gpu/scripts/collect.sh
