from tests.fakes.gates import main

main("eval_run")
