cat /root/stage/B.part00 /root/stage/B.part01 .gpu/c5/B.part02 > /root/stage/B.tar
echo "17a8d42a7b963f8c70be160e4d416db8c46a3a25d4e62b99a3a1e3bfaf0efa1e  /root/stage/B.tar" | sha256sum -c
tar -xf /root/stage/B.tar -C /root/stage && rm -f /root/stage/B.tar
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/vsite /root/stage/vdeps/*.whl
python3 -m zipfile -e /root/stage/vllm-trim.zip /tmp/vsite
echo "installed vllm + deps at ${SECONDS}s"
for i in $(seq 120); do [ -f /root/w/DONE ] && break; sleep 2; done; echo "waited for step1 until ${SECONDS}s"
tail -n 40 /root/w.log
source /root/repo/.gpu/scripts/env.sh
export PYTHONPATH=/tmp/vsite:$PYTHONPATH CONDUCTOR_VLLM_PYTHON=$(command -v python3)
python3 -c "import vllm; print('vllm', vllm.__version__)"
D=$(( ${1:-560} - SECONDS )); echo "step5 deadline ${D}s"
timeout $((D + 15)) python3 /root/repo/.gpu/scripts/step5.py /root/w $D 2>&1 | tee /root/w5.log
nvidia-smi --query-gpu=name,memory.used --format=csv
bash .gpu/scripts/collect.sh
