"""lm-eval's own CLI with the bootstrap replicates set: `python -m tests.lmeval_cli N run --model ...`.

lm-eval 0.4.13's CLI has no flag for `bootstrap_iters`: it always bootstraps corpus-level metrics with
simple_evaluate's default of 100,000 replicates, and sklearn's F1 / MCC cost milliseconds each, which
is minutes on a busy CPU for one tiny task. This runs the unchanged CLI with that one default set to
N, which lm-eval itself records in its results (config.bootstrap_iters). Nothing else differs.
"""

from __future__ import annotations

import functools
import sys


def main() -> None:
    iters = int(sys.argv.pop(1))
    import lm_eval
    from lm_eval.__main__ import cli_evaluate

    lm_eval.simple_evaluate = functools.partial(lm_eval.simple_evaluate, bootstrap_iters=iters)
    cli_evaluate()


if __name__ == "__main__":
    main()
