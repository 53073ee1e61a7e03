import json
import runpy
import sys

sys.argv = ["step1.py", "/root/w"]
g = runpy.run_path("/root/repo/.gpu/scripts/step1.py", run_name="step1")
q = json.load(open("/root/w/q_nvfp4/result.json")); b = json.load(open("/root/w/ev_baseline/result.json"))
import os
import shutil

if os.path.isdir("/root/w/ev_nvfp4"): shutil.move("/root/w/ev_nvfp4", "/root/w/ev_nvfp4_try1")
g["save"] = lambda: None
g["evaluate"]("nvfp4", "candidate", q, b, "/root/cache/models/smollm2-135m-instruct")
g["gate"]("compare_nvfp4", "compare", ["--artifacts", "/root/w/ev_baseline/lmeval", "/root/w/ev_nvfp4/lmeval"])
json.dump(g["SUMMARY"], open("/root/w/summary_nv.json", "w"), indent=2)
