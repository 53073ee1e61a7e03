import os
import sys
import time


def cli_evaluate():
    if os.environ.get("FAKE_LMEVAL_PIDFILE"):
        with open(os.environ["FAKE_LMEVAL_PIDFILE"], "w") as fh:
            fh.write(str(os.getpid()))
    print("Running loglikelihood requests:  10%|#         | 4/40 [00:01<00:09,  4.00it/s]", file=sys.stderr, flush=True)
    time.sleep(600)


if __name__ == "__main__":
    cli_evaluate()
